//! `manifest.json` (what was built from what) and `SHA256SUMS` (in `sha256sum -c` format).
//!
//! The manifest's digests are [`Recorded`]: a manifest read back (`verify`, `diff`) may have
//! been edited, and a digest that is not one is reported where it is compared, not refused
//! with the file. Its arch and runtime are typed: a manifest naming another is not builder's.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::build::install::{Kind, Rootfs};
use crate::util::digest::{Recorded, Sha256};
use crate::util::model::{Arch, Runtime};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub builder_version: String,
    pub profile: ProfileRef,
    pub kubernetes: String,
    pub runtime: Runtime,
    pub arch: Arch,
    pub source_date_epoch: u64,
    /// sha256 of everything this output was made from (builder version, resolved profile,
    /// overlays/ files, arch, output-changing flags): the up-to-date check compares it.
    /// Empty in a manifest written before it existed.
    #[serde(default)]
    pub input_sha256: Recorded,
    pub artifacts: Vec<ArtifactRef>,
    pub overlay: OverlayRef,
    /// The system extension image (`render --format sysext`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sysext: Option<SysextRef>,
    pub files: Vec<FileRef>,
    /// Documents written beside the manifest from its other content (the SBOMs), by digest.
    /// Empty when read from a manifest written before they existed.
    #[serde(default)]
    pub documents: Vec<DocumentRef>,
}

/// One document about the output (`sbom.spdx.json`, `sbom.cdx.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentRef {
    pub file: String,
    /// `SPDX-2.3` or `CycloneDX-1.6`.
    pub format: String,
    pub sha256: Recorded,
    pub size: u64,
}

/// The system extension image: file, digest and size, and what its extension-release says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SysextRef {
    pub file: String,
    pub sha256: Recorded,
    pub size: u64,
    /// The extension's name: the file is NAME.raw, matching
    /// /usr/lib/extension-release.d/extension-release.NAME (keep the name on the node).
    pub name: String,
    pub version: String,
    /// systemd's spelling (x86-64, arm64).
    pub architecture: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProfileRef {
    pub name: String,
    /// sha256 of the resolved profile as `builder show` prints it.
    pub sha256: Recorded,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArtifactRef {
    pub name: String,
    pub version: String,
    /// The upstream URL, credentials hidden (mirrors do not change it: they cannot change the
    /// bytes either).
    pub url: String,
    pub sha256: Recorded,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OverlayRef {
    pub file: String,
    pub sha256: Recorded,
    pub size: u64,
    /// The one-line `sha256sum -c` file beside it (`overlay.tar.gz.sha256`): what an image
    /// pipeline uploads and checks with the overlay, without the other outputs. Empty when read
    /// from a manifest written before it existed.
    #[serde(default)]
    pub sha256_file: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRef {
    pub path: String,
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Recorded>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// `artifact:NAME`, `template:NAME` or `overlay:NAME`.
    pub source: String,
}

pub fn files_of(rootfs: &Rootfs) -> Vec<FileRef> {
    rootfs
        .entries()
        .iter()
        .map(|(path, e)| match &e.kind {
            Kind::File { size, sha256, .. } => FileRef {
                path: path.clone(),
                mode: format!("{:04o}", e.mode),
                size: Some(*size),
                sha256: Some(sha256.into()),
                link: None,
                source: e.origin.to_string(),
            },
            Kind::Symlink { target } => FileRef {
                path: path.clone(),
                mode: format!("{:04o}", e.mode),
                size: None,
                sha256: None,
                link: Some(target.clone()),
                source: e.origin.to_string(),
            },
        })
        .collect()
}

impl Manifest {
    pub fn to_json(&self) -> Result<String> {
        crate::util::stdout::json_string(self)
    }
}

/// One `sha256sum -c` line (text mode: two spaces).
pub fn sha256_line(name: &str, sha256: &Sha256) -> String {
    format!("{sha256}  {name}\n")
}

/// `sha256sum -c` lines, sorted by file name.
pub fn sha256sums(files: &Sums) -> String {
    files
        .iter()
        .map(|(name, sha)| sha256_line(name, sha))
        .collect()
}

/// SHA256SUMS: file name -> sha256.
pub type Sums = BTreeMap<String, Sha256>;

/// `sha256sum -c` lines as builder writes them: 64 hex, two spaces, a plain file name.
pub fn parse_sums(bytes: &[u8]) -> Result<Sums, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "SHA256SUMS is not UTF-8".to_string())?;
    let mut out = Sums::new();
    for (i, line) in text.lines().enumerate() {
        let bad = || {
            format!(
                "SHA256SUMS line {}: expected \"<64 hex>  <file name>\", got {line:?}",
                i + 1
            )
        };
        let (hex, name) = line.split_once("  ").ok_or_else(bad)?;
        let plain = !name.is_empty() && name != "." && name != ".." && !name.contains('/');
        let (Some(sha256), true) = (Sha256::parse(hex), plain) else {
            return Err(bad());
        };
        if out.insert(name.to_string(), sha256).is_some() {
            return Err(format!("SHA256SUMS lists {name} twice"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_format() {
        let sha = |s: &str| s.repeat(32).parse::<Sha256>().unwrap();
        let m = BTreeMap::from([
            ("overlay.tar.gz".to_string(), sha("ab")),
            ("manifest.json".to_string(), sha("cd")),
        ]);
        let s = sha256sums(&m);
        assert_eq!(
            s,
            format!(
                "{}  manifest.json\n{}  overlay.tar.gz\n",
                "cd".repeat(32),
                "ab".repeat(32)
            )
        );
    }

    #[test]
    fn sums_lines_are_strict() {
        let hex = "ab".repeat(32);
        assert_eq!(
            parse_sums(format!("{hex}  a\n").as_bytes()).unwrap().len(),
            1
        );
        for bad in [
            format!("{hex} a\n"),
            format!("{hex}  ../a\n"),
            format!("{hex}  d/a\n"),
            format!("{}  a\n", "zz".repeat(32)),
            format!("{hex}  a\n{hex}  a\n"),
        ] {
            assert!(parse_sums(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
