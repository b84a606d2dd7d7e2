//! Files that never end: every file builder reads may be a FIFO, a device or a link to one.
//! Each case builds the hostile file in the test and runs the real binary with a deadline: it
//! must finish, fail with a message naming what it found, and not hang or eat memory. Beside
//! each, the same command on the regular file passes (the negative control).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::crash::names_in;
use crate::uptodate::mkfifo;

/// Runs `cmd`, killing it (and failing the test) if it takes over 60 s.
fn bounded(cmd: &mut Command) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{cmd:?} still runs after 60 s: it blocks on a hostile file");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Replaces the file at `path` with a FIFO ("fifo") or a link to /dev/zero ("zero").
fn make_hostile(path: &Path, how: &str) {
    let _ = std::fs::remove_file(path);
    match how {
        "fifo" => mkfifo(path),
        _ => std::os::unix::fs::symlink("/dev/zero", path).unwrap(),
    }
}

fn found(how: &str) -> &'static str {
    match how {
        "fifo" => "found a FIFO",
        _ => "found a character device",
    }
}

fn assert_refused(o: &Output, how: &str, what: &str) {
    assert_eq!(o.status.code(), Some(1), "{what} ({how}): {}", stderr(o));
    let text = format!("{}{}", stdout(o), stderr(o));
    assert!(text.contains(found(how)), "{what} ({how}): {text}");
}

#[test]
fn verify_and_diff_refuse_what_is_not_a_regular_file() {
    let (_up, ws) = node_setup();
    let (sk, pk) = minisign_keys(ws.path(), "k", None);
    let sign = ["--sign-key", sk.to_str().unwrap()];
    ws.render_amd64("node", "dist", &sign, &[]);
    let d = ws.path().join("dist/node/amd64");
    let verify = |d: &Path| {
        bounded(&mut ws.command(&["verify", d.to_str().unwrap(), "--key", pk.to_str().unwrap()]))
    };
    assert_ok(&verify(&d));
    for name in [
        "SHA256SUMS",
        "SHA256SUMS.minisig",
        "manifest.json",
        "sbom.spdx.json",
        "provenance.intoto.json",
        "overlay.tar.gz",
    ] {
        for how in ["fifo", "zero"] {
            let copy = ws.path().join(format!("copy-{how}-{name}"));
            copy_tree(&d, &copy);
            make_hostile(&copy.join(name), how);
            assert_refused(&verify(&copy), how, name);
        }
    }
    // diff reads manifests and the rootfs files it shows.
    for how in ["fifo", "zero"] {
        let copy = ws.path().join(format!("diff-{how}"));
        copy_tree(&d, &copy);
        make_hostile(&copy.join("manifest.json"), how);
        let o = bounded(&mut ws.command(&["diff", d.to_str().unwrap(), copy.to_str().unwrap()]));
        assert_refused(&o, how, "diff's manifest");
    }
}

#[test]
fn keys_profiles_and_file_urls_that_are_not_regular_files_are_refused() {
    let (up, ws) = node_setup();
    let hostile = ws.path().join("hostile");
    std::fs::create_dir(&hostile).unwrap();
    for how in ["fifo", "zero"] {
        let f = hostile.join(format!("key-{how}"));
        make_hostile(&f, how);
        let mut cmd = ws.command(&[
            "render",
            "-p",
            "node",
            "--arch",
            "amd64",
            "--out",
            "d",
            "--sign-key",
            f.to_str().unwrap(),
        ]);
        assert_refused(&bounded(&mut cmd), how, "--sign-key");

        let f = hostile.join(format!("profile-{how}.toml"));
        make_hostile(&f, how);
        let mut cmd = ws.command(&["render", "-p", f.to_str().unwrap(), "--out", "d"]);
        assert_refused(&bounded(&mut cmd), how, "--profile");

        // runc from a file:// URL that is a FIFO or /dev/zero (which would fill the cache).
        make_hostile(&hostile.join("runc.amd64"), how);
        let text = up.containerd_profile("local", "2.2.7", "1.36");
        let text: String = text
            .lines()
            .map(
                |l| match l.starts_with("url = \"http://") && l.contains("/runc/v") {
                    true => format!("url = \"file://{}/runc.{{arch}}\"", hostile.display()),
                    false => l.to_string(),
                },
            )
            .collect::<Vec<_>>()
            .join("\n");
        ws.write_profile("local", &text);
        let mut cmd = ws.command(&[
            "render",
            "-p",
            "local",
            "--arch",
            "amd64",
            "--out",
            "d",
            "--retries",
            "1",
        ]);
        let o = bounded(&mut cmd);
        assert_refused(&o, how, "a file:// artifact");
        let cache = names_in(&ws.cache().join("sha256-v1"));
        assert!(cache.iter().all(|n| !n.ends_with(".partial")), "{cache:?}");
    }
    // The negative control: the same render with the regular key and profile passes.
    let (sk, _) = minisign_keys(ws.path(), "k", None);
    ws.render_amd64("node", "ok", &["--sign-key", sk.to_str().unwrap()], &[]);
}

/// Copies the arch folder `from` to `to` (rootfs/ included, links as links).
fn copy_tree(from: &Path, to: &Path) {
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}
