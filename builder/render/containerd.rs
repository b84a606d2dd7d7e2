//! The files a containerd node needs beyond the artifacts: config.toml in the pinned
//! release's config version, crictl.yaml, the kubelet's files, and the unit enabled.

use anyhow::Result;

use crate::error::Error;
use crate::install::{Origin, Rootfs};
use crate::model::version_triple;
use crate::plan::Plan;
use crate::templates::{containerd, crictl};

pub(super) fn render(plan: &Plan, rootfs: &Rootfs) -> Result<()> {
    let profile = &plan.profile;
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
        &Origin::Template("containerd-config"),
        containerd::config_toml(&profile.name, version, &profile.containerd).as_bytes(),
    )?;
    rootfs.write_bytes(
        "/etc/crictl.yaml",
        0o644,
        &Origin::Template("crictl"),
        crictl::crictl_yaml(&profile.name, plan.cri_socket).as_bytes(),
    )?;
    super::kubelet::render(plan, rootfs)?;
    super::systemd::require_file(rootfs, profile, "/usr/local/bin/containerd", "containerd")?;
    super::systemd::enable_units(rootfs, profile, plan.units)
}
