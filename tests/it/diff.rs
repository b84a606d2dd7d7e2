//! `builder diff`: two renders of a profile against the loopback server, one with runc bumped
//! and a kubelet flag added; the report must name exactly those changes.

use std::fs;
use std::process::Output;

use serde_json::Value;

use crate::common::*;

const FLAGS: &str = "/var/lib/kubelet/kubeadm-flags.env";

/// Renders the test profile into `old/`, then the changed one into `new/`: runc 1.4.3 -> 1.4.4
/// (new bytes, new pins) and `max-pods` added to the kubelet flags.
fn two_renders() -> (Upstream, Workspace) {
    let mut up = Upstream::start();
    let ws = Workspace::new();
    let before = up.containerd_profile("node", "2.2.7", "1.36");
    ws.write_profile("node", &before);
    assert_ok(&ws.run(&["render", "-p", "node", "--out", "old"]));
    let mut after = before.replace(
        "extra_args = { \"node-labels\" = \"node.kubernetes.io/runtime=containerd\" }",
        "extra_args = { \"node-labels\" = \"node.kubernetes.io/runtime=containerd\", \"max-pods\" = \"60\" }",
    );
    after = after.replace("version = \"1.4.3\"", "version = \"1.4.4\"");
    for arch in ARCHES {
        let old_pin = up.pin("runc", arch).to_string();
        up.serve(
            "runc-1.4.4",
            arch,
            &format!("/runc/v1.4.4/runc.{arch}"),
            fake_bin("runc 1.4.4", arch),
        );
        after = after.replace(&old_pin, up.pin("runc-1.4.4", arch));
    }
    assert_ne!(before, after);
    ws.write_profile("node", &after);
    assert_ok(&ws.run(&["render", "-p", "node", "--out", "new"]));
    (up, ws)
}

fn diff(ws: &Workspace, args: &[&str]) -> Output {
    let mut all = vec!["diff"];
    all.extend_from_slice(args);
    ws.run(&all)
}

#[test]
fn names_exactly_the_changes_with_the_flag_line() {
    let (up, ws) = two_renders();
    let o = diff(&ws, &["old/node", "new/node"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = stdout(&o);
    for arch in ARCHES {
        assert!(out.contains(&format!("\n{arch}: changed\n")), "{out}");
        let (addr, a, b) = (
            &up.server.addr,
            up.pin("runc", arch),
            up.pin("runc-1.4.4", arch),
        );
        assert!(
            out.contains(&format!(
                "    ~ runc\n        version: 1.4.3 -> 1.4.4\n        \
                 url: http://{addr}/runc/v1.4.3/runc.{arch}\n          -> http://{addr}/runc/v1.4.4/runc.{arch}\n        \
                 sha256: {a}\n             -> {b}\n  files:\n"
            )),
            "{out}"
        );
    }
    // Files: runc's bytes and the flags file, nothing else.
    let file_lines: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("    ~ ") || l.starts_with("    + ") || l.starts_with("    - "))
        .collect();
    assert_eq!(file_lines.len(), 6, "{out}"); // per arch: 1 artifact + 2 files
    assert!(out.contains("    ~ /usr/local/sbin/runc: size "), "{out}");
    assert!(out.contains(&format!("    ~ {FLAGS}: size ")), "{out}");
    // The unified diff shows the changed flag line, once per arch.
    let minus = "-KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --node-labels=node.kubernetes.io/runtime=containerd\"\n";
    let plus = "+KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock --max-pods=60 --node-labels=node.kubernetes.io/runtime=containerd\"\n";
    assert_eq!(out.matches("--- a/var/lib/kubelet/kubeadm-flags.env\n+++ b/var/lib/kubelet/kubeadm-flags.env\n@@ -1 +1 @@\n").count(), 2, "{out}");
    assert_eq!(out.matches(minus).count(), 2, "{out}");
    assert_eq!(out.matches(plus).count(), 2, "{out}");
    // runc is an upstream binary: digests, never its contents.
    assert!(!out.contains("--- a/usr/local/sbin/runc"), "{out}");
    assert!(
        out.ends_with("differences in 2 of 2 arch(es): amd64, arm64\n"),
        "{out}"
    );
    // Stable: the same renders give the same bytes.
    assert_eq!(stdout(&diff(&ws, &["old/node", "new/node"])), out);
}

#[test]
fn json_output_parses_and_matches() {
    let (up, ws) = two_renders();
    let o = diff(&ws, &["old/node", "new/node", "--output", "json"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["identical"], false);
    assert_eq!(doc["old"], "old/node");
    assert_eq!(doc["notes"], serde_json::json!([]));
    let arches = doc["arches"].as_array().unwrap();
    assert_eq!(arches.len(), 2);
    for a in arches {
        let arch = a["arch"].as_str().unwrap();
        assert_eq!(a["status"], "changed");
        let arts = a["artifacts"].as_array().unwrap();
        assert_eq!(arts.len(), 1, "{arts:?}");
        assert_eq!(arts[0]["name"], "runc");
        assert_eq!(arts[0]["change"], "changed");
        assert_eq!(
            arts[0]["changed"],
            serde_json::json!(["version", "url", "sha256"])
        );
        assert_eq!(arts[0]["old"]["version"], "1.4.3");
        assert_eq!(arts[0]["new"]["sha256"], up.pin("runc-1.4.4", arch));
        let paths: Vec<&str> = a["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["/usr/local/sbin/runc", FLAGS]);
        let flags = &a["files"][1];
        assert_eq!(flags["change"], "changed");
        assert_eq!(flags["new"]["source"], "template:kubeadm-flags");
        assert!(flags["diff"]
            .as_str()
            .unwrap()
            .contains("+KUBELET_KUBEADM_ARGS="));
        assert_eq!(a["files"][0]["diff"], Value::Null);
        let fields: Vec<&str> = a["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&"profile.sha256"), "{fields:?}");
        assert!(fields.contains(&"overlay.sha256"), "{fields:?}");
        assert!(
            fields
                .iter()
                .all(|f| ["profile.sha256", "overlay.sha256", "overlay.size"].contains(f)),
            "{fields:?}"
        );
    }
}

#[test]
fn identical_renders_exit_0_with_no_differences() {
    let (_up, ws) = node_setup();
    assert_ok(&ws.run(&["render", "-p", "node", "--out", "a"]));
    assert_ok(&ws.run(&["render", "-p", "node", "--out", "b"]));
    let o = diff(&ws, &["a/node", "b/node"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(
        stdout(&o),
        "old: a/node\nnew: b/node\n\namd64: same\n\narm64: same\n\nno differences (2 arch(es) compared)\n"
    );
    let o = diff(&ws, &["a/node/amd64", "b/node/amd64", "-o", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["identical"], true);
    assert_eq!(doc["arches"][0]["status"], "same");
}

#[test]
fn arch_folders_and_bare_manifests() {
    let (_up, ws) = two_renders();
    let o = diff(&ws, &["old/node/arm64", "new/node/arm64"]);
    assert_eq!(o.status.code(), Some(3));
    let out = stdout(&o);
    assert!(
        out.contains("\narm64: changed\n") && !out.contains("amd64"),
        "{out}"
    );
    assert!(out.contains("+KUBELET_KUBEADM_ARGS="), "{out}");

    // Manifests alone: the same changes by digest, and a note that content needs the folders.
    let o = diff(
        &ws,
        &[
            "old/node/amd64/manifest.json",
            "new/node/amd64/manifest.json",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(&format!("    ~ {FLAGS}: size ")), "{out}");
    assert!(!out.contains("+KUBELET_KUBEADM_ARGS="), "{out}");
    assert!(
        out.contains("content diffs need the output folders"),
        "{out}"
    );
    assert!(
        out.contains(&format!("(no content diff for {FLAGS}: no rootfs/ beside")),
        "{out}"
    );

    // A generated file changed after the render is caught, not diffed.
    let flags = ws.path().join("new/node/amd64/rootfs").join(&FLAGS[1..]);
    fs::write(&flags, read(&flags).replace("max-pods", "max-pots")).unwrap();
    let o = diff(&ws, &["old/node/amd64", "new/node/amd64"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("kubeadm-flags.env does not match new/node/amd64/manifest.json")
            && stderr(&o).contains("render it again"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o), "");
}

#[test]
fn an_arch_on_one_side_only_and_bad_arguments() {
    let (_up, ws) = node_setup();
    assert_ok(&ws.run(&["render", "-p", "node", "--out", "a"]));
    assert_ok(&ws.run(&["render", "-p", "node", "--arch", "amd64", "--out", "b"]));
    let o = diff(&ws, &["a/node", "b/node"]);
    assert_eq!(o.status.code(), Some(3));
    let out = stdout(&o);
    assert!(
        out.contains("\namd64: same\n\narm64: only in old\n"),
        "{out}"
    );
    assert!(
        out.ends_with("differences in 1 of 2 arch(es): arm64\n"),
        "{out}"
    );

    for (args, words) in [
        (
            ["a/node", "b/node/amd64"],
            "cannot compare the profile folder a/node (arches amd64, arm64) with the single arch b/node/amd64 (amd64): give two profile folders, or two arch folders such as a/node/amd64",
        ),
        (["a/node", "missing"], "NEW missing: cannot read it"),
        (["a", "b"], "OLD a holds no manifest.json, neither itself nor in a subfolder"),
        (["profiles/node.toml", "b/node"], "profiles/node.toml is not a builder manifest.json"),
    ] {
        let o = diff(&ws, &args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stdout(&o));
        assert!(stderr(&o).contains(words), "{args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), "", "{args:?}");
    }
}

/// Two identical renders of amd64, then NEW's manifest.json edited so that the kubelet flags
/// file is listed at `path` instead; returns the text diff of the bare manifests.
fn diff_with_path(path: &str) -> (Workspace, Output) {
    let (_up, ws) = node_setup();
    for out in ["a", "b"] {
        assert_ok(&ws.run(&["render", "-p", "node", "--arch", "amd64", "--out", out]));
    }
    let manifest = ws.path().join("b/node/amd64/manifest.json");
    let mut doc: Value = serde_json::from_str(&read(&manifest)).unwrap();
    let files = doc["files"].as_array_mut().unwrap();
    let flags = files.iter_mut().find(|f| f["path"] == FLAGS).unwrap();
    flags["path"] = Value::from(path);
    fs::write(&manifest, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let o = diff(
        &ws,
        &["a/node/amd64/manifest.json", "b/node/amd64/manifest.json"],
    );
    (ws, o)
}

#[test]
fn control_characters_in_a_manifest_are_escaped_in_the_text() {
    let evil = "/etc/evil\n  + /etc/forged\x1b[2J";
    let (ws, o) = diff_with_path(evil);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains('\x1b'), "an ESC byte reached stdout");
    assert!(
        !out.lines()
            .any(|l| l.trim_start().starts_with("+ /etc/forged")),
        "a forged line: {out:?}"
    );
    let line = out
        .lines()
        .find(|l| l.starts_with("    + /etc/evil"))
        .unwrap_or_default();
    assert!(
        line.starts_with("    + /etc/evil\\n  + /etc/forged\\u{1b}[2J (0644, "),
        "{line:?}"
    );
    assert!(
        out.contains("(no content diff for /etc/evil\\n  + /etc/forged\\u{1b}[2J: "),
        "{out:?}"
    );
    // JSON keeps the path as the manifest spells it (escaped by JSON itself).
    let o = diff(
        &ws,
        &[
            "a/node/amd64/manifest.json",
            "b/node/amd64/manifest.json",
            "-o",
            "json",
        ],
    );
    assert!(!o.stdout.contains(&0x1b), "an ESC byte in the JSON");
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    let paths = doc["arches"][0]["files"].as_array().unwrap();
    assert!(
        paths.iter().any(|f| f["path"] == evil),
        "the raw path is not in the JSON"
    );

    // The same path without control characters is printed as it is.
    let (_ws, o) = diff_with_path("/etc/evil  + /etc/forged");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("\n    + /etc/evil  + /etc/forged (0644, "),
        "{out:?}"
    );
}
