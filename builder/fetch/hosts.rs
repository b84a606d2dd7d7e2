//! The hosts a render needs: the distinct URL prefixes of its artifacts (honouring
//! `--mirror`), spelled as ready-to-edit `--mirror FROM=TO` lines for `builder hosts` and for
//! the unreachable-hosts error; and the reachability check that finds every unreachable host
//! at once, all hosts probed side by side, so it takes one timeout, not one per host.
//!
//! It does not download anything (see `fetch`). Hosts are named without credentials: a
//! prefix's URLs are [`SecretUrl`]s, and a target is an origin, which never holds any.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;

use crate::fetch::cache::Cache;
use crate::fetch::{mirror_for, FetchOptions, Mirror, NetLimits, Request};
use crate::profile::plan::Plan;
use crate::util::error::{redact_urls, Error, Unreachable};
use crate::util::progress::Progress;
use crate::util::secret_url::SecretUrl;

/// Where to point a mirror line nobody has edited yet: a placeholder that is still a valid
/// URL, so a pasted line fails with "cannot reach mirror.example.internal", not a shell error.
pub const PLACEHOLDER_MIRROR: &str = "https://mirror.example.internal/";

/// One prefix a render fetches from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    /// The `--mirror` FROM: the mirror's own FROM when one applies, else the upstream origin
    /// (`scheme://host[:port]/`).
    pub from: SecretUrl,
    /// The `--mirror` TO in force, if any.
    pub mirror_to: Option<SecretUrl>,
    /// The origin actually contacted (`scheme://host[:port]/`, no credentials); `None` for
    /// `file://`.
    pub target: Option<String>,
    /// What is fetched through it (`containerd 2.3.4`), sorted, without repeats.
    pub artifacts: Vec<String>,
}

impl Prefix {
    /// `--mirror FROM=TO` (credentials hidden): the mirror in force, or the placeholder to edit.
    pub fn mirror_line(&self) -> String {
        let to = self.mirror_to.as_ref().map_or_else(
            || {
                let from = self.from.to_string();
                let host = from
                    .split_once("://")
                    .map_or(from.as_str(), |(_, r)| r)
                    .trim_end_matches('/');
                format!("{PLACEHOLDER_MIRROR}{host}/")
            },
            SecretUrl::to_string,
        );
        format!("--mirror {}={to}", self.from)
    }
}

/// The distinct prefixes of `urls` (each with the artifact it fetches), sorted by FROM.
pub fn prefixes<'a>(
    urls: impl IntoIterator<Item = (&'a SecretUrl, String)>,
    mirrors: &[Mirror],
) -> Vec<Prefix> {
    let mut by_from: BTreeMap<SecretUrl, Prefix> = BTreeMap::new();
    for (url, artifact) in urls {
        let (from, mirror_to, fetched) = match mirror_for(url, mirrors) {
            Some(m) => (
                m.from.clone(),
                Some(m.to.clone()),
                url.rebase(&m.from, &m.to).unwrap_or_else(|| url.clone()),
            ),
            None => match url.origin() {
                Some(o) => (SecretUrl::new(o), None, url.clone()),
                // file:// and the like: no host to reach or mirror.
                None => continue,
            },
        };
        let p = by_from.entry(from.clone()).or_insert_with(|| Prefix {
            from,
            mirror_to,
            target: fetched.origin(),
            artifacts: Vec::new(),
        });
        if !p.artifacts.contains(&artifact) {
            p.artifacts.push(artifact);
            p.artifacts.sort();
        }
    }
    by_from.into_values().collect()
}

/// Every prefix a cold render of `plan` (all its arches) fetches from, with `mirrors` applied.
pub fn of_plan(plan: &Plan, mirrors: &[Mirror]) -> Result<Vec<Prefix>> {
    let mut urls = Vec::new();
    for arch in &plan.profile.arches {
        for a in &plan.arch(*arch)?.artifacts {
            let artifact = plan.artifact(a);
            urls.push((
                SecretUrl::new(a.url.as_str()),
                format!("{} {}", artifact.name, artifact.version),
            ));
        }
    }
    Ok(prefixes(urls.iter().map(|(u, a)| (u, a.clone())), mirrors))
}

/// Before a render downloads: checks that every host its uncached requests need answers,
/// all at once. Nothing to check offline or with everything cached.
pub fn check_requests(requests: &[Request], opts: &FetchOptions) -> Result<()> {
    if opts.offline {
        return Ok(());
    }
    // Read-only and unlocked: this only decides what to probe; `fetch_all` locks and decides.
    let cache = Cache::open_existing(&opts.cache_dir);
    let missing: Vec<(&SecretUrl, String)> = requests
        .iter()
        .filter(|r| cache.get(&r.sha256).is_none())
        .map(|r| (&r.url, format!("{} {}", r.artifact, r.version)))
        .collect();
    let prefixes = prefixes(missing, &opts.mirrors);
    if prefixes.iter().all(|p| p.target.is_none()) {
        return Ok(());
    }
    let Some(client) = crate::fetch::client(opts)? else {
        return Ok(());
    };
    check_reachable(
        &prefixes,
        &client,
        &opts.limits,
        opts.attempts,
        &opts.progress,
    )
}

/// Probes every target of `prefixes` at once, `attempts` rounds at most (only the failures
/// are probed again); errors with every prefix whose host stays unreachable. Any HTTP answer
/// (a 404 or 401 included) counts as reachable: only a failure to connect (DNS, TCP, TLS,
/// the connect timeout) does not. Goes through the same client as the downloads, so proxies
/// from the environment apply.
pub fn check_reachable(
    prefixes: &[Prefix],
    client: &reqwest::blocking::Client,
    limits: &NetLimits,
    attempts: u32,
    progress: &Progress,
) -> Result<()> {
    let mut targets: Vec<String> = prefixes.iter().filter_map(|p| p.target.clone()).collect();
    targets.sort();
    targets.dedup();
    let mut failed: Vec<(String, String)> = Vec::new();
    for attempt in 1..=attempts.max(1) {
        let results = crate::util::pool::run(&targets, targets.len(), |t| {
            Ok((t.clone(), probe(client, t, limits)))
        })?;
        failed = results
            .into_iter()
            .filter_map(|(t, why)| why.map(|w| (t, w)))
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        if attempt < attempts {
            let next = crate::fetch::backoff(attempt + 1, None);
            progress.warn(&format!(
                "retry: cannot reach {}; attempt {attempt} of {attempts} failed, next in {:.1} s",
                failed
                    .iter()
                    .map(|(t, _)| host_port(t))
                    .collect::<Vec<_>>()
                    .join(", "),
                next.as_secs_f64()
            ));
            std::thread::sleep(next);
            targets = failed.iter().map(|(t, _)| t.clone()).collect();
        }
    }
    let why: BTreeMap<&str, &str> = failed
        .iter()
        .map(|(t, w)| (t.as_str(), w.as_str()))
        .collect();
    let hosts = prefixes
        .iter()
        .filter_map(|p| {
            let t = p.target.as_deref()?;
            let w = why.get(t)?;
            Some(Unreachable {
                host: host_port(t).to_string(),
                why: w.to_string(),
                mirror_line: p.mirror_line(),
            })
        })
        .collect();
    Err(Error::Unreachable {
        hosts,
        attempts,
        connect_timeout: limits.connect.as_secs(),
    }
    .into())
}

/// `host[:port]` of an origin.
fn host_port(origin: &str) -> &str {
    origin
        .split_once("://")
        .map_or(origin, |(_, r)| r)
        .trim_end_matches('/')
}

/// `None` when `origin` answers at all; otherwise why not (the innermost cause).
fn probe(client: &reqwest::blocking::Client, origin: &str, limits: &NetLimits) -> Option<String> {
    tracing::debug!("probe HEAD {origin}");
    // The connect timeout fires first; the spare seconds let a slow TLS handshake finish
    // (a host that connects but answers slowly is left to the download's own bounds).
    let r = client
        .head(origin)
        .timeout(limits.connect + Duration::from_secs(2))
        .send();
    match r {
        Ok(resp) => {
            tracing::debug!("probe {origin}: HTTP {}", resp.status().as_u16());
            None
        }
        Err(e) if e.is_connect() => {
            let why = innermost(&e);
            tracing::debug!("probe {origin}: cannot connect: {why}");
            Some(why)
        }
        Err(e) => {
            tracing::debug!("probe {origin}: {e} (not a connect error: left to the download)");
            None
        }
    }
}

fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last: &(dyn std::error::Error + 'static) = e;
    while let Some(src) = last.source() {
        last = src;
    }
    redact_urls(&last.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_group_by_mirror_or_origin() {
        let mirrors = vec![Mirror::parse("https://github.com/=http://u:secret@m:81/gh/").unwrap()];
        let urls = [
            ("https://github.com/a/x.tgz", "a 1"),
            ("https://github.com/b/y.tgz", "b 2"),
            ("https://github.com/a/x2.tgz", "a 1"),
            ("https://raw.githubusercontent.com/u", "unit 1"),
            ("file:///srv/z", "z 1"),
        ]
        .map(|(u, a)| (SecretUrl::new(u), a.to_string()));
        let p = prefixes(urls.iter().map(|(u, a)| (u, a.clone())), &mirrors);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(!format!("{p:?}").contains("secret"), "{p:?}");
        assert_eq!(p[0].from.expose(), "https://github.com/");
        assert_eq!(p[0].target.as_deref(), Some("http://m:81/"));
        assert_eq!(p[0].artifacts, ["a 1", "b 2"]);
        assert_eq!(
            p[0].mirror_line(),
            "--mirror https://github.com/=http://u:***@m:81/gh/"
        );
        assert_eq!(
            p[1].mirror_line(),
            "--mirror https://raw.githubusercontent.com/=https://mirror.example.internal/raw.githubusercontent.com/"
        );
        assert!(Mirror::parse(&p[1].mirror_line()["--mirror ".len()..]).is_ok());
    }
}
