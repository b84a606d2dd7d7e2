//! What a render shows while it runs: bars redrawn in place on a terminal (a real pty), one
//! plain line per step in a log (pipes), nothing with `-q`, the request/cache log with `-v`
//! and `RUST_LOG`; and `BUILDER_OFFLINE`'s yes/no values.

use std::fs::File;
use std::io::Read;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::*;

/// A workspace whose runc (amd64) trickles in for about a second, so bars get drawn.
fn slow_setup() -> (Upstream, Workspace) {
    let mut up = Upstream::start();
    let path = "/runc/v1.4.3/runc.amd64";
    let body: Vec<u8> = fake_bin("runc", "amd64")
        .into_iter()
        .chain(std::iter::repeat_n(b'#', 250))
        .collect();
    up.serve("runc", "amd64", path, body.clone());
    up.server
        .route(path, Behaviour::Drip(body, Duration::from_millis(4)));
    let ws = Workspace::new();
    ws.write_profile("node", &up.containerd_profile("node", "2.2.7", "1.36"));
    (up, ws)
}

/// Runs `builder ARGS` in `ws` with stdin, stdout and stderr on a fresh pty (120x30);
/// returns the exit code and everything the terminal received.
fn run_on_pty(ws: &Workspace, args: &[&str]) -> (Option<i32>, String) {
    run_on_pty_env(ws, args, &[])
}

/// [`run_on_pty`] with `env` on top.
fn run_on_pty_env(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let (mut child, reader) = spawn_on_pty_env(ws, args, env);
    let status = child.wait().unwrap();
    let out = reader.join().unwrap();
    (status.code(), String::from_utf8_lossy(&out).into_owned())
}

/// Starts `builder ARGS` in `ws` on a fresh pty (120x30); the thread returns everything the
/// terminal received once the child has exited.
pub(crate) fn spawn_on_pty(
    ws: &Workspace,
    args: &[&str],
) -> (Child, std::thread::JoinHandle<Vec<u8>>) {
    spawn_on_pty_env(ws, args, &[])
}

fn spawn_on_pty_env(
    ws: &Workspace,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Child, std::thread::JoinHandle<Vec<u8>>) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    rustix::termios::tcsetwinsize(
        &master,
        rustix::termios::Winsize {
            ws_row: 30,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
    .unwrap();
    let slave = File::options()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    let mut cmd = ws.command(args);
    cmd.envs(env.iter().copied())
        .env("TERM", "xterm")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    let child = cmd.spawn().unwrap();
    // Our copies of the slave end must go, or the master never sees the end.
    drop(cmd);
    let mut master = File::from(master);
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once the child (the last holder of the slave) exits.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    });
    (child, reader)
}

#[test]
fn bars_on_a_terminal_plain_lines_in_a_log() {
    let (_up, ws) = slow_setup();
    let args = [
        "render", "-p", "node", "--arch", "amd64", "--out", "dist", "--force",
    ];
    let (code, tty) = run_on_pty(&ws, &args);
    assert_eq!(code, Some(0), "{tty}");
    // indicatif redraws in place: carriage returns and cursor/erase sequences, and the bar.
    assert!(
        tty.contains('\r') && tty.contains("\x1b["),
        "no redraws: {tty:?}"
    );
    assert!(
        tty.contains("runc 1.4.3 (amd64)") && tty.contains("=>"),
        "no download bar: {tty:?}"
    );
    assert!(tty.contains("B/s"), "no rate: {tty:?}");
    assert!(tty.contains("rendered node amd64"), "{tty:?}");

    // The same render into a pipe (a CI log): one plain line per step, no control bytes.
    std::fs::remove_dir_all(ws.cache()).unwrap();
    let o = ws.run(&args);
    assert_ok(&o);
    let log = stderr(&o);
    assert!(!log.contains('\r') && !log.contains('\x1b'), "{log:?}");
    assert!(!log.contains("=>"), "{log:?}");
    for want in [
        "fetched  runc 1.4.3 (amd64, ",
        "installed amd64: 5 artifacts in ",
        "packed   amd64: overlay.tar.gz ",
        "rendered node amd64 -> ",
    ] {
        assert_eq!(
            log.lines().filter(|l| l.starts_with(want)).count(),
            1,
            "want one line starting {want:?} in:\n{log}"
        );
    }
    // A small file's size in its own unit, never "0.0 MB".
    assert!(!log.contains("0.0 MB"), "{log}");
    let runc = log
        .lines()
        .find(|l| l.starts_with("fetched  runc"))
        .unwrap();
    assert!(
        runc.contains(" B in ") || runc.contains(" kB in "),
        "{runc}"
    );
    let runc = log.lines().find(|l| l.contains("runc 1.4.3")).unwrap();
    let took: f64 = runc
        .split(" in ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no time in {runc:?}"));
    assert!(took >= 0.5, "the drip takes about a second: {runc}");
}

#[test]
fn quiet_is_silent_on_a_terminal_and_in_a_log() {
    let (_up, ws) = slow_setup();
    let args = [
        "render", "-q", "-p", "node", "--arch", "amd64", "--out", "dist",
    ];
    let (code, tty) = run_on_pty(&ws, &args);
    assert_eq!(code, Some(0), "{tty}");
    assert_eq!(tty, "", "-q on a terminal");
    std::fs::remove_dir_all(ws.cache()).unwrap();
    let o = ws.run(&args);
    assert_ok(&o);
    assert_eq!(stderr(&o), "");
    assert_eq!(stdout(&o), "");
    // Warnings still show with -q: a retry line.
    let path = "/runc/v1.4.3/runc.amd64";
    let (up2, ws2) = node_setup();
    up2.server.route(
        path,
        Behaviour::FailFirst {
            times: 1,
            status: 503,
            body: fake_bin("runc", "amd64"),
        },
    );
    let o = ws2.run(&args);
    assert_ok(&o);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("retry: runc 1.4.3 (amd64)"), "{err}");
}

#[test]
fn verbose_and_rust_log_show_requests_and_cache_decisions() {
    let (up, ws) = slow_setup();
    let args = [
        "render", "-p", "node", "--arch", "amd64", "--out", "dist", "--force",
    ];
    let o = ws.run(&[&args[..], &["-v"]].concat());
    assert_ok(&o);
    let log = stderr(&o);
    let runc = format!(
        "GET {} (attempt 1 of 4)",
        up.server.url("/runc/v1.4.3/runc.amd64")
    );
    assert!(log.contains(&runc), "{log}");
    assert!(
        log.contains("cache miss: runc 1.4.3 (amd64) sha256 "),
        "{log}"
    );
    assert!(!log.contains("cache hit"), "{log}");
    // Warm: every artifact is a hit, and nothing is requested.
    let o = ws.run_env(&args, &[("RUST_LOG", "builder=debug")]);
    assert_ok(&o);
    let log = stderr(&o);
    assert!(
        log.contains("cache hit: runc 1.4.3 (amd64) sha256 "),
        "{log}"
    );
    assert!(!log.contains("GET "), "{log}");
    // Without -v or RUST_LOG: neither.
    let o = ws.run(&args);
    assert_ok(&o);
    let log = stderr(&o);
    assert!(
        !log.contains("cache hit") && !log.contains("DEBUG"),
        "{log}"
    );
    assert!(log.contains("cached   runc 1.4.3 (amd64)"), "{log}");
}

#[test]
fn builder_offline_takes_yes_no_values_and_names_itself_when_wrong() {
    let (mut up, ws) = slow_setup();
    let args = [
        "render", "-p", "node", "--arch", "amd64", "--out", "dist", "--force",
    ];
    assert_ok(&ws.run(&args));
    up.server.stop();
    for yes in ["1", "true", "TRUE", "yes", "Yes"] {
        let o = ws.run_env(&args, &[("BUILDER_OFFLINE", yes)]);
        assert_ok(&o);
    }
    // Offline with a cold cache: the miss is reported, so the variable really took effect.
    let cold = ws.path().join("cold");
    let o = ws.run_env(
        &args,
        &[
            ("BUILDER_OFFLINE", "1"),
            ("BUILDER_CACHE_DIR", cold.to_str().unwrap()),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("are not in the cache"),
        "{}",
        stderr(&o)
    );
    // 0 / false / no: online, so the stopped server is needed and missed.
    for no in ["0", "false", "NO"] {
        let o = ws.run_env(
            &[&args[..], &["--retries", "1"]].concat(),
            &[
                ("BUILDER_OFFLINE", no),
                ("BUILDER_CACHE_DIR", cold.to_str().unwrap()),
            ],
        );
        assert_eq!(o.status.code(), Some(1), "{no}");
        assert!(stderr(&o).contains("cannot reach"), "{no}: {}", stderr(&o));
    }
    let o = ws.run_env(&args, &[("BUILDER_OFFLINE", "maybe")]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("BUILDER_OFFLINE=\"maybe\""), "{err}");
    assert!(
        !err.contains("--offline"),
        "names a flag never typed: {err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn verify_colours_its_words_on_a_terminal_unless_no_color() {
    let (_up, ws) = slow_setup();
    assert_ok(&ws.run(&[
        "render", "-q", "-p", "node", "--arch", "amd64", "--out", "dist",
    ]));
    let args = ["verify", "dist"];
    let (code, tty) = run_on_pty_env(&ws, &args, &[("NO_COLOR", "")]);
    assert_eq!(code, Some(0), "{tty}");
    assert!(
        tty.contains("\x1b[32mok  \x1b[0m  amd64  sha256sums:"),
        "{tty:?}"
    );
    assert!(tty.contains("\x1b[33mskip\x1b[0m"), "{tty:?}");
    // NO_COLOR set (any value but empty): plain words, on the same terminal.
    let (code, tty) = run_on_pty_env(&ws, &args, &[("NO_COLOR", "1")]);
    assert_eq!(code, Some(0), "{tty}");
    assert!(!tty.contains('\x1b'), "{tty:?}");
    assert!(tty.contains("ok    amd64  sha256sums:"), "{tty:?}");
    // A pipe: plain.
    let o = ws.run(&args);
    assert_ok(&o);
    assert!(!stdout(&o).contains('\x1b'), "{}", stdout(&o));
}
