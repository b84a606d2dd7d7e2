//! The rendered files checked by the programs that read them on a node: containerd 1.x (config
//! version 2), containerd 2.x (version 3) and systemd-analyze. `ci/test.sh` provides every
//! consumer and sets BUILDER_REQUIRE_CONSUMERS=1, so a missing one fails there; under a plain
//! `cargo test` a missing consumer is skipped and the test says so on stderr.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// Renders a containerd profile (containerd `version`, Kubernetes `kube`) for amd64.
fn render(version: &str, kube: &str) -> (Upstream, Workspace, PathBuf) {
    let up = Upstream::start();
    let ws = Workspace::new();
    ws.write_profile("node", &up.containerd_profile("node", version, kube));
    assert_ok(&ws.render("node", &["--arch", "amd64"]));
    let root = ws.out().join("node/amd64/rootfs");
    (up, ws, root)
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// containerd running with a config under a temp dir; stopped when dropped.
struct Containerd {
    _daemon: Daemon,
    dir: tempfile::TempDir,
    sock: PathBuf,
}

impl Containerd {
    fn start(bin: &Path, config: &Path) -> Containerd {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("c.sock");
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let daemon = Daemon(
            Command::new(bin)
                .arg("--config")
                .arg(config)
                .arg("--root")
                .arg(dir.path().join("root"))
                .arg("--state")
                .arg(dir.path().join("state"))
                .arg("--address")
                .arg(&sock)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        let start = Instant::now();
        while !sock.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "containerd did not start; log:\n{}",
                std::fs::read_to_string(dir.path().join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Containerd {
            _daemon: daemon,
            dir,
            sock,
        }
    }

    /// `ctr plugins ls`, with the ctr beside `bin`.
    fn plugins(&self, bin: &Path) -> String {
        let plugins = Command::new(bin.with_file_name("ctr"))
            .arg("--address")
            .arg(&self.sock)
            .args(["plugins", "ls"])
            .output()
            .unwrap();
        assert_ok(&plugins);
        stdout(&plugins)
    }

    /// The rendered crictl.yaml with its socket mapped to this daemon's (nothing else changed).
    fn crictl_yaml(&self, rendered: &Path, socket: &str) -> PathBuf {
        let text = std::fs::read_to_string(rendered).unwrap();
        assert!(text.contains(socket), "{text}");
        let mapped = self.dir.path().join("crictl.yaml");
        std::fs::write(
            &mapped,
            text.replace(socket, &format!("unix://{}", self.sock.display())),
        )
        .unwrap();
        mapped
    }
}

/// `containerd config dump` of `config`.
fn config_dump(bin: &Path, config: &Path) -> String {
    let dump = Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(["config", "dump"])
        .output()
        .unwrap();
    assert_ok(&dump);
    stdout(&dump)
}

/// Starts containerd with `config` under a temp dir, returns `ctr plugins ls` and `config dump`.
fn run_containerd(bin: &Path, config: &Path) -> (String, String) {
    let plugins = Containerd::start(bin, config).plugins(bin);
    (plugins, config_dump(bin, config))
}

fn plugin_ok(plugins: &str, ty: &str, id: &str) -> bool {
    plugins.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 4 && f[0] == ty && f[1] == id && f[f.len() - 1] == "ok"
    })
}

fn version_of(bin: &Path) -> String {
    stdout(&Command::new(bin).arg("--version").output().unwrap())
}

#[test]
fn containerd_1x_runs_cri_with_the_version_2_config() {
    let Some(bin) = consumer(
        "containerd 1.x",
        env_path("BUILDER_CONTAINERD1").or_else(|| which("containerd")),
    ) else {
        return;
    };
    let v = version_of(&bin);
    if !v
        .split_whitespace()
        .nth(2)
        .is_some_and(|s| s.starts_with("1."))
    {
        consumer("containerd 1.x (found a different version)", None);
        return;
    }
    // The 1.x releases the catalog picks for 1.30, 1.23 and 1.22 (tests/it/minors.rs), each
    // with its minor's pause image.
    for (containerd, kube, pause) in [
        ("1.7.34", "1.30", "3.9"),
        ("1.6.39", "1.23", "3.6"),
        ("1.5.18", "1.22", "3.5"),
    ] {
        let (_up, _ws, root) = render(containerd, kube);
        let config = root.join("etc/containerd/config.toml");
        assert!(std::fs::read_to_string(&config)
            .unwrap()
            .contains("version = 2"));
        let (plugins, dump) = run_containerd(&bin, &config);
        assert!(
            plugin_ok(&plugins, "io.containerd.grpc.v1", "cri"),
            "{v}: cri is not ok for {containerd} on {kube}:\n{plugins}"
        );
        assert!(dump.contains("SystemdCgroup = true"), "{dump}");
        assert!(
            dump.contains(&format!(
                "sandbox_image = \"registry.k8s.io/pause:{pause}\""
            )),
            "{kube}: {dump}"
        );
        assert!(
            dump.contains("config_path = \"/etc/containerd/certs.d\""),
            "{dump}"
        );
    }
}

#[test]
fn containerd_2x_runs_cri_with_the_version_3_config() {
    let Some(bin) = consumer(
        "containerd 2.x (BUILDER_CONTAINERD2)",
        env_path("BUILDER_CONTAINERD2"),
    ) else {
        return;
    };
    let (_up, _ws, root) = render("2.1.9", "1.35");
    let config = root.join("etc/containerd/config.toml");
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .contains("version = 3"));
    let (plugins, dump) = run_containerd(&bin, &config);
    assert!(
        plugin_ok(&plugins, "io.containerd.cri.v1", "runtime"),
        "{plugins}"
    );
    assert!(
        plugin_ok(&plugins, "io.containerd.cri.v1", "images"),
        "{plugins}"
    );
    assert!(dump.contains("SystemdCgroup = true"), "{dump}");
    assert!(
        dump.contains("sandbox = 'registry.k8s.io/pause:3.10.1'"),
        "{dump}"
    );
    assert!(
        dump.contains("config_path = '/etc/containerd/certs.d'"),
        "{dump}"
    );
}

#[test]
fn containerd_2x_refuses_a_broken_render() {
    // The check above must be able to fail: a config key containerd rejects is caught.
    let Some(bin) = consumer(
        "containerd 2.x (BUILDER_CONTAINERD2)",
        env_path("BUILDER_CONTAINERD2"),
    ) else {
        return;
    };
    let (_up, _ws, root) = render("2.1.9", "1.35");
    let config = root.join("etc/containerd/config.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("version = 3", "version = 4");
    let broken = root.join("broken.toml");
    std::fs::write(&broken, text).unwrap();
    let o = Command::new(&bin)
        .arg("--config")
        .arg(&broken)
        .args(["config", "dump"])
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "containerd 2.1 accepted config version 4"
    );
}

/// A copy of the rootfs with the host's systemd units, as `systemd-analyze verify --root` needs.
fn verify_root(rootfs: &Path) -> tempfile::TempDir {
    let r = tempfile::tempdir().unwrap();
    let cp = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", rootfs.display()))
        .arg(r.path())
        .output()
        .unwrap();
    assert_ok(&cp);
    std::fs::create_dir_all(r.path().join("usr/lib/systemd")).unwrap();
    let host_units = ["/lib/systemd/system", "/usr/lib/systemd/system"]
        .into_iter()
        .find(|p| Path::new(p).is_dir())
        .unwrap();
    let cp = Command::new("cp")
        .arg("-a")
        .arg(host_units)
        .arg(r.path().join("usr/lib/systemd/"))
        .output()
        .unwrap();
    assert_ok(&cp);
    // What every base image has and the upstream units call: merged /usr and /bin/kill
    // (ExecReload=/bin/kill -s HUP $MAINPID).
    for (link, target) in [("bin", "usr/bin"), ("sbin", "usr/sbin")] {
        std::fs::create_dir_all(r.path().join(target)).unwrap();
        if !r.path().join(link).exists() {
            std::os::unix::fs::symlink(target, r.path().join(link)).unwrap();
        }
    }
    std::fs::copy("/usr/bin/kill", r.path().join("usr/bin/kill")).unwrap();
    r
}

fn verify(root: &Path, unit: &str) -> std::process::Output {
    Command::new("systemd-analyze")
        .arg("verify")
        .arg(format!("--root={}", root.display()))
        .arg(unit)
        .output()
        .unwrap()
}

#[test]
fn systemd_accepts_the_installed_units() {
    if consumer("systemd-analyze", which("systemd-analyze")).is_none() {
        return;
    }
    // What systemd reads must be upstream's unit, not a fixture payload.
    if upstream_units().is_none() {
        return;
    }
    let (_up, _ws, rootfs) = render("2.1.9", "1.35");
    let r = verify_root(&rootfs);
    let unit = "/usr/local/lib/systemd/system/containerd.service";
    let o = verify(r.path(), unit);
    assert_ok(&o);
    assert!(
        !stderr(&o).contains("containerd.service"),
        "warnings about the unit:\n{}",
        stderr(&o)
    );
    // The enable link resolves inside the root.
    let o = verify(
        r.path(),
        "/etc/systemd/system/multi-user.target.wants/containerd.service",
    );
    assert_ok(&o);
    // And the check can fail: without the binary the unit is refused.
    std::fs::remove_file(r.path().join("usr/local/bin/containerd")).unwrap();
    let o = verify(r.path(), unit);
    assert!(
        !o.status.success(),
        "verify passed without /usr/local/bin/containerd"
    );
}

/// The units the tests serve are the very files the shipped profiles pin by sha256: upstream's
/// (ci/consumers/upstream-units.sh), not look-alikes.
#[test]
fn upstream_units_are_the_files_the_shipped_profiles_pin() {
    let Some(units) = upstream_units() else {
        return;
    };
    for (profile, artifact, file) in [
        ("containerd", "containerd-service", "containerd.service"),
        (
            "cri-dockerd",
            "containerd-service",
            "containerd-1.7.service",
        ),
        ("cri-dockerd", "docker-service", "docker.service"),
        ("cri-dockerd", "docker-socket", "docker.socket"),
        ("cri-dockerd", "cri-docker-service", "cri-docker.service"),
        ("cri-dockerd", "cri-docker-socket", "cri-docker.socket"),
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("profiles/{profile}.toml"));
        let t: toml::Table = read(&path).parse().unwrap();
        let pinned = t["artifact"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"].as_str() == Some(artifact))
            .and_then(|a| a["sha256"].as_str())
            .unwrap_or_else(|| panic!("{}: no sha256 for {artifact}", path.display()));
        assert_eq!(
            sha256_hex(units.get(file)),
            pinned,
            "{file} vs {profile}.toml {artifact}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The cri-dockerd runtime.

fn render_docker(kube: &str) -> (Upstream, Workspace, PathBuf) {
    let (up, ws) = dock_setup(kube);
    assert_ok(&ws.render("dock", &[]));
    let root = ws.out().join("dock/amd64/rootfs");
    (up, ws, root)
}

#[test]
fn dockerd_runs_with_the_rendered_daemon_json() {
    let Some(dockerd) = consumer("dockerd (Debian docker.io)", which("dockerd")) else {
        return;
    };
    let Some(docker) = consumer("docker client", which("docker")) else {
        return;
    };
    let (_up, _ws, root) = render_docker("1.36");
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let sock = t.join("d.sock");
    let log = std::fs::File::create(t.join("log")).unwrap();
    let daemon = Daemon(
        Command::new(&dockerd)
            .arg("--config-file")
            .arg(root.join("etc/docker/daemon.json"))
            .arg("--data-root")
            .arg(t.join("data"))
            .arg("--exec-root")
            .arg(t.join("exec"))
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .arg("--pidfile")
            .arg(t.join("pid"))
            .args(["--iptables=false", "--bridge=none"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    let info = loop {
        let o = Command::new(&docker)
            .arg("-H")
            .arg(format!("unix://{}", sock.display()))
            .args([
                "info",
                "--format",
                "{{.CgroupDriver}} {{.Driver}} {{.LoggingDriver}}",
            ])
            .output()
            .unwrap();
        if o.status.success() {
            break stdout(&o);
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "dockerd did not come up; log:\n{}",
            std::fs::read_to_string(t.join("log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    drop(daemon);
    assert_eq!(info.trim(), "systemd overlay2 json-file");
    // dockerd may leave its data-root mounted; unmount before the temp dir goes.
    let _ = Command::new("umount")
        .arg("-R")
        .arg(t.join("data"))
        .output();
}

#[test]
fn dockerd_28_validates_the_daemon_json_strictly() {
    let Some(dockerd) = consumer(
        "dockerd 28 (BUILDER_DOCKERD28)",
        env_path("BUILDER_DOCKERD28"),
    ) else {
        return;
    };
    let (_up, _ws, root) = render_docker("1.36");
    let json = root.join("etc/docker/daemon.json");
    let o = Command::new(&dockerd)
        .arg("--validate")
        .arg("--config-file")
        .arg(&json)
        .output()
        .unwrap();
    assert_ok(&o);
    assert!(format!("{}{}", stdout(&o), stderr(&o)).contains("configuration OK"));
    // The check can fail: an unknown key is named.
    let broken = root.join("broken.json");
    let text = std::fs::read_to_string(&json)
        .unwrap()
        .replace("\"log-driver\"", "\"log-drivr\"");
    std::fs::write(&broken, text).unwrap();
    let o = Command::new(&dockerd)
        .arg("--validate")
        .arg("--config-file")
        .arg(&broken)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("log-drivr"), "{}", stderr(&o));
}

/// The real cri-dockerd (v0.4.3, built from source) started with the arguments of the rendered
/// drop-in's ExecStart, socket-activated as cri-docker.socket does, serves pods through a private
/// dockerd to the real crictl and kubelet (`ci/consumers/cri-dockerd/selftest.sh`). The negative
/// control adds a dockershim-era kubelet flag to that ExecStart: cri-dockerd must refuse to start.
/// One test, run in turn: the self-test's bridge, kubelet ports and host paths are one set.
#[test]
fn the_real_cri_dockerd_runs_pods_with_the_rendered_dropin() {
    let Some(cri_dockerd) = consumer(
        "cri-dockerd (BUILDER_CRI_DOCKERD)",
        env_path("BUILDER_CRI_DOCKERD"),
    ) else {
        return;
    };
    let Some(crictl) = consumer("crictl (BUILDER_CRICTL)", env_path("BUILDER_CRICTL")) else {
        return;
    };
    let Some(kubelet) = consumer("kubelet (BUILDER_KUBELET)", env_path("BUILDER_KUBELET")) else {
        return;
    };
    let (_up, _ws, root) = render_docker("1.36");
    let dropin = root.join("etc/systemd/system/cri-docker.service.d/10-builder.conf");
    let selftest = |dropin: &Path| {
        run_text(
            Command::new("bash")
                .arg(
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("ci/consumers/cri-dockerd/selftest.sh"),
                )
                .env("DROPIN", dropin)
                .env("CRI_DOCKERD", &cri_dockerd)
                .env("CRICTL", &crictl)
                .env("KUBELET", &kubelet)
                .env("KUBELET_DWELL", "3"),
        )
    };
    let (ok, text) = selftest(&dropin);
    let tail = |t: &str| {
        t.lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        ok,
        "selftest with the rendered drop-in failed:\n{}",
        tail(&text)
    );
    for want in [
        "(fd://)",
        "ok - READY=1 sent to NOTIFY_SOCKET",
        "ok - crictl info: RuntimeReady and NetworkReady true",
        "ok - cni-net: sandbox IP",
        "static pod's container running",
        " 0 failed",
    ] {
        assert!(text.contains(want), "no '{want}' in:\n{}", tail(&text));
    }
    // The check can fail: a flag cri-dockerd does not have (kubelet's, from dockershim days).
    let text = std::fs::read_to_string(&dropin).unwrap();
    assert!(text.contains("--network-plugin=cni"), "{text}");
    let broken = root.join("broken.conf");
    std::fs::write(
        &broken,
        text.replace(
            "--network-plugin=cni",
            "--network-plugin=cni --container-runtime=docker",
        ),
    )
    .unwrap();
    let (ok, text) = selftest(&broken);
    assert!(
        !ok,
        "cri-dockerd started with an unknown flag:\n{}",
        tail(&text)
    );
    assert!(
        text.contains("unknown flag: --container-runtime"),
        "{}",
        tail(&text)
    );
}

#[test]
fn systemd_accepts_the_docker_units_and_the_dropins_override_execstart() {
    if consumer("systemd-analyze", which("systemd-analyze")).is_none() {
        return;
    }
    let Some(units) = upstream_units() else {
        return;
    };
    let (_up, _ws, rootfs) = render_docker("1.36");
    let r = verify_root(&rootfs);
    let dir = "/usr/local/lib/systemd/system";
    for unit in [
        "docker.service",
        "docker.socket",
        "cri-docker.service",
        "cri-docker.socket",
        "containerd.service",
    ] {
        let o = verify(r.path(), &format!("{dir}/{unit}"));
        assert_ok(&o);
        assert!(
            !stderr(&o).contains(unit),
            "warnings about {unit}:\n{}",
            stderr(&o)
        );
    }
    // The upstream units run /usr/bin/dockerd and /usr/bin/cri-dockerd, which this root does
    // not have: verify passing means the drop-ins' ExecStart is the one systemd uses. Without
    // the drop-in, the upstream path comes back and verify says so.
    for (unit, upstream) in [
        ("docker.service", "/usr/bin/dockerd"),
        ("cri-docker.service", "/usr/bin/cri-dockerd"),
    ] {
        assert!(
            units
                .text(unit)
                .lines()
                .any(|l| l.starts_with(&format!("ExecStart={upstream} "))),
            "upstream's {unit} no longer runs {upstream}: this control needs a new path"
        );
        assert!(!r.path().join(&upstream[1..]).exists());
        let dropin = r
            .path()
            .join(format!("etc/systemd/system/{unit}.d/10-builder.conf"));
        let saved = std::fs::read(&dropin).unwrap();
        std::fs::remove_file(&dropin).unwrap();
        let o = verify(r.path(), &format!("{dir}/{unit}"));
        assert!(!o.status.success(), "{unit} verified without its drop-in");
        assert!(stderr(&o).contains(upstream), "{}", stderr(&o));
        std::fs::write(&dropin, saved).unwrap();
        // And the merged ExecStart really names /usr/local/bin.
        let local = r.path().join(format!("usr/local/bin/{}", &upstream[9..]));
        let bin = std::fs::read(&local).unwrap();
        std::fs::remove_file(&local).unwrap();
        let o = verify(r.path(), &format!("{dir}/{unit}"));
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains(&format!("/usr/local/bin/{}", &upstream[9..])),
            "{}",
            stderr(&o)
        );
        std::fs::write(&local, bin).unwrap();
        std::fs::set_permissions(&local, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let o = Command::new("systemctl")
        .arg(format!("--root={}", r.path().display()))
        .args(["cat", "cri-docker.service"])
        .output()
        .unwrap();
    if o.status.success() {
        assert!(stdout(&o).contains("10-builder.conf"), "{}", stdout(&o));
    }
}

// ---------------------------------------------------------------------------------------------
// Consumers built from source (ci/consumers/build.sh): containerd 2.3, crictl, the kubelet and
// kubeadm v1.36.3 (cri-dockerd v0.4.3 runs in the cri-dockerd section above).

fn source_built(what: &str, var: &str) -> Option<PathBuf> {
    consumer(
        &format!("{what} ({var}, built by ci/consumers/build.sh)"),
        env_path(var),
    )
}

/// The shipped `containerd` profile (Kubernetes 1.36, containerd 2.3.4: config version 4),
/// rendered from loopback artifacts.
fn render_shipped_containerd() -> (Upstream, Workspace, PathBuf) {
    let up = Upstream::start();
    let ws = Workspace::new();
    let test = up.containerd_profile("node", "2.2.7", "1.36");
    ws.write_profile(
        "node",
        &shipped_on_loopback("containerd", &test, &[("containerd", "2.3.4")]),
    );
    assert_ok(&ws.render("node", &[]));
    let root = ws.out().join("containerd-loopback/amd64/rootfs");
    (up, ws, root)
}

#[test]
fn containerd_23_runs_cri_with_the_shipped_profiles_version_4_config() {
    let Some(bin) = source_built("containerd 2.3.4", "BUILDER_CONTAINERD23") else {
        return;
    };
    assert!(version_of(&bin).contains("v2.3.4"), "{}", version_of(&bin));
    let (_up, _ws, root) = render_shipped_containerd();
    let config = root.join("etc/containerd/config.toml");
    assert!(read(&config).contains("version = 4"), "{}", read(&config));
    let (plugins, dump) = run_containerd(&bin, &config);
    for id in ["runtime", "images"] {
        assert!(plugin_ok(&plugins, "io.containerd.cri.v1", id), "{plugins}");
    }
    assert!(
        plugin_ok(&plugins, "io.containerd.grpc.v1", "cri"),
        "{plugins}"
    );
    assert!(dump.contains("SystemdCgroup = true"), "{dump}");
    assert!(
        dump.contains("sandbox = 'registry.k8s.io/pause:3.10.2'"),
        "{dump}"
    );
}

#[test]
fn containerd_23_checks_fail_on_a_broken_version_4_config() {
    // containerd 2.3.4 ignores keys it does not know, even version 3's top-level [grpc] in a
    // version 4 file (checked: no error, no warning), so "containerd reports it" cannot be the
    // control. These are: a version it does not know is refused, and CRI keys written in
    // version 2's sections do not reach the CRI plugin, which the dump check above catches.
    let Some(bin) = source_built("containerd 2.3.4", "BUILDER_CONTAINERD23") else {
        return;
    };
    let (_up, _ws, root) = render_shipped_containerd();
    let config = read(root.join("etc/containerd/config.toml"));
    let dir = tempfile::tempdir().unwrap();
    let v5 = dir.path().join("v5.toml");
    std::fs::write(&v5, config.replace("version = 4", "version = 5")).unwrap();
    let o = Command::new(&bin)
        .arg("--config")
        .arg(&v5)
        .args(["config", "dump"])
        .output()
        .unwrap();
    assert!(!o.status.success(), "containerd 2.3 accepted version 5");
    assert!(stderr(&o).contains("version"), "{}", stderr(&o));

    let misplaced = dir.path().join("v2-keys.toml");
    std::fs::write(
        &misplaced,
        "version = 4\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"example.invalid/pause:misplaced\"\n",
    )
    .unwrap();
    let dump = config_dump(&bin, &misplaced);
    assert!(
        !dump.contains("sandbox = 'example.invalid/pause:misplaced'"),
        "a version 2 key reached version 4's CRI images plugin:\n{dump}"
    );
}

/// `crictl info` (RuntimeReady) and `crictl version` through the rendered crictl.yaml against
/// containerd `bin` running the render's config.
fn crictl_against(crictl: &Path, bin: &Path, root: &Path) -> (bool, String) {
    let config = root.join("etc/containerd/config.toml");
    let daemon = Containerd::start(bin, &config);
    let yaml = daemon.crictl_yaml(
        &root.join("etc/crictl.yaml"),
        "unix:///var/run/containerd/containerd.sock",
    );
    let info = Command::new(crictl)
        .arg("--config")
        .arg(&yaml)
        .args(["info", "-o", "json"])
        .output()
        .unwrap();
    let version = Command::new(crictl)
        .arg("--config")
        .arg(&yaml)
        .arg("version")
        .output()
        .unwrap();
    let ready = info.status.success() && {
        let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        v["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "RuntimeReady" && c["status"] == true)
    };
    (
        ready,
        format!("{}{}{}", stdout(&version), stderr(&version), stderr(&info)),
    )
}

#[test]
fn crictl_talks_cri_to_containerd_16_21_and_23_through_the_rendered_files() {
    let Some(crictl) = source_built("crictl 1.37.0", "BUILDER_CRICTL") else {
        return;
    };
    let mut runs = Vec::new();
    if let Some(c16) = consumer("containerd 1.6 (Debian)", which("containerd")) {
        runs.push((c16, render("1.7.34", "1.30")));
    }
    if let Some(c21) = consumer(
        "containerd 2.1 (BUILDER_CONTAINERD2)",
        env_path("BUILDER_CONTAINERD2"),
    ) {
        runs.push((c21, render("2.1.9", "1.35")));
    }
    if let Some(c23) = source_built("containerd 2.3.4", "BUILDER_CONTAINERD23") {
        runs.push((c23, render_shipped_containerd()));
    }
    for (bin, (_up, _ws, root)) in &runs {
        let (ready, out) = crictl_against(&crictl, bin, root);
        let v = version_of(bin);
        assert!(ready, "{v}: crictl info is not RuntimeReady:\n{out}");
        assert!(out.contains("RuntimeName:  containerd"), "{v}: {out}");
    }
}

#[test]
fn crictl_fails_against_a_runtime_without_cri() {
    // The control: the cri-dockerd overlay's containerd config turns CRI off (the kubelet
    // talks to cri-dockerd there), so the same crictl call must fail against it.
    let (Some(crictl), Some(bin)) = (
        source_built("crictl 1.37.0", "BUILDER_CRICTL"),
        source_built("containerd 2.3.4", "BUILDER_CONTAINERD23"),
    ) else {
        return;
    };
    let (_up, _ws, dock_root) = render_docker("1.36");
    let daemon = Containerd::start(&bin, &dock_root.join("etc/containerd/config.toml"));
    let yaml = daemon.dir.path().join("crictl.yaml");
    std::fs::write(
        &yaml,
        format!(
            "runtime-endpoint: unix://{0}\nimage-endpoint: unix://{0}\ntimeout: 10\n",
            daemon.sock.display()
        ),
    )
    .unwrap();
    let info = Command::new(&crictl)
        .arg("--config")
        .arg(&yaml)
        .arg("info")
        .output()
        .unwrap();
    assert!(!info.status.success(), "crictl info worked without CRI");
    assert!(
        stderr(&info).contains("RuntimeService"),
        "{}",
        stderr(&info)
    );
}

/// The kubelet's arguments from a kubeadm-flags.env, as systemd gives `$KUBELET_KUBEADM_ARGS`
/// to 10-kubeadm.conf's ExecStart: the EnvironmentFile value unquoted, then split on blanks.
fn kubeadm_args(env_file: &str) -> Vec<String> {
    let line = env_file
        .lines()
        .find_map(|l| l.strip_prefix("KUBELET_KUBEADM_ARGS="))
        .unwrap_or_else(|| panic!("no KUBELET_KUBEADM_ARGS in {env_file:?}"));
    let mut value = String::new();
    let mut chars = line.trim().chars();
    match chars.next() {
        Some('"') => {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        }
        Some(c) => {
            value.push(c);
            value.extend(chars);
        }
        None => {}
    }
    value.split_whitespace().map(str::to_string).collect()
}

/// `kubelet ARGS --version`: the kubelet parses every flag before it acts on --version.
fn kubelet_version_with(kubelet: &Path, args: &[String]) -> std::process::Output {
    Command::new(kubelet)
        .args(args)
        .arg("--version")
        .output()
        .unwrap()
}

#[test]
fn the_kubelet_accepts_the_rendered_kubeadm_flags_and_refuses_removed_ones() {
    let Some(kubelet) = source_built("kubelet v1.36.3", "BUILDER_KUBELET") else {
        return;
    };
    let (_up, _ws, root) = render_shipped_containerd();
    let (_dup, _dws, dock_root) = render_docker("1.36");
    for root in [&root, &dock_root] {
        let env = read(root.join("var/lib/kubelet/kubeadm-flags.env"));
        let args = kubeadm_args(&env);
        assert!(args.len() >= 2, "{env}");
        let o = kubelet_version_with(&kubelet, &args);
        assert!(
            o.status.success() && stdout(&o).contains("Kubernetes v1.36.3"),
            "kubelet refused {args:?}:\n{}{}",
            stdout(&o),
            stderr(&o)
        );
    }
    // The old runbook's flag, removed in 1.27: the same call fails and names it.
    let mut old = kubeadm_args(&read(root.join("var/lib/kubelet/kubeadm-flags.env")));
    old.push("--container-runtime=remote".into());
    let o = kubelet_version_with(&kubelet, &old);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("unknown flag: --container-runtime"),
        "{}",
        stderr(&o)
    );
    // And a render for 1.30 (with --pod-infra-container-image, removed in 1.35) is refused
    // by a 1.36 kubelet: the flags must follow the minor.
    let (_u30, _w30, root30) = render("2.1.9", "1.30");
    let o = kubelet_version_with(
        &kubelet,
        &kubeadm_args(&read(root30.join("var/lib/kubelet/kubeadm-flags.env"))),
    );
    assert!(
        !o.status.success() && stderr(&o).contains("--pod-infra-container-image"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_kubelet_134_accepts_a_134_render_with_the_pause_flag() {
    // 1.34 is the last minor whose kubelet takes --pod-infra-container-image: builder writes
    // it there (with the endpoint), and kubeadm's pause image for 1.34.
    let Some(kubelet) = source_built("kubelet v1.34.4", "BUILDER_KUBELET_134") else {
        return;
    };
    let (_up, _ws, root) = render("2.1.9", "1.34");
    let args = kubeadm_args(&read(root.join("var/lib/kubelet/kubeadm-flags.env")));
    assert!(
        args.contains(&"--pod-infra-container-image=registry.k8s.io/pause:3.10.1".to_string()),
        "{args:?}"
    );
    let o = kubelet_version_with(&kubelet, &args);
    assert!(
        o.status.success() && stdout(&o).contains("Kubernetes v1.34.4"),
        "kubelet 1.34 refused {args:?}:\n{}{}",
        stdout(&o),
        stderr(&o)
    );
    // Control: the flag builder stopped writing in 1.26 is refused by 1.34 too.
    let mut old = args.clone();
    old.push("--container-runtime=remote".into());
    let o = kubelet_version_with(&kubelet, &old);
    assert!(
        !o.status.success() && stderr(&o).contains("unknown flag: --container-runtime"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn systemd_style_parsing_of_kubeadm_flags() {
    assert_eq!(
        kubeadm_args("KUBELET_KUBEADM_ARGS=\"--a=b  --c=\\\"d\\\"\"\n"),
        ["--a=b", "--c=\"d\""]
    );
    assert_eq!(kubeadm_args("X=1\nKUBELET_KUBEADM_ARGS=--e=f\n"), ["--e=f"]);
}

/// The JoinConfiguration the rendered user-data writes, as cloud-init would write it.
fn join_configuration(user_data: &Path, dir: &Path) -> PathBuf {
    const SCRIPT: &str = r#"
import gzip, sys, yaml
raw = open(sys.argv[1], "rb").read()
if raw[:2] == b"\x1f\x8b":
    raw = gzip.decompress(raw)
for f in yaml.safe_load(raw)["write_files"]:
    if f["path"] == "/etc/kubernetes/builder-join.yaml":
        open(sys.argv[2], "w").write(f["content"])
        break
else:
    sys.exit("no JoinConfiguration in the user-data")
"#;
    let out = dir.join("join.yaml");
    let o = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(user_data)
        .arg(&out)
        .output()
        .unwrap();
    assert_ok(&o);
    out
}

/// `kubeadm ARGS CONFIG`.
fn kubeadm_on(kubeadm: &Path, args: &[&str], config: &Path) -> std::process::Output {
    Command::new(kubeadm)
        .args(args)
        .arg(config)
        .output()
        .unwrap()
}

#[test]
fn kubeadm_validates_the_rendered_join_configuration_and_refuses_a_misspelled_one() {
    let Some(kubeadm) = source_built("kubeadm v1.36.3", "BUILDER_KUBEADM") else {
        return;
    };
    let validate =
        |config: &Path| kubeadm_on(&kubeadm, &["config", "validate", "--config"], config);
    let accepted = |config: &Path, what: &str| {
        let o = validate(config);
        assert!(
            o.status.success(),
            "{what}: kubeadm refused the JoinConfiguration:\n{}\n{}{}",
            read(config),
            stdout(&o),
            stderr(&o)
        );
    };
    // A negative control: `text` is refused, with `error` in the message.
    let refused = |dir: &Path, text: &str, what: &str, error: &str| {
        let bad = dir.join("bad.yaml");
        std::fs::write(&bad, text).unwrap();
        let o = validate(&bad);
        assert!(!o.status.success(), "{what} passed");
        assert!(stderr(&o).contains(error), "{what}: {}", stderr(&o));
    };
    let up = Upstream::start();
    let ws = Workspace::new();
    let join = ws.path().join("join.toml");
    let params = "api_server = \"10.0.0.10:6443\"\ntoken = \"abcdef.0123456789abcdef\"\n\
         ca_cert_hash = \"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\n";
    std::fs::write(&join, params).unwrap();
    let join_timeout = ws.path().join("join-timeout.toml");
    std::fs::write(
        &join_timeout,
        format!("{params}discovery_timeout = \"90s\"\n"),
    )
    .unwrap();
    // (output folder, profile, apiVersion, where the timeout goes, where the other version has it)
    for (name, profile, api, timeout, misplaced) in [
        (
            "containerd-loopback",
            shipped_on_loopback(
                "containerd",
                &up.containerd_profile("node", "2.2.7", "1.36"),
                &[("containerd", "2.3.4")],
            ),
            "v1beta4",
            "timeouts:\n  discovery: '90s'\n",
            "unknown field \"discovery.timeout\"",
        ),
        (
            "cri-dockerd-loopback",
            shipped_on_loopback("cri-dockerd", &up.cri_dockerd_profile("dock", "1.36"), &[]),
            "v1beta4",
            "timeouts:\n  discovery: '90s'\n",
            "unknown field \"discovery.timeout\"",
        ),
        // Kubernetes 1.30: v1beta3, which kubeadm 1.36 still reads (with a deprecation warning).
        (
            "node",
            up.containerd_profile("node", "1.7.34", "1.30"),
            "v1beta3",
            "  timeout: '90s'\nnodeRegistration:\n",
            "unknown field \"timeouts\"",
        ),
    ] {
        ws.write_profile(name, &profile);
        assert_ok(&ws.render(name, &["--join-config", join.to_str().unwrap()]));
        let dir = tempfile::tempdir().unwrap();
        let user_data = ws.out().join(name).join("amd64/user-data");
        let config = join_configuration(&user_data, dir.path());
        assert!(read(&config).contains(&format!("kubeadm.k8s.io/{api}\n")));
        accepted(&config, name);
        refused(
            dir.path(),
            &read(&config).replace("criSocket", "criSockett"),
            &format!("{name}: a misspelled field"),
            "unknown field \"nodeRegistration.criSockett\"",
        );

        // With a discovery timeout: accepted, and read as Timeouts.Discovery (`config
        // migrate` prints the internal value, Go-formatted: 90s is 1m30s).
        assert_ok(&ws.render(name, &["--join-config", join_timeout.to_str().unwrap()]));
        let with = dir.path().join("with-timeout");
        std::fs::create_dir(&with).unwrap();
        let config = join_configuration(&user_data, &with);
        let text = read(&config);
        assert!(text.contains(timeout), "{name}:\n{text}");
        accepted(&config, &format!("{name} with a discovery timeout"));
        let o = kubeadm_on(&kubeadm, &["config", "migrate", "--old-config"], &config);
        assert_ok(&o);
        assert!(
            stdout(&o).contains("\ntimeouts:\n") && stdout(&o).contains("\n  discovery: 1m30s\n"),
            "{name}: kubeadm did not read the discovery timeout:\n{}",
            stdout(&o)
        );
        // The negative controls: the other apiVersion's field, and a value without a unit.
        let other = if api == "v1beta4" {
            text.replace(timeout, "").replace(
                "nodeRegistration:\n",
                "  timeout: '90s'\nnodeRegistration:\n",
            )
        } else {
            format!(
                "{}timeouts:\n  discovery: '90s'\n",
                text.replace(timeout, "nodeRegistration:\n")
            )
        };
        refused(
            dir.path(),
            &other,
            &format!("{name}: a misplaced timeout"),
            misplaced,
        );
        refused(
            dir.path(),
            &text.replace("'90s'", "'90'"),
            &format!("{name}: a timeout without a unit"),
            "missing unit in duration \"90\"",
        );
    }
}

#[test]
fn the_rendered_pause_image_is_the_one_kubeadm_pulls() {
    let Some(kubeadm) = source_built("kubeadm v1.36.3", "BUILDER_KUBEADM") else {
        return;
    };
    let o = Command::new(&kubeadm)
        .args([
            "config",
            "images",
            "list",
            "--kubernetes-version",
            "v1.36.3",
        ])
        .output()
        .unwrap();
    assert_ok(&o);
    let pause = stdout(&o)
        .lines()
        .find(|l| l.contains("/pause:"))
        .unwrap_or_else(|| panic!("no pause image in:\n{}", stdout(&o)))
        .trim()
        .to_string();
    let (_up, _ws, root) = render_shipped_containerd();
    let config = read(root.join("etc/containerd/config.toml"));
    assert!(
        config.contains(&format!("sandbox = \"{pause}\"")),
        "containerd's sandbox is not kubeadm's {pause}:\n{config}"
    );
    let up = Upstream::start();
    let ws = Workspace::new();
    ws.write_profile(
        "dock",
        &shipped_on_loopback("cri-dockerd", &up.cri_dockerd_profile("dock", "1.36"), &[]),
    );
    assert_ok(&ws.render("dock", &[]));
    let dropin = read(ws.out().join(
        "cri-dockerd-loopback/amd64/rootfs/etc/systemd/system/cri-docker.service.d/10-builder.conf",
    ));
    assert!(
        dropin.contains(&format!("--pod-infra-container-image={pause}")),
        "cri-dockerd's pause image is not kubeadm's {pause}:\n{dropin}"
    );
}
