//! Fetching artifacts into the cache: URL mirrors, `file://` and HTTP(S) through reqwest,
//! retries for transient failures only, parallel downloads, and the checksum verdict.
//!
//! Bytes reach the rest of the program only as verified cache entries (see `cache`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::cache::{Cache, Finished, Partial};
use crate::error::Error;

/// `--mirror FROM=TO`: URLs starting with FROM are fetched from TO + the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub from: String,
    pub to: String,
}

impl Mirror {
    pub fn parse(s: &str) -> std::result::Result<Mirror, String> {
        let (from, to) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?} is not FROM=TO (for example https://github.com/=http://mirror.example/github/)"))?;
        if from.is_empty() || to.is_empty() {
            return Err(format!("{s:?}: both FROM and TO must be non-empty"));
        }
        let scheme_ok = |u: &str| {
            ["http://", "https://", "file://"]
                .iter()
                .any(|p| u.starts_with(p))
        };
        if !scheme_ok(from) || !scheme_ok(to) {
            return Err(format!(
                "{s:?}: FROM and TO must be URLs (http://, https:// or file://)"
            ));
        }
        Ok(Mirror {
            from: from.to_string(),
            to: to.to_string(),
        })
    }
}

/// Applies the longest matching mirror prefix.
pub fn apply_mirrors(url: &str, mirrors: &[Mirror]) -> String {
    mirrors
        .iter()
        .filter(|m| url.starts_with(&m.from))
        .max_by_key(|m| m.from.len())
        .map_or_else(
            || url.to_string(),
            |m| format!("{}{}", m.to, &url[m.from.len()..]),
        )
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
}

/// One file to have in the cache.
#[derive(Debug, Clone)]
pub struct Request {
    pub artifact: String,
    pub version: String,
    pub arch: String,
    /// The upstream URL (before mirrors).
    pub url: String,
    pub sha256: String,
}

/// Why one attempt failed.
enum Attempt {
    /// Worth another try (connection error, 408, 429, 5xx, a cut-off body).
    Transient(String),
    /// Final at once (404, other 4xx, a local file missing).
    Final(anyhow::Error),
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// Makes sure every request's bytes are in the cache, verified; returns sha256 -> path.
/// Requests sharing a digest are fetched once. Downloads run `opts.jobs` at a time.
pub fn fetch_all(requests: &[Request], opts: &FetchOptions) -> Result<BTreeMap<String, PathBuf>> {
    let cache = if opts.offline {
        Cache::open_existing(&opts.cache_dir)
    } else {
        Cache::open(&opts.cache_dir)?
    };
    let mut unique: Vec<&Request> = Vec::new();
    for r in requests {
        if !unique.iter().any(|u| u.sha256 == r.sha256) {
            unique.push(r);
        }
    }
    let client = if opts.offline {
        None
    } else {
        Some(
            reqwest::blocking::Client::builder()
                .user_agent(concat!("builder/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(10))
                .timeout(None)
                .build()
                .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?,
        )
    };
    let paths = crate::pool::run(&unique, opts.jobs, |req| {
        fetch_one(req, &cache, client.as_ref(), opts)
    })?;
    Ok(unique.iter().map(|r| r.sha256.clone()).zip(paths).collect())
}

fn fetch_one(
    req: &Request,
    cache: &Cache,
    client: Option<&reqwest::blocking::Client>,
    opts: &FetchOptions,
) -> Result<PathBuf> {
    if let Some(path) = cache.get_verified(&req.sha256)? {
        if !opts.quiet {
            eprintln!("cached   {} {} ({})", req.artifact, req.version, req.arch);
        }
        return Ok(path);
    }
    let Some(client) = client else {
        return Err(Error::OfflineMiss {
            artifact: req.artifact.clone(),
            version: req.version.clone(),
            arch: req.arch.clone(),
            url: req.url.clone(),
            cache: cache.root().to_path_buf(),
        }
        .into());
    };
    let url = apply_mirrors(&req.url, &opts.mirrors);
    let shown_url = if url == req.url {
        url.clone()
    } else {
        format!("{url} (mirror of {})", req.url)
    };
    let mut last = String::new();
    for attempt in 1..=opts.attempts {
        if attempt > 1 {
            // 0.5 s, 1 s, 2 s, ... capped at 8 s.
            let wait = Duration::from_millis(500u64 << (attempt - 2).min(4));
            std::thread::sleep(wait);
        }
        let mut partial = cache.partial(&req.sha256)?;
        let outcome = if let Some(path) = url.strip_prefix("file://") {
            copy_file(path, &mut partial)
        } else {
            download(client, &url, &mut partial)
        };
        match outcome {
            Ok(()) => {}
            Err(Attempt::Final(e)) => {
                return Err(e.context(format!(
                    "fetching artifact {} {} ({}) from {shown_url}",
                    req.artifact, req.version, req.arch
                )))
            }
            Err(Attempt::Transient(why)) => {
                last = why;
                continue;
            }
        }
        let size = partial.written();
        return match partial.finish()? {
            Finished::Stored(path) => {
                if !opts.quiet {
                    eprintln!(
                        "fetched  {} {} ({}, {:.1} MB)",
                        req.artifact,
                        req.version,
                        req.arch,
                        size as f64 / 1e6
                    );
                }
                Ok(path)
            }
            Finished::Mismatch { actual } => Err(Error::ChecksumMismatch {
                artifact: format!("{} {}", req.artifact, req.version),
                arch: req.arch.clone(),
                url: shown_url,
                expected: req.sha256.clone(),
                actual,
            }
            .into()),
        };
    }
    Err(Error::Fetch(format!(
        "could not fetch artifact {} {} ({}) from {shown_url} after {} attempts: {last}. \
         If this machine cannot reach {}, point --mirror {}=<reachable URL> at a mirror, \
         or use --offline with a cache warmed elsewhere (--cache-dir)",
        req.artifact,
        req.version,
        req.arch,
        opts.attempts,
        host_of(&url),
        prefix_hint(&req.url),
    ))
    .into())
}

/// `https://host/` of a URL, for the --mirror hint.
fn prefix_hint(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}/", rest.split('/').next().unwrap_or(rest)),
        None => url.to_string(),
    }
}

fn copy_file(path: &str, partial: &mut Partial) -> std::result::Result<(), Attempt> {
    let mut f = File::open(path).map_err(|e| {
        Attempt::Final(Error::Fetch(format!("cannot open local file {path}: {e}")).into())
    })?;
    io::copy(&mut f, partial)
        .map(|_| ())
        .map_err(|e| Attempt::Final(anyhow::Error::new(e).context(format!("copying {path}"))))
}

fn download(
    client: &reqwest::blocking::Client,
    url: &str,
    partial: &mut Partial,
) -> std::result::Result<(), Attempt> {
    let mut resp = match client.get(url).send() {
        Ok(r) => r,
        Err(e) if e.is_builder() => {
            return Err(Attempt::Final(
                Error::Fetch(format!("bad URL {url}: {}", error_chain(&e))).into(),
            ))
        }
        Err(e) => {
            return Err(Attempt::Transient(format!(
                "cannot reach {}: {}",
                host_of(url),
                error_chain(&e)
            )))
        }
    };
    let status = resp.status();
    if !status.is_success() {
        let code = status.as_u16();
        let msg = format!("HTTP {status} from {url}");
        return if code == 408 || code == 429 || status.is_server_error() {
            Err(Attempt::Transient(msg))
        } else {
            Err(Attempt::Final(
                Error::Fetch(format!(
                    "{msg}; check the artifact's url and version in the profile (or the --mirror)"
                ))
                .into(),
            ))
        };
    }
    let expected_len = resp.content_length();
    let mut buf = vec![0u8; 256 * 1024];
    let mut got = 0u64;
    loop {
        let n = match resp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Attempt::Transient(format!(
                    "download from {url} cut off: {e}"
                )))
            }
        };
        partial.write_all(&buf[..n]).map_err(|e| {
            Attempt::Final(anyhow::Error::new(e).context("writing the download into the cache"))
        })?;
        got += n as u64;
    }
    if let Some(len) = expected_len {
        if got != len {
            return Err(Attempt::Transient(format!(
                "download from {url} cut off after {got} of {len} bytes"
            )));
        }
    }
    Ok(())
}

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
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_mirror_prefix_wins() {
        let m = vec![
            Mirror::parse("https://github.com/=http://m/gh/").unwrap(),
            Mirror::parse("https://github.com/containerd/=http://m/ctr/").unwrap(),
        ];
        assert_eq!(
            apply_mirrors("https://github.com/containerd/containerd/x.tgz", &m),
            "http://m/ctr/containerd/x.tgz"
        );
        assert_eq!(
            apply_mirrors("https://github.com/opencontainers/runc", &m),
            "http://m/gh/opencontainers/runc"
        );
        assert_eq!(
            apply_mirrors("https://dl.k8s.io/x", &m),
            "https://dl.k8s.io/x"
        );
        assert!(Mirror::parse("github=mirror").is_err());
    }

    #[test]
    fn hosts_for_messages() {
        assert_eq!(host_of("https://github.com/a/b"), "github.com");
        assert_eq!(prefix_hint("https://github.com/a/b"), "https://github.com/");
    }
}
