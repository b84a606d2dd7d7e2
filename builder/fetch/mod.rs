//! Fetching artifacts into the cache: URL mirrors, `file://` and HTTP(S) through reqwest,
//! retries for transient failures only, parallel downloads, and the checksum verdict.
//!
//! Bytes reach the rest of the program only as verified cache entries (see `cache`). URLs
//! travel as [`SecretUrl`]: only the request itself sees a mirror's or profile's credentials.
//! `hosts` names the hosts a render needs and finds every unreachable one at once.

pub mod cache;
pub mod hosts;
pub mod size;

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::fetch::cache::{Cache, Finished};
use crate::util::digest::Sha256;
use crate::util::error::{redact_urls, Error};
use crate::util::progress::{size_text, transfer, Progress, Task};
use crate::util::read::{self, Kind};
use crate::util::secret_url::SecretUrl;

/// `--mirror FROM=TO`: URLs starting with FROM are fetched from TO + the rest. Either may
/// hold credentials (TO usually does): they are used for the request and never printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub from: SecretUrl,
    pub to: SecretUrl,
}

impl Mirror {
    pub fn parse(s: &str) -> std::result::Result<Mirror, String> {
        // The value as messages quote it: credentials hidden.
        let shown = redact_urls(s);
        let (from, to) = s
            .split_once('=')
            .ok_or_else(|| format!("{shown:?} is not FROM=TO (for example https://github.com/=http://mirror.example/github/)"))?;
        if from.is_empty() || to.is_empty() {
            return Err(format!("{shown:?}: both FROM and TO must be non-empty"));
        }
        let scheme_ok = |u: &str| {
            ["http://", "https://", "file://"]
                .iter()
                .any(|p| u.starts_with(p))
        };
        if !scheme_ok(from) || !scheme_ok(to) {
            return Err(format!(
                "{shown:?}: FROM and TO must be URLs (http://, https:// or file://)"
            ));
        }
        Ok(Mirror {
            from: SecretUrl::new(from),
            to: SecretUrl::new(to),
        })
    }
}

/// The mirror that applies to `url`: the one with the longest matching FROM.
pub fn mirror_for<'a>(url: &SecretUrl, mirrors: &'a [Mirror]) -> Option<&'a Mirror> {
    mirrors
        .iter()
        .filter(|m| url.starts_with(&m.from))
        // Of two prefixes of one URL the longer is also the greater.
        .max_by_key(|m| &m.from)
}

/// Applies the longest matching mirror prefix.
pub fn apply_mirrors(url: &SecretUrl, mirrors: &[Mirror]) -> SecretUrl {
    mirror_for(url, mirrors)
        .and_then(|m| url.rebase(&m.from, &m.to))
        .unwrap_or_else(|| url.clone())
}

/// How to fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub cache_dir: PathBuf,
    pub offline: bool,
    pub mirrors: Vec<Mirror>,
    /// Attempts per download (1 = no retry).
    pub attempts: u32,
    pub jobs: usize,
    pub quiet: bool,
    pub limits: NetLimits,
    /// Bars, plain lines or silence (see `progress`).
    pub progress: Progress,
}

/// What bounds one attempt: no attempt runs longer than `connect + max(read, speed_time)` plus
/// the transfer of whatever arrives faster than `speed_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetLimits {
    /// To open the connection (TCP and TLS).
    pub connect: Duration,
    /// Without a byte: waiting for the response headers, or between two reads of the body.
    pub read: Duration,
    /// Slower than this many bytes a second, averaged over `speed_time`, fails the attempt
    /// (curl's `--speed-limit`); 0 turns the check off.
    pub speed_limit: u64,
    pub speed_time: Duration,
}

impl Default for NetLimits {
    fn default() -> Self {
        NetLimits {
            connect: Duration::from_secs(10),
            read: Duration::from_secs(30),
            speed_limit: 1024,
            speed_time: Duration::from_secs(30),
        }
    }
}

/// The longest wait between attempts a server's `Retry-After` can ask for.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// The wait before attempt `attempt` (2, 3, ...): 0.5 s, 1 s, 2 s, ... capped at 8 s, or what
/// the server asked for with Retry-After, capped at [`MAX_RETRY_WAIT`].
pub(crate) fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    match retry_after {
        Some(d) => d.min(MAX_RETRY_WAIT),
        None => Duration::from_millis(500u64 << attempt.saturating_sub(2).min(4)),
    }
}

/// A `Retry-After` value: delay-seconds or an HTTP-date (RFC 9110, 10.2.3).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// One file to have in the cache.
#[derive(Debug, Clone)]
pub struct Request {
    pub artifact: String,
    pub version: String,
    pub arch: String,
    /// The upstream URL (before mirrors).
    pub url: SecretUrl,
    pub sha256: Sha256,
}

/// Why one attempt failed.
enum Attempt {
    /// Worth another try (connection error, timeout, 408, 429, 5xx, a cut-off or stalled
    /// body), after the wait the server asked for, if it did.
    Transient(String, Option<Duration>),
    /// Final at once (404, other 4xx, a redirect loop, a local file missing).
    Final(anyhow::Error),
}

fn transient(why: String) -> Attempt {
    Attempt::Transient(why, None)
}

/// The cache, locked for writing; read-only (and unlocked) offline, after removing what killed
/// downloads left if no writer is busy.
fn open_cache(opts: &FetchOptions) -> Result<Cache> {
    if opts.offline {
        cache::sweep_if_idle(&opts.cache_dir);
        Ok(Cache::open_existing(&opts.cache_dir))
    } else {
        Cache::open(&opts.cache_dir)
    }
}

/// The HTTP client, bounded by the options' limits; `None` offline.
pub(crate) fn client(opts: &FetchOptions) -> Result<Option<reqwest::blocking::Client>> {
    if opts.offline {
        return Ok(None);
    }
    let client = reqwest::blocking::Client::builder()
        .user_agent(concat!("builder/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(opts.limits.connect)
        // The blocking client applies this to the wait for the response headers and to
        // each read of the body: an idle timeout, not a bound on the whole download.
        .timeout(opts.limits.read)
        .build()
        .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?;
    Ok(Some(client))
}

/// Drops the cache entry of a request found corrupt while it was read, and fetches it again.
pub fn refetch(req: &Request, opts: &FetchOptions) -> Result<PathBuf> {
    let cache = open_cache(opts)?;
    opts.progress.warn(&format!(
        "warning: the cache entry of {} {} ({}) changed on disk; fetching it again",
        req.artifact, req.version, req.arch
    ));
    cache.remove(&req.sha256)?;
    fetch_one(req, &cache, client(opts)?.as_ref(), opts)
}

/// Makes sure every request's bytes are in the cache (verified when they were stored; they
/// are hashed again as they are installed); returns sha256 -> path.
/// Requests sharing a digest are fetched once. Downloads run `opts.jobs` at a time.
pub fn fetch_all(requests: &[Request], opts: &FetchOptions) -> Result<BTreeMap<Sha256, PathBuf>> {
    let cache = open_cache(opts)?;
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&Request> = requests.iter().filter(|r| seen.insert(r.sha256)).collect();
    let client = client(opts)?;
    if client.is_none() {
        offline_misses(&unique, &cache)?;
    }
    // A missing file (404, 410) does not stop the others: every one is reported at once, as
    // unreachable hosts are. Any other failure stops the pool as before.
    let results = crate::util::pool::run(&unique, opts.jobs, |req| {
        match fetch_one(req, &cache, client.as_ref(), opts) {
            Err(e) if is_missing(&e) => Ok(Err(e)),
            other => other.map(Ok),
        }
    })?;
    let mut paths = Vec::with_capacity(results.len());
    let mut missing = Vec::new();
    for r in results {
        match r {
            Ok(path) => paths.push(path),
            Err(e) => missing.push(e),
        }
    }
    match missing.len() {
        0 => Ok(unique.iter().map(|r| r.sha256).zip(paths).collect()),
        1 => Err(missing.remove(0)),
        _ => Err(Error::MissingMany {
            files: missing
                .iter()
                .map(|e| {
                    let text = format!("{e:#}");
                    text.trim_end_matches(MISSING_ADVICE).to_string()
                })
                .collect(),
        }
        .into()),
    }
}

/// What a 4xx answer's error ends with (dropped from each line of [`Error::MissingMany`],
/// which says it once).
const MISSING_ADVICE: &str =
    "; check the artifact's url and version in the profile (or the --mirror)";

fn is_missing(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<Error>(), Some(Error::Missing(_)))
}

/// Offline: every requested artifact the cache lacks, named in one error.
fn offline_misses(requests: &[&Request], cache: &Cache) -> Result<()> {
    let missing: Vec<String> = requests
        .iter()
        .filter(|r| cache.get(&r.sha256).is_none())
        .map(|r| format!("{} {} ({}) from {}", r.artifact, r.version, r.arch, r.url))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::OfflineMiss {
        missing,
        cache: cache.root().to_path_buf(),
    }
    .into())
}

fn fetch_one(
    req: &Request,
    cache: &Cache,
    client: Option<&reqwest::blocking::Client>,
    opts: &FetchOptions,
) -> Result<PathBuf> {
    let label = format!("{} {} ({})", req.artifact, req.version, req.arch);
    if let Some(path) = cache.get(&req.sha256) {
        tracing::debug!(
            "cache hit: {label} sha256 {} at {}",
            req.sha256,
            path.display()
        );
        opts.progress.line(&format!("cached   {label}"));
        return Ok(path);
    }
    tracing::debug!(
        "cache miss: {label} sha256 {} not in {}",
        req.sha256,
        cache.root().display()
    );
    let Some(client) = client else {
        // offline_misses ran first; the cache lost it since (another process pruned it).
        return Err(Error::OfflineMiss {
            missing: vec![format!(
                "{} {} ({}) from {}",
                req.artifact, req.version, req.arch, req.url
            )],
            cache: cache.root().to_path_buf(),
        }
        .into());
    };
    let what = What {
        noun: "artifact",
        label: &label,
        url: &req.url,
    };
    let task = opts.progress.download(label.clone());
    let partial = with_retries(&what, client, opts, &task, || cache.partial(&req.sha256))?;
    let size = partial.written();
    match partial.finish()? {
        Finished::Stored(path) => {
            tracing::debug!("stored {} in the cache", path.display());
            let took = task.elapsed();
            drop(task);
            opts.progress.line(&format!(
                "fetched  {} {} ({}, {})",
                req.artifact,
                req.version,
                req.arch,
                transfer(size, took)
            ));
            Ok(path)
        }
        Finished::Mismatch { actual } => Err(Error::ChecksumMismatch {
            artifact: format!("{} {}", req.artifact, req.version),
            arch: req.arch.clone(),
            url: shown_url(&req.url, opts),
            expected: req.sha256,
            actual,
        }
        .into()),
    }
}

/// What a download is, for its messages: `{noun} {label}` from the upstream `url`.
struct What<'a> {
    noun: &'a str,
    label: &'a str,
    url: &'a SecretUrl,
}

/// The URL fetched, as messages show it (mirror and upstream, credentials hidden).
fn shown_url(upstream: &SecretUrl, opts: &FetchOptions) -> String {
    let url = apply_mirrors(upstream, &opts.mirrors);
    if url == *upstream {
        url.to_string()
    } else {
        format!("{url} (mirror of {upstream})")
    }
}

/// Downloads `what.url` (through the mirrors) into a fresh sink per attempt, retrying only
/// transient failures, with `task` showing its progress; returns the sink of the attempt that
/// got the whole body.
fn with_retries<W: Write>(
    what: &What,
    client: &reqwest::blocking::Client,
    opts: &FetchOptions,
    task: &Task,
    mut fresh: impl FnMut() -> Result<W>,
) -> Result<W> {
    let url = apply_mirrors(what.url, &opts.mirrors);
    let shown = shown_url(what.url, opts);
    let mut last = String::new();
    let mut wait = None;
    for attempt in 1..=opts.attempts {
        if let Some(wait) = wait {
            std::thread::sleep(wait);
        }
        task.restart();
        let mut sink = fresh()?;
        tracing::debug!("GET {url} (attempt {attempt} of {})", opts.attempts);
        let outcome = if let Some(path) = url.file_path() {
            copy_file(path, &mut sink)
        } else {
            download(client, &url, &mut sink, &opts.limits, task)
        };
        match outcome {
            Ok(()) => return Ok(sink),
            Err(Attempt::Final(e)) => {
                return Err(e.context(format!(
                    "fetching {} {} from {shown}",
                    what.noun, what.label
                )))
            }
            Err(Attempt::Transient(why, retry_after)) => {
                last = why;
                if attempt < opts.attempts {
                    let next = backoff(attempt + 1, retry_after);
                    // Always shown (a retry is a warning): a slow render says why it is slow.
                    opts.progress.warn(&format!(
                        "retry: {}: {last}; attempt {attempt} of {} failed, next in {:.1} s",
                        what.label,
                        opts.attempts,
                        next.as_secs_f64()
                    ));
                    wait = Some(next);
                }
            }
        }
    }
    Err(Error::Fetch(format!(
        "could not fetch {} {} from {shown} after {} attempts: {last}. \
         If this machine cannot reach {}, point --mirror {}=<reachable URL> at a mirror, \
         or use --offline with a cache warmed elsewhere (--cache-dir)",
        what.noun,
        what.label,
        opts.attempts,
        url.host(),
        what.url.prefix(),
    ))
    .into())
}

/// A small file (an upstream checksum file) into memory, through the mirrors, with the
/// retries and bounds of any download; never cached. A 404 (or a missing local file) is
/// [`Error::Missing`]; more than `max_bytes` is an error.
pub fn fetch_small(
    noun: &str,
    label: &str,
    url: &SecretUrl,
    max_bytes: u64,
    opts: &FetchOptions,
) -> Result<Vec<u8>> {
    let what = What { noun, label, url };
    let Some(client) = client(opts)? else {
        return Err(Error::Input(format!(
            "{noun} {label} is never cached, and --offline forbids fetching it from {url}"
        ))
        .into());
    };
    let task = opts.progress.download(format!("{noun} {label}"));
    let sink = with_retries(&what, &client, opts, &task, || {
        Ok(Capped {
            bytes: Vec::new(),
            max: max_bytes,
        })
    })?;
    Ok(sink.bytes)
}

/// Bytes in memory, refusing to grow past `max`.
struct Capped {
    bytes: Vec<u8>,
    max: u64,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if (self.bytes.len() + buf.len()) as u64 > self.max {
            return Err(io::Error::other(format!(
                "larger than the {} bytes expected",
                self.max
            )));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Downloads an artifact whose digest is not known yet (`builder pin --trust-download`) into
/// the cache, stored under the digest it turns out to have; returns (sha256, path).
pub fn fetch_unpinned(
    label: &str,
    url: &SecretUrl,
    opts: &FetchOptions,
) -> Result<(Sha256, PathBuf)> {
    let cache = open_cache(opts)?;
    let Some(client) = client(opts)? else {
        return Err(Error::Input(format!(
            "{label} has no pin, so it cannot be found in the cache, and --offline forbids fetching it from {url}"
        ))
        .into());
    };
    // The same URL trusted moments ago (a dry run before --write): its copy, not a second
    // download. Keyed by the upstream URL, not the mirror's.
    let key = url.expose();
    if let Some((sha256, path)) = cache.trusted_get(key) {
        opts.progress.line(&format!(
            "cached   {label} (downloaded and trusted earlier)"
        ));
        return Ok((sha256, path));
    }
    let what = What {
        noun: "artifact",
        label,
        url,
    };
    let task = opts.progress.download(label.to_string());
    let partial = with_retries(&what, &client, opts, &task, || cache.partial_unpinned())?;
    let size = partial.written();
    let (sha256, path) = partial.finish_unpinned()?;
    drop(task);
    if let Err(e) = cache.trusted_record(key, &sha256) {
        tracing::debug!("not remembering the trusted download of {label}: {e:#}");
    }
    opts.progress
        .line(&format!("fetched  {label}, {}", size_text(size)));
    Ok((sha256, path))
}

/// A `file://` artifact's bytes into `sink`: only a regular file (a FIFO would block, a device
/// like /dev/zero would fill the cache).
fn copy_file(path: &str, sink: &mut impl Write) -> std::result::Result<(), Attempt> {
    let (mut f, _) = read::open(Path::new(path), Kind::Stream).map_err(|e| {
        let msg = format!("cannot open local file {path}: {}", e.reason());
        Attempt::Final(if e.is_not_found() {
            Error::Missing(msg).into()
        } else {
            Error::Fetch(msg).into()
        })
    })?;
    io::copy(&mut f, sink)
        .map(|_| ())
        .map_err(|e| Attempt::Final(anyhow::Error::new(e).context(format!("copying {path}"))))
}

fn download(
    client: &reqwest::blocking::Client,
    url: &SecretUrl,
    sink: &mut impl Write,
    limits: &NetLimits,
    task: &Task,
) -> std::result::Result<(), Attempt> {
    let resp = send(client, url, limits)?;
    check_status(&resp, url)?;
    let expected_len = resp.content_length();
    tracing::debug!(
        "HTTP {} from {url}, {}",
        resp.status().as_u16(),
        expected_len.map_or_else(|| "no Content-Length".to_string(), |n| format!("{n} bytes"))
    );
    match expected_len {
        Some(len) => task.set_length(len),
        None => task.set_unknown_length(),
    }
    let got = copy_body(resp, url, sink, limits, task)?;
    if let Some(len) = expected_len {
        if got != len {
            return Err(transient(format!(
                "download from {url} cut off after {got} of {len} bytes"
            )));
        }
    }
    Ok(())
}

/// Sends the request; a failure to get a response is final for a bad URL or a redirect loop.
fn send(
    client: &reqwest::blocking::Client,
    url: &SecretUrl,
    limits: &NetLimits,
) -> std::result::Result<reqwest::blocking::Response, Attempt> {
    // The one place the credentials are used: reqwest moves them into an Authorization header.
    match client.get(url.expose()).send() {
        Ok(r) => Ok(r),
        Err(e) if e.is_builder() => Err(Attempt::Final(
            Error::Fetch(format!("bad URL {url}: {}", error_chain(&e))).into(),
        )),
        Err(e) if e.is_redirect() => Err(Attempt::Final(
            Error::Fetch(format!(
                "{url} redirects in a loop or too often: {}; point the profile or --mirror at where the file really is",
                error_chain(&e)
            ))
            .into(),
        )),
        Err(e) if e.is_timeout() => Err(transient(format!(
            "no response from {} within {} s (--read-timeout)",
            url.host(),
            limits.read.as_secs()
        ))),
        Err(e) => Err(transient(format!(
            "cannot reach {}: {}",
            url.host(),
            error_chain(&e)
        ))),
    }
}

/// A status other than success: 408, 429 and 5xx are transient (with the server's
/// Retry-After), anything else final.
fn check_status(
    resp: &reqwest::blocking::Response,
    url: &SecretUrl,
) -> std::result::Result<(), Attempt> {
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let code = status.as_u16();
    let msg = format!("HTTP {status} from {url}");
    if code == 408 || code == 429 || status.is_server_error() {
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        Err(Attempt::Transient(msg, retry_after))
    } else {
        let msg = format!("{msg}{MISSING_ADVICE}");
        Err(Attempt::Final(if code == 404 || code == 410 {
            Error::Missing(msg).into()
        } else {
            Error::Fetch(msg).into()
        }))
    }
}

/// Copies the body into `sink`, counting it on `task`; returns the bytes copied. A stall, a
/// cut or a transfer slower than the speed limit is transient; a failed write is final.
fn copy_body(
    mut resp: reqwest::blocking::Response,
    url: &SecretUrl,
    sink: &mut impl Write,
    limits: &NetLimits,
    task: &Task,
) -> std::result::Result<u64, Attempt> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0u64;
    let mut speed = SpeedCheck::new(limits);
    loop {
        let n = match resp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_timeout(&e) => {
                return Err(transient(format!(
                "download from {url} stalled: no byte for {} s after {got} bytes (--read-timeout)",
                limits.read.as_secs()
            )))
            }
            Err(e) => {
                return Err(transient(format!(
                    "download from {url} cut off after {got} bytes: {}",
                    error_chain(&e)
                )))
            }
        };
        sink.write_all(&buf[..n]).map_err(|e| {
            Attempt::Final(
                anyhow::Error::new(e).context(format!("storing the download from {url}")),
            )
        })?;
        got += n as u64;
        task.inc(n as u64);
        speed
            .add(n as u64)
            .map_err(|why| transient(format!("download from {url} {why}")))?;
    }
    Ok(got)
}

/// curl's `--speed-limit/--speed-time`: fails once a whole window of `speed_time` brought
/// fewer than `speed_limit * speed_time` bytes.
struct SpeedCheck {
    limit: u64,
    window: Duration,
    start: Instant,
    bytes: u64,
}

impl SpeedCheck {
    fn new(limits: &NetLimits) -> SpeedCheck {
        SpeedCheck {
            limit: limits.speed_limit,
            window: limits.speed_time,
            start: Instant::now(),
            bytes: 0,
        }
    }

    fn add(&mut self, n: u64) -> std::result::Result<(), String> {
        self.bytes += n;
        let elapsed = self.start.elapsed();
        if self.limit == 0 || elapsed < self.window {
            return Ok(());
        }
        let rate = self.bytes as f64 / elapsed.as_secs_f64();
        if rate < self.limit as f64 {
            return Err(format!(
                "is too slow: {rate:.0} bytes/s over {:.0} s, below --speed-limit {} bytes/s",
                elapsed.as_secs_f64(),
                self.limit
            ));
        }
        self.start = Instant::now();
        self.bytes = 0;
        Ok(())
    }
}

/// Is this read error reqwest's timeout (the blocking client's idle timeout)?
fn is_timeout(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::TimedOut {
        return true;
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|r| r as _);
    while let Some(inner) = src {
        if inner
            .downcast_ref::<reqwest::Error>()
            .is_some_and(|r| r.is_timeout())
        {
            return true;
        }
        src = inner.source();
    }
    false
}

/// An error and its sources on one line, any URL in their text with its credentials hidden
/// (other crates' messages may quote the URL).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        src = inner.source();
    }
    redact_urls(&s)
}

#[cfg(test)]
mod tests;
