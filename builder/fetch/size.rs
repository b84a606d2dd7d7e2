//! What a render's downloads weigh before any is made: the cached copy's length, a local
//! file's, else the Content-Length a HEAD request (through `--mirror`) answers, all hosts
//! asked side by side. For checks that can refuse a render early; a size that cannot be
//! learned is `None`, never an error: the download itself reports what is wrong.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;

use crate::fetch::cache::Cache;
use crate::fetch::{apply_mirrors, FetchOptions, Request};
use crate::util::digest::Sha256;

/// Each request's size by sha256, where one could be learned.
pub fn sizes(requests: &[Request], opts: &FetchOptions) -> Result<BTreeMap<Sha256, Option<u64>>> {
    let cache = Cache::open_existing(&opts.cache_dir);
    let mut out = BTreeMap::new();
    let mut ask = Vec::new();
    for r in requests {
        if out.contains_key(&r.sha256) || ask.iter().any(|a: &&Request| a.sha256 == r.sha256) {
            continue;
        }
        let cached = cache.get(&r.sha256).and_then(|p| std::fs::metadata(p).ok());
        match cached {
            Some(m) => {
                out.insert(r.sha256, Some(m.len()));
            }
            None => ask.push(r),
        }
    }
    let client = crate::fetch::client(opts)?;
    let answers = crate::util::pool::run(&ask, ask.len().clamp(1, 16), |r| {
        let url = apply_mirrors(&r.url, &opts.mirrors);
        let size = match url.expose().strip_prefix("file://") {
            Some(path) => std::fs::metadata(path)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len()),
            None => client
                .as_ref()
                .and_then(|c| head_length(c, url.expose(), opts)),
        };
        Ok((r.sha256, size))
    })?;
    out.extend(answers);
    Ok(out)
}

/// The Content-Length of a successful HEAD, within the connect and read timeouts.
fn head_length(client: &reqwest::blocking::Client, url: &str, opts: &FetchOptions) -> Option<u64> {
    let resp = client
        .head(url)
        .timeout(opts.limits.connect + opts.limits.read.min(Duration::from_secs(10)))
        .send()
        .map_err(|e| {
            tracing::debug!(
                "HEAD for the size: {}",
                crate::util::error::redact_urls(&e.to_string())
            )
        })
        .ok()?;
    if !resp.status().is_success() {
        tracing::debug!("HEAD for the size: HTTP {}", resp.status().as_u16());
        return None;
    }
    resp.headers()
        .get(reqwest::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
