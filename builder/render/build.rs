//! Stage 3 of a render: an arch's core, built in its staging folder from the fetched
//! artifacts. Artifacts install in parallel into scratch folders and are then absorbed into
//! rootfs/ in profile order; the overlays and the runtime's files follow; the overlay is
//! packed, and the SBOMs, the overlay's .sha256 and manifest.json are written. The core is
//! what the output cache keeps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::classify::request;
use super::job::{profile_ref, write_output, Render};
use super::{output_cache, sysext};
use crate::bootstrap::cloudinit::{user_data, NodeFile};
use crate::build::install::{Origin, Rootfs};
use crate::build::overlay;
use crate::node::{containerd, cri_dockerd};
use crate::outputs::layout;
use crate::outputs::manifest::{self, ArtifactRef, FileRef, Manifest, OverlayRef};
use crate::profile::plan::PlannedArtifact;
use crate::util::digest::Sha256;
use crate::util::error::{redact_urls, Error};
use crate::util::model::{Arch, Runtime};
use crate::util::progress::{secs, size_text};

/// What an arch's output is made of before the user-data: the manifest (as written in
/// manifest.json) and baked mode's node files. The overlay, its .sha256 and the SBOMs are in
/// the folder.
pub(super) struct Core {
    pub m: Manifest,
    pub json: String,
    pub node_files: Vec<NodeFile>,
    /// The system extension image, with `--format sysext`.
    pub sysext: Option<sysext::Built>,
}

impl From<output_cache::Hit> for Core {
    fn from(hit: output_cache::Hit) -> Core {
        Core {
            m: hit.manifest,
            json: hit.json,
            node_files: hit.node_files,
            sysext: None,
        }
    }
}

/// The packed overlay: its digest and size, and the files it holds.
struct Packed {
    sha256: Sha256,
    size: u64,
    files: Vec<FileRef>,
}

impl Render<'_> {
    /// Builds the core in `dir` and offers it to the output cache.
    pub(super) fn build_and_keep(
        &self,
        arch: Arch,
        dir: &Path,
        files: &BTreeMap<Sha256, PathBuf>,
    ) -> Result<Core> {
        let core = self.build(arch, dir, files)?;
        if let Some(cache) = &self.cx.output_cache {
            if let Err(e) = cache.store(&self.job.digests[&arch], dir, &core.m, &core.json) {
                eprintln!("warning: the output cache could not keep this output: {e:#}");
            }
        }
        Ok(core)
    }

    /// Builds what the output cache keeps, in `dir`: rootfs/, the overlay archive (+ .sha256),
    /// the SBOMs, manifest.json (with `input_sha256`). `files` maps each fetched sha256 to its
    /// verified cache entry.
    fn build(&self, arch: Arch, dir: &Path, files: &BTreeMap<Sha256, PathBuf>) -> Result<Core> {
        let root = dir.join(layout::ROOTFS);
        std::fs::create_dir(&root).with_context(|| format!("creating {}", root.display()))?;
        let rootfs = Rootfs::new(&root);
        self.install_artifacts(arch, dir, files, &rootfs)?;
        let profile = &self.job.plan.profile;
        for o in &profile.overlays {
            overlay::copy(profile, o, &rootfs)?;
        }
        match profile.runtime {
            Runtime::Containerd => containerd::render(&self.job.plan, &rootfs)?,
            Runtime::CriDockerd => cri_dockerd::render(&self.job.plan, &rootfs)?,
        }
        let mtime = self.opts.source_date_epoch;
        let sysext = self
            .opts
            .formats
            .contains(&crate::outputs::sysext::Format::Sysext)
            .then(|| sysext::image(&self.job.plan, arch, &rootfs, dir, mtime))
            .transpose()?;
        let packed = self.pack(arch, dir, &rootfs)?;
        let packed_sha256 = packed.sha256;
        let mut m = self.manifest(arch, packed, sysext.as_ref())?;
        write_sboms(&mut m, &rootfs, dir)?;
        // What an image pipeline uploads with the overlay: a checksum of it alone, so checking
        // it needs none of the other outputs (user-data holds the join token and stays private).
        write_output(
            &dir.join(&m.overlay.sha256_file),
            manifest::sha256_line(&m.overlay.file, &packed_sha256).as_bytes(),
        )?;
        let json = m.to_json()?;
        write_output(&dir.join(layout::MANIFEST), json.as_bytes())?;
        Ok(Core {
            m,
            json,
            node_files: user_data::node_files(&rootfs)?,
            sysext,
        })
    }

    /// Installs every artifact of `arch` into `rootfs`: each into its own scratch folder, in
    /// parallel (each decompressed on its own core) and verified in the same pass, then the
    /// scratch folders are absorbed in profile order, so the result does not depend on which
    /// finished first.
    fn install_artifacts(
        &self,
        arch: Arch,
        dir: &Path,
        files: &BTreeMap<Sha256, PathBuf>,
        rootfs: &Rootfs,
    ) -> Result<()> {
        let plan = &self.job.plan;
        let planned = &plan.arch(arch)?.artifacts;
        let scratch_dir = dir.join("scratch");
        let jobs = planned
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let path = files.get(&a.sha256).ok_or_else(|| {
                    Error::Internal(format!("{} {arch} was not fetched", plan.artifact(a).name))
                })?;
                Ok((i, a, path))
            })
            .collect::<Result<Vec<_>>>()?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let progress = self.cx.progress;
        let task = progress.steps(format!("install {arch}"), jobs.len() as u64);
        let scratches = crate::util::pool::run(&jobs, cores, |(i, a, path)| {
            let scratch = self.install_verified(arch, a, path, &scratch_dir.join(i.to_string()));
            task.inc(1);
            scratch
        })?;
        let took = task.elapsed();
        drop(task);
        progress.line(&format!(
            "installed {arch}: {} artifacts in {}",
            jobs.len(),
            secs(took)
        ));
        for scratch in scratches {
            rootfs.absorb(scratch)?;
        }
        std::fs::remove_dir_all(&scratch_dir)
            .with_context(|| format!("removing {}", scratch_dir.display()))?;
        self.check_links(planned, rootfs)
    }

    /// Each link was checked alone as it was installed; chained, links can still leave the
    /// root (a -> ../.., then b -> a/../../etc). Judges every link through all the others.
    fn check_links(&self, planned: &[PlannedArtifact], rootfs: &Rootfs) -> Result<()> {
        let Some(bad) = rootfs.escaping_link() else {
            return Ok(());
        };
        let plan = &self.job.plan;
        Err(Error::UnsafeArchive {
            artifact: bad.origin.to_string(),
            archive: planned
                .iter()
                .find(|a| Origin::Artifact(plan.artifact(a).name.clone()) == bad.origin)
                .map_or_else(String::new, |a| redact_urls(&a.url)),
            member: bad.path,
            why: format!(
                "is a link to {:?}, which leaves the rootfs through the links installed with it",
                bad.target
            ),
        }
        .into())
    }

    /// Installs one artifact into a fresh scratch rootfs at `dir`, hashing the cache entry as
    /// it is read. If the entry changed since it was verified, what was installed is thrown
    /// away, the entry is fetched again and installed once more.
    fn install_verified(
        &self,
        arch: Arch,
        a: &PlannedArtifact,
        cached: &Path,
        dir: &Path,
    ) -> Result<Rootfs> {
        let plan = &self.job.plan;
        let attempt = |file: &Path| -> Result<Rootfs> {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let scratch = Rootfs::new(dir);
            crate::build::archive::install(
                plan.artifact(a),
                &a.url,
                file,
                &a.sha256,
                &scratch,
                &self.opts.archive_limits,
            )?;
            Ok(scratch)
        };
        match attempt(cached) {
            Err(e) if matches!(e.downcast_ref(), Some(Error::CorruptCacheEntry { .. })) => {
                std::fs::remove_dir_all(dir)
                    .with_context(|| format!("removing {}", dir.display()))?;
                let fresh = crate::fetch::refetch(&request(plan, arch, a), self.fetch)?;
                attempt(&fresh)
            }
            r => r,
        }
    }

    /// Packs rootfs/ into the overlay archive in `dir`.
    fn pack(&self, arch: Arch, dir: &Path, rootfs: &Rootfs) -> Result<Packed> {
        let compression = self.opts.compression;
        let overlay_name = layout::overlay(compression);
        let files = manifest::files_of(rootfs);
        let unpacked: u64 = files.iter().filter_map(|f| f.size).sum();
        let progress = self.cx.progress;
        let task = progress.bytes(
            format!("pack {arch}"),
            crate::build::pack::tar_size_estimate(files.iter().map(|f| f.size.unwrap_or(0))),
        );
        let (sha256, size) = crate::build::pack::write_tar(
            &dir.join(layout::ROOTFS),
            &dir.join(overlay_name),
            self.opts.source_date_epoch,
            compression,
            &task,
        )?;
        let took = task.elapsed();
        drop(task);
        progress.line(&format!(
            "packed   {arch}: {overlay_name} {} from {} in {}",
            size_text(size),
            size_text(unpacked),
            secs(took)
        ));
        Ok(Packed {
            sha256,
            size,
            files,
        })
    }

    /// The manifest, without the SBOMs (they are made from it).
    fn manifest(
        &self,
        arch: Arch,
        packed: Packed,
        sysext: Option<&sysext::Built>,
    ) -> Result<Manifest> {
        let plan = &self.job.plan;
        let profile = &plan.profile;
        let compression = self.opts.compression;
        Ok(Manifest {
            builder_version: crate::VERSION.to_string(),
            profile: profile_ref(plan),
            kubernetes: profile.kubernetes.to_string(),
            runtime: profile.runtime,
            arch,
            source_date_epoch: self.opts.source_date_epoch,
            input_sha256: self.job.digests[&arch].into(),
            artifacts: plan
                .arch(arch)?
                .artifacts
                .iter()
                .map(|a| ArtifactRef {
                    name: plan.artifact(a).name.clone(),
                    version: plan.artifact(a).version.clone(),
                    url: redact_urls(&a.url),
                    sha256: a.sha256.into(),
                })
                .collect(),
            overlay: OverlayRef {
                file: layout::overlay(compression).into(),
                sha256: packed.sha256.into(),
                size: packed.size,
                sha256_file: layout::overlay_sums(compression).into(),
            },
            sysext: sysext.map(sysext::manifest_ref),
            files: packed.files,
            documents: Vec::new(),
        })
    }
}

/// The SBOMs, from the manifest's other content, written to `dir` and listed in the manifest
/// (so their digests are in it).
fn write_sboms(m: &mut Manifest, rootfs: &Rootfs, dir: &Path) -> Result<()> {
    let sboms = crate::outputs::sbom::documents(m, &crate::outputs::sbom::sha1s(rootfs, m)?)?;
    for (name, format, bytes) in sboms.files() {
        write_output(&dir.join(name), bytes)?;
        m.documents.push(manifest::DocumentRef {
            file: name.to_string(),
            format: format.to_string(),
            sha256: Sha256::of(bytes).into(),
            size: bytes.len() as u64,
        });
    }
    Ok(())
}
