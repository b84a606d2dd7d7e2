//! `render --compression zstd`: overlay.tar.zst holds the same tar as overlay.tar.gz, is
//! deterministic, is accepted by the real `zstd -t` and GNU `tar --zstd -t` (a truncated copy is
//! not), is named in the manifest, SHA256SUMS and its .sha256 file, and `builder verify` and
//! `ci/examples/bake-chroot.sh` read it.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

fn zstd_tools() -> bool {
    let ok = which("zstd").is_some() && which("tar").is_some();
    if !ok {
        skip_or_fail("zstd or tar not found (Debian: apt-get install zstd tar)");
    }
    ok
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn tar_listing(args: &[&str], file: &Path) -> Output {
    run(Command::new("tar").args(args).arg(file))
}

fn both(ws: &Workspace) -> (PathBuf, PathBuf) {
    ws.render_amd64("node", "gz", &[], &[]);
    ws.render_amd64("node", "zst", &["--compression", "zstd"], &[]);
    (
        ws.path().join("gz/node/amd64"),
        ws.path().join("zst/node/amd64"),
    )
}

#[test]
fn a_zstd_overlay_is_the_same_tar_and_the_real_tools_accept_it() {
    if !zstd_tools() {
        return;
    }
    let (_up, ws) = node_setup();
    let (gz, zst) = both(&ws);
    assert!(!zst.join("overlay.tar.gz").exists());
    let file = zst.join("overlay.tar.zst");
    assert_ok(&run(Command::new("zstd").arg("-t").arg(&file)));
    let listed = tar_listing(&["--zstd", "-tvf"], &file);
    assert_ok(&listed);
    let gz_listed = tar_listing(&["-tzvf"], &gz.join("overlay.tar.gz"));
    assert_eq!(
        stdout(&listed),
        stdout(&gz_listed),
        "same entries, modes, owners, times"
    );

    // The same tar bytes inside.
    let mut from_gz = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(gz.join("overlay.tar.gz")).unwrap())
        .read_to_end(&mut from_gz)
        .unwrap();
    assert_eq!(
        zstd::stream::decode_all(fs::File::open(&file).unwrap()).unwrap(),
        from_gz
    );

    // Named everywhere the gzip one is.
    let sha = sha256_hex(&fs::read(&file).unwrap());
    let m = read_json(zst.join("manifest.json"));
    assert_eq!(m["overlay"]["file"], "overlay.tar.zst");
    assert_eq!(m["overlay"]["sha256"], sha.as_str());
    assert_eq!(m["overlay"]["sha256_file"], "overlay.tar.zst.sha256");
    assert_eq!(
        read(zst.join("overlay.tar.zst.sha256")),
        format!("{sha}  overlay.tar.zst\n")
    );
    assert!(read(zst.join("SHA256SUMS")).contains(&format!("{sha}  overlay.tar.zst\n")));
    assert_sha256sum_c(&zst, "SHA256SUMS");

    // Deterministic.
    ws.render_amd64("node", "zst2", &["--compression", "zstd"], &[]);
    assert_eq!(
        fs::read(&file).unwrap(),
        fs::read(ws.path().join("zst2/node/amd64/overlay.tar.zst")).unwrap()
    );

    // Negative control: a truncated copy fails both tools.
    let bytes = fs::read(&file).unwrap();
    let cut = ws.path().join("cut.tar.zst");
    fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    assert!(!run(Command::new("zstd").arg("-t").arg(&cut))
        .status
        .success());
    assert!(!tar_listing(&["--zstd", "-tf"], &cut).status.success());
}

#[test]
fn verify_and_bake_read_a_zstd_overlay() {
    if !zstd_tools() {
        return;
    }
    let (_up, ws) = node_setup();
    let (gz, zst) = both(&ws);
    let o = ws.run(&["verify", zst.to_str().unwrap()]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("ok    amd64  overlay:"),
        "{}",
        stdout(&o)
    );

    // bake-chroot.sh from the two public files: the same tree as the gzip overlay's.
    let public = ws.path().join("public");
    fs::create_dir(&public).unwrap();
    for n in ["overlay.tar.zst", "overlay.tar.zst.sha256"] {
        fs::copy(zst.join(n), public.join(n)).unwrap();
    }
    let bake = |dir: &Path, root: &Path| {
        fs::create_dir_all(root).unwrap();
        bake_chroot(dir, root)
    };
    let (root_zst, root_gz) = (ws.path().join("root-zst"), ws.path().join("root-gz"));
    assert_ok(&bake(&public, &root_zst));
    assert_ok(&bake(&gz, &root_gz));
    assert_eq!(files_under(&root_zst), files_under(&root_gz));

    // A flipped byte: verify and bake both refuse it.
    let mut bytes = fs::read(public.join("overlay.tar.zst")).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 1;
    fs::write(public.join("overlay.tar.zst"), &bytes).unwrap();
    let root = ws.path().join("root-bad");
    let o = bake(&public, &root);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not match its sha256"),
        "{}",
        stderr(&o)
    );
    assert!(snapshot(&root).is_empty());
    fs::write(zst.join("overlay.tar.zst"), &bytes).unwrap();
    let o = ws.run(&["verify", zst.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("amd64 sha256sums: overlay.tar.zst"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_unknown_compression_is_refused_with_the_choices() {
    let (_up, ws) = node_setup();
    let o = ws.render("node", &["--compression", "xz"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("gzip") && err.contains("zstd"), "{err}");
    assert!(!ws.out().exists());
}
