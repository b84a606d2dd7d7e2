//! Comparing two renders of one arch: the manifest's own fields, the artifacts (by name) and
//! the files (by path), with a unified diff of each changed file builder writes itself
//! (`template:` and `overlay:` sources). The result is the `--output json` document; `text`
//! prints it for people.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use serde::Serialize;

use super::input::{ArchSide, Content};
use crate::outputs::manifest::{ArtifactRef, FileRef, Manifest};
use crate::util::digest::Recorded;

/// Bumped when a field is removed, renamed or changes meaning; adding a field keeps it.
pub const SCHEMA_VERSION: u32 = 1;

/// The whole comparison.
#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub old: String,
    pub new: String,
    /// No difference in any arch: exit 0.
    pub identical: bool,
    /// Remarks about the comparison as a whole (content diffs not available).
    pub notes: Vec<String>,
    /// Sorted by arch.
    pub arches: Vec<ArchDiff>,
}

#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Same,
    Changed,
    /// Only in NEW.
    Added,
    /// Only in OLD.
    Removed,
}

/// One arch.
#[derive(Debug, Serialize)]
pub struct ArchDiff {
    pub arch: String,
    pub status: Status,
    /// The manifest's own fields that differ, in a fixed order.
    pub fields: Vec<FieldChange>,
    /// Sorted by name.
    pub artifacts: Vec<ArtifactChange>,
    /// Sorted by path.
    pub files: Vec<FileChange>,
}

#[derive(Debug, Serialize)]
pub struct FieldChange {
    pub field: &'static str,
    pub old: String,
    pub new: String,
}

#[derive(Debug, Serialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Changed,
}

#[derive(Debug, Serialize)]
pub struct ArtifactChange {
    pub name: String,
    pub change: Change,
    /// For `changed`: which of version, url, sha256 differ.
    pub changed: Vec<&'static str>,
    pub old: Option<ArtifactRef>,
    pub new: Option<ArtifactRef>,
}

#[derive(Debug, Serialize)]
pub struct FileChange {
    pub path: String,
    pub change: Change,
    /// For `changed`: which of mode, size, sha256, link, source differ.
    pub changed: Vec<&'static str>,
    pub old: Option<FileRef>,
    pub new: Option<FileRef>,
    /// A unified diff of the contents (`--- a/PATH`, `+++ b/PATH`), for generated files.
    pub diff: Option<String>,
    /// Why a generated file has no `diff`.
    pub diff_note: Option<String>,
}

impl ArchDiff {
    /// An arch only one side has.
    pub fn one_sided(arch: &str, status: Status) -> ArchDiff {
        ArchDiff {
            arch: arch.to_string(),
            status,
            fields: Vec::new(),
            artifacts: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Compares one arch's two renders.
    pub fn between(arch: &str, old: &ArchSide, new: &ArchSide) -> Result<ArchDiff> {
        let fields = fields(&old.manifest, &new.manifest);
        let artifacts = artifacts(&old.manifest.artifacts, &new.manifest.artifacts);
        let files = files(old, new)?;
        let same = fields.is_empty() && artifacts.is_empty() && files.is_empty();
        Ok(ArchDiff {
            arch: arch.to_string(),
            status: if same { Status::Same } else { Status::Changed },
            fields,
            artifacts,
            files,
        })
    }
}

fn fields(old: &Manifest, new: &Manifest) -> Vec<FieldChange> {
    let pick = |m: &Manifest| {
        [
            ("arch", m.arch.to_string()),
            ("builder_version", m.builder_version.clone()),
            ("profile.name", m.profile.name.clone()),
            ("profile.sha256", m.profile.sha256.to_string()),
            ("kubernetes", m.kubernetes.clone()),
            ("runtime", m.runtime.to_string()),
            ("source_date_epoch", m.source_date_epoch.to_string()),
            ("overlay.sha256", m.overlay.sha256.to_string()),
            ("overlay.size", m.overlay.size.to_string()),
        ]
    };
    pick(old)
        .into_iter()
        .zip(pick(new))
        .filter(|((_, a), (_, b))| a != b)
        .map(|((field, old), (_, new))| FieldChange { field, old, new })
        .collect()
}

/// Added, removed and changed entries of two lists keyed by `key`, sorted by key.
fn pair<'a, T>(
    old: &'a [T],
    new: &'a [T],
    key: impl Fn(&T) -> &str,
) -> Vec<(String, Option<&'a T>, Option<&'a T>)> {
    let old: BTreeMap<&str, &T> = old.iter().map(|x| (key(x), x)).collect();
    let new: BTreeMap<&str, &T> = new.iter().map(|x| (key(x), x)).collect();
    let keys: BTreeSet<&str> = old.keys().chain(new.keys()).copied().collect();
    keys.into_iter()
        .map(|k| (k.to_string(), old.get(k).copied(), new.get(k).copied()))
        .collect()
}

fn change_of<T>(old: Option<&T>, new: Option<&T>) -> Change {
    match (old, new) {
        (None, _) => Change::Added,
        (_, None) => Change::Removed,
        _ => Change::Changed,
    }
}

fn artifacts(old: &[ArtifactRef], new: &[ArtifactRef]) -> Vec<ArtifactChange> {
    pair(old, new, |a| &a.name)
        .into_iter()
        .filter_map(|(name, o, n)| {
            let changed = match (o, n) {
                (Some(o), Some(n)) => differing(&[
                    ("version", o.version == n.version),
                    ("url", o.url == n.url),
                    ("sha256", o.sha256 == n.sha256),
                ]),
                _ => Vec::new(),
            };
            let change = change_of(o, n);
            (change != Change::Changed || !changed.is_empty()).then(|| ArtifactChange {
                name,
                change,
                changed,
                old: o.cloned(),
                new: n.cloned(),
            })
        })
        .collect()
}

fn differing(checks: &[(&'static str, bool)]) -> Vec<&'static str> {
    checks
        .iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| *name)
        .collect()
}

fn files(old: &ArchSide, new: &ArchSide) -> Result<Vec<FileChange>> {
    let mut out = Vec::new();
    for (path, o, n) in pair(&old.manifest.files, &new.manifest.files, |f| &f.path) {
        let changed = match (o, n) {
            (Some(o), Some(n)) => differing(&[
                ("mode", o.mode == n.mode),
                ("size", o.size == n.size),
                ("sha256", o.sha256 == n.sha256),
                ("link", o.link == n.link),
                ("source", o.source == n.source),
            ]),
            _ => Vec::new(),
        };
        let change = change_of(o, n);
        if change == Change::Changed && changed.is_empty() {
            continue;
        }
        let content_changed = change != Change::Changed || changed.contains(&"sha256");
        let (diff, diff_note) = if content_changed && [o, n].into_iter().flatten().any(generated) {
            unified(&path, (old, o), (new, n))?
        } else {
            (None, None)
        };
        out.push(FileChange {
            path,
            change,
            changed,
            old: o.cloned(),
            new: n.cloned(),
            diff,
            diff_note,
        });
    }
    Ok(out)
}

/// A file builder writes itself: a config, drop-in, flags file, or one from overlays/.
pub fn generated(f: &FileRef) -> bool {
    f.link.is_none() && (f.source.starts_with("template:") || f.source.starts_with("overlay:"))
}

/// The contents of one side's file: empty when the side does not have it.
fn text_of(side: &ArchSide, f: Option<&FileRef>) -> Result<Content> {
    match f {
        Some(f) if f.link.is_none() => side.content(
            &f.path,
            f.size.unwrap_or(0),
            f.sha256.as_ref().map_or("", Recorded::as_str),
        ),
        Some(_) => Ok(Content::Hidden("a link on one side: no contents".into())),
        None => Ok(Content::Text(String::new())),
    }
}

type Unified = (Option<String>, Option<String>);

fn unified(
    path: &str,
    (old, o): (&ArchSide, Option<&FileRef>),
    (new, n): (&ArchSide, Option<&FileRef>),
) -> Result<Unified> {
    let (a, b) = match (text_of(old, o)?, text_of(new, n)?) {
        (Content::Text(a), Content::Text(b)) => (a, b),
        (Content::Hidden(why), _) | (_, Content::Hidden(why)) => return Ok((None, Some(why))),
    };
    let (ha, hb) = diff_headers(path, o.is_some(), n.is_some());
    let diff = similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header(&ha, &hb)
        .to_string();
    Ok((Some(diff), None))
}

/// The file names on a unified diff's `---` and `+++` lines: `a/PATH` and `b/PATH`, or
/// `/dev/null` for the side without the file.
pub fn diff_headers(path: &str, old: bool, new: bool) -> (String, String) {
    let rel = path.trim_start_matches('/');
    let head = |present: bool, side: &str| {
        if present {
            format!("{side}/{rel}")
        } else {
            "/dev/null".to_string()
        }
    };
    (head(old, "a"), head(new, "b"))
}
