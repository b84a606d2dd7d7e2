//! The files a containerd node needs beyond the artifacts: config.toml in the pinned
//! release's config version, crictl.yaml, kubeadm-flags.env, and the unit enabled.

use anyhow::Result;

use crate::error::Error;
use crate::install::Rootfs;
use crate::profile::{version_triple, Profile};
use crate::templates::{containerd, crictl, kubelet};

/// kubeadm's name for containerd's CRI socket.
pub const ENDPOINT: &str = "unix:///var/run/containerd/containerd.sock";

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
    let flags = kubelet::flags(
        profile.kubernetes,
        ENDPOINT,
        &profile.containerd.sandbox_image,
        &profile.kubelet.extra_args,
    );
    rootfs.write_bytes(
        "/var/lib/kubelet/kubeadm-flags.env",
        0o644,
        "template:kubeadm-flags",
        kubelet::kubeadm_flags_env(&flags).as_bytes(),
    )?;
    super::enable_unit(rootfs, profile, "containerd.service", "multi-user.target")
}
