//! Stage 4 of a render: the rest of an arch's output beside its core (user-data, meta-data,
//! the sysext config, the provenance, SHA256SUMS and its signature), and what the summary
//! says of an arch folder, built or up to date.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};

use super::build::Core;
use super::job::{write_output, Dirs, Render};
use super::summary::path_text;
use super::summary::{ArchOutput, Outcome, OutputFile};
use super::{reuse, sysext};
use crate::bootstrap::cloudinit::user_data::{self, UserDataArgs};
use crate::outputs::manifest::{self, Manifest};
use crate::outputs::sign::SigningKey;
use crate::outputs::{layout, provenance};
use crate::util::digest::Sha256;
use crate::util::model::Arch;

impl Render<'_> {
    /// Writes the rest of an arch's output beside its core, in `dirs.staged`.
    pub(super) fn finish(&self, arch: Arch, core: Core, dirs: &Dirs) -> Result<ArchOutput> {
        let Core {
            m,
            json,
            node_files,
            sysext,
        } = core;
        let (plan, dir) = (&self.job.plan, dirs.staged.as_path());
        let ud = self.job.user_data(self.opts);
        let overlay_sha256 = reuse::sha256_of(&m.overlay.sha256, &m.overlay.file)?;
        if let (Some((artifact, _)), false) = (&self.job.overlay_source, self.cx.offline) {
            crate::oci::resolve::check_overlay(
                artifact,
                arch,
                &overlay_sha256,
                &self.opts.registry,
            )?;
        }
        let user_data = user_data::write(plan, arch, node_files, dir, &overlay_sha256, &ud)?;
        let file = |name: &'static str, bytes: &[u8]| {
            OutputFile::new(&dirs.last, name, Sha256::of(bytes), bytes.len() as u64)
        };
        let document = |name: &'static str| {
            let d = m.documents.iter().find(|d| d.file == name);
            let (sha256, size) = d.map_or_else(Default::default, |d| (d.sha256.clone(), d.size));
            let sha256 = reuse::sha256_of(&sha256, name)?;
            anyhow::Ok(OutputFile::new(&dirs.last, name, sha256, size))
        };
        let compression = self.opts.compression;
        let overlay_name = layout::overlay(compression);
        let overlay = OutputFile::new(&dirs.last, overlay_name, overlay_sha256, m.overlay.size);
        let overlay_sha256 = file(
            layout::overlay_sums(compression),
            manifest::sha256_line(overlay_name, &overlay.sha256).as_bytes(),
        );
        let manifest_file = file(layout::MANIFEST, json.as_bytes());
        let user_data_file = file(layout::USER_DATA, &user_data.bytes);
        let meta_data = file(layout::META_DATA, user_data.meta_data.as_bytes());
        let sbom_spdx = document(layout::SBOM_SPDX)?;
        let sbom_cyclonedx = document(layout::SBOM_CYCLONEDX)?;
        let mut sums = BTreeMap::from(
            [
                &overlay,
                &overlay_sha256,
                &manifest_file,
                &user_data_file,
                &meta_data,
                &sbom_spdx,
                &sbom_cyclonedx,
            ]
            .map(|f| (f.path_name().to_string(), f.sha256)),
        );
        if let Some(b) = &sysext {
            let url = self.opts.sysext_url.as_deref();
            sums.extend(sysext::config(plan, arch, b, dir, &ud, url)?);
        }
        let provenance = self.write_provenance(&m, &ud, &mut sums, dirs)?;
        let sums = manifest::sha256sums(&sums);
        write_output(&dir.join(layout::SUMS), sums.as_bytes())?;
        let signature = self
            .job
            .signer
            .as_ref()
            .map(|k| self.sign_sums(k, arch, dirs, sums.as_bytes()))
            .transpose()?;
        Ok(ArchOutput {
            arch: arch.to_string(),
            // produce() says Reused when the core came from the output cache.
            outcome: Outcome::Built,
            dir: path_text(&dirs.last),
            rootfs: path_text(&dirs.last.join(layout::ROOTFS)),
            overlay,
            manifest: manifest_file,
            user_data: user_data_file,
            meta_data,
            sha256sums: file(layout::SUMS, sums.as_bytes()),
            provenance,
            sbom_spdx,
            sbom_cyclonedx,
            signature,
            artifacts: m.artifacts,
        })
    }

    /// The provenance names every other output by digest (`sums`); it joins them, so
    /// SHA256SUMS then covers it too.
    fn write_provenance(
        &self,
        m: &Manifest,
        ud: &UserDataArgs,
        sums: &mut BTreeMap<String, Sha256>,
        dirs: &Dirs,
    ) -> Result<OutputFile> {
        let statement = provenance::statement(m, &provenance_flags(ud), sums);
        let json = statement.to_json()?;
        write_output(&dirs.staged.join(layout::PROVENANCE), json.as_bytes())?;
        let sha256 = Sha256::of(json.as_bytes());
        sums.insert(layout::PROVENANCE.to_string(), sha256);
        Ok(OutputFile::new(
            &dirs.last,
            layout::PROVENANCE,
            sha256,
            json.len() as u64,
        ))
    }

    /// Signs SHA256SUMS into its signature file beside it (not listed in SHA256SUMS: it signs
    /// it). The minisign trusted comment names builder, the profile and the arch, and no
    /// time, so the same key and sums give the same bytes.
    fn sign_sums(
        &self,
        key: &SigningKey,
        arch: Arch,
        dirs: &Dirs,
        sums: &[u8],
    ) -> Result<OutputFile> {
        let comment = format!(
            "builder {} {} {arch} SHA256SUMS",
            crate::VERSION,
            self.job.plan.profile.name
        );
        let (name, sig) = key.sign(sums, &comment)?;
        write_output(&dirs.staged.join(name), &sig)?;
        self.cx
            .progress
            .line(&format!("signed   {arch}: {name} ({})", key.describe()));
        Ok(OutputFile::new(
            &dirs.last,
            name,
            Sha256::of(&sig),
            sig.len() as u64,
        ))
    }

    /// What an up-to-date arch folder holds, for the summary: each file's digest from
    /// SHA256SUMS (which [`reuse::up_to_date`] just checked), its size from the disk.
    pub(super) fn existing_output(
        &self,
        dir: &Path,
        current: &reuse::Current,
    ) -> Result<ArchOutput> {
        let (m, sums) = (&current.manifest, &current.sums);
        let file = |name: &'static str| -> Result<OutputFile> {
            let path = dir.join(name);
            let size = std::fs::metadata(&path)
                .with_context(|| format!("inspecting {}", path.display()))?
                .len();
            let sha256 = match sums.get(name) {
                Some(h) => *h,
                None => crate::util::digest::sha256_file(&path)?.0,
            };
            Ok(OutputFile::new(dir, name, sha256, size))
        };
        let signature_file = self.job.signer.as_ref().map(SigningKey::signature_file);
        Ok(ArchOutput {
            arch: m.arch.to_string(),
            outcome: Outcome::UpToDate,
            dir: path_text(dir),
            rootfs: path_text(&dir.join(layout::ROOTFS)),
            // The compression is an input of the digest: the overlay is the one it names.
            overlay: file(layout::overlay(self.opts.compression))?,
            manifest: file(layout::MANIFEST)?,
            user_data: file(layout::USER_DATA)?,
            meta_data: file(layout::META_DATA)?,
            sha256sums: file(layout::SUMS)?,
            sbom_spdx: file(layout::SBOM_SPDX)?,
            sbom_cyclonedx: file(layout::SBOM_CYCLONEDX)?,
            provenance: file(layout::PROVENANCE)?,
            signature: signature_file.map(file).transpose()?,
            artifacts: m.artifacts.clone(),
        })
    }
}

/// The render flags the provenance records: those that change output besides the profile.
fn provenance_flags(ud: &UserDataArgs) -> provenance::Flags {
    provenance::Flags {
        cloud: ud.cloud.to_string(),
        overlay_url: ud.overlay_url.map(crate::util::error::redact_urls),
        join: ud.join.map(|j| provenance::Join {
            api_server: j.api_server.clone(),
            ca_cert_hashes: j.ca_cert_hashes.clone(),
            discovery_timeout: j.discovery_timeout.as_ref().map(|t| t.as_str().to_string()),
        }),
    }
}
