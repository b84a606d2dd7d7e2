//! The kubelet's files every runtime writes: kubeadm-flags.env with the plan's flags and,
//! from 1.34 (kubeadm's NodeLocalCRISocket), instance-config.yaml naming the CRI socket.

use anyhow::Result;

use crate::install::{Origin, Rootfs};
use crate::plan::Plan;
use crate::templates::kubelet;

pub(super) fn render(plan: &Plan, rootfs: &Rootfs) -> Result<()> {
    rootfs.write_bytes(
        "/var/lib/kubelet/kubeadm-flags.env",
        0o644,
        &Origin::Template("kubeadm-flags"),
        kubelet::kubeadm_flags_env(&plan.kubelet_flags).as_bytes(),
    )?;
    if let Some(text) = kubelet::instance_config(plan.profile.kubernetes, plan.cri_socket) {
        rootfs.write_bytes(
            "/var/lib/kubelet/instance-config.yaml",
            0o644,
            &Origin::Template("kubelet-instance-config"),
            text.as_bytes(),
        )?;
    }
    Ok(())
}
