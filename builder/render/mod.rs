//! `builder render`: load the profile and resolve it into a plan, fetch every artifact, then
//! per arch build the rootfs (artifacts, overlays, the runtime's generated files), pack it,
//! and write the manifest, the user-data and the sums; finally move everything into place.
//!
//! Submodules: `reuse` (the up-to-date check and the output cache), `sysext` (the
//! system-extension side), `summary` (what was produced: `--output json`). A runtime's files
//! are `crate::node`'s, the user-data `crate::bootstrap`'s.

mod reuse;
mod summary;
mod sysext;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use zeroize::Zeroizing;

use crate::bootstrap::cloudinit::user_data;
use crate::bootstrap::cloudinit::{Cloud, JoinParams};
use crate::build::archive::ArchiveLimits;
use crate::build::install::{Origin, Rootfs};
use crate::build::overlay;
use crate::fetch::{fetch_all, FetchOptions, Request};
use crate::node::{containerd, cri_dockerd};
use crate::outputs::layout;
use crate::outputs::manifest::{self, ArtifactRef, Manifest, OverlayRef, ProfileRef};
use crate::outputs::sign::{SigningKey, PASSPHRASE_ENV};
use crate::profile::catalog::Catalog;
use crate::profile::plan::{Plan, PlannedArtifact};
use crate::profile::{Lookup, Profile};
use crate::util::digest::Sha256;
use crate::util::error::Error;
use crate::util::model::{Arch, Compression, Runtime};
use crate::util::progress::{mb, secs};

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
    crate::outputs::sysext::check_options(&opts.formats, opts.sysext_url.as_deref(), &arches)?;
    let user_data = user_data::UserDataArgs {
        cloud: opts.cloud,
        overlay_url: opts.overlay_url.as_deref(),
        join: join.as_ref(),
    };
    // Every pin is resolved before anything is fetched: a missing pin fails fast.
    let plan = Plan::resolve(profile, &Catalog::builtin()?)?;
    crate::build::output::check_out(&opts.out, &plan.profile.name)?;
    // The signing key is read and decrypted before anything is fetched: a wrong passphrase
    // fails in a second, not after the downloads.
    let signer = opts.sign_key.as_deref().map(load_signing_key).transpose()?;

    let overlays = plan
        .profile
        .overlays
        .iter()
        .map(|o| Ok((o.name.clone(), overlay::digest(&plan.profile, o)?)))
        .collect::<Result<Vec<_>>>()?;
    let flags = reuse::Flags {
        source_date_epoch: opts.source_date_epoch,
        cloud: opts.cloud.as_str(),
        overlay_url: opts.overlay_url.as_deref(),
        compression: opts.compression,
        formats: if opts
            .formats
            .contains(&crate::outputs::sysext::Format::Sysext)
        {
            vec!["sysext".into()]
        } else {
            Vec::new()
        },
        sysext_url: opts.sysext_url.as_deref(),
    };
    let mut digests = BTreeMap::new();
    for arch in &arches {
        let (join, signer) = (join.as_ref(), signer.as_ref());
        let d = reuse::input_digest(&plan, *arch, &flags, join, signer, &overlays)?;
        digests.insert(*arch, d);
    }

    // Holding OUT's lock from here: what is up to date is judged, and replaced, by one render.
    let staging = crate::build::output::Staging::begin(&opts.out, &plan.profile.name)?;
    let signature_file = signer.as_ref().map(SigningKey::signature_file);
    let mut current = BTreeMap::new();
    if !opts.force {
        for arch in &arches {
            let dir = staging.final_dir(*arch);
            if let Some(c) = reuse::up_to_date(&dir, &digests[arch], signature_file) {
                current.insert(*arch, c);
            }
        }
    }
    let stale: Vec<Arch> = arches
        .iter()
        .filter(|a| !current.contains_key(a))
        .copied()
        .collect();
    // The output cache keeps overlay outputs only: a sysext image is cut from the rootfs as
    // built, so those renders build (the up-to-date check still applies to them).
    let cache = opts
        .output_cache
        .filter(|_| {
            !opts
                .formats
                .contains(&crate::outputs::sysext::Format::Sysext)
        })
        .map(|max| reuse::OutputCache::new(&fetch.cache_dir, max));
    let mut hits = BTreeMap::new();
    if let (Some(cache), false) = (&cache, opts.force) {
        for arch in &stale {
            if let Some(hit) = cache.take(&digests[arch], &staging.arch_dir(*arch)?)? {
                hits.insert(*arch, hit);
            }
        }
    }

    let mut requests = Vec::new();
    for arch in stale.iter().filter(|a| !hits.contains_key(a)) {
        for a in &plan.arch(*arch)?.artifacts {
            requests.push(request(&plan, *arch, a));
        }
    }
    let files = if requests.is_empty() {
        BTreeMap::new()
    } else {
        // Every host the downloads need, checked at once: one error names all that do not answer.
        crate::fetch::hosts::check_requests(&requests, fetch)?;
        fetch_all(&requests, fetch)?
    };

    let mut outputs = Vec::new();
    let mut rendered = Vec::new();
    for arch in &arches {
        let digest = &digests[arch];
        let final_dir = staging.final_dir(*arch);
        if let Some(c) = current.get(arch) {
            fetch.progress.line(&format!(
                "up to date: {} {} in {} (input sha256 {digest}); --force rebuilds",
                plan.profile.name,
                arch,
                final_dir.display()
            ));
            outputs.push(existing_output(
                &final_dir,
                c,
                opts.compression,
                signature_file,
            )?);
            continue;
        }
        let dir = staging.arch_dir(*arch)?;
        let core = match hits.remove(arch) {
            Some(hit) => {
                fetch.progress.line(&format!(
                    "reused   {arch}: {} from the output cache (input sha256 {digest})",
                    hit.manifest.overlay.file
                ));
                Core {
                    m: hit.manifest,
                    json: hit.json,
                    node_files: hit.node_files,
                    sysext: None,
                }
            }
            None => {
                let core = build_core(&plan, *arch, &files, &dir, opts, fetch, digest)?;
                if let Some(cache) = &cache {
                    let m = &core.m;
                    let mut names = vec![
                        m.overlay.file.as_str(),
                        m.overlay.sha256_file.as_str(),
                        layout::MANIFEST,
                    ];
                    names.extend(m.documents.iter().map(|d| d.file.as_str()));
                    if let Err(e) = cache.store(digest, &dir, &names) {
                        eprintln!("warning: the output cache could not keep this output: {e:#}");
                    }
                }
                core
            }
        };
        let out = finish_arch(
            &plan,
            *arch,
            core,
            &dir,
            opts,
            fetch,
            &user_data,
            signer.as_ref(),
        )?;
        let out = out.moved_to(&final_dir);
        rendered.push(format!(
            "rendered {} {} -> {} ({} sha256 {}, {})",
            plan.profile.name,
            arch,
            out.dir,
            out.overlay.path_name(),
            out.overlay.sha256,
            mb(out.overlay.size)
        ));
        outputs.push(out);
    }
    if !stale.is_empty() {
        staging.commit(&stale)?;
    }
    for line in rendered {
        fetch.progress.line(&line);
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

/// What an arch's output is made of before the user-data: the manifest (as written in
/// manifest.json) and baked mode's node files. The overlay, its .sha256 and the SBOMs are in
/// the folder.
struct Core {
    m: Manifest,
    json: String,
    node_files: Vec<crate::bootstrap::cloudinit::NodeFile>,
    /// The system extension image, with `--format sysext`.
    sysext: Option<sysext::Built>,
}

/// Builds what the output cache keeps, in `dir`: rootfs/, the overlay archive (+ .sha256),
/// the SBOMs, manifest.json (with `input_sha256`). `files` maps each fetched sha256 to its
/// verified cache entry.
fn build_core(
    plan: &Plan,
    arch: Arch,
    files: &BTreeMap<Sha256, PathBuf>,
    dir: &Path,
    opts: &Options,
    fetch: &FetchOptions,
    input_sha256: &Sha256,
) -> Result<Core> {
    let mtime = opts.source_date_epoch;
    let profile = &plan.profile;
    let planned = &plan.arch(arch)?.artifacts;
    let root = dir.join(layout::ROOTFS);
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
    let scratches = crate::util::pool::run(&jobs, cores, |(i, a, path)| {
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
                .map_or_else(String::new, |a| crate::util::error::redact_urls(&a.url)),
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
        .contains(&crate::outputs::sysext::Format::Sysext)
        .then(|| sysext::image(plan, arch, &rootfs, dir, mtime))
        .transpose()?;

    let overlay_name = layout::overlay(opts.compression);
    let overlay_sha256_name = layout::overlay_sums(opts.compression);
    let tarball = dir.join(overlay_name);
    let files_in = manifest::files_of(&rootfs);
    let unpacked: u64 = files_in.iter().filter_map(|f| f.size).sum();
    let task = fetch.progress.bytes(
        format!("pack {arch}"),
        crate::build::pack::tar_size_estimate(files_in.iter().map(|f| f.size.unwrap_or(0))),
    );
    let (overlay_sha256, overlay_size) =
        crate::build::pack::write_tar(&root, &tarball, mtime, opts.compression, &task)?;
    let took = task.elapsed();
    drop(task);
    fetch.progress.line(&format!(
        "packed   {arch}: {overlay_name} {} from {} in {}",
        mb(overlay_size),
        mb(unpacked),
        secs(took)
    ));
    let mut m = Manifest {
        builder_version: crate::VERSION.to_string(),
        profile: profile_ref(plan),
        kubernetes: profile.kubernetes.to_string(),
        runtime: profile.runtime,
        arch,
        source_date_epoch: mtime,
        input_sha256: input_sha256.into(),
        artifacts: planned
            .iter()
            .map(|a| ArtifactRef {
                name: plan.artifact(a).name.clone(),
                version: plan.artifact(a).version.clone(),
                url: crate::util::error::redact_urls(&a.url),
                sha256: a.sha256.into(),
            })
            .collect(),
        overlay: OverlayRef {
            file: overlay_name.into(),
            sha256: overlay_sha256.into(),
            size: overlay_size,
            sha256_file: overlay_sha256_name.into(),
        },
        sysext: sysext.as_ref().map(sysext::manifest_ref),
        files: files_in,
        documents: Vec::new(),
    };
    // The SBOMs, from the manifest's other content: their digests can then be in it.
    let sboms = crate::outputs::sbom::documents(&m, &crate::outputs::sbom::sha1s(&root, &m)?)?;
    let [sbom_spdx, sbom_cyclonedx] = sboms.files().map(|(name, format, bytes)| {
        write_output(&dir.join(name), bytes)?;
        let sha256 = Sha256::of(bytes);
        let (file, format, size) = (name.to_string(), format.to_string(), bytes.len() as u64);
        m.documents.push(manifest::DocumentRef {
            file,
            format,
            sha256: sha256.into(),
            size,
        });
        anyhow::Ok(())
    });
    sbom_spdx?;
    sbom_cyclonedx?;
    // What an image pipeline uploads with the overlay: a checksum of it alone, so checking it
    // needs none of the other outputs (user-data holds the join token and stays private).
    write_output(
        &dir.join(overlay_sha256_name),
        manifest::sha256_line(overlay_name, &overlay_sha256).as_bytes(),
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

/// Writes the rest of an arch's output beside its core: user-data, meta-data, the
/// provenance, SHA256SUMS (and its signature with `signer`).
#[allow(clippy::too_many_arguments)]
fn finish_arch(
    plan: &Plan,
    arch: Arch,
    core: Core,
    dir: &Path,
    opts: &Options,
    fetch: &FetchOptions,
    ud: &user_data::UserDataArgs,
    signer: Option<&SigningKey>,
) -> Result<ArchOutput> {
    let Core {
        m,
        json,
        node_files,
        sysext,
    } = core;
    let overlay_sha256 = reuse::sha256_of(&m.overlay.sha256, &m.overlay.file)?;
    let user_data = user_data::write(plan, arch, node_files, dir, &overlay_sha256, ud)?;

    let file = |name: &'static str, bytes: &[u8]| {
        OutputFile::new(dir, name, Sha256::of(bytes), bytes.len() as u64)
    };
    let overlay_name = layout::overlay(opts.compression);
    let overlay_sha256_name = layout::overlay_sums(opts.compression);
    let overlay = OutputFile::new(dir, overlay_name, overlay_sha256, m.overlay.size);
    let document = |name: &'static str| {
        let d = m.documents.iter().find(|d| d.file == name);
        let (sha256, size) = d.map_or_else(Default::default, |d| (d.sha256.clone(), d.size));
        let sha256 = reuse::sha256_of(&sha256, name)?;
        anyhow::Ok(OutputFile::new(dir, name, sha256, size))
    };
    let sbom_spdx = document(layout::SBOM_SPDX)?;
    let sbom_cyclonedx = document(layout::SBOM_CYCLONEDX)?;
    let manifest_file = file(layout::MANIFEST, json.as_bytes());
    let user_data_file = file(layout::USER_DATA, &user_data.bytes);
    let meta_data = file(layout::META_DATA, user_data.meta_data.as_bytes());
    let overlay_sha256_file = file(
        overlay_sha256_name,
        manifest::sha256_line(overlay_name, &overlay.sha256).as_bytes(),
    );
    let mut sums = BTreeMap::from(
        [
            &overlay,
            &overlay_sha256_file,
            &manifest_file,
            &user_data_file,
            &meta_data,
            &sbom_spdx,
            &sbom_cyclonedx,
        ]
        .map(|f| (f.path_name().to_string(), f.sha256)),
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
    let statement = crate::outputs::provenance::statement(&m, &provenance_flags(opts, ud), &sums);
    let provenance_json = statement.to_json()?;
    write_output(&dir.join(layout::PROVENANCE), provenance_json.as_bytes())?;
    let provenance = file(layout::PROVENANCE, provenance_json.as_bytes());
    sums.insert(provenance.path_name().to_string(), provenance.sha256);
    let sums = manifest::sha256sums(&sums);
    write_output(&dir.join(layout::SUMS), sums.as_bytes())?;
    let signature = signer
        .map(|k| sign_sums(k, plan, arch, dir, sums.as_bytes(), fetch))
        .transpose()?;
    Ok(ArchOutput {
        arch: arch.to_string(),
        dir: String::new(),
        rootfs: String::new(),
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
    }
    .moved_to(dir))
}

/// Reads the `--sign-key` file, decrypted with `BUILDER_SIGN_PASSPHRASE` when that is set
/// and not empty.
fn load_signing_key(path: &Path) -> Result<SigningKey> {
    let passphrase = match std::env::var_os(PASSPHRASE_ENV) {
        Some(v) if !v.is_empty() => Some(Zeroizing::new(v.into_string().map_err(|_| {
            Error::Input(format!(
                "{PASSPHRASE_ENV} is not valid UTF-8; set it to the key's passphrase as text"
            ))
        })?)),
        _ => None,
    };
    SigningKey::load(path, passphrase.as_deref().map(String::as_str))
}

/// Signs SHA256SUMS into its signature file beside it (not listed in SHA256SUMS: it signs
/// it). The minisign trusted comment names builder, the profile and the arch, and no time,
/// so the same key and sums give the same bytes.
fn sign_sums(
    key: &SigningKey,
    plan: &Plan,
    arch: Arch,
    dir: &Path,
    sums: &[u8],
    fetch: &FetchOptions,
) -> Result<OutputFile> {
    let comment = format!(
        "builder {} {} {arch} SHA256SUMS",
        crate::VERSION,
        plan.profile.name
    );
    let (name, sig) = key.sign(sums, &comment)?;
    write_output(&dir.join(name), &sig)?;
    fetch
        .progress
        .line(&format!("signed   {arch}: {name} ({})", key.describe()));
    Ok(OutputFile::new(
        dir,
        name,
        Sha256::of(&sig),
        sig.len() as u64,
    ))
}

/// What an up-to-date arch folder holds, for the summary: each file's digest from SHA256SUMS
/// (which [`reuse::up_to_date`] just checked), its size from the disk.
fn existing_output(
    dir: &Path,
    current: &reuse::Current,
    compression: Compression,
    signature_file: Option<&'static str>,
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
    Ok(ArchOutput {
        arch: m.arch.to_string(),
        dir: String::new(),
        rootfs: String::new(),
        // The compression is an input of the digest: the overlay is the one it names.
        overlay: file(layout::overlay(compression))?,
        manifest: file(layout::MANIFEST)?,
        user_data: file(layout::USER_DATA)?,
        meta_data: file(layout::META_DATA)?,
        sha256sums: file(layout::SUMS)?,
        sbom_spdx: file(layout::SBOM_SPDX)?,
        sbom_cyclonedx: file(layout::SBOM_CYCLONEDX)?,
        provenance: file(layout::PROVENANCE)?,
        signature: signature_file.map(file).transpose()?,
        artifacts: m.artifacts.clone(),
    }
    .moved_to(dir))
}

/// The profile's name and digest, as the manifest and the summary give them.
fn profile_ref(plan: &Plan) -> ProfileRef {
    ProfileRef {
        name: plan.profile.name.clone(),
        sha256: plan.profile_sha256.into(),
    }
}

/// The render flags the provenance records: those that change output besides the profile.
fn provenance_flags(
    opts: &Options,
    ud: &user_data::UserDataArgs,
) -> crate::outputs::provenance::Flags {
    crate::outputs::provenance::Flags {
        cloud: opts.cloud.to_string(),
        overlay_url: ud.overlay_url.map(crate::util::error::redact_urls),
        join: ud.join.map(|j| crate::outputs::provenance::Join {
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
        sha256: a.sha256,
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
        crate::build::archive::install(
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
