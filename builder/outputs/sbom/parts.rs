//! The pieces both SBOMs share: package URLs, identifiers, the time and the serial number,
//! each file's source, and the inventory `check` compares with a manifest.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use sha1::Digest;

use crate::outputs::manifest::{ArtifactRef, FileRef, Manifest};
use crate::util::digest::Recorded;
use crate::util::error::Error;

/// SHA1 (lowercase hex) of each regular file, by its manifest path.
pub type Sha1s = BTreeMap<String, String>;

/// What a document says, in the manifest's terms: the common ground [`check`] compares.
#[derive(Debug, Default)]
pub(super) struct Inventory {
    pub(super) overlay_sha256: Recorded,
    pub(super) artifacts: Vec<Artifact>,
    /// path -> (sha256, the artifact it is contained by)
    pub(super) files: BTreeMap<String, (Recorded, Option<String>)>,
}

#[derive(Debug)]
pub(super) struct Artifact {
    pub(super) name: String,
    pub(super) version: String,
    pub(super) url: String,
    pub(super) sha256: Recorded,
    pub(super) purl: String,
}

impl Inventory {
    /// The first disagreement with `m`; `url` maps the manifest's URL to the document's form.
    pub(super) fn compare(&self, m: &Manifest, url: impl Fn(&str) -> String) -> Result<(), String> {
        if self.overlay_sha256 != m.overlay.sha256 {
            return Err(format!(
                "the overlay's sha256 is {:?}, the manifest's is {}",
                self.overlay_sha256, m.overlay.sha256
            ));
        }
        for a in &m.artifacts {
            let Some(d) = self.artifacts.iter().find(|d| d.name == a.name) else {
                return Err(format!("artifact {:?} is missing", a.name));
            };
            let expected = [
                ("version", a.version.clone(), &d.version),
                ("URL", url(&a.url), &d.url),
                ("sha256", a.sha256.to_string(), &d.sha256.to_string()),
                ("purl", purl(a), &d.purl),
            ];
            for (what, want, got) in expected {
                if &want != got {
                    return Err(format!(
                        "artifact {:?}: {what} is {got:?}, the manifest's is {want:?}",
                        a.name
                    ));
                }
            }
        }
        if let Some(extra) = self
            .artifacts
            .iter()
            .find(|d| !m.artifacts.iter().any(|a| a.name == d.name))
        {
            return Err(format!("artifact {:?} is not in the manifest", extra.name));
        }
        let mut left = self.files.clone();
        for f in regular_files(m) {
            let Some((sha256, parent)) = left.remove(&f.path) else {
                return Err(format!("file {} is missing", f.path));
            };
            if Some(&sha256) != f.sha256.as_ref() {
                return Err(format!(
                    "file {}: sha256 is {sha256:?}, the manifest's is {}",
                    f.path,
                    f.sha256.as_ref().map_or("", Recorded::as_str)
                ));
            }
            let want = match Source::of(&f.source) {
                Source::Artifact(name) => Some(name.to_string()),
                _ => None,
            };
            if parent != want {
                return Err(format!(
                    "file {}: contained by artifact {parent:?}, the manifest's source is {}",
                    f.path, f.source
                ));
            }
        }
        match left.keys().next() {
            Some(extra) => Err(format!("file {extra} is not in the manifest")),
            None => Ok(()),
        }
    }
}

/// Where a file came from, from the manifest's `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source<'a> {
    Artifact(&'a str),
    Template(&'a str),
    Overlay(&'a str),
    /// Anything else (a manifest written by a newer builder).
    Other,
}

impl<'a> Source<'a> {
    pub(super) fn of(source: &'a str) -> Source<'a> {
        match source.split_once(':') {
            Some(("artifact", n)) => Source::Artifact(n),
            Some(("template", n)) => Source::Template(n),
            Some(("overlay", n)) => Source::Overlay(n),
            _ => Source::Other,
        }
    }
}

/// What the overlay is, in words (both documents' description of it).
pub(super) fn overlay_description(m: &Manifest) -> String {
    format!(
        "The node rootfs overlay rendered by builder from profile {} (Kubernetes {}, {}, {})",
        m.profile.name, m.kubernetes, m.runtime, m.arch
    )
}

/// What the profile's digest is of, in words.
pub(super) fn profile_description(m: &Manifest) -> String {
    format!(
        "The resolved profile: sha256 of `builder show --profile {}`",
        m.profile.name
    )
}

/// The manifest's regular files (those with a digest), in manifest order.
pub(super) fn regular_files(m: &Manifest) -> impl Iterator<Item = &FileRef> {
    m.files.iter().filter(|f| f.sha256.is_some())
}

/// The SHA1 of a regular file, which the caller must have computed.
pub(super) fn sha1_of<'a>(sha1s: &'a Sha1s, path: &str) -> Result<&'a str> {
    sha1s.get(path).map(String::as_str).ok_or_else(|| {
        Error::Internal(format!("no SHA1 computed for {path} (needed by the SBOM)")).into()
    })
}

/// The package URL of an artifact, from its URL: `pkg:github/OWNER/REPO@TAG` for a GitHub
/// release download (`#PATH` for a file of the repository at a tag), otherwise
/// `pkg:generic/NAME@VERSION?download_url=URL`.
pub fn purl(a: &ArtifactRef) -> String {
    github_purl(&a.url).unwrap_or_else(|| {
        let name = if a.name.is_empty() {
            "artifact"
        } else {
            &a.name
        };
        let mut p = format!("pkg:generic/{}", percent(name));
        if !a.version.is_empty() {
            p.push('@');
            p.push_str(&percent(&a.version));
        }
        p.push_str("?download_url=");
        p.push_str(&percent(&a.url));
        p
    })
}

/// `pkg:github/...` for `https://github.com/O/R/releases/download/TAG/FILE` and
/// `https://raw.githubusercontent.com/O/R/REF/PATH`; None for anything else.
fn github_purl(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let (host, path) = rest.split_once('/')?;
    if path.contains(['?', '#']) {
        return None;
    }
    let parts: Vec<&str> = path.split('/').collect();
    let ok = |s: &str| !s.is_empty() && s != "." && s != "..";
    let (owner, repo, tag, subpath) = match (host, parts.as_slice()) {
        ("github.com", [o, r, "releases", "download", t, file]) if ok(file) => (*o, *r, *t, None),
        ("raw.githubusercontent.com", [o, r, t, sub @ ..]) if !sub.is_empty() => {
            (*o, *r, *t, Some(sub))
        }
        _ => return None,
    };
    if ![owner, repo, tag].into_iter().all(ok) || !subpath.is_none_or(|s| s.iter().all(|p| ok(p))) {
        return None;
    }
    let mut p = format!(
        "pkg:github/{}/{}@{}",
        percent(&owner.to_lowercase()),
        percent(&repo.to_lowercase()),
        percent(tag)
    );
    if let Some(sub) = subpath {
        p.push('#');
        p.push_str(&sub.iter().map(|s| percent(s)).collect::<Vec<_>>().join("/"));
    }
    Some(p)
}

/// Percent-encodes every byte but the unreserved ones (RFC 3986: `A-Za-z0-9-._~`).
fn percent(s: &str) -> String {
    encode(s, |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// A URL made a valid URI reference: bytes no URI may hold (space, controls, `"<>\^`{|}`,
/// non-ASCII) percent-encoded, everything else kept.
pub(super) fn uri_escape(s: &str) -> String {
    encode(s, |b| b.is_ascii_graphic() && !b"\"<>\\^`{|}".contains(&b))
}

fn encode(s: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `SOURCE_DATE_EPOCH` as RFC 3339 UTC (`1970-01-01T00:00:00Z`); an error past year 9999.
pub fn timestamp(epoch: u64) -> Result<String> {
    let days = epoch / 86_400;
    let secs = epoch % 86_400;
    // Howard Hinnant's days-to-civil, for days since 1970-01-01 (never negative here).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    if year > 9999 {
        return Err(Error::Input(format!(
            "SOURCE_DATE_EPOCH {epoch} is after the year 9999, which SBOM timestamps cannot \
             express; set it to a time before that"
        ))
        .into());
    }
    Ok(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    ))
}

/// A UUID (RFC 9562 version 8: custom) from the first 16 bytes of a hex digest, as
/// `urn:uuid:...`; the same digest always gives the same one.
pub fn uuid_urn(sha256_hex: &str) -> String {
    // A digest from a manifest may be anything: hash it again when it is not 32 bytes of hex.
    let mut bytes = [0u8; 16];
    let parsed: Option<Vec<u8>> = (sha256_hex.len() >= 32)
        .then(|| {
            (0..16)
                .map(|i| u8::from_str_radix(sha256_hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect()
        })
        .flatten();
    let src = parsed.unwrap_or_else(|| sha2::Sha256::digest(sha256_hex.as_bytes())[..16].to_vec());
    bytes.copy_from_slice(&src[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = crate::util::digest::hex(&bytes);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Unique identifiers made from arbitrary text: `PREFIX` + the text with every character but
/// `[A-Za-z0-9.-]` turned into `-`, and `-2`, `-3`... when taken.
#[derive(Default)]
pub(super) struct Ids {
    used: BTreeSet<String>,
}

impl Ids {
    pub(super) fn take(&mut self, prefix: &str, raw: &str) -> String {
        let clean: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let base = format!("{prefix}{}", clean.trim_matches('-'));
        let mut id = base.clone();
        let mut n = 2;
        while !self.used.insert(id.clone()) {
            id = format!("{base}-{n}");
            n += 1;
        }
        id
    }
}
