//! Skipping work: an unchanged render is a no-op, an output the cache holds is reused without
//! fetching or packing, and anything that changes the output (a pin, a flag, an overlay file,
//! a tampered output, a damaged cache entry) rebuilds. The user-data never enters the cache.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::*;

fn render(ws: &Workspace, out: &str, extra: &[&str]) -> Output {
    ws.render_amd64("node", out, extra, &[("SOURCE_DATE_EPOCH", "1700000000")])
}

/// A join config file at `path` with `token`.
fn write_join(path: &Path, token: &str) {
    let hashes = format!("[\"sha256:{}\"]", "ab".repeat(32));
    let text =
        format!("api_server = \"10.0.0.1:6443\"\ntoken = \"{token}\"\nca_cert_hashes = {hashes}\n");
    fs::write(path, text).unwrap();
}

fn dir(ws: &Workspace, out: &str) -> PathBuf {
    ws.path().join(out).join("node/amd64")
}

fn up_to_date(o: &Output) -> bool {
    stderr(o).contains("up to date: node amd64")
}

fn reused(o: &Output) -> bool {
    stderr(o).contains("from the output cache")
}

fn packed(o: &Output) -> bool {
    stderr(o).contains("packed   amd64:")
}

fn input_sha256(d: &Path) -> String {
    let m = read_json(d.join("manifest.json"));
    m["input_sha256"].as_str().unwrap().to_string()
}

fn verify(ws: &Workspace, d: &Path) {
    assert_ok(&ws.run(&["verify", d.to_str().unwrap()]));
}

#[test]
fn an_unchanged_render_does_nothing() {
    let (up, ws) = node_setup();
    let first = render(&ws, "dist", &[]);
    assert!(packed(&first) && !up_to_date(&first), "{}", stderr(&first));
    let d = dir(&ws, "dist");
    let digest = input_sha256(&d);
    assert_eq!(digest.len(), 64);
    let before = snapshot(&ws.path().join("dist"));
    let inode = fs::metadata(d.join("overlay.tar.gz")).unwrap().ino();
    let hits = up.server.total_hits();

    let again = render(&ws, "dist", &["--output", "json"]);
    assert!(up_to_date(&again), "{}", stderr(&again));
    assert!(!packed(&again) && !reused(&again), "{}", stderr(&again));
    assert_eq!(up.server.total_hits(), hits, "nothing fetched");
    assert_eq!(snapshot(&ws.path().join("dist")), before, "nothing written");
    assert_eq!(fs::metadata(d.join("overlay.tar.gz")).unwrap().ino(), inode);
    // The summary still describes the output.
    let v: serde_json::Value = serde_json::from_str(&stdout(&again)).unwrap();
    let a = &v["arches"][0];
    let sha = sha256_hex(&fs::read(d.join("overlay.tar.gz")).unwrap());
    assert_eq!(a["overlay"]["sha256"], sha.as_str());
    assert!(a["overlay"]["path"]
        .as_str()
        .unwrap()
        .ends_with("dist/node/amd64/overlay.tar.gz"));
    assert_eq!(
        a["provenance"]["size"],
        fs::metadata(d.join("provenance.intoto.json"))
            .unwrap()
            .len()
    );

    // --force rebuilds anyway, to the same bytes.
    let forced = render(&ws, "dist", &["--force"]);
    assert!(
        packed(&forced) && !up_to_date(&forced) && !reused(&forced),
        "{}",
        stderr(&forced)
    );
    assert_eq!(snapshot(&ws.path().join("dist")), before);
}

#[test]
fn a_changed_flag_pin_or_overlay_rebuilds() {
    let (mut up, ws) = node_setup();
    render(&ws, "dist", &[]);
    let d = dir(&ws, "dist");
    let mut seen = vec![input_sha256(&d)];
    let join = ws.path().join("join.toml");
    write_join(&join, TOKEN);
    let join_arg = join.to_str().unwrap().to_string();
    let changes: Vec<Vec<&str>> = vec![
        vec!["--cloud", "aws"],
        vec!["--compression", "zstd"],
        vec![
            "--overlay-url",
            "https://images.example.invalid/{arch}/o.tar.gz",
        ],
        vec!["--join-config", &join_arg],
    ];
    for flags in &changes {
        let o = render(&ws, "dist", flags);
        assert!(!up_to_date(&o), "{flags:?}: {}", stderr(&o));
        let now = input_sha256(&d);
        assert!(!seen.contains(&now), "{flags:?} kept an input digest");
        seen.push(now);
        // And the same flags again: up to date.
        assert!(up_to_date(&render(&ws, "dist", flags)), "{flags:?}");
    }
    // Another token: another user-data, so another digest (the token itself is not stored).
    write_join(&join, "zyxwvu.0123456789abcdef");
    let o = render(&ws, "dist", &["--join-config", &join_arg]);
    assert!(!up_to_date(&o) && !seen.contains(&input_sha256(&d)));
    assert!(!read(d.join("manifest.json")).contains("zyxwvu"));

    // Another SOURCE_DATE_EPOCH.
    let o = ws.render_amd64("node", "dist", &[], &[("SOURCE_DATE_EPOCH", "1")]);
    assert!(!up_to_date(&o));

    // A new pin: other runc bytes, pinned in the profile.
    render(&ws, "dist", &[]);
    up.serve(
        "runc",
        "amd64",
        "/runc/v1.4.3/runc.amd64",
        b"another runc".to_vec(),
    );
    ws.write_profile("node", &up.containerd_profile("node", "2.2.7", "1.36"));
    let o = render(&ws, "dist", &[]);
    assert!(
        !up_to_date(&o) && !reused(&o) && packed(&o),
        "{}",
        stderr(&o)
    );
    assert_eq!(read(d.join("rootfs/usr/local/sbin/runc")), "another runc");

    // An edited overlays/ file, with the profile's text unchanged.
    let overlay = ws.path().join("overlays/site");
    fs::create_dir_all(overlay.join("etc")).unwrap();
    fs::write(overlay.join("etc/site.conf"), "a=1\n").unwrap();
    let text = up.containerd_profile("node", "2.2.7", "1.36");
    let with_overlay = text.replacen(
        "overlays = [\"kubernetes-node\"]",
        "overlays = [\"kubernetes-node\", \"site\"]",
        1,
    );
    assert_ne!(with_overlay, text, "the test profile names its overlays");
    ws.write_profile("node", &with_overlay);
    render(&ws, "dist", &[]);
    assert!(up_to_date(&render(&ws, "dist", &[])));
    fs::write(overlay.join("etc/site.conf"), "a=2\n").unwrap();
    let o = render(&ws, "dist", &[]);
    assert!(!up_to_date(&o), "{}", stderr(&o));
    assert_eq!(read(d.join("rootfs/etc/site.conf")), "a=2\n");
}

/// A change made to an arch folder.
type Tamper = fn(&Path);

pub(crate) fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
}

#[test]
fn a_tampered_output_is_rebuilt() {
    let (_up, ws) = node_setup();
    render(&ws, "dist", &["--no-output-cache"]);
    let d = dir(&ws, "dist");
    let good = snapshot(&ws.path().join("dist"));
    let tamper: [(&str, Tamper); 9] = [
        ("a flipped overlay byte", |d| {
            let mut b = fs::read(d.join("overlay.tar.gz")).unwrap();
            let i = b.len() / 2;
            b[i] ^= 1;
            fs::write(d.join("overlay.tar.gz"), b).unwrap();
        }),
        ("a rootfs file of another size", |d| {
            fs::write(d.join("rootfs/etc/crictl.yaml"), "x").unwrap();
        }),
        ("a removed rootfs file", |d| {
            fs::remove_file(d.join("rootfs/usr/local/sbin/runc")).unwrap();
        }),
        ("an extra file", |d| {
            fs::write(d.join("notes"), "x").unwrap()
        }),
        ("a same-size rootfs edit with its mtime put back", |d| {
            let f = d.join("rootfs/etc/crictl.yaml");
            let mtime = fs::metadata(&f).unwrap().modified().unwrap();
            let mut b = fs::read(&f).unwrap();
            b[0] ^= 1;
            fs::write(&f, b).unwrap();
            fs::File::options()
                .write(true)
                .open(&f)
                .unwrap()
                .set_modified(mtime)
                .unwrap();
        }),
        ("a changed rootfs mode", |d| {
            use std::os::unix::fs::PermissionsExt;
            let f = d.join("rootfs/etc/crictl.yaml");
            fs::set_permissions(f, fs::Permissions::from_mode(0o666)).unwrap();
        }),
        ("an extra rootfs file", |d| {
            fs::write(d.join("rootfs/etc/extra.conf"), "x").unwrap()
        }),
        ("a rootfs file replaced by a FIFO", |d| {
            let f = d.join("rootfs/etc/crictl.yaml");
            fs::remove_file(&f).unwrap();
            mkfifo(&f);
        }),
        ("an edited manifest", |d| {
            let t = read(d.join("manifest.json"))
                .replace("\"runtime\": \"containerd\"", "\"runtime\": \"other\"");
            fs::write(d.join("manifest.json"), t).unwrap();
        }),
    ];
    for (what, edit) in tamper {
        edit(&d);
        let o = render(&ws, "dist", &["--no-output-cache"]);
        assert!(!up_to_date(&o) && packed(&o), "{what}: {}", stderr(&o));
        assert_eq!(snapshot(&ws.path().join("dist")), good, "{what}");
    }
}

#[test]
fn the_output_cache_serves_another_folder_without_fetching_and_keeps_no_secret() {
    let (up, ws) = node_setup();
    let join = ws.path().join("join.toml");
    write_join(&join, TOKEN);
    let j = ["--join-config", join.to_str().unwrap()];
    render(&ws, "a", &j);
    let hits = up.server.total_hits();
    let o = render(&ws, "b", &j);
    assert!(reused(&o) && !packed(&o), "{}", stderr(&o));
    assert_eq!(up.server.total_hits(), hits, "nothing fetched");
    assert_eq!(
        files_under(&ws.path().join("a")),
        files_under(&ws.path().join("b")),
        "a reused output is the same, file for file (rootfs included)"
    );
    verify(&ws, &dir(&ws, "b"));
    assert!(read(dir(&ws, "b").join("user-data")).contains(TOKEN_SECRET));
    // Nothing of the user-data or the token in the cache.
    let outputs = ws.cache().join("outputs-v1");
    let cached = snapshot(&outputs);
    assert!(!cached.is_empty());
    for (path, bytes) in &cached {
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(
            !["user-data", "meta-data", "SHA256SUMS"].contains(&name.as_ref()),
            "{path:?}"
        );
        assert!(
            !String::from_utf8_lossy(bytes).contains(TOKEN_SECRET),
            "{path:?}"
        );
    }

    // A damaged entry is not used: rebuilt, and the entry replaced.
    let entry = fs::read_dir(&outputs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut b = fs::read(entry.join("overlay.tar.gz")).unwrap();
    let i = b.len() / 3;
    b[i] ^= 1;
    fs::write(entry.join("overlay.tar.gz"), b).unwrap();
    let o = render(&ws, "c", &j);
    assert!(!reused(&o) && packed(&o), "{}", stderr(&o));
    verify(&ws, &dir(&ws, "c"));
    assert!(reused(&render(&ws, "d", &j)));

    // Off: not read, not written.
    let o = render(&ws, "e", &["--no-output-cache"]);
    assert!(!reused(&o) && packed(&o));
    // A bound below one output: nothing stays.
    let o = render(
        &ws,
        "f",
        &["--output-cache-max-bytes", "1", "--cloud", "gcp"],
    );
    assert!(packed(&o));
    let o = render(&ws, "g", &["--cloud", "gcp"]);
    assert!(!reused(&o), "{}", stderr(&o));
}

/// The output cache's entry for `d`'s output (its folder is named by the input digest).
fn entry_of(ws: &Workspace, d: &Path) -> PathBuf {
    ws.cache().join("outputs-v1").join(input_sha256(d))
}

fn dropped(o: &Output) -> bool {
    stderr(o).contains("was not used and is removed")
}

/// Rewrites an entry's index.json to the digests its files have now, as someone who replaced
/// a file and knew the layout would.
fn reindex(entry: &Path) {
    let index = entry.join("index.json");
    let mut v = read_json(&index);
    for (name, sha) in v["files"].as_object_mut().unwrap() {
        *sha = sha256_hex(&fs::read(entry.join(name)).unwrap()).into();
    }
    fs::write(&index, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn an_output_cache_entry_is_proven_before_reuse() {
    let (_up, ws) = node_setup();
    render(&ws, "a", &[]);
    // Another epoch: other mtimes in the tar, so another overlay.
    let epoch = [("SOURCE_DATE_EPOCH", "1600000000")];
    ws.render_amd64("node", "other", &[], &epoch);
    let (entry, other) = (
        entry_of(&ws, &dir(&ws, "a")),
        entry_of(&ws, &dir(&ws, "other")),
    );
    assert!(entry.is_dir() && other.is_dir() && entry != other);
    let digest = input_sha256(&dir(&ws, "a"));

    // The overlay replaced by another valid one, the index updated to match: the manifest
    // still names the old overlay, so the entry is dropped and the arch built.
    // (Removed first: the entry's files are hard links to a's.)
    fs::remove_file(entry.join("overlay.tar.gz")).unwrap();
    fs::copy(other.join("overlay.tar.gz"), entry.join("overlay.tar.gz")).unwrap();
    reindex(&entry);
    let o = render(&ws, "b", &[]);
    assert!(dropped(&o) && !reused(&o) && packed(&o), "{}", stderr(&o));
    assert!(stderr(&o).contains("its manifest says"), "{}", stderr(&o));
    verify(&ws, &dir(&ws, "b"));
    let overlay = |out: &str| sha256_hex(&fs::read(dir(&ws, out).join("overlay.tar.gz")).unwrap());
    assert_eq!(overlay("a"), overlay("b"), "the same overlay, built again");

    // Another render's entry moved under this digest: its manifest has the other input
    // digest, so it is dropped too; the output names this render's inputs.
    fs::remove_dir_all(&entry).unwrap();
    let copy = |from: &Path, to: &Path| {
        fs::create_dir(to).unwrap();
        for e in fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            // Its files only: without its rootfs/ tree, a hit would unpack the overlay.
            if !e.file_type().unwrap().is_dir() {
                fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    };
    copy(&other, &entry);
    let o = render(&ws, "c", &[]);
    assert!(dropped(&o) && packed(&o), "{}", stderr(&o));
    assert!(stderr(&o).contains("input sha256"), "{}", stderr(&o));
    assert_eq!(input_sha256(&dir(&ws, "c")), digest);
    verify(&ws, &dir(&ws, "c"));

    // An entry file replaced by a FIFO (or a link to /dev/zero) does not hang the render.
    for (name, hostile) in [("manifest.json", "fifo"), ("sbom.cdx.json", "zero")] {
        let f = entry.join(name);
        fs::remove_file(&f).unwrap();
        if hostile == "fifo" {
            mkfifo(&f);
        } else {
            std::os::unix::fs::symlink("/dev/zero", &f).unwrap();
        }
        let o = render(&ws, &format!("d-{hostile}"), &[]);
        assert!(dropped(&o) && packed(&o), "{name}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("builder reads only regular files"),
            "{}",
            stderr(&o)
        );
    }

    // The negative control: an intact entry is reused.
    let o = render(&ws, "e", &[]);
    assert!(reused(&o) && !dropped(&o), "{}", stderr(&o));
    verify(&ws, &dir(&ws, "e"));
}

/// The first regular file of `d`'s manifest whose source starts with `source` (`artifact:`:
/// an upstream binary; `template:`: a file builder generated).
fn a_file_from(d: &Path, source: &str) -> String {
    let m = read_json(d.join("manifest.json"));
    let f = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["source"].as_str().unwrap().starts_with(source) && f["sha256"].is_string());
    f.unwrap()["path"]
        .as_str()
        .unwrap()
        .trim_start_matches('/')
        .to_string()
}

/// Appends to a file without replacing it (its inode, and every hard link to it, change).
fn append_in_place(path: &Path, bytes: &[u8]) {
    let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
    std::io::Write::write_all(&mut f, bytes).unwrap();
}

#[test]
fn a_hit_links_the_cached_tree_and_proves_it_first() {
    let (_up, ws) = node_setup();
    render(&ws, "a", &[]);
    let (a, entry) = (dir(&ws, "a"), entry_of(&ws, &dir(&ws, "a")));
    let file = a_file_from(&a, "artifact:");
    let ino = |p: PathBuf| fs::metadata(p).unwrap().ino();
    assert_eq!(
        ino(entry.join("rootfs").join(&file)),
        ino(a.join("rootfs").join(&file))
    );

    // A hit: the overlay and every rootfs file are the entry's own (hard links), and the
    // output is whole.
    let o = render(&ws, "b", &[]);
    assert!(reused(&o) && !packed(&o) && !dropped(&o), "{}", stderr(&o));
    let b = dir(&ws, "b");
    assert_eq!(
        ino(b.join("rootfs").join(&file)),
        ino(entry.join("rootfs").join(&file))
    );
    assert_eq!(
        ino(b.join("overlay.tar.gz")),
        ino(entry.join("overlay.tar.gz"))
    );
    assert_eq!(
        files_under(&ws.path().join("a")),
        files_under(&ws.path().join("b"))
    );
    verify(&ws, &b);

    // A generated file is copied, not linked (configs are what people edit in place): an
    // in-place edit of b's stays in b; the next hit is served, unchanged.
    let config = a_file_from(&a, "template:");
    assert_ne!(
        ino(b.join("rootfs").join(&config)),
        ino(entry.join("rootfs").join(&config))
    );
    assert_ne!(
        ino(a.join("rootfs").join(&config)),
        ino(entry.join("rootfs").join(&config))
    );
    let original = fs::read(b.join("rootfs").join(&config)).unwrap();
    append_in_place(&b.join("rootfs").join(&config), b"# edited\n");
    let o = render(&ws, "b2", &[]);
    assert!(reused(&o) && !dropped(&o), "{}", stderr(&o));
    assert_eq!(
        fs::read(dir(&ws, "b2").join("rootfs").join(&config)).unwrap(),
        original
    );

    // An in-place edit of a's file reaches the entry's tree (one inode): the next hit finds
    // it, drops the entry and builds; the render after that is served again.
    append_in_place(&a.join("rootfs").join(&file), b"x");
    let o = render(&ws, "c", &[]);
    assert!(dropped(&o) && packed(&o) && !reused(&o), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("/{file}: its rootfs/ has a file")),
        "{}",
        stderr(&o)
    );
    verify(&ws, &dir(&ws, "c"));
    assert!(reused(&render(&ws, "d", &[])));

    // A mode changed in the tree, or a file added to it: dropped as well.
    let entry = entry_of(&ws, &dir(&ws, "d"));
    let tree_file = entry.join("rootfs").join(&file);
    fs::set_permissions(
        &tree_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let o = render(&ws, "e", &[]);
    assert!(
        dropped(&o) && stderr(&o).contains("mode 0600"),
        "{}",
        stderr(&o)
    );
    fs::write(entry_of(&ws, &dir(&ws, "e")).join("rootfs/etc/extra"), "x").unwrap();
    let o = render(&ws, "f", &[]);
    assert!(
        dropped(&o) && stderr(&o).contains("/etc/extra: in its rootfs/, not in manifest.json"),
        "{}",
        stderr(&o)
    );

    // An entry without a tree (as an older builder or another file system left it): the
    // rootfs is unpacked from the proven overlay.
    let entry = entry_of(&ws, &dir(&ws, "f"));
    fs::remove_dir_all(entry.join("rootfs")).unwrap();
    let o = render(&ws, "g", &[]);
    assert!(reused(&o) && !dropped(&o), "{}", stderr(&o));
    let g = dir(&ws, "g");
    assert_ne!(
        ino(g.join("rootfs").join(&file)),
        ino(dir(&ws, "f").join("rootfs").join(&file))
    );
    assert_eq!(
        files_under(&ws.path().join("f")),
        files_under(&ws.path().join("g"))
    );
    verify(&ws, &g);
}

#[test]
fn renders_sharing_a_cache_never_fail_because_of_each_other() {
    let (_up, ws) = node_setup();
    render(&ws, "seed", &[]);
    render(&ws, "seed-gcp", &["--cloud", "gcp"]);
    for i in 0..8 {
        // One render reuses (or builds and stores) the default entry while another stores
        // with a bound of one byte: its prune removes every entry nobody is using.
        let spawn = |out: String, extra: &[&str]| {
            let mut args = vec!["render", "--profile", "node", "--arch", "amd64", "--out"];
            args.push(&out);
            args.extend_from_slice(extra);
            ws.command(&args)
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let a = spawn(format!("a{i}"), &[]);
        let b = spawn(
            format!("b{i}"),
            &["--cloud", "gcp", "--output-cache-max-bytes", "1", "--force"],
        );
        for child in [a, b] {
            let o = child.wait_with_output().unwrap();
            assert!(o.status.success(), "round {i}: {}", stderr(&o));
        }
        verify(&ws, &dir(&ws, &format!("a{i}")));
    }
}
