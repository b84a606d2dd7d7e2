//! The rendered files checked by the programs that read them on a node: containerd 1.x (config
//! version 2), containerd 2.x (version 3) and systemd-analyze. `ci/test.sh` provides every
//! consumer and sets BUILDER_REQUIRE_CONSUMERS=1, so a missing one fails there; under a plain
//! `cargo test` a missing consumer is skipped and the test says so on stderr.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

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

/// Starts containerd with `config` under a temp dir, returns `ctr plugins ls` and `config dump`.
fn run_containerd(bin: &Path, config: &Path) -> (String, String) {
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("c.sock");
    let log = std::fs::File::create(tmp.path().join("log")).unwrap();
    let daemon = Daemon(
        Command::new(bin)
            .arg("--config")
            .arg(config)
            .arg("--root")
            .arg(tmp.path().join("root"))
            .arg("--state")
            .arg(tmp.path().join("state"))
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
            std::fs::read_to_string(tmp.path().join("log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ctr = bin.with_file_name("ctr");
    let plugins = Command::new(&ctr)
        .arg("--address")
        .arg(&sock)
        .args(["plugins", "ls"])
        .output()
        .unwrap();
    assert_ok(&plugins);
    drop(daemon);
    let dump = Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(["config", "dump"])
        .output()
        .unwrap();
    assert_ok(&dump);
    (stdout(&plugins), stdout(&dump))
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
        std::env::var_os("BUILDER_CONTAINERD1")
            .map(PathBuf::from)
            .or_else(|| which("containerd")),
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
    let (_up, _ws, root) = render("1.7.34", "1.30");
    let config = root.join("etc/containerd/config.toml");
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .contains("version = 2"));
    let (plugins, dump) = run_containerd(&bin, &config);
    assert!(
        plugin_ok(&plugins, "io.containerd.grpc.v1", "cri"),
        "{v}: cri is not ok:\n{plugins}"
    );
    assert!(dump.contains("SystemdCgroup = true"), "{dump}");
    assert!(
        dump.contains("sandbox_image = \"registry.k8s.io/pause:3.9\""),
        "{dump}"
    );
    assert!(
        dump.contains("config_path = \"/etc/containerd/certs.d\""),
        "{dump}"
    );
}

#[test]
fn containerd_2x_runs_cri_with_the_version_3_config() {
    let Some(bin) = consumer(
        "containerd 2.x (BUILDER_CONTAINERD2)",
        std::env::var_os("BUILDER_CONTAINERD2").map(PathBuf::from),
    ) else {
        return;
    };
    let (_up, _ws, root) = render("2.1.9", "1.36");
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
        dump.contains("sandbox = 'registry.k8s.io/pause:3.10.2'"),
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
        std::env::var_os("BUILDER_CONTAINERD2").map(PathBuf::from),
    ) else {
        return;
    };
    let (_up, _ws, root) = render("2.1.9", "1.36");
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
pub fn verify_root(rootfs: &Path) -> tempfile::TempDir {
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
    let (_up, _ws, rootfs) = render("2.1.9", "1.36");
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

// ---------------------------------------------------------------------------------------------
// The cri-dockerd runtime.

fn render_docker(kube: &str) -> (Upstream, Workspace, PathBuf) {
    let up = Upstream::start();
    let ws = Workspace::new();
    ws.write_profile("dock", &up.cri_dockerd_profile("dock", kube));
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
        std::env::var_os("BUILDER_DOCKERD28").map(PathBuf::from),
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

#[test]
fn systemd_accepts_the_docker_units_and_the_dropins_override_execstart() {
    if consumer("systemd-analyze", which("systemd-analyze")).is_none() {
        return;
    }
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
