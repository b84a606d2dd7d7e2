//! Registry credentials, from where container tools keep them: `BUILDER_REGISTRY_USERNAME` and
//! `BUILDER_REGISTRY_PASSWORD`, then the auth file named by `REGISTRY_AUTH_FILE`, then
//! `$XDG_RUNTIME_DIR/containers/auth.json`, then `$DOCKER_CONFIG/config.json` (or
//! `~/.docker/config.json`). In a file: `credHelpers` for the registry, its `auths` entry
//! (`auth` = base64 of user:password, or `identitytoken`), then `credsStore`; a helper is run
//! as `docker-credential-NAME get`, as Docker does. A secret is never printed: `Debug` hides it,
//! and messages name only the file or helper it came from.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use base64ct::{Base64, Encoding};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::util::error::Error;

/// What a registry is asked with.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    secret: Zeroizing<String>,
    /// An OAuth2 refresh token (Docker's `identitytoken`), not a password.
    pub identity_token: bool,
    /// Where they came from, for messages: an env variable, a file, a helper.
    pub source: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("secret", &"***")
            .field("source", &self.source)
            .finish()
    }
}

impl Credentials {
    pub fn new(username: &str, secret: &str, source: &str) -> Credentials {
        Credentials {
            username: username.to_string(),
            secret: Zeroizing::new(secret.to_string()),
            identity_token: false,
            source: source.to_string(),
        }
    }

    /// The password or token: for the request only, never for a message.
    pub fn expose(&self) -> &str {
        &self.secret
    }
}

/// The credentials for `registry` (`host[:port]`), or `None` to go anonymous.
pub fn lookup(registry: &str) -> Result<Option<Credentials>> {
    let user = std::env::var("BUILDER_REGISTRY_USERNAME")
        .ok()
        .filter(|v| !v.is_empty());
    let pass = std::env::var("BUILDER_REGISTRY_PASSWORD")
        .ok()
        .filter(|v| !v.is_empty());
    match (user, pass) {
        (Some(u), Some(p)) => {
            return Ok(Some(Credentials::new(
                &u,
                &p,
                "BUILDER_REGISTRY_USERNAME/PASSWORD",
            )))
        }
        (None, None) => {}
        _ => {
            return Err(Error::Input(
                "set both BUILDER_REGISTRY_USERNAME and BUILDER_REGISTRY_PASSWORD, or neither"
                    .into(),
            )
            .into())
        }
    }
    for (file, required) in auth_files() {
        if !required && !file.is_file() {
            continue;
        }
        if let Some(c) = from_file(&file, registry)? {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// The auth files to look in, in order, each with whether it must exist.
fn auth_files() -> Vec<(PathBuf, bool)> {
    let mut files = Vec::new();
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|v| !v.is_empty()) {
        files.push((PathBuf::from(f), true));
    }
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        files.push((Path::new(&run).join("containers/auth.json"), false));
    }
    let docker = std::env::var_os("DOCKER_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".docker")));
    if let Some(d) = docker {
        files.push((d.join("config.json"), false));
    }
    files
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuthFile {
    auths: std::collections::BTreeMap<String, AuthEntry>,
    #[serde(rename = "credHelpers")]
    cred_helpers: std::collections::BTreeMap<String, String>,
    #[serde(rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

fn from_file(file: &Path, registry: &str) -> Result<Option<Credentials>> {
    let bytes = Zeroizing::new(
        std::fs::read(file)
            .with_context(|| format!("reading the registry auth file {}", file.display()))?,
    );
    let parsed: AuthFile = serde_json::from_slice(&bytes).map_err(|e| {
        // serde_json's message names a line and column, never the text.
        Error::Input(format!(
            "{} is not a container auth file (JSON with \"auths\"): {e}",
            file.display()
        ))
    })?;
    if let Some(helper) = parsed.cred_helpers.get(registry) {
        return helper_get(helper, registry).map(Some);
    }
    let source = file.display().to_string();
    for (key, entry) in &parsed.auths {
        if normalize(key) == registry {
            return entry_credentials(entry, &source, registry).map(Some);
        }
    }
    match &parsed.creds_store {
        Some(store) if !store.is_empty() => helper_get(store, registry).map(Some).or_else(|e| {
            // A store that does not know this registry answers "credentials not found".
            if format!("{e:#}").contains("not found") {
                Ok(None)
            } else {
                Err(e)
            }
        }),
        _ => Ok(None),
    }
}

/// An `auths` key as Docker writes it (`https://host/v1/`, `host`) down to `host[:port]`.
fn normalize(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

fn entry_credentials(e: &AuthEntry, source: &str, registry: &str) -> Result<Credentials> {
    if let Some(token) = e.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        let mut c = Credentials::new(e.username.as_deref().unwrap_or(""), token, source);
        c.identity_token = true;
        return Ok(c);
    }
    if let (Some(u), Some(p)) = (&e.username, &e.password) {
        return Ok(Credentials::new(u, p, source));
    }
    let bad = || {
        Error::Input(format!(
            "{source}: the \"auth\" of {registry} is not base64 of user:password; log in again (oras login, docker login)"
        ))
    };
    let encoded = e.auth.as_deref().ok_or_else(bad)?;
    let decoded = Zeroizing::new(Base64::decode_vec(encoded.trim()).map_err(|_| bad())?);
    let text = std::str::from_utf8(&decoded).map_err(|_| bad())?;
    let (u, p) = text.split_once(':').ok_or_else(bad)?;
    Ok(Credentials::new(u, p, source))
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// `docker-credential-NAME get`, the registry on stdin, JSON on stdout.
fn helper_get(name: &str, registry: &str) -> Result<Credentials> {
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Input(format!("cannot run the credential helper {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(registry.as_bytes())
            .with_context(|| format!("writing to {program}"))?;
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("waiting for {program}"))?;
    let stdout = Zeroizing::new(out.stdout);
    if !out.status.success() {
        // Helpers print "credentials not found in native keychain" and the like: no secret.
        let why = String::from_utf8_lossy(if stdout.is_empty() {
            &out.stderr
        } else {
            &stdout
        })
        .trim()
        .chars()
        .take(200)
        .collect::<String>();
        return Err(Error::Input(format!("{program} get {registry} failed: {why}")).into());
    }
    let a: HelperAnswer = serde_json::from_slice(&stdout).map_err(|e| {
        Error::Input(format!(
            "{program} get {registry} printed no credentials JSON: {e}"
        ))
    })?;
    let mut c = Credentials::new(&a.username, &a.secret, &program);
    c.identity_token = a.username == "<token>";
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(json: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("auth.json");
        std::fs::write(&f, json).unwrap();
        (d, f)
    }

    #[test]
    fn auths_entries_by_host() {
        // "user:s3cret"
        let (_d, f) = file(
            r#"{"auths":{"https://reg.example:5000/v1/":{"auth":"dXNlcjpzM2NyZXQ="},"other.example":{"username":"o","password":"p"}}}"#,
        );
        let c = from_file(&f, "reg.example:5000").unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.expose()), ("user", "s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"));
        let c = from_file(&f, "other.example").unwrap().unwrap();
        assert_eq!(c.expose(), "p");
        assert!(from_file(&f, "third.example").unwrap().is_none());
    }

    #[test]
    fn a_broken_file_is_named_without_its_secret() {
        let (_d, f) = file(r#"{"auths":{"reg.example":{"auth":"!!notbase64 s3cret"}}}"#);
        let e = format!("{:#}", from_file(&f, "reg.example").unwrap_err());
        assert!(e.contains("not base64") && !e.contains("s3cret"), "{e}");
        let (_d, f) = file("{\"auths\": s3cret");
        let e = format!("{:#}", from_file(&f, "reg.example").unwrap_err());
        assert!(
            e.contains("not a container auth file") && !e.contains("s3cret"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_helper_is_a_clear_error() {
        let (_d, f) = file(r#"{"credHelpers":{"reg.example":"builder-test-no-such"}}"#);
        let e = format!("{:#}", from_file(&f, "reg.example").unwrap_err());
        assert!(e.contains("docker-credential-builder-test-no-such"), "{e}");
    }
}
