//! `builder diff`'s text output, for a reviewer: per arch the manifest fields, artifacts and
//! files that changed (sorted), then the unified diffs of generated files, then one summary
//! line. The same input gives the same bytes.

use std::fmt::Write as _;

use super::compare::{ArchDiff, ArtifactChange, Change, FileChange, Report, Status};
use crate::outputs::manifest::FileRef;
use crate::util::digest::Recorded;

pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "old: {}\nnew: {}", r.old, r.new);
    for note in &r.notes {
        let _ = writeln!(s, "note: {note}");
    }
    for a in &r.arches {
        s.push('\n');
        arch(&mut s, a);
    }
    let changed: Vec<&str> = r
        .arches
        .iter()
        .filter(|a| a.status != Status::Same)
        .map(|a| a.arch.as_str())
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
    let _ = writeln!(s, "{}: {status}", a.arch);
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
            (Some(d), _) => {
                s.push('\n');
                s.push_str(d);
                if !d.ends_with('\n') {
                    s.push('\n');
                }
            }
            (None, Some(why)) => {
                let _ = writeln!(s, "\n(no content diff for {}: {why})", f.path);
            }
            (None, None) => {}
        }
    }
}

fn mark(c: Change) -> char {
    match c {
        Change::Added => '+',
        Change::Removed => '-',
        Change::Changed => '~',
    }
}

/// `LABEL: OLD -> NEW`, or, when that is long, the new value under the old one.
fn change_line(s: &mut String, indent: &str, label: &str, old: &str, new: &str) {
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
            let _ = writeln!(s, "    ~ {}", x.name);
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
                a.name,
                a.version,
                a.url,
                a.sha256
            );
        }
        (None, None) => {}
    }
}

/// The first 12 hex digits: enough to tell digests apart in a listing (JSON has them whole).
fn short(d: &Option<Recorded>) -> String {
    d.as_ref().map_or_else(
        || "-".to_string(),
        |d| d.as_str().chars().take(12).collect(),
    )
}

fn describe(f: &FileRef) -> String {
    match &f.link {
        Some(t) => format!("{}, link to {t}, {}", f.mode, f.source),
        None => format!(
            "{}, {} bytes, sha256 {}, {}",
            f.mode,
            f.size.unwrap_or(0),
            short(&f.sha256),
            f.source
        ),
    }
}

fn file(f: &FileChange) -> String {
    match (&f.old, &f.new) {
        (Some(o), Some(n)) => {
            let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let parts: Vec<String> = f
                .changed
                .iter()
                .map(|&k| match k {
                    "mode" => format!("mode {} -> {}", o.mode, n.mode),
                    "size" => format!(
                        "size {} -> {}",
                        o.size.map_or("-".into(), |v| v.to_string()),
                        n.size.map_or("-".into(), |v| v.to_string())
                    ),
                    "sha256" => format!("sha256 {} -> {}", short(&o.sha256), short(&n.sha256)),
                    "link" => format!("link {} -> {}", opt(&o.link), opt(&n.link)),
                    _ => format!("source {} -> {}", o.source, n.source),
                })
                .collect();
            format!("~ {}: {}", f.path, parts.join(", "))
        }
        (Some(x), None) | (None, Some(x)) => {
            format!("{} {} ({})", mark(f.change), f.path, describe(x))
        }
        (None, None) => String::new(),
    }
}
