//! The files a Docker Engine + cri-dockerd node needs beyond the artifacts: daemon.json,
//! drop-ins adapting the verified upstream units, the docker group, containerd's config (CRI
//! off), crictl.yaml and the kubelet's files pointing at cri-dockerd, and the units enabled.

pub mod config;

use anyhow::Result;

use crate::build::install::{Origin, Rootfs};
use crate::node::crictl;
use crate::profile::plan::Plan;
use config as docker;

pub fn render(plan: &Plan, rootfs: &Rootfs) -> Result<()> {
    let profile = &plan.profile;
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
        super::systemd::require_file(rootfs, profile, path, what)?;
    }
    let files = [
        (
            "/etc/docker/daemon.json",
            "docker-daemon-json",
            docker::daemon_json(&profile.docker)?,
        ),
        (
            "/etc/systemd/system/docker.service.d/10-builder.conf",
            "docker-dropin",
            docker::docker_dropin(name),
        ),
        (
            "/etc/systemd/system/cri-docker.service.d/10-builder.conf",
            "cri-docker-dropin",
            docker::cri_docker_dropin(name, &profile.docker.sandbox_image),
        ),
        (
            "/etc/sysusers.d/docker.conf",
            "sysusers-docker",
            docker::sysusers(name),
        ),
        (
            "/etc/containerd/config.toml",
            "containerd-config",
            docker::containerd_config(name, plan.cri_socket),
        ),
        (
            "/etc/crictl.yaml",
            "crictl",
            crictl::crictl_yaml(name, plan.cri_socket),
        ),
    ];
    for (path, template, text) in files {
        rootfs.write_bytes(path, 0o644, &Origin::Template(template), text.as_bytes())?;
    }
    super::kubelet::render(plan, rootfs)?;
    super::systemd::enable_units(rootfs, profile, plan.units)
}
