//! Fake upstream releases in their real layouts (containerd, runc, CNI plugins, crictl, Docker's
//! static bundle, cri-dockerd, the units), served by a loopback [`Server`], and the test
//! profiles that pin them.

use std::collections::HashMap;

use super::{sha256_hex, tar_bytes, Behaviour, Member, Server};

/// A shell script standing in for a binary.
pub fn fake_bin(name: &str, arch: &str) -> Vec<u8> {
    format!("#!/bin/sh\n# fake {name} for {arch}\necho {name}\n").into_bytes()
}

/// A containerd.service like the upstream one (ExecStart=/usr/local/bin/containerd).
pub const CONTAINERD_UNIT: &str = "\
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
";

/// Units shaped like moby's and cri-dockerd's: their binaries at /usr/bin, as upstream ships them.
pub const DOCKER_SERVICE: &str = "\
[Unit]
Description=Docker Application Container Engine
After=network-online.target docker.socket firewalld.service containerd.service
Wants=network-online.target containerd.service
Requires=docker.socket

[Service]
Type=notify
ExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock
ExecReload=/bin/kill -s HUP $MAINPID
TimeoutStartSec=0
RestartSec=2
Restart=always
LimitNOFILE=infinity
Delegate=yes
KillMode=process
OOMScoreAdjust=-500

[Install]
WantedBy=multi-user.target
";

pub const DOCKER_SOCKET: &str = "\
[Unit]
Description=Docker Socket for the API

[Socket]
ListenStream=/run/docker.sock
SocketMode=0660
SocketUser=root
SocketGroup=docker

[Install]
WantedBy=sockets.target
";

pub const CRI_DOCKER_SERVICE: &str = "\
[Unit]
Description=CRI Interface for Docker Application Container Engine
After=network-online.target firewalld.service docker.service
Wants=network-online.target
Requires=cri-docker.socket

[Service]
Type=notify
ExecStart=/usr/bin/cri-dockerd --container-runtime-endpoint fd://
ExecReload=/bin/kill -s HUP $MAINPID
TimeoutSec=0
RestartSec=2
Restart=always
Delegate=yes
KillMode=process

[Install]
WantedBy=multi-user.target
";

pub const CRI_DOCKER_SOCKET: &str = "\
[Unit]
Description=CRI Docker Socket for the API
PartOf=cri-docker.service

[Socket]
ListenStream=%t/cri-dockerd.sock
SocketMode=0660
SocketUser=root
SocketGroup=docker

[Install]
WantedBy=sockets.target
";

/// Fake upstream artifacts served in their release layouts; remembers their digests.
pub struct Upstream {
    pub server: Server,
    /// (artifact, arch) -> sha256; arch "any" for arch-independent files.
    pub pins: HashMap<(String, String), String>,
}

pub const ARCHES: [&str; 2] = ["amd64", "arm64"];

/// What the served Docker static bundle (docker-28.3.3.tgz) holds under `docker/`.
pub const DOCKER_STATIC_BINARIES: [&str; 8] = [
    "docker",
    "dockerd",
    "containerd",
    "ctr",
    "containerd-shim-runc-v2",
    "docker-init",
    "docker-proxy",
    "runc",
];

impl Upstream {
    pub fn start() -> Upstream {
        let mut up = Upstream {
            server: Server::start(),
            pins: HashMap::new(),
        };
        for arch in ARCHES {
            let ctr = tar_bytes(
                &[
                    Member::Dir("bin/"),
                    Member::File("bin/containerd", &fake_bin("containerd", arch), 0o755),
                    Member::File(
                        "bin/containerd-shim-runc-v2",
                        &fake_bin("shim", arch),
                        0o755,
                    ),
                    Member::File("bin/ctr", &fake_bin("ctr", arch), 0o755),
                ],
                true,
            );
            up.serve(
                "containerd",
                arch,
                &format!("/containerd/v2.1.9/containerd-2.1.9-linux-{arch}.tar.gz"),
                ctr,
            );
            up.serve(
                "runc",
                arch,
                &format!("/runc/v1.4.3/runc.{arch}"),
                fake_bin("runc", arch),
            );
            let cni = tar_bytes(
                &[
                    Member::Dir("./"),
                    Member::File("./bridge", &fake_bin("bridge", arch), 0o755),
                    Member::File("./host-local", &fake_bin("host-local", arch), 0o755),
                    Member::File("./loopback", &fake_bin("loopback", arch), 0o755),
                ],
                true,
            );
            up.serve(
                "cni-plugins",
                arch,
                &format!("/cni/v1.9.1/cni-plugins-linux-{arch}-v1.9.1.tgz"),
                cni,
            );
            let crictl = tar_bytes(
                &[Member::File("crictl", &fake_bin("crictl", arch), 0o755)],
                true,
            );
            up.serve(
                "crictl",
                arch,
                &format!("/crictl/v1.36.0/crictl-v1.36.0-linux-{arch}.tar.gz"),
                crictl,
            );
        }
        up.serve(
            "containerd-service",
            "any",
            "/raw/v2.1.9/containerd.service",
            CONTAINERD_UNIT.as_bytes().to_vec(),
        );
        up.serve_docker();
        up
    }

    fn serve_docker(&mut self) {
        let bodies: Vec<(String, Vec<u8>)> = DOCKER_STATIC_BINARIES
            .iter()
            .map(|b| (format!("docker/{b}"), fake_bin(b, "amd64")))
            .collect();
        let mut members = vec![Member::Dir("docker/")];
        members.extend(bodies.iter().map(|(n, d)| Member::File(n, d, 0o755)));
        self.serve(
            "docker-static",
            "amd64",
            "/docker/x86_64/docker-28.3.3.tgz",
            tar_bytes(&members, true),
        );
        let bin = fake_bin("cri-dockerd", "amd64");
        let cri = tar_bytes(
            &[
                Member::Dir("cri-dockerd/"),
                Member::File("cri-dockerd/cri-dockerd", &bin, 0o755),
            ],
            true,
        );
        self.serve(
            "cri-dockerd",
            "amd64",
            "/cri-dockerd/v0.3.26/cri-dockerd-0.3.26.amd64.tgz",
            cri,
        );
        for (name, path, body) in [
            (
                "docker-service",
                "/moby/v28.3.3/docker.service",
                DOCKER_SERVICE,
            ),
            (
                "docker-socket",
                "/moby/v28.3.3/docker.socket",
                DOCKER_SOCKET,
            ),
            (
                "containerd-service-17",
                "/raw/v1.7.34/containerd.service",
                CONTAINERD_UNIT,
            ),
            (
                "cri-docker-service",
                "/mirantis/v0.3.25/cri-docker.service",
                CRI_DOCKER_SERVICE,
            ),
            (
                "cri-docker-socket",
                "/mirantis/v0.3.25/cri-docker.socket",
                CRI_DOCKER_SOCKET,
            ),
        ] {
            self.serve(name, "any", path, body.as_bytes().to_vec());
        }
    }

    /// One `[[artifact]]` table served by this server; pins from what was served under `pin_key`
    /// (for every arch the profile lists in `arches`).
    fn artifact(&self, a: &Art, arches: &[&str]) -> String {
        let pins: String = match self.pins.get(&(a.pin_key.to_string(), "any".to_string())) {
            Some(any) => format!("sha256 = \"{any}\"\n"),
            None => arches
                .iter()
                .map(|arch| format!("sha256.{arch} = \"{}\"\n", self.pin(a.pin_key, arch)))
                .collect(),
        };
        let from = a
            .from
            .map_or(String::new(), |f| format!("from = \"{f}\", "));
        format!(
            "[[artifact]]\nname = \"{}\"\nversion = \"{}\"\nurl = \"http://{}{}\"\n{pins}install = [{{ {from}to = \"{}\", mode = \"{}\" }}]\n\n",
            a.name, a.version, self.server.addr, a.path, a.to, a.mode
        )
    }

    /// A cri-dockerd profile (amd64; Kubernetes `kube`) fetching from this server.
    pub fn cri_dockerd_profile(&self, name: &str, kube: &str) -> String {
        let units = "/usr/local/lib/systemd/system";
        let arts = [
            Art::new(
                "docker-static",
                "28.3.3",
                "/docker/{uname_arch}/docker-{version}.tgz",
                Some("docker/*"),
                "/usr/local/bin/",
            ),
            Art::new(
                "cri-dockerd",
                "0.3.26",
                "/cri-dockerd/v{version}/cri-dockerd-{version}.{arch}.tgz",
                Some("cri-dockerd/cri-dockerd"),
                "/usr/local/bin/",
            ),
            Art::cni_plugins(),
            Art::crictl(),
            Art::unit(
                "docker-service",
                "28.3.3",
                "/moby/v28.3.3/docker.service",
                &format!("{units}/docker.service"),
            ),
            Art::unit(
                "docker-socket",
                "28.3.3",
                "/moby/v28.3.3/docker.socket",
                &format!("{units}/docker.socket"),
            ),
            Art {
                pin_key: "containerd-service-17",
                ..Art::unit(
                    "containerd-service",
                    "1.7.34",
                    "/raw/v1.7.34/containerd.service",
                    &format!("{units}/containerd.service"),
                )
            },
            Art::unit(
                "cri-docker-service",
                "0.3.25",
                "/mirantis/v0.3.25/cri-docker.service",
                &format!("{units}/cri-docker.service"),
            ),
            Art::unit(
                "cri-docker-socket",
                "0.3.25",
                "/mirantis/v0.3.25/cri-docker.socket",
                &format!("{units}/cri-docker.socket"),
            ),
        ];
        let mut text = format!(
            r#"schema = 1
name = "{name}"
description = "test cri-dockerd profile"
kubernetes = "{kube}"
runtime = "cri-dockerd"
arch = ["amd64"]
overlays = ["kubernetes-node"]

[docker]
log_max_file = 5

[kubelet]
extra_args = {{ "node-labels" = "node.kubernetes.io/runtime=cri-dockerd" }}

"#
        );
        for a in &arts {
            text += &self.artifact(a, &["amd64"]);
        }
        text
    }

    pub fn serve(&mut self, artifact: &str, arch: &str, path: &str, body: Vec<u8>) {
        self.pins
            .insert((artifact.into(), arch.into()), sha256_hex(&body));
        self.server.route(path, Behaviour::Ok(body));
    }

    pub fn pin(&self, artifact: &str, arch: &str) -> &str {
        &self.pins[&(artifact.to_string(), arch.to_string())]
    }

    /// A containerd profile (containerd `version`, Kubernetes `kube`) fetching from this server.
    pub fn containerd_profile(&self, name: &str, containerd_version: &str, kube: &str) -> String {
        let arts = [
            Art {
                version: containerd_version.to_string(),
                ..Art::new(
                    "containerd",
                    "",
                    "/containerd/v2.1.9/containerd-2.1.9-linux-{arch}.tar.gz",
                    Some("bin/*"),
                    "/usr/local/bin/",
                )
            },
            Art::unit(
                "containerd-service",
                "2.1.9",
                "/raw/v{version}/containerd.service",
                "/usr/local/lib/systemd/system/containerd.service",
            ),
            Art {
                mode: "0755",
                ..Art::unit(
                    "runc",
                    "1.4.3",
                    "/runc/v{version}/runc.{arch}",
                    "/usr/local/sbin/runc",
                )
            },
            Art::cni_plugins(),
            Art::crictl(),
        ];
        let mut text = format!(
            r#"schema = 1
name = "{name}"
description = "test profile"
kubernetes = "{kube}"
runtime = "containerd"
arch = ["amd64", "arm64"]
overlays = ["kubernetes-node"]

[containerd]
systemd_cgroup = true

[kubelet]
extra_args = {{ "node-labels" = "node.kubernetes.io/runtime=containerd" }}

"#
        );
        for a in &arts {
            text += &self.artifact(a, &ARCHES);
        }
        text
    }
}

/// An artifact of a test profile.
struct Art {
    name: &'static str,
    /// The key its digest was served under (usually its name).
    pin_key: &'static str,
    version: String,
    /// URL path on the server, with the profile's placeholders.
    path: &'static str,
    from: Option<&'static str>,
    to: String,
    mode: &'static str,
}

impl Art {
    fn new(
        name: &'static str,
        version: &str,
        path: &'static str,
        from: Option<&'static str>,
        to: &str,
    ) -> Art {
        Art {
            name,
            pin_key: name,
            version: version.to_string(),
            path,
            from,
            to: to.to_string(),
            mode: "0755",
        }
    }

    fn unit(name: &'static str, version: &str, path: &'static str, to: &str) -> Art {
        Art {
            mode: "0644",
            ..Art::new(name, version, path, None, to)
        }
    }

    /// The CNI plugins, the same in every test profile.
    fn cni_plugins() -> Art {
        Art::new(
            "cni-plugins",
            "1.9.1",
            "/cni/v{version}/cni-plugins-linux-{arch}-v{version}.tgz",
            Some("*"),
            "/opt/cni/bin/",
        )
    }

    /// crictl, the same in every test profile.
    fn crictl() -> Art {
        Art::new(
            "crictl",
            "1.36.0",
            "/crictl/v{version}/crictl-v{version}-linux-{arch}.tar.gz",
            Some("crictl"),
            "/usr/local/bin/",
        )
    }
}

/// A shipped profile, extended only to fetch from the loopback server: each artifact's url and
/// pin (and, where asked, version) change; every setting stays the shipped one.
pub fn shipped_on_loopback(shipped: &str, test_profile: &str, versions: &[(&str, &str)]) -> String {
    let t: toml::Table = test_profile.parse().unwrap();
    let mut out = format!(
        "schema = 1\nextends = \"{shipped}\"\nname = \"{shipped}-loopback\"\narch = [\"amd64\"]\n"
    );
    for a in t["artifact"].as_array().unwrap() {
        let name = a["name"].as_str().unwrap();
        let version = versions
            .iter()
            .find(|(n, _)| *n == name)
            .map_or_else(|| a["version"].as_str().unwrap(), |(_, v)| v);
        out.push_str(&format!(
            "[[artifact]]\nname = \"{name}\"\nversion = \"{version}\"\nurl = {}\nsha256 = {}\n",
            a["url"], a["sha256"]
        ));
    }
    out
}
