//! The rough edges a new user meets first, each fixed and pinned here: `--out` naming a file,
//! download options only where something downloads, `--output` never taken for `--out`, help
//! with examples, profile errors that `show` and `render` agree on, and the manifest's profile
//! digest being exactly `builder show | sha256sum`.

use std::fs;
use std::process::{Command, Stdio};

use crate::common::*;

#[test]
fn out_naming_a_file_fails_before_any_download() {
    let (up, ws) = node_setup();
    fs::write(ws.path().join("afile"), "not a folder").unwrap();
    for out in ["afile", "afile/below"] {
        let o = ws.run(&["render", "--profile", "node", "--out", out]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.starts_with(&format!(
                "error: --out {out}: afile is a file, not a folder"
            )),
            "{err}"
        );
        assert_eq!(up.server.total_hits(), 0, "nothing may be downloaded first");
    }
    assert_eq!(read(ws.path().join("afile")), "not a folder");
    // Control: a folder that does not exist yet is created.
    assert_ok(&ws.run(&[
        "render",
        "-p",
        "node",
        "--arch",
        "amd64",
        "--out",
        "fresh/dist",
    ]));
    assert!(ws
        .path()
        .join("fresh/dist/node/amd64/overlay.tar.gz")
        .is_file());
}

#[test]
fn download_options_belong_to_render_only() {
    let (up, ws) = node_setup();
    for (cmd, rest) in [
        ("show", &["--profile", "node"][..]),
        ("profiles", &[][..]),
        ("detect", &["--nodes", "-"][..]),
    ] {
        let help = stdout(&ws.run(&[cmd, "--help"]));
        for flag in [
            "--mirror",
            "--offline",
            "--cache-dir",
            "--retries",
            "--jobs",
            "--connect-timeout",
            "--read-timeout",
            "--speed-limit",
            "--speed-time",
        ] {
            assert!(!help.contains(flag), "{cmd} --help lists {flag}:\n{help}");
        }
        let mut args = vec![cmd];
        args.extend_from_slice(rest);
        args.push("--offline");
        let o = ws.run(&args);
        assert_eq!(o.status.code(), Some(1), "{cmd} --offline");
        assert!(
            stderr(&o).contains("unexpected argument '--offline'"),
            "{}",
            stderr(&o)
        );
    }
    let help = stdout(&ws.run(&["render", "--help"]));
    assert!(help.contains("Download options:") && help.contains("--mirror <FROM=TO>"));
    // -q stays global.
    assert_ok(&ws.run(&["-q", "profiles"]));
    // The env twins still reach render: BUILDER_OFFLINE with a cold cache fetches nothing.
    let o = ws.run_env(
        &["render", "--profile", "node", "--out", "o"],
        &[("BUILDER_OFFLINE", "true")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--offline"), "{}", stderr(&o));
    assert_eq!(up.server.total_hits(), 0);
    // And are harmless for the commands that do not download.
    let o = ws.run_env(
        &["show", "--profile", "node"],
        &[("BUILDER_OFFLINE", "true")],
    );
    assert_ok(&o);
}

#[test]
fn output_is_never_taken_for_out() {
    let (up, ws) = node_setup();
    let o = ws.run(&["render", "--profile", "node", "--output", "json"]);
    // Either render knows --output, or it is refused; it never renders into a folder `json`.
    assert!(!ws.path().join("json").exists());
    if o.status.code() != Some(0) {
        assert_eq!(o.status.code(), Some(1));
        assert!(
            stderr(&o).contains("unexpected argument '--output'"),
            "{}",
            stderr(&o)
        );
        assert_eq!(up.server.total_hits(), 0);
    }
}

#[test]
fn short_o_with_a_folder_says_that_out_was_meant() {
    let (up, ws) = node_setup();
    let o = ws.run(&["render", "--profile", "node", "-o", "mydist"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("invalid value 'mydist' for '--output <FORMAT>': expected text or json"),
        "{err}"
    );
    assert!(
        err.contains(
            "tip: -o is --output (text or json); to write into 'mydist', use --out mydist"
        ),
        "{err}"
    );
    assert!(!ws.path().join("mydist").exists());
    assert_eq!(up.server.total_hits(), 0);
    // verify has no --out: the error stays, the tip does not.
    let o = ws.run(&["verify", "dist", "-o", "yaml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("expected text or json"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("tip:"), "{}", stderr(&o));
    // Control: the formats themselves still parse (help lists them).
    let help = stdout(&ws.run(&["render", "--help"]));
    assert!(
        help.contains("- text: For people") && help.contains("- json: One JSON document"),
        "{help}"
    );
}

#[test]
fn arch_takes_commas_and_points_kernel_names_at_kubernetes_names() {
    let (up, ws) = node_setup();
    for (given, meant) in [
        ("x86_64", "amd64"),
        ("aarch64", "arm64"),
        ("X86_64", "amd64"),
    ] {
        let o = ws.run(&["render", "--profile", "node", "--arch", given]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!(
                "invalid value '{given}' for '--arch <ARCH>': expected one of amd64, arm64, ppc64le, s390x"
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!(
                "tip: builder takes Kubernetes' names: '{given}' is {meant} (--arch {meant})"
            )),
            "{err}"
        );
    }
    let o = ws.run(&["render", "--profile", "node", "--arch", "sparc"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!stderr(&o).contains("tip:"), "{}", stderr(&o));
    assert_eq!(up.server.total_hits(), 0);
    // A comma list is two --arch values.
    assert_ok(&ws.run(&["render", "-q", "--profile", "node", "--arch", "amd64,arm64"]));
    for arch in ["amd64", "arm64"] {
        assert!(ws
            .path()
            .join(format!("dist/node/{arch}/overlay.tar.gz"))
            .is_file());
    }
}

#[test]
fn the_program_describes_itself_and_its_version_names_the_commit() {
    let ws = Workspace::new();
    let help = stdout(&ws.run(&["--help"]));
    assert!(
        help.starts_with("Build verified, reproducible Kubernetes node overlays"),
        "{help}"
    );
    assert!(!help.contains("Options every subcommand takes"), "{help}");
    let version = stdout(&ws.run(&["--version"]));
    let want = format!("builder {}", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&want), "{version}");
    // Built from this git checkout: the commit is named, 12 hex digits.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|h| h.status.success());
    if let Some(head) = head {
        let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
        assert_eq!(version.trim(), format!("{want} (commit {head})"));
    }
}

#[test]
fn profiles_and_show_speak_json_too() {
    let (_up, ws) = node_setup();
    let o = ws.run(&["profiles", "--output", "json"]);
    assert_ok(&o);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let listed = doc["profiles"].as_array().unwrap();
    let find = |name: &str| {
        listed
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {doc}"))
    };
    assert_eq!(find("node")["origin"], "yours");
    assert_eq!(find("containerd")["origin"], "built-in");
    assert!(!find("containerd")["description"]
        .as_str()
        .unwrap()
        .is_empty());
    // The same names as the table.
    let table = stdout(&ws.run(&["profiles"]));
    for p in listed {
        assert!(table.contains(p["name"].as_str().unwrap()), "{table}");
    }

    let text = ws.run(&["show", "--profile", "node"]);
    assert_ok(&text);
    let o = ws.run(&["show", "--profile", "node", "-o", "json"]);
    assert_ok(&o);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    // The text form's digest (the manifest's profile digest) and its content, as JSON.
    assert_eq!(doc["profile_sha256"], sha256_hex(&text.stdout).as_str());
    let toml: toml::Value = toml::from_str(&stdout(&text)).unwrap();
    assert_eq!(doc["profile"], serde_json::to_value(&toml).unwrap());
    assert_eq!(doc["profile"]["name"], "node");
    assert!(doc["source"].as_str().unwrap().contains("node"), "{doc}");
    assert!(
        doc["warnings"].is_array() && doc["notes"].is_array(),
        "{doc}"
    );
}

#[test]
fn top_level_help_has_examples() {
    let ws = Workspace::new();
    for flag in ["--help", "-h"] {
        let out = stdout(&ws.run(&[flag]));
        assert!(out.contains("Examples:"), "{out}");
        assert!(out.contains("builder render --profile containerd"), "{out}");
        assert!(out.contains("builder detect --nodes -"), "{out}");
    }
}

#[test]
fn show_and_render_refuse_the_same_profile_errors_before_any_download() {
    let (up, ws) = node_setup();
    let base = read(ws.path().join("profiles/node.toml"));
    let cases = [
        (
            "docker-table",
            format!("{base}\n[docker]\nlog_max_file = 3\n"),
            "[docker] configures Docker Engine",
        ),
        (
            "missing-overlay",
            base.replacen(
                "overlays = [\"kubernetes-node\"]",
                "overlays = [\"kubernetes-node\", \"site-files\"]",
                1,
            ),
            "overlay \"site-files\" not found",
        ),
    ];
    for (name, text, want) in cases {
        let path = ws.path().join(format!("{name}.toml"));
        fs::write(&path, text).unwrap();
        let p = path.display().to_string();
        let shown = ws.run(&["show", "--profile", &p]);
        let rendered = ws.run(&["render", "--profile", &p, "--out", "o"]);
        for o in [&shown, &rendered] {
            assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(o));
            let err = stderr(o);
            assert!(
                err.starts_with(&format!("error: {p}:")) && err.contains(want),
                "{name}: {err}"
            );
        }
        assert_eq!(stderr(&shown), stderr(&rendered), "{name}");
        assert_eq!(up.server.total_hits(), 0, "{name}");
    }
    // Control: the overlay, once created beside the profile, is found and installed.
    fs::create_dir_all(ws.path().join("overlays/site-files/etc")).unwrap();
    fs::write(ws.path().join("overlays/site-files/etc/site"), "eu-1\n").unwrap();
    let p = ws.path().join("missing-overlay.toml").display().to_string();
    assert_ok(&ws.run(&["show", "--profile", &p]));
    assert_ok(&ws.render(&p, &["--arch", "amd64"]));
    assert_eq!(read(ws.out().join("node/amd64/rootfs/etc/site")), "eu-1\n");
}

#[test]
fn the_manifest_profile_digest_is_sha256sum_of_show() {
    let (_up, ws) = node_setup();
    assert_ok(&ws.render("node", &["--arch", "amd64"]));
    let m = read_json(ws.out().join("node/amd64/manifest.json"));
    let want = m["profile"]["sha256"].as_str().unwrap().to_string();
    // What the README says, with the real shell tools.
    let bin = env!("CARGO_BIN_EXE_builder");
    let o = Command::new("sh")
        .args(["-c", &format!("'{bin}' show --profile node | sha256sum")])
        .current_dir(ws.path())
        .env("BUILDER_CACHE_DIR", ws.cache())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert_ok(&o);
    assert_eq!(stdout(&o), format!("{want}  -\n"));
    // Control: another profile gives another digest.
    let other = ws.run(&["show", "--profile", "containerd"]);
    assert_ne!(sha256_hex(&other.stdout), want);
}
