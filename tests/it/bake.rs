//! Publishing and baking the overlay: `overlay.tar.gz.sha256` covers exactly what an image
//! pipeline uploads, and `ci/examples/bake-chroot.sh` (the README's Packer recipe) verifies
//! and unpacks from a folder holding only overlay.tar.gz and overlay.tar.gz.sha256, refuses a
//! tampered overlay without unpacking anything, and still works from a full render folder.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;

const PUBLIC: [&str; 2] = ["overlay.tar.gz", "overlay.tar.gz.sha256"];

/// One render of a containerd profile against the loopback upstream; returns its amd64 folder.
fn rendered() -> (Upstream, Workspace, PathBuf) {
    let (up, ws) = node_setup();
    assert_ok(&ws.render("node", &["--arch", "amd64"]));
    let dir = ws.out().join("node/amd64");
    (up, ws, dir)
}

/// A folder holding copies of `names` from `from`, as an upload would.
fn public_copy(from: &Path, to: &Path, names: &[&str]) {
    fs::create_dir_all(to).unwrap();
    for n in names {
        fs::copy(from.join(n), to.join(n)).unwrap();
    }
}

#[test]
fn the_overlay_checksum_file_is_one_sha256sum_line_listed_in_the_manifest() {
    let (_up, _ws, dir) = rendered();
    let line = read(dir.join("overlay.tar.gz.sha256"));
    let sha = sha256_hex(&fs::read(dir.join("overlay.tar.gz")).unwrap());
    assert_eq!(line, format!("{sha}  overlay.tar.gz\n"));
    let m = read_json(dir.join("manifest.json"));
    assert_eq!(m["overlay"]["sha256"], sha.as_str());
    assert_eq!(m["overlay"]["sha256_file"], "overlay.tar.gz.sha256");
    // The real sha256sum accepts it alone, in a folder with nothing else.
    let public = dir.parent().unwrap().parent().unwrap().join("public-check");
    public_copy(&dir, &public, &PUBLIC);
    assert_sha256sum_c(&public, "overlay.tar.gz.sha256");
}

#[test]
fn bake_chroot_works_with_only_the_public_files() {
    let (_up, ws, dir) = rendered();
    let public = ws.path().join("uploaded");
    public_copy(&dir, &public, &PUBLIC);
    let names: Vec<_> = fs::read_dir(&public)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let root = ws.path().join("image-root");
    fs::create_dir(&root).unwrap();
    let o = bake_chroot(&public, &root);
    assert_ok(&o);
    // What was unpacked is the render's rootfs, file for file.
    assert_eq!(
        read(root.join("var/lib/kubelet/kubeadm-flags.env")),
        read(dir.join("rootfs/var/lib/kubelet/kubeadm-flags.env"))
    );
    assert_eq!(files_under(&root), files_under(&dir.join("rootfs")));

    // A full render folder still works (what ci/e2e/run.sh passes).
    let root2 = ws.path().join("image-root-2");
    fs::create_dir(&root2).unwrap();
    assert_ok(&bake_chroot(&dir, &root2));
    assert_eq!(files_under(&root2), files_under(&root));

    // So does a folder with only SHA256SUMS (a render from before overlay.tar.gz.sha256):
    // only its overlay line is checked, the missing user-data does not matter.
    let old = ws.path().join("old-layout");
    public_copy(&dir, &old, &["overlay.tar.gz", "SHA256SUMS"]);
    let root3 = ws.path().join("image-root-3");
    fs::create_dir(&root3).unwrap();
    assert_ok(&bake_chroot(&old, &root3));
    assert_eq!(files_under(&root3), files_under(&root));
}

#[test]
fn bake_chroot_refuses_a_tampered_overlay_and_installs_nothing() {
    let (_up, ws, dir) = rendered();
    let public = ws.path().join("uploaded");
    public_copy(&dir, &public, &PUBLIC);
    // Same size, one byte changed near the end (a valid gzip header stays).
    let mut bytes = fs::read(public.join("overlay.tar.gz")).unwrap();
    let n = bytes.len();
    bytes[n - 20] ^= 0xff;
    fs::write(public.join("overlay.tar.gz"), &bytes).unwrap();
    let root = ws.path().join("image-root");
    fs::create_dir(&root).unwrap();
    let o = bake_chroot(&public, &root);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not match its sha256") && stderr(&o).contains("nothing was"),
        "{}",
        stderr(&o)
    );
    assert!(files_under(&root).is_empty(), "{:?}", files_under(&root));

    // Control: the untampered copy bakes into the same root.
    fs::copy(dir.join("overlay.tar.gz"), public.join("overlay.tar.gz")).unwrap();
    assert_ok(&bake_chroot(&public, &root));
    assert!(!files_under(&root).is_empty());

    // Without any checksum file, nothing is unpacked either.
    let bare = ws.path().join("bare");
    public_copy(&dir, &bare, &["overlay.tar.gz"]);
    let root2 = ws.path().join("image-root-2");
    fs::create_dir(&root2).unwrap();
    let o = bake_chroot(&bare, &root2);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("overlay.tar.gz.sha256"),
        "{}",
        stderr(&o)
    );
    assert!(files_under(&root2).is_empty());
}
