//! A mirror's password never reaches a line builder prints: `render`, `pin` and `hosts` run
//! through a `--mirror` whose TO carries `user:s3cr3t-PASS@` (and the same percent-encoded)
//! in every fault the loopback server can stage (a closed port, a hang, a cut body, 5xx, 404,
//! a redirect loop, wrong bytes), in text and JSON, with `-v` and with `RUST_LOG=trace`; each
//! time stdout and stderr are searched for the password and must still name the mirror's host.
//!
//! The profile names `upstream.invalid`, so the mirror's `127.0.0.1:PORT` can only be printed
//! as the host the mirror made builder contact.

use std::process::Output;
use std::time::Duration;

use crate::common::*;

/// The password, its start (which both spellings share) and the Authorization header reqwest
/// sends for it (base64 of `user:s3cr3t-PASS`), which a trace log must not show either.
const PASSWORD: &str = "s3cr3t-PASS";
const NEEDLES: &[&str] = &["s3cr3t", "dXNlcjpzM2NyM3QtUEFTUw"];
/// The userinfo as typed, plainly and percent-encoded (`-` is `%2D`).
const USERINFOS: [&str; 2] = ["user:s3cr3t-PASS", "user:s3cr3t%2DPASS"];
const UPSTREAM: &str = "upstream.invalid";
const RUNC: &str = "/runc/v1.4.3/runc.amd64";

/// How a run prints: its extra arguments and environment.
struct Mode {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const MODES: [Mode; 4] = [
    Mode {
        name: "text",
        args: &[],
        env: &[],
    },
    Mode {
        name: "json",
        args: &["--output", "json"],
        env: &[],
    },
    Mode {
        name: "verbose",
        args: &["-v"],
        env: &[],
    },
    Mode {
        name: "trace",
        args: &[],
        env: &[("RUST_LOG", "trace")],
    },
];

/// The places a password could show in `text`.
fn leaks(text: &str) -> Vec<&'static str> {
    NEEDLES
        .iter()
        .copied()
        .filter(|n| text.contains(n))
        .collect()
}

/// Neither stream holds the password, and stderr names `host` (redaction hid the password,
/// not the host).
#[track_caller]
fn clean(o: &Output, host: &str, what: &str) {
    let (out, err) = (stdout(o), stderr(o));
    for (stream, text) in [("stdout", &out), ("stderr", &err)] {
        let found = leaks(text);
        assert!(
            found.is_empty(),
            "{what}: {stream} shows {found:?}:\n{text}"
        );
    }
    assert!(err.contains(host), "{what}: {host} not named:\n{err}");
}

/// A workspace whose profile `node` fetches from `upstream.invalid`, and the server that
/// really serves its files.
fn setup() -> (Upstream, Workspace) {
    let (up, ws) = node_setup();
    let text = up
        .containerd_profile("node", "2.2.7", "1.36")
        .replace(&up.server.addr, UPSTREAM);
    ws.write_profile("node", &text);
    (up, ws)
}

/// `--mirror http://upstream.invalid/=http://USERINFO@ADDR/`.
fn mirror(userinfo: &str, addr: &str) -> String {
    let m = format!("http://{UPSTREAM}/=http://{userinfo}@{addr}/");
    // The control: the search finds the password where it is.
    assert!(!leaks(&m).is_empty(), "{m}");
    m
}

/// `builder ARGS --mirror M` (2 attempts, small limits), M leading to `addr`, with each
/// spelling of the password and in each mode (`json` for the commands that have the flag):
/// every run fails (exit 1) with `want` on stderr, prints no password and names `host`.
fn fails_everywhere(ws: &Workspace, args: &[&str], json: bool, addr: &str, want: &str, host: &str) {
    for userinfo in USERINFOS {
        let m = mirror(userinfo, addr);
        for mode in MODES.iter().filter(|m| json || m.name != "json") {
            let mut all = args.to_vec();
            all.extend(["--mirror", &m, "--retries", "2"]);
            all.extend_from_slice(FAST);
            all.extend_from_slice(mode.args);
            let o = ws.run_env(&all, mode.env);
            let what = format!("{} {} with {userinfo}", args[0], mode.name);
            assert_eq!(o.status.code(), Some(1), "{what}:\n{}", stderr(&o));
            let err = stderr(&o);
            assert!(err.contains(want), "{what}: no {want:?}:\n{err}");
            clean(&o, host, &what);
        }
    }
}

/// `builder render` of amd64 through the mirror to `addr` (see [`fails_everywhere`]).
fn render_everywhere(ws: &Workspace, addr: &str, want: &str) {
    let args = [
        "render",
        "--profile",
        "node",
        "--out",
        "dist",
        "--arch",
        "amd64",
    ];
    fails_everywhere(ws, &args, true, addr, want, addr);
}

/// Serves runc as `b` and renders through the mirror in every mode.
fn render_fault(b: Behaviour, want: &str) {
    let (up, ws) = setup();
    up.server.route(RUNC, b);
    render_everywhere(&ws, &up.server.addr, want);
}

#[test]
fn a_closed_port_is_named_without_the_password() {
    let (_up, ws) = setup();
    let dead = dead_addr();
    render_everywhere(&ws, &dead, &format!("cannot reach {dead} ("));
}

#[test]
fn a_hanging_mirror_is_named_without_the_password() {
    let body = fake_bin("runc", "amd64");
    render_fault(
        Behaviour::StallBeforeHeaders(Duration::from_secs(60)),
        "no response from 127.0.0.1",
    );
    render_fault(
        Behaviour::StallAfterHeaders(body, Duration::from_secs(60)),
        "stalled",
    );
}

#[test]
fn cut_bodies_redirect_loops_and_statuses_print_no_password() {
    let body = fake_bin("runc", "amd64");
    render_fault(Behaviour::Truncate(body.clone()), "cut off");
    render_fault(Behaviour::ChunkedCut(body), "cut off");
    render_fault(Behaviour::Status(503), "HTTP 503");
    render_fault(Behaviour::Status(404), "HTTP 404");
    render_fault(Behaviour::Redirect(RUNC.to_string()), "redirects in a loop");
}

#[test]
fn wrong_bytes_print_no_password() {
    render_fault(
        Behaviour::Ok(b"not runc".to_vec()),
        "checksum mismatch for artifact runc",
    );
}

/// A profile `pin` that leaves runc 9.9.2 unpinned, its files (and upstream's checksum file
/// `runc.sha256sum`) served by `up`.
fn pin_setup() -> (Upstream, Workspace) {
    let (up, ws) = setup();
    let mut text = up
        .containerd_profile("pin", "2.2.7", "1.36")
        .replace(&up.server.addr, UPSTREAM)
        .replace("version = \"1.4.3\"", "version = \"9.9.2\"");
    let mut sums = String::new();
    for arch in ARCHES {
        let old = format!("sha256.{arch} = \"{}\"\n", up.pin("runc", arch));
        assert_eq!(text.matches(&old).count(), 1, "{text}");
        text = text.replace(&old, "");
        let body = format!("runc 9.9.2 {arch}\n").into_bytes();
        sums.push_str(&format!("{}  runc.{arch}\n", sha256_hex(&body)));
        up.server
            .route(&format!("/runc/v9.9.2/runc.{arch}"), Behaviour::Ok(body));
    }
    up.server.route(SUMS, Behaviour::Ok(sums.into_bytes()));
    ws.write_profile("pin", &text);
    (up, ws)
}

const SUMS: &str = "/runc/v9.9.2/runc.sha256sum";

/// A checksum file naming both runc binaries, with digests neither has.
fn wrong_sums() -> Vec<u8> {
    ARCHES
        .iter()
        .map(|arch| format!("{}  runc.{arch}\n", "ab".repeat(32)))
        .collect::<String>()
        .into_bytes()
}

/// `builder pin` through the mirror to `addr` (see [`fails_everywhere`]; it has no JSON).
fn pin_everywhere(ws: &Workspace, addr: &str, want: &str, host: &str) {
    let args = ["pin", "--profile", "profiles/pin.toml"];
    fails_everywhere(ws, &args, false, addr, want, host);
}

#[test]
fn pin_names_the_mirror_without_the_password() {
    let (up, ws) = pin_setup();
    let (dead, addr) = (dead_addr(), up.server.addr.as_str());
    // The retry lines and the final error name the host a download could not reach.
    pin_everywhere(&ws, &dead, &format!("cannot reach {dead}"), &dead);
    for (b, want) in [
        (
            Behaviour::StallBeforeHeaders(Duration::from_secs(60)),
            "no response from 127.0.0.1",
        ),
        (Behaviour::Status(503), "HTTP 503"),
        (Behaviour::Status(404), "is not there"),
        (Behaviour::Truncate(b"0123456789abcdef".to_vec()), "cut off"),
    ] {
        up.server.route(SUMS, b);
        pin_everywhere(&ws, addr, want, addr);
    }
    // Upstream's checksum file disagrees with the download: the message names the upstream
    // URLs (and says to check the --mirror).
    up.server.route(SUMS, Behaviour::Ok(wrong_sums()));
    pin_everywhere(&ws, addr, "nothing was pinned", UPSTREAM);
}

#[test]
fn hosts_and_a_bad_mirror_value_print_no_password() {
    let (up, ws) = setup();
    let addr = &up.server.addr;
    for userinfo in USERINFOS {
        let m = mirror(userinfo, addr);
        for mode in MODES.iter().filter(|m| m.name != "json") {
            let mut args = vec!["hosts", "-p", "node", "--mirror", &m];
            args.extend_from_slice(mode.args);
            let o = ws.run_env(&args, mode.env);
            assert_ok(&o);
            let line = format!("--mirror http://{UPSTREAM}/=http://user:***@{addr}/\n");
            assert_eq!(stdout(&o), line, "{}", mode.name);
        }
        // A value clap refuses (TO is not a URL) is quoted with the password hidden, from the
        // command line and from the environment.
        let bad = format!("http://{userinfo}@{addr}/");
        let o = ws.run(&["hosts", "-p", "node", "--mirror", &bad]);
        assert_eq!(o.status.code(), Some(1));
        clean(&o, addr, "a bad --mirror");
        let o = ws.run_env(&["hosts", "-p", "node"], &[("BUILDER_MIRROR", &bad)]);
        assert_eq!(o.status.code(), Some(1));
        clean(&o, addr, "a bad BUILDER_MIRROR");
    }
}

/// The control for the whole module: a password where builder does print (in a URL's path)
/// is found by the same search, so a clean result above means something.
#[test]
fn the_search_finds_a_password_that_is_printed() {
    let (up, ws) = setup();
    up.server.route(RUNC, Behaviour::Status(404));
    let m = format!("http://{UPSTREAM}/=http://{}/{PASSWORD}/", up.server.addr);
    let o = ws.render("node", &["--arch", "amd64", "--mirror", &m]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!leaks(&stderr(&o)).is_empty(), "{}", stderr(&o));
}
