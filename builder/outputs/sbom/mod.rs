//! SBOMs of one arch's output: `sbom.spdx.json` (SPDX 2.3) and `sbom.cdx.json` (CycloneDX 1.6),
//! both built from the manifest (plus each file's SHA1, which SPDX requires and the manifest does
//! not hold), deterministically: identifiers from the overlay's digest, time from
//! `SOURCE_DATE_EPOCH`. [`check`] reads both back and names the first disagreement with a
//! manifest. It does not write files (`render` does) nor read the rootfs: [`sha1s`] takes the SHA1s the rootfs ledger recorded.
//!
//! What both say: the overlay is the subject (SPDX: the described package; CycloneDX:
//! `metadata.component`); each artifact is a package/component with its version, upstream URL,
//! sha256 and purl; the profile is one more, with its digest; each regular file of the manifest
//! is a file with SHA256 and SHA1. Symlinks are left out: neither format has a checksum for a
//! link, and manifest.json lists them with their targets. Files installed from an artifact are
//! CONTAINED_BY its package (CycloneDX: nested in its component); generated files
//! (`template:`) are GENERATED_FROM the profile; files copied from an overlay tree
//! (`overlay:`) are only contained by the overlay (the profile's digest does not cover their
//! bytes). The `source` is kept on every file (SPDX `comment`, CycloneDX property
//! `builder:source`).

mod cyclonedx;
mod parts;
mod spdx;
#[cfg(test)]
mod tests;

use std::fmt;

use anyhow::Result;

use crate::build::install::{Kind, Rootfs};
use crate::util::error::Error;

use crate::outputs::layout::{SBOM_CYCLONEDX, SBOM_SPDX};
use crate::outputs::manifest::Manifest;
pub use parts::{purl, timestamp, uuid_urn, Sha1s};
use parts::{regular_files, uri_escape};

/// The SPDX document's `format` in manifest.json.
pub const SPDX_FORMAT: &str = "SPDX-2.3";
/// The CycloneDX document's `format` in manifest.json.
pub const CYCLONEDX_FORMAT: &str = "CycloneDX-1.6";

/// Both documents' bytes.
pub struct Documents {
    pub spdx: Vec<u8>,
    pub cyclonedx: Vec<u8>,
}

impl Documents {
    /// Each document's file name, format and bytes.
    pub fn files(&self) -> [(&'static str, &'static str, &[u8]); 2] {
        [
            (SBOM_SPDX, SPDX_FORMAT, &self.spdx),
            (SBOM_CYCLONEDX, CYCLONEDX_FORMAT, &self.cyclonedx),
        ]
    }
}

/// Both SBOMs of `manifest`; `sha1s` must hold every regular file's SHA1 ([`sha1s`]).
pub fn documents(manifest: &Manifest, sha1s: &Sha1s) -> Result<Documents> {
    Ok(Documents {
        spdx: spdx::document(manifest, sha1s)?,
        cyclonedx: cyclonedx::document(manifest, sha1s)?,
    })
}

/// SHA1 of every regular file of the manifest, as the rootfs ledger recorded it when the file
/// was written (no file is read again).
pub fn sha1s(rootfs: &Rootfs, manifest: &Manifest) -> Result<Sha1s> {
    let entries = rootfs.entries();
    regular_files(manifest)
        .map(|f| match entries.get(&f.path).map(|e| &e.kind) {
            Some(Kind::File { sha1, .. }) => Ok((f.path.clone(), crate::util::digest::hex(sha1))),
            _ => Err(
                Error::Internal(format!("{} is in the manifest, not in the rootfs", f.path)).into(),
            ),
        })
        .collect()
}

/// The first way an SBOM disagrees with the manifest it should describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// [`SBOM_SPDX`] or [`SBOM_CYCLONEDX`].
    pub document: &'static str,
    pub what: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.document, self.what)
    }
}

impl std::error::Error for Mismatch {}

/// Parses both documents and checks them against `manifest`: the overlay's digest, every
/// artifact (version, URL, sha256, purl, none extra) and every regular file (sha256, the
/// artifact it came from, none extra). SHA1s are not checked: the manifest has none.
pub fn check(manifest: &Manifest, spdx: &[u8], cyclonedx: &[u8]) -> Result<(), Mismatch> {
    let err = |document| move |what| Mismatch { document, what };
    spdx::inventory(spdx)
        .and_then(|inv| inv.compare(manifest, spdx::download_location))
        .map_err(err(SBOM_SPDX))?;
    cyclonedx::inventory(cyclonedx)
        .and_then(|inv| inv.compare(manifest, uri_escape))
        .map_err(err(SBOM_CYCLONEDX))
}
