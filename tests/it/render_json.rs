//! `builder render --output json`: the summary on stdout, checked against the files on disk.

use std::fs;

use serde_json::Value;

use crate::common::*;

/// A test profile whose sandbox image is not kubeadm's: it renders with a warning.
fn warned_profile(up: &Upstream) -> String {
    up.containerd_profile("node", "2.2.7", "1.36").replace(
        "[containerd]\n",
        "[containerd]\nsandbox_image = \"mirror.example.internal/pause:3.10.2\"\n",
    )
}

#[test]
fn the_summary_matches_the_files_on_disk() {
    let up = Upstream::start();
    let ws = Workspace::new();
    ws.write_profile("node", &warned_profile(&up));
    let o = ws.render("node", &["--output", "json"]);
    assert_ok(&o);
    // stdout is exactly one JSON document; the human lines are on stderr.
    let doc: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", stdout(&o)));
    let err = stderr(&o);
    assert!(
        err.contains("rendered node amd64 -> dist/node/amd64"),
        "{err}"
    );
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["builder_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["profile"]["name"], "node");
    assert_eq!(doc["kubernetes"], "1.36");
    assert_eq!(doc["runtime"], "containerd");

    // The warning printed on stderr is the one in the document.
    let warnings = doc["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = warnings[0].as_str().unwrap();
    assert!(w.contains("mirror.example.internal/pause:3.10.2"), "{w}");
    assert!(err.contains(&format!("warning: {w}")), "{err}");

    let arches = doc["arches"].as_array().unwrap();
    assert_eq!(
        arches.iter().map(|a| a["arch"].clone()).collect::<Vec<_>>(),
        ["amd64", "arm64"]
    );
    for a in arches {
        let arch = a["arch"].as_str().unwrap();
        let dir = format!("dist/node/{arch}");
        assert_eq!(a["dir"], dir.as_str());
        assert_eq!(a["rootfs"], format!("{dir}/rootfs").as_str());
        assert!(ws.path().join(&dir).join("rootfs").is_dir());
        for (key, name) in [
            ("overlay", "overlay.tar.gz"),
            ("manifest", "manifest.json"),
            ("user_data", "user-data"),
            ("meta_data", "meta-data"),
            ("sha256sums", "SHA256SUMS"),
        ] {
            let f = &a[key];
            assert_eq!(f["path"], format!("{dir}/{name}").as_str(), "{key}");
            let bytes = fs::read(ws.path().join(f["path"].as_str().unwrap())).unwrap();
            assert_eq!(f["sha256"], sha256_hex(&bytes).as_str(), "{arch} {key}");
            assert_eq!(f["size"], bytes.len() as u64, "{arch} {key}");
        }
        // The artifacts are the manifest's, pins and all.
        let manifest = read_json(ws.path().join(&dir).join("manifest.json"));
        assert_eq!(a["artifacts"], manifest["artifacts"]);
        let runc = a["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == "runc")
            .unwrap();
        assert_eq!(runc["version"], "1.4.3");
        assert_eq!(runc["sha256"], up.pin("runc", arch));
        assert!(runc["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"));
        assert_eq!(doc["profile"]["sha256"], manifest["profile"]["sha256"]);
    }

    // Field order is fixed: the document reads the same on every run.
    let text = stdout(&o);
    let at: Vec<usize> = [
        "\"schema_version\"",
        "\"builder_version\"",
        "\"profile\"",
        "\"kubernetes\"",
        "\"runtime\"",
        "\"warnings\"",
        "\"arches\"",
    ]
    .iter()
    .map(|k| text.find(k).unwrap())
    .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
    let outcomes = |doc: &str| -> Vec<String> {
        let doc: Value = serde_json::from_str(doc).unwrap();
        doc["arches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["outcome"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(outcomes(&text), ["built", "built"]);
    // Again: every arch up to date, and apart from that the same document.
    let again = ws.render("node", &["--output", "json"]);
    assert_ok(&again);
    assert_eq!(outcomes(&stdout(&again)), ["up-to-date", "up-to-date"]);
    assert_eq!(
        stdout(&again).replace("\"outcome\": \"up-to-date\"", "\"outcome\": \"built\""),
        text
    );
    // Into another folder: the output cache has both cores.
    let elsewhere = ws.run(&[
        "render",
        "--profile",
        "node",
        "--output",
        "json",
        "--out",
        "elsewhere",
    ]);
    assert_ok(&elsewhere);
    assert_eq!(outcomes(&stdout(&elsewhere)), ["reused", "reused"]);
}

#[test]
fn text_output_keeps_stdout_empty_and_json_survives_quiet() {
    let (_up, ws) = node_setup();
    let o = ws.render("node", &["--arch", "amd64"]);
    assert_ok(&o);
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("rendered node amd64"), "{}", stderr(&o));
    // No warning: an empty list, not a missing field.
    let o = ws.render("node", &["--arch", "amd64", "-q", "-o", "json"]);
    assert_ok(&o);
    assert_eq!(stderr(&o), "");
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["warnings"], serde_json::json!([]));
    assert_eq!(doc["arches"].as_array().unwrap().len(), 1);
    // `--output json` is the format, not `--out json`.
    assert!(!ws.path().join("json").exists());
    let o = ws.render("node", &["--output", "yaml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid value 'yaml' for '--output <FORMAT>': expected text or json"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stdout(&o), "");
}
