//! A shared output cache in a registry (`render --output-cache-url oci://REGISTRY/REPO`), as
//! BuildKit's registry cache is for images: a render that builds an arch pushes its output as a
//! node artifact tagged with the arch's input digest (`in-sha256-HEX`); another runner that
//! renders the same inputs finds the tag and takes what the local output cache would give it
//! (manifest.json, the overlay and its `.sha256`, the SBOMs) instead of building.
//!
//! The tag only finds the entry; it proves nothing. The node manifest's config must be a
//! manifest carrying this input digest, profile and arch; every blob is checked against its
//! digest as it arrives, and those digests must be the ones that manifest gives (the overlay,
//! the SBOMs) or the line it implies (the `.sha256` file). The caller then unpacks the overlay
//! and proves rootfs/ against the manifest, as for a local entry.

use std::path::Path;

use anyhow::Result;

use super::client::{Access, Registry};
use super::manifest::ImageManifest;
use super::{media, Reference};
use crate::outputs::layout::ArchDir;
use crate::outputs::manifest::Manifest;
use crate::util::digest::Sha256;
use crate::util::error::Error;
use crate::util::model::Arch;

/// The tag an output with this input digest is cached under.
pub fn tag(input: &Sha256) -> String {
    format!("in-sha256-{input}")
}

/// Parses `oci://REGISTRY/REPOSITORY` (no tag, no digest: the tags are builder's).
pub fn parse_url(url: &str) -> Result<Reference, String> {
    let rest = url
        .strip_prefix(super::reference::SCHEME)
        .ok_or_else(|| format!("--output-cache-url {url:?}: not oci://REGISTRY/REPOSITORY"))?;
    let r = Reference::parse(rest, Some("latest"))?;
    if r.digest.is_some()
        || rest
            .rsplit('/')
            .next()
            .is_some_and(|last| last.contains(':'))
    {
        return Err(format!(
            "--output-cache-url {url:?}: name the repository only (oci://REGISTRY/REPOSITORY); builder tags each entry with its input digest"
        ));
    }
    Ok(r)
}

/// What an entry must be the output of.
pub struct Wanted<'a> {
    pub input: &'a Sha256,
    pub profile: &'a str,
    pub arch: Arch,
}

/// The outcome of a lookup.
pub enum Taken {
    /// The entry's files are in the folder; its manifest and the manifest's text.
    Hit(Box<Manifest>, String),
    Miss,
    /// An entry that failed its proof (nothing of it is left in the folder); why, for a warning.
    Refused(String),
}

/// Looks up `want` in `repo` and writes its files into `dir` (an empty arch folder).
pub fn take(
    repo: &Reference,
    opts: &super::RegistryOptions,
    want: &Wanted,
    dir: &Path,
) -> Result<Taken> {
    let reg = Registry::new(&repo.registry, super::auth::lookup(&repo.registry)?, opts)?;
    let name = &repo.repository;
    let Some((_, bytes, digest)) = reg.get_manifest(name, &tag(want.input), Access::Pull)? else {
        return Ok(Taken::Miss);
    };
    match fetch_proven(&reg, name, &bytes, &digest, want, dir) {
        Ok((m, json)) => Ok(Taken::Hit(Box::new(m), json)),
        Err(e) => {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
            Ok(Taken::Refused(format!(
                "the registry cache entry {}:{} was not used: {e:#}",
                repo.registry,
                tag(want.input)
            )))
        }
    }
}

fn fetch_proven(
    reg: &Registry,
    repo: &str,
    bytes: &[u8],
    digest: &Sha256,
    want: &Wanted,
    dir: &Path,
) -> Result<(Manifest, String)> {
    let node = ImageManifest::parse(bytes)?;
    if node.artifact_type.as_deref() != Some(media::ARTIFACT_TYPE)
        || node.config.media_type != media::CONFIG
    {
        return Err(Error::Fetch("not a builder node artifact".into()).into());
    }
    let out = ArchDir::new(dir);
    reg.get_blob(
        repo,
        &node.config.sha256()?,
        node.config.size,
        &out.manifest(),
    )?;
    let json = std::fs::read_to_string(out.manifest())
        .map_err(|e| Error::Fetch(format!("reading the entry's manifest.json: {e}")))?;
    let m: Manifest = serde_json::from_str(&json)
        .map_err(|e| Error::Fetch(format!("its config is not a builder manifest: {e}")))?;
    if m.input_sha256 != *want.input || m.profile.name != want.profile || m.arch != want.arch {
        return Err(Error::Fetch(format!(
            "its manifest is the output of {} {} with input sha256 {}, not this render's",
            m.profile.name, m.arch, m.input_sha256
        ))
        .into());
    }
    // The overlay, with the manifest's digest; its .sha256 file, the line that digest implies.
    let overlay = m.overlay.sha256.sha256().copied().ok_or_else(|| {
        Error::Fetch(format!(
            "its manifest's overlay digest {:?} is not a sha256",
            m.overlay.sha256.as_str()
        ))
    })?;
    let layer = |file: &str| {
        node.layers
            .iter()
            .find(|l| l.title() == Some(file))
            .ok_or_else(|| anyhow::Error::from(Error::Fetch(format!("it has no {file} layer"))))
    };
    let l = layer(&m.overlay.file)?;
    if l.sha256()? != overlay {
        return Err(Error::Fetch(format!(
            "its {} layer is {}, its manifest says sha256:{overlay}",
            m.overlay.file, l.digest
        ))
        .into());
    }
    reg.get_blob(repo, &overlay, l.size, &out.file(&m.overlay.file))?;
    let l = layer(&m.overlay.sha256_file)?;
    reg.get_blob(
        repo,
        &l.sha256()?,
        l.size,
        &out.file(&m.overlay.sha256_file),
    )?;
    let line = std::fs::read_to_string(out.file(&m.overlay.sha256_file)).unwrap_or_default();
    if line != crate::outputs::manifest::sha256_line(&m.overlay.file, &overlay) {
        return Err(Error::Fetch(format!(
            "its {} is not the line for {}",
            m.overlay.sha256_file, m.overlay.file
        ))
        .into());
    }
    fetch_documents(reg, repo, digest, &m, &out)?;
    Ok((m, json))
}

/// The SBOMs (referrers), each with the digest the manifest gives it.
fn fetch_documents(
    reg: &Registry,
    repo: &str,
    digest: &Sha256,
    m: &Manifest,
    out: &ArchDir,
) -> Result<()> {
    let referrers = reg.referrers(repo, digest)?;
    for doc in &m.documents {
        let mut found = false;
        for d in referrers.iter().filter(|d| {
            matches!(
                d.artifact_type.as_deref(),
                Some(media::SPDX | media::CYCLONEDX)
            )
        }) {
            let Some((_, b, _)) = reg.get_manifest(repo, &d.digest, Access::Pull)? else {
                continue;
            };
            let r = ImageManifest::parse(&b)?;
            if r.subject.as_ref().map(|s| s.digest.as_str())
                != Some(format!("sha256:{digest}").as_str())
            {
                continue;
            }
            if let Some(l) = r
                .layers
                .iter()
                .find(|l| l.title() == Some(doc.file.as_str()))
            {
                let got = l.sha256()?;
                if doc.sha256 != got {
                    return Err(Error::Fetch(format!(
                        "its {} is sha256:{got}, its manifest says {}",
                        doc.file, doc.sha256
                    ))
                    .into());
                }
                reg.get_blob(repo, &got, l.size, &out.file(&doc.file))?;
                found = true;
                break;
            }
        }
        if !found {
            return Err(Error::Fetch(format!("it has no {} referrer", doc.file)).into());
        }
    }
    Ok(())
}
