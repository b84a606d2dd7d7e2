//! What `render --overlay-url oci://REGISTRY/REPO@sha256:DIGEST` stands on: the artifact must
//! hold, for the arch rendered, a builder node whose overlay layer is the overlay this render
//! made, or the user-data would pin bytes the registry does not have.

use anyhow::Result;

use super::client::{Access, Registry};
use super::manifest::{ImageManifest, Index};
use super::Reference;
use crate::util::digest::Sha256;
use crate::util::error::Error;
use crate::util::model::Arch;

/// Checks that `artifact` (pinned) holds `overlay` for `arch`.
pub fn check_overlay(
    artifact: &Reference,
    arch: Arch,
    overlay: &Sha256,
    opts: &super::RegistryOptions,
) -> Result<()> {
    let reg = Registry::new(
        &artifact.registry,
        super::auth::lookup(&artifact.registry)?,
        opts,
    )?;
    let repo = &artifact.repository;
    let (media_type, bytes, _) = reg
        .get_manifest(repo, &artifact.target(), Access::Pull)?
        .ok_or_else(|| Error::Input(format!("--overlay-url oci://{artifact}: the registry has no such manifest; push the render first (`builder push`) and use the digest it prints")))?;
    let node = if media_type.starts_with(super::media::INDEX) {
        let index = Index::parse(&bytes)?;
        let d = index
            .manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| p.architecture == arch.as_str()))
            .ok_or_else(|| Error::Input(format!("--overlay-url oci://{artifact} has no {arch} node; push a render that includes {arch}")))?;
        let (_, b, _) = reg
            .get_manifest(repo, &d.digest, Access::Pull)?
            .ok_or_else(|| {
                Error::Input(format!(
                    "oci://{artifact} lists {} for {arch}, which the registry does not have",
                    d.digest
                ))
            })?;
        ImageManifest::parse(&b)?
    } else {
        ImageManifest::parse(&bytes)?
    };
    if node.artifact_type.as_deref() != Some(super::media::ARTIFACT_TYPE) {
        return Err(Error::Input(format!("--overlay-url oci://{artifact} is not a builder node artifact; use the digest `builder push` printed")).into());
    }
    let layer = node
        .layers
        .iter()
        .find(|l| {
            l.media_type == super::media::OVERLAY_GZIP || l.media_type == super::media::OVERLAY_ZSTD
        })
        .ok_or_else(|| {
            Error::Input(format!(
                "--overlay-url oci://{artifact} has no overlay layer"
            ))
        })?;
    let pushed = layer.sha256()?;
    let arch_of = node
        .annotations
        .get("io.builder.arch")
        .map(String::as_str)
        .unwrap_or(arch.as_str());
    if pushed != *overlay || arch_of != arch.as_str() {
        return Err(Error::Input(format!(
            "--overlay-url oci://{artifact} holds overlay sha256:{pushed} for {arch_of}, but this render made sha256:{overlay} for {arch}: \
             push this render (`builder push`) and render again with the digest it prints"
        ))
        .into());
    }
    Ok(())
}
