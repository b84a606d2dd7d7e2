//! kubeadm join parameters (API endpoint, bootstrap token, CA cert hashes, and optionally the
//! discovery timeout): read from a file or the environment, validated, and turned into a
//! JoinConfiguration.
//!
//! The token is a secret. It is kept out of every error message and out of `Debug`; the only
//! place it is ever written is the JoinConfiguration inside user-data or the Ignition config.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use anyhow::{Context, Result};

use super::yaml::single_quoted;
use crate::util::error::line_col;
use crate::util::error::Error;
use crate::util::model::{managed_flag, DerivedFrom, KubeMinor};
use crate::util::read::{self, Kind};

/// Environment variables read by [`JoinParams::from_env`].
pub const ENV_API_SERVER: &str = "BUILDER_JOIN_API_SERVER";
pub const ENV_TOKEN: &str = "BUILDER_JOIN_TOKEN";
/// One hash, or several separated by commas.
pub const ENV_CA_CERT_HASH: &str = "BUILDER_JOIN_CA_CERT_HASH";
/// Optional, and only beside the other three.
pub const ENV_DISCOVERY_TIMEOUT: &str = "BUILDER_JOIN_DISCOVERY_TIMEOUT";

/// Where the JoinConfiguration is written on the node (mode 0600) and removed after a join.
pub const JOIN_CONFIG_PATH: &str = "/etc/kubernetes/builder-join.yaml";

/// What a node needs to join a cluster with a bootstrap token.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinParams {
    /// `host:port` of the API server (or its load balancer), e.g. `10.0.0.10:6443`.
    pub api_server: String,
    /// A bootstrap token, `[a-z0-9]{6}.[a-z0-9]{16}`. Secret.
    pub token: String,
    /// `sha256:<64 hex>` pins of the cluster CA's public key (`kubeadm token create --print-join-command`).
    pub ca_cert_hashes: Vec<String>,
    /// How long kubeadm's token discovery keeps retrying; `None` leaves kubeadm's default (5m).
    pub discovery_timeout: Option<DiscoveryTimeout>,
}

/// A kubeadm discovery timeout: a Go duration (kubeadm's metav1.Duration reads it with
/// `time.ParseDuration`) of whole numbers with units h, m, s or ms, above zero and at most
/// 24h. Kept as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryTimeout(String);

/// The longest discovery timeout taken, in milliseconds: a day, the default lifetime of a
/// bootstrap token (`kubeadm token create --ttl`), beyond which the token the node waits with has
/// usually expired; a longer value is more likely a typo (`30h` for `30m`).
const MAX_DISCOVERY_TIMEOUT_MS: u64 = 24 * 3_600_000;

impl DiscoveryTimeout {
    /// Parses `value`; `what` names its key or variable in the error, which echoes the value.
    pub fn parse(what: &str, value: &str) -> std::result::Result<DiscoveryTimeout, String> {
        let example = "e.g. \"30s\", \"2m30s\" or \"10m\"";
        let bad = || {
            format!(
                "{what} {value:?}: expected one or more <whole number><unit> with unit h, m, s or ms (a Go duration, as kubeadm reads it), {example}"
            )
        };
        let mut ms: u64 = 0;
        // Go takes a bare "0" too.
        let mut rest = if value == "0" { "" } else { value };
        while !rest.is_empty() {
            // Go reads a number, then every following non-digit as its unit.
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let unit_len = rest
                .bytes()
                .skip(digits)
                .take_while(|b| !b.is_ascii_digit())
                .count();
            let (number, unit) = (&rest[..digits], &rest[digits..digits + unit_len]);
            rest = &rest[digits + unit_len..];
            let scale: u64 = match unit {
                "h" => 3_600_000,
                "m" => 60_000,
                "s" => 1_000,
                "ms" => 1,
                _ => return Err(bad()),
            };
            if number.is_empty() {
                return Err(bad());
            }
            ms = number
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(scale)?.checked_add(ms))
                .unwrap_or(u64::MAX);
        }
        if value.is_empty() {
            Err(bad())
        } else if ms == 0 {
            Err(format!(
                "{what} {value:?} is zero; give more than zero, {example}, or leave it out for kubeadm's default of 5m"
            ))
        } else if ms > MAX_DISCOVERY_TIMEOUT_MS {
            Err(format!(
                "{what} {value:?} is over 24h, the default lifetime of a bootstrap token (the token the node waits with has likely expired by then); give at most 24h, {example}"
            ))
        } else {
            Ok(DiscoveryTimeout(value.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for JoinParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinParams")
            .field("api_server", &self.api_server)
            .field("token", &"<redacted>")
            .field("ca_cert_hashes", &self.ca_cert_hashes)
            .field("discovery_timeout", &self.discovery_timeout)
            .finish()
    }
}

const FILE_KEYS: &str =
    "api_server, token and ca_cert_hashes (a list) or ca_cert_hash (one); optionally discovery_timeout";

impl JoinParams {
    /// Reads `--join-config FILE`: TOML with exactly the keys
    /// `api_server = "host:port"`, `token = "abcdef.0123456789abcdef"` and
    /// `ca_cert_hashes = ["sha256:<hex>", ...]` (or `ca_cert_hash = "sha256:<hex>"`), and
    /// optionally `discovery_timeout = "30s"`.
    /// Errors never contain the token, nor any value from the file that could be it.
    pub fn from_file(path: &Path) -> Result<JoinParams> {
        let text = read::read_to_string(path, Kind::Config)
            .with_context(|| format!("reading join config {}", path.display()))?;
        let bad = |what: String| -> anyhow::Error {
            Error::Input(format!("join config {}: {what}", path.display())).into()
        };
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            // Only toml's message and position: its Display quotes the offending line,
            // which may be the token's.
            let at = e.span().map_or(String::new(), |s| {
                let (line, col) = line_col(&text, s.start);
                format!(" at line {line}, column {col}")
            });
            bad(format!(
                "not valid TOML{at}: {} (expected the keys {FILE_KEYS})",
                scrub(e.message())
            ))
        })?;
        let mut api_server = None;
        let mut token = None;
        let mut hashes: Option<Vec<String>> = None;
        let mut timeout = None;
        for (key, value) in &table {
            match (key.as_str(), value) {
                ("api_server", toml::Value::String(s)) => api_server = Some(s.clone()),
                ("token", toml::Value::String(s)) => token = Some(s.clone()),
                ("discovery_timeout", toml::Value::String(s)) => timeout = Some(s.clone()),
                ("ca_cert_hash" | "ca_cert_hashes", _) if hashes.is_some() => {
                    return Err(bad(
                        "give ca_cert_hash or ca_cert_hashes, not both".to_string()
                    ))
                }
                ("ca_cert_hash", toml::Value::String(s)) => hashes = Some(vec![s.clone()]),
                ("ca_cert_hashes", toml::Value::Array(items)) => {
                    let list = items
                        .iter()
                        .map(|v| v.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad("ca_cert_hashes must be a list of strings".into()))?;
                    hashes = Some(list);
                }
                ("api_server" | "token" | "ca_cert_hash", _) => {
                    return Err(bad(format!("{key} must be a string")))
                }
                ("ca_cert_hashes", _) => {
                    return Err(bad("ca_cert_hashes must be a list of strings".into()))
                }
                ("discovery_timeout", _) => {
                    return Err(bad(
                        "discovery_timeout must be a string, a duration such as \"30s\"".into(),
                    ))
                }
                (other, _) => {
                    // A key is shown only if it cannot be a token (which has a '.' and digits).
                    let shown = if other.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                        format!("{other:?}")
                    } else {
                        "(not shown: it could be a secret)".to_string()
                    };
                    return Err(bad(format!(
                        "unknown key {shown}; the keys are {FILE_KEYS}"
                    )));
                }
            }
        }
        let missing: Vec<&str> = [
            ("api_server", api_server.is_none()),
            ("token", token.is_none()),
            ("ca_cert_hashes", hashes.is_none()),
        ]
        .iter()
        .filter(|(_, m)| *m)
        .map(|(k, _)| *k)
        .collect();
        if !missing.is_empty() {
            return Err(bad(format!("missing {}", missing.join(", "))));
        }
        let (Some(api_server), Some(token), Some(hashes)) = (api_server, token, hashes) else {
            unreachable!("checked just above");
        };
        JoinParams::new(api_server, token, hashes)
            .and_then(|j| j.with_discovery_timeout("discovery_timeout", timeout))
            .map_err(bad)
    }

    /// Reads BUILDER_JOIN_API_SERVER, BUILDER_JOIN_TOKEN and BUILDER_JOIN_CA_CERT_HASH (comma
    /// separated for several), and the optional BUILDER_JOIN_DISCOVERY_TIMEOUT. `None` when none
    /// is set (an empty value counts as unset); an error when only some of the three are, or
    /// the timeout alone.
    pub fn from_env() -> Result<Option<JoinParams>> {
        from_vars(|name| std::env::var(name).ok())
    }

    /// Validates and normalises (hash hex to lowercase). The error never holds the token.
    pub fn new(
        api_server: String,
        token: String,
        ca_cert_hashes: Vec<String>,
    ) -> std::result::Result<JoinParams, String> {
        if !valid_endpoint(&api_server) {
            return Err(format!(
                "api_server {:?} is not host:port (a DNS name, an IPv4 address or [IPv6], then a port), e.g. 10.0.0.10:6443; no scheme",
                hide(&api_server, &token)
            ));
        }
        if !valid_token(&token) {
            return Err(
                "token is not a kubeadm bootstrap token ([a-z0-9]{6}.[a-z0-9]{16}, as printed by `kubeadm token create`); its value is not shown"
                    .to_string(),
            );
        }
        if ca_cert_hashes.is_empty() {
            return Err("ca_cert_hashes is empty; give at least one sha256:<hex> pin of the cluster CA (kubeadm token create --print-join-command prints it)".to_string());
        }
        let mut hashes = Vec::new();
        for h in ca_cert_hashes {
            let hex = h
                .strip_prefix("sha256:")
                .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
            match hex {
                Some(hex) => hashes.push(format!("sha256:{}", hex.to_ascii_lowercase())),
                None => {
                    return Err(format!(
                        "CA cert hash {:?} is not sha256:<64 hex digits>",
                        hide(&h, &token)
                    ))
                }
            }
        }
        Ok(JoinParams {
            api_server,
            token,
            ca_cert_hashes: hashes,
            discovery_timeout: None,
        })
    }

    /// Sets the discovery timeout from `value`, if given; `what` names its key or variable.
    fn with_discovery_timeout(
        mut self,
        what: &str,
        value: Option<String>,
    ) -> std::result::Result<JoinParams, String> {
        if let Some(v) = value {
            // The value is echoed in the error, unless it is the token pasted in the wrong place.
            let t = DiscoveryTimeout::parse(what, &v).map_err(|e| hide(&e, &self.token))?;
            self.discovery_timeout = Some(t);
        }
        Ok(self)
    }
}

/// [`JoinParams::from_env`] over any variable source (tests pass a map).
pub(crate) fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Option<JoinParams>> {
    let names = [ENV_API_SERVER, ENV_TOKEN, ENV_CA_CERT_HASH];
    let values: Vec<Option<String>> = names
        .iter()
        .map(|n| get(n).filter(|v| !v.is_empty()))
        .collect();
    let (set, unset): (Vec<_>, Vec<_>) = names.iter().zip(&values).partition(|(_, v)| v.is_some());
    let timeout = get(ENV_DISCOVERY_TIMEOUT).filter(|v| !v.is_empty());
    if set.is_empty() {
        return match timeout {
            None => Ok(None),
            Some(_) => Err(Error::Input(format!(
                "{ENV_DISCOVERY_TIMEOUT} is set but {ENV_API_SERVER}, {ENV_TOKEN} and {ENV_CA_CERT_HASH} are not; it applies only to a join from the environment: set those three too, or unset it (with --join-config, put discovery_timeout in the file)"
            ))
            .into()),
        };
    }
    if !unset.is_empty() {
        let list = |v: &[(&&str, &Option<String>)]| {
            v.iter().map(|(n, _)| **n).collect::<Vec<_>>().join(", ")
        };
        return Err(Error::Input(format!(
            "join parameters from the environment are incomplete: {} set but {} not; set all three or none",
            list(&set),
            list(&unset)
        ))
        .into());
    }
    let [Some(api), Some(token), Some(hashes)] = <[Option<String>; 3]>::try_from(values)
        .map_err(|_| Error::Internal("three join variables".into()))?
    else {
        unreachable!("all three are set");
    };
    let hashes = hashes
        .split(',')
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .collect();
    JoinParams::new(api, token, hashes)
        .and_then(|j| j.with_discovery_timeout(ENV_DISCOVERY_TIMEOUT, timeout))
        .map(Some)
        .map_err(|e| Error::Input(format!("join parameters from the environment: {e}")).into())
}

/// `s` with the token, and each of its `.`-separated parts of 6 or more characters, replaced
/// by `…` (the token may be malformed, or pasted into the wrong field).
fn hide(s: &str, token: &str) -> String {
    if token.is_empty() {
        return s.to_string();
    }
    let mut out = s.replace(token, "…");
    for part in token.split('.').filter(|p| p.len() >= 6) {
        out = out.replace(part, "…");
    }
    out
}

/// Hides anything in a message that could be a token (valid or a near miss): every run of
/// 12 or more characters without whitespace or quotes is replaced by `…`.
fn scrub(s: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.chars().count() >= 12 {
            out.push('…');
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in s.chars() {
        if c.is_whitespace() || matches!(c, '"' | '\'' | '`') {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn valid_token(t: &str) -> bool {
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    matches!(t.split_once('.'), Some((id, secret)) if ok(id, 6) && ok(secret, 16))
}

fn valid_endpoint(s: &str) -> bool {
    let (host_ok, port) = if let Some(rest) = s.strip_prefix('[') {
        match rest.split_once("]:") {
            Some((h, p)) => (h.parse::<Ipv6Addr>().is_ok(), p),
            None => return false,
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h.parse::<Ipv4Addr>().is_ok() || valid_dns_name(h), p),
            None => return false,
        }
    };
    host_ok
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p > 0)
}

fn valid_dns_name(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The JoinConfiguration text: `kubeadm.k8s.io/v1beta3` below 1.31, `v1beta4` from 1.31 (the
/// first release that reads it). `kubelet_args` become `nodeRegistration.kubeletExtraArgs`
/// (a map in v1beta3, a list of {name, value} in v1beta4), because kubeadm rewrites
/// kubeadm-flags.env at join from nodeRegistration and would otherwise drop them. A discovery
/// timeout is `discovery.timeout` in v1beta3 and `timeouts.discovery` in v1beta4 (kubeadm's
/// `apis/kubeadm/v1beta{3,4}/types.go`).
pub fn join_configuration(
    profile: &str,
    kubernetes: KubeMinor,
    cri_socket: &str,
    kubelet_args: &BTreeMap<String, String>,
    join: &JoinParams,
) -> Result<String> {
    let q = |what: &str, s: &str| {
        single_quoted(s).ok_or_else(|| {
            anyhow::Error::from(Error::Input(format!(
                "{what} {s:?} holds a control character or line break"
            )))
        })
    };
    let v1beta4 = kubernetes >= KubeMinor(31);
    let mut out = crate::node::header(profile);
    out.push_str(if v1beta4 {
        "apiVersion: kubeadm.k8s.io/v1beta4\n"
    } else {
        "apiVersion: kubeadm.k8s.io/v1beta3\n"
    });
    out.push_str("kind: JoinConfiguration\ndiscovery:\n  bootstrapToken:\n");
    // Validated values: no quoting surprises, and the token is never echoed in an error.
    out.push_str(&format!(
        "    apiServerEndpoint: '{}'\n    token: '{}'\n    caCertHashes:\n",
        join.api_server, join.token
    ));
    for h in &join.ca_cert_hashes {
        out.push_str(&format!("    - '{h}'\n"));
    }
    let timeout = join
        .discovery_timeout
        .as_ref()
        .map(DiscoveryTimeout::as_str);
    if let (Some(t), false) = (timeout, v1beta4) {
        out.push_str(&format!("  timeout: '{t}'\n"));
    }
    out.push_str(&format!(
        "nodeRegistration:\n  criSocket: {}\n",
        q("CRI socket", cri_socket)?
    ));
    let args: Vec<(&String, &String)> = kubelet_args
        .iter()
        // kubeadm derives these from criSocket itself; passing them again would only risk a
        // conflict.
        .filter(|(k, _)| managed_flag(k) != Some(DerivedFrom::CriSocket))
        .collect();
    if !args.is_empty() {
        out.push_str("  kubeletExtraArgs:\n");
        for (k, v) in args {
            let (k, v) = (q("kubelet flag", k)?, q("kubelet flag value", v)?);
            if v1beta4 {
                out.push_str(&format!("  - name: {k}\n    value: {v}\n"));
            } else {
                out.push_str(&format!("    {k}: {v}\n"));
            }
        }
    }
    if let (Some(t), true) = (timeout, v1beta4) {
        out.push_str(&format!("timeouts:\n  discovery: '{t}'\n"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const TOKEN: &str = "abcdef.0123456789abcdef";
    const HASH: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("join.toml");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    fn file_err(text: &str) -> String {
        let (_d, p) = write(text);
        format!("{:#}", JoinParams::from_file(&p).unwrap_err())
    }

    #[test]
    fn reads_a_good_file() {
        let (_d, p) = write(&format!(
            "api_server = \"api.example.internal:6443\"\ntoken = \"{TOKEN}\"\nca_cert_hash = \"{}\"\n",
            HASH.to_uppercase().replace("SHA256", "sha256")
        ));
        let j = JoinParams::from_file(&p).unwrap();
        assert_eq!(j.api_server, "api.example.internal:6443");
        assert_eq!(j.token, TOKEN);
        assert_eq!(j.ca_cert_hashes, vec![HASH.to_string()]);
    }

    #[test]
    fn debug_redacts_the_token() {
        let j = JoinParams::new("10.0.0.1:6443".into(), TOKEN.into(), vec![HASH.into()]).unwrap();
        let d = format!("{j:?} {j:#?}");
        assert!(!d.contains("0123456789abcdef\""), "{d}");
        assert!(!d.contains(TOKEN) && !d.contains("abcdef."), "{d}");
        assert!(
            d.contains("<redacted>") && d.contains("10.0.0.1:6443"),
            "{d}"
        );
    }

    #[test]
    fn errors_never_show_the_token() {
        let secret = "0123456789abcdef";
        // A syntax error on the token's own line (toml's Display would quote the line).
        let cases = [
            format!("api_server = \"10.0.0.1:6443\"\ntoken = \"{TOKEN}\nca_cert_hashes = [\"{HASH}\"]\n"),
            format!("api_server = \"10.0.0.1:6443\"\ntoken = {TOKEN}\nca_cert_hashes = [\"{HASH}\"]\n"),
            // Wrong type, bad format (upper case, wrong length), unknown key holding it.
            format!("api_server = \"10.0.0.1:6443\"\ntoken = [\"{TOKEN}\"]\nca_cert_hashes = [\"{HASH}\"]\n"),
            format!("api_server = \"10.0.0.1:6443\"\ntoken = \"ABCDEF.{secret}\"\nca_cert_hashes = [\"{HASH}\"]\n"),
            format!("api_server = \"10.0.0.1:6443\"\ntoken = \"{TOKEN}0\"\nca_cert_hashes = [\"{HASH}\"]\n"),
            format!("api_server = \"10.0.0.1:6443\"\ntokn = \"{TOKEN}\"\nca_cert_hashes = [\"{HASH}\"]\n"),
            format!("api_server = \"10.0.0.1:6443\"\n\"{TOKEN}\" = 1\n"),
            // Token pasted into the wrong field.
            format!("api_server = \"{TOKEN}\"\ntoken = \"{TOKEN}\"\nca_cert_hashes = [\"{HASH}\"]\n"),
            format!("api_server = \"10.0.0.1:6443\"\ntoken = \"{TOKEN}\"\nca_cert_hashes = [\"{TOKEN}\"]\n"),
            format!("api_server = \"10.0.0.1:6443\"\ntoken = \"{TOKEN}\"\n"),
            format!("api_server = \"10.0.0.1:6443\"\ntoken = \"{TOKEN}\"\nca_cert_hash = \"{HASH}\"\ndiscovery_timeout = \"{TOKEN}\"\n"),
        ];
        for (i, text) in cases.iter().enumerate() {
            let e = file_err(text);
            assert!(!e.contains(secret), "case {i} leaks the token: {e}");
            assert!(e.contains("join.toml"), "case {i} names no file: {e}");
        }
        // And the messages still say what is wrong.
        assert!(file_err(&cases[3]).contains("bootstrap token"));
        assert!(file_err(&cases[5]).contains("unknown key \"tokn\""));
        assert!(file_err(&cases[9]).contains("missing ca_cert_hashes"));
        assert!(
            file_err(&cases[0]).contains("line 2"),
            "{}",
            file_err(&cases[0])
        );
    }

    #[test]
    fn endpoint_and_hash_rules() {
        for ok in [
            "10.0.0.1:6443",
            "[fd00::1]:6443",
            "api.k8s-prod.example:443",
            "lb:1",
        ] {
            assert!(valid_endpoint(ok), "{ok}");
        }
        for bad in [
            "10.0.0.1",
            "https://10.0.0.1:6443",
            "fd00::1:6443",
            "host:0",
            "host:65536",
            "-bad:6443",
            "a b:6443",
            ":6443",
        ] {
            assert!(!valid_endpoint(bad), "{bad}");
        }
        let e = JoinParams::new("h:1".into(), TOKEN.into(), vec!["sha256:abc".into()]).unwrap_err();
        assert!(e.contains("not sha256:<64 hex digits>"), "{e}");
        let e = JoinParams::new("h:1".into(), TOKEN.into(), vec![]).unwrap_err();
        assert!(e.contains("at least one"), "{e}");
    }

    #[test]
    fn env_all_none_or_some() {
        let env = |pairs: &[(&str, &str)]| {
            let m: BTreeMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            from_vars(move |n| m.get(n).cloned())
        };
        assert!(env(&[]).unwrap().is_none());
        assert!(env(&[(ENV_TOKEN, "")]).unwrap().is_none());
        let e = format!("{:#}", env(&[(ENV_TOKEN, TOKEN)]).unwrap_err());
        assert!(
            e.contains(
                "BUILDER_JOIN_TOKEN set but BUILDER_JOIN_API_SERVER, BUILDER_JOIN_CA_CERT_HASH not"
            ),
            "{e}"
        );
        assert!(!e.contains("0123456789abcdef"), "{e}");
        let two = format!("{HASH}, {}", HASH.replace("0123", "4567"));
        let j = env(&[
            (ENV_API_SERVER, "10.0.0.1:6443"),
            (ENV_TOKEN, TOKEN),
            (ENV_CA_CERT_HASH, &two),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(j.ca_cert_hashes.len(), 2);
        let e = format!(
            "{:#}",
            env(&[
                (ENV_API_SERVER, "10.0.0.1:6443"),
                (ENV_TOKEN, "Z123456789abcdef0123"),
                (ENV_CA_CERT_HASH, HASH),
            ])
            .unwrap_err()
        );
        assert!(
            e.contains("environment") && !e.contains("Z123456789abcdef0123"),
            "{e}"
        );

        // The timeout: optional beside the three, an error alone, empty counts as unset.
        let three = [
            (ENV_API_SERVER, "10.0.0.1:6443"),
            (ENV_TOKEN, TOKEN),
            (ENV_CA_CERT_HASH, HASH),
        ];
        let with = |t: &str| env(&[three.as_slice(), &[(ENV_DISCOVERY_TIMEOUT, t)]].concat());
        let j = with("90s").unwrap().unwrap();
        assert_eq!(
            j.discovery_timeout.as_ref().map(|t| t.as_str()),
            Some("90s")
        );
        assert_eq!(with("").unwrap().unwrap().discovery_timeout, None);
        assert_eq!(env(&three).unwrap().unwrap().discovery_timeout, None);
        assert!(env(&[(ENV_DISCOVERY_TIMEOUT, "")]).unwrap().is_none());
        let e = format!("{:#}", env(&[(ENV_DISCOVERY_TIMEOUT, "30s")]).unwrap_err());
        assert!(
            e.contains("BUILDER_JOIN_DISCOVERY_TIMEOUT is set but BUILDER_JOIN_API_SERVER, BUILDER_JOIN_TOKEN and BUILDER_JOIN_CA_CERT_HASH are not"),
            "{e}"
        );
        let e = format!("{:#}", with("1d").unwrap_err());
        assert!(
            e.starts_with("join parameters from the environment: BUILDER_JOIN_DISCOVERY_TIMEOUT \"1d\": expected")
                && e.contains("e.g. \"30s\""),
            "{e}"
        );
        let e = format!("{:#}", with(TOKEN).unwrap_err());
        assert!(!e.contains("0123456789abcdef"), "{e}");
    }

    #[test]
    fn discovery_timeout_syntax_and_bounds() {
        let parse = |v: &str| DiscoveryTimeout::parse("discovery_timeout", v);
        for ok in [
            "30s",
            "2m30s",
            "10m",
            "1h",
            "90s",
            "500ms",
            "1h30m",
            "30s1m",
            "24h",
            "23h59m60s",
            "0001s",
            "1ms",
        ] {
            assert_eq!(
                parse(ok).map(|t| t.as_str().to_string()),
                Ok(ok.to_string())
            );
        }
        // Not our syntax: no unit, fractions, signs, spaces, other units, unit without number.
        for bad in [
            "", "30", "1.5m", ".5s", "1d", "-1s", "+1s", " 30s", "30s ", "30 s", "s", "1h-1m",
            "5sec", "1us", "1\u{b5}s", "1ns", "1H", "\u{661}s", "30s\n",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(
                e.starts_with(&format!("discovery_timeout {bad:?}: expected one or more"))
                    && e.contains("e.g. \"30s\"")
                    && !e.contains('\n'),
                "{bad:?}: {e}"
            );
        }
        for zero in ["0", "0s", "0h0m0s", "00ms"] {
            let e = parse(zero).unwrap_err();
            assert!(e.contains("is zero") && e.contains("5m"), "{zero:?}: {e}");
        }
        for long in [
            "25h",
            "24h1ms",
            "1441m",
            "86400001ms",
            "99999999999999999999h",
            "18446744073709551615ms",
        ] {
            let e = parse(long).unwrap_err();
            assert!(
                e.contains("over 24h") && e.contains("bootstrap token"),
                "{long:?}: {e}"
            );
        }
    }

    #[test]
    fn discovery_timeout_from_the_file() {
        let base = format!(
            "api_server = \"10.0.0.1:6443\"\ntoken = \"{TOKEN}\"\nca_cert_hash = \"{HASH}\"\n"
        );
        let (_d, p) = write(&format!("{base}discovery_timeout = \"2m30s\"\n"));
        let j = JoinParams::from_file(&p).unwrap();
        assert_eq!(j.discovery_timeout.unwrap().as_str(), "2m30s");
        let e = file_err(&format!("{base}discovery_timeout = \"5 minutes\"\n"));
        assert!(
            e.contains("join.toml: discovery_timeout \"5 minutes\": expected one or more <whole number><unit>")
                && e.contains("e.g. \"30s\"")
                && !e.contains('\n'),
            "{e}"
        );
        let e = file_err(&format!("{base}discovery_timeout = 30\n"));
        assert!(e.contains("discovery_timeout must be a string"), "{e}");
        let e = file_err(&format!("{base}discovery_timeout = \"48h\"\n"));
        assert!(
            e.contains("join.toml: discovery_timeout \"48h\" is over 24h"),
            "{e}"
        );
    }

    #[test]
    fn api_version_follows_the_minor() {
        let j = JoinParams::new("10.0.0.1:6443".into(), TOKEN.into(), vec![HASH.into()]).unwrap();
        let args = BTreeMap::from([
            ("node-labels".to_string(), "a=b".to_string()),
            ("container-runtime-endpoint".to_string(), "x".to_string()),
        ]);
        let sock = "unix:///var/run/containerd/containerd.sock";
        let v3 = join_configuration("p", KubeMinor(30), sock, &args, &j).unwrap();
        assert!(v3.contains("apiVersion: kubeadm.k8s.io/v1beta3\n"), "{v3}");
        assert!(
            v3.contains("  kubeletExtraArgs:\n    'node-labels': 'a=b'\n"),
            "{v3}"
        );
        let v4 = join_configuration("p", KubeMinor(31), sock, &args, &j).unwrap();
        assert!(v4.contains("apiVersion: kubeadm.k8s.io/v1beta4\n"), "{v4}");
        assert!(
            v4.contains("  kubeletExtraArgs:\n  - name: 'node-labels'\n    value: 'a=b'\n"),
            "{v4}"
        );
        for t in [&v3, &v4] {
            assert!(t.contains(&format!("  criSocket: '{sock}'\n")), "{t}");
            assert!(!t.contains("container-runtime-endpoint"), "{t}");
            assert!(!t.contains("timeout"), "{t}");
            assert_eq!(t.matches(TOKEN).count(), 1);
        }

        // A discovery timeout: `discovery.timeout` in v1beta3, `timeouts.discovery` in
        // v1beta4; nothing else changes.
        let j = JoinParams {
            discovery_timeout: Some(DiscoveryTimeout::parse("k", "90s").unwrap()),
            ..j
        };
        let v3t = join_configuration("p", KubeMinor(30), sock, &args, &j).unwrap();
        let hash_line = format!("    - '{HASH}'\n");
        assert_eq!(
            v3t,
            v3.replace(&hash_line, &format!("{hash_line}  timeout: '90s'\n")),
            "{v3t}"
        );
        let v4t = join_configuration("p", KubeMinor(31), sock, &args, &j).unwrap();
        assert_eq!(v4t, format!("{v4}timeouts:\n  discovery: '90s'\n"));
    }
}
