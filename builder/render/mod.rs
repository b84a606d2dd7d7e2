//! `builder render`, as stages that each hand a typed value to the next:
//!
//! 1. `prepare`: load the profile, check every option, resolve the plan, read the signing
//!    key and compute each arch's input digest, all before anything is fetched ([`Prepared`]);
//! 2. `classify`: holding OUT's lock, judge each arch: up to date, in the output cache, or to
//!    be built ([`classify::Class`]);
//! 3. `build`: fetch what the arches to build need, install it into a rootfs, add the node's
//!    files, pack the overlay, write the manifest and the SBOMs ([`build::Core`]);
//! 4. `finish`: write the user-data, provenance, sums and signature beside the core, then
//!    commit the staged output with one rename and report what was produced ([`Summary`]).
//!
//! `job` holds what the stages share (the options, the context, the prepared inputs). Beside
//! them: `reuse` (the input digest, the up-to-date check and the output cache),
//! `sysext` (the system-extension side), `summary` (the `--output json` document). A
//! runtime's files are `crate::node`'s, the user-data `crate::bootstrap`'s.

mod build;
mod classify;
mod finish;
mod job;
mod output_cache;
mod prepare;
mod reuse;
mod stamps;
mod summary;
mod sysext;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;

use crate::build::output::Staging;
use crate::fetch::FetchOptions;
use crate::util::digest::Sha256;
use crate::util::model::Arch;

use classify::Class;
pub use job::Options;
use job::{profile_ref, Context, Dirs, Render};
pub use summary::{ArchOutput, Outcome, OutputFile, Summary};

/// Renders; returns what was produced (the paths under `opts.out`).
pub fn run(opts: &Options, fetch: &FetchOptions) -> Result<Summary> {
    let cx = Context {
        progress: &fetch.progress,
        quiet: fetch.quiet,
        offline: fetch.offline,
        output_cache: opts
            .output_cache
            .filter(|_| {
                !opts
                    .formats
                    .contains(&crate::outputs::sysext::Format::Sysext)
            })
            .map(|max| output_cache::OutputCache::new(&fetch.cache_dir, max)),
    };
    let job = prepare::prepare(opts, &cx)?;
    let r = Render {
        opts,
        fetch,
        cx,
        job,
    };
    // Holding OUT's lock from here: what is up to date is judged, and replaced, by one render.
    let staging = Staging::begin(&opts.out, &r.job.plan.profile.name)?;
    let classes = r.classify(&staging)?;
    let stale: Vec<Arch> = classes
        .iter()
        .filter(|(_, c)| !matches!(c, Class::UpToDate(_)))
        .map(|(a, _)| *a)
        .collect();
    // The profile's warnings with the render they concern: not again on a run that finds every
    // arch up to date (`show` prints them any time; `--output json` always carries them).
    if !stale.is_empty() {
        for w in &r.job.plan.profile.warnings {
            eprintln!("warning: {w}");
        }
    }
    let files = r.fetch_missing(&classes)?;
    let mut outputs = Vec::new();
    let mut rendered = Vec::new();
    for (arch, class) in classes {
        let (out, line) = r.produce(&staging, arch, class, &files)?;
        outputs.push(out);
        rendered.extend(line);
    }
    if !stale.is_empty() {
        if let Some(warning) = staging.commit(&stale)? {
            r.cx.progress.warn(&format!("warning: {warning}"));
        }
    }
    for line in rendered {
        r.cx.progress.line(&line);
    }
    Ok(r.summary(outputs))
}

impl Render<'_> {
    /// One arch's output: the folder as it is when up to date, else built (or taken from the
    /// output cache) and finished in staging. The line to print once the output is committed.
    fn produce(
        &self,
        staging: &Staging,
        arch: Arch,
        class: Class,
        files: &BTreeMap<Sha256, PathBuf>,
    ) -> Result<(ArchOutput, Option<String>)> {
        let digest = &self.job.digests[&arch];
        let final_dir = staging.final_dir(arch);
        let reused = matches!(class, Class::FromOutputCache(_));
        let core = match class {
            Class::UpToDate(current) => {
                self.cx.progress.line(&format!(
                    "up to date: {} {} in {} (input sha256 {digest}); --force rebuilds",
                    self.job.plan.profile.name,
                    arch,
                    final_dir.display()
                ));
                return Ok((self.existing_output(&final_dir, &current)?, None));
            }
            Class::FromOutputCache(hit) => {
                self.cx.progress.line(&format!(
                    "reused   {arch}: {} from {} (input sha256 {digest})",
                    hit.manifest.overlay.file, hit.origin
                ));
                build::Core::from(hit)
            }
            Class::Build => self.build_and_keep(arch, &staging.arch_dir(arch)?, files)?,
        };
        let dirs = Dirs {
            staged: staging.arch_dir(arch)?,
            last: final_dir,
        };
        let built = !reused;
        let mut out = self.finish(arch, core, &dirs)?;
        if built {
            self.registry_cache_store(arch, &dirs.staged);
        }
        if reused {
            out.outcome = Outcome::Reused;
        }
        // Stamped in staging: the commit renames folders, so each file keeps its inode and
        // ctime. Without stamps the next up-to-date check hashes the rootfs instead.
        let profile = &self.job.plan.profile.name;
        let stamps = stamps::path(&self.fetch.cache_dir, &self.opts.out, profile, arch);
        let rootfs = crate::outputs::layout::ArchDir::new(&dirs.staged).rootfs();
        if let Err(e) = stamps::record(&stamps, &rootfs, digest) {
            tracing::debug!("no stamps for {arch}: {e:#}");
        }
        let line = format!(
            "rendered {} {} -> {} ({} sha256 {}, {})",
            self.job.plan.profile.name,
            arch,
            out.dir,
            out.overlay.path_name(),
            out.overlay.sha256,
            crate::util::progress::size_text(out.overlay.size)
        );
        Ok((out, Some(line)))
    }

    fn summary(&self, arches: Vec<ArchOutput>) -> Summary {
        let profile = &self.job.plan.profile;
        Summary {
            schema_version: summary::SCHEMA_VERSION,
            builder_version: crate::VERSION.to_string(),
            profile: profile_ref(&self.job.plan),
            kubernetes: profile.kubernetes.to_string(),
            runtime: profile.runtime.as_str().to_string(),
            warnings: profile.warnings.clone(),
            arches,
        }
    }
}
