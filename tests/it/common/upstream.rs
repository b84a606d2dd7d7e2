//! Upstream releases in their real layouts (containerd, runc, CNI plugins, crictl, Docker's
//! static bundle, cri-dockerd, the units), served by a loopback [`Server`], and the test
//! profiles that pin them.
//!
//! The binaries are fixture payloads, never run: fetch, verify and layout tests need bytes that
//! tell name and arch apart, not programs (a test that runs one takes the real program from a
//! `BUILDER_*` variable, see programs.rs). The units are upstream's own bytes, which
//! `ci/consumers/upstream-units.sh` fetches from the release modules into the folder named by
//! BUILDER_UPSTREAM_UNITS, outside the checkout (no upstream text is committed). Without that
//! variable the server serves, in their place, a payload that says it is not a unit; a test that
//! reads what a unit says takes them through [`upstream_units`], which skips (or fails under
//! BUILDER_REQUIRE_CONSUMERS) when they are not there.

use std::collections::HashMap;
use std::path::Path;

use super::{consumer, env_path, sha256_hex, tar_bytes, Behaviour, Member, Server};

/// Fixture payload, not run: a shell script where a release has a binary, naming the binary
/// and arch so a test can tell which file went where.
pub fn fake_bin(name: &str, arch: &str) -> Vec<u8> {
    format!("#!/bin/sh\n# fixture payload {name} for {arch}, not run\necho {name}\n").into_bytes()
}

/// The folder of upstream's units, written by `ci/consumers/upstream-units.sh`.
pub const UNITS_VAR: &str = "BUILDER_UPSTREAM_UNITS";

/// The files in that folder and the releases they come from (the releases the shipped profiles
/// pin; see the script).
pub const UNIT_FILES: [&str; 6] = [
    // containerd v2.3.4; byte for byte v2.1.9's too, which the test profiles name.
    "containerd.service",
    // containerd v1.7.34, the cri-dockerd profile's.
    "containerd-1.7.service",
    // moby v28.3.3, contrib/init/systemd/.
    "docker.service",
    "docker.socket",
    // cri-dockerd v0.4.3, packaging/systemd/: the same bytes as v0.3.25's, which the profiles name.
    "cri-docker.service",
    "cri-docker.socket",
];

/// The units the server serves, by file name (one of [`UNIT_FILES`]).
pub struct Units(HashMap<&'static str, Vec<u8>>);

impl Units {
    /// Every unit in `dir`; a missing one means a broken cache, so it panics naming the file.
    fn read(dir: &Path) -> Units {
        Units(
            UNIT_FILES
                .iter()
                .map(|&f| {
                    let p = dir.join(f);
                    let bytes = std::fs::read(&p).unwrap_or_else(|e| {
                        panic!("{}: {e}; run ci/consumers/upstream-units.sh", p.display())
                    });
                    (f, bytes)
                })
                .collect(),
        )
    }

    /// Not units: one payload per file that says so, for the tests that only fetch and place them.
    fn fixtures() -> Units {
        Units(
            UNIT_FILES
                .iter()
                .map(|&f| {
                    let text = format!(
                        "# fixture payload in place of upstream's {f}, not a unit ({UNITS_VAR} unset)\n"
                    );
                    (f, text.into_bytes())
                })
                .collect(),
        )
    }

    /// Upstream's when BUILDER_UPSTREAM_UNITS is set, else the fixture payloads.
    fn served() -> Units {
        env_path(UNITS_VAR).map_or_else(Units::fixtures, |dir| Units::read(&dir))
    }

    /// The bytes of `file`, one of [`UNIT_FILES`].
    pub fn get(&self, file: &str) -> &[u8] {
        &self.0[file]
    }

    /// [`Units::get`] as text.
    pub fn text(&self, file: &str) -> &str {
        std::str::from_utf8(self.get(file)).unwrap()
    }
}

/// Upstream's units, for a test that reads what they say (systemd-analyze, the pins); None, after
/// a SKIP line or a failure under BUILDER_REQUIRE_CONSUMERS, when BUILDER_UPSTREAM_UNITS is not set.
pub fn upstream_units() -> Option<Units> {
    consumer(
        &format!("upstream's systemd units ({UNITS_VAR}, from ci/consumers/upstream-units.sh)"),
        env_path(UNITS_VAR),
    )
    .map(|dir| Units::read(&dir))
}

/// Upstream artifacts served in their release layouts; remembers their digests.
pub struct Upstream {
    pub server: Server,
    /// The units it serves: upstream's, or the fixture payloads (see the module header).
    pub units: Units,
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
            units: Units::served(),
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
            up.units.get("containerd.service").to_vec(),
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
        for (name, path, file) in [
            (
                "docker-service",
                "/moby/v28.3.3/docker.service",
                "docker.service",
            ),
            (
                "docker-socket",
                "/moby/v28.3.3/docker.socket",
                "docker.socket",
            ),
            (
                "containerd-service-17",
                "/raw/v1.7.34/containerd.service",
                "containerd-1.7.service",
            ),
            (
                "cri-docker-service",
                "/mirantis/v0.3.25/cri-docker.service",
                "cri-docker.service",
            ),
            (
                "cri-docker-socket",
                "/mirantis/v0.3.25/cri-docker.socket",
                "cri-docker.socket",
            ),
        ] {
            let body = self.units.get(file).to_vec();
            self.serve(name, "any", path, body);
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
