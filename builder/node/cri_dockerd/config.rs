//! Files for a Docker Engine + cri-dockerd node: daemon.json, the systemd drop-ins that adapt
//! the verified upstream units to this node (never editing them), the `docker` group, and
//! containerd's config with its CRI plugin off (dockerd uses containerd, the kubelet does not).

use std::collections::BTreeMap;

use anyhow::Result;

use crate::profile::DockerSettings;
use crate::util::error::Error;

/// Where the static Docker bundle and cri-dockerd are installed.
pub const BIN_DIR: &str = "/usr/local/bin";

/// `/etc/docker/daemon.json` for Kubernetes (JSON takes no comments, so no header).
pub fn daemon_json(s: &DockerSettings) -> Result<String> {
    let driver = if s.systemd_cgroup {
        "systemd"
    } else {
        "cgroupfs"
    };
    let doc = serde_json::json!({
        "exec-opts": [format!("native.cgroupdriver={driver}")],
        "log-driver": "json-file",
        "log-opts": BTreeMap::from([
            ("max-file", s.log_max_file.to_string()),
            ("max-size", s.log_max_size.clone()),
        ]),
        "storage-driver": "overlay2",
    });
    let mut text = serde_json::to_string_pretty(&doc)
        .map_err(|e| Error::Internal(format!("cannot serialise daemon.json: {e}")))?;
    text.push('\n');
    Ok(text)
}

/// Drop-in for docker.service: the upstream unit runs /usr/bin/dockerd.
pub fn docker_dropin(profile: &str) -> String {
    format!(
        "{header}# The verified upstream docker.service runs /usr/bin/dockerd; this node's static dockerd\n\
         # is in {BIN_DIR}. Settings live in /etc/docker/daemon.json.\n\
         [Service]\n\
         ExecStart=\n\
         ExecStart={BIN_DIR}/dockerd -H fd:// --containerd=/run/containerd/containerd.sock\n",
        header = crate::node::header(profile)
    )
}

/// Drop-in for cri-docker.service: binary path, CNI networking and the pause image.
pub fn cri_docker_dropin(profile: &str, sandbox_image: &str) -> String {
    format!(
        "{header}# The verified upstream cri-docker.service runs /usr/bin/cri-dockerd; this node's is in\n\
         # {BIN_DIR}. Pods get CNI networking and the pause image the Kubernetes minor expects.\n\
         [Unit]\n\
         Wants=docker.service\n\
         After=docker.service\n\
         \n\
         [Service]\n\
         ExecStart=\n\
         ExecStart={BIN_DIR}/cri-dockerd --container-runtime-endpoint fd:// --network-plugin=cni --pod-infra-container-image={sandbox_image}\n",
        header = crate::node::header(profile)
    )
}

/// systemd-sysusers entry: the sockets' `SocketGroup=docker` needs the group to exist.
pub fn sysusers(profile: &str) -> String {
    format!(
        "{header}g docker -\n",
        header = crate::node::header(profile)
    )
}

/// containerd under dockerd: its CRI plugin off, so the kubelet only ever talks to
/// cri-dockerd (at `cri_socket`). Version 2 is read by containerd 1.6, 1.7 and 2.x alike.
pub fn containerd_config(profile: &str, cri_socket: &str) -> String {
    format!(
        "{header}# containerd here serves dockerd only; the kubelet talks to cri-dockerd ({cri_socket}).\n\
         version = 2\n\
         disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n",
        header = crate::node::header(profile)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::assert_golden;

    fn settings() -> DockerSettings {
        DockerSettings {
            sandbox_image: "registry.k8s.io/pause:3.10.1".into(),
            systemd_cgroup: true,
            log_max_size: "100m".into(),
            log_max_file: 5,
        }
    }

    #[test]
    fn goldens() {
        assert_golden("docker-daemon.json", &daemon_json(&settings()).unwrap());
        assert_golden(
            "docker.service.d-10-builder.conf",
            &docker_dropin("cri-dockerd"),
        );
        assert_golden(
            "cri-docker.service.d-10-builder.conf",
            &cri_docker_dropin("cri-dockerd", "registry.k8s.io/pause:3.10.1"),
        );
        assert_golden("sysusers-docker.conf", &sysusers("cri-dockerd"));
        assert_golden(
            "containerd-config-under-docker.toml",
            &containerd_config("cri-dockerd", "unix:///var/run/cri-dockerd.sock"),
        );
    }

    #[test]
    fn daemon_json_follows_settings() {
        let mut s = settings();
        let v: serde_json::Value = serde_json::from_str(&daemon_json(&s).unwrap()).unwrap();
        assert_eq!(v["exec-opts"][0], "native.cgroupdriver=systemd");
        assert_eq!(v["log-opts"]["max-file"], "5");
        s.systemd_cgroup = false;
        assert!(daemon_json(&s)
            .unwrap()
            .contains("native.cgroupdriver=cgroupfs"));
    }

    #[test]
    fn containerd_config_parses() {
        let t: toml::Table = containerd_config("p", "unix:///s.sock").parse().unwrap();
        assert_eq!(t["version"].as_integer(), Some(2));
    }
}
