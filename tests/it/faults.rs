//! A flaky or hostile network, served from loopback: every fault ends the render within a
//! bound (the timeouts are set small here), is retried when it is worth retrying with one
//! `retry:` line per attempt, and leaves neither an output folder nor a cache entry behind.

use std::time::{Duration, Instant};

use crate::common::*;

const RUNC: &str = "/runc/v1.4.3/runc.amd64";

struct Run {
    up: Upstream,
    ws: Workspace,
    out: std::process::Output,
    took: Duration,
}

/// Renders amd64 with `runc` served as `b` (2 attempts, small limits).
fn render_with(b: Behaviour) -> Run {
    let (up, ws) = node_setup();
    up.server.route(RUNC, b);
    let start = Instant::now();
    let mut args = vec!["--arch", "amd64"];
    args.extend_from_slice(FAST);
    let out = ws.render("node", &args);
    Run {
        took: start.elapsed(),
        up,
        ws,
        out,
    }
}

/// No output folder, and no cache entry or temp file for runc.
#[track_caller]
fn nothing_left(r: &Run) {
    assert!(!r.ws.out().exists(), "{:?} exists", r.ws.out());
    let dir = r.ws.cache().join("sha256-v1");
    let pin = r.up.pin("runc", "amd64");
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(
            !name.starts_with(pin) && !name.ends_with(".partial"),
            "{name} left in {}",
            dir.display()
        );
    }
}

#[track_caller]
fn failed_with(r: &Run, words: &[&str], bound: Duration) {
    let err = stderr(&r.out);
    assert_eq!(r.out.status.code(), Some(1), "{err}");
    for w in words {
        assert!(err.contains(w), "missing {w:?} in:\n{err}");
    }
    assert!(
        r.took < bound,
        "took {:?}, over the bound {bound:?}:\n{err}",
        r.took
    );
    nothing_left(r);
}

fn body() -> Vec<u8> {
    fake_bin("runc", "amd64")
}

#[test]
fn a_server_that_never_answers_fails_each_attempt_after_the_read_timeout() {
    let r = render_with(Behaviour::StallBeforeHeaders(Duration::from_secs(60)));
    failed_with(
        &r,
        &[
            "no response from 127.0.0.1",
            "within 1 s",
            "after 2 attempts",
        ],
        Duration::from_secs(15),
    );
    assert!(stderr(&r.out).contains("attempt 1 of 2 failed, next in 0.5 s"));
    assert_eq!(r.up.server.hits(RUNC), 2);
}

#[test]
fn a_body_that_stalls_fails_after_the_read_timeout() {
    let r = render_with(Behaviour::StallAfterHeaders(
        body(),
        Duration::from_secs(60),
    ));
    failed_with(&r, &["stalled", "no byte for 1 s"], Duration::from_secs(15));
    assert_eq!(r.up.server.hits(RUNC), 2);
}

#[test]
fn a_drip_below_the_speed_limit_fails() {
    // 10 bytes a second forever (the body is large enough to outlast every attempt).
    let r = render_with(Behaviour::Drip(body(), Duration::from_millis(100)));
    failed_with(
        &r,
        &["too slow", "--speed-limit 1000"],
        Duration::from_secs(20),
    );
}

#[test]
fn a_short_body_without_length_is_caught_by_the_pin() {
    let r = render_with(Behaviour::TruncateNoLength(body()));
    failed_with(&r, &["checksum mismatch", "runc"], Duration::from_secs(15));
}

#[test]
fn a_cut_chunked_body_is_retried_then_fails() {
    let r = render_with(Behaviour::ChunkedCut(body()));
    failed_with(&r, &["cut off"], Duration::from_secs(15));
    assert_eq!(r.up.server.hits(RUNC), 2);
    assert!(stderr(&r.out).contains("retry: runc 1.4.3 (amd64)"));
}

#[test]
fn a_5xx_then_success_renders_with_one_retry_line() {
    let r = render_with(Behaviour::FailFirst {
        times: 1,
        status: 503,
        body: body(),
    });
    assert_ok(&r.out);
    let err = stderr(&r.out);
    assert_eq!(err.matches("retry: ").count(), 1, "{err}");
    assert!(
        err.contains("HTTP 503") && err.contains("attempt 1 of 2 failed"),
        "{err}"
    );
}

#[test]
fn retry_after_is_honoured() {
    let r = render_with(Behaviour::RetryAfter {
        times: 1,
        seconds: 2,
        body: body(),
    });
    assert_ok(&r.out);
    let err = stderr(&r.out);
    assert!(
        err.contains("HTTP 429") && err.contains("next in 2.0 s"),
        "{err}"
    );
    assert!(r.took >= Duration::from_secs(2), "took {:?}", r.took);
}

#[test]
fn a_redirect_loop_is_final() {
    let r = render_with(Behaviour::Redirect(RUNC.to_string()));
    failed_with(&r, &["redirects in a loop"], Duration::from_secs(15));
    assert!(!stderr(&r.out).contains("retry: "), "{}", stderr(&r.out));
}

#[test]
fn a_redirect_to_another_port_is_followed_and_still_verified() {
    let other = Server::start();
    other.route("/elsewhere/runc", Behaviour::Ok(body()));
    let r = render_with(Behaviour::Redirect(other.url("/elsewhere/runc")));
    assert_ok(&r.out);
    assert_eq!(other.hits("/elsewhere/runc"), 1);
    // The same redirect to different bytes is refused by the pin.
    other.route("/elsewhere/runc", Behaviour::Ok(b"not runc".to_vec()));
    std::fs::remove_dir_all(r.ws.cache()).unwrap();
    let o = r.ws.render("node", &["--arch", "amd64", "--force"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("checksum mismatch"), "{}", stderr(&o));
}

#[test]
fn credentials_in_a_mirror_never_reach_the_output() {
    let (up, ws) = node_setup();
    up.server.route(RUNC, Behaviour::Status(404));
    let base = up.server.url("/");
    let mirror = format!("{base}=http://builder:hunter2@{}/", up.server.addr);
    let o = ws.render("node", &["--arch", "amd64", "--mirror", &mirror]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("builder:***@"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    // Through the environment too, and a render that works keeps them out of every file.
    up.server.route(RUNC, Behaviour::Ok(body()));
    let o = ws.run_env(
        &["render", "-p", "node", "--out", "dist", "--arch", "amd64"],
        &[("BUILDER_MIRROR", &mirror)],
    );
    assert_ok(&o);
    assert!(!stderr(&o).contains("hunter2"));
    for (path, bytes) in snapshot(&ws.out()) {
        let hit = bytes.windows(7).any(|w| w == b"hunter2");
        assert!(!hit, "{} holds the password", path.display());
    }
}
