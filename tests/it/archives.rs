//! Archives read exactly: links judged through each other, every gzip member and tar archive
//! of a stream installed (as `gzip -dc` sees it), a cut trailer refused, non-UTF-8 link
//! targets refused, names and link targets with control characters refused, and decompression
//! bombs stopped by the byte and member bounds. Each refusal leaves no output.

use crate::common::*;

const CNI: &str = "/cni/v1.9.1/cni-plugins-linux-amd64-v1.9.1.tgz";

/// Serves `body` as the CNI plugins archive (installed with `from = "*"` into /opt/cni/bin/)
/// and renders amd64 with `extra` flags.
fn render_cni(body: Vec<u8>, extra: &[&str]) -> (Workspace, std::process::Output) {
    let mut up = Upstream::start();
    let ws = Workspace::new();
    up.serve("cni-plugins", "amd64", CNI, body);
    ws.write_profile("node", &up.containerd_profile("node", "2.2.7", "1.36"));
    let mut args = vec!["--arch", "amd64"];
    args.extend_from_slice(extra);
    let o = ws.render("node", &args);
    (ws, o)
}

#[track_caller]
fn refused(ws: &Workspace, o: &std::process::Output, words: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    for w in words {
        assert!(err.contains(w), "missing {w:?} in:\n{err}");
    }
    assert!(!ws.out().exists(), "nothing may be left after a refusal");
}

fn bin(name: &str) -> Vec<u8> {
    fake_bin(name, "amd64")
}

/// Serves `members` under `opt/x/` as the CNI archive, installed with `from = "opt/x/*"`
/// into /opt/cni/bin/.
fn render_links(members: &[Member]) -> (Workspace, std::process::Output) {
    let mut up = Upstream::start();
    let ws = Workspace::new();
    up.serve("cni-plugins", "amd64", CNI, tar_bytes(members, true));
    let profile = up.containerd_profile("node", "2.2.7", "1.36");
    assert!(profile.contains("from = \"*\""));
    ws.write_profile(
        "node",
        &profile.replace("from = \"*\"", "from = \"opt/x/*\""),
    );
    let o = ws.render("node", &["--arch", "amd64"]);
    (ws, o)
}

#[test]
fn a_chain_of_links_that_leaves_the_root_is_refused() {
    // Each link alone stays inside the archive and inside the rootfs: r resolves to /opt,
    // and e, read as text, climbs to /opt/cni. Through r, e climbs above the root.
    let b = bin("bridge");
    let (ws, o) = render_links(&[
        Member::File("opt/x/bridge", &b, 0o755),
        Member::Symlink("opt/x/r", "../.."),
        Member::Symlink("opt/x/e", "r/../../../etc"),
    ]);
    refused(
        &ws,
        &o,
        &["\"/opt/cni/bin/e\"", "leaves the rootfs through the links"],
    );
    // Without the escaping link, the same chain is fine.
    let (_ws, o) = render_links(&[
        Member::File("opt/x/bridge", &b, 0o755),
        Member::Symlink("opt/x/r", "../.."),
        Member::Symlink("opt/x/ok", "r/cni/bin/bridge"),
    ]);
    assert_ok(&o);
}

#[test]
fn every_gzip_member_and_every_concatenated_tar_is_installed() {
    // Two tarballs concatenated (cat a.tgz b.tgz): gzip -dc gives both archives.
    let a = tar_bytes(&[Member::File("bridge", &bin("bridge"), 0o755)], true);
    let b = tar_bytes(&[Member::File("loopback", &bin("loopback"), 0o755)], true);
    let (ws, o) = render_cni([a, b].concat(), &[]);
    assert_ok(&o);
    let root = ws.out().join("node/amd64/rootfs/opt/cni/bin");
    assert!(root.join("bridge").is_file() && root.join("loopback").is_file());

    // One tar cut into two gzip members, as pigz writes it.
    let tar = tar_bytes(
        &[
            Member::File("bridge", &bin("bridge"), 0o755),
            Member::File("portmap", &bin("portmap"), 0o755),
        ],
        false,
    );
    let half = tar.len() / 2;
    let (ws, o) = render_cni([gzip(&tar[..half]), gzip(&tar[half..])].concat(), &[]);
    assert_ok(&o);
    let root = ws.out().join("node/amd64/rootfs/opt/cni/bin");
    assert_eq!(
        read(root.join("portmap")),
        read_bytes_as_text(&bin("portmap"))
    );
}

fn read_bytes_as_text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_gzip_stream_without_its_trailer_is_refused() {
    let good = tar_bytes(&[Member::File("bridge", &bin("bridge"), 0o755)], true);
    // The last 8 bytes are the member's CRC32 and size.
    let cut = good[..good.len() - 8].to_vec();
    let (ws, o) = render_cni(cut, &[]);
    refused(&ws, &o, &["reading archive", "cni-plugins"]);
    // A corrupt CRC is refused the same way.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 8] ^= 0xff;
    let (ws, o) = render_cni(bad, &[]);
    refused(&ws, &o, &["reading archive", "cni-plugins"]);
}

#[test]
fn a_link_target_that_is_not_utf8_is_refused() {
    let body = tar_bytes(
        &[
            Member::File("bridge", &bin("bridge"), 0o755),
            Member::RawSymlink("l", b"br\xffdge"),
        ],
        true,
    );
    let (ws, o) = render_cni(body, &[]);
    refused(&ws, &o, &["\"l\"", "target is not UTF-8"]);
}

#[test]
fn member_names_with_control_characters_are_refused() {
    let b = bin("bridge");
    for (name, shown) in [
        ("opt/x/evil\nname", "\"opt/x/evil\\nname\""),
        ("opt/x/e\x1b[2Jvil", "\"opt/x/e\\u{1b}[2Jvil\""),
    ] {
        let (ws, o) = render_links(&[
            Member::File("opt/x/bridge", &b, 0o755),
            Member::File(name, b"x", 0o755),
        ]);
        refused(
            &ws,
            &o,
            &[shown, "control character", "nothing from it was installed"],
        );
        let err = stderr(&o);
        assert!(
            !err.contains('\x1b') && !err.contains("evil\nname"),
            "{err:?}"
        );
    }
    // A link whose target holds one is refused the same way.
    let (ws, o) = render_links(&[
        Member::File("opt/x/bridge", &b, 0o755),
        Member::Symlink("opt/x/l", "bri\rdge"),
    ]);
    refused(
        &ws,
        &o,
        &["\"opt/x/l\"", "\"bri\\rdge\"", "control character"],
    );
    // A plain non-ASCII name installs.
    let (ws, o) = render_links(&[
        Member::File("opt/x/bridge", &b, 0o755),
        Member::File("opt/x/café", b"x", 0o755),
    ]);
    assert_ok(&o);
    assert!(ws
        .out()
        .join("node/amd64/rootfs/opt/cni/bin/café")
        .is_file());
}

#[test]
fn decompression_bombs_stop_at_the_bounds() {
    // 64 MB of zeros compress to about 64 KB.
    let zeros = vec![0u8; 64 << 20];
    let body = tar_bytes(&[Member::File("bridge", &zeros, 0o755)], true);
    assert!(body.len() < 1 << 20);
    let (ws, o) = render_cni(body.clone(), &["--archive-max-bytes", "8000000"]);
    refused(
        &ws,
        &o,
        &[
            "cni-plugins",
            "more than 8000000 bytes",
            "--archive-max-bytes",
        ],
    );
    // Under a bound that fits, the same archive installs.
    let (_ws, o) = render_cni(body, &["--archive-max-bytes", "80000000"]);
    assert_ok(&o);

    let names: Vec<String> = (0..50).map(|i| format!("p{i}")).collect();
    let members: Vec<Member> = names.iter().map(|n| Member::File(n, b"x", 0o755)).collect();
    let body = tar_bytes(&members, true);
    let (ws, o) = render_cni(body.clone(), &["--archive-max-members", "10"]);
    refused(&ws, &o, &["more than 10 members", "--archive-max-members"]);
    let (_ws, o) = render_cni(body, &["--archive-max-members", "50"]);
    assert_ok(&o);
}

#[test]
fn a_cache_entry_swapped_for_another_archive_is_never_installed() {
    // The entry is verified when stored; replace it afterwards with a valid archive holding
    // something else. The install hashes what it reads, throws the scratch away on the
    // mismatch, fetches the real bytes again and installs those.
    let good = tar_bytes(&[Member::File("bridge", &bin("bridge"), 0o755)], true);
    let mut up = Upstream::start();
    let ws = Workspace::new();
    up.serve("cni-plugins", "amd64", CNI, good);
    ws.write_profile("node", &up.containerd_profile("node", "2.2.7", "1.36"));
    assert_ok(&ws.render("node", &["--arch", "amd64"]));
    let entry = std::fs::read_dir(ws.cache().join("sha256-v1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            std::fs::read(p)
                .map(|b| b.starts_with(&[0x1f, 0x8b]) && b.len() < 4096)
                .unwrap_or(false)
                && read_gz_names(p).contains(&"bridge".to_string())
        })
        .expect("the CNI archive in the cache");
    let evil = tar_bytes(
        &[
            Member::File("bridge", &bin("bridge"), 0o755),
            Member::File("evil", b"swapped in", 0o755),
        ],
        true,
    );
    std::fs::write(&entry, evil).unwrap();
    let o = ws.render("node", &["--arch", "amd64", "--force"]);
    assert_ok(&o);
    assert!(
        stderr(&o).contains("changed on disk; fetching it again"),
        "{}",
        stderr(&o)
    );
    let bin_dir = ws.out().join("node/amd64/rootfs/opt/cni/bin");
    assert!(bin_dir.join("bridge").exists());
    assert!(
        !bin_dir.join("evil").exists(),
        "swapped bytes were installed"
    );
    assert!(!ws.out().join("node/amd64/scratch").exists());
}

fn read_gz_names(p: &std::path::Path) -> Vec<String> {
    let f = std::fs::File::open(p).unwrap();
    let mut ar = tar::Archive::new(flate2::read::MultiGzDecoder::new(f));
    ar.entries()
        .map(|es| {
            es.filter_map(|e| e.ok())
                .map(|e| e.path().unwrap().display().to_string())
                .collect()
        })
        .unwrap_or_default()
}
