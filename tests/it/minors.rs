//! Renders that fit the cluster's Kubernetes minor: `--kubernetes MINOR` retargets a profile
//! (its minor, and a catalog-pinned runtime swapped for the newest pinned release its project
//! supports with that minor), and a runtime outside the compatibility table is refused before
//! anything is fetched. `builder show` takes the same flags, so the choice is visible without
//! a download.

use crate::common::*;

fn show(ws: &Workspace, extra: &[&str]) -> std::process::Output {
    ws.run(&[&["show", "--profile", "containerd"], extra].concat())
}

/// The `version = "..."` line after `name = "NAME"` in `show`'s TOML.
fn version_of(toml: &str, name: &str) -> String {
    let v: toml::Table = toml.parse().unwrap();
    v["artifact"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"].as_str() == Some(name))
        .and_then(|a| a["version"].as_str())
        .unwrap()
        .to_string()
}

#[test]
fn kubernetes_retargets_the_shipped_profile_to_a_release_that_fits() {
    let ws = Workspace::new();
    let plain = show(&ws, &[]);
    assert_ok(&plain);
    assert_eq!(version_of(&stdout(&plain), "containerd"), "2.3.4");
    for (minor, containerd) in [
        ("1.23", "1.6.39"),
        ("1.27", "1.7.34"),
        ("1.30", "2.1.9"),
        ("1.35", "2.2.7"),
    ] {
        let o = show(&ws, &["--kubernetes", minor]);
        assert_ok(&o);
        let out = stdout(&o);
        assert!(
            out.contains(&format!("kubernetes = \"{minor}\"")),
            "{minor}"
        );
        assert_eq!(version_of(&out, "containerd"), containerd, "{minor}");
        assert!(
            stderr(&o).contains(&format!(
                "note: --kubernetes {minor}: containerd 2.3.4 -> {containerd}"
            )),
            "{}",
            stderr(&o)
        );
        // The environment twin says the same.
        let env = ws.run_env(
            &["show", "--profile", "containerd"],
            &[("BUILDER_KUBERNETES", minor)],
        );
        assert_eq!(stdout(&env), out);
    }
    // Its own minor changes nothing (the negative control).
    let same = show(&ws, &["--kubernetes", "1.36"]);
    assert_eq!(stdout(&same), stdout(&plain));
}

#[test]
fn a_minor_nothing_pinned_fits_is_refused_before_any_download() {
    // containerd 1.5 (for 1.20-1.22) is pinned for amd64 only; the shipped profile is for
    // amd64 and arm64, and so is an arm64 render.
    let (up, ws) = node_setup();
    for arch in [&[][..], &["--arch", "arm64"]] {
        let o = ws.run(
            &[
                &[
                    "render",
                    "--profile",
                    "containerd",
                    "--kubernetes",
                    "1.22",
                    "--out",
                    "d",
                ],
                arch,
            ]
            .concat(),
        );
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("containerd 2.3.4 with Kubernetes 1.22: its project supports 1.5.5+"),
            "{err}"
        );
        assert!(err.contains("builder pin --profile FILE --write"), "{err}");
    }
    // An amd64 render picks 1.5.18; --offline with an empty cache stops at the first fetch,
    // after the choice is made.
    let o = render_amd64_offline(&ws, "1.22");
    assert!(
        stderr(&o).contains("note: --kubernetes 1.22: containerd 2.3.4 -> 1.5.18"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("--offline forbids fetching"),
        "{}",
        stderr(&o)
    );
    assert_eq!(up.server.total_hits(), 0);
    assert!(!ws.path().join("d").exists());
    for bad in ["2.36", "1.x", "136"] {
        let o = ws.run(&["show", "--profile", "containerd", "--kubernetes", bad]);
        assert_eq!(o.status.code(), Some(1), "{bad}");
        assert!(
            stderr(&o).contains("bad Kubernetes minor"),
            "{}",
            stderr(&o)
        );
    }
    let o = ws.run(&["show", "--profile", "containerd", "--kubernetes", "1.19"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("older than this builder supports"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_pinned_runtime_outside_the_table_is_refused_unless_allowed() {
    let up = Upstream::start();
    let ws = Workspace::new();
    ws.write_profile("node", &up.containerd_profile("node", "2.1.9", "1.36"));
    let o = ws.render("node", &["--arch", "amd64"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(
            "containerd 2.1.9 with Kubernetes 1.36: its project supports 2.3.0+ or 2.2.0+"
        ),
        "{err}"
    );
    assert!(
        err.contains("pin it"),
        "pinned by the profile: pin another release, {err}"
    );
    assert_eq!(up.server.total_hits(), 0);
    let o = ws.render("node", &["--arch", "amd64", "--allow-unsupported"]);
    assert_ok(&o);
    assert!(
        stderr(&o).contains("warning: containerd 2.1.9 with Kubernetes 1.36"),
        "{}",
        stderr(&o)
    );
    // The env twin takes what CI systems write (1, yes, on, true); 0 keeps the refusal.
    for yes in ["1", "yes", "on", "true"] {
        let o = ws.render_env(
            "node",
            &["--arch", "amd64"],
            &[("BUILDER_ALLOW_UNSUPPORTED", yes)],
        );
        assert_ok(&o);
    }
    let o = ws.render_env(
        "node",
        &["--arch", "amd64"],
        &[("BUILDER_ALLOW_UNSUPPORTED", "0")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // A supported pairing renders without a word about it (the negative control).
    ws.write_profile("node", &up.containerd_profile("node", "2.1.9", "1.35"));
    let o = ws.render("node", &["--arch", "amd64"]);
    assert_ok(&o);
    assert!(
        !stderr(&o).contains("Kubernetes 1.35: its project"),
        "{}",
        stderr(&o)
    );
}

/// `render --profile containerd --kubernetes MINOR --arch amd64` offline with an empty cache
/// (into `d`): it stops at the first fetch, after the runtime is chosen and noted.
fn render_amd64_offline(ws: &Workspace, minor: &str) -> std::process::Output {
    ws.run(&[
        "render",
        "--profile",
        "containerd",
        "--kubernetes",
        minor,
        "--arch",
        "amd64",
        "--offline",
        "--cache-dir",
        "empty",
        "--out",
        "d",
    ])
}

/// The containerd `--kubernetes MINOR` picks for the shipped profile (amd64), from its note.
fn picked(ws: &Workspace, minor: &str) -> String {
    let o = render_amd64_offline(ws, minor);
    let err = stderr(&o);
    err.lines()
        .find_map(|l| l.strip_prefix(&format!("note: --kubernetes {minor}: containerd 2.3.4 -> ")))
        .map_or("2.3.4", |rest| rest.split(' ').next().unwrap())
        .to_string()
}

/// A fleet at 1.22, 1.23, 1.27, 1.30 or 1.36: the containerd the catalog picks for that minor,
/// rendered (from loopback) for it, gives a node whose containerd config version fits that
/// containerd, whose kubelet flags are that minor's (`--container-runtime=remote` only before
/// 1.24, when dockershim was the default) and whose pause image is kubeadm's for the minor.
#[test]
fn each_minor_renders_a_node_that_fits_it() {
    let ws = Workspace::new();
    let up = Upstream::start();
    for (minor, containerd, config_version, pause, remote) in [
        ("1.22", "1.5.18", 2, "3.5", true),
        ("1.23", "1.6.39", 2, "3.6", true),
        ("1.27", "1.7.34", 2, "3.9", false),
        ("1.30", "2.1.9", 3, "3.9", false),
        ("1.36", "2.3.4", 4, "3.10.2", false),
    ] {
        assert_eq!(picked(&ws, minor), containerd, "{minor}");
        let name = format!("n{}", minor.replace('.', ""));
        ws.write_profile(&name, &up.containerd_profile(&name, containerd, minor));
        assert_ok(&ws.render(&name, &["--arch", "amd64"]));
        let root = ws.out().join(&name).join("amd64/rootfs");
        let config = read(root.join("etc/containerd/config.toml"));
        assert!(
            config.contains(&format!("\nversion = {config_version}\n")),
            "{minor}: {config}"
        );
        assert!(
            config.contains(&format!("registry.k8s.io/pause:{pause}\"")),
            "{minor}: {config}"
        );
        let flags = read(root.join("var/lib/kubelet/kubeadm-flags.env"));
        assert_eq!(
            flags.contains("--container-runtime=remote"),
            remote,
            "{minor}: {flags}"
        );
        assert!(flags
            .contains("--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock"));
    }
}
