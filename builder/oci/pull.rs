//! `builder pull REF OUT`: fetches a pushed artifact back into OUT/PROFILE/ARCH (the node
//! manifest's config and layers, and the referrers builder writes: SBOMs, provenance,
//! signatures), unpacks the overlay into rootfs/, and checks the folder as `builder verify`
//! does, all in a staging folder beside OUT/PROFILE. Only a folder whose every check holds is
//! moved into place; a blob whose bytes are not its digest stops the pull with nothing written.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::artifact;
use super::client::{Access, Registry};
use super::manifest::{Descriptor, ImageManifest, Index};
use super::Reference;
use crate::outputs::layout::{self, ArchDir};
use crate::outputs::manifest::Manifest;
use crate::util::digest::Sha256;
use crate::util::error::Error;
use crate::util::model::Arch;

/// What `pull` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    pub reference: Reference,
    /// The output folder: the artifact lands in OUT/PROFILE/ARCH, as a render's would.
    pub out: PathBuf,
    /// Only these arches of an index (empty: every one).
    pub arches: Vec<Arch>,
    /// Public keys the SHA256SUMS signature must verify with (none: not required).
    pub keys: Vec<PathBuf>,
    pub registry: super::RegistryOptions,
}

/// What was pulled: the digest REF resolved to, the arch folders written, verify's report.
#[derive(Debug)]
pub struct Pulled {
    pub digest: Sha256,
    pub dirs: Vec<PathBuf>,
    pub report: crate::verify::Report,
}

pub fn pull(opts: &Options) -> Result<Pulled> {
    let r = &opts.reference;
    let reg = Registry::new(
        &r.registry,
        super::auth::lookup(&r.registry)?,
        &opts.registry,
    )?;
    let (media_type, bytes, digest) = reg
        .get_manifest(&r.repository, &r.target(), Access::Pull)?
        .ok_or_else(|| Error::Missing(format!("{} has no manifest {r}", r.registry)))?;
    let nodes = node_manifests(&reg, r, &media_type, &bytes, &digest, &opts.arches)?;
    fs::create_dir_all(&opts.out).with_context(|| format!("creating {}", opts.out.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".builder-pull.")
        .tempdir_in(&opts.out)
        .with_context(|| format!("creating a staging folder in {}", opts.out.display()))?;
    let mut staged = Vec::new();
    for (node_digest, node_bytes) in &nodes {
        staged.push(fetch_node(
            &reg,
            &r.repository,
            node_digest,
            node_bytes,
            staging.path(),
        )?);
    }
    let profile = staged[0].0.clone();
    let report = crate::verify::check(&staging.path().join(&profile), &opts.keys)?;
    if let Some(first) = &report.first_failure {
        return Err(Error::Fetch(format!(
            "the artifact {r} does not verify ({first}); nothing was written to {}",
            opts.out.display()
        ))
        .into());
    }
    let mut report = report;
    let mut dirs = Vec::new();
    for (a, (profile, arch)) in report.arches.iter_mut().zip(&staged) {
        a.dir = opts
            .out
            .join(profile)
            .join(arch.as_str())
            .display()
            .to_string();
    }
    for (profile, arch) in &staged {
        let from = staging.path().join(profile).join(arch.as_str());
        let to = opts.out.join(profile).join(arch.as_str());
        replace_dir(&from, &to)?;
        dirs.push(to);
    }
    Ok(Pulled {
        digest,
        dirs,
        report,
    })
}

/// The node manifests REF names: itself, or an index's (those of `arches` when given).
fn node_manifests(
    reg: &Registry,
    r: &Reference,
    media_type: &str,
    bytes: &[u8],
    digest: &Sha256,
    arches: &[Arch],
) -> Result<Vec<(Sha256, Vec<u8>)>> {
    let is_index = media_type.starts_with(super::media::INDEX)
        || serde_json::from_slice::<serde_json::Value>(bytes)
            .is_ok_and(|v| v.get("manifests").is_some());
    if !is_index {
        let node = ImageManifest::parse(bytes)?;
        let arch = node
            .annotations
            .get("io.builder.arch")
            .map(String::as_str)
            .unwrap_or("");
        if !arches.is_empty() && !arches.iter().any(|a| a.as_str() == arch) {
            return Err(Error::Input(format!(
                "{r} is one node, for {arch}, not for the arches asked"
            ))
            .into());
        }
        return Ok(vec![(*digest, bytes.to_vec())]);
    }
    let index = Index::parse(bytes)?;
    let mut out = Vec::new();
    for d in &index.manifests {
        let arch = d
            .platform
            .as_ref()
            .map(|p| p.architecture.as_str())
            .unwrap_or("");
        if !arches.is_empty() && !arches.iter().any(|a| a.as_str() == arch) {
            continue;
        }
        let want = d.sha256()?;
        let (_, b, _) = reg
            .get_manifest(&r.repository, &format!("sha256:{want}"), Access::Pull)?
            .ok_or_else(|| {
                Error::Missing(format!(
                    "{r} lists manifest sha256:{want} ({arch}), which {} does not have",
                    r.registry
                ))
            })?;
        out.push((want, b));
    }
    if out.is_empty() {
        let listed: Vec<String> = index
            .manifests
            .iter()
            .filter_map(|d| d.platform.as_ref().map(|p| p.architecture.clone()))
            .collect();
        return Err(Error::Input(format!(
            "{r} has no node for the arches asked; it has {}",
            listed.join(", ")
        ))
        .into());
    }
    Ok(out)
}

/// One node manifest into STAGING/PROFILE/ARCH; returns (profile, arch).
fn fetch_node(
    reg: &Registry,
    repo: &str,
    digest: &Sha256,
    bytes: &[u8],
    staging: &Path,
) -> Result<(String, Arch)> {
    let node = ImageManifest::parse(bytes)?;
    if node.artifact_type.as_deref() != Some(super::media::ARTIFACT_TYPE)
        || node.config.media_type != super::media::CONFIG
    {
        return Err(Error::Input(format!(
            "manifest sha256:{digest} is not a builder node (artifactType {:?}, config {}); push it with `builder push`",
            node.artifact_type.as_deref().unwrap_or("none"),
            node.config.media_type
        ))
        .into());
    }
    if node.config.size > super::media::MAX_MANIFEST * 4 {
        return Err(Error::Fetch(format!(
            "the config of sha256:{digest} is {} bytes; refused",
            node.config.size
        ))
        .into());
    }
    let config = staging.join(".manifest.json");
    reg.get_blob(repo, &node.config.sha256()?, node.config.size, &config)?;
    let m: Manifest = serde_json::from_slice(
        &fs::read(&config).with_context(|| format!("reading {}", config.display()))?,
    )
    .map_err(|e| {
        Error::Fetch(format!(
            "the config of sha256:{digest} is not a builder manifest: {e}"
        ))
    })?;
    let profile = m.profile.name.clone();
    if !plain_name(&profile) || !plain_name(&m.overlay.file) {
        return Err(Error::Fetch(format!(
            "the artifact names its profile {profile:?} and overlay {:?}: not plain file names; refused",
            m.overlay.file
        ))
        .into());
    }
    let dir = staging.join(&profile).join(m.arch.as_str());
    if dir.exists() {
        return Err(Error::Fetch(format!(
            "the artifact holds two nodes for {profile}/{}",
            m.arch
        ))
        .into());
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let out = ArchDir::new(&dir);
    fs::rename(&config, out.manifest())
        .with_context(|| format!("moving {}", out.manifest().display()))?;
    for l in &node.layers {
        fetch_layer(reg, repo, l, &m, &out)?;
    }
    for d in reg.referrers(repo, digest)? {
        let known = d
            .artifact_type
            .as_deref()
            .is_some_and(|t| super::media::REFERRER_TYPES.contains(&t));
        if !known {
            continue;
        }
        let want = d.sha256()?;
        let Some((_, b, _)) = reg.get_manifest(repo, &format!("sha256:{want}"), Access::Pull)?
        else {
            continue;
        };
        let referrer = ImageManifest::parse(&b)?;
        if referrer.subject.as_ref().map(|s| s.digest.as_str()) != Some(&format!("sha256:{digest}"))
        {
            return Err(Error::Fetch(format!(
                "referrer sha256:{want} of sha256:{digest} names another subject"
            ))
            .into());
        }
        for l in &referrer.layers {
            fetch_layer(reg, repo, l, &m, &out)?;
        }
    }
    crate::build::pack::unpack(&out.file(&m.overlay.file), &out.rootfs())?;
    Ok((profile, m.arch))
}

/// A layer into the arch folder under its title, which must be a file builder pushes under
/// that media type (a title is never a path).
fn fetch_layer(
    reg: &Registry,
    repo: &str,
    l: &Descriptor,
    m: &Manifest,
    out: &ArchDir,
) -> Result<()> {
    let title = l.title().unwrap_or("");
    let expected = artifact::media_type(title, m);
    if !plain_name(title)
        || expected != Some(l.media_type.as_str())
        || layout::LAUNCH.contains(&title)
    {
        return Err(Error::Fetch(format!(
            "layer {} ({}, titled {title:?}) is not a file builder pushes; refused",
            l.digest, l.media_type
        ))
        .into());
    }
    reg.get_blob(repo, &l.sha256()?, l.size, &out.file(title))
}

/// A single path component that is not `.` or `..` and not hidden.
fn plain_name(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('.') && !s.contains(['/', '\\', '\0']) && s.len() <= 255
}

/// Moves `from` to `to`, replacing a folder there (renamed aside first, removed after).
fn replace_dir(from: &Path, to: &Path) -> Result<()> {
    let parent = to.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let old = parent.join(format!(
        ".builder-old.{}",
        to.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let had = to.exists();
    if had {
        let _ = fs::remove_dir_all(&old);
        fs::rename(to, &old).with_context(|| format!("moving {} aside", to.display()))?;
    }
    fs::rename(from, to)
        .with_context(|| format!("moving the pulled folder to {}", to.display()))?;
    if had {
        fs::remove_dir_all(&old).with_context(|| format!("removing {}", old.display()))?;
    }
    Ok(())
}
