//! The kubelet's files every runtime writes: kubeadm-flags.env for the Kubernetes minor and,
//! from 1.34 (kubeadm's NodeLocalCRISocket), instance-config.yaml naming the CRI socket.

use anyhow::Result;

use crate::install::Rootfs;
use crate::profile::Profile;
use crate::templates::kubelet;

pub fn render(
    profile: &Profile,
    rootfs: &mut Rootfs,
    endpoint: &str,
    sandbox_image: &str,
) -> Result<()> {
    let flags = kubelet::flags(
        profile.kubernetes,
        endpoint,
        sandbox_image,
        &profile.kubelet.extra_args,
    );
    rootfs.write_bytes(
        "/var/lib/kubelet/kubeadm-flags.env",
        0o644,
        "template:kubeadm-flags",
        kubelet::kubeadm_flags_env(&flags).as_bytes(),
    )?;
    if let Some(text) = kubelet::instance_config(profile.kubernetes, endpoint) {
        rootfs.write_bytes(
            "/var/lib/kubelet/instance-config.yaml",
            0o644,
            "template:kubelet-instance-config",
            text.as_bytes(),
        )?;
    }
    Ok(())
}
