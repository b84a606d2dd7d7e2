//! `builder render`: load the profile and resolve it into a plan, fetch every artifact, then
//! per arch build the rootfs (artifacts, overlays, the runtime's generated files), pack it,
//! and write the manifest, the user-data and the sums; finally move everything into place.
//!
//! Submodules: `containerd` and `cri_dockerd` (each runtime's files), `kubelet` (the
//! kubelet's files), `systemd` (unit checks and enable links), `overlay` (overlays/ trees),
//! `user_data` (the cloud-init side), `summary` (what was produced: `--output json`).

mod containerd;
mod cri_dockerd;
mod kubelet;
mod overlay;
mod summary;
mod sysext;
mod systemd;
mod user_data;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::archive::ArchiveLimits;
use crate::catalog::Catalog;
use crate::cloudinit::{Cloud, JoinParams};
use crate::error::Error;
use crate::fetch::{fetch_all, FetchOptions, Request};
use crate::install::{Origin, Rootfs};
use crate::manifest::{self, ArtifactRef, Manifest, OverlayRef, ProfileRef};
use crate::model::{Arch, Runtime};
use crate::plan::{Plan, PlannedArtifact};
use crate::profile::{Lookup, Profile};
use crate::progress::{mb, secs};

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
    /// How much one archive may unpack to.
    pub archive_limits: ArchiveLimits,
    /// `--format`: what to produce besides the overlay (`sysext`).
    pub formats: Vec<crate::sysext::Format>,
    /// `--sysext-url` template (`{arch}`); `None` embeds the image in ignition.json.
    pub sysext_url: Option<String>,
}

/// Renders; returns what was produced (the paths under `opts.out`).
pub fn run(opts: &Options, fetch: &FetchOptions) -> Result<Summary> {
    let profile = Lookup::default().load(&opts.profile)?;
    for w in &profile.warnings {
        eprintln!("warning: {w}");
    }
    let arches = select_arches(&profile, &opts.arches)?;
    // Join parameters and the overlay URL are checked before anything is fetched.
    let join = match &opts.join_config {
        Some(path) => {
            // `Ok(None)` only when no BUILDER_JOIN_* is set; an incomplete set is an `Err`.
            if !matches!(JoinParams::from_env(), Ok(None)) && !fetch.quiet {
                eprintln!("note: --join-config wins over the BUILDER_JOIN_* variables");
            }
            Some(JoinParams::from_file(path)?)
        }
        None => JoinParams::from_env()?,
    };
    if let Some(t) = &opts.overlay_url {
        user_data::check_overlay_url(t, &arches)?;
    }
    crate::sysext::check_options(&opts.formats, opts.sysext_url.as_deref(), &arches)?;
    let user_data = user_data::UserDataArgs {
        cloud: opts.cloud,
        overlay_url: opts.overlay_url.as_deref(),
        join: join.as_ref(),
    };
    // Every pin is resolved before anything is fetched: a missing pin fails fast.
    let plan = Plan::resolve(profile, &Catalog::builtin()?)?;
    crate::output::check_out(&opts.out, &plan.profile.name)?;

    let mut requests = Vec::new();
    for arch in &arches {
        for a in &plan.arch(*arch)?.artifacts {
            requests.push(request(&plan, *arch, a));
        }
    }
    // Every host the downloads need, checked at once: one error names all that do not answer.
    crate::hosts::check_requests(&requests, fetch)?;
    let files = fetch_all(&requests, fetch)?;

    let staging = crate::output::Staging::begin(&opts.out, &plan.profile.name)?;
    let mut outputs = Vec::new();
    for arch in &arches {
        let dir = staging.arch_dir(*arch)?;
        let out = build_arch(&plan, *arch, &files, &dir, opts, fetch, &user_data)?;
        outputs.push(out.moved_to(&staging.final_dir(*arch)));
    }
    staging.commit(&arches)?;
    for o in &outputs {
        fetch.progress.line(&format!(
            "rendered {} {} -> {} (overlay.tar.gz sha256 {}, {})",
            plan.profile.name,
            o.arch,
            o.dir,
            o.overlay.sha256,
            mb(o.overlay.size)
        ));
    }
    let profile = &plan.profile;
    Ok(Summary {
        schema_version: summary::SCHEMA_VERSION,
        builder_version: crate::VERSION.to_string(),
        profile: profile_ref(&plan),
        kubernetes: profile.kubernetes.to_string(),
        runtime: profile.runtime.as_str().to_string(),
        warnings: profile.warnings.clone(),
        arches: outputs,
    })
}

fn select_arches(profile: &Profile, asked: &[Arch]) -> Result<Vec<Arch>> {
    if asked.is_empty() {
        return Ok(profile.arches.clone());
    }
    let mut out = Vec::new();
    for a in asked {
        if !profile.arches.contains(a) {
            return Err(Error::Input(format!(
                "--arch {a}: profile {} is built for {} only; add {a} to its `arch` list (with pins for it; for a shipped profile, \
                 in your own profile with `extends = \"{}\"`) or pick one of those",
                profile.name,
                profile.arches.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", "),
                profile.name
            ))
            .into());
        }
        if !out.contains(a) {
            out.push(*a);
        }
    }
    Ok(out)
}

/// Builds one arch in `dir`: rootfs/, overlay.tar.gz (+ .sha256), manifest.json, user-data, meta-data,
/// SHA256SUMS. `files` maps each fetched sha256 to its verified cache entry.
fn build_arch(
    plan: &Plan,
    arch: Arch,
    files: &BTreeMap<String, PathBuf>,
    dir: &Path,
    opts: &Options,
    fetch: &FetchOptions,
    ud: &user_data::UserDataArgs,
) -> Result<ArchOutput> {
    let mtime = opts.source_date_epoch;
    let profile = &plan.profile;
    let planned = &plan.arch(arch)?.artifacts;
    let root = dir.join("rootfs");
    std::fs::create_dir(&root).with_context(|| format!("creating {}", root.display()))?;
    let rootfs = Rootfs::new(&root);
    // Artifacts install in parallel (each decompressed on its own core), each into its own
    // scratch folder, verified in the same pass; the scratch folders are then moved into the
    // rootfs in profile order, so the result does not depend on which finished first.
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
    let task = fetch
        .progress
        .steps(format!("install {arch}"), jobs.len() as u64);
    let scratches = crate::pool::run(&jobs, cores, |(i, a, path)| {
        let scratch = install_verified(
            plan,
            arch,
            a,
            path,
            &scratch_dir.join(i.to_string()),
            opts,
            fetch,
        );
        task.inc(1);
        scratch
    })?;
    let took = task.elapsed();
    drop(task);
    fetch.progress.line(&format!(
        "installed {arch}: {} artifacts in {}",
        jobs.len(),
        secs(took)
    ));
    for scratch in scratches {
        rootfs.absorb(scratch)?;
    }
    std::fs::remove_dir_all(&scratch_dir)
        .with_context(|| format!("removing {}", scratch_dir.display()))?;
    // Each link was checked alone as it was installed; chained, links can still leave the
    // root (a -> ../.., then b -> a/../../etc). Judge every link through all the others.
    if let Some(bad) = rootfs.escaping_link() {
        return Err(Error::UnsafeArchive {
            artifact: bad.origin.to_string(),
            archive: planned
                .iter()
                .find(|a| Origin::Artifact(plan.artifact(a).name.clone()) == bad.origin)
                .map_or_else(String::new, |a| crate::error::redact_urls(&a.url)),
            member: bad.path,
            why: format!(
                "is a link to {:?}, which leaves the rootfs through the links installed with it",
                bad.target
            ),
        }
        .into());
    }
    for o in &profile.overlays {
        overlay::copy(profile, o, &rootfs)?;
    }
    match profile.runtime {
        Runtime::Containerd => containerd::render(plan, &rootfs)?,
        Runtime::CriDockerd => cri_dockerd::render(plan, &rootfs)?,
    }

    let sysext = opts
        .formats
        .contains(&crate::sysext::Format::Sysext)
        .then(|| sysext::image(plan, arch, &rootfs, dir, mtime))
        .transpose()?;

    let tarball = dir.join("overlay.tar.gz");
    let files_in = manifest::files_of(&rootfs);
    let unpacked: u64 = files_in.iter().filter_map(|f| f.size).sum();
    let task = fetch.progress.bytes(
        format!("pack {arch}"),
        crate::pack::tar_size_estimate(files_in.iter().map(|f| f.size.unwrap_or(0))),
    );
    let (overlay_sha256, overlay_size) = crate::pack::write_tar_gz(&root, &tarball, mtime, &task)?;
    let took = task.elapsed();
    drop(task);
    fetch.progress.line(&format!(
        "packed   {arch}: overlay.tar.gz {} from {} in {}",
        mb(overlay_size),
        mb(unpacked),
        secs(took)
    ));
    let m = Manifest {
        builder_version: crate::VERSION.to_string(),
        profile: profile_ref(plan),
        kubernetes: profile.kubernetes.to_string(),
        runtime: profile.runtime.as_str().to_string(),
        arch: arch.to_string(),
        source_date_epoch: mtime,
        artifacts: planned
            .iter()
            .map(|a| ArtifactRef {
                name: plan.artifact(a).name.clone(),
                version: plan.artifact(a).version.clone(),
                url: crate::error::redact_urls(&a.url),
                sha256: a.sha256.clone(),
            })
            .collect(),
        overlay: OverlayRef {
            file: "overlay.tar.gz".into(),
            sha256: overlay_sha256.clone(),
            size: overlay_size,
            sha256_file: manifest::OVERLAY_SHA256_FILE.into(),
        },
        sysext: sysext.as_ref().map(sysext::manifest_ref),
        files: files_in,
    };
    // What an image pipeline uploads with the overlay: a checksum of it alone, so checking it
    // needs none of the other outputs (user-data holds the join token and stays private).
    write_output(
        &dir.join(manifest::OVERLAY_SHA256_FILE),
        manifest::sha256_line("overlay.tar.gz", &overlay_sha256).as_bytes(),
    )?;
    let json = m.to_json()?;
    write_output(&dir.join("manifest.json"), json.as_bytes())?;

    let user_data = user_data::write(plan, arch, &rootfs, dir, &overlay_sha256, ud)?;

    let file = |name: &'static str, bytes: &[u8]| {
        OutputFile::new(
            dir,
            name,
            crate::digest::sha256_hex(bytes),
            bytes.len() as u64,
        )
    };
    let overlay = OutputFile::new(dir, "overlay.tar.gz", overlay_sha256, overlay_size);
    let manifest_file = file("manifest.json", json.as_bytes());
    let user_data_file = file("user-data", &user_data.bytes);
    let meta_data = file("meta-data", user_data.meta_data.as_bytes());
    let overlay_sha256_file = file(
        manifest::OVERLAY_SHA256_FILE,
        manifest::sha256_line("overlay.tar.gz", &overlay.sha256).as_bytes(),
    );
    let mut sums = BTreeMap::from(
        [
            &overlay,
            &overlay_sha256_file,
            &manifest_file,
            &user_data_file,
            &meta_data,
        ]
        .map(|f| (f.path_name().to_string(), f.sha256.clone())),
    );
    if let Some(b) = &sysext {
        sums.extend(sysext::config(
            plan,
            arch,
            b,
            dir,
            ud,
            opts.sysext_url.as_deref(),
        )?);
    }
    // The provenance names every other output by digest; SHA256SUMS then covers it too.
    let statement = crate::provenance::statement(&m, &provenance_flags(opts, ud), &sums);
    let provenance_json = statement.to_json()?;
    write_output(
        &dir.join(crate::provenance::FILE),
        provenance_json.as_bytes(),
    )?;
    let provenance = file(crate::provenance::FILE, provenance_json.as_bytes());
    sums.insert(
        provenance.path_name().to_string(),
        provenance.sha256.clone(),
    );
    let sums = manifest::sha256sums(&sums);
    write_output(&dir.join("SHA256SUMS"), sums.as_bytes())?;
    Ok(ArchOutput {
        arch: arch.to_string(),
        dir: String::new(),
        rootfs: String::new(),
        overlay,
        manifest: manifest_file,
        user_data: user_data_file,
        meta_data,
        sha256sums: file("SHA256SUMS", sums.as_bytes()),
        provenance,
        artifacts: m.artifacts,
    }
    .moved_to(dir))
}

/// The profile's name and digest, as the manifest and the summary give them.
fn profile_ref(plan: &Plan) -> ProfileRef {
    ProfileRef {
        name: plan.profile.name.clone(),
        sha256: plan.profile_sha256.clone(),
    }
}

/// The render flags the provenance records: those that change output besides the profile.
fn provenance_flags(opts: &Options, ud: &user_data::UserDataArgs) -> crate::provenance::Flags {
    crate::provenance::Flags {
        cloud: opts.cloud.to_string(),
        overlay_url: ud.overlay_url.map(crate::error::redact_urls),
        join: ud.join.map(|j| crate::provenance::Join {
            api_server: j.api_server.clone(),
            ca_cert_hashes: j.ca_cert_hashes.clone(),
            discovery_timeout: j.discovery_timeout.as_ref().map(|t| t.as_str().to_string()),
        }),
    }
}

/// The fetch request of a planned artifact.
fn request(plan: &Plan, arch: Arch, a: &PlannedArtifact) -> Request {
    let artifact = plan.artifact(a);
    Request {
        artifact: artifact.name.clone(),
        version: artifact.version.clone(),
        arch: arch.to_string(),
        url: a.url.clone(),
        sha256: a.sha256.clone(),
    }
}

/// Installs one artifact into a fresh scratch rootfs at `dir`, hashing the cache entry as it
/// is read. If the entry changed since it was verified, what was installed is thrown away,
/// the entry is fetched again and installed once more.
fn install_verified(
    plan: &Plan,
    arch: Arch,
    a: &PlannedArtifact,
    cached: &Path,
    dir: &Path,
    opts: &Options,
    fetch: &FetchOptions,
) -> Result<Rootfs> {
    let attempt = |file: &Path| -> Result<Rootfs> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let scratch = Rootfs::new(dir);
        crate::archive::install(
            plan.artifact(a),
            &a.url,
            file,
            &a.sha256,
            &scratch,
            &opts.archive_limits,
        )?;
        Ok(scratch)
    };
    match attempt(cached) {
        Err(e) if matches!(e.downcast_ref(), Some(Error::CorruptCacheEntry { .. })) => {
            std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
            let fresh = crate::fetch::refetch(&request(plan, arch, a), fetch)?;
            attempt(&fresh)
        }
        r => r,
    }
}

fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
