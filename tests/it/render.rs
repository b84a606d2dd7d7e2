//! `builder render` end to end: the real binary against a loopback server serving upstream
//! artifacts in their real layouts (fixture payloads for the binaries, upstream's units when
//! BUILDER_UPSTREAM_UNITS is set).

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::*;

fn mode(p: impl AsRef<Path>) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn tar_names(tgz: &Path) -> Vec<(String, u32, u64)> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(fs::File::open(tgz).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    let mut ar = tar::Archive::new(&raw[..]);
    ar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().display().to_string(),
                h.mode().unwrap(),
                h.mtime().unwrap(),
            )
        })
        .collect()
}

#[test]
fn renders_the_containerd_overlay_layout() {
    let (up, ws) = node_setup();
    let o = ws.render("node", &[]);
    assert_ok(&o);
    for arch in ARCHES {
        let dir = ws.out().join("node").join(arch);
        let root = dir.join("rootfs");
        for (path, want) in [
            ("usr/local/bin/containerd", 0o755),
            ("usr/local/bin/ctr", 0o755),
            ("usr/local/bin/containerd-shim-runc-v2", 0o755),
            ("usr/local/sbin/runc", 0o755),
            ("opt/cni/bin/bridge", 0o755),
            ("opt/cni/bin/host-local", 0o755),
            ("usr/local/bin/crictl", 0o755),
            ("usr/local/lib/systemd/system/containerd.service", 0o644),
            ("etc/containerd/config.toml", 0o644),
            ("etc/crictl.yaml", 0o644),
            ("etc/modules-load.d/k8s.conf", 0o644),
            ("etc/sysctl.d/99-kubernetes.conf", 0o644),
            ("var/lib/kubelet/kubeadm-flags.env", 0o644),
        ] {
            assert_eq!(mode(root.join(path)), want, "{arch} {path}");
        }
        // The per-arch binary really is that arch's.
        assert!(read(root.join("usr/local/sbin/runc")).contains(&format!("for {arch}")));
        // containerd 2.1 reads config version 3.
        let config = read(root.join("etc/containerd/config.toml"));
        assert!(config.contains("version = 3"), "{config}");
        assert!(config.contains("SystemdCgroup = true"));
        assert!(config.contains("sandbox = \"registry.k8s.io/pause:3.10.2\""));
        assert!(config.contains("config_path = \"/etc/containerd/certs.d\""));
        assert_eq!(
            read(root.join("var/lib/kubelet/kubeadm-flags.env")),
            "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock \
             --node-labels=node.kubernetes.io/runtime=containerd\"\n"
        );
        assert_eq!(
            fs::read_link(
                root.join("etc/systemd/system/multi-user.target.wants/containerd.service")
            )
            .unwrap(),
            Path::new("/usr/local/lib/systemd/system/containerd.service")
        );
        assert_eq!(
            fs::read(root.join("usr/local/lib/systemd/system/containerd.service")).unwrap(),
            up.units.get("containerd.service")
        );

        // The tarball holds the same tree, sorted, with the installed modes and mtime 0.
        let entries = tar_names(&dir.join("overlay.tar.gz"));
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(names.contains(&"usr/local/sbin/runc"));
        assert!(entries.iter().all(|e| e.2 == 0));
        let runc = entries
            .iter()
            .find(|e| e.0 == "usr/local/sbin/runc")
            .unwrap();
        assert_eq!(runc.1, 0o755);

        // SHA256SUMS checks with the real sha256sum.
        assert_sha256sum_c(&dir, "SHA256SUMS");

        let m = read_json(dir.join("manifest.json"));
        assert_eq!(m["profile"]["name"], "node");
        assert_eq!(m["profile"]["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(m["kubernetes"], "1.36");
        assert_eq!(m["runtime"], "containerd");
        assert_eq!(m["arch"], arch);
        let arts = m["artifacts"].as_array().unwrap();
        assert_eq!(arts.len(), 5);
        let runc_art = arts.iter().find(|a| a["name"] == "runc").unwrap();
        assert_eq!(runc_art["sha256"], up.pin("runc", arch));
        assert!(runc_art["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/runc/v1.4.3/runc.{arch}")));
        let files = m["files"].as_array().unwrap();
        let f = files
            .iter()
            .find(|f| f["path"] == "/etc/containerd/config.toml")
            .unwrap();
        assert_eq!(f["source"], "template:containerd-config");
        assert_eq!(f["mode"], "0644");
        assert_eq!(f["sha256"], sha256_hex(config.as_bytes()));
        let f = files
            .iter()
            .find(|f| f["path"] == "/usr/local/sbin/runc")
            .unwrap();
        assert_eq!(f["source"], "artifact:runc");
        assert_eq!(f["sha256"], up.pin("runc", arch));
        let f = files
            .iter()
            .find(|f| f["path"] == "/etc/sysctl.d/99-kubernetes.conf")
            .unwrap();
        assert_eq!(f["source"], "overlay:kubernetes-node");
    }
    // No staging leftovers.
    let left: Vec<_> = fs::read_dir(ws.out())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("node")]);
}

#[test]
fn renders_are_byte_identical_and_follow_source_date_epoch() {
    let (_up, ws) = node_setup();
    assert_ok(&ws.run(&["render", "-p", "node", "--arch", "amd64", "--out", "a"]));
    assert_ok(&ws.run(&["render", "-p", "node", "--arch", "amd64", "--out", "b"]));
    let a = fs::read(ws.path().join("a/node/amd64/overlay.tar.gz")).unwrap();
    let b = fs::read(ws.path().join("b/node/amd64/overlay.tar.gz")).unwrap();
    assert_eq!(sha256_hex(&a), sha256_hex(&b));
    assert_eq!(
        fs::read(ws.path().join("a/node/amd64/manifest.json")).unwrap(),
        fs::read(ws.path().join("b/node/amd64/manifest.json")).unwrap()
    );
    let o = ws.run_env(
        &["render", "-p", "node", "--arch", "amd64", "--out", "c"],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert_ok(&o);
    let c = fs::read(ws.path().join("c/node/amd64/overlay.tar.gz")).unwrap();
    assert_ne!(sha256_hex(&a), sha256_hex(&c));
    assert!(tar_names(&ws.path().join("c/node/amd64/overlay.tar.gz"))
        .iter()
        .all(|e| e.2 == 1_700_000_000));
}

#[test]
fn a_wrong_pin_fails_naming_everything_and_leaves_dist_alone() {
    let (up, ws) = node_setup();
    assert_ok(&ws.render("node", &[]));
    let before = snapshot(&ws.out());
    let good = up.pin("runc", "amd64").to_string();
    let bad = "0".repeat(64);
    let text = up
        .containerd_profile("node", "2.2.7", "1.36")
        .replace(&good, &bad);
    ws.write_profile("node", &text);
    // A fresh cache, so the bytes are really downloaded and compared.
    fs::remove_dir_all(ws.cache()).unwrap();
    let o = ws.render("node", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("checksum mismatch for artifact runc 1.4.3 (amd64)"),
        "{err}"
    );
    assert!(
        err.contains(&up.server.url("/runc/v1.4.3/runc.amd64")),
        "{err}"
    );
    assert!(err.contains(&bad) && err.contains(&good), "{err}");
    assert_eq!(
        snapshot(&ws.out()),
        before,
        "dist/ changed after a failed render"
    );
    // Nothing wrong or partial was kept in the cache.
    let cached: Vec<String> = fs::read_dir(ws.cache().join("sha256-v1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !cached
            .iter()
            .any(|n| n.contains(&bad) || n.ends_with(".partial")),
        "{cached:?}"
    );
}

#[test]
fn offline_works_from_a_warm_cache_and_fails_clearly_when_cold() {
    let (mut up, ws) = node_setup();
    assert_ok(&ws.render("node", &[]));
    up.server.stop();
    let o = ws.run(&["render", "-p", "node", "--out", "again", "--offline"]);
    assert_ok(&o);
    assert_eq!(
        fs::read(ws.path().join("again/node/amd64/overlay.tar.gz")).unwrap(),
        fs::read(ws.out().join("node/amd64/overlay.tar.gz")).unwrap()
    );
    // A cold cache.
    fs::remove_dir_all(ws.cache()).unwrap();
    let o = ws.run(&["render", "-p", "node", "--out", "cold", "--offline"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("are not in the cache") && err.contains("--offline"),
        "{err}"
    );
    // Every artifact is named, one per line under the message.
    for name in ["containerd 2.2.7 (amd64)", "runc 1.4.3 (arm64)"] {
        assert!(err.contains(&format!("\n  {name} from ")), "{err}");
    }
    assert!(!ws.path().join("cold").exists());
}

#[test]
fn a_cache_hit_is_reverified() {
    let (up, ws) = node_setup();
    assert_ok(&ws.render("node", &["--arch", "amd64"]));
    let entry = ws.cache().join("sha256-v1").join(up.pin("runc", "amd64"));
    fs::write(&entry, b"tampered").unwrap();
    let hits = up.server.hits("/runc/v1.4.3/runc.amd64");
    assert_ok(&ws.render("node", &["--arch", "amd64", "--force"]));
    assert_eq!(
        up.server.hits("/runc/v1.4.3/runc.amd64"),
        hits + 1,
        "a corrupt entry must be fetched again"
    );
    assert_eq!(
        fs::read(ws.out().join("node/amd64/rootfs/usr/local/sbin/runc")).unwrap(),
        fake_bin("runc", "amd64")
    );
}

#[test]
fn transient_errors_are_retried_and_404_is_final() {
    let (up, ws) = node_setup();
    let path = "/runc/v1.4.3/runc.amd64";
    up.server.route(
        path,
        Behaviour::FailFirst {
            times: 2,
            status: 503,
            body: fake_bin("runc", "amd64"),
        },
    );
    let o = ws.run(&["render", "-p", "node", "--arch", "amd64", "--retries", "3"]);
    assert_ok(&o);
    assert_eq!(up.server.hits(path), 3);

    up.server.route(path, Behaviour::Status(404));
    fs::remove_dir_all(ws.cache()).unwrap();
    let o = ws.run(&[
        "render",
        "-p",
        "node",
        "--arch",
        "amd64",
        "--retries",
        "3",
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("404"), "{}", stderr(&o));
    assert_eq!(up.server.hits(path), 4, "a 404 must not be retried");
}

#[test]
fn a_truncated_download_never_becomes_a_cache_entry() {
    let (up, ws) = node_setup();
    let path = "/runc/v1.4.3/runc.amd64";
    up.server
        .route(path, Behaviour::Truncate(fake_bin("runc", "amd64")));
    let o = ws.render("node", &["--arch", "amd64"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cut off"), "{}", stderr(&o));
    assert_eq!(up.server.hits(path), 2, "--retries 2");
    assert!(!ws
        .cache()
        .join("sha256-v1")
        .join(up.pin("runc", "amd64"))
        .exists());
    assert!(!ws.out().exists());
}

#[test]
fn mirrors_rewrite_urls_but_not_the_manifest() {
    let up = Upstream::start();
    let ws = Workspace::new();
    let base = format!("http://{}", up.server.addr);
    let text = up
        .containerd_profile("node", "2.2.7", "1.36")
        .replace(&base, "https://upstream.invalid");
    ws.write_profile("node", &text);
    let o = ws.render(
        "node",
        &[
            "--arch",
            "amd64",
            "--mirror",
            &format!("https://upstream.invalid/={base}/"),
        ],
    );
    assert_ok(&o);
    let m = read(ws.out().join("node/amd64/manifest.json"));
    assert!(
        m.contains("https://upstream.invalid/runc/v1.4.3/runc.amd64"),
        "{m}"
    );
    assert!(!m.contains(&base));
}

#[test]
fn unreachable_upstream_fails_fast_naming_host_and_way_out() {
    let up = Upstream::start();
    let ws = Workspace::new();
    let dead = dead_addr();
    let text = up
        .containerd_profile("node", "2.2.7", "1.36")
        .replace(&up.server.addr, &dead);
    ws.write_profile("node", &text);
    let o = ws.render("node", &["--arch", "amd64"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains(&format!("cannot reach {dead}")), "{err}");
    assert!(
        err.contains("--mirror") && err.contains("--offline"),
        "{err}"
    );
}

fn hostile(ws: &Workspace, up: &mut Upstream, members: &[Member]) -> String {
    let body = tar_bytes(members, true);
    up.serve(
        "crictl",
        "amd64",
        "/crictl/v1.36.0/crictl-v1.36.0-linux-amd64.tar.gz",
        body,
    );
    ws.write_profile("node", &up.containerd_profile("node", "2.2.7", "1.36"));
    let o = ws.render("node", &["--arch", "amd64"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        !ws.out().exists(),
        "nothing may be left after a refused archive"
    );
    stderr(&o)
}

#[test]
fn hostile_archives_are_refused_whole() {
    let mut up = Upstream::start();
    let ws = Workspace::new();
    let bin = fake_bin("crictl", "amd64");
    let err = hostile(
        &ws,
        &mut up,
        &[
            Member::File("crictl", &bin, 0o755),
            Member::File("../evil", b"x", 0o644),
        ],
    );
    assert!(err.contains("\"../evil\"") && err.contains("'..'"), "{err}");
    let err = hostile(
        &ws,
        &mut up,
        &[
            Member::File("/etc/evil", b"x", 0o644),
            Member::File("crictl", &bin, 0o755),
        ],
    );
    assert!(
        err.contains("\"/etc/evil\"") && err.contains("absolute"),
        "{err}"
    );
    let err = hostile(
        &ws,
        &mut up,
        &[Member::Symlink("crictl", "../../../../../etc/shadow")],
    );
    assert!(
        err.contains("\"crictl\"") && err.contains("leaves"),
        "{err}"
    );
    let err = hostile(&ws, &mut up, &[Member::Symlink("crictl", "/etc/shadow")]);
    assert!(err.contains("leaves"), "{err}");
    let err = hostile(
        &ws,
        &mut up,
        &[
            Member::File("crictl", &bin, 0o755),
            Member::CharDevice("null"),
        ],
    );
    assert!(
        err.contains("\"null\"") && err.contains("device node"),
        "{err}"
    );
    let err = hostile(
        &ws,
        &mut up,
        &[Member::Hardlink("crictl", "../../etc/passwd")],
    );
    assert!(err.contains("hard link"), "{err}");
    // Nothing escaped into the workspace or its parent.
    assert!(!ws.path().join("evil").exists());
    assert!(!ws.path().parent().unwrap().join("evil").exists());
}

#[test]
fn an_install_rule_matching_nothing_names_its_line() {
    let up = Upstream::start();
    let ws = Workspace::new();
    let text = up
        .containerd_profile("node", "2.2.7", "1.36")
        .replace("from = \"crictl\"", "from = \"bin/crictl\"");
    let path = ws.write_profile("node", &text);
    let o = ws.render("node", &["--arch", "amd64"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    let line = text.lines().position(|l| l.contains("bin/crictl")).unwrap() + 1;
    assert!(
        err.contains(&format!("profiles/node.toml:{line}:")),
        "{err}"
    );
    assert!(
        err.contains("matches no member") && err.contains("crictl"),
        "{err}"
    );
    let _ = path;
}

#[test]
fn bad_profiles_exit_1_with_a_location() {
    let up = Upstream::start();
    let ws = Workspace::new();
    let good = up.containerd_profile("node", "2.2.7", "1.36");
    for (broken, want) in [
        (
            good.replace("schema = 1", "schema = 2"),
            "node.toml:1:10: unsupported schema 2",
        ),
        (
            good.replace("description =", "descripton ="),
            "node.toml:3:1: unknown field `descripton`",
        ),
        (
            good.replace("\"2.1.9\"\nurl", "\"2.1\"\nurl"),
            "bad version \"2.1\"",
        ),
        (
            good.replace("[\"amd64\", \"arm64\"]", "[\"amd64\", \"arm\"]"),
            "node.toml:6:18: unknown arch \"arm\"",
        ),
        (
            good.replace("runtime = \"containerd\"", "runtime = \"docker\""),
            "Kubernetes 1.36 has no dockershim",
        ),
    ] {
        ws.write_profile("node", &broken);
        let o = ws.render("node", &[]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(want),
            "want {want:?} in:\n{}",
            stderr(&o)
        );
    }
    assert_eq!(
        up.server.total_hits(),
        0,
        "nothing may be fetched for a bad profile"
    );
}

#[test]
fn an_unpinned_artifact_is_refused_before_any_fetch() {
    let up = Upstream::start();
    let ws = Workspace::new();
    let pin = format!("sha256.amd64 = \"{}\"\n", up.pin("crictl", "amd64"));
    let text = up
        .containerd_profile("node", "2.2.7", "1.36")
        .replace(&pin, "")
        .replace("version = \"1.36.0\"", "version = \"1.99.0\"");
    ws.write_profile("node", &text);
    let o = ws.render("node", &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("artifact crictl 1.99.0 has no sha256 pin for amd64"),
        "{err}"
    );
    assert!(err.contains("sha256.amd64 = \"<hex>\""), "{err}");
    assert_eq!(up.server.total_hits(), 0);
}

#[test]
fn an_arch_outside_the_profile_is_refused() {
    let (_up, ws) = node_setup();
    let o = ws.render("node", &["--arch", "s390x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("built for amd64, arm64 only"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn extends_changes_a_few_keys() {
    let (_up, ws) = node_setup();
    ws.write_profile(
        "site",
        "schema = 1\nextends = \"node\"\nname = \"site\"\nkubernetes = \"1.30\"\narch = [\"amd64\"]\n\
         [kubelet]\nextra_args = { \"max-pods\" = \"50\" }\n",
    );
    // containerd 2.2.7 is not among the releases containerd supports with 1.30.
    let refused = ws.render("site", &[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("containerd 2.2.7 with Kubernetes 1.30: its project supports 2.1.0+ or 2.0.0+ or 1.7.13+ or 1.6.28+"),
        "{}",
        stderr(&refused)
    );
    let o = ws.render("site", &["--allow-unsupported"]);
    assert_ok(&o);
    assert!(
        stderr(&o).contains("warning: containerd 2.2.7 with Kubernetes 1.30"),
        "{}",
        stderr(&o)
    );
    let flags = read(
        ws.out()
            .join("site/amd64/rootfs/var/lib/kubelet/kubeadm-flags.env"),
    );
    assert!(flags.contains("--max-pods=50"), "{flags}");
    assert!(
        flags.contains("--node-labels=node.kubernetes.io/runtime=containerd"),
        "{flags}"
    );
    assert!(
        flags.contains("--pod-infra-container-image=registry.k8s.io/pause:3.9"),
        "{flags}"
    );
    assert!(!ws.out().join("site/arm64").exists());
}

#[test]
fn profiles_and_show_list_and_resolve() {
    let (up, ws) = node_setup();
    let o = ws.run(&["profiles"]);
    assert_ok(&o);
    let out = stdout(&o);
    assert!(
        out.contains("node") && out.contains("test profile"),
        "{out}"
    );
    assert!(
        out.contains("containerd") && out.contains("built-in"),
        "{out}"
    );
    let o = ws.run(&["show", "--profile", "node"]);
    assert_ok(&o);
    let out = stdout(&o);
    assert!(out.contains(up.pin("runc", "arm64")), "{out}");
    // The built-in profile resolves every pin from the catalog.
    let o = ws.run(&["show", "--profile", "containerd"]);
    assert_ok(&o);
    assert!(stdout(&o).contains("9d68969855fbf676cdb8ed758e420fb048d61f984f61de3e53eddfebe484d168"));
    let o = ws.run(&["show", "--profile", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no profile named \"nope\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn usage_errors_exit_1() {
    let ws = Workspace::new();
    let o = ws.run(&["render"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--profile"));
    let o = ws.run(&["render", "-p", "x", "--retries", "0"]);
    assert_eq!(o.status.code(), Some(1));
    assert_ok(&ws.run(&["--version"]));
}

#[test]
fn every_command_has_help_with_an_example() {
    let ws = Workspace::new();
    for cmd in [
        "render",
        "profiles",
        "show",
        "detect",
        "diff",
        "completions",
        "manpage",
    ] {
        let o = ws.run(&[cmd, "--help"]);
        assert_ok(&o);
        assert!(
            stdout(&o).contains("Example"),
            "{cmd} --help:\n{}",
            stdout(&o)
        );
    }
}
