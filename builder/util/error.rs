//! Error kinds that code or exit codes branch on. Everything else travels as `anyhow::Error`
//! with context naming the path or URL involved.

use std::path::PathBuf;

use crate::util::digest::Sha256;
use crate::util::secret_url::redact;

/// Errors with a meaning of their own. Wrapped in `anyhow::Error` as they travel up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The downloaded (or cached) bytes are not the pinned ones.
    #[error(
        "checksum mismatch for artifact {artifact} ({arch}) from {url}: expected sha256 {expected}, got {actual}; \
         the file was not installed. If upstream really re-published it, check the new digest at its source and pin it with `sha256.{arch} = \"<hex>\"` in the profile"
    )]
    ChecksumMismatch {
        artifact: String,
        arch: String,
        url: String,
        expected: Sha256,
        actual: Sha256,
    },
    /// A cache entry no longer has its digest (it was verified when stored): changed on disk
    /// since. Callers drop the entry and fetch it again.
    #[error(
        "the cache entry {path} of artifact {artifact} changed after it was verified (expected sha256 {expected}, read {actual})"
    )]
    CorruptCacheEntry {
        artifact: String,
        path: PathBuf,
        expected: Sha256,
        actual: Sha256,
    },
    /// A fetch failed for good (404, refused, retries used up).
    #[error("{0}")]
    Fetch(String),
    /// The server (or the local folder) has no such file: a 404 or 410. Final, like any
    /// other 4xx; `builder pin` tells a missing checksum file from a failed fetch by it.
    #[error("{0}")]
    Missing(String),
    /// Several files the render needs are missing upstream (404 or 410), all named at once;
    /// [`report`] lists them under the message.
    #[error(
        "{} files are missing upstream (HTTP 404 or 410; listed below) and nothing was installed; \
         check each artifact's url and version in the profile (or the --mirror)",
        files.len()
    )]
    MissingMany {
        /// One line per file: what was fetched, from where, and the server's answer.
        files: Vec<String>,
    },
    /// `--offline` and artifacts are not in the cache: every one the render needs, at once.
    #[error(
        "{} not in the cache at {cache} and --offline forbids fetching {}; \
         warm the cache first with `builder render` on a machine that can reach it (or through --mirror), then copy the cache folder",
        offline_list(missing), if missing.len() == 1 { "it" } else { "them" }
    )]
    OfflineMiss {
        /// `containerd 2.3.4 (amd64) from URL`, in render order.
        missing: Vec<String>,
        cache: PathBuf,
    },
    /// Hosts the render needs do not answer (checked all at once before downloading);
    /// [`report`] follows the message with a ready-to-edit `--mirror` line per prefix.
    #[error(
        "cannot reach {} (every host this render needs was checked at once, --retries {attempts}, --connect-timeout {connect_timeout} s). \
         If this machine cannot reach them, give each a reachable mirror with the --mirror lines below (edit TO, or put the FROM=TO pairs, \
         space-separated, in BUILDER_MIRROR), or use --offline with a cache warmed elsewhere (--cache-dir)",
        unreachable_list(hosts)
    )]
    Unreachable {
        hosts: Vec<Unreachable>,
        attempts: u32,
        connect_timeout: u64,
    },
    /// The profile (or something it names) is wrong; the message carries file, line and column.
    #[error("{0}")]
    Profile(String),
    /// An archive tried to write outside the rootfs or holds a member type never installed.
    #[error("refusing archive {archive} of artifact {artifact}: member {member:?} {why}; nothing from it was installed")]
    UnsafeArchive {
        artifact: String,
        archive: String,
        member: String,
        why: String,
    },
    /// An archive unpacks to more than its bound (bytes or members).
    #[error("refusing archive {archive} of artifact {artifact}: it {what}; nothing from it was installed. \
             If this is a real release that large, raise the bound")]
    ArchiveTooLarge {
        artifact: String,
        archive: String,
        what: String,
    },
    /// Input that is not a profile: kubectl JSON for `detect`, a flag's value.
    #[error("{0}")]
    Input(String),
    /// A state the code does not expect: a bug.
    #[error("internal error: {0}")]
    Internal(String),
}

/// One prefix whose host did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    /// `host[:port]`.
    pub host: String,
    /// The innermost cause (`Connection refused`, a DNS failure).
    pub why: String,
    /// `--mirror FROM=TO`, credentials hidden.
    pub mirror_line: String,
}

/// `a (why), b (why)`: each host once.
/// The artifacts an offline render misses: one inline; several counted ([`report`] lists
/// them under the message).
fn offline_list(missing: &[String]) -> String {
    match missing {
        [one] => format!("artifact {one} is"),
        many => format!("{} artifacts (below) are", many.len()),
    }
}

fn unreachable_list(hosts: &[Unreachable]) -> String {
    let mut seen = Vec::new();
    for h in hosts {
        let item = format!("{} ({})", h.host, h.why);
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen.join(", ")
}

/// The process exit code for an error: 2 for internal errors, 1 for everything the user's
/// input or the outside world got wrong.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<Error>() {
        Some(Error::Internal(_)) => 2,
        _ => 1,
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`, for `file:line:col`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// A message on one line: each line break (with the blanks around it) becomes "; ". Error
/// messages quote third-party text (toml's messages span lines); an error prints as one line.
pub fn one_line(msg: &str) -> String {
    let parts: Vec<&str> = msg
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    parts.join("; ")
}

/// How an error is printed: `error: ` and the whole context chain, on one line, with any
/// credentials in URLs hidden.
pub fn report(err: &anyhow::Error) -> String {
    let mut text = format!("error: {}", redact_urls(&one_line(&format!("{err:#}"))));
    // The errors with more lines: a list under the message, one item per line (the mirror
    // lines to edit, one per prefix; the files missing upstream or from the cache).
    let items: Vec<&str> = match err.downcast_ref::<Error>() {
        Some(Error::Unreachable { hosts, .. }) => {
            hosts.iter().map(|h| h.mirror_line.as_str()).collect()
        }
        Some(Error::MissingMany { files }) => files.iter().map(String::as_str).collect(),
        Some(Error::OfflineMiss { missing, .. }) if missing.len() > 1 => {
            missing.iter().map(String::as_str).collect()
        }
        _ => Vec::new(),
    };
    for item in items {
        text.push_str("\n  ");
        text.push_str(&redact_urls(&one_line(item)));
    }
    text
}

/// `text` with the credentials of every URL in it hidden: `scheme://user:secret@host` becomes
/// `scheme://user:***@host`, and `scheme://token@host` becomes `scheme://***@host` (the rule of
/// [`SecretUrl`](crate::util::secret_url::SecretUrl), applied to each URL in the text). For
/// free text that may quote a URL: error messages from other crates, the manifest and
/// `builder show`. A URL the code holds travels as a `SecretUrl` instead.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // The scheme before "://", and the URL up to whitespace, a quote, a closing paren or
        // the next URL (`FROM=TO`).
        let start = scheme_start(rest, i);
        let mut end = rest[i + 3..]
            .find(|c: char| matches!(c, '"' | '\'' | '`' | ')') || c.is_whitespace())
            .map_or(rest.len(), |j| i + 3 + j);
        if let Some(next) = rest[i + 3..end].find("://") {
            end = scheme_start(rest, i + 3 + next).max(i + 3);
        }
        out.push_str(&rest[..start]);
        out.push_str(&redact(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Where the scheme of the `://` at `sep` in `text` starts.
fn scheme_start(text: &str, sep: usize) -> usize {
    // After the last character that cannot be in a scheme, which may be several bytes long.
    text[..sep]
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .map_or(0, |(j, c)| j + c.len_utf8())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the profile fuzz target: a non-ASCII character right before a second URL's
    /// scheme made the scheme start inside that character (a panic on slicing).
    #[test]
    fn a_multibyte_character_before_a_scheme_is_not_split() {
        let text = "https://rawИithubushttps://u:secret@h/x and Иhttp://t@h";
        let out = redact_urls(text);
        assert_eq!(
            out,
            "https://rawИithubushttps://u:***@h/x and Иhttp://***@h"
        );
    }

    #[test]
    fn positions_count_characters() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("é\nx", 1), (1, 1));
        assert_eq!(line_col("x", 99), (1, 2));
    }

    #[test]
    fn credentials_are_hidden() {
        assert_eq!(
            redact_urls("fetching https://bob:s3cret@mirror.example/x.tgz failed"),
            "fetching https://bob:***@mirror.example/x.tgz failed"
        );
        assert_eq!(
            redact_urls("a http://tok3n@h:8080/p b file:///x (mirror of https://u:p@h)"),
            "a http://***@h:8080/p b file:///x (mirror of https://u:***@h)"
        );
        assert_eq!(
            redact_urls("--mirror https://h/=http://u:pw@m/=x"),
            "--mirror https://h/=http://u:***@m/=x"
        );
        assert_eq!(redact_urls("no url: a@b"), "no url: a@b");
        assert_eq!(redact_urls("https://h/a@b"), "https://h/a@b");
        assert_eq!(
            redact_urls("x (https://u:p%2Dw@h/a?b#c): \"http://t@h\""),
            "x (https://u:***@h/a?b#c): \"http://***@h\""
        );
        let e = anyhow::anyhow!("cannot reach http://u:pw@10.0.0.1/: refused");
        assert!(!report(&e).contains("pw"), "{}", report(&e));
    }

    #[test]
    fn one_line_joins() {
        assert_eq!(one_line("a\n  b\n\nc "), "a; b; c");
        assert_eq!(one_line("plain"), "plain");
        let e = anyhow::anyhow!("inner\nmore").context("outer");
        assert_eq!(report(&e), "error: outer: inner; more");
    }
}
