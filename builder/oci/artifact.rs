//! One arch folder as an OCI artifact: which files travel, under which media types, in which
//! manifest. The layout (docs/src/registry.md has it as a table):
//!
//! - the **node manifest** (artifactType [`super::media::ARTIFACT_TYPE`]): config = manifest.json
//!   ([`super::media::CONFIG`]); layers = the overlay, its `.sha256` file, the system extension image
//!   when there is one, and SHA256SUMS; annotations = profile, arch, Kubernetes minor, runtime,
//!   builder version and `org.opencontainers.image.created` (the render's SOURCE_DATE_EPOCH);
//! - **referrers** (their `subject` is the node manifest; config the empty `{}`): one per SBOM,
//!   one for the provenance, one for the signatures over SHA256SUMS when there are any.
//!
//! Every layer carries `org.opencontainers.image.title`, its file name, so `oras pull` writes
//! the same files. user-data, meta-data, ignition.json and butane.yaml do not travel: they are
//! the node's launch configuration (and may hold a join token); verify allows their absence.
//! Digests are SHA256SUMS's, checked by `builder verify` before anything is pushed.

use std::path::PathBuf;

use anyhow::Result;

use super::manifest::{Annotations, Descriptor, ImageManifest};
use crate::outputs::layout::{self, ArchDir};
use crate::outputs::manifest::{Manifest, Sums};
use crate::util::digest::Sha256;
use crate::util::error::Error;
use crate::util::model::Compression;

/// One file that travels as a layer.
#[derive(Debug, Clone)]
pub struct Layer {
    pub name: String,
    pub path: PathBuf,
    pub sha256: Sha256,
    pub size: u64,
    pub media_type: &'static str,
}

impl Layer {
    pub fn descriptor(&self) -> Descriptor {
        let mut d = Descriptor::new(self.media_type, &self.sha256, self.size);
        d.annotations
            .insert(super::media::TITLE.into(), self.name.clone());
        d
    }
}

/// A document attached to the node manifest.
#[derive(Debug, Clone)]
pub struct Referrer {
    pub artifact_type: &'static str,
    pub layers: Vec<Layer>,
}

/// An arch folder ready to push.
#[derive(Debug)]
pub struct ArchArtifact {
    pub manifest: Manifest,
    pub config: Vec<u8>,
    pub layers: Vec<Layer>,
    pub referrers: Vec<Referrer>,
}

/// The media type a file of an arch folder travels under, `None` for files that stay home.
pub fn media_type(name: &str, m: &Manifest) -> Option<&'static str> {
    let t = match name {
        layout::SUMS => super::media::SUMS,
        layout::SUMS_MINISIG => super::media::MINISIG,
        layout::SUMS_SSHSIG => super::media::SSHSIG,
        layout::SBOM_SPDX => super::media::SPDX,
        layout::SBOM_CYCLONEDX => super::media::CYCLONEDX,
        layout::PROVENANCE => super::media::IN_TOTO,
        n if n == m.overlay.file => match n.ends_with(".zst") {
            true => super::media::OVERLAY_ZSTD,
            false => super::media::OVERLAY_GZIP,
        },
        n if n == m.overlay.sha256_file => super::media::OVERLAY_SHA256,
        n if m.sysext.as_ref().is_some_and(|s| s.file == n) => super::media::SYSEXT,
        _ => return None,
    };
    Some(t)
}

/// The files of a node's launch configuration, which stay out of the registry.
pub const STAYS_HOME: [&str; 4] = [
    layout::USER_DATA,
    layout::META_DATA,
    layout::IGNITION,
    layout::BUTANE,
];

impl ArchArtifact {
    /// Reads an arch folder that `builder verify` passed: its manifest and SHA256SUMS.
    pub fn read(dir: &ArchDir) -> Result<ArchArtifact> {
        let config = std::fs::read(dir.manifest())
            .map_err(|e| Error::Input(format!("reading {}: {e}", dir.manifest().display())))?;
        let manifest: Manifest = serde_json::from_slice(&config).map_err(|e| {
            Error::Input(format!(
                "{} is not a builder manifest: {e}",
                dir.manifest().display()
            ))
        })?;
        let sums_bytes = std::fs::read(dir.sums())
            .map_err(|e| Error::Input(format!("reading {}: {e}", dir.sums().display())))?;
        let sums = crate::outputs::manifest::parse_sums(&sums_bytes)
            .map_err(|e| Error::Input(format!("{}: {e}", dir.sums().display())))?;
        let layer = |name: &str| -> Result<Layer> {
            let sha256 = match name {
                layout::SUMS => Sha256::of(&sums_bytes),
                n if layout::is_sums_or_signature(n) => {
                    crate::util::digest::sha256_file(&dir.file(n))?.0
                }
                n => listed(&sums, n)?,
            };
            let path = dir.file(name);
            let size = std::fs::metadata(&path)
                .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?
                .len();
            let media_type = media_type(name, &manifest)
                .ok_or_else(|| Error::Internal(format!("no media type for {name}")))?;
            Ok(Layer {
                name: name.to_string(),
                path,
                sha256,
                size,
                media_type,
            })
        };
        let mut layers = vec![
            layer(&manifest.overlay.file)?,
            layer(&manifest.overlay.sha256_file)?,
        ];
        if let Some(s) = &manifest.sysext {
            layers.push(layer(&s.file)?);
        }
        layers.push(layer(layout::SUMS)?);
        let mut referrers = Vec::new();
        for (name, artifact_type) in [
            (layout::SBOM_SPDX, super::media::SPDX),
            (layout::SBOM_CYCLONEDX, super::media::CYCLONEDX),
            (layout::PROVENANCE, super::media::IN_TOTO),
        ] {
            if sums.contains_key(name) {
                referrers.push(Referrer {
                    artifact_type,
                    layers: vec![layer(name)?],
                });
            }
        }
        let sigs: Vec<Layer> = [layout::SUMS_MINISIG, layout::SUMS_SSHSIG]
            .into_iter()
            .filter(|n| dir.file(n).is_file())
            .map(layer)
            .collect::<Result<_>>()?;
        if !sigs.is_empty() {
            referrers.push(Referrer {
                artifact_type: super::media::SIGNATURE,
                layers: sigs,
            });
        }
        Ok(ArchArtifact {
            manifest,
            config,
            layers,
            referrers,
        })
    }

    /// `org.opencontainers.image.created` and builder's own annotations.
    pub fn annotations(&self) -> Result<Annotations> {
        let m = &self.manifest;
        let mut a = Annotations::new();
        a.insert(
            super::media::CREATED.into(),
            crate::outputs::sbom::timestamp(m.source_date_epoch)?,
        );
        a.insert("io.builder.profile".into(), m.profile.name.clone());
        a.insert("io.builder.arch".into(), m.arch.to_string());
        a.insert("io.builder.kubernetes".into(), m.kubernetes.clone());
        a.insert("io.builder.runtime".into(), m.runtime.to_string());
        a.insert("io.builder.version".into(), m.builder_version.clone());
        a.insert(
            "io.builder.overlay.sha256".into(),
            m.overlay.sha256.to_string(),
        );
        Ok(a)
    }

    /// The node manifest.
    pub fn node_manifest(&self) -> Result<ImageManifest> {
        Ok(ImageManifest {
            schema_version: 2,
            media_type: super::media::MANIFEST.into(),
            artifact_type: Some(super::media::ARTIFACT_TYPE.into()),
            config: {
                // Titled, so `oras pull` writes manifest.json beside the layers.
                let mut c = Descriptor::of(super::media::CONFIG, &self.config);
                c.annotations
                    .insert(super::media::TITLE.into(), layout::MANIFEST.into());
                c
            },
            layers: self.layers.iter().map(Layer::descriptor).collect(),
            subject: None,
            annotations: self.annotations()?,
        })
    }

    /// A referrer's manifest, `subject` the node manifest.
    pub fn referrer_manifest(&self, r: &Referrer, subject: &Descriptor) -> Result<ImageManifest> {
        let mut annotations = Annotations::new();
        annotations.insert(
            super::media::CREATED.into(),
            crate::outputs::sbom::timestamp(self.manifest.source_date_epoch)?,
        );
        Ok(ImageManifest {
            schema_version: 2,
            media_type: super::media::MANIFEST.into(),
            artifact_type: Some(r.artifact_type.into()),
            config: Descriptor::of(super::media::EMPTY, super::media::EMPTY_BYTES),
            layers: r.layers.iter().map(Layer::descriptor).collect(),
            subject: Some(subject.clone()),
            annotations,
        })
    }

    pub fn compression(&self) -> Compression {
        match self.manifest.overlay.file.ends_with(".zst") {
            true => Compression::Zstd,
            false => Compression::Gzip,
        }
    }
}

/// A file's digest as SHA256SUMS lists it.
fn listed(sums: &Sums, name: &str) -> Result<Sha256> {
    sums.get(name)
        .cloned()
        .ok_or_else(|| Error::Input(format!("SHA256SUMS does not list {name}")).into())
}
