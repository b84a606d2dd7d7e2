//! `builder diff OLD NEW`: what changed between two renders, for the reviewer of an upgrade:
//! artifacts whose version, URL or digest changed, files added, removed or changed (mode,
//! size, digest, link target, source), and a unified diff of each generated file. Exit 0 when
//! identical, 3 when not (1 and 2 keep their meaning for every command).
//!
//! Submodules: `input` (resolving the arguments, reading rootfs files safely), `compare` (the
//! comparison and the JSON document), `text` (the text output).

mod compare;
mod input;
mod text;

use std::path::PathBuf;

use anyhow::Result;

use crate::util::error::Error;
use compare::{ArchDiff, Report, Status};
use input::{Shape, Side};

/// The exit code when the two renders differ (like `detect`'s "affected nodes found").
pub const DIFFERENT: u8 = 3;

/// What `builder diff` compares and how it reports.
#[derive(Debug, Clone)]
pub struct Options {
    pub old: PathBuf,
    pub new: PathBuf,
    /// One JSON document instead of text.
    pub json: bool,
}

/// Compares, prints the report on stdout, and returns the exit code (0 same, 3 different).
pub fn run(opts: &Options) -> Result<u8> {
    let report = compare(opts)?;
    if opts.json {
        crate::util::stdout::print_json(&report)?;
    } else {
        crate::util::stdout::print_text(&text::render(&report))?;
    }
    Ok(if report.identical { 0 } else { DIFFERENT })
}

/// The comparison, without printing.
fn compare(opts: &Options) -> Result<Report> {
    let old = Side::load("OLD", &opts.old)?;
    let new = Side::load("NEW", &opts.new)?;
    let mut arches = Vec::new();
    let mut notes = Vec::new();
    match (old.shape, new.shape) {
        (Shape::One, Shape::One) => {
            let (o, n) = (first(&old)?, first(&new)?);
            arches.push(ArchDiff::between(n.manifest.arch.as_str(), o, n)?);
        }
        (Shape::Profile, Shape::Profile) => {
            let names: std::collections::BTreeSet<&String> =
                old.arches.keys().chain(new.arches.keys()).collect();
            for arch in names {
                arches.push(match (old.arches.get(arch), new.arches.get(arch)) {
                    (Some(o), Some(n)) => ArchDiff::between(arch, o, n)?,
                    (Some(_), None) => ArchDiff::one_sided(arch, Status::Removed),
                    _ => ArchDiff::one_sided(arch, Status::Added),
                });
            }
        }
        _ => {
            let (profile, one) = if old.shape == Shape::Profile {
                (&old, &new)
            } else {
                (&new, &old)
            };
            return Err(Error::Input(format!(
                "cannot compare the profile folder {} (arches {}) with the single arch {} ({}): \
                 give two profile folders, or two arch folders such as {}/{}",
                profile.label,
                profile.arch_list(),
                one.label,
                one.arch_list(),
                profile.label,
                one.arches.keys().next().map_or("ARCH", |a| a.as_str()),
            ))
            .into());
        }
    }
    for side in [&old, &new] {
        if side.arches.values().any(|a| a.rootfs.is_none()) {
            notes.push(format!(
                "{} has no rootfs/ beside its manifest.json: generated files are compared by digest only; \
                 content diffs need the output folders",
                side.label
            ));
        }
    }
    Ok(Report {
        schema_version: compare::SCHEMA_VERSION,
        old: old.label.clone(),
        new: new.label.clone(),
        identical: arches.iter().all(|a| a.status == Status::Same),
        notes,
        arches,
    })
}

fn first(side: &Side) -> Result<&input::ArchSide> {
    side.arches
        .values()
        .next()
        .ok_or_else(|| Error::Internal(format!("{} resolved to no manifest", side.label)).into())
}

#[cfg(test)]
mod tests;
