//! The SBOMs of both shipped profiles (rendered from loopback fixtures), checked by real
//! validators: `pyspdxtools -i` (PyPI spdx-tools; BUILDER_PYSPDXTOOLS) and cyclonedx-python-lib's
//! strict CycloneDX 1.6 JSON schema validator (BUILDER_CDX_PYTHON: a python with it installed;
//! `tests/sbom_validate.py`). Each also gets broken documents it must reject. `ci/test.sh`
//! installs both; without them these tests skip (fail under BUILDER_REQUIRE_CONSUMERS).
//! Also: both documents agree with the manifest, and renders are deterministic.

use std::path::{Path, PathBuf};
use std::process::Command;

use builder::outputs::manifest::Manifest;
use builder::outputs::sbom;
use serde_json::Value;

use crate::common::*;

/// Both shipped profiles rendered for amd64 from the loopback server: their arch folders.
fn render_shipped(ws: &Workspace, up: &Upstream, env: &[(&str, &str)]) -> Vec<PathBuf> {
    let profiles = [
        (
            "c",
            "containerd",
            shipped_on_loopback(
                "containerd",
                &up.containerd_profile("node", "2.2.7", "1.36"),
                &[("containerd", "2.3.4")],
            ),
        ),
        (
            "d",
            "cri-dockerd",
            shipped_on_loopback("cri-dockerd", &up.cri_dockerd_profile("dock", "1.36"), &[]),
        ),
    ];
    let mut dirs = Vec::new();
    for (file, shipped, text) in profiles {
        ws.write_profile(file, &text);
        let o = ws.run_env(
            &["render", "--profile", file, "--out", "dist", "-o", "json"],
            env,
        );
        assert_ok(&o);
        let dir = ws.out().join(format!("{shipped}-loopback/amd64"));
        // The summary names both documents with the digests of the files on disk.
        let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
        for (key, name) in [
            ("sbom_spdx", "sbom.spdx.json"),
            ("sbom_cyclonedx", "sbom.cdx.json"),
        ] {
            let entry = &summary["arches"][0][key];
            let bytes = std::fs::read(dir.join(name)).unwrap();
            assert_eq!(entry["sha256"], sha256_hex(&bytes), "{key}");
            assert_eq!(entry["size"], bytes.len(), "{key}");
        }
        dirs.push(dir);
    }
    dirs
}

fn validator(var: &str, what: &str) -> Option<PathBuf> {
    consumer(
        &format!("{what} ({var}, installed by ci/test.sh)"),
        env_path(var),
    )
}

/// Runs a validator on `doc`: whether it accepted it, and what it said.
fn validate(program: &Path, args: &[&str], doc: &Path) -> (bool, String) {
    run_text(Command::new(program).args(args).arg(doc))
}

/// `doc` edited by `edit`, written beside it as `NAME`.
fn broken(doc: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v: Value = serde_json::from_slice(&std::fs::read(doc).unwrap()).unwrap();
    edit(&mut v);
    let out = doc.with_file_name(name);
    std::fs::write(&out, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    out
}

/// A broken document's file name and how it is broken.
type Breakage = (&'static str, Box<dyn Fn(&mut Value)>);

/// Every rendered document and the golden one (GitHub purls, odd names and URLs) accepted;
/// each broken one rejected.
fn accepts_and_rejects(program: &Path, args: &[&str], file: &str, breakages: Vec<Breakage>) {
    let up = Upstream::start();
    let ws = Workspace::new();
    let dirs = render_shipped(&ws, &up, &[]);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    for doc in dirs.iter().map(|d| d.join(file)).chain([golden]) {
        let (ok, said) = validate(program, args, &doc);
        assert!(ok, "{} rejected:\n{said}", doc.display());
    }
    for (name, edit) in breakages {
        let bad = broken(&dirs[0].join(file), name, edit);
        let (ok, said) = validate(program, args, &bad);
        assert!(!ok, "{name} was accepted:\n{said}");
        assert!(!said.trim().is_empty(), "{name}: rejected without a word");
    }
}

#[test]
fn pyspdxtools_accepts_the_spdx_documents_and_rejects_broken_ones() {
    let Some(pyspdxtools) = validator("BUILDER_PYSPDXTOOLS", "pyspdxtools") else {
        return;
    };
    let breakages: Vec<Breakage> = vec![
        (
            "no-spdxid.json",
            Box::new(|v| {
                v["files"][0].as_object_mut().unwrap().remove("SPDXID");
            }),
        ),
        (
            "bad-sha1.json",
            Box::new(|v| v["files"][0]["checksums"][0]["checksumValue"] = "abc".into()),
        ),
        (
            "dangling-relationship.json",
            Box::new(|v| {
                let last = v["relationships"]
                    .as_array_mut()
                    .unwrap()
                    .last_mut()
                    .unwrap();
                last["relatedSpdxElement"] = "SPDXRef-Nowhere".into();
            }),
        ),
    ];
    accepts_and_rejects(&pyspdxtools, &["-i"], "sbom.spdx.json", breakages);
}

#[test]
fn cyclonedx_schema_accepts_the_cyclonedx_documents_and_rejects_broken_ones() {
    let Some(python) = validator("BUILDER_CDX_PYTHON", "python with cyclonedx-python-lib") else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sbom_validate.py");
    let breakages: Vec<Breakage> = vec![
        (
            "no-type.json",
            Box::new(|v| {
                v["components"][0].as_object_mut().unwrap().remove("type");
            }),
        ),
        (
            "bad-hash.json",
            Box::new(|v| v["metadata"]["component"]["hashes"][0]["content"] = "xyz".into()),
        ),
        (
            "bad-serial.json",
            Box::new(|v| v["serialNumber"] = "overlay-1".into()),
        ),
    ];
    accepts_and_rejects(
        &python,
        &[script.to_str().unwrap()],
        "sbom.cdx.json",
        breakages,
    );
}

#[test]
fn the_documents_agree_with_the_manifest_and_are_listed_in_it_and_the_sums() {
    let up = Upstream::start();
    let ws = Workspace::new();
    for dir in render_shipped(&ws, &up, &[]) {
        let manifest: Manifest =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        let spdx = std::fs::read(dir.join("sbom.spdx.json")).unwrap();
        let cdx = std::fs::read(dir.join("sbom.cdx.json")).unwrap();
        sbom::check(&manifest, &spdx, &cdx).unwrap();
        let sums = read(dir.join("SHA256SUMS"));
        for (bytes, name, format) in [
            (&spdx, "sbom.spdx.json", "SPDX-2.3"),
            (&cdx, "sbom.cdx.json", "CycloneDX-1.6"),
        ] {
            assert!(
                sums.contains(&format!("{}  {name}\n", sha256_hex(bytes))),
                "{sums}"
            );
            let d = manifest.documents.iter().find(|d| d.file == name).unwrap();
            assert_eq!(
                (d.format.as_str(), d.sha256.to_string(), d.size),
                (format, sha256_hex(bytes), bytes.len() as u64)
            );
        }
        // Every regular file, with the digest of the file in the rootfs.
        let spdx: Value = serde_json::from_slice(&spdx).unwrap();
        let regular = manifest.files.iter().filter(|f| f.sha256.is_some()).count();
        assert_eq!(spdx["files"].as_array().unwrap().len(), regular);
        // An edited document is caught, naming the file.
        let tampered = String::from_utf8(cdx.clone()).unwrap().replacen(
            manifest.artifacts[0].sha256.as_str(),
            &"0".repeat(64),
            1,
        );
        let e = sbom::check(
            &manifest,
            &std::fs::read(dir.join("sbom.spdx.json")).unwrap(),
            tampered.as_bytes(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("sbom.cdx.json: artifact"), "{e}");
    }
}

#[test]
fn renders_give_the_same_sboms_and_the_epoch_changes_only_time_and_overlay_digest() {
    let up = Upstream::start();
    let (a, b, c) = (Workspace::new(), Workspace::new(), Workspace::new());
    let first = render_shipped(&a, &up, &[]);
    let again = render_shipped(&b, &up, &[]);
    let later = render_shipped(&c, &up, &[("SOURCE_DATE_EPOCH", "1700000000")]);
    for ((x, y), z) in first.iter().zip(&again).zip(&later) {
        let overlay = |d: &Path| read(d.join("overlay.tar.gz.sha256"))[..64].to_string();
        for file in ["sbom.spdx.json", "sbom.cdx.json"] {
            let (x_text, z_text) = (read(x.join(file)), read(z.join(file)));
            assert_eq!(
                x_text,
                read(y.join(file)),
                "{file} differs between two renders"
            );
            assert_ne!(x_text, z_text);
            let uuid = |d: &Path| sbom::uuid_urn(&overlay(d));
            let normal = z_text
                .replace("2023-11-14T22:13:20Z", "1970-01-01T00:00:00Z")
                .replace(&uuid(z), &uuid(x))
                .replace(&overlay(z), &overlay(x));
            assert_eq!(
                normal, x_text,
                "{file}: more than the time and the overlay changed"
            );
        }
    }
}
