//! The first-boot self-check (`builder-node-check`) run by sh and bash with test doubles: a stub
//! `kubelet` that prints a version, a stub `apparmor_parser`, and a fake sysfs folder given as
//! `BUILDER_SYSFS`. PATH holds only the stubs (the script needs nothing but shell builtins), so
//! what the host has installed does not matter.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use builder::bootstrap::cloudinit::node_check_script;
use builder::util::model::KubeMinor;

use crate::common::which;

/// What one run printed and how it ended.
struct Check {
    ok: bool,
    stderr: String,
    console: String,
}

fn stub(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs `script` with `shell`: `kubelet` (a stub printing that line, or none), a stub
/// `apparmor_parser` or none, and AppArmor's sysfs switch reading `apparmor` (or absent).
fn run(
    shell: &str,
    script: &str,
    kubelet: Option<&str>,
    apparmor_parser: bool,
    apparmor: Option<&str>,
) -> Check {
    let work = tempfile::tempdir().unwrap();
    let stubs = work.path().join("stubs");
    std::fs::create_dir(&stubs).unwrap();
    if let Some(line) = kubelet {
        stub(&stubs, "kubelet", &format!("echo '{line}'"));
    }
    if apparmor_parser {
        stub(&stubs, "apparmor_parser", "exit 0");
    }
    let sysfs = work.path().join("sys");
    if let Some(v) = apparmor {
        let dir = sysfs.join("module/apparmor/parameters");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("enabled"), format!("{v}\n")).unwrap();
    }
    let file = work.path().join("builder-node-check");
    std::fs::write(&file, script).unwrap();
    let console = work.path().join("console");
    std::fs::write(&console, "").unwrap();
    let out = Command::new(which(shell).unwrap())
        .arg(&file)
        .env_clear()
        .env("PATH", &stubs)
        .env("BUILDER_SYSFS", &sysfs)
        .env("BUILDER_CONSOLE", &console)
        .output()
        .unwrap();
    assert!(out.stdout.is_empty(), "{shell}: stdout");
    Check {
        ok: out.status.success(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        console: std::fs::read_to_string(&console).unwrap(),
    }
}

fn shells() -> Vec<&'static str> {
    ["sh", "bash"]
        .into_iter()
        .filter(|s| which(s).is_some())
        .collect()
}

/// A failure (or warning) is exactly one line, on stderr and on the console alike.
fn one_line(c: &Check, start: &str) {
    assert_eq!(c.stderr.lines().count(), 1, "{}", c.stderr);
    assert!(c.stderr.starts_with(start), "{}", c.stderr);
    assert_eq!(c.console, c.stderr);
}

/// The user-data chapter quotes the line exactly as the script prints it.
fn documented(c: &Check) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/cloud-init.md");
    let doc = std::fs::read_to_string(path).unwrap();
    assert!(
        doc.contains(&format!("\n  {}", c.stderr)),
        "docs/src/cloud-init.md does not quote: {}",
        c.stderr
    );
}

#[test]
fn the_kubelet_minor_must_match_the_profile() {
    let script = node_check_script("node", KubeMinor(23), None);
    for shell in shells() {
        // Positive: the profile's minor, in kubelet's own format and with a vendor suffix.
        for line in ["Kubernetes v1.23.17", "Kubernetes v1.23.0-eks-1234"] {
            let c = run(shell, &script, Some(line), false, None);
            assert!(c.ok && c.stderr.is_empty(), "{shell} {line}: {}", c.stderr);
        }
        // Negative control: another minor fails with the one line the docs quote.
        let c = run(shell, &script, Some("Kubernetes v1.27.3"), false, None);
        assert!(!c.ok, "{shell}: a 1.27 kubelet passed");
        one_line(
            &c,
            "builder-node-check: this node's kubelet is v1.27.3 (minor 1.27) but the overlay was rendered for Kubernetes 1.23; use a base image with kubelet 1.23 or render with --kubernetes 1.27",
        );
        documented(&c);
        // 1.2 is not 1.23.
        let c = run(shell, &script, Some("Kubernetes v1.2.0"), false, None);
        assert!(!c.ok && c.stderr.contains("(minor 1.2)"), "{shell}");
    }
}

#[test]
fn no_kubelet_or_an_unreadable_version_fails() {
    let script = node_check_script("node", KubeMinor(23), None);
    for shell in shells() {
        let c = run(shell, &script, None, false, None);
        assert!(!c.ok, "{shell}: no kubelet passed");
        one_line(&c, "builder-node-check: no kubelet on this node (PATH=");
        assert!(
            c.stderr.contains("use a base image with kubelet 1.23\n"),
            "{}",
            c.stderr
        );
        let c = run(shell, &script, Some("kubelet: segfault"), false, None);
        assert!(!c.ok, "{shell}: garbage passed");
        one_line(&c, "builder-node-check: cannot read the version of ");
    }
}

#[test]
fn apparmor_without_its_parser_fails_before_docker_23_0_1_and_warns_after() {
    let old = node_check_script("node", KubeMinor(30), Some("20.10.24"));
    let new = node_check_script("node", KubeMinor(30), Some("28.3.3"));
    let kubelet = Some("Kubernetes v1.30.2");
    for shell in shells() {
        // Negative control for the fake sysfs: enabled, no parser, old Docker: the boot stops.
        let c = run(shell, &old, kubelet, false, Some("Y"));
        assert!(!c.ok, "{shell}: old Docker without apparmor_parser passed");
        one_line(
            &c,
            "builder-node-check: the kernel has AppArmor enabled but apparmor_parser is missing: Docker Engine 20.10.24 cannot start containers without it;",
        );
        documented(&c);
        // The parser there, AppArmor off, or no AppArmor module at all: silent.
        for (parser, enabled) in [(true, Some("Y")), (false, Some("N")), (false, None)] {
            let c = run(shell, &old, kubelet, parser, enabled);
            assert!(c.ok && c.stderr.is_empty(), "{shell}: {}", c.stderr);
        }
        // Docker 23.0.1 and later start containers unconfined: one warning line, no failure.
        let c = run(shell, &new, kubelet, false, Some("Y"));
        assert!(c.ok, "{shell}: {}", c.stderr);
        one_line(
            &c,
            "builder-node-check: warning: the kernel has AppArmor enabled but apparmor_parser is missing: Docker Engine 28.3.3 runs containers",
        );
        documented(&c);
        // The kubelet check still comes first.
        let c = run(shell, &new, Some("Kubernetes v1.31.0"), true, None);
        assert!(!c.ok && c.stderr.contains("(minor 1.31)"), "{shell}");
    }
}
