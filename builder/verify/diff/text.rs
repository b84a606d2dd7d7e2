//! `builder diff`'s text output, for a reviewer: per arch the manifest fields, artifacts and
//! files that changed (sorted), then the unified diffs of generated files, then one summary
//! line. The same input gives the same bytes. Every string from a manifest (and the arguments)
//! is printed through `util::escape`, so a crafted manifest can neither forge a line of the
//! report nor reach the terminal with a control sequence.

use std::fmt::Write as _;

use super::compare::{diff_headers, ArchDiff, ArtifactChange, Change, FileChange, Report, Status};
use crate::outputs::manifest::FileRef;
use crate::util::digest::Recorded;
use crate::util::escape::{line as esc, lines};

pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "old: {}\nnew: {}", esc(&r.old), esc(&r.new));
    for note in &r.notes {
        let _ = writeln!(s, "note: {}", esc(note));
    }
    for a in &r.arches {
        s.push('\n');
        arch(&mut s, a);
    }
    let changed: Vec<_> = r
        .arches
        .iter()
        .filter(|a| a.status != Status::Same)
        .map(|a| esc(&a.arch))
        .collect();
    s.push('\n');
    if changed.is_empty() {
        let _ = writeln!(s, "no differences ({} arch(es) compared)", r.arches.len());
    } else {
        let _ = writeln!(
            s,
            "differences in {} of {} arch(es): {}",
            changed.len(),
            r.arches.len(),
            changed.join(", ")
        );
    }
    s
}

fn arch(s: &mut String, a: &ArchDiff) {
    let status = match a.status {
        Status::Same => "same",
        Status::Changed => "changed",
        Status::Added => "only in new",
        Status::Removed => "only in old",
    };
    let _ = writeln!(s, "{}: {status}", esc(&a.arch));
    for f in &a.fields {
        change_line(s, "  ", f.field, &f.old, &f.new);
    }
    if !a.artifacts.is_empty() {
        let _ = writeln!(s, "  artifacts:");
        for x in &a.artifacts {
            artifact(s, x);
        }
    }
    if !a.files.is_empty() {
        let _ = writeln!(s, "  files:");
        for f in &a.files {
            let _ = writeln!(s, "    {}", file(f));
        }
    }
    for f in &a.files {
        match (&f.diff, &f.diff_note) {
            (Some(d), _) => content_diff(s, f, d),
            (None, Some(why)) => {
                let _ = writeln!(s, "\n(no content diff for {}: {})", esc(&f.path), esc(why));
            }
            (None, None) => {}
        }
    }
}

/// A unified diff: the `---`/`+++` lines name the path escaped (the diff holds it as the
/// manifest spells it, for JSON), the hunks are escaped keeping their line breaks.
fn content_diff(s: &mut String, f: &FileChange, d: &str) {
    let (a, b) = diff_headers(&f.path, f.old.is_some(), f.new.is_some());
    s.push('\n');
    let body = match d.strip_prefix(&format!("--- {a}\n+++ {b}\n")) {
        Some(body) => {
            let _ = writeln!(s, "--- {}\n+++ {}", esc(&a), esc(&b));
            body
        }
        None => d,
    };
    s.push_str(&lines(body));
    if !d.ends_with('\n') {
        s.push('\n');
    }
}

fn mark(c: Change) -> char {
    match c {
        Change::Added => '+',
        Change::Removed => '-',
        Change::Changed => '~',
    }
}

/// `LABEL: OLD -> NEW` (escaped), or, when that is long, the new value under the old one.
fn change_line(s: &mut String, indent: &str, label: &str, old: &str, new: &str) {
    let (old, new) = (esc(old), esc(new));
    if label.len() + old.len() + new.len() <= 80 {
        let _ = writeln!(s, "{indent}{label}: {old} -> {new}");
    } else {
        let pad = " ".repeat(label.len() - 1);
        let _ = writeln!(s, "{indent}{label}: {old}\n{indent}{pad}-> {new}");
    }
}

fn artifact(s: &mut String, x: &ArtifactChange) {
    match (&x.old, &x.new) {
        (Some(o), Some(n)) => {
            let _ = writeln!(s, "    ~ {}", esc(&x.name));
            for &k in &x.changed {
                let (old, new) = match k {
                    "version" => (o.version.as_str(), n.version.as_str()),
                    "url" => (o.url.as_str(), n.url.as_str()),
                    _ => (o.sha256.as_str(), n.sha256.as_str()),
                };
                change_line(s, "        ", k, old, new);
            }
        }
        (Some(a), None) | (None, Some(a)) => {
            let _ = writeln!(
                s,
                "    {} {} {}\n        url: {}\n        sha256: {}",
                mark(x.change),
                esc(&a.name),
                esc(&a.version),
                esc(&a.url),
                esc(a.sha256.as_str())
            );
        }
        (None, None) => {}
    }
}

/// The first 12 hex digits: enough to tell digests apart in a listing (JSON has them whole).
/// Escaped: a manifest that was edited may hold anything there.
fn short(d: &Option<Recorded>) -> String {
    d.as_ref().map_or_else(
        || "-".to_string(),
        |d| esc(&d.as_str().chars().take(12).collect::<String>()).into_owned(),
    )
}

fn describe(f: &FileRef) -> String {
    let (mode, source) = (esc(&f.mode), esc(&f.source));
    match &f.link {
        Some(t) => format!("{mode}, link to {}, {source}", esc(t)),
        None => format!(
            "{mode}, {} bytes, sha256 {}, {source}",
            f.size.unwrap_or(0),
            short(&f.sha256)
        ),
    }
}

fn file(f: &FileChange) -> String {
    match (&f.old, &f.new) {
        (Some(o), Some(n)) => {
            let opt = |v: &Option<String>| {
                v.as_deref()
                    .map_or("-".to_string(), |t| esc(t).into_owned())
            };
            let parts: Vec<String> = f
                .changed
                .iter()
                .map(|&k| match k {
                    "mode" => format!("mode {} -> {}", esc(&o.mode), esc(&n.mode)),
                    "size" => format!(
                        "size {} -> {}",
                        o.size.map_or("-".into(), |v| v.to_string()),
                        n.size.map_or("-".into(), |v| v.to_string())
                    ),
                    "sha256" => format!("sha256 {} -> {}", short(&o.sha256), short(&n.sha256)),
                    "link" => format!("link {} -> {}", opt(&o.link), opt(&n.link)),
                    _ => format!("source {} -> {}", esc(&o.source), esc(&n.source)),
                })
                .collect();
            format!("~ {}: {}", esc(&f.path), parts.join(", "))
        }
        (Some(x), None) | (None, Some(x)) => {
            format!("{} {} ({})", mark(f.change), esc(&f.path), describe(x))
        }
        (None, None) => String::new(),
    }
}
