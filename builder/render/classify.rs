//! Stage 2 of a render, holding OUT's lock: what each arch needs. An arch whose folder in OUT
//! has its input digest and still verifies is up to date; else the output cache may hold its
//! core; else it is built. Only the arches to build need downloads: `fetch_missing` fetches
//! those, every host checked first so one error names all that do not answer.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;

use super::job::Render;
use super::{output_cache, reuse, stamps};
use crate::build::output::Staging;
use crate::fetch::{fetch_all, Request};
use crate::outputs::sysext::{self, Download, Format};
use crate::profile::plan::{Plan, PlannedArtifact};
use crate::util::digest::Sha256;
use crate::util::model::Arch;
use crate::util::secret_url::SecretUrl;

/// What an arch needs.
pub(super) enum Class {
    /// OUT already holds it: nothing is done.
    UpToDate(reuse::Current),
    /// The output cache had its core, now copied into staging.
    FromOutputCache(output_cache::Hit),
    /// Fetch, install, pack.
    Build,
}

impl Render<'_> {
    /// Each arch in render order with what it needs. `--force` makes every arch a build.
    pub(super) fn classify(&self, staging: &Staging) -> Result<Vec<(Arch, Class)>> {
        let signature_file = self.job.signer.as_ref().map(|k| k.signature_file());
        let mut classes = Vec::new();
        for arch in &self.job.arches {
            let digest = &self.job.digests[arch];
            let profile = &self.job.plan.profile.name;
            let stamps = stamps::path(&self.fetch.cache_dir, &self.opts.out, profile, *arch);
            let current = (!self.opts.force)
                .then(|| {
                    reuse::up_to_date(&staging.final_dir(*arch), &stamps, digest, signature_file)
                })
                .flatten();
            classes.push((*arch, current.map_or(Class::Build, Class::UpToDate)));
        }
        let Some(cache) = self.cx.output_cache.as_ref().filter(|_| !self.opts.force) else {
            self.take_from_registry_cache(&mut classes, staging)?;
            return Ok(classes);
        };
        let plan = &self.job.plan;
        for (arch, class) in classes.iter_mut() {
            if matches!(class, Class::Build) {
                let want = output_cache::Wanted {
                    digest: &self.job.digests[arch],
                    profile: &plan.profile.name,
                    profile_sha256: &plan.profile_sha256,
                    arch: *arch,
                };
                match cache.take(&want, &staging.arch_dir(*arch)?)? {
                    output_cache::Taken::Hit(hit) => *class = Class::FromOutputCache(*hit),
                    output_cache::Taken::Miss => {}
                    output_cache::Taken::Dropped(why) => self
                        .cx
                        .progress
                        .warn(&format!("warning: {why}; building it")),
                }
            }
        }
        self.take_from_registry_cache(&mut classes, staging)?;
        Ok(classes)
    }

    /// The arches still to build, from `--output-cache-url`'s registry where it has them
    /// (proven by `oci::cache::take`, then the tree by `output_cache::hit_unpacked`). A
    /// registry that cannot be reached is a warning: the arch is built.
    fn take_from_registry_cache(
        &self,
        classes: &mut [(Arch, Class)],
        staging: &Staging,
    ) -> Result<()> {
        let Some(repo) = self
            .job
            .registry_cache
            .as_ref()
            .filter(|_| !self.opts.force)
        else {
            return Ok(());
        };
        for (arch, class) in classes.iter_mut() {
            if !matches!(class, Class::Build) {
                continue;
            }
            let want = crate::oci::cache::Wanted {
                input: &self.job.digests[arch],
                profile: &self.job.plan.profile.name,
                arch: *arch,
            };
            let dir = staging.arch_dir(*arch)?;
            let taken = match crate::oci::cache::take(repo, &self.opts.registry, &want, &dir) {
                Ok(t) => t,
                Err(e) => {
                    self.cx.progress.warn(&format!(
                        "warning: the registry cache {repo}: {e:#}; building {arch}"
                    ));
                    continue;
                }
            };
            let why = match taken {
                crate::oci::cache::Taken::Miss => continue,
                crate::oci::cache::Taken::Refused(why) => why,
                crate::oci::cache::Taken::Hit(m, json) => {
                    match output_cache::hit_unpacked(&dir, *m, json)? {
                        Ok(hit) => {
                            *class = Class::FromOutputCache(hit);
                            continue;
                        }
                        Err(why) => {
                            format!("the registry cache entry for {arch} was not used: {why}")
                        }
                    }
                }
            };
            self.cx
                .progress
                .warn(&format!("warning: {why}; building it"));
        }
        Ok(())
    }

    /// Pushes an arch just built (its finished folder) to `--output-cache-url`'s registry under
    /// its input digest. Failing to cache is a warning, not a failed render.
    pub(super) fn registry_cache_store(&self, arch: Arch, dir: &std::path::Path) {
        let Some(repo) = &self.job.registry_cache else {
            return;
        };
        let opts = crate::oci::push::Options {
            dir: dir.to_path_buf(),
            reference: repo.with_tag(&crate::oci::cache::tag(&self.job.digests[&arch])),
            registry: self.opts.registry.clone(),
        };
        if let Err(e) = crate::oci::push::push(&opts) {
            self.cx.progress.warn(&format!(
                "warning: {arch} was not stored in the registry cache {repo}: {e:#}"
            ));
        }
    }

    /// Downloads (or finds in the download cache) every artifact of the arches to build;
    /// maps each sha256 to its verified cache entry.
    pub(super) fn fetch_missing(
        &self,
        classes: &[(Arch, Class)],
    ) -> Result<BTreeMap<Sha256, PathBuf>> {
        let plan = &self.job.plan;
        let mut requests = Vec::new();
        for (arch, _) in classes.iter().filter(|(_, c)| matches!(c, Class::Build)) {
            for a in &plan.arch(*arch)?.artifacts {
                requests.push(request(plan, *arch, a));
            }
        }
        if requests.is_empty() {
            // Nothing to fetch: still remove what killed downloads left, if no one is writing.
            crate::fetch::cache::sweep_if_idle(&self.fetch.cache_dir);
            return Ok(BTreeMap::new());
        }
        crate::fetch::hosts::check_requests(&requests, self.fetch)?;
        self.check_embeddable(&requests)?;
        fetch_all(&requests, self.fetch)
    }

    /// `--format sysext` without `--sysext-url`: each arch's image must be able to fit in
    /// ignition.json, judged from its downloads' sizes before any is made.
    fn check_embeddable(&self, requests: &[Request]) -> Result<()> {
        if !self.opts.formats.contains(&Format::Sysext) || self.opts.sysext_url.is_some() {
            return Ok(());
        }
        let sizes = crate::fetch::size::sizes(requests, self.fetch)?;
        for arch in &self.job.arches {
            let labels: Vec<(String, Option<u64>)> = requests
                .iter()
                .filter(|r| r.arch == arch.as_str())
                .map(|r| {
                    (
                        format!("{} {}", r.artifact, r.version),
                        sizes.get(&r.sha256).copied().flatten(),
                    )
                })
                .collect();
            let downloads: Vec<Download> = labels
                .iter()
                .map(|(what, size)| Download { what, size: *size })
                .collect();
            sysext::check_embeddable(
                &self.job.plan.profile.name,
                *arch,
                self.opts.cloud,
                &downloads,
            )?;
        }
        Ok(())
    }
}

/// The fetch request of a planned artifact.
pub(super) fn request(plan: &Plan, arch: Arch, a: &PlannedArtifact) -> Request {
    let artifact = plan.artifact(a);
    Request {
        artifact: artifact.name.clone(),
        version: artifact.version.clone(),
        arch: arch.to_string(),
        url: SecretUrl::new(a.url.clone()),
        sha256: a.sha256,
    }
}
