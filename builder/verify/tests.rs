//! What `verify` makes of a manifest edited by hand: a digest that is not one is reported by
//! the check that compares it, naming what the manifest says; an unknown arch fails the
//! manifest check.

use std::fs;

use super::*;
use crate::outputs::manifest::{OverlayRef, ProfileRef};
use crate::util::digest::{Recorded, Sha256};
use crate::util::model::{Arch, Runtime};

fn manifest(overlay_sha256: &str, size: u64) -> Manifest {
    Manifest {
        builder_version: "9.9.9".into(),
        profile: ProfileRef {
            name: "p".into(),
            sha256: "11".repeat(32).into(),
        },
        kubernetes: "1.36".into(),
        runtime: Runtime::Containerd,
        arch: Arch::Arm64,
        source_date_epoch: 0,
        input_sha256: Recorded::default(),
        artifacts: Vec::new(),
        overlay: OverlayRef {
            file: "overlay.tar.gz".into(),
            sha256: overlay_sha256.into(),
            size,
            sha256_file: "overlay.tar.gz.sha256".into(),
        },
        sysext: None,
        files: Vec::new(),
        documents: Vec::new(),
    }
}

fn check<'a>(r: &'a ArchReport, name: &str) -> &'a Check {
    r.checks.iter().find(|c| c.check == name).unwrap()
}

#[test]
fn a_digest_that_is_not_one_fails_the_check_that_compares_it() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("amd64");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("overlay.tar.gz"), b"bytes").unwrap();
    let m = manifest("NOT-A-DIGEST", 5);
    fs::write(dir.join("manifest.json"), m.to_json().unwrap()).unwrap();
    let r = verify_arch(&dir, &[]);
    assert_eq!(r.arch, "arm64", "the manifest's arch names the report");
    assert_eq!(check(&r, "sha256sums").status, Status::Fail);
    let overlay = check(&r, "overlay");
    assert_eq!(overlay.status, Status::Fail);
    assert_eq!(
        overlay.detail,
        format!(
            "overlay.tar.gz has sha256 {} (5 bytes); manifest.json says NOT-A-DIGEST (5 bytes)",
            Sha256::of(b"bytes")
        )
    );
    // The same file with its digest: the overlay check goes on to read the archive (which
    // these bytes are not).
    let m = manifest(Sha256::of(b"bytes").as_str(), 5);
    fs::write(dir.join("manifest.json"), m.to_json().unwrap()).unwrap();
    let r = verify_arch(&dir, &[]);
    let detail = &check(&r, "overlay").detail;
    assert!(
        detail.starts_with("reading ") && !detail.contains("says"),
        "{detail}"
    );
}

#[test]
fn an_unknown_arch_or_runtime_fails_the_manifest_check() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("amd64");
    fs::create_dir(&dir).unwrap();
    let json = manifest(&"0".repeat(64), 1).to_json().unwrap();
    for (from, to, named) in [
        (
            "\"arm64\"",
            "\"sparc\"",
            "unknown variant `sparc`, expected one of `amd64`",
        ),
        (
            "\"containerd\"",
            "\"crio\"",
            "unknown variant `crio`, expected `containerd` or `cri-dockerd`",
        ),
    ] {
        fs::write(dir.join("manifest.json"), json.replace(from, to)).unwrap();
        let r = verify_arch(&dir, &[]);
        assert_eq!(r.arch, "amd64", "named after its folder");
        let c = check(&r, "manifest");
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.detail
                .starts_with("manifest.json is not a builder manifest: ")
                && c.detail.contains(named),
            "{}",
            c.detail
        );
    }
}
