//! Ctrl-C and `kill`: a render stopped by SIGINT or SIGTERM while it downloads removes its
//! staging folder and its `.partial` files, says so in one line, exits 130 or 143, leaves the
//! previous output as it was and, on a terminal, no half-drawn bar. SIGKILL cannot be caught:
//! it leaves both, and the next render removes them even when it downloads nothing.
//!
//! The signals go to the child only (`kill_process`): this test process keeps its dispositions.

use std::path::PathBuf;
use std::process::{Child, Output};
use std::time::Duration;

use rustix::process::{kill_process, Pid, Signal};

use crate::common::*;
use crate::crash::{drip_runc, partials, spawn, staging_dirs, wait_for, RUNC};

/// A workspace with a previous amd64 output and a cache holding every artifact but runc, which
/// the server now drips: the returned render (`--force`) is in the middle of downloading it.
fn render_mid_download() -> (Upstream, Workspace, Child, Vec<(PathBuf, Vec<u8>)>) {
    let (up, ws) = node_setup();
    assert_ok(&ws.render("node", &["--arch", "amd64"]));
    let before = snapshot(&ws.out());
    let runc = ws.cache().join("sha256-v1").join(up.pin("runc", "amd64"));
    std::fs::remove_file(&runc).unwrap();
    drip_runc(&up);
    let child = spawn(&ws, &["--arch", "amd64", "--force"]);
    // A .partial with bytes in it: the download is under way, so the render has registered
    // the file for removal (the file exists a moment before that; a signal in that moment,
    // seen on a loaded machine, finds nothing registered yet).
    wait_for("a staging folder and a .partial with bytes", || {
        !staging_dirs(&ws.out()).is_empty()
            && partials(&ws.cache()).iter().any(|p| {
                std::fs::metadata(ws.cache().join("sha256-v1").join(p)).is_ok_and(|m| m.len() > 0)
            })
    });
    (up, ws, child, before)
}

fn signal(child: &Child, sig: Signal) {
    kill_process(Pid::from_child(child), sig).unwrap();
}

/// What a render stopped by a signal left: nothing in OUT but the previous output, no
/// `.partial` in the cache, and its one line last on stderr.
#[track_caller]
fn assert_cleaned_up(ws: &Workspace, o: &Output, before: &[(PathBuf, Vec<u8>)], name: &str) {
    let err = stderr(o);
    let last = err.lines().last().unwrap_or_default();
    let want = format!(
        "interrupted ({name}): render of profile node stopped; removed its staging folder {}",
        ws.out().join(".builder-staging-").display()
    );
    assert!(last.starts_with(&want), "{err}");
    assert!(last.contains(" and 1 partial download"), "{err}");
    assert_eq!(err.matches("interrupted").count(), 1, "{err}");
    assert_eq!(staging_dirs(&ws.out()), Vec::<String>::new());
    assert_eq!(partials(&ws.cache()), Vec::<String>::new());
    assert_eq!(snapshot(&ws.out()), before, "the previous output changed");
}

#[test]
fn sigint_and_sigterm_remove_staging_and_partials_and_exit_130_and_143() {
    for (sig, code, name) in [(Signal::INT, 130, "SIGINT"), (Signal::TERM, 143, "SIGTERM")] {
        let (_up, ws, child, before) = render_mid_download();
        signal(&child, sig);
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
        assert_cleaned_up(&ws, &o, &before, name);
    }
}

#[test]
fn sigkill_leaves_both_and_a_render_that_downloads_nothing_removes_them() {
    let (up, ws, mut child, before) = render_mid_download();
    signal(&child, Signal::KILL);
    let _ = child.wait();
    assert_eq!(staging_dirs(&ws.out()).len(), 1);
    assert_eq!(partials(&ws.cache()).len(), 1);
    // The previous output is up to date: this render fetches nothing (the server would only
    // drip) and never opens the cache for writing, yet removes both leftovers.
    let o = ws.render("node", &["--arch", "amd64"]);
    assert_ok(&o);
    assert!(
        stderr(&o).contains("up to date: node amd64"),
        "{}",
        stderr(&o)
    );
    assert_eq!(staging_dirs(&ws.out()), Vec::<String>::new());
    assert_eq!(partials(&ws.cache()), Vec::<String>::new());
    assert_eq!(snapshot(&ws.out()), before);
    assert_eq!(
        up.server.hits(RUNC),
        2,
        "the first render and the killed one"
    );
}

#[test]
fn sigint_on_a_terminal_clears_the_bars() {
    let (up, ws) = node_setup();
    drip_runc(&up);
    let args = ["render", "-p", "node", "--arch", "amd64", "--out", "dist"];
    let (child, reader) = crate::progress::spawn_on_pty(&ws, &args);
    wait_for("a .partial in the cache", || {
        !partials(&ws.cache()).is_empty()
    });
    // Let a bar be drawn first.
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, Signal::INT);
    let mut child = child;
    let code = child.wait().unwrap().code();
    let tty = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    assert_eq!(code, Some(130), "{tty:?}");
    let (drawn, last) = tty
        .rsplit_once("interrupted (SIGINT): render of profile node stopped; ")
        .unwrap_or_else(|| panic!("no interrupted line: {tty:?}"));
    assert!(
        drawn.contains("runc 1.4.3 (amd64)"),
        "no bar was drawn: {tty:?}"
    );
    // The bar was erased (erase-line) just before the line, and nothing is drawn after it.
    let tail = &drawn[drawn.rfind("runc 1.4.3 (amd64)").unwrap()..];
    assert!(
        tail.ends_with("\x1b[2K"),
        "the bar was not erased: {tail:?}"
    );
    assert!(last.starts_with("removed its staging folder "), "{last:?}");
    assert!(!last.contains('\x1b'), "drawn after the line: {last:?}");
    assert_eq!(last.matches('\n').count(), 1, "{last:?}");
}
