//! provenance.intoto.json: what it names (every output by digest, every artifact by URL and
//! digest, the flags that change output, never the join token), that it is deterministic, and
//! that the in-toto reference implementation's validators (ci/consumers/intoto, Go) accept it
//! and reject broken variants.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::*;

fn join_file(ws: &Workspace) -> PathBuf {
    let p = ws.path().join("join.toml");
    fs::write(
        &p,
        format!(
            "api_server = \"10.0.0.10:6443\"\ntoken = \"{TOKEN}\"\n\
             ca_cert_hashes = [\"sha256:{}\"]\ndiscovery_timeout = \"90s\"\n",
            "9f".repeat(32)
        ),
    )
    .unwrap();
    p
}

/// SHA256SUMS as name -> digest.
fn sums(dir: &Path) -> BTreeMap<String, String> {
    read(dir.join("SHA256SUMS"))
        .lines()
        .map(|l| {
            let (hex, name) = l.split_once("  ").unwrap();
            (name.to_string(), hex.to_string())
        })
        .collect()
}

#[test]
fn the_statement_names_every_output_and_input_and_no_secret() {
    let (_up, ws) = node_setup();
    let join = join_file(&ws);
    let o = ws.run_env(
        &[
            "render",
            "--profile",
            "node",
            "--out",
            "dist",
            "--cloud",
            "aws",
            "--join-config",
            join.to_str().unwrap(),
            "--overlay-url",
            "https://user:pw@images.example.invalid/{arch}/overlay.tar.gz",
        ],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_ok(&o);
    for arch in ARCHES {
        let dir = ws.out().join("node").join(arch);
        let text = read(dir.join("provenance.intoto.json"));
        assert!(!text.contains(TOKEN) && !text.contains("pw@"), "{text}");
        let p: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(p["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(p["predicateType"], "https://slsa.dev/provenance/v1");

        // Subjects: every file of SHA256SUMS but the provenance itself, with the same digests.
        let mut want = sums(&dir);
        let own = want
            .remove("provenance.intoto.json")
            .expect("provenance in SHA256SUMS");
        assert_eq!(
            own,
            sha256_hex(&fs::read(dir.join("provenance.intoto.json")).unwrap())
        );
        let got: BTreeMap<String, String> = p["subject"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().to_string(),
                    s["digest"]["sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(got, want);
        for name in ["overlay.tar.gz", "manifest.json", "user-data", "meta-data"] {
            assert!(got.contains_key(name), "{name} not a subject: {got:?}");
        }

        // Dependencies: the manifest's artifacts, in order.
        let m = read_json(dir.join("manifest.json"));
        let deps = p["predicate"]["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .unwrap();
        let artifacts = m["artifacts"].as_array().unwrap();
        assert_eq!(deps.len(), artifacts.len());
        for (d, a) in deps.iter().zip(artifacts) {
            assert_eq!(d["uri"], a["url"]);
            assert_eq!(d["digest"]["sha256"], a["sha256"]);
        }

        let ext = &p["predicate"]["buildDefinition"]["externalParameters"];
        assert_eq!(ext["profile"], m["profile"]);
        assert_eq!(ext["arch"], arch);
        assert_eq!(ext["sourceDateEpoch"], 1700000000);
        assert_eq!(ext["cloud"], "aws");
        assert_eq!(
            ext["overlayUrl"],
            "https://user:***@images.example.invalid/{arch}/overlay.tar.gz"
        );
        assert_eq!(ext["join"]["apiServer"], "10.0.0.10:6443");
        assert_eq!(ext["join"]["discoveryTimeout"], "90s");
        assert_eq!(
            p["predicate"]["runDetails"]["builder"]["version"]["builder"],
            m["builder_version"]
        );
    }
}

#[test]
fn the_statement_is_deterministic_and_follows_its_inputs() {
    let (_up, ws) = node_setup();
    let render = |out: &str, epoch: &str| {
        ws.render_amd64("node", out, &[], &[("SOURCE_DATE_EPOCH", epoch)]);
        fs::read(
            ws.path()
                .join(out)
                .join("node/amd64/provenance.intoto.json"),
        )
        .unwrap()
    };
    let a = render("a", "1700000000");
    assert_eq!(a, render("b", "1700000000"));
    let c = render("c", "1700000001");
    assert_ne!(a, c);
    let (a, c) = (String::from_utf8(a).unwrap(), String::from_utf8(c).unwrap());
    assert!(c.contains("\"sourceDateEpoch\": 1700000001"), "{c}");
    assert!(
        !a.contains("\"overlayUrl\"") && !a.contains("\"join\""),
        "{a}"
    );
}

/// The reference validators, built by ci/consumers/intoto/build.sh.
fn intoto_check() -> Option<PathBuf> {
    match std::env::var_os("BUILDER_INTOTO_CHECK") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            skip_or_fail("intoto-check not found (BUILDER_INTOTO_CHECK, built by ci/consumers/intoto/build.sh)");
            None
        }
    }
}

/// A change that breaks a statement.
type Edit = fn(&mut Value);

fn validate(bin: &Path, file: &Path) -> (bool, String) {
    run_text(Command::new(bin).arg(file))
}

#[test]
fn the_in_toto_reference_validators_accept_it_and_reject_broken_ones() {
    let Some(bin) = intoto_check() else {
        return;
    };
    let (_up, ws) = node_setup();
    let join = join_file(&ws);
    assert_ok(&ws.render("node", &["--join-config", join.to_str().unwrap()]));
    for arch in ARCHES {
        let file = ws
            .out()
            .join("node")
            .join(arch)
            .join("provenance.intoto.json");
        let (ok, out) = validate(&bin, &file);
        assert!(ok, "{out}");
    }
    let good = read_json(ws.out().join("node/amd64/provenance.intoto.json"));
    let broken: [(&str, Edit); 4] = [
        ("runDetails.builder.id required", |v| {
            v["predicate"]["runDetails"]["builder"]
                .as_object_mut()
                .unwrap()
                .remove("id");
        }),
        ("digest", |v| {
            v["subject"][0]["digest"]["sha256"] = "not-hex".into();
        }),
        ("unknown field", |v| {
            v["predicate"]["buildDefinition"]["buildTypo"] = "x".into();
        }),
        ("externalParameters required", |v| {
            v["predicate"]["buildDefinition"]["externalParameters"] = serde_json::json!({});
        }),
    ];
    for (want, edit) in broken {
        let mut v = good.clone();
        edit(&mut v);
        let file = ws.path().join("broken.json");
        fs::write(&file, serde_json::to_string_pretty(&v).unwrap()).unwrap();
        let (ok, out) = validate(&bin, &file);
        assert!(!ok, "accepted a statement broken for {want:?}: {out}");
        assert!(out.contains(want), "{want:?} not in {out}");
    }
}
