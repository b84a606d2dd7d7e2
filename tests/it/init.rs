//! `builder init`: the profile it writes loads, resolves and renders with the minor it was
//! given, taplo accepts it through its own `#:schema` line, it never replaces a file without
//! --force, and a bad NAME or MINOR is refused with exit 1 and nothing written. Also where
//! `profiles` and `show` say a profile comes from: "do not edit" only for shipped ones.

use crate::common::*;

const SHIPPED_CONTAINERD: &str = include_str!("../../profiles/containerd.toml");

fn init(ws: &Workspace, args: &[&str]) -> std::process::Output {
    ws.run(&[&["init"], args].concat())
}

#[test]
fn init_writes_a_profile_that_resolves_and_renders_with_its_minor() {
    let (up, ws) = node_setup();
    let o = init(
        &ws,
        &[
            "site-nodes",
            "--runtime",
            "containerd",
            "--kubernetes",
            "1.35",
            "--arch",
            "amd64,arm64",
        ],
    );
    assert_ok(&o);
    let out = stdout(&o);
    assert!(out.contains("wrote profiles/site-nodes.toml"), "{out}");
    assert!(
        out.contains("builder render --profile profiles/site-nodes.toml"),
        "{out}"
    );
    let text = read(ws.path().join("profiles/site-nodes.toml"));
    assert_eq!(text.lines().next(), Some("#:schema ./schema.json"));
    assert!(ws.path().join("profiles/schema.json").is_file());
    for spec in ["profiles/site-nodes.toml", "site-nodes"] {
        let o = ws.run(&["show", "--profile", spec]);
        assert_ok(&o);
        let shown = stdout(&o);
        assert!(shown.contains("kubernetes = \"1.35\""), "{shown}");
        assert!(shown.contains("arch = [\"amd64\", \"arm64\"]"), "{shown}");
        let note = stderr(&o);
        let from = if spec == "site-nodes" {
            "is your own (./profiles)"
        } else {
            "is the file given"
        };
        assert!(
            note.contains(from) && !note.contains("do not edit"),
            "{note}"
        );
    }
    // Rendered through a file that only points its artifacts at the loopback upstream.
    let loopback = shipped_on_loopback(
        "containerd",
        &up.containerd_profile("n", "2.1.9", "1.36"),
        &[],
    )
    .replace(
        "extends = \"containerd\"",
        "extends = \"./site-nodes.toml\"",
    );
    ws.write_profile("site-loop", &loopback);
    assert_ok(&ws.render("site-loop", &["--arch", "amd64"]));
    let config = read(
        ws.out()
            .join("containerd-loopback/amd64/rootfs/etc/containerd/config.toml"),
    );
    // kubeadm 1.35's pause image, not 1.36's (3.10.2).
    assert!(
        config.contains("registry.k8s.io/pause:3.10.1\""),
        "{config}"
    );
}

#[test]
fn taplo_accepts_what_init_writes_through_its_own_directive() {
    let Some(taplo) = crate::schema::taplo() else {
        return;
    };
    let ws = Workspace::new();
    assert_ok(&init(
        &ws,
        &["a", "--runtime", "containerd", "--kubernetes", "1.36"],
    ));
    let site = [
        "b",
        "--runtime",
        "cri-dockerd",
        "--kubernetes",
        "1.30",
        "--dir",
        "site/nodes",
    ];
    assert_ok(&init(&ws, &site));
    let files = [
        ws.path().join("profiles/a.toml"),
        ws.path().join("site/nodes/b.toml"),
    ];
    let (ok, refused) = crate::schema::lint(&taplo, None, &files);
    assert!(ok, "{refused:?}");
    // Control: the same directive over a key the schema does not know is refused.
    let bad = ws.path().join("site/nodes/c.toml");
    std::fs::write(
        &bad,
        read(&files[1]).replace("schema = 1", "schema = 1\nkubernetes_minor = 3"),
    )
    .unwrap();
    let (ok, refused) = crate::schema::lint(&taplo, None, &[bad]);
    assert!(!ok && refused.contains_key("c"), "{refused:?}");
}

#[test]
fn init_replaces_a_file_only_with_force() {
    let ws = Workspace::new();
    let args = ["site", "--runtime", "cri-dockerd", "--kubernetes", "1.34"];
    assert_ok(&init(&ws, &args));
    let path = ws.path().join("profiles/site.toml");
    std::fs::write(&path, "# mine\n").unwrap();
    let o = init(&ws, &args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("profiles/site.toml already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(read(&path), "# mine\n");
    // Control: with --force it is replaced.
    assert_ok(&init(&ws, &[&args[..], &["--force"]].concat()));
    assert!(read(&path).contains("extends = \"cri-dockerd\""));
}

#[test]
fn a_bad_name_or_minor_is_refused_and_nothing_is_written() {
    let ws = Workspace::new();
    for (name, minor, says) in [
        ("Site", "1.35", "bad profile name \"Site\""),
        ("containerd", "1.35", "is a built-in profile's"),
        ("site", "1.x", "bad Kubernetes minor \"1.x\""),
        ("site", "1.19", "older than this builder supports"),
    ] {
        let o = init(
            &ws,
            &[name, "--runtime", "containerd", "--kubernetes", minor],
        );
        assert_eq!(o.status.code(), Some(1), "{name} {minor}");
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
    }
    let o = init(
        &ws,
        &["site", "--runtime", "docker", "--kubernetes", "1.35"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cri-dockerd"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_dir(ws.path().join("profiles"))
            .unwrap()
            .count(),
        0
    );
}

/// A profile of the user's own with an artifact nothing pins: its error is in that file.
const OWN_UNPINNED: &str = "schema = 1\nextends = \"containerd\"\nname = \"site-nodes\"\n\
[[artifact]]\nname = \"extra\"\nversion = \"1.0.0\"\nurl = \"https://example.invalid/extra-{arch}\"\n\
install = [{ to = \"/usr/local/bin/extra\", mode = \"0755\" }]\n";

#[test]
fn profiles_and_show_say_where_a_profile_comes_from() {
    let ws = Workspace::new();
    ws.write_profile("containerd", SHIPPED_CONTAINERD);
    ws.write_profile("site-nodes", OWN_UNPINNED);
    let o = ws.run(&["profiles"]);
    assert_ok(&o);
    let out = stdout(&o);
    let line = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or("")
            .to_string()
    };
    assert!(
        line("containerd ").contains("profiles/containerd.toml (shipped)"),
        "{out}"
    );
    assert!(line("cri-dockerd ").contains("built-in"), "{out}");
    assert!(
        line("site-nodes ").contains("profiles/site-nodes.toml (yours)"),
        "{out}"
    );
    let note = stderr(&ws.run(&["show", "--profile", "cri-dockerd"]));
    let want = "note: <built-in>/cri-dockerd.toml is built into builder: do not edit it";
    assert!(note.starts_with(want), "{note}");
    let note = stderr(&ws.run(&["show", "--profile", "containerd"]));
    let want = "note: profiles/containerd.toml ships with builder";
    assert!(
        note.starts_with(want) && note.contains("do not edit it"),
        "{note}"
    );
    // The user's own file: the error is to be fixed there, not extended away.
    let o = ws.run(&["show", "--profile", "site-nodes"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("profiles/site-nodes.toml:") && err.contains("artifact extra"),
        "{err}"
    );
    assert!(
        !err.contains("do not edit") && !err.contains("shipped"),
        "{err}"
    );
    // Control: the same kind of error inside the shipped copy says to extend it.
    ws.write_profile(
        "arm",
        "schema = 1\nextends = \"cri-dockerd\"\nname = \"arm\"\narch = [\"arm64\"]\n",
    );
    let err = stderr(&ws.run(&["show", "--profile", "arm"]));
    assert!(
        err.contains("is built into builder, so do not edit it"),
        "{err}"
    );
    // An edited copy of a shipped profile is the user's now.
    ws.write_profile("containerd", &SHIPPED_CONTAINERD.replace("1.36", "1.35"));
    let note = stderr(&ws.run(&["show", "--profile", "containerd"]));
    let want = "note: profiles/containerd.toml is your own (./profiles), and replaces the built-in";
    assert!(
        note.contains(want) && !note.contains("do not edit"),
        "{note}"
    );
}

#[test]
fn from_detect_writes_one_profile_per_runtime_minor_and_arch() {
    let ws = Workspace::new();
    let f = fixture("detect");
    let o = ws.run(&[
        "detect",
        "--nodes",
        &f.join("nodes-mixed.json").display().to_string(),
        // The pods decide cri-dockerd for the node whose workloads mount the Docker socket.
        "--pods",
        &f.join("pods-mixed.json").display().to_string(),
        "--output",
        "json",
    ]);
    std::fs::write(ws.path().join("detect.json"), &o.stdout).unwrap();
    let o = init(&ws, &["--from-detect", "detect.json"]);
    assert_ok(&o);
    // The Windows node has no Linux profile: a warning, not a file.
    assert!(
        stderr(&o).contains("warning: no profile for node win-worker-1"),
        "{}",
        stderr(&o)
    );
    let mut names: Vec<String> = std::fs::read_dir(ws.path().join("profiles"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let want = [
        "containerd-1.23-arm64.toml",
        "cri-dockerd-1.23-amd64.toml",
        "schema.json",
    ];
    assert_eq!(names, want);
    let o = ws.run(&["show", "--profile", "cri-dockerd-1.23-amd64"]);
    assert_ok(&o);
    assert!(
        stdout(&o).contains("kubernetes = \"1.23\""),
        "{}",
        stdout(&o)
    );
    // Now the plan renders the site's profiles, not the shipped ones with --kubernetes; the
    // control: the same plan outside the folder (no ./profiles) names the shipped profiles.
    let plan = |dir: &std::path::Path| {
        let o = ws
            .command(&[
                "detect",
                "--nodes",
                &f.join("nodes-mixed.json").display().to_string(),
                "--pods",
                &f.join("pods-mixed.json").display().to_string(),
                "--plan",
            ])
            .current_dir(dir)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
        stdout(&o)
    };
    let site = plan(ws.path());
    for line in [
        "builder render --profile cri-dockerd-1.23-amd64 --arch amd64\n",
        "builder render --profile containerd-1.23-arm64 --arch arm64\n",
        "into dist/cri-dockerd-1.23-amd64/amd64/",
    ] {
        assert!(site.contains(line), "{line:?} not in {site}");
    }
    let elsewhere = tempfile::tempdir().unwrap();
    let shipped = plan(elsewhere.path());
    assert!(
        shipped.contains("builder render --profile cri-dockerd --arch amd64 --kubernetes 1.23\n")
            && !shipped.contains("cri-dockerd-1.23-amd64"),
        "{shipped}"
    );
    // Again: refused as a whole, nothing replaced; with --force, replaced.
    let path = ws.path().join("profiles/containerd-1.23-arm64.toml");
    std::fs::write(&path, "# mine\n").unwrap();
    let o = init(&ws, &["--from-detect", "detect.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("already exist; nothing was written"),
        "{}",
        stderr(&o)
    );
    assert_eq!(read(&path), "# mine\n");
    assert_ok(&init(&ws, &["--from-detect", "detect.json", "--force"]));
    assert!(read(&path).contains("extends = \"containerd\""));
}
