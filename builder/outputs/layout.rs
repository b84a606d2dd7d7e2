//! The names of the files in an arch folder (`OUT/<profile>/<arch>/`), in one place: what a
//! render writes there and what `verify`, `diff` and the up-to-date check look for. The
//! constants are for where only a name is needed (SHA256SUMS lines, the summary, the output
//! cache, which keeps some of these files under the same names); [`ArchDir`] gives paths.
//!
//! Names only: what the files hold is their modules' (`manifest`, `sbom`, `provenance`,
//! `sign`, `sysext`, `crate::bootstrap`), and the output cache's own layout is `render`'s.

use std::path::{Path, PathBuf};

use crate::util::model::Compression;

/// What the output was made from, file by file, with digests.
pub const MANIFEST: &str = "manifest.json";
/// `sha256sum -c` lines for every file but itself and its signatures.
pub const SUMS: &str = "SHA256SUMS";
/// The signature over SHA256SUMS by a minisign key.
pub const SUMS_MINISIG: &str = "SHA256SUMS.minisig";
/// The signature over SHA256SUMS by an OpenSSH key (SSHSIG).
pub const SUMS_SSHSIG: &str = "SHA256SUMS.sig";
/// The cloud-init user-data (0600: it may hold the join token).
pub const USER_DATA: &str = "user-data";
/// The cloud-init meta-data (the instance id).
pub const META_DATA: &str = "meta-data";
/// The overlay unpacked: a folder, not listed in SHA256SUMS.
pub const ROOTFS: &str = "rootfs";
/// The SPDX 2.3 SBOM.
pub const SBOM_SPDX: &str = "sbom.spdx.json";
/// The CycloneDX 1.6 SBOM.
pub const SBOM_CYCLONEDX: &str = "sbom.cdx.json";
/// The in-toto provenance statement.
pub const PROVENANCE: &str = "provenance.intoto.json";
/// The Ignition config of `--format sysext`.
pub const IGNITION: &str = "ignition.json";
/// Its Butane twin.
pub const BUTANE: &str = "butane.yaml";

/// The node's launch configuration: what a cloud or a config drive hands a new node, not part
/// of the image. These stay out of a registry artifact (they may hold a join token), so a
/// folder pulled back (`builder pull`) lacks them and `verify` allows that.
pub const LAUNCH: [&str; 4] = [USER_DATA, META_DATA, IGNITION, BUTANE];

/// The overlay archive's name.
pub fn overlay(compression: Compression) -> &'static str {
    match compression {
        Compression::Gzip => "overlay.tar.gz",
        Compression::Zstd => "overlay.tar.zst",
    }
}

/// The one-line `sha256sum -c` file published beside the overlay.
pub fn overlay_sums(compression: Compression) -> &'static str {
    match compression {
        Compression::Gzip => "overlay.tar.gz.sha256",
        Compression::Zstd => "overlay.tar.zst.sha256",
    }
}

/// The system extension image of the extension `name` (NAME.raw, as systemd-sysext wants it).
pub fn sysext_image(name: &str) -> String {
    format!("{name}.raw")
}

/// Is `name` a file SHA256SUMS does not list by design: itself, or a signature over it?
pub fn is_sums_or_signature(name: &str) -> bool {
    name == SUMS || name.strip_prefix(SUMS).is_some_and(|r| r.starts_with('.'))
}

/// One arch folder, or a folder that holds some of its files under their names (an output
/// cache entry, a staging folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchDir {
    path: PathBuf,
}

impl ArchDir {
    pub fn new(path: impl Into<PathBuf>) -> ArchDir {
        ArchDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A file of it by name: one of the names above, or one a manifest or SHA256SUMS gives.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn manifest(&self) -> PathBuf {
        self.file(MANIFEST)
    }

    pub fn sums(&self) -> PathBuf {
        self.file(SUMS)
    }

    pub fn user_data(&self) -> PathBuf {
        self.file(USER_DATA)
    }

    pub fn meta_data(&self) -> PathBuf {
        self.file(META_DATA)
    }

    pub fn rootfs(&self) -> PathBuf {
        self.file(ROOTFS)
    }

    pub fn overlay(&self, compression: Compression) -> PathBuf {
        self.file(overlay(compression))
    }

    pub fn overlay_sums(&self, compression: Compression) -> PathBuf {
        self.file(overlay_sums(compression))
    }

    pub fn sbom_spdx(&self) -> PathBuf {
        self.file(SBOM_SPDX)
    }

    pub fn sbom_cyclonedx(&self) -> PathBuf {
        self.file(SBOM_CYCLONEDX)
    }

    pub fn provenance(&self) -> PathBuf {
        self.file(PROVENANCE)
    }

    pub fn ignition(&self) -> PathBuf {
        self.file(IGNITION)
    }

    pub fn butane(&self) -> PathBuf {
        self.file(BUTANE)
    }

    /// Does it hold an output: a SHA256SUMS or a manifest.json file?
    pub fn holds_output(&self) -> bool {
        self.sums().is_file() || self.manifest().is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are part of the output format (README, scripts, image pipelines): spelled
    /// here again, independently.
    #[test]
    fn the_names_of_an_arch_folder() {
        let d = ArchDir::new("out/p/amd64");
        let name = |p: PathBuf| {
            assert_eq!(p.parent(), Some(Path::new("out/p/amd64")));
            p.file_name().unwrap().to_string_lossy().into_owned()
        };
        let (gz, zst) = (Compression::Gzip, Compression::Zstd);
        assert_eq!(
            [
                d.manifest(),
                d.sums(),
                d.user_data(),
                d.meta_data(),
                d.rootfs(),
                d.overlay(gz),
                d.overlay_sums(gz),
                d.overlay(zst),
                d.overlay_sums(zst),
                d.sbom_spdx(),
                d.sbom_cyclonedx(),
                d.provenance(),
                d.ignition(),
                d.butane(),
                d.file(SUMS_MINISIG),
                d.file(SUMS_SSHSIG),
            ]
            .map(name),
            [
                "manifest.json",
                "SHA256SUMS",
                "user-data",
                "meta-data",
                "rootfs",
                "overlay.tar.gz",
                "overlay.tar.gz.sha256",
                "overlay.tar.zst",
                "overlay.tar.zst.sha256",
                "sbom.spdx.json",
                "sbom.cdx.json",
                "provenance.intoto.json",
                "ignition.json",
                "butane.yaml",
                "SHA256SUMS.minisig",
                "SHA256SUMS.sig",
            ]
        );
        assert_eq!(sysext_image("p-2.3.4-amd64"), "p-2.3.4-amd64.raw");
    }

    #[test]
    fn sums_and_signatures_are_told_apart() {
        for n in ["SHA256SUMS", "SHA256SUMS.minisig", "SHA256SUMS.sig"] {
            assert!(is_sums_or_signature(n), "{n}");
        }
        for n in [
            "SHA256SUMSX",
            "manifest.json",
            "overlay.tar.gz.sha256",
            "x.SHA256SUMS",
        ] {
            assert!(!is_sums_or_signature(n), "{n}");
        }
    }

    #[test]
    fn an_output_is_a_folder_with_sums_or_a_manifest() {
        let t = tempfile::tempdir().unwrap();
        let d = ArchDir::new(t.path());
        assert!(!d.holds_output());
        std::fs::create_dir(d.manifest()).unwrap();
        assert!(!d.holds_output(), "a folder named manifest.json is not one");
        std::fs::write(d.sums(), "").unwrap();
        assert!(d.holds_output());
    }
}
