//! The hosts a render needs: `builder hosts` prints them as `--mirror` lines, and a render
//! that cannot reach some of them names every one at once, after one check of all of them.

use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn every_unreachable_host_is_named_at_once() {
    let up = Upstream::start();
    let ws = Workspace::new();
    let (dead1, dead2) = (dead_addr(), dead_addr());
    let live = &up.server.addr;
    // Artifacts over three ports: runc and crictl on two dead ones, the rest live.
    let text = up
        .containerd_profile("node", "2.2.7", "1.36")
        .replace(
            &format!("\"http://{live}/runc/"),
            &format!("\"http://{dead1}/runc/"),
        )
        .replace(
            &format!("\"http://{live}/crictl/"),
            &format!("\"http://{dead2}/crictl/"),
        );
    assert_eq!(text.matches(&dead1).count(), 1, "{text}");
    assert_eq!(text.matches(&dead2).count(), 1, "{text}");
    ws.write_profile("node", &text);

    let start = Instant::now();
    let o = ws.render("node", &["--arch", "amd64"]);
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let error_line = err.lines().find(|l| l.starts_with("error: ")).unwrap();
    for dead in [&dead1, &dead2] {
        assert!(
            error_line.contains(&format!("{dead} (")),
            "{dead} not named: {err}"
        );
        let line = format!("  --mirror http://{dead}/=https://mirror.example.internal/{dead}/");
        assert!(err.lines().any(|l| l == line), "want {line:?} in:\n{err}");
    }
    assert!(error_line.contains("--offline"), "{err}");
    // The live host is not blamed, and nothing was downloaded before the check failed.
    assert!(!err.contains(&format!("{live} (")), "{err}");
    assert!(!err.contains(&format!("--mirror http://{live}/")), "{err}");
    assert_eq!(
        up.server
            .hits("/containerd/v2.1.9/containerd-2.1.9-linux-amd64.tar.gz"),
        0
    );
    assert!(!ws.out().exists());
    // One check of all hosts: --retries 2 is one 0.5 s wait, not one round per host.
    assert_eq!(err.matches("retry: cannot reach").count(), 1, "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // With the two dead prefixes mirrored to the live server, the same render works: the
    // printed lines are the ones to edit.
    let o = ws.render(
        "node",
        &[
            "--arch",
            "amd64",
            "--mirror",
            &format!("http://{dead1}/=http://{live}/"),
            "--mirror",
            &format!("http://{dead2}/=http://{live}/"),
        ],
    );
    assert_ok(&o);
}

#[test]
fn hosts_prints_every_prefix_of_a_shipped_profile_as_mirror_lines() {
    let ws = Workspace::new();
    let o = ws.run(&["hosts", "--profile", "cri-dockerd"]);
    assert_ok(&o);
    assert_eq!(
        stdout(&o),
        "--mirror https://download.docker.com/=https://mirror.example.internal/download.docker.com/\n\
         --mirror https://github.com/=https://mirror.example.internal/github.com/\n\
         --mirror https://raw.githubusercontent.com/=https://mirror.example.internal/raw.githubusercontent.com/\n"
    );
    assert_eq!(stderr(&o), "");
    // containerd needs no download.docker.com; a --mirror given is printed as it is, its
    // credentials hidden.
    let o = ws.run(&[
        "hosts",
        "-p",
        "containerd",
        "--mirror",
        "https://github.com/=https://bob:s3cret@mirror.corp/gh/",
    ]);
    assert_ok(&o);
    assert_eq!(
        stdout(&o),
        "--mirror https://github.com/=https://bob:***@mirror.corp/gh/\n\
         --mirror https://raw.githubusercontent.com/=https://mirror.example.internal/raw.githubusercontent.com/\n"
    );
    // Nothing is fetched: no network is needed to list hosts.
    assert!(!ws.cache().exists());
    // --output json: the same prefixes, each with what reaches it and what it serves; the
    // credentials hidden there too.
    let text = stdout(&o);
    let o = ws.run(&[
        "hosts",
        "-p",
        "containerd",
        "-o",
        "json",
        "--mirror",
        "https://github.com/=https://bob:s3cret@mirror.corp/gh/",
    ]);
    assert_ok(&o);
    assert!(!stdout(&o).contains("s3cret"), "{}", stdout(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["profile"], "containerd");
    let prefixes = doc["prefixes"].as_array().unwrap();
    let lines: Vec<&str> = prefixes
        .iter()
        .map(|p| p["mirror_line"].as_str().unwrap())
        .collect();
    assert_eq!(lines, text.lines().collect::<Vec<_>>());
    let gh = &prefixes[0];
    assert_eq!(gh["from"], "https://github.com/");
    assert_eq!(gh["mirror_to"], "https://bob:***@mirror.corp/gh/");
    assert_eq!(gh["target"], "https://mirror.corp/");
    assert!(
        gh["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().starts_with("containerd ")),
        "{gh}"
    );
    assert_eq!(prefixes[1]["mirror_to"], serde_json::Value::Null);
}

#[test]
fn hosts_follows_the_profile_and_refuses_a_bad_one() {
    let (up, ws) = node_setup();
    let o = ws.run(&["hosts", "-p", "node"]);
    assert_ok(&o);
    let addr = &up.server.addr;
    assert_eq!(
        stdout(&o),
        format!("--mirror http://{addr}/=https://mirror.example.internal/{addr}/\n")
    );
    assert_eq!(up.server.total_hits(), 0);
    let o = ws.run(&["hosts", "-p", "no-such-profile"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
}

#[test]
fn every_missing_file_is_named_at_once_offline_and_behind_a_mirror() {
    let (up, ws) = node_setup();
    // Offline with an empty cache: every artifact of both arches, in one error.
    let o = ws.render("node", &["--offline"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(" artifacts (below) are not in the cache")
            && err.contains("--offline forbids fetching them"),
        "{err}"
    );
    for name in ["containerd 2.2.7 (amd64)", "runc 1.4.3 (arm64)", "crictl "] {
        assert!(
            err.contains(&format!("\n  {name}")),
            "{name} not listed: {err}"
        );
    }
    assert_eq!(up.server.total_hits(), 0);
    // A mirror that has none of the files: each 404 named, not only the first.
    let live = up.server.addr.to_string();
    let mirror = format!("http://{live}/=http://{live}/empty-mirror/");
    let o = ws.render("node", &["--arch", "amd64", "--mirror", &mirror]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let listed = err.lines().filter(|l| l.contains("HTTP 404")).count();
    assert!(listed >= 4, "want every 404 listed, got {listed}: {err}");
    assert!(
        err.contains("files are missing upstream (HTTP 404 or 410; listed below)"),
        "{err}"
    );
    // One line each, the advice said once.
    assert_eq!(err.matches("check each artifact's url").count(), 1, "{err}");
    assert!(!err.contains("check the artifact's url"), "{err}");
    assert!(!ws.out().join("node").exists(), "nothing may be written");
    // Control: one missing file keeps the single-file message.
    let (up1, ws1) = node_setup();
    ws1.write_profile(
        "node",
        &read(ws1.path().join("profiles/node.toml")).replacen("/runc/", "/gone/runc/", 1),
    );
    let o = ws1.render("node", &["--arch", "amd64"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(
        err.lines().filter(|l| l.contains("HTTP 404")).count(),
        1,
        "{err}"
    );
    assert!(!err.contains("files are missing"), "{err}");
    drop(up1);
}
