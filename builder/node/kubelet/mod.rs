//! The kubelet's files every runtime writes: kubeadm-flags.env with the plan's flags and,
//! from 1.34 (kubeadm's NodeLocalCRISocket), instance-config.yaml naming the CRI socket.

pub mod config;

use anyhow::Result;

use crate::build::install::{Origin, Rootfs};
use crate::profile::plan::Plan;

pub fn render(plan: &Plan, rootfs: &Rootfs) -> Result<()> {
    rootfs.write_bytes(
        "/var/lib/kubelet/kubeadm-flags.env",
        0o644,
        &Origin::Template("kubeadm-flags"),
        config::kubeadm_flags_env(&plan.kubelet_flags).as_bytes(),
    )?;
    if let Some(text) = config::instance_config(plan.profile.kubernetes, plan.cri_socket) {
        rootfs.write_bytes(
            "/var/lib/kubelet/instance-config.yaml",
            0o644,
            &Origin::Template("kubelet-instance-config"),
            text.as_bytes(),
        )?;
    }
    Ok(())
}
