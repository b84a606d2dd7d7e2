//! Invalid profiles, table-driven: every `tests/fixtures/profiles/invalid/NAME.toml` has exactly
//! one thing wrong (said in its first line, a comment) and `NAME.err` holds the exact first line
//! of the error `builder show --profile` must print for it, without the `error: ` prefix (the
//! crate version written as VERSION, as in the golden files).
//!
//! Each case runs the real binary from the crate root and must: exit 1, print nothing on stdout,
//! and print the error as ONE line (optionally followed by one `hint: ` line; `warning: ` lines
//! may appear anywhere). Files in subfolders (`parts/`) are helpers that cases `extends`; they are
//! not cases themselves.
//!
//! `BUILDER_UPDATE_GOLDEN=1 cargo test --test it profile_errors::` (re)writes every NAME.err
//! from the binary's actual output; the other checks still apply.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Relative to the crate root, which is the binary's working directory, so the paths in the
/// messages are exactly these.
const INVALID_DIR: &str = "tests/fixtures/profiles/invalid";

/// Fewer cases than this means fixtures went missing.
const MIN_CASES: usize = 30;

/// A fresh, empty folder under the system temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "builder-profile-errors-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `builder show --profile PROFILE`, from the crate root, with its own empty cache.
fn show(profile: &str, cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_builder"))
        .args(["show", "--profile", profile])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("BUILDER_CACHE_DIR", cache)
        .env_remove("BUILDER_OFFLINE")
        .env_remove("BUILDER_UPDATE_GOLDEN")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", env!("CARGO_BIN_EXE_builder")))
}

/// What a failing run printed, checked for shape.
struct Failure {
    /// The first stderr line starting with `error: `, without that prefix.
    error: Option<String>,
    /// Everything wrong with the run's shape (exit code, stdout, stderr lines).
    problems: Vec<String>,
}

/// Checks that `out` is a profile error: exit 1, empty stdout, and on stderr one `error: ` line,
/// optionally followed by one `hint: ` line, plus any number of `warning: ` lines.
fn check_failure(out: &Output) -> Failure {
    let mut problems = Vec::new();
    if out.status.code() != Some(1) {
        problems.push(format!("exit code {:?}, expected 1", out.status.code()));
    }
    if !out.stdout.is_empty() {
        problems.push(format!(
            "stdout is not empty: {:?}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .strip_suffix('\n')
        .unwrap_or(&stderr)
        .split('\n')
        .filter(|l| !l.starts_with("warning: "))
        .collect();
    let error = lines
        .iter()
        .find_map(|l| l.strip_prefix("error: "))
        // The version changes with every release; the .err files say VERSION.
        .map(|e| e.replace(env!("CARGO_PKG_VERSION"), "VERSION"));
    match lines.as_slice() {
        [e] | [e, _] if !e.starts_with("error: ") => {
            problems.push("the first stderr line (after warnings) does not start with `error: `".into())
        }
        [_] => {}
        [_, h] if h.starts_with("hint: ") => {}
        [_, other] => problems.push(format!(
            "the error is not one line: the line after it starts with neither `hint: ` nor `warning: `: {other:?}"
        )),
        [] => problems.push("stderr is empty".into()),
        [_, _, rest @ ..] => problems.push(format!(
            "the error is not one line (plus at most one `hint: ` line): {} more stderr line(s) after it, first {:?}",
            rest.len(),
            rest[0]
        )),
    }
    if error.is_none() {
        problems.push("no stderr line starts with `error: `".into());
    }
    Failure { error, problems }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("      | {l}\n")).collect()
}

#[test]
fn invalid_profiles_fail_with_the_expected_one_line_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join(INVALID_DIR);
    let update = std::env::var_os("BUILDER_UPDATE_GOLDEN").is_some();

    let mut tomls = BTreeSet::new();
    let mut errs = BTreeSet::new();
    let mut report = String::new();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue; // helpers for `extends`, not cases
        }
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = file.strip_suffix(".toml") {
            tomls.insert(stem.to_string());
        } else if let Some(stem) = file.strip_suffix(".err") {
            errs.insert(stem.to_string());
        } else {
            let _ = writeln!(
                report,
                "{INVALID_DIR}/{file}: unexpected file: only NAME.toml and NAME.err belong here (helpers go in a subfolder)"
            );
        }
    }
    for stem in errs.difference(&tomls) {
        let _ = writeln!(report, "{INVALID_DIR}/{stem}.err: no {stem}.toml beside it");
    }
    if tomls.len() < MIN_CASES {
        let _ = writeln!(
            report,
            "{INVALID_DIR}: only {} cases (NAME.toml), expected at least {MIN_CASES}",
            tomls.len()
        );
    }

    let cache = Scratch::new("cache");
    let mut updated = 0;
    for stem in &tomls {
        let toml_rel = format!("{INVALID_DIR}/{stem}.toml");
        let err_path = dir.join(format!("{stem}.err"));
        let mut problems = Vec::new();

        let text = fs::read_to_string(root.join(&toml_rel)).unwrap();
        if !text.starts_with('#') {
            problems.push("the first line is not a comment saying what is wrong".to_string());
        }

        let out = show(&toml_rel, &cache.0);
        let got = check_failure(&out);
        problems.extend(got.problems);

        let expected = if update {
            if let Some(actual) = &got.error {
                fs::write(&err_path, format!("{actual}\n")).unwrap();
                updated += 1;
            }
            got.error.clone()
        } else {
            match fs::read_to_string(&err_path) {
                Ok(s) => {
                    let s = s.strip_suffix('\n').unwrap_or(&s);
                    let s = s.strip_suffix('\r').unwrap_or(s);
                    if s.contains('\n') {
                        problems.push(format!(
                            "{stem}.err has more than one line; it holds the error's one line"
                        ));
                    }
                    Some(s.to_string())
                }
                Err(e) => {
                    problems.push(format!(
                        "cannot read {stem}.err ({e}); run with BUILDER_UPDATE_GOLDEN=1 to create it from the actual output"
                    ));
                    None
                }
            }
        };
        if let Some(expected) = &expected {
            if got.error.as_deref() != Some(expected.as_str()) {
                problems.push(format!(
                    "error line differs\n    expected: error: {expected}\n    actual:   {}",
                    match &got.error {
                        Some(a) => format!("error: {a}"),
                        None => "(no `error: ` line)".to_string(),
                    }
                ));
            }
        }

        if !problems.is_empty() {
            let _ = writeln!(report, "{toml_rel}:");
            for p in &problems {
                let _ = writeln!(report, "  - {p}");
            }
            let _ = write!(
                report,
                "    stderr was:\n{}",
                indent(&String::from_utf8_lossy(&out.stderr))
            );
        }
    }
    if update {
        eprintln!("BUILDER_UPDATE_GOLDEN: wrote {updated} .err file(s) in {INVALID_DIR}");
    }
    assert!(
        report.is_empty(),
        "invalid-profile cases that did not fail as expected ({} cases in {INVALID_DIR}):\n{report}",
        tomls.len()
    );
}

#[test]
fn valid_profiles_load_and_are_not_mistaken_for_errors() {
    let cache = Scratch::new("valid");
    for profile in [
        "containerd",
        "cri-dockerd",
        // The profile most invalid cases change in exactly one place.
        "tests/fixtures/profiles/valid/minimal.toml",
    ] {
        let out = show(profile, &cache.0);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "builder show --profile {profile} failed:\n{stderr}"
        );
        assert!(
            stdout.starts_with("# Resolved by builder "),
            "builder show --profile {profile}: unexpected stdout:\n{stdout}"
        );
        assert!(
            !stderr.lines().any(|l| l.starts_with("error: ")),
            "builder show --profile {profile} printed an error:\n{stderr}"
        );
        // The same check the invalid cases pass must reject a success.
        let check = check_failure(&out);
        assert!(
            check.error.is_none() && !check.problems.is_empty(),
            "the harness would accept a successful run of {profile} as a profile error"
        );
    }
}
