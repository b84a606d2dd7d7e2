//! The files a containerd node needs beyond the artifacts: config.toml in the pinned
//! release's config version, crictl.yaml, the kubelet's files, and the unit enabled.

pub mod config;

use anyhow::Result;

use crate::build::install::{Origin, Rootfs};
use crate::node::crictl;
use crate::profile::plan::Plan;
use crate::util::error::Error;
use crate::util::model::version_triple;
use config as containerd;

pub fn render(plan: &Plan, rootfs: &Rootfs) -> Result<()> {
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
