//! Test support: a loopback HTTP server that can misbehave, fake upstream release artifacts
//! in their real layouts, profiles pointing at them, and a runner for the real binary.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use builder::digest::sha256_hex;

/// How the server answers one path.
#[derive(Clone, Debug)]
pub enum Behaviour {
    Ok(Vec<u8>),
    /// Answer with this status (and an empty body).
    Status(u16),
    /// Fail with `status` the first `times` requests, then serve the body.
    FailFirst {
        times: usize,
        status: u16,
        body: Vec<u8>,
    },
    /// Promise the whole body, send half, hang up.
    Truncate(Vec<u8>),
    /// Send half the body without a Content-Length, then close (a clean EOF, short).
    TruncateNoLength(Vec<u8>),
    /// Chunked transfer: the first chunk, then hang up without the terminating chunk.
    ChunkedCut(Vec<u8>),
    /// Accept the request and answer nothing for this long, then hang up.
    StallBeforeHeaders(Duration),
    /// Send the headers and half the body, then nothing for this long.
    StallAfterHeaders(Vec<u8>, Duration),
    /// Send the body one byte per interval.
    Drip(Vec<u8>, Duration),
    /// 429 with `Retry-After: SECONDS` for the first `times` requests, then the body.
    RetryAfter {
        times: usize,
        seconds: u64,
        body: Vec<u8>,
    },
    /// 302 to this URL (absolute, or a path on this server).
    Redirect(String),
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Behaviour>,
    hits: HashMap<String, usize>,
}

/// A loopback HTTP/1.1 server for artifacts; stops when dropped.
pub struct Server {
    pub addr: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &st);
                });
            }
        });
        Server {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn route(&self, path: &str, b: Behaviour) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), b);
    }

    pub fn hits(&self, path: &str) -> usize {
        *self.state.lock().unwrap().hits.get(path).unwrap_or(&0)
    }

    pub fn total_hits(&self) -> usize {
        self.state.lock().unwrap().hits.values().sum()
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A 200 response's headers promising `len` bytes.
fn ok_head(conn: &mut TcpStream, len: usize) -> std::io::Result<()> {
    write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    )
}

fn serve(mut conn: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let behaviour = {
        let mut st = state.lock().unwrap();
        let n = {
            let e = st.hits.entry(path.clone()).or_insert(0);
            *e += 1;
            *e
        };
        match st.routes.get(&path).cloned() {
            Some(Behaviour::FailFirst {
                times,
                status,
                body,
            }) => {
                if n <= times {
                    Behaviour::Status(status)
                } else {
                    Behaviour::Ok(body)
                }
            }
            Some(Behaviour::RetryAfter { times, body, .. }) if n > times => Behaviour::Ok(body),
            Some(b) => b,
            None => Behaviour::Status(404),
        }
    };
    match behaviour {
        Behaviour::Ok(body) => {
            ok_head(&mut conn, body.len())?;
            conn.write_all(&body)?;
        }
        Behaviour::Status(code) => {
            write!(
                conn,
                "HTTP/1.1 {code} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
        }
        Behaviour::Truncate(body) => {
            ok_head(&mut conn, body.len())?;
            conn.write_all(&body[..body.len() / 2])?;
        }
        Behaviour::TruncateNoLength(body) => {
            write!(conn, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
            conn.write_all(&body[..body.len() / 2])?;
        }
        Behaviour::ChunkedCut(body) => {
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n",
                body.len() / 2
            )?;
            conn.write_all(&body[..body.len() / 2])?;
            conn.write_all(b"\r\n")?;
        }
        Behaviour::StallBeforeHeaders(d) => std::thread::sleep(d),
        Behaviour::StallAfterHeaders(body, d) => {
            ok_head(&mut conn, body.len())?;
            conn.write_all(&body[..body.len() / 2])?;
            conn.flush()?;
            std::thread::sleep(d);
        }
        Behaviour::Drip(body, every) => {
            ok_head(&mut conn, body.len())?;
            for b in &body {
                conn.write_all(std::slice::from_ref(b))?;
                conn.flush()?;
                std::thread::sleep(every);
            }
        }
        Behaviour::RetryAfter { seconds, .. } => {
            write!(
                conn,
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {seconds}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
        }
        Behaviour::Redirect(to) => {
            write!(
                conn,
                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
        }
        Behaviour::FailFirst { .. } => unreachable!(),
    }
    conn.flush()
}

/// One entry of a tar archive the tests build.
pub enum Member<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    /// A symlink whose target is any bytes (not UTF-8, say).
    RawSymlink(&'a str, &'a [u8]),
    Hardlink(&'a str, &'a str),
    CharDevice(&'a str),
}

/// Builds a tar (gzip-compressed when `gz`) from members, writing names verbatim (so tests can
/// build hostile archives the `tar` crate's safe helpers would refuse to create).
pub fn tar_bytes(members: &[Member], gz: bool) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        let (name, data): (&str, &[u8]) = match m {
            Member::File(n, d, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(d.len() as u64);
                (n, d)
            }
            Member::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                (n, &[])
            }
            Member::Symlink(n, t) | Member::Hardlink(n, t) => {
                h.set_entry_type(if matches!(m, Member::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.set_mode(0o777);
                h.set_size(0);
                h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
                (n, &[])
            }
            Member::RawSymlink(n, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                h.as_old_mut().linkname[..t.len()].copy_from_slice(t);
                (n, &[])
            }
            Member::CharDevice(n) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_mode(0o600);
                h.set_size(0);
                (n, &[])
            }
        };
        let raw = &mut h.as_old_mut().name;
        raw.fill(0);
        raw[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    if !gz {
        return tar;
    }
    gzip(&tar)
}

/// One gzip member holding `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

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
        let names = [
            "docker",
            "dockerd",
            "containerd",
            "ctr",
            "containerd-shim-runc-v2",
            "docker-init",
            "docker-proxy",
            "runc",
        ];
        let bodies: Vec<(String, Vec<u8>)> = names
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
            Art::new(
                "cni-plugins",
                "1.9.1",
                "/cni/v{version}/cni-plugins-linux-{arch}-v{version}.tgz",
                Some("*"),
                "/opt/cni/bin/",
            ),
            Art::new(
                "crictl",
                "1.36.0",
                "/crictl/v{version}/crictl-v{version}-linux-{arch}.tar.gz",
                Some("crictl"),
                "/usr/local/bin/",
            ),
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
            Art::new(
                "cni-plugins",
                "1.9.1",
                "/cni/v{version}/cni-plugins-linux-{arch}-v{version}.tgz",
                Some("*"),
                "/opt/cni/bin/",
            ),
            Art::new(
                "crictl",
                "1.36.0",
                "/crictl/v{version}/crictl-v{version}-linux-{arch}.tar.gz",
                Some("crictl"),
                "/usr/local/bin/",
            ),
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

/// A scratch folder with profiles/, a cache and an output folder; runs the real binary in it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

/// A loopback upstream and a workspace with profile `node`: containerd 2.1.9 for Kubernetes
/// 1.36, both arches, every artifact served and pinned.
pub fn node_setup() -> (Upstream, Workspace) {
    let up = Upstream::start();
    let ws = Workspace::new();
    ws.write_profile("node", &up.containerd_profile("node", "2.1.9", "1.36"));
    (up, ws)
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("profiles")).unwrap();
        Workspace { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("dist")
    }

    pub fn write_profile(&self, name: &str, text: &str) -> PathBuf {
        let p = self
            .dir
            .path()
            .join("profiles")
            .join(format!("{name}.toml"));
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs `builder ARGS` in the workspace with its cache; SOURCE_DATE_EPOCH unset.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_builder"));
        cmd.current_dir(self.dir.path())
            .args(args)
            .env("BUILDER_CACHE_DIR", self.cache())
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("BUILDER_OFFLINE")
            .env_remove("BUILDER_SIGN_KEY")
            .env_remove("BUILDER_SIGN_PASSPHRASE")
            .env_remove("RUST_LOG")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    pub fn render(&self, profile: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "render",
            "--profile",
            profile,
            "--out",
            "dist",
            "--retries",
            "2",
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }
}

impl Workspace {
    /// `builder render --profile PROFILE --arch amd64 --out OUT EXTRA...` with `env`; asserts
    /// success.
    pub fn render_amd64(
        &self,
        profile: &str,
        out: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Output {
        let mut args = vec![
            "render",
            "--profile",
            profile,
            "--arch",
            "amd64",
            "--out",
            out,
        ];
        args.extend_from_slice(extra);
        let o = self.run_env(&args, env);
        assert_ok(&o);
        o
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[track_caller]
pub fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

/// Every file under `dir` with its bytes (for "unchanged" checks).
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    if !dir.exists() {
        return out;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p.clone());
                out.push((p, Vec::new()));
            } else if meta.is_file() {
                let mut v = Vec::new();
                std::fs::File::open(&p)
                    .unwrap()
                    .read_to_end(&mut v)
                    .unwrap();
                out.push((p, v));
            } else {
                out.push((p, b"<link>".to_vec()));
            }
        }
    }
    out.sort();
    out
}

/// A file's text, panicking with its path.
pub fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

/// A program on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// A consumer check cannot run: with BUILDER_REQUIRE_CONSUMERS set (ci/test.sh) that is a
/// failure; otherwise the test says SKIP and the caller returns.
pub fn skip_or_fail(what: &str) {
    if std::env::var_os("BUILDER_REQUIRE_CONSUMERS").is_some() {
        panic!("{what}, and BUILDER_REQUIRE_CONSUMERS is set; run ci/test.sh");
    }
    // Straight to the stderr handle: libtest's capture would hide an eprintln!.
    let _ = writeln!(
        std::io::stderr(),
        "SKIP: {what}; run ci/test.sh for the consumer checks"
    );
}

/// The consumer's path, or None (after `skip_or_fail`) when it is not there.
pub fn consumer(what: &str, path: Option<PathBuf>) -> Option<PathBuf> {
    match path {
        Some(p) if p.exists() => Some(p),
        _ => {
            skip_or_fail(&format!("{what} not found"));
            None
        }
    }
}
