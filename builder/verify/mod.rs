//! `builder verify DIR`: checks an output folder after transfer or before baking, per arch:
//! SHA256SUMS against the files, the signature over it (with `--key`), manifest.json against
//! overlay.tar.gz and rootfs/ entry by entry, the SBOMs and the provenance against the
//! manifest. One line per check; exit 0 when all hold, 1 naming the first that does not.
//!
//! Submodule `tree` reads the entries of the manifest, the archive and the folder; `diff` is
//! `builder diff`, which compares two outputs where this checks one.

pub mod diff;
#[cfg(test)]
mod tests;
pub(crate) mod tree;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::outputs::layout::{self, ArchDir};
use crate::outputs::manifest::Manifest;
use crate::util::error::Error;
use crate::util::model::Compression;
use crate::util::read::{self, Kind, ReadError};

/// Bumped when a field of the JSON report is removed, renamed or changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// What `builder verify` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// An arch folder (OUT/<profile>/<arch>), a profile folder or an output folder.
    pub dir: PathBuf,
    /// Public keys (minisign or OpenSSH); with any, a signature is required.
    pub keys: Vec<PathBuf>,
    /// Print the report as one JSON document instead of lines.
    pub json: bool,
    /// Text: print only the checks that failed (no line at all when every check holds).
    pub quiet: bool,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    /// True when every check of every arch holds.
    pub ok: bool,
    /// The first check that failed, as `<arch> <check>: <detail>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<String>,
    pub arches: Vec<ArchReport>,
}

#[derive(Debug, Serialize)]
pub struct ArchReport {
    /// The profile folder's name (OUT/PROFILE/ARCH), which is the profile's name.
    pub profile: String,
    pub arch: String,
    pub dir: String,
    pub checks: Vec<Check>,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub status: Status,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Fail,
    /// Not checked (nothing to check, or nothing to check it with); not a failure.
    Skip,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

/// Runs every check, prints the report; returns the exit code (0 all hold, 1 one failed).
pub fn run(opts: &Options) -> Result<u8> {
    let report = check(&opts.dir, &opts.keys)?;
    if opts.json {
        crate::util::stdout::print_json(&report)?;
    } else {
        let colour = crate::util::stdout::colour_on(&std::io::stdout());
        crate::util::stdout::print_text(&text(&report, opts.quiet, colour))?;
    }
    match &report.first_failure {
        None => Ok(0),
        Some(first) => {
            eprintln!("error: verification failed; first mismatch: {first}");
            Ok(1)
        }
    }
}

/// Runs every check of every arch folder under `dir` (with a signature required when `keys`
/// are given) and returns the report, printing nothing.
pub fn check(dir: &Path, keys: &[PathBuf]) -> Result<Report> {
    let keys = keys
        .iter()
        .map(|p| crate::outputs::sign::PublicKey::load(p))
        .collect::<Result<Vec<_>>>()?;
    let dirs = arch_dirs(dir)?;
    let arches: Vec<ArchReport> = dirs.iter().map(|d| verify_arch(d, &keys)).collect();
    let labels = Labels::of(&arches);
    let first_failure = arches.iter().find_map(|a| {
        a.checks
            .iter()
            .find(|c| c.status == Status::Fail)
            .map(|c| format!("{} {}: {}", labels.label(a), c.check, c.detail))
    });
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        ok: first_failure.is_none(),
        first_failure,
        arches,
    })
}

/// How a report names an arch folder: `amd64` when one profile is verified, `PROFILE/amd64`
/// when several are (an output folder with more than one profile).
struct Labels {
    with_profile: bool,
}

impl Labels {
    fn of(arches: &[ArchReport]) -> Labels {
        let first = arches.first().map(|a| &a.profile);
        Labels {
            with_profile: arches.iter().any(|a| Some(&a.profile) != first),
        }
    }

    fn label(&self, a: &ArchReport) -> String {
        if self.with_profile {
            format!("{}/{}", a.profile, a.arch)
        } else {
            a.arch.clone()
        }
    }
}

/// One line per check (quiet: per failed check), then a summary line (not when quiet); the
/// status words coloured when `colour` (green ok, red FAIL, yellow skip).
pub fn text(report: &Report, quiet: bool, colour: bool) -> String {
    let labels = Labels::of(&report.arches);
    let mut out = String::new();
    for a in &report.arches {
        for c in a
            .checks
            .iter()
            .filter(|c| !quiet || c.status == Status::Fail)
        {
            let word = format!("{:<4}", c.status.as_str());
            let code = match c.status {
                Status::Ok => 32,
                Status::Fail => 31,
                Status::Skip => 33,
            };
            out.push_str(&format!(
                "{}  {}  {}: {}\n",
                crate::util::stdout::paint(&word, code, colour),
                labels.label(a),
                c.check,
                c.detail
            ));
        }
    }
    if report.ok && !quiet {
        let dirs: Vec<&str> = report.arches.iter().map(|a| a.dir.as_str()).collect();
        out.push_str(&format!(
            "verified: every check holds for {}\n",
            dirs.join(", ")
        ));
    }
    out
}

/// The arch folders under `dir`: itself when it holds an output, else its sub-folders that
/// do (a profile folder), else theirs (an output folder), sorted.
pub fn arch_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let is_output = |d: &Path| ArchDir::new(d).holds_output();
    if !dir.is_dir() {
        return Err(Error::Input(format!(
            "{}: no such folder; give an output folder, a profile folder (OUT/<profile>) or an arch folder (OUT/<profile>/<arch>)",
            dir.display()
        ))
        .into());
    }
    if is_output(dir) {
        return Ok(vec![dir.to_path_buf()]);
    }
    for depth in 1..=2 {
        let mut found = Vec::new();
        collect(dir, depth, &mut found)?;
        found.retain(|d| is_output(d));
        if !found.is_empty() {
            found.sort();
            return Ok(found);
        }
    }
    Err(Error::Input(format!(
        "{}: no output here (no manifest.json or SHA256SUMS in it, its sub-folders or theirs); \
         give the --out folder of a render, OUT/<profile> or OUT/<profile>/<arch>",
        dir.display()
    ))
    .into())
}

fn collect(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if hidden || !entry.path().is_dir() {
            continue;
        }
        if depth == 1 {
            out.push(entry.path());
        } else {
            collect(&entry.path(), depth - 1, out)?;
        }
    }
    Ok(())
}

fn verify_arch(dir: &Path, keys: &[crate::outputs::sign::PublicKey]) -> ArchReport {
    let out = ArchDir::new(dir);
    let mut checks = Vec::new();
    let mut push = |check: &'static str, r: Outcome| {
        let (status, detail) = match r {
            Outcome::Ok(d) => (Status::Ok, d),
            Outcome::Fail(d) => (Status::Fail, d),
            Outcome::Skip(d) => (Status::Skip, d),
        };
        checks.push(Check {
            check,
            status,
            detail,
        });
    };
    let sums_bytes = read::read(&out.sums(), Kind::Sums);
    let sums = match &sums_bytes {
        Ok(b) => parse_sums(b),
        Err(e) if e.is_not_found() => Err(format!("cannot read SHA256SUMS: {e}")),
        Err(e) => Err(e.to_string()),
    };
    push("sha256sums", sums_check(&out, &sums));
    push(
        "signature",
        match &sums_bytes {
            Ok(b) => signature_check(&out, b, keys),
            Err(_) => Outcome::Fail("no SHA256SUMS to check a signature of".into()),
        },
    );
    let manifest = read::read(&out.manifest(), Kind::Manifest)
        .map_err(|e| match e.is_not_found() {
            true => format!("cannot read manifest.json: {e}"),
            false => e.to_string(),
        })
        .and_then(|b| {
            serde_json::from_slice::<Manifest>(&b)
                .map_err(|e| format!("manifest.json is not a builder manifest: {e}"))
        });
    let arch = manifest.as_ref().map_or_else(
        |_| {
            dir.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        },
        |m| m.arch.to_string(),
    );
    match &manifest {
        Err(e) => push("manifest", Outcome::Fail(e.clone())),
        Ok(m) => {
            push("overlay", overlay_check(&out, m));
            push("rootfs", rootfs_check(&out, m));
            push("sbom", sbom_check(&out, m));
            push("provenance", provenance_check(&out, m, &sums));
        }
    }
    ArchReport {
        profile: dir
            .parent()
            .and_then(Path::file_name)
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        arch,
        dir: dir.to_string_lossy().into_owned(),
        checks,
    }
}

enum Outcome {
    Ok(String),
    Fail(String),
    Skip(String),
}

impl From<Result<String, String>> for Outcome {
    fn from(r: Result<String, String>) -> Outcome {
        match r {
            Ok(d) => Outcome::Ok(d),
            Err(d) => Outcome::Fail(d),
        }
    }
}

use crate::outputs::manifest::{parse_sums, Sums};

fn sums_check(dir: &ArchDir, sums: &Result<Sums, String>) -> Outcome {
    let sums = match sums {
        Ok(s) => s,
        Err(e) => return Outcome::Fail(e.clone()),
    };
    if !sums.contains_key(layout::MANIFEST) {
        return Outcome::Fail("SHA256SUMS does not list manifest.json".into());
    }
    let overlays = [Compression::Gzip, Compression::Zstd].map(layout::overlay);
    if !overlays.iter().any(|o| sums.contains_key(*o)) {
        return Outcome::Fail(format!(
            "SHA256SUMS lists no overlay ({})",
            overlays.join(" or ")
        ));
    }
    let mut absent = Vec::new();
    for (name, want) in sums {
        let path = dir.file(name);
        if layout::LAUNCH.contains(&name.as_str()) && !path.exists() {
            absent.push(name.as_str());
            continue;
        }
        match crate::util::digest::sha256_file(&path) {
            Err(e) => return Outcome::Fail(format!("{name}: {e:#}")),
            Ok((got, _)) if got != *want => {
                return Outcome::Fail(format!("{name}: sha256 {got}, SHA256SUMS says {want}"))
            }
            Ok(_) => {}
        }
    }
    // A file added beside the outputs is not covered by the sums (or the signature).
    match fs::read_dir(dir.path()) {
        Err(e) => return Outcome::Fail(format!("listing {}: {e}", dir.path().display())),
        Ok(listing) => {
            for entry in listing.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let file = entry.file_type().is_ok_and(|t| !t.is_dir());
                // SHA256SUMS does not list itself, nor the signatures over it.
                let unlisted = layout::is_sums_or_signature(&name);
                if file && !unlisted && !sums.contains_key(&name) {
                    return Outcome::Fail(format!("{name} is not listed in SHA256SUMS"));
                }
            }
        }
    }
    if absent.is_empty() {
        Outcome::Ok(format!("{} files match", sums.len()))
    } else {
        Outcome::Ok(format!(
            "{} files match; {} absent (the node's launch configuration, which a registry artifact does not carry)",
            sums.len() - absent.len(),
            absent.join(", ")
        ))
    }
}

fn signature_check(
    dir: &ArchDir,
    sums: &[u8],
    keys: &[crate::outputs::sign::PublicKey],
) -> Outcome {
    let present: Vec<&str> = [layout::SUMS_MINISIG, layout::SUMS_SSHSIG]
        .into_iter()
        .filter(|n| dir.file(n).is_file())
        .collect();
    if keys.is_empty() {
        return Outcome::Skip(if present.is_empty() {
            "no signature, and no --key to require one".into()
        } else {
            format!(
                "{} present, not checked: give --key PUB",
                present.join(", ")
            )
        });
    }
    let mut verified = Vec::new();
    let mut failures = Vec::new();
    for key in keys {
        let file = key.signature_file();
        let sig = match read::read(&dir.file(file), Kind::Signature) {
            Ok(sig) => sig,
            Err(e) if e.is_not_found() => {
                failures.push(format!("{file} is missing (for {})", key.describe()));
                continue;
            }
            Err(e) => {
                failures.push(e.to_string());
                continue;
            }
        };
        match key.verify(sums, &sig) {
            Ok(()) => verified.push(format!("{file} by {}", key.describe())),
            Err(e) => failures.push(format!(
                "{file} does not verify with {}: {e}",
                key.describe()
            )),
        }
    }
    if verified.is_empty() {
        Outcome::Fail(failures.join("; "))
    } else {
        Outcome::Ok(format!("SHA256SUMS signed: {}", verified.join(", ")))
    }
}

fn overlay_check(dir: &ArchDir, m: &Manifest) -> Outcome {
    let path = dir.file(&m.overlay.file);
    if m.overlay.file.contains('/') || m.overlay.file.is_empty() {
        return Outcome::Fail(format!(
            "overlay.file {:?} is not a file name",
            m.overlay.file
        ));
    }
    match crate::util::digest::sha256_file(&path) {
        Err(e) => return Outcome::Fail(format!("{e:#}")),
        Ok((sha, size)) if sha != m.overlay.sha256 || size != m.overlay.size => {
            return Outcome::Fail(format!(
                "{} has sha256 {sha} ({size} bytes); manifest.json says {} ({} bytes)",
                m.overlay.file, m.overlay.sha256, m.overlay.size
            ))
        }
        Ok(_) => {}
    }
    entries_check(m, tree::from_archive(&path), &m.overlay.file)
}

fn rootfs_check(dir: &ArchDir, m: &Manifest) -> Outcome {
    let root = dir.rootfs();
    if !root.is_dir() {
        return Outcome::Skip("no rootfs/ (only the archive was copied)".into());
    }
    entries_check(m, tree::from_dir(&root), "rootfs/")
}

fn entries_check(m: &Manifest, found: Result<tree::Entries, String>, what: &str) -> Outcome {
    let listed = match tree::from_manifest(&m.files) {
        Ok(l) => l,
        Err(e) => return Outcome::Fail(format!("manifest.json: {e}")),
    };
    let found = match found {
        Ok(f) => f,
        Err(e) => return Outcome::Fail(e),
    };
    match tree::first_difference(&listed, &found, what) {
        Some(d) => Outcome::Fail(d),
        None => Outcome::Ok(format!("{} entries match manifest.json", listed.len())),
    }
}

fn sbom_check(dir: &ArchDir, m: &Manifest) -> Outcome {
    use crate::outputs::layout::{SBOM_CYCLONEDX, SBOM_SPDX};
    let (spdx, cdx) = (
        read::read(&dir.sbom_spdx(), Kind::Document),
        read::read(&dir.sbom_cyclonedx(), Kind::Document),
    );
    let missing = |r: &Result<Vec<u8>, ReadError>| r.as_ref().is_err_and(|e| e.is_not_found());
    if m.documents.is_empty() && missing(&spdx) && missing(&cdx) {
        return Outcome::Skip("no SBOMs (rendered by a builder without them)".into());
    }
    let (spdx, cdx) = match (spdx, cdx) {
        (Ok(spdx), Ok(cdx)) => (spdx, cdx),
        (Err(e), _) | (_, Err(e)) if !e.is_not_found() => return Outcome::Fail(e.to_string()),
        _ => {
            return Outcome::Fail(format!(
                "{SBOM_SPDX} and {SBOM_CYCLONEDX} must both be present"
            ))
        }
    };
    match crate::outputs::sbom::check(m, &spdx, &cdx) {
        Ok(()) => Outcome::Ok(format!(
            "{SBOM_SPDX} and {SBOM_CYCLONEDX} agree with manifest.json ({} artifacts, {} files)",
            m.artifacts.len(),
            m.files.iter().filter(|f| f.link.is_none()).count()
        )),
        Err(e) => Outcome::Fail(e.to_string()),
    }
}

fn provenance_check(dir: &ArchDir, m: &Manifest, sums: &Result<Sums, String>) -> Outcome {
    let file = layout::PROVENANCE;
    let bytes = match read::read(&dir.provenance(), Kind::Document) {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return Outcome::Fail(format!("{file} is missing")),
        Err(e) => return Outcome::Fail(e.to_string()),
    };
    let Ok(sums) = sums else {
        return Outcome::Fail("no readable SHA256SUMS to check the subjects against".into());
    };
    let mut outputs = sums.clone();
    outputs.remove(file);
    let result = crate::outputs::provenance::Statement::parse(&bytes).and_then(|s| {
        match s.check(m, &outputs) {
            Some(d) => Err(format!("{file}: {d}")),
            None => Ok(format!(
                "{} subjects and {} dependencies match",
                outputs.len(),
                m.artifacts.len()
            )),
        }
    });
    result.into()
}
