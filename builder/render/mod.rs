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
//! Beside them: `reuse` (the input digest, the up-to-date check and the output cache),
//! `sysext` (the system-extension side), `summary` (the `--output json` document). A
//! runtime's files are `crate::node`'s, the user-data `crate::bootstrap`'s.

mod build;
mod classify;
mod finish;
mod prepare;
mod reuse;
mod summary;
mod sysext;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::bootstrap::cloudinit::Cloud;
use crate::build::archive::ArchiveLimits;
use crate::build::output::Staging;
use crate::fetch::FetchOptions;
use crate::outputs::manifest::ProfileRef;
use crate::profile::plan::Plan;
use crate::util::model::{Arch, Compression};
use crate::util::progress::Progress;

use classify::Class;
use prepare::Prepared;
pub use summary::{ArchOutput, OutputFile, Summary};

/// What to render and where: the command line's `render` options, as plain values.
#[derive(Debug, Clone)]
pub struct Options {
    /// A shipped profile's name or a path to a .toml file.
    pub profile: String,
    /// The arches to render; empty for every arch the profile lists.
    pub arches: Vec<Arch>,
    /// The output folder; each arch goes to OUT/<profile>/<arch>/.
    pub out: PathBuf,
    /// The mtime of every archive entry.
    pub source_date_epoch: u64,
    /// The cloud whose user-data size limit applies.
    pub cloud: Cloud,
    /// Fetch mode's overlay URL template (`{arch}`); `None` for baked mode.
    pub overlay_url: Option<String>,
    /// kubeadm join parameters from a file; without it, from the environment (if set).
    pub join_config: Option<PathBuf>,
    /// The secret key that signs each arch's SHA256SUMS (passphrase: env
    /// `BUILDER_SIGN_PASSPHRASE`); `None` for no signature.
    pub sign_key: Option<PathBuf>,
    /// How much one archive may unpack to.
    pub archive_limits: ArchiveLimits,
    /// How the overlay archive is compressed.
    pub compression: Compression,
    /// Rebuild even when the output is up to date or the output cache has it.
    pub force: bool,
    /// Keep and reuse outputs in the cache (`<cache>/outputs-v1`), up to this many bytes;
    /// `None` turns the output cache off.
    pub output_cache: Option<u64>,
    /// `--format`: what to produce besides the overlay (`sysext`).
    pub formats: Vec<crate::outputs::sysext::Format>,
    /// `--sysext-url` template (`{arch}`); `None` embeds the image in ignition.json.
    pub sysext_url: Option<String>,
}

/// What the stages report through and keep between arches, apart from what to render
/// ([`Options`]) and how to download ([`FetchOptions`]).
struct Context<'a> {
    progress: &'a Progress,
    /// `-q`: no notes on stderr.
    quiet: bool,
    /// `None` with `--no-output-cache`, and for sysext renders (their image is cut from the
    /// rootfs as built, so they always build; the up-to-date check still applies).
    output_cache: Option<reuse::OutputCache>,
}

/// One render's fixed inputs, which every stage after `prepare` reads.
struct Render<'a> {
    opts: &'a Options,
    fetch: &'a FetchOptions,
    cx: Context<'a>,
    job: Prepared,
}

/// Renders; returns what was produced (the paths under `opts.out`).
pub fn run(opts: &Options, fetch: &FetchOptions) -> Result<Summary> {
    let cx = Context {
        progress: &fetch.progress,
        quiet: fetch.quiet,
        output_cache: opts
            .output_cache
            .filter(|_| {
                !opts
                    .formats
                    .contains(&crate::outputs::sysext::Format::Sysext)
            })
            .map(|max| reuse::OutputCache::new(&fetch.cache_dir, max)),
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
    let files = r.fetch_missing(&classes)?;
    let stale: Vec<Arch> = classes
        .iter()
        .filter(|(_, c)| !matches!(c, Class::UpToDate(_)))
        .map(|(a, _)| *a)
        .collect();
    let mut outputs = Vec::new();
    let mut rendered = Vec::new();
    for (arch, class) in classes {
        let (out, line) = r.produce(&staging, arch, class, &files)?;
        outputs.push(out);
        rendered.extend(line);
    }
    if !stale.is_empty() {
        staging.commit(&stale)?;
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
        files: &BTreeMap<String, PathBuf>,
    ) -> Result<(ArchOutput, Option<String>)> {
        let digest = &self.job.digests[&arch];
        let final_dir = staging.final_dir(arch);
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
                    "reused   {arch}: {} from the output cache (input sha256 {digest})",
                    hit.manifest.overlay.file
                ));
                build::Core::from(hit)
            }
            Class::Build => self.build_and_keep(arch, &staging.arch_dir(arch)?, files)?,
        };
        let dirs = Dirs {
            staged: staging.arch_dir(arch)?,
            last: final_dir,
        };
        let out = self.finish(arch, core, &dirs)?;
        let line = format!(
            "rendered {} {} -> {} ({} sha256 {}, {})",
            self.job.plan.profile.name,
            arch,
            out.dir,
            out.overlay.path_name(),
            out.overlay.sha256,
            crate::util::progress::mb(out.overlay.size)
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

/// Where an arch's files are written (the staging folder) and where they end up once the
/// render commits (OUT/<profile>/<arch>): the summary names the latter.
struct Dirs {
    staged: PathBuf,
    last: PathBuf,
}

/// The profile's name and digest, as the manifest and the summary give them.
fn profile_ref(plan: &Plan) -> ProfileRef {
    ProfileRef {
        name: plan.profile.name.clone(),
        sha256: plan.profile_sha256.clone(),
    }
}

fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    use anyhow::Context as _;
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
