//! `builder pin`: fills in the sha256 pins a profile lacks (no profile pin, no catalog entry)
//! after a version bump. Per artifact and arch it fetches upstream's checksum file (`upstream`
//! says where each project publishes it), downloads the artifact through the usual fetch
//! path (mirrors, bounds, retries, the verified cache), requires the two digests to agree, and
//! writes `sha256.ARCH` into the user's profile file with toml_edit (`edit`). Where upstream
//! publishes no checksum file it refuses unless `--trust-download`, and then says so in a
//! comment beside the pin. Nothing is written unless every pin was found; the edited text is
//! loaded and resolved again before it replaces the file.

mod edit;
mod upstream;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

pub use upstream::{Rule, RULES};

use crate::fetch::{fetch_all, fetch_small, fetch_unpinned, FetchOptions, Request};
use crate::profile::catalog::Catalog;
use crate::profile::plan::{pin_of, PinOrigin};
use crate::profile::{Lookup, Profile, Source};
use crate::util::digest::Sha256;
use crate::util::error::Error;
use crate::util::model::Arch;
use crate::util::secret_url::SecretUrl;
use edit::{ArtifactPins, NewPin};

/// The largest checksum file read (runc's lists a dozen assets in about 1 KB).
const MAX_CHECKSUM_FILE: u64 = 1 << 20;

/// What `builder pin` does.
#[derive(Debug, Clone)]
pub struct Options {
    /// The profile: a path, or a name found in ./profiles (built-in ones are refused).
    pub profile: String,
    /// Write the pins into the file; otherwise print the lines it would write.
    pub write: bool,
    /// Pin what the download has where upstream publishes no checksum file (or it is missing).
    pub trust_download: bool,
}

/// One missing pin.
#[derive(Debug, Clone)]
struct Want {
    index: usize,
    arch: Arch,
}

/// A pin found, and how.
#[derive(Debug, Clone)]
struct Found {
    want: Want,
    sha256: Sha256,
    /// The comment written beside it (trusted downloads only).
    comment: Option<String>,
}

/// Runs `builder pin`; the lines it would write (dry run) go to stdout, progress to stderr.
pub fn run(opts: &Options, fetch: &FetchOptions) -> Result<()> {
    let lookup = Lookup::default();
    let src = lookup.find(&opts.profile, None)?;
    let path = editable(&src, &opts.profile)?;
    let profile = lookup.load(&opts.profile)?;
    let catalog = Catalog::builtin()?;
    let wants: Vec<Want> = profile
        .artifacts
        .iter()
        .enumerate()
        .flat_map(|(index, a)| {
            let catalog = &catalog;
            profile
                .arches
                .iter()
                .filter(move |&&arch| pin_of(a, arch, catalog).is_none())
                .map(move |&arch| Want { index, arch })
        })
        .collect();
    if wants.is_empty() {
        eprintln!(
            "{}: every artifact is pinned for every arch ({}); nothing to do",
            src.name,
            profile
                .arches
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(());
    }
    if !opts.trust_download {
        refuse_unpublished(&profile, &wants)?;
    }
    let decided = crate::util::pool::run(&wants, fetch.jobs, |w| {
        decide(&profile, w, opts.trust_download, fetch)
    })?;
    let found = download(&profile, &wants, &decided, fetch)?;
    let edits = group(&profile, &found);
    let new_text = edit::apply(&src.text, &src.name, &edits)?;
    let tmp = check_edit(&lookup, &path, &new_text, &profile, &catalog, &found)?;
    if opts.write {
        let real = replace(&path, tmp, &new_text)?;
        let through = if real == path {
            String::new()
        } else {
            format!(" (through the link, into {})", real.display())
        };
        eprintln!("wrote {} pin(s) into {}{through}", found.len(), src.name);
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "# {}: {} pin(s) to write (a dry run; --write writes them)",
            src.name,
            found.len()
        )?;
        for (line, sign, text) in edit::changed_lines(&src.text, &new_text) {
            writeln!(out, "{sign}{line:>5}: {text}")?;
        }
    }
    Ok(())
}

/// The file `pin` may edit: one the user named, not one built into builder.
fn editable(src: &Arc<Source>, spec: &str) -> Result<PathBuf> {
    if src.id.starts_with("<built-in>/") {
        return Err(Error::Profile(format!(
            "{spec} is a profile built into builder, which builder pin does not edit; extend it in a file of your own \
             and pin that: printf 'schema = 1\\nextends = \"{spec}\"\\nname = \"site-{spec}\"\\n' > site-{spec}.toml \
             (change versions there), then builder pin --profile site-{spec}.toml --write"
        ))
        .into());
    }
    Ok(PathBuf::from(&src.name))
}

/// Without --trust-download, every artifact without a checksum file rule fails up front,
/// before anything is downloaded.
fn refuse_unpublished(profile: &Profile, wants: &[Want]) -> Result<()> {
    let mut names: Vec<&str> = wants
        .iter()
        .map(|w| profile.artifacts[w.index].name.as_str())
        .filter(|n| !matches!(upstream::rule(n), Some(Rule::Beside(_) | Rule::List(_))))
        .collect();
    names.dedup();
    if names.is_empty() {
        return Ok(());
    }
    Err(Error::Input(format!(
        "no upstream checksum file to check {} against: builder knows one only for {} (see docs/src/pin.md, the \
         `builder pin` table), and Docker's static bundles and cri-dockerd publish none. Pin it yourself \
         (sha256.ARCH = \"<hex>\") from a source you trust, or pass --trust-download to pin the digest of \
         what the download has (a comment beside the pin says so)",
        names.join(", "),
        upstream::known()
    ))
    .into())
}

/// How one missing pin is decided: upstream's digest (to check the download against), or
/// the download's own (--trust-download, with the reason for the comment).
enum Decision {
    Checked {
        expected: Sha256,
        sums_url: SecretUrl,
    },
    Trusted(String),
}

/// Upstream's digest for one artifact and arch, from its checksum file; or, with
/// --trust-download where there is none, the reason to trust the download.
fn decide(profile: &Profile, w: &Want, trust: bool, fetch: &FetchOptions) -> Result<Decision> {
    let a = &profile.artifacts[w.index];
    let url = a.url_for(w.arch);
    let label = format!("{} {} ({})", a.name, a.version, w.arch);
    let Some(sums_url) = upstream::rule(&a.name)
        .and_then(|r| r.checksum_url(&url))
        .map(SecretUrl::new)
    else {
        return match trust {
            true => Ok(Decision::Trusted(
                "upstream publishes no checksum file".into(),
            )),
            false => {
                Err(Error::Internal(format!("{label}: no checksum rule, yet not refused")).into())
            }
        };
    };
    let bytes = match fetch_small("the checksum file of", &label, &sums_url, MAX_CHECKSUM_FILE, fetch) {
        Ok(bytes) => bytes,
        Err(e) if is_missing(&e) && trust => {
            return Ok(Decision::Trusted(format!(
                "no checksum file at {sums_url}"
            )))
        }
        Err(e) if is_missing(&e) => {
            return Err(Error::Input(format!(
                "{label}: upstream's checksum file {sums_url} is not there ({}), so the download cannot be checked; \
                 check the version and URL, pin it yourself from a source you trust, or pass --trust-download \
                 to pin what the download has",
                crate::util::error::one_line(&format!("{e:#}"))
            ))
            .into())
        }
        Err(e) => return Err(e),
    };
    let text = String::from_utf8_lossy(&bytes);
    let expected = upstream::digest_for(&text, upstream::file_name(&url)).map_err(|why| {
        Error::Fetch(format!(
            "{label}: cannot read upstream's checksum file {sums_url}: {why}; nothing was pinned"
        ))
    })?;
    Ok(Decision::Checked { expected, sums_url })
}

fn is_missing(e: &anyhow::Error) -> bool {
    matches!(e.downcast_ref::<Error>(), Some(Error::Missing(_)))
}

/// Downloads what was decided: the checked artifacts together through the verified cache
/// (their bytes must have upstream's digest), then the trusted ones, pinned as they are.
fn download(
    profile: &Profile,
    wants: &[Want],
    decided: &[Decision],
    fetch: &FetchOptions,
) -> Result<Vec<Found>> {
    let mut requests = Vec::new();
    for (w, d) in wants.iter().zip(decided) {
        if let Decision::Checked { expected, .. } = d {
            let a = &profile.artifacts[w.index];
            requests.push(Request {
                artifact: a.name.clone(),
                version: a.version.clone(),
                arch: w.arch.as_str().to_string(),
                url: SecretUrl::new(a.url_for(w.arch)),
                sha256: *expected,
            });
        }
    }
    let disagree = |expected: &Sha256, actual: &Sha256| -> anyhow::Error {
        let (w, sums_url) = wants
            .iter()
            .zip(decided)
            .find_map(|(w, d)| match d {
                Decision::Checked {
                    expected: e,
                    sums_url,
                } if e == expected => Some((w, sums_url.to_string())),
                _ => None,
            })
            .unwrap_or((&wants[0], "?".to_string()));
        let a = &profile.artifacts[w.index];
        Error::Fetch(format!(
            "{} {} ({}): the download from {} has sha256 {actual}, but upstream's checksum file {sums_url} says {expected}; \
             nothing was pinned and the profile is unchanged. Check the URL and version (or the --mirror), and \
             try again",
            a.name,
            a.version,
            w.arch,
            SecretUrl::new(a.url_for(w.arch)),
        ))
        .into()
    };
    let paths = fetch_all(&requests, fetch).map_err(|e| match e.downcast_ref::<Error>() {
        Some(Error::ChecksumMismatch {
            expected, actual, ..
        }) => disagree(expected, actual),
        _ => e,
    })?;
    let mut found = Vec::new();
    for (w, d) in wants.iter().zip(decided) {
        let (sha256, comment) = match d {
            Decision::Checked { expected, .. } => {
                // A cache hit was verified when stored; hash it again, as render does.
                let path = paths.get(expected).ok_or_else(|| {
                    Error::Internal(format!("{expected} was fetched but is not in the result"))
                })?;
                let (actual, _) = crate::util::digest::sha256_file(path)?;
                if actual != *expected {
                    return Err(disagree(expected, &actual));
                }
                if !fetch.quiet {
                    let a = &profile.artifacts[w.index];
                    eprintln!(
                        "checked  {} {} ({}) against upstream's checksum file",
                        a.name, a.version, w.arch
                    );
                }
                (*expected, None)
            }
            Decision::Trusted(why) => {
                let a = &profile.artifacts[w.index];
                let label = format!("{} {} ({})", a.name, a.version, w.arch);
                let (sha256, _) =
                    fetch_unpinned(&label, &SecretUrl::new(a.url_for(w.arch)), fetch)?;
                let comment =
                    format!("trusted from the download (builder pin --trust-download): {why}");
                (sha256, Some(comment))
            }
        };
        found.push(Found {
            want: w.clone(),
            sha256,
            comment,
        });
    }
    Ok(found)
}

/// The pins found, per artifact (in profile order), with the pins the file inherits for it.
fn group(profile: &Profile, found: &[Found]) -> Vec<ArtifactPins> {
    let mut by: BTreeMap<usize, ArtifactPins> = BTreeMap::new();
    for f in found {
        let a = &profile.artifacts[f.want.index];
        by.entry(f.want.index)
            .or_insert_with(|| ArtifactPins {
                name: a.name.clone(),
                inherited: a
                    .pins
                    .per_arch
                    .iter()
                    .map(|(k, v)| (k.as_str(), *v))
                    .collect(),
                new: Vec::new(),
            })
            .new
            .push(NewPin {
                arch: f.want.arch.as_str(),
                sha256: f.sha256,
                comment: f.comment.clone(),
            });
    }
    by.into_values().collect()
}

/// Puts `text` in place of the profile at `path` with one rename, keeping its mode. Where
/// `path` is a symlink, the file it points to is replaced (the link stays a link): `checked`,
/// written beside the link, is renamed into place only when both are in one folder; else the
/// text is written again beside the real file. Returns the file written.
fn replace(path: &Path, checked: tempfile::NamedTempFile, text: &str) -> Result<PathBuf> {
    let real =
        std::fs::canonicalize(path).with_context(|| format!("resolving {}", path.display()))?;
    let same_dir = |a: &Path, b: &Path| {
        let parent = |p: &Path| p.parent().and_then(|d| std::fs::canonicalize(d).ok());
        parent(a).is_some() && parent(a) == parent(b)
    };
    let tmp = if same_dir(checked.path(), &real) {
        checked
    } else {
        drop(checked);
        temp_beside(&real, text)?
    };
    tmp.persist(&real).map_err(|e| {
        anyhow::Error::new(e.error).context(format!("replacing {}", real.display()))
    })?;
    Ok(
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink()) {
            real
        } else {
            path.to_path_buf()
        },
    )
}

/// A temp file beside `path` holding `text`, synced, with `path`'s mode.
fn temp_beside(path: &Path, text: &str) -> Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".builder-pin-")
        .suffix(".toml")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|_| tmp.as_file().sync_data())
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(tmp.path(), meta.permissions())
            .with_context(|| format!("setting the mode of {}", tmp.path().display()))?;
    }
    Ok(tmp)
}

/// Writes the edited text beside the profile and loads it back: every pin found must now be
/// the profile's, and every other pin unchanged. Returns the temp file, for the rename.
fn check_edit(
    lookup: &Lookup,
    path: &Path,
    text: &str,
    before: &Profile,
    catalog: &Catalog,
    found: &[Found],
) -> Result<tempfile::NamedTempFile> {
    let tmp = temp_beside(path, text)?;
    let after = lookup.load(&tmp.path().display().to_string()).context(
        "the pinned profile does not load (a bug in builder pin; the profile is unchanged)",
    )?;
    let pins = |p: &Profile| -> Vec<Option<(Sha256, PinOrigin)>> {
        p.artifacts
            .iter()
            .flat_map(|a| p.arches.iter().map(move |&arch| pin_of(a, arch, catalog)))
            .collect()
    };
    let mut want = pins(before);
    for f in found {
        want[f.want.index * before.arches.len()
            + before
                .arches
                .iter()
                .position(|a| *a == f.want.arch)
                .unwrap_or(0)] = Some((f.sha256, PinOrigin::Profile));
    }
    if pins(&after) != want {
        return Err(Error::Internal(format!(
            "the edited {} does not resolve to the pins found; the profile is unchanged",
            path.display()
        ))
        .into());
    }
    Ok(tmp)
}
