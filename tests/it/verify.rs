//! `builder verify`: a fresh render verifies; each kind of tampering is caught by the check
//! that owns it, named on stderr, with exit 1.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::*;

fn rendered() -> (Upstream, Workspace) {
    let (up, ws) = node_setup();
    assert_ok(&ws.render("node", &[]));
    (up, ws)
}

fn verify(ws: &Workspace, args: &[&str]) -> Output {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    ws.run(&all)
}

fn arch_dir(ws: &Workspace, arch: &str) -> PathBuf {
    ws.out().join("node").join(arch)
}

/// The status of one check of one arch in the text report.
fn status_of(out: &str, arch: &str, check: &str) -> String {
    out.lines()
        .find_map(|l| {
            let mut f = l.split_whitespace();
            let (status, a, c) = (f.next()?, f.next()?, f.next()?);
            (a == arch && c == format!("{check}:")).then(|| status.to_string())
        })
        .unwrap_or_else(|| panic!("no {arch} {check} line in:\n{out}"))
}

/// Tampers with a file: its middle byte, one bit flipped.
fn flip_middle_byte(path: &Path) {
    let mut bytes = fs::read(path).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    fs::write(path, &bytes).unwrap();
}

fn assert_fails(o: &Output, arch: &str, check: &str, detail: &str) {
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(o), stderr(o));
    let out = stdout(o);
    assert_eq!(status_of(&out, arch, check), "FAIL", "{out}");
    let err = stderr(o);
    assert!(
        err.contains(&format!("first mismatch: {arch} {check}: ")) && err.contains(detail),
        "expected {arch} {check} ... {detail:?} on stderr:\n{err}\n{out}"
    );
}

/// Rewrites SHA256SUMS to match the files as they are now: what someone who changed an output
/// without the signing key can do.
fn reseal(dir: &Path) {
    let sums = read(dir.join("SHA256SUMS"));
    let mut out = String::new();
    for line in sums.lines() {
        let (_, name) = line.split_once("  ").unwrap();
        let bytes = fs::read(dir.join(name)).unwrap();
        out.push_str(&format!("{}  {name}\n", sha256_hex(&bytes)));
    }
    fs::write(dir.join("SHA256SUMS"), out).unwrap();
}

#[test]
fn a_fresh_render_verifies_from_any_level_of_the_output() {
    let (_up, ws) = rendered();
    for dir in [ws.out(), ws.out().join("node"), arch_dir(&ws, "arm64")] {
        let o = verify(&ws, &[dir.to_str().unwrap()]);
        assert_ok(&o);
        let out = stdout(&o);
        let arches: &[&str] = if dir.ends_with("arm64") {
            &["arm64"]
        } else {
            &["amd64", "arm64"]
        };
        for arch in arches {
            for check in ["sha256sums", "overlay", "rootfs", "sbom", "provenance"] {
                assert_eq!(status_of(&out, arch, check), "ok", "{out}");
            }
            assert_eq!(status_of(&out, arch, "signature"), "skip", "{out}");
        }
        assert!(out.contains("verified: every check holds"), "{out}");
    }
    // Without rootfs/ (only the published files copied), that check is skipped, not failed.
    fs::remove_dir_all(arch_dir(&ws, "amd64").join("rootfs")).unwrap();
    let o = verify(&ws, &["dist/node/amd64"]);
    assert_ok(&o);
    assert_eq!(status_of(&stdout(&o), "amd64", "rootfs"), "skip");
}

#[test]
fn a_flipped_byte_in_the_overlay_is_caught() {
    let (_up, ws) = rendered();
    flip_middle_byte(&arch_dir(&ws, "amd64").join("overlay.tar.gz"));
    let o = verify(&ws, &["dist"]);
    assert_fails(&o, "amd64", "sha256sums", "overlay.tar.gz: sha256 ");
    assert_eq!(status_of(&stdout(&o), "amd64", "overlay"), "FAIL");
    assert_eq!(status_of(&stdout(&o), "arm64", "overlay"), "ok");
    // Resealed sums do not help: the manifest still names the old digest.
    reseal(&arch_dir(&ws, "amd64"));
    let o = verify(&ws, &["dist"]);
    assert_fails(&o, "amd64", "overlay", "manifest.json says");
}

#[test]
fn quiet_prints_only_failures_and_two_profiles_are_told_apart() {
    let (up, ws) = rendered();
    // Quiet and all well: nothing at all.
    let o = verify(&ws, &["-q", "dist"]);
    assert_ok(&o);
    assert_eq!(stdout(&o), "", "{}", stderr(&o));
    // A second profile in the same output folder: each line names its profile.
    ws.write_profile("other", &up.containerd_profile("other", "2.2.7", "1.36"));
    assert_ok(&ws.render("other", &[]));
    let o = verify(&ws, &["dist"]);
    assert_ok(&o);
    let out = stdout(&o);
    for label in ["node/amd64", "node/arm64", "other/amd64", "other/arm64"] {
        assert_eq!(status_of(&out, label, "overlay"), "ok", "{out}");
    }
    // One profile folder: the arch alone, as before.
    let o = verify(&ws, &["dist/other"]);
    assert_eq!(status_of(&stdout(&o), "amd64", "overlay"), "ok");
    // Quiet with a failure: only the failed checks, labelled; the error on stderr.
    flip_middle_byte(&ws.out().join("other/arm64/overlay.tar.gz"));
    let o = verify(&ws, &["--quiet", "dist"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        !out.is_empty() && out.lines().all(|l| l.starts_with("FAIL  other/arm64  ")),
        "{out}"
    );
    assert!(
        stderr(&o).contains("first mismatch: other/arm64 sha256sums: overlay.tar.gz"),
        "{}",
        stderr(&o)
    );
    let json: Value = serde_json::from_str(&stdout(&verify(&ws, &["-o", "json", "dist"]))).unwrap();
    let profiles: Vec<&str> = json["arches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["profile"].as_str().unwrap())
        .collect();
    assert_eq!(profiles, ["node", "node", "other", "other"]);
}

#[test]
fn a_changed_file_in_rootfs_is_caught() {
    let (_up, ws) = rendered();
    let f = arch_dir(&ws, "arm64").join("rootfs/etc/containerd/config.toml");
    let mut text = read(&f);
    text.push('\n');
    fs::write(&f, text).unwrap();
    let o = verify(&ws, &["dist/node"]);
    assert_fails(
        &o,
        "arm64",
        "rootfs",
        "etc/containerd/config.toml: rootfs/ has a file",
    );
    assert_eq!(status_of(&stdout(&o), "arm64", "overlay"), "ok");

    // A mode change and an added file are caught too.
    let (_up, ws) = rendered();
    let root = arch_dir(&ws, "amd64").join("rootfs");
    fs::write(root.join("etc/extra.conf"), "x").unwrap();
    assert_fails(
        &verify(&ws, &["dist"]),
        "amd64",
        "rootfs",
        "etc/extra.conf: in rootfs/, not in manifest.json",
    );
    fs::remove_file(root.join("etc/extra.conf")).unwrap();
    let crictl = root.join("etc/crictl.yaml");
    fs::set_permissions(&crictl, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    assert_fails(
        &verify(&ws, &["dist"]),
        "amd64",
        "rootfs",
        "etc/crictl.yaml: rootfs/ has a file, mode 0666",
    );
}

#[test]
fn an_edited_manifest_is_caught() {
    let (_up, ws) = rendered();
    let dir = arch_dir(&ws, "amd64");
    let text = read(dir.join("manifest.json"));
    let mut m: Value = serde_json::from_str(&text).unwrap();
    let files = m["files"].as_array_mut().unwrap();
    let i = files
        .iter()
        .position(|f| f["path"] == "/etc/crictl.yaml")
        .unwrap();
    files[i]["sha256"] = "00".repeat(32).into();
    fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&m).unwrap(),
    )
    .unwrap();
    assert_fails(
        &verify(&ws, &["dist"]),
        "amd64",
        "sha256sums",
        "manifest.json: sha256 ",
    );
    // With the sums resealed, the archive and the folder still disagree with it, and so does
    // the provenance, which named the old manifest.
    reseal(&dir);
    let o = verify(&ws, &["dist"]);
    assert_fails(
        &o,
        "amd64",
        "overlay",
        "etc/crictl.yaml: overlay.tar.gz has a file",
    );
    let out = stdout(&o);
    assert_eq!(status_of(&out, "amd64", "rootfs"), "FAIL", "{out}");
    assert_eq!(status_of(&out, "amd64", "provenance"), "FAIL", "{out}");
}

#[test]
fn an_sbom_that_disagrees_with_the_manifest_is_caught() {
    let (_up, ws) = rendered();
    let dir = arch_dir(&ws, "arm64");
    let m = read_json(dir.join("manifest.json"));
    let runc = m["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "runc")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let cdx = read(dir.join("sbom.cdx.json"));
    assert!(cdx.contains(&runc));
    fs::write(
        dir.join("sbom.cdx.json"),
        cdx.replace(&runc, &"0".repeat(64)),
    )
    .unwrap();
    reseal(&dir);
    assert_fails(&verify(&ws, &["dist"]), "arm64", "sbom", "sbom.cdx.json");
}

#[test]
fn unlisted_and_missing_outputs_are_caught() {
    let (_up, ws) = rendered();
    let dir = arch_dir(&ws, "amd64");
    fs::write(dir.join("notes.txt"), "x").unwrap();
    assert_fails(
        &verify(&ws, &["dist"]),
        "amd64",
        "sha256sums",
        "notes.txt is not listed",
    );
    fs::remove_file(dir.join("notes.txt")).unwrap();
    fs::remove_file(dir.join("overlay.tar.gz.sha256")).unwrap();
    assert_fails(
        &verify(&ws, &["dist"]),
        "amd64",
        "sha256sums",
        "overlay.tar.gz.sha256: ",
    );
}

/// The node's launch files (user-data, meta-data) may be absent, as in a folder `builder pull`
/// wrote (a registry artifact does not carry them); the report says so. Changed, they fail.
#[test]
fn absent_launch_files_are_reported_not_failed() {
    let (_up, ws) = rendered();
    let dir = arch_dir(&ws, "amd64");
    fs::remove_file(dir.join("meta-data")).unwrap();
    fs::remove_file(dir.join("user-data")).unwrap();
    let o = verify(&ws, &["dist"]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("meta-data, user-data absent"),
        "{}",
        stdout(&o)
    );
    fs::write(dir.join("meta-data"), "instance-id: other\n").unwrap();
    assert_fails(
        &verify(&ws, &["dist"]),
        "amd64",
        "sha256sums",
        "meta-data: sha256",
    );
}

#[test]
fn the_json_report_has_every_check() {
    let (_up, ws) = rendered();
    let o = verify(&ws, &["dist", "--output", "json"]);
    assert_ok(&o);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["ok"], true);
    assert!(v.get("first_failure").is_none());
    let arches = v["arches"].as_array().unwrap();
    assert_eq!(arches.len(), 2);
    let checks: Vec<&str> = arches[0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    for c in [
        "sha256sums",
        "signature",
        "overlay",
        "rootfs",
        "sbom",
        "provenance",
    ] {
        assert!(checks.contains(&c), "{checks:?}");
    }
    fs::write(arch_dir(&ws, "arm64").join("provenance.intoto.json"), "{}").unwrap();
    let o = verify(&ws, &["dist", "-o", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["ok"], false);
    assert!(
        v["first_failure"]
            .as_str()
            .unwrap()
            .starts_with("arm64 sha256sums: provenance.intoto.json"),
        "{v}"
    );
}

#[test]
fn bad_input_is_refused_clearly() {
    let ws = Workspace::new();
    let o = verify(&ws, &["nowhere"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("nowhere: no such folder"),
        "{}",
        stderr(&o)
    );
    fs::create_dir(ws.path().join("empty")).unwrap();
    let o = verify(&ws, &["empty"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no output here"), "{}", stderr(&o));
    // Hostile SHA256SUMS names never leave the folder.
    let d = ws.path().join("evil/amd64");
    fs::create_dir_all(&d).unwrap();
    fs::write(
        d.join("SHA256SUMS"),
        format!("{}  ../../etc/passwd\n", "ab".repeat(32)),
    )
    .unwrap();
    let o = verify(&ws, &["evil"]);
    assert_fails(
        &o,
        "amd64",
        "sha256sums",
        "expected \"<64 hex>  <file name>\"",
    );
}

/// An unencrypted key pair made by the real tool (`minisign`, else `ssh-keygen`): (secret,
/// public), or None after `skip_or_fail` when the tool is missing.
fn key_pair(ws: &Workspace, kind: &str, name: &str) -> Option<(PathBuf, PathBuf)> {
    if kind == "minisign" {
        signing_tool("minisign")?;
        Some(minisign_keys(ws.path(), name, None))
    } else {
        signing_tool("ssh-keygen")?;
        Some(ssh_keys(ws.path(), name, ""))
    }
}

#[test]
fn signatures_are_checked_with_the_given_keys_and_a_swapped_one_fails() {
    for (kind, sig) in [
        ("minisign", "SHA256SUMS.minisig"),
        ("ssh", "SHA256SUMS.sig"),
    ] {
        let (_up, ws) = node_setup();
        let Some((sk, pk)) = key_pair(&ws, kind, "k") else {
            return;
        };
        let (_, other_pk) = key_pair(&ws, kind, "otherkey").unwrap();
        let signed = |out: &str, epoch: &str| {
            let o = ws.run_env(
                &[
                    "render",
                    "--profile",
                    "node",
                    "--out",
                    out,
                    "--sign-key",
                    sk.to_str().unwrap(),
                ],
                &[("SOURCE_DATE_EPOCH", epoch)],
            );
            assert_ok(&o);
        };
        signed("dist", "0");
        let good = verify(&ws, &["dist", "--key", pk.to_str().unwrap()]);
        assert_ok(&good);
        let out = stdout(&good);
        assert_eq!(status_of(&out, "amd64", "signature"), "ok", "{out}");
        assert!(out.contains(&format!("{sig} by ")), "{out}");
        // One matching key among several is enough.
        let two = [
            "dist",
            "--key",
            other_pk.to_str().unwrap(),
            "--key",
            pk.to_str().unwrap(),
        ];
        assert_ok(&verify(&ws, &two));
        // Another key does not verify it.
        let o = verify(&ws, &["dist", "--key", other_pk.to_str().unwrap()]);
        assert_fails(&o, "amd64", "signature", "does not verify");
        // A valid signature by the same key, of another render's SHA256SUMS, swapped in.
        signed("other", "1700000000");
        let swapped = ws.path().join("other/node/amd64").join(sig);
        fs::copy(&swapped, arch_dir(&ws, "amd64").join(sig)).unwrap();
        let o = verify(&ws, &["dist", "--key", pk.to_str().unwrap()]);
        assert_fails(&o, "amd64", "signature", "does not verify");
        assert_eq!(status_of(&stdout(&o), "arm64", "signature"), "ok");
        // A removed signature fails when a key asks for one; without a key it is not checked.
        fs::remove_file(arch_dir(&ws, "amd64").join(sig)).unwrap();
        let o = verify(&ws, &["dist", "--key", pk.to_str().unwrap()]);
        assert_fails(&o, "amd64", "signature", &format!("{sig} is missing"));
        assert_ok(&verify(&ws, &["dist"]));
        // A signature still fails when SHA256SUMS itself was edited (resealed after a change).
        fs::write(
            arch_dir(&ws, "arm64").join("meta-data"),
            "instance-id: evil\n",
        )
        .unwrap();
        reseal(&arch_dir(&ws, "arm64"));
        let o = verify(&ws, &["dist/node/arm64", "--key", pk.to_str().unwrap()]);
        assert_eq!(
            status_of(&stdout(&o), "arm64", "signature"),
            "FAIL",
            "{}",
            stdout(&o)
        );
    }
}

#[test]
fn a_key_that_is_not_a_public_key_is_refused() {
    let (_up, ws) = rendered();
    let Some((sk, _)) = key_pair(&ws, "minisign", "k") else {
        return;
    };
    let o = verify(&ws, &["dist", "--key", sk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(sk.to_str().unwrap()), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}
