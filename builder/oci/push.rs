//! `builder push DIR REF`: verifies the output folder, then uploads each arch as a node
//! manifest with its referrers, and (several arches) an index over them, tagged REF. Blobs the
//! repository holds already are not sent again; every document is deterministic, so the same
//! output pushes to the same digests. Registries without the referrers API get the referrers
//! tag schema's index (`sha256-HEX`), merged with what is there.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::artifact::ArchArtifact;
use super::client::{Access, Body, Registry};
use super::manifest::{Descriptor, Index, Platform};
use super::Reference;
use crate::outputs::layout::ArchDir;
use crate::util::digest::Sha256;
use crate::util::error::Error;
use crate::util::model::Arch;

/// What `push` was asked.
#[derive(Debug, Clone)]
pub struct Options {
    /// An output folder holding one profile (OUT/PROFILE, or one arch folder).
    pub dir: PathBuf,
    pub reference: Reference,
    pub registry: super::RegistryOptions,
}

/// What was pushed.
#[derive(Debug)]
pub struct Pushed {
    /// The tagged document: the node manifest (one arch) or the index.
    pub digest: Sha256,
    pub media_type: &'static str,
    pub reference: Reference,
    pub profile: String,
    pub arches: Vec<PushedArch>,
    /// Blobs uploaded, and blobs the repository held already.
    pub uploaded: usize,
    pub present: usize,
}

#[derive(Debug)]
pub struct PushedArch {
    pub arch: Arch,
    pub manifest: Sha256,
    pub overlay: Sha256,
    pub referrers: Vec<(String, Sha256)>,
}

/// Verifies `dir`, then pushes it.
pub fn push(opts: &Options) -> Result<Pushed> {
    let report = crate::verify::check(&opts.dir, &[])?;
    if let Some(first) = &report.first_failure {
        return Err(Error::Input(format!(
            "{} does not verify ({first}); nothing was pushed. Re-render it, or run `builder verify {}`",
            opts.dir.display(),
            opts.dir.display()
        ))
        .into());
    }
    let dirs = crate::verify::arch_dirs(&opts.dir)?;
    let arts = dirs
        .iter()
        .map(|d| ArchArtifact::read(&ArchDir::new(d)))
        .collect::<Result<Vec<_>>>()?;
    let profile = one_profile(&opts.dir, &arts)?;
    let creds = super::auth::lookup(&opts.reference.registry)?;
    let reg = Registry::new(&opts.reference.registry, creds, &opts.registry)?;
    let repo = &opts.reference.repository;
    let mut counts = (0, 0);
    let mut arches = Vec::new();
    let mut descriptors = Vec::new();
    let mut node_bytes = Vec::new();
    for art in &arts {
        let (desc, pushed, bytes) = push_arch(&reg, repo, art, &mut counts)?;
        descriptors.push(desc);
        arches.push(pushed);
        node_bytes = bytes;
    }
    let (digest, media_type, bytes) = if descriptors.len() == 1 {
        (Sha256::of(&node_bytes), super::media::MANIFEST, node_bytes)
    } else {
        let mut index = Index::new(Some(super::media::ARTIFACT_TYPE), descriptors);
        index.annotations = arts[0].annotations()?;
        index.annotations.retain(|k, _| {
            k == super::media::CREATED || k == "io.builder.profile" || k == "io.builder.version"
        });
        let bytes = index.to_bytes();
        let digest = Sha256::of(&bytes);
        reg.put_manifest(
            repo,
            &format!("sha256:{digest}"),
            super::media::INDEX,
            &bytes,
        )?;
        (digest, super::media::INDEX, bytes)
    };
    if let Some(tag) = &opts.reference.tag {
        reg.put_manifest(repo, tag, media_type, &bytes)?;
    }
    if let Some(want) = &opts.reference.digest {
        if *want != digest {
            return Err(Error::Input(format!(
                "{} pushed as sha256:{digest}, not the sha256:{want} the reference names",
                opts.dir.display()
            ))
            .into());
        }
    }
    Ok(Pushed {
        digest,
        media_type,
        reference: opts.reference.pinned(&digest),
        profile,
        arches,
        uploaded: counts.0,
        present: counts.1,
    })
}

/// Every arch folder must be of one profile: a reference names one artifact.
fn one_profile(dir: &Path, arts: &[ArchArtifact]) -> Result<String> {
    let mut names: Vec<&str> = arts
        .iter()
        .map(|a| a.manifest.profile.name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    match names.as_slice() {
        [one] => Ok(one.to_string()),
        _ => Err(Error::Input(format!(
            "{} holds the profiles {}; push one profile folder (OUT/PROFILE) per reference",
            dir.display(),
            names.join(", ")
        ))
        .into()),
    }
}

/// One arch: blobs, the node manifest (by digest), its referrers; the index descriptor.
fn push_arch(
    reg: &Registry,
    repo: &str,
    art: &ArchArtifact,
    counts: &mut (usize, usize),
) -> Result<(Descriptor, PushedArch, Vec<u8>)> {
    let mut blob = |digest: &Sha256, body: Body| -> Result<()> {
        match reg.push_blob(repo, digest, &body)? {
            true => counts.0 += 1,
            false => counts.1 += 1,
        }
        Ok(())
    };
    blob(&Sha256::of(&art.config), Body::Bytes(&art.config))?;
    for l in &art.layers {
        blob(&l.sha256, Body::File(&l.path, l.size))?;
    }
    let node = art.node_manifest()?;
    let bytes = node.to_bytes();
    let digest = Sha256::of(&bytes);
    reg.put_manifest(
        repo,
        &format!("sha256:{digest}"),
        super::media::MANIFEST,
        &bytes,
    )?;
    let subject = Descriptor::of(super::media::MANIFEST, &bytes);
    let mut referrers = Vec::new();
    let mut unindexed = Vec::new();
    if !art.referrers.is_empty() {
        blob(
            &Sha256::of(super::media::EMPTY_BYTES),
            Body::Bytes(super::media::EMPTY_BYTES),
        )?;
    }
    for r in &art.referrers {
        for l in &r.layers {
            blob(&l.sha256, Body::File(&l.path, l.size))?;
        }
        let m = art.referrer_manifest(r, &subject)?;
        let b = m.to_bytes();
        let d = Sha256::of(&b);
        let took_subject =
            reg.put_manifest(repo, &format!("sha256:{d}"), super::media::MANIFEST, &b)?;
        if !took_subject {
            let mut desc = Descriptor::of(super::media::MANIFEST, &b);
            desc.artifact_type = Some(r.artifact_type.to_string());
            desc.annotations = m.annotations.clone();
            unindexed.push(desc);
        }
        referrers.push((r.artifact_type.to_string(), d));
    }
    if !unindexed.is_empty() {
        update_fallback(reg, repo, &digest, unindexed)?;
    }
    let mut desc = subject;
    desc.artifact_type = Some(super::media::ARTIFACT_TYPE.into());
    desc.platform = Some(Platform {
        architecture: art.manifest.arch.to_string(),
        os: "linux".into(),
    });
    let overlay = art
        .layers
        .first()
        .map(|l| l.sha256)
        .ok_or_else(|| Error::Internal("an artifact without its overlay".into()))?;
    Ok((
        desc,
        PushedArch {
            arch: art.manifest.arch,
            manifest: digest,
            overlay,
            referrers,
        },
        bytes,
    ))
}

/// The referrers tag schema: the index at `sha256-HEX` lists the subject's referrers; new
/// ones are added to what it lists (another tool's signatures stay).
fn update_fallback(
    reg: &Registry,
    repo: &str,
    subject: &Sha256,
    add: Vec<Descriptor>,
) -> Result<()> {
    let tag = super::media::fallback_tag(subject);
    let mut index = match reg.get_manifest(repo, &tag, Access::Push)? {
        Some((_, bytes, _)) => Index::parse(&bytes)?,
        None => Index::new(None, Vec::new()),
    };
    let before = index.manifests.len();
    for d in add {
        if !index.manifests.iter().any(|m| m.digest == d.digest) {
            index.manifests.push(d);
        }
    }
    if index.manifests.len() != before || before == 0 {
        index.media_type = super::media::INDEX.into();
        reg.put_manifest(repo, &tag, super::media::INDEX, &index.to_bytes())?;
    }
    Ok(())
}
