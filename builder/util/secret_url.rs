//! [`SecretUrl`]: a URL that may carry credentials (`https://user:token@mirror/...` from
//! `--mirror`, `BUILDER_MIRROR` or a profile), the one type such URLs travel in through
//! `fetch`. Printing it (`Display`, `Debug`) hides the userinfo, its host and origin never
//! include it, and only [`SecretUrl::expose`] gives the URL as written: the request calls it,
//! nothing that prints does. The rule for hiding lives here once; `error::redact_urls` applies
//! it to free text (third-party error messages, the manifest).
//!
//! It does not check that a URL is valid (reqwest does, when the request is made).

use std::fmt;

/// What hidden credentials are shown as.
const HIDDEN: &str = "***";

/// A URL that may hold credentials; printed, they show as `user:***@` (or `***@` for a
/// token without a password).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretUrl(String);

/// A URL split around its userinfo: `head` is `scheme://`, `rest` starts at the host.
struct Parts<'a> {
    head: &'a str,
    userinfo: Option<&'a str>,
    rest: &'a str,
}

impl SecretUrl {
    pub fn new(url: impl Into<String>) -> SecretUrl {
        SecretUrl(url.into())
    }

    /// The URL as written, credentials included: for the request itself, never for a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Does the URL carry a user name or password?
    pub fn has_credentials(&self) -> bool {
        parts(&self.0).is_some_and(|p| p.userinfo.is_some())
    }

    /// `host[:port]` as written, without the userinfo; empty for `file:///path` and for what
    /// is not a URL.
    pub fn host(&self) -> &str {
        parts(&self.0).map_or("", |p| {
            p.rest.split(['/', '?', '#']).next().unwrap_or(p.rest)
        })
    }

    /// `scheme://host[:port]/` (default port dropped, no credentials) of an http(s) URL;
    /// `None` for `file://` and for what does not parse.
    pub fn origin(&self) -> Option<String> {
        let u = reqwest::Url::parse(&self.0).ok()?;
        let host = u.host_str()?;
        if !matches!(u.scheme(), "http" | "https") {
            return None;
        }
        Some(match u.port() {
            Some(port) => format!("{}://{host}:{port}/", u.scheme()),
            None => format!("{}://{host}/", u.scheme()),
        })
    }

    /// `scheme://[userinfo@]host[:port]/` as written: the `--mirror` FROM that covers this URL.
    pub fn prefix(&self) -> SecretUrl {
        match parts(&self.0) {
            Some(p) => {
                let end = p.head.len() + p.userinfo.map_or(0, |u| u.len() + 1) + self.host().len();
                SecretUrl(format!("{}/", &self.0[..end]))
            }
            None => self.clone(),
        }
    }

    /// The path of a `file://` URL (what follows `file://` and any userinfo); `None` for
    /// other schemes.
    pub fn file_path(&self) -> Option<&str> {
        let p = parts(&self.0)?;
        p.head.eq_ignore_ascii_case("file://").then_some(p.rest)
    }

    /// Does this URL start with `prefix` (as written)?
    pub fn starts_with(&self, prefix: &SecretUrl) -> bool {
        self.0.starts_with(&prefix.0)
    }

    /// This URL with its leading `from` replaced by `to` (a mirror); `None` if it does not
    /// start with `from`.
    pub fn rebase(&self, from: &SecretUrl, to: &SecretUrl) -> Option<SecretUrl> {
        let rest = self.0.strip_prefix(&from.0)?;
        Some(SecretUrl(format!("{}{rest}", to.0)))
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecretUrl").field(&redact(&self.0)).finish()
    }
}

/// One URL with its userinfo hidden (`user:***@`, `***@`); anything else unchanged.
pub(crate) fn redact(url: &str) -> String {
    let Some(p) = parts(url) else {
        return url.to_string();
    };
    let Some(userinfo) = p.userinfo else {
        return url.to_string();
    };
    let shown = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:{HIDDEN}"),
        None => HIDDEN.to_string(),
    };
    format!("{}{shown}@{}", p.head, p.rest)
}

/// Splits `url` around its userinfo; `None` without `://`. The userinfo is whatever precedes
/// the last '@' before the first '/' (so a '?' or '#' typed into a password stays hidden);
/// where the URL does not parse, whatever precedes the last '@' at all (a '/' typed into a
/// password): over-hiding a broken URL is better than printing part of a secret.
fn parts(url: &str) -> Option<Parts<'_>> {
    let i = url.find("://")?;
    let (head, tail) = url.split_at(i + 3);
    let authority = tail.split('/').next().unwrap_or(tail);
    let at = authority.rfind('@').or_else(|| {
        let broken = tail.contains('@') && reqwest::Url::parse(url).is_err();
        broken.then(|| tail.rfind('@')).flatten()
    });
    Some(match at {
        Some(at) => Parts {
            head,
            userinfo: Some(&tail[..at]),
            rest: &tail[at + 1..],
        },
        None => Parts {
            head,
            userinfo: None,
            rest: tail,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = "https://bob:s3cr3t-PASS@mirror.example:8443/gh/a/x.tgz?v=1";

    #[test]
    fn display_and_debug_hide_the_password() {
        let u = SecretUrl::new(RAW);
        assert_eq!(
            u.to_string(),
            "https://bob:***@mirror.example:8443/gh/a/x.tgz?v=1"
        );
        assert_eq!(
            format!("{u:?}"),
            "SecretUrl(\"https://bob:***@mirror.example:8443/gh/a/x.tgz?v=1\")"
        );
        assert!(!format!("{u} {u:?} {u:#?}").contains("s3cr3t"));
        // The negative control: the same text, unwrapped, shows it.
        assert!(format!("{:?}", RAW).contains("s3cr3t-PASS"));
        assert!(u.expose().contains("s3cr3t-PASS"));
        assert!(u.has_credentials());
    }

    #[test]
    fn tokens_and_encoded_passwords_are_hidden() {
        let token = SecretUrl::new("http://tok3n@127.0.0.1:81/p");
        assert_eq!(token.to_string(), "http://***@127.0.0.1:81/p");
        let encoded = SecretUrl::new("https://bob:s3cr3t%2DPASS%40x@h/p");
        assert_eq!(encoded.to_string(), "https://bob:***@h/p");
        assert_eq!(encoded.host(), "h");
        // Characters that end an authority, typed into a password unencoded.
        let hash = SecretUrl::new("https://bob:pa#ss@h/p");
        assert_eq!(hash.to_string(), "https://bob:***@h/p");
        let slash = SecretUrl::new("https://bob:pa/ss@h/p");
        assert_eq!(slash.to_string(), "https://bob:***@h/p");
        assert_eq!(slash.host(), "h");
    }

    #[test]
    fn hosts_never_hold_credentials() {
        let u = SecretUrl::new(RAW);
        assert_eq!(u.host(), "mirror.example:8443");
        assert_eq!(u.origin().as_deref(), Some("https://mirror.example:8443/"));
        assert_eq!(
            u.prefix().to_string(),
            "https://bob:***@mirror.example:8443/"
        );
        assert_eq!(
            u.prefix().expose(),
            "https://bob:s3cr3t-PASS@mirror.example:8443/"
        );
        let ipv6 = SecretUrl::new("http://u:p@[::1]:8080/x");
        assert_eq!(ipv6.host(), "[::1]:8080");
        assert_eq!(
            SecretUrl::new("https://h:443/x").origin().as_deref(),
            Some("https://h/")
        );
        assert_eq!(SecretUrl::new("not a url").origin(), None);
        assert_eq!(SecretUrl::new("not a url").host(), "");
    }

    #[test]
    fn urls_without_credentials_are_unchanged() {
        for plain in [
            "https://github.com/a/b.tgz",
            "http://127.0.0.1:8080/x?y=1#z",
            "https://h/a@b",
            "https://h/?q=a@b",
            "file:///srv/x.tgz",
            "not a url",
        ] {
            let u = SecretUrl::new(plain);
            assert_eq!(u.to_string(), plain);
            assert_eq!(format!("{u:?}"), format!("SecretUrl({plain:?})"));
            assert!(!u.has_credentials(), "{plain}");
        }
    }

    #[test]
    fn file_urls() {
        let f = SecretUrl::new("file:///srv/mirror/x.tgz");
        assert_eq!(f.file_path(), Some("/srv/mirror/x.tgz"));
        assert_eq!(f.host(), "");
        assert_eq!(f.origin(), None);
        assert_eq!(SecretUrl::new("https://h/x").file_path(), None);
    }

    #[test]
    fn mirrors_rebase_as_written() {
        let from = SecretUrl::new("https://github.com/");
        let to = SecretUrl::new("http://u:pw@m:81/gh/");
        let url = SecretUrl::new("https://github.com/a/x.tgz");
        assert!(url.starts_with(&from));
        let m = url.rebase(&from, &to).unwrap();
        assert_eq!(m.expose(), "http://u:pw@m:81/gh/a/x.tgz");
        assert_eq!(m.to_string(), "http://u:***@m:81/gh/a/x.tgz");
        assert_eq!(url.rebase(&to, &from), None);
    }
}
