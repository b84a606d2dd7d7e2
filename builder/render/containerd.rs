//! The files a containerd node needs beyond the artifacts: config.toml in the pinned
//! release's config version, crictl.yaml, the kubelet's files, and the unit enabled.

use anyhow::Result;

use crate::error::Error;
use crate::install::Rootfs;
use crate::profile::{version_triple, Profile};
use crate::templates::{containerd, crictl};

/// kubeadm's name for containerd's CRI socket.
pub const ENDPOINT: &str = "unix:///var/run/containerd/containerd.sock";

/// Units to enable and start, in order.
pub const UNITS: &[&str] = &["containerd.service"];

pub fn render(profile: &Profile, rootfs: &mut Rootfs) -> Result<()> {
    let release = profile.artifact("containerd").ok_or_else(|| {
        Error::Profile(format!(
            "profile {}: a containerd profile needs an [[artifact]] named \"containerd\" (its version picks the config format)",
            profile.name
        ))
    })?;
    let version = containerd::config_version(version_triple(&release.version));
    rootfs.write_bytes(
        "/etc/containerd/config.toml",
        0o644,
        "template:containerd-config",
        containerd::config_toml(&profile.name, version, &profile.containerd).as_bytes(),
    )?;
    rootfs.write_bytes(
        "/etc/crictl.yaml",
        0o644,
        "template:crictl",
        crictl::crictl_yaml(&profile.name, ENDPOINT).as_bytes(),
    )?;
    super::kubelet::render(profile, rootfs, ENDPOINT, &profile.containerd.sandbox_image)?;
    super::require_file(rootfs, profile, "/usr/local/bin/containerd", "containerd")?;
    super::enable_unit(rootfs, profile, "containerd.service", "multi-user.target")
}
