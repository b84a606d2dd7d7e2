//! What a render produced, per arch: the paths, sizes and digests of the output files and the
//! artifacts installed. It is the document `builder render --output json` prints
//! (`schema_version` 1, README "render --output json"), so CI reads it instead of scraping
//! stderr. It does not build anything (see `render`) or print (the command line does).

use std::path::Path;

use serde::Serialize;

use crate::outputs::manifest::{ArtifactRef, ProfileRef};
use crate::util::digest::Sha256;

/// Bumped when a field is removed, renamed or changes meaning; adding a field keeps it.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole render. Field order is the order written.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub schema_version: u32,
    pub builder_version: String,
    pub profile: ProfileRef,
    pub kubernetes: String,
    pub runtime: String,
    /// The `warning:` lines the render printed on stderr about the profile.
    pub warnings: Vec<String>,
    /// In the order rendered (the profile's `arch` order, or the `--arch` order).
    pub arches: Vec<ArchOutput>,
}

/// One arch's output folder.
#[derive(Debug, Serialize)]
pub struct ArchOutput {
    pub arch: String,
    /// What this run did for the arch: built it, reused it from the output cache, or found
    /// it up to date in OUT.
    pub outcome: Outcome,
    /// OUT/<profile>/<arch>, as `--out` was given (relative when it was).
    pub dir: String,
    pub rootfs: String,
    pub overlay: OutputFile,
    pub manifest: OutputFile,
    pub user_data: OutputFile,
    pub meta_data: OutputFile,
    pub sha256sums: OutputFile,
    /// `sbom.spdx.json` (SPDX 2.3) and `sbom.cdx.json` (CycloneDX 1.6).
    pub sbom_spdx: OutputFile,
    pub sbom_cyclonedx: OutputFile,
    /// provenance.intoto.json (in-toto Statement v1, SLSA Provenance v1).
    pub provenance: OutputFile,
    /// SHA256SUMS.minisig or SHA256SUMS.sig with `--sign-key`; `null` without.
    pub signature: Option<OutputFile>,
    /// As in manifest.json: profile order.
    pub artifacts: Vec<ArtifactRef>,
}

/// What a render did for one arch (`outcome` in `--output json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Fetched (or taken from the download cache), installed and packed.
    Built,
    /// Its overlay and rootfs came from the output cache (an earlier render of the same
    /// inputs), the rest was written again.
    Reused,
    /// OUT already held it, unchanged: nothing was written.
    UpToDate,
}

/// One file of the output folder.
#[derive(Debug, Serialize)]
pub struct OutputFile {
    pub path: String,
    pub sha256: Sha256,
    pub size: u64,
    /// The file's name in the arch folder (paths are rebuilt from it when the folder moves).
    #[serde(skip)]
    name: &'static str,
}

impl OutputFile {
    pub fn new(dir: &Path, name: &'static str, sha256: Sha256, size: u64) -> OutputFile {
        OutputFile {
            path: path_text(&dir.join(name)),
            sha256,
            size,
            name,
        }
    }

    /// The file's name in its arch folder.
    pub fn path_name(&self) -> &'static str {
        self.name
    }
}

/// A path as JSON text (a non-UTF-8 byte shows as U+FFFD).
pub(super) fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_under_the_folder_given_and_fields_in_order() {
        let staged = Path::new("dist/p/amd64");
        let sha256: Sha256 = "ab".repeat(32).parse().unwrap();
        let f = |n| OutputFile::new(staged, n, sha256, 7);
        let out = ArchOutput {
            arch: "amd64".into(),
            outcome: Outcome::UpToDate,
            dir: path_text(staged),
            rootfs: path_text(&staged.join("rootfs")),
            overlay: f("overlay.tar.gz"),
            manifest: f("manifest.json"),
            user_data: f("user-data"),
            meta_data: f("meta-data"),
            sha256sums: f("SHA256SUMS"),
            provenance: f("provenance.intoto.json"),
            sbom_spdx: f("sbom.spdx.json"),
            sbom_cyclonedx: f("sbom.cdx.json"),
            signature: Some(f("SHA256SUMS.minisig")),
            artifacts: Vec::new(),
        };
        let json = serde_json::to_string(&out).unwrap();
        assert_eq!(out.overlay.path, "dist/p/amd64/overlay.tar.gz");
        assert_eq!(out.sha256sums.path, "dist/p/amd64/SHA256SUMS");
        assert_eq!(out.sbom_cyclonedx.path, "dist/p/amd64/sbom.cdx.json");
        assert_eq!(
            out.signature.as_ref().unwrap().path,
            "dist/p/amd64/SHA256SUMS.minisig"
        );
        assert_eq!(out.rootfs, "dist/p/amd64/rootfs");
        assert_eq!(out.manifest.sha256, sha256);
        assert!(
            json.contains(&format!("\"sha256\":\"{}\"", "ab".repeat(32))),
            "{json}"
        );
        // Field order is part of the format.
        let keys: Vec<&str> = [
            "\"arch\"",
            "\"dir\"",
            "\"rootfs\"",
            "\"overlay\"",
            "\"manifest\"",
            "\"user_data\"",
            "\"meta_data\"",
            "\"sha256sums\"",
            "\"sbom_spdx\"",
            "\"sbom_cyclonedx\"",
            "\"provenance\"",
            "\"signature\"",
            "\"artifacts\"",
        ]
        .into_iter()
        .collect();
        let at: Vec<usize> = keys.iter().map(|k| json.find(k).unwrap()).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{json}");
    }
}
