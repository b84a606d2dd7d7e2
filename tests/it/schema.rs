//! The profile JSON Schema: `builder schema` is byte for byte the committed
//! `profiles/schema.json` (a golden file:
//! `BUILDER_UPDATE_GOLDEN=1 cargo test --test it schema::` rewrites it), the shipped profiles
//! point at it with a `#:schema` directive that builder's parser ignores, and the real `taplo`
//! CLI, reading that schema, accepts every shipped and valid fixture profile and refuses
//! exactly the invalid fixtures listed below.
//!
//! taplo comes from `BUILDER_TAPLO`, else `~/.cache/builder-ci/taplo` (where ci/test.sh
//! installs it), else PATH. Missing, the taplo checks say SKIP, or fail under
//! BUILDER_REQUIRE_CONSUMERS=1 (ci/test.sh).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const DIRECTIVE: &str = "#:schema ./schema.json";

/// The invalid fixtures the schema refuses: unknown keys, wrong types, bad enum values, what
/// the patterns say (names, versions, modes, digests, the Kubernetes minor, URL schemes,
/// absolute targets), and the keys a profile without `extends` must give itself. The others
/// need what a schema cannot see: other files (`extends`), the catalog, the URL's file kind,
/// a glob's syntax, kubelet flags builder manages, the oldest supported minor.
const REFUSED_BY_SCHEMA: &[&str] = &[
    "arch-empty",
    "arch-unknown",
    "artifact-install-empty",
    "artifact-missing-install",
    "artifact-missing-name",
    "artifact-missing-url",
    "artifact-missing-version",
    "artifact-name-bad",
    "kubernetes-bad-minor",
    "kubernetes-with-patch",
    "log-max-file-negative",
    "log-max-size-bad",
    "missing-arch",
    "missing-kubernetes",
    "missing-name",
    "missing-runtime",
    "mode-9999",
    "mode-rwx",
    "mode-too-large",
    "no-artifacts",
    "overlay-name-bad",
    "profile-name-bad",
    "runtime-docker",
    "runtime-dockershim-1-23",
    "runtime-unknown",
    "schema-2",
    "schema-missing",
    "schema-string",
    "sha256-arch-bad-hex",
    "sha256-short",
    "sha256-unknown-arch",
    "sha256-uppercase",
    "sysext-unknown-key",
    "target-relative",
    "unknown-key",
    "unknown-key-artifact",
    "unknown-key-containerd",
    "unknown-key-docker",
    "unknown-key-install",
    "unknown-key-kubelet",
    "url-bad-scheme",
    "version-empty-suffix",
    "version-in-extends",
    "version-leading-v",
    "version-two-parts",
    "wrong-type-arch-string",
    "wrong-type-kubernetes-float",
    "wrong-type-sha256",
    "wrong-type-systemd-cgroup",
];

fn schema_file() -> PathBuf {
    Path::new(ROOT).join("profiles/schema.json")
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn builder_schema_is_the_committed_schema_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_builder"))
        .arg("schema")
        .output()
        .unwrap();
    assert_ok(&out);
    let generated = stdout(&out);
    let value: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(
        value["$schema"], "http://json-schema.org/draft-07/schema#",
        "taplo and editors read draft-07"
    );
    // Generated from the raw types: every key the parser takes, nothing else.
    let keys: Vec<&str> = value["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "arch",
            "artifact",
            "containerd",
            "description",
            "docker",
            "extends",
            "kubelet",
            "kubernetes",
            "name",
            "overlays",
            "runtime",
            "schema",
            "sysext"
        ]
    );
    assert_eq!(value["additionalProperties"], false);
    if std::env::var_os("BUILDER_UPDATE_GOLDEN").is_some() {
        std::fs::write(schema_file(), &generated).unwrap();
    }
    assert_eq!(
        generated,
        read(schema_file()),
        "profiles/schema.json is stale: run BUILDER_UPDATE_GOLDEN=1 cargo test --test it schema::"
    );
}

#[test]
fn shipped_profiles_carry_the_directive_and_builder_ignores_it() {
    let shipped = toml_files(&Path::new(ROOT).join("profiles"));
    assert!(shipped.len() >= 2, "{shipped:?}");
    for p in &shipped {
        let text = read(p);
        assert_eq!(text.lines().next(), Some(DIRECTIVE), "{}", p.display());
        // The directive is a TOML comment: the file (not the built-in copy) loads as is.
        let out = Command::new(env!("CARGO_BIN_EXE_builder"))
            .args(["show", "--profile"])
            .arg(p)
            .env(
                "BUILDER_CACHE_DIR",
                std::env::temp_dir().join("builder-schema-test"),
            )
            .output()
            .unwrap();
        assert_ok(&out);
        assert!(stdout(&out).contains("schema = 1"), "{}", stdout(&out));
    }
}

/// taplo, or None after SKIP (or a panic under BUILDER_REQUIRE_CONSUMERS).
pub(crate) fn taplo() -> Option<PathBuf> {
    let cached = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".cache/builder-ci/taplo/node_modules/.bin/taplo"));
    let found = env_path("BUILDER_TAPLO")
        .or(cached.filter(|p| p.exists()))
        .or_else(|| which("taplo"));
    consumer("taplo (npm @taplo/cli, installed by ci/test.sh)", found)
}

/// Runs `taplo lint` on `files` (with `--schema` when given, else the files' own
/// directives); returns its success and, per file it refused, why ("schema validation
/// failed", "syntax errors found", ...), from taplo's one `invalid file` line per file.
pub(crate) fn lint(
    taplo: &Path,
    schema: Option<&Path>,
    files: &[PathBuf],
) -> (bool, BTreeMap<String, String>) {
    let mut cmd = Command::new(taplo);
    cmd.args(["lint", "--no-auto-config", "--colors", "never"]);
    if let Some(s) = schema {
        cmd.arg("--schema").arg(format!("file://{}", s.display()));
    }
    let out = cmd.args(files).env_remove("RUST_LOG").output().unwrap();
    let err = stderr(&out);
    let mut refused = BTreeMap::new();
    for line in err.lines().filter(|l| l.contains("invalid file")) {
        let why = line
            .split("error=")
            .nth(1)
            .and_then(|r| r.split(" path=").next())
            .unwrap_or("?");
        let path = line.rsplit("path=").next().unwrap_or("").trim_matches('"');
        let stem = Path::new(path).file_stem().unwrap().to_string_lossy();
        refused.insert(stem.into_owned(), why.to_string());
    }
    // A failure taplo did not attribute to a file would hide a broken check.
    assert_eq!(
        out.status.success(),
        refused.is_empty(),
        "taplo's exit and its per-file lines disagree:\n{err}"
    );
    (out.status.success(), refused)
}

#[test]
fn taplo_accepts_shipped_and_valid_profiles_through_the_schema() {
    let Some(taplo) = taplo() else { return };
    // Shipped profiles: through their own `#:schema` directive, as an editor reads them.
    let shipped = toml_files(&Path::new(ROOT).join("profiles"));
    let (ok, refused) = lint(&taplo, None, &shipped);
    assert!(ok, "{refused:?}");
    let valid = toml_files(&fixture("profiles/valid"));
    assert!(!valid.is_empty());
    let (ok, refused) = lint(&taplo, Some(&schema_file()), &valid);
    assert!(ok, "{refused:?}");

    // Negative control: the same directive, beside the same schema, in a copy of a shipped
    // profile with one unknown key and one bad enum value.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(schema_file(), dir.path().join("schema.json")).unwrap();
    let bad = dir.path().join("bad.toml");
    let text = read(Path::new(ROOT).join("profiles/containerd.toml")).replace(
        "runtime = \"containerd\"",
        "runtime = \"docker\"\nbogus = 1",
    );
    std::fs::write(&bad, text).unwrap();
    let (ok, refused) = lint(&taplo, None, &[bad]);
    assert!(!ok);
    assert_eq!(refused["bad"], "schema validation failed");
}

#[test]
fn taplo_refuses_exactly_the_invalid_fixtures_a_schema_can_express() {
    let Some(taplo) = taplo() else { return };
    let files = toml_files(&fixture("profiles/invalid"));
    let (_, refused) = lint(&taplo, Some(&schema_file()), &files);
    let by_schema: Vec<&str> = refused
        .iter()
        .filter(|(_, why)| *why == "schema validation failed")
        .map(|(stem, _)| stem.as_str())
        .collect();
    assert_eq!(by_schema, REFUSED_BY_SCHEMA);
    // What is not valid TOML fails in taplo's parser before any schema: each such fixture.
    let not_toml: Vec<&str> = refused
        .iter()
        .filter(|(_, why)| *why != "schema validation failed")
        .map(|(stem, _)| stem.as_str())
        .collect();
    let expected_not_toml: Vec<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|s| s.starts_with("toml-"))
        .collect();
    assert_eq!(not_toml, expected_not_toml);
}
