//! The validated profile: every value checked, every default filled in, `extends` resolved.
//! What the rest of the program reads; nothing here parses or fetches.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::source::Loc;
use crate::util::digest::Sha256;
use crate::util::model::{Arch, KubeMinor, Runtime};

/// `[containerd]` settings.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerdSettings {
    /// The pause image the CRI plugin pins.
    pub sandbox_image: String,
    /// Use systemd to manage pod cgroups (kubeadm's default cgroup driver since 1.22).
    pub systemd_cgroup: bool,
    /// The registry hosts folder (`hosts.toml` per registry).
    pub config_path: String,
}

/// `[docker]` settings (the cri-dockerd runtime).
#[derive(Debug, Clone, Serialize)]
pub struct DockerSettings {
    /// The pause image cri-dockerd starts pods with.
    pub sandbox_image: String,
    /// Use the systemd cgroup driver.
    pub systemd_cgroup: bool,
    /// json-file log rotation: the size of one file.
    pub log_max_size: String,
    /// json-file log rotation: how many files to keep.
    pub log_max_file: u32,
}

/// `[kubelet]` settings.
#[derive(Debug, Clone, Serialize)]
pub struct KubeletSettings {
    /// Extra kubelet flags, without the leading `--`.
    pub extra_args: BTreeMap<String, String>,
}

/// `[sysext]` settings: the system extension's extension-release fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SysextSettings {
    /// The os-release ID the image matches, or `_any`.
    pub id: String,
    /// The SYSEXT_LEVEL it matches, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sysext_level: Option<String>,
    /// The VERSION_ID it matches, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

impl Default for SysextSettings {
    fn default() -> SysextSettings {
        SysextSettings {
            id: "_any".into(),
            sysext_level: None,
            version_id: None,
        }
    }
}

/// One `install` rule of an artifact.
#[derive(Debug, Clone)]
pub struct InstallRule {
    /// Glob over archive members (`bin/*`); `None` for a bare file.
    pub from: Option<String>,
    /// `from`, compiled; boxed, as most rules have none (a profile can hold 100,000 rules).
    pub matcher: Option<Box<globset::GlobMatcher>>,
    /// Absolute target; a trailing `/` means "into this folder, keeping the member's file name".
    pub to: String,
    pub mode: u32,
    pub loc: Loc,
}

/// A sha256 pin from a profile: for every arch, or per arch.
#[derive(Debug, Clone, Default)]
pub struct Pins {
    pub any: Option<Sha256>,
    pub per_arch: BTreeMap<Arch, Sha256>,
}

/// One upstream artifact to fetch, verify and install.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: String,
    pub version: String,
    /// URL template with `{version}`, `{arch}`, `{uname_arch}`.
    pub url: String,
    pub pins: Pins,
    pub install: Vec<InstallRule>,
    pub loc: Loc,
}

/// What kind of file an artifact's URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    TarGz,
    Tar,
    File,
}

impl Artifact {
    pub fn url_for(&self, arch: Arch) -> String {
        expand_url(&self.url, &self.version, arch)
    }

    /// The last segment of the URL's path (without query or fragment): the installed file's
    /// name when a plain file goes into a folder.
    pub fn url_file_name(&self) -> &str {
        let path = self.url.split(['?', '#']).next().unwrap_or("");
        path.rsplit('/').next().unwrap_or(path)
    }

    pub fn kind(&self) -> ArtifactKind {
        let path = self.url.split(['?', '#']).next().unwrap_or("");
        if path.ends_with(".tar.gz") || path.ends_with(".tgz") {
            ArtifactKind::TarGz
        } else if path.ends_with(".tar") {
            ArtifactKind::Tar
        } else {
            ArtifactKind::File
        }
    }
}

/// A folder under overlays/ copied into the rootfs.
#[derive(Debug, Clone)]
pub struct OverlayRef {
    pub name: String,
    pub loc: Loc,
}

/// A validated, fully merged profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub kubernetes: KubeMinor,
    pub runtime: Runtime,
    pub arches: Vec<Arch>,
    pub overlays: Vec<OverlayRef>,
    pub containerd: ContainerdSettings,
    pub docker: DockerSettings,
    pub kubelet: KubeletSettings,
    /// `[sysext]`, when a file gave the table (`None`: the defaults, and `show` leaves it out).
    pub sysext: Option<SysextSettings>,
    pub artifacts: Vec<Artifact>,
    /// Folders to search for overlays before ./overlays and the built-in ones.
    pub overlay_dirs: Vec<PathBuf>,
    /// Warnings found while validating (printed by the caller).
    pub warnings: Vec<String>,
}

impl Profile {
    pub fn artifact(&self, name: &str) -> Option<&Artifact> {
        self.artifacts.iter().find(|a| a.name == name)
    }
}

pub fn expand_url(template: &str, version: &str, arch: Arch) -> String {
    template
        .replace("{version}", version)
        .replace("{arch}", arch.as_str())
        .replace("{uname_arch}", arch.uname())
}

impl Profile {
    /// The pause image the profile's runtime pins.
    pub fn sandbox_image(&self) -> &str {
        match self.runtime {
            Runtime::Containerd => &self.containerd.sandbox_image,
            Runtime::CriDockerd => &self.docker.sandbox_image,
        }
    }
}
