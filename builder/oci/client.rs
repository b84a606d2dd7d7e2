//! The Distribution API client: one registry, its auth dance (anonymous, Basic, or a Bearer
//! token from the realm the registry names, per repository scope) and the requests `push` and
//! `pull` make: blobs (HEAD, monolithic upload, streamed download checked against its digest)
//! and manifests (PUT, GET checked against the digest asked for). Credentials travel only in
//! request headers; no message carries them.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::StatusCode;
use serde::Deserialize;

use super::auth::Credentials;
use crate::util::digest::{HashingWriter, Sha256};
use crate::util::error::Error;

/// Tries of a request the registry could not answer for now (see [`Registry::send_retried`]).
const ATTEMPTS: u32 = 3;

/// How to reach registries: TLS roots and plain HTTP.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Speak http:// instead of https:// (a registry on loopback without TLS).
    pub plain_http: bool,
    /// PEM certificates to trust besides the built-in roots (a private registry's CA).
    pub ca_file: Option<PathBuf>,
}

/// Pull only, or pull and push: the scope a token is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Pull,
    Push,
}

/// One registry, as `host[:port]`.
pub struct Registry {
    http: Client,
    base: String,
    host: String,
    creds: Option<Credentials>,
    state: Mutex<AuthState>,
}

#[derive(Default)]
struct AuthState {
    basic: bool,
    /// Bearer tokens by scope (`repository:REPO:pull,push`).
    tokens: HashMap<String, String>,
}

/// A stored blob or manifest as a request sends it.
pub enum Body<'a> {
    Bytes(&'a [u8]),
    File(&'a Path, u64),
}

impl Registry {
    pub fn new(host: &str, creds: Option<Credentials>, opts: &Options) -> Result<Registry> {
        let mut b = Client::builder()
            .user_agent(concat!("builder/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120));
        if let Some(ca) = &opts.ca_file {
            let pem = std::fs::read(ca)
                .with_context(|| format!("reading --registry-ca {}", ca.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Error::Input(format!(
                    "--registry-ca {}: not PEM certificates: {e}",
                    ca.display()
                ))
            })?;
            if certs.is_empty() {
                return Err(Error::Input(format!(
                    "--registry-ca {}: no certificate in it",
                    ca.display()
                ))
                .into());
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let http = b
            .build()
            .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))?;
        let scheme = if opts.plain_http { "http" } else { "https" };
        Ok(Registry {
            http,
            base: format!("{scheme}://{host}"),
            host: host.to_string(),
            creds,
            state: Mutex::new(AuthState::default()),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Sends what `make` builds, answering one 401 challenge (Basic or Bearer) for `repo`.
    fn send(
        &self,
        repo: &str,
        access: Access,
        make: &dyn Fn(&Client) -> Result<RequestBuilder>,
    ) -> Result<Response> {
        let scope = scope(repo, access);
        let first = self.send_retried(&scope, make)?;
        if first.status() != StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        let challenge = first
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        self.answer(&challenge, &scope)?;
        let again = self.send_retried(&scope, make)?;
        if again.status() == StatusCode::UNAUTHORIZED || again.status() == StatusCode::FORBIDDEN {
            return Err(self.refused(repo, access, again.status()));
        }
        Ok(again)
    }

    /// One request, tried up to [`ATTEMPTS`] times while the registry cannot be reached or
    /// answers 429, 502, 503 or 504 (1 s, then 2 s between tries).
    fn send_retried(
        &self,
        scope: &str,
        make: &dyn Fn(&Client) -> Result<RequestBuilder>,
    ) -> Result<Response> {
        let mut attempt = 1;
        loop {
            let sent = self.authorise(make(&self.http)?, scope).send();
            let transient = match &sent {
                // A certificate the roots do not accept is no passing failure.
                Err(e) => (e.is_connect() || e.is_timeout()) && !chain(e).contains("certificate"),
                Ok(r) => matches!(r.status().as_u16(), 429 | 502 | 503 | 504),
            };
            if !transient || attempt >= ATTEMPTS {
                return sent.map_err(|e| self.net(e));
            }
            tracing::debug!("{}: attempt {attempt} failed, retrying", self.host);
            std::thread::sleep(Duration::from_secs(attempt as u64));
            attempt += 1;
        }
    }

    fn authorise(&self, req: RequestBuilder, scope: &str) -> RequestBuilder {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = state.tokens.get(scope) {
            return req.bearer_auth(t);
        }
        match (&self.creds, state.basic) {
            (Some(c), true) => req.basic_auth(&c.username, Some(c.expose())),
            _ => req,
        }
    }

    /// Takes a 401's challenge: Basic (credentials needed) or Bearer (a token from the realm).
    fn answer(&self, challenge: &str, scope: &str) -> Result<()> {
        let (kind, params) = parse_challenge(challenge);
        match kind.to_ascii_lowercase().as_str() {
            "basic" => {
                if self.creds.is_none() {
                    return Err(Error::Fetch(format!(
                        "{} asks for credentials (HTTP 401, Basic): log in (oras login, docker login), or set REGISTRY_AUTH_FILE or BUILDER_REGISTRY_USERNAME and BUILDER_REGISTRY_PASSWORD",
                        self.host
                    ))
                    .into());
                }
                self.state.lock().unwrap_or_else(|p| p.into_inner()).basic = true;
                Ok(())
            }
            "bearer" => {
                let realm = params.get("realm").cloned().unwrap_or_default();
                if !(realm.starts_with("https://") || realm.starts_with("http://")) {
                    return Err(Error::Fetch(format!(
                        "{} answered HTTP 401 with a Bearer challenge without an http(s) realm",
                        self.host
                    ))
                    .into());
                }
                let token = self.token(&realm, params.get("service").map(String::as_str), scope)?;
                self.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .tokens
                    .insert(scope.to_string(), token);
                Ok(())
            }
            _ => Err(Error::Fetch(format!(
                "{} answered HTTP 401 with no challenge builder knows (WWW-Authenticate: {})",
                self.host,
                kind.chars().take(40).collect::<String>()
            ))
            .into()),
        }
    }

    /// A token from the realm: anonymous, with Basic credentials, or (an identity token) as an
    /// OAuth2 refresh token.
    fn token(&self, realm: &str, service: Option<&str>, scope: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Answer {
            token: Option<String>,
            access_token: Option<String>,
        }
        let mut query: Vec<(&str, &str)> = vec![("scope", scope)];
        if let Some(s) = service {
            query.push(("service", s));
        }
        let req = match &self.creds {
            Some(c) if c.identity_token => {
                let mut form = query.clone();
                form.extend([
                    ("grant_type", "refresh_token"),
                    ("refresh_token", c.expose()),
                    ("client_id", "builder"),
                ]);
                self.http.post(realm).form(&form)
            }
            Some(c) => self
                .http
                .get(realm)
                .query(&query)
                .basic_auth(&c.username, Some(c.expose())),
            None => self.http.get(realm).query(&query),
        };
        let resp = req.send().map_err(|e| self.net(e))?;
        let status = resp.status();
        if !status.is_success() {
            let who = self.creds.as_ref().map_or("anonymously".to_string(), |c| {
                format!("with the credentials from {}", c.source)
            });
            return Err(Error::Fetch(format!(
                "the token service of {} refused a token for {scope} {who} (HTTP {status})",
                self.host
            ))
            .into());
        }
        let body = resp.bytes().map_err(|e| self.net(e))?;
        let a: Answer = serde_json::from_slice(&body).map_err(|e| {
            Error::Fetch(format!(
                "the token service of {} answered no token JSON: {e}",
                self.host
            ))
        })?;
        a.token
            .or(a.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::Fetch(format!(
                    "the token service of {} answered no token",
                    self.host
                ))
                .into()
            })
    }

    fn refused(&self, repo: &str, access: Access, status: StatusCode) -> anyhow::Error {
        let what = match access {
            Access::Pull => "pull from",
            Access::Push => "push to",
        };
        let who = self
            .creds
            .as_ref()
            .map_or("anonymous access".to_string(), |c| {
                format!("the credentials from {}", c.source)
            });
        Error::Fetch(format!(
            "{} refused {who} to {what} {repo} (HTTP {status}); check the login and the repository's permissions",
            self.host
        ))
        .into()
    }

    fn net(&self, e: reqwest::Error) -> anyhow::Error {
        let why = crate::util::error::redact_urls(&format!("{e}"));
        Error::Fetch(format!(
            "cannot reach the registry {}: {why}{}",
            self.host,
            chain(&e)
        ))
        .into()
    }

    fn url(&self, repo: &str, tail: &str) -> String {
        format!("{}/v2/{repo}/{tail}", self.base)
    }

    /// Does the repository hold the blob?
    pub fn has_blob(&self, repo: &str, digest: &Sha256, access: Access) -> Result<bool> {
        let url = self.url(repo, &format!("blobs/sha256:{digest}"));
        let resp = self.send(repo, access, &|c| Ok(c.head(&url)))?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.failed(&format!("HEAD blob sha256:{digest} in {repo}"), resp)),
        }
    }

    /// Uploads a blob unless the repository has it already; true when it was sent.
    pub fn push_blob(&self, repo: &str, digest: &Sha256, body: &Body) -> Result<bool> {
        if self.has_blob(repo, digest, Access::Push)? {
            return Ok(false);
        }
        let start = self.url(repo, "blobs/uploads/");
        let resp = self.send(repo, Access::Push, &|c| {
            Ok(c.post(&start).header("Content-Length", "0"))
        })?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.failed(&format!("starting an upload to {repo}"), resp));
        }
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Error::Fetch(format!(
                    "{} started an upload without a Location",
                    self.host
                ))
            })?;
        let mut put = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_string()
        };
        put.push(if put.contains('?') { '&' } else { '?' });
        put.push_str(&format!("digest=sha256:{digest}"));
        let resp = self.send(repo, Access::Push, &|c| {
            let req = c.put(&put).header(CONTENT_TYPE, "application/octet-stream");
            Ok(match body {
                Body::Bytes(b) => req.body(b.to_vec()),
                Body::File(p, size) => {
                    let f = File::open(p).with_context(|| format!("opening {}", p.display()))?;
                    req.body(reqwest::blocking::Body::sized(f, *size))
                }
            })
        })?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.failed(&format!("uploading blob sha256:{digest} to {repo}"), resp));
        }
        Ok(true)
    }

    /// PUTs a manifest under `target` (a tag or `sha256:HEX`); returns whether the registry
    /// took its `subject` (the OCI-Subject header, of registries with the referrers API).
    pub fn put_manifest(
        &self,
        repo: &str,
        target: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<bool> {
        let url = self.url(repo, &format!("manifests/{target}"));
        let resp = self.send(repo, Access::Push, &|c| {
            Ok(c.put(&url)
                .header(CONTENT_TYPE, media_type)
                .body(bytes.to_vec()))
        })?;
        if !resp.status().is_success() {
            return Err(self.failed(&format!("putting manifest {repo}:{target}"), resp));
        }
        Ok(resp.headers().contains_key("oci-subject"))
    }

    /// GETs a manifest (an image manifest or an index); `None` on 404. When `target` is a
    /// digest the bytes are checked against it; the digest of what came back is returned.
    pub fn get_manifest(
        &self,
        repo: &str,
        target: &str,
        access: Access,
    ) -> Result<Option<(String, Vec<u8>, Sha256)>> {
        let url = self.url(repo, &format!("manifests/{target}"));
        let resp = self.send(repo, access, &|c| {
            Ok(c.get(&url).header(ACCEPT, super::media::ACCEPT_MANIFESTS))
        })?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self.failed(&format!("getting manifest {repo}:{target}"), resp));
        }
        let media_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut bytes = Vec::new();
        resp.take(super::media::MAX_MANIFEST + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                Error::Fetch(format!(
                    "reading manifest {repo}:{target} from {}: {e}",
                    self.host
                ))
            })?;
        if bytes.len() as u64 > super::media::MAX_MANIFEST {
            return Err(Error::Fetch(format!(
                "manifest {repo}:{target} from {} is over {} bytes; refused",
                self.host,
                super::media::MAX_MANIFEST
            ))
            .into());
        }
        let got = Sha256::of(&bytes);
        if let Some(want) = target.strip_prefix("sha256:") {
            if got.as_str() != want {
                return Err(Error::Fetch(format!(
                    "{} answered manifest {repo}@{target} with bytes whose sha256 is {got}: the registry's copy is corrupt or not what was pinned; nothing was used",
                    self.host
                ))
                .into());
            }
        }
        Ok(Some((media_type, bytes, got)))
    }

    /// Downloads a blob into `dest` (a temporary name beside it, renamed when the bytes match
    /// `digest` and `size`); a mismatch leaves nothing.
    pub fn get_blob(&self, repo: &str, digest: &Sha256, size: u64, dest: &Path) -> Result<()> {
        let url = self.url(repo, &format!("blobs/sha256:{digest}"));
        let resp = self.send(repo, Access::Pull, &|c| Ok(c.get(&url)))?;
        if !resp.status().is_success() {
            return Err(self.failed(&format!("getting blob sha256:{digest} from {repo}"), resp));
        }
        let dir = dest.parent().unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".builder-blob.")
            .tempfile_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        let mut w = HashingWriter::new(tmp);
        std::io::copy(&mut resp.take(size + 1), &mut w).map_err(|e| {
            Error::Fetch(format!(
                "reading blob sha256:{digest} from {}: {e}",
                self.host
            ))
        })?;
        let (tmp, got, n) = w.finish();
        if got != *digest || n != size {
            return Err(Error::Fetch(format!(
                "{} answered blob sha256:{digest} of {repo} with {n} bytes whose sha256 is {got} (want {size} bytes): \
                 the registry's copy is corrupt or tampered with; nothing was written",
                self.host
            ))
            .into());
        }
        tmp.persist(dest)
            .map_err(|e| e.error)
            .with_context(|| format!("moving the blob into {}", dest.display()))?;
        Ok(())
    }

    /// The referrers of `digest` (their descriptors): the referrers API, or the fallback tag
    /// `sha256-HEX` of registries without it.
    pub fn referrers(
        &self,
        repo: &str,
        digest: &Sha256,
    ) -> Result<Vec<super::manifest::Descriptor>> {
        let url = self.url(repo, &format!("referrers/sha256:{digest}"));
        let resp = self.send(repo, Access::Pull, &|c| {
            Ok(c.get(&url).header(ACCEPT, super::media::INDEX))
        })?;
        if resp.status().is_success()
            && header_is(resp.headers(), CONTENT_TYPE, super::media::INDEX)
        {
            let bytes = resp.bytes().map_err(|e| self.net(e))?;
            return super::manifest::Index::parse(&bytes).map(|i| i.manifests);
        }
        match self.get_manifest(repo, &super::media::fallback_tag(digest), Access::Pull)? {
            Some((_, bytes, _)) => super::manifest::Index::parse(&bytes).map(|i| i.manifests),
            None => Ok(Vec::new()),
        }
    }

    /// The error of a request the registry refused: its status and the spec's error body.
    fn failed(&self, what: &str, resp: Response) -> anyhow::Error {
        let status = resp.status();
        let detail = resp
            .text()
            .ok()
            .as_deref()
            .and_then(registry_errors)
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        let e = format!("{} answered HTTP {status} when {what}{detail}", self.host);
        if status == StatusCode::NOT_FOUND {
            Error::Missing(e).into()
        } else {
            Error::Fetch(e).into()
        }
    }
}

/// An error's sources, each after ": ".
fn chain(e: &reqwest::Error) -> String {
    let mut source = std::error::Error::source(e);
    let mut out = String::new();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// `repository:REPO:pull` or `...:pull,push`.
fn scope(repo: &str, access: Access) -> String {
    match access {
        Access::Pull => format!("repository:{repo}:pull"),
        Access::Push => format!("repository:{repo}:pull,push"),
    }
}

fn header_is(h: &HeaderMap, name: reqwest::header::HeaderName, want: &str) -> bool {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim() == want)
}

/// The Distribution spec's error body (`{"errors":[{"code","message"}]}`) as one line.
fn registry_errors(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<One>,
    }
    #[derive(Deserialize)]
    struct One {
        code: Option<String>,
        message: Option<String>,
    }
    let e: Errors = serde_json::from_str(body).ok()?;
    let parts: Vec<String> = e
        .errors
        .iter()
        .map(|o| {
            let m = format!(
                "{} {}",
                o.code.as_deref().unwrap_or(""),
                o.message.as_deref().unwrap_or("")
            );
            m.trim().chars().take(200).collect()
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// `Bearer realm="...",service="..."` into the scheme and its parameters.
fn parse_challenge(h: &str) -> (String, HashMap<String, String>) {
    let h = h.trim();
    let (kind, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = chars.by_ref().take_while(|c| *c != ',').collect();
        }
        params.insert(key.trim().to_ascii_lowercase(), value);
    }
    (kind.to_string(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let (k, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(k, "Bearer");
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["service"], "reg.example");
        assert_eq!(p["scope"], "repository:a/b:pull,push");
        let (k, p) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(
            (k.as_str(), p["realm"].as_str()),
            ("Basic", "Registry Realm")
        );
        let (_, p) = parse_challenge(r#"Bearer realm=plain, error="insufficient \"scope\"""#);
        assert_eq!(
            (p["realm"].as_str(), p["error"].as_str()),
            ("plain", "insufficient \"scope\"")
        );
    }

    #[test]
    fn registry_error_bodies() {
        let b =
            r#"{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":{}}]}"#;
        assert_eq!(
            registry_errors(b).unwrap(),
            "MANIFEST_INVALID manifest invalid"
        );
        assert!(registry_errors("<html>").is_none());
    }
}
