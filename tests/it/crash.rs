//! Concurrency and crashes: renders sharing a cache and an output folder wait for each other
//! and never interleave; a render killed while fetching or packing leaves garbage that the
//! next render removes; a full disk fails cleanly, leaving the output and the cache as they
//! were.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

pub(crate) const RUNC: &str = "/runc/v1.4.3/runc.amd64";

/// `builder render -p node --out dist ARGS` in the workspace, started, not waited for.
pub(crate) fn spawn(ws: &Workspace, args: &[&str]) -> Child {
    ws.command(&["render", "-p", "node", "--out", "dist"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Every file SHA256SUMS lists in `dir` has that digest.
#[track_caller]
fn sums_verify(dir: &Path) {
    let sums = read(dir.join("SHA256SUMS"));
    for name in ["overlay.tar.gz", "manifest.json", "user-data", "meta-data"] {
        assert!(
            sums.contains(&format!("  {name}\n")),
            "{name} not in {sums}"
        );
    }
    for line in sums.lines() {
        let (sha, name) = line.split_once("  ").unwrap();
        let bytes = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(sha256_hex(&bytes), sha, "{name} in {}", dir.display());
    }
}

pub(crate) fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Waits (up to 20 s) until `cond` holds.
pub(crate) fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never saw {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill(child: &mut Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let _ = child.wait();
}

#[test]
fn concurrent_renders_share_a_cache_and_an_output_folder() {
    let (_up, ws) = node_setup();
    for round in 0..5 {
        let n = if round % 2 == 0 { 4 } else { 2 };
        let children: Vec<Child> = (0..n).map(|_| spawn(&ws, &[])).collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert_ok(&o);
        }
        for arch in ["amd64", "arm64"] {
            sums_verify(&ws.out().join("node").join(arch));
        }
        assert_eq!(names_in(&ws.out()), ["node"]);
    }
    // Two renders of different arches at once: each keeps the other's arch.
    std::fs::remove_dir_all(ws.out()).unwrap();
    let a = spawn(&ws, &["--arch", "amd64"]);
    let b = spawn(&ws, &["--arch", "arm64"]);
    assert_ok(&a.wait_with_output().unwrap());
    assert_ok(&b.wait_with_output().unwrap());
    assert_eq!(names_in(&ws.out().join("node")), ["amd64", "arm64"]);
}

#[test]
fn a_render_of_one_arch_keeps_the_others_byte_for_byte() {
    let (_up, ws) = node_setup();
    assert_ok(&ws.render("node", &[]));
    let arm = snapshot(&ws.out().join("node/arm64"));
    assert_ok(&ws.render("node", &["--arch", "amd64"]));
    let arm_paths: Vec<_> = arm.iter().map(|(p, b)| (p.clone(), b.clone())).collect();
    assert_eq!(snapshot(&ws.out().join("node/arm64")), arm_paths);
}

/// Serves runc (amd64) a byte every 50 ms: a render stays in the middle of its download.
pub(crate) fn drip_runc(up: &Upstream) {
    up.server.route(
        RUNC,
        Behaviour::Drip(fake_bin("runc", "amd64"), Duration::from_millis(50)),
    );
}

pub(crate) fn partials(cache: &Path) -> Vec<String> {
    names_in(&cache.join("sha256-v1"))
        .into_iter()
        .filter(|n| n.ends_with(".partial"))
        .collect()
}

#[test]
fn a_render_killed_while_fetching_leaves_a_partial_the_next_render_removes() {
    // SIGKILL: SIGINT and SIGTERM are caught, and the render removes its own partial (`signals`).
    let (up, ws) = node_setup();
    drip_runc(&up);
    let mut child = spawn(&ws, &["--arch", "amd64"]);
    wait_for("a .partial in the cache", || {
        !partials(&ws.cache()).is_empty()
    });
    kill(&mut child, "-KILL");
    assert!(!partials(&ws.cache()).is_empty());
    up.server
        .route(RUNC, Behaviour::Ok(fake_bin("runc", "amd64")));
    assert_ok(&ws.render("node", &["--arch", "amd64"]));
    assert_eq!(partials(&ws.cache()), Vec::<String>::new());
}

/// Bytes that do not compress (so packing takes a while).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub(crate) fn staging_dirs(out: &Path) -> Vec<String> {
    names_in(out)
        .into_iter()
        .filter(|n| n.starts_with(".builder-staging-"))
        .collect()
}

#[test]
fn a_render_killed_while_packing_leaves_staging_the_next_render_removes() {
    let mut up = Upstream::start();
    let ws = Workspace::new();
    up.serve("runc", "amd64", RUNC, noise(48 << 20));
    ws.write_profile("node", &up.containerd_profile("node", "2.2.7", "1.36"));
    // Warm the cache so the killed render goes straight to building.
    assert_ok(&ws.render("node", &["--arch", "amd64"]));
    let before = snapshot(&ws.out());
    let mut child = spawn(&ws, &["--arch", "amd64", "--force"]);
    wait_for("a staging folder", || !staging_dirs(&ws.out()).is_empty());
    std::thread::sleep(Duration::from_millis(300));
    kill(&mut child, "-KILL");
    let left = staging_dirs(&ws.out());
    assert!(!left.is_empty(), "the kill came too late to test anything");
    // The previous output is still whole.
    let now: Vec<(PathBuf, Vec<u8>)> = snapshot(&ws.out())
        .into_iter()
        .filter(|(p, _)| !p.to_string_lossy().contains(".builder-staging-"))
        .collect();
    assert_eq!(
        now.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        before.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    assert_ok(&ws.render("node", &["--arch", "amd64"]));
    assert_eq!(staging_dirs(&ws.out()), Vec::<String>::new());
    sums_verify(&ws.out().join("node/amd64"));
}

#[test]
fn a_full_disk_leaves_output_and_cache_clean() {
    let mut up = Upstream::start();
    let ws = Workspace::new();
    up.serve("runc", "amd64", RUNC, noise(3 << 20));
    ws.write_profile("node", &up.containerd_profile("node", "2.2.7", "1.36"));

    // The output folder on a 2 MiB filesystem: the rootfs does not fit.
    let Some(small) = Tmpfs::mount(ws.out(), "2m") else {
        skip_or_fail("mounting a tmpfs (needs root) for the full-disk test");
        return;
    };
    let o = ws.render("node", &["--arch", "amd64"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("No space left on device"),
        "{}",
        stderr(&o)
    );
    assert_eq!(names_in(&ws.out()), Vec::<String>::new());
    drop(small);

    // The cache on a 2 MiB filesystem: the download does not fit.
    let cache = ws.path().join("small-cache");
    let Some(_small_cache) = Tmpfs::mount(cache.clone(), "2m") else {
        skip_or_fail("mounting a tmpfs (needs root) for the full-disk test");
        return;
    };
    let o = ws.run_env(
        &["render", "-p", "node", "--out", "dist", "--arch", "amd64"],
        &[("BUILDER_CACHE_DIR", cache.to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("No space left"), "{}", stderr(&o));
    let left: Vec<String> = names_in(&cache.join("sha256-v1"))
        .into_iter()
        .filter(|n| n.ends_with(".partial") || n.starts_with(up.pin("runc", "amd64")))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(!ws.out().join("node").exists());
}

/// The staging folders in `out`.
fn staging_folders(out: &Path) -> Vec<PathBuf> {
    names_in(out)
        .into_iter()
        .filter(|n| n.starts_with(".builder-staging-"))
        .map(|n| out.join(n))
        .collect()
}

#[test]
fn a_previous_output_that_cannot_be_removed_is_reported_not_fatal() {
    let (_up, ws) = node_setup();
    let render = |extra: &[&str]| ws.render("node", &[&["--arch", "amd64"], extra].concat());
    assert_ok(&render(&[]));
    // A filesystem mounted inside the previous output, with a file of its own.
    let mnt = ws.out().join("node/amd64/rootfs/mnt-busy");
    let Some(mounted) = Tmpfs::mount(mnt, "1m") else {
        skip_or_fail("mounting a tmpfs (needs root) for the busy-mount test");
        return;
    };
    std::mem::forget(mounted); // it moves with the old tree; unmounted below by its new path
    std::fs::write(ws.out().join("node/amd64/rootfs/mnt-busy/keep"), "mine").unwrap();

    let o = render(&["--force"]);
    assert_ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("the new output is in place, but the previous one was not wholly removed"),
        "{err}"
    );
    assert!(err.contains("a mount point, not crossed"), "{err}");
    assert!(!ws.out().join("node/amd64/rootfs/mnt-busy").exists());
    assert_ok(&ws.run(&["verify", ws.out().join("node/amd64").to_str().unwrap()]));
    let left = staging_folders(&ws.out());
    assert_eq!(left.len(), 1, "{left:?}");
    let moved = left[0].join("node/amd64/rootfs/mnt-busy");
    assert_eq!(
        read(moved.join("keep")),
        "mine",
        "nothing removed across the mount"
    );

    // The next render is not blocked by it: a warning, exit 0.
    let o = render(&["--force"]);
    assert_ok(&o);
    assert!(
        stderr(&o).contains("warning: cannot remove"),
        "{}",
        stderr(&o)
    );

    // Unmounted, the next render's sweep removes it silently (the negative control).
    assert!(Command::new("umount")
        .arg(&moved)
        .status()
        .unwrap()
        .success());
    let o = render(&["--force"]);
    assert_ok(&o);
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    assert_eq!(staging_folders(&ws.out()), Vec::<PathBuf>::new());
}
