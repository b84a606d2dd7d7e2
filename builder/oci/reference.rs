//! Image references: `REGISTRY/REPOSITORY[:TAG][@sha256:HEX]` as `push` and `pull` take them,
//! and `oci://REGISTRY/REPOSITORY@sha256:HEX` as `render --overlay-url` takes one. The grammar
//! is the Distribution spec's (lowercase path components, tags of at most 128 word characters);
//! the registry must be named (no implied default registry), and only sha256 digests are taken.

use std::fmt;

use crate::util::digest::Sha256;

/// A parsed reference. At least one of `tag` and `digest` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`, as written.
    pub registry: String,
    /// `path/to/repo`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Sha256>,
}

/// The `oci://` scheme of `--overlay-url` and `--output-cache-url`.
pub const SCHEME: &str = "oci://";

impl Reference {
    /// Parses `REGISTRY/REPO[:TAG][@sha256:HEX]`; `default_tag` is used when neither is given
    /// (`None`: one is required). The error says what is wrong and what a good one looks like.
    pub fn parse(text: &str, default_tag: Option<&str>) -> Result<Reference, String> {
        let bad = |why: &str| {
            format!(
                "{text:?} is not an image reference: {why}; write REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST], \
                 for example registry.example:5000/nodes/containerd:1.36"
            )
        };
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it has spaces or control characters"));
        }
        let (name, digest) = match text.split_once('@') {
            Some((n, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("only sha256 digests are supported"))?;
                let sha = Sha256::parse(hex)
                    .ok_or_else(|| bad("the digest is not sha256: and 64 lowercase hex digits"))?;
                (n, Some(sha))
            }
            None => (text, None),
        };
        let (registry, rest) = name
            .split_once('/')
            .ok_or_else(|| bad("it names no repository"))?;
        if !is_registry(registry) {
            return Err(bad(
                "the first part must be the registry (a host name with a dot or a port, or localhost)",
            ));
        }
        // A ':' after the last '/' starts the tag.
        let (repository, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if !is_repository(repository) {
            return Err(bad(
                "the repository must be lowercase letters, digits and separators (. _ __ -) between /",
            ));
        }
        if let Some(t) = tag {
            if !is_tag(t) {
                return Err(bad("a tag is 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"));
            }
        }
        let tag = tag.map(str::to_string).or_else(|| {
            digest
                .is_none()
                .then(|| default_tag.map(str::to_string))
                .flatten()
        });
        if tag.is_none() && digest.is_none() {
            return Err(bad("it has neither a tag nor a digest"));
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }

    /// Parses `oci://REGISTRY/REPO@sha256:HEX` (a digest is required: what a node installs is
    /// pinned). `None` when `url` is not an `oci://` URL at all.
    pub fn parse_pinned_url(url: &str) -> Option<Result<Reference, String>> {
        let rest = url.strip_prefix(SCHEME)?;
        Some(Reference::parse(rest, None).and_then(|r| match (&r.digest, &r.tag) {
            (Some(_), None) => Ok(r),
            _ => Err(format!(
                "{url:?} is not pinned: an oci:// URL names the artifact by digest, oci://REGISTRY/REPOSITORY@sha256:DIGEST \
                 (`builder push` prints it)"
            )),
        }))
    }

    /// What a manifest request names: the digest when there is one, else the tag.
    pub fn target(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("sha256:{d}"),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The same repository, pinned to `digest` (no tag).
    pub fn pinned(&self, digest: &Sha256) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: None,
            digest: Some(*digest),
        }
    }

    /// The same repository with another tag.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@sha256:{d}")?;
        }
        Ok(())
    }
}

/// `host[:port]`: a host name with a dot or a port, `localhost`, or a bracketed IPv6 address.
fn is_registry(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') => (h, Some(p)),
        _ => (s, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let v6 = host.starts_with('[') && host.ends_with(']') && host.len() > 2;
    let name_ok = !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let qualified = host.contains('.') || port.is_some() || host == "localhost";
    port_ok && (v6 || (name_ok && qualified))
}

/// Path components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`, 255 characters at most.
fn is_repository(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.split('/').all(is_component)
}

fn is_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn good_references() {
        let r = Reference::parse("registry.example:5000/nodes/containerd:1.36", None).unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("registry.example:5000", "nodes/containerd", Some("1.36"))
        );
        assert_eq!(r.to_string(), "registry.example:5000/nodes/containerd:1.36");
        let r = Reference::parse(&format!("localhost/a/b@sha256:{HEX}"), None).unwrap();
        assert_eq!(r.digest.as_ref().unwrap().as_str(), HEX);
        assert_eq!(r.target(), format!("sha256:{HEX}"));
        let r = Reference::parse("127.0.0.1:5000/x", Some("latest")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("latest"));
        let r = Reference::parse("reg.example/a__b/c-d/e.f", Some("t")).unwrap();
        assert_eq!(r.repository, "a__b/c-d/e.f");
        let r = Reference::parse(&format!("reg.example/a:v1@sha256:{HEX}"), None).unwrap();
        assert_eq!(
            (r.tag.as_deref(), r.target()),
            (Some("v1"), format!("sha256:{HEX}"))
        );
    }

    #[test]
    fn bad_references_say_why() {
        for (text, why) in [
            ("nodes/containerd:1", "registry"),
            ("registry.example:5000", "no repository"),
            ("reg.example/Nodes", "lowercase"),
            ("reg.example/a//b:1", "lowercase"),
            ("reg.example/a:-x", "tag"),
            ("reg.example/a@sha512:00", "sha256"),
            ("reg.example/a@sha256:ABC", "64 lowercase"),
            ("reg.example/a b", "spaces"),
            ("reg.example/a", "neither"),
            ("reg.example:99999x/a:1", "registry"),
        ] {
            let e = Reference::parse(text, None).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
            assert!(e.contains("REGISTRY/REPOSITORY"), "{e}");
        }
    }

    #[test]
    fn odd_input_is_refused_without_a_panic() {
        for text in [
            "",
            "/",
            "@",
            ":",
            "a/b@",
            "é.example/ü:1",
            "reg.example/a-é:1",
            "reg.example/:1",
            "reg.example/a:",
            "[::1]:5000/a:1",
            "reg.example/a@sha256:",
            "reg.example/a\u{0}b:1",
            "reg.example:/a:1",
            "reg.example/a__-b:1",
            "reg.example/a..b:1",
            "-reg.example/a:1",
        ] {
            let _ = Reference::parse(text, None);
            let _ = Reference::parse(text, Some("t"));
            let _ = Reference::parse_pinned_url(&format!("oci://{text}"));
        }
        assert!(Reference::parse("[::1]:5000/a:1", None).is_ok());
        assert!(Reference::parse("reg.example/a..b:1", None).is_err());
        assert!(Reference::parse("é.example/a:1", None).is_err());
    }

    #[test]
    fn oci_urls_must_be_pinned() {
        assert!(Reference::parse_pinned_url("https://x/y").is_none());
        let r = Reference::parse_pinned_url(&format!("oci://reg.example:5000/n/c@sha256:{HEX}"))
            .unwrap()
            .unwrap();
        assert_eq!(r.repository, "n/c");
        let e = Reference::parse_pinned_url("oci://reg.example/n/c:1.36")
            .unwrap()
            .unwrap_err();
        assert!(e.contains("not pinned"), "{e}");
    }
}
