//! The files a Docker Engine + cri-dockerd node needs beyond the artifacts: daemon.json,
//! drop-ins adapting the verified upstream units, the docker group, containerd's config (CRI
//! off), crictl.yaml and the kubelet's files pointing at cri-dockerd, and the units enabled.

use anyhow::Result;

use crate::install::Rootfs;
use crate::profile::Profile;
use crate::templates::{crictl, docker};

pub use crate::templates::docker::CRI_SOCKET as ENDPOINT;

/// Units to enable and start, in order: sockets before the services they activate.
pub const UNITS: &[&str] = &[
    "containerd.service",
    "docker.socket",
    "docker.service",
    "cri-docker.socket",
    "cri-docker.service",
];

pub fn render(profile: &Profile, rootfs: &mut Rootfs) -> Result<()> {
    let name = &profile.name;
    for (path, what) in [
        (
            "/usr/local/bin/dockerd",
            "Docker Engine (the static docker-V.tgz bundle)",
        ),
        (
            "/usr/local/bin/containerd",
            "containerd (part of the static Docker bundle)",
        ),
        ("/usr/local/bin/cri-dockerd", "cri-dockerd"),
    ] {
        super::require_file(rootfs, profile, path, what)?;
    }
    rootfs.write_bytes(
        "/etc/docker/daemon.json",
        0o644,
        "template:docker-daemon-json",
        docker::daemon_json(&profile.docker).as_bytes(),
    )?;
    rootfs.write_bytes(
        "/etc/systemd/system/docker.service.d/10-builder.conf",
        0o644,
        "template:docker-dropin",
        docker::docker_dropin(name).as_bytes(),
    )?;
    rootfs.write_bytes(
        "/etc/systemd/system/cri-docker.service.d/10-builder.conf",
        0o644,
        "template:cri-docker-dropin",
        docker::cri_docker_dropin(name, &profile.docker.sandbox_image).as_bytes(),
    )?;
    rootfs.write_bytes(
        "/etc/sysusers.d/docker.conf",
        0o644,
        "template:sysusers-docker",
        docker::sysusers(name).as_bytes(),
    )?;
    rootfs.write_bytes(
        "/etc/containerd/config.toml",
        0o644,
        "template:containerd-config",
        docker::containerd_config(name).as_bytes(),
    )?;
    rootfs.write_bytes(
        "/etc/crictl.yaml",
        0o644,
        "template:crictl",
        crictl::crictl_yaml(name, ENDPOINT).as_bytes(),
    )?;
    super::kubelet::render(profile, rootfs, ENDPOINT, &profile.docker.sandbox_image)?;
    for (unit, target) in [
        ("containerd.service", "multi-user.target"),
        ("docker.socket", "sockets.target"),
        ("docker.service", "multi-user.target"),
        ("cri-docker.socket", "sockets.target"),
        ("cri-docker.service", "multi-user.target"),
    ] {
        super::enable_unit(rootfs, profile, unit, target)?;
    }
    Ok(())
}
