//! `builder render`: load the profile, resolve every pin, fetch, then per arch build the
//! rootfs (artifacts, overlays, the runtime's generated files), pack it, and write the
//! manifest and sums; finally move everything into place at once.

mod containerd;
mod cri_dockerd;
mod kubelet;
mod overlay;
mod user_data;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::catalog::Catalog;
use crate::cli::RenderArgs;
use crate::error::Error;
use crate::fetch::{fetch_all, FetchOptions, Request};
use crate::install::Rootfs;
use crate::manifest::{self, ArtifactRef, Manifest, OverlayRef, ProfileRef};
use crate::profile::{Arch, Lookup, Profile, Runtime};

/// What one arch's render produced.
#[derive(Debug)]
pub struct ArchOutput {
    pub arch: Arch,
    pub dir: PathBuf,
    pub overlay_sha256: String,
    pub overlay_size: u64,
}

pub fn run(args: &RenderArgs, opts: &FetchOptions) -> Result<Vec<ArchOutput>> {
    let profile = Lookup::default().load(&args.profile)?;
    for w in &profile.warnings {
        eprintln!("warning: {w}");
    }
    let arches = select_arches(&profile, &args.arch)?;
    // Join parameters and the overlay URL are checked before anything is fetched.
    let join = match &args.join_config {
        Some(path) => {
            if crate::cloudinit::JoinParams::from_env().is_ok_and(|j| j.is_some()) && !opts.quiet {
                eprintln!("note: --join-config wins over the BUILDER_JOIN_* variables");
            }
            Some(crate::cloudinit::JoinParams::from_file(path)?)
        }
        None => crate::cloudinit::JoinParams::from_env()?,
    };
    if let Some(t) = &args.overlay_url {
        user_data::check_overlay_url(t, &arches)?;
    }
    let user_data = user_data::UserDataArgs {
        cloud: args.cloud,
        overlay_url: args.overlay_url.as_deref(),
        join: join.as_ref(),
    };
    let catalog = Catalog::builtin()?;
    let resolved = crate::profile::resolved_toml(&profile, &catalog)?;
    let profile_sha = crate::cache::sha256_hex(resolved.body.as_bytes());

    // Every pin is resolved before anything is fetched: a missing pin fails fast.
    let mut requests = Vec::new();
    for arch in &arches {
        for a in &profile.artifacts {
            let pin = a.pin(*arch, &catalog)?;
            requests.push(Request {
                artifact: a.name.clone(),
                version: a.version.clone(),
                arch: arch.to_string(),
                url: a.url_for(*arch),
                sha256: pin.sha256,
            });
        }
    }
    let files = fetch_all(&requests, opts)?;

    let staging = crate::output::Staging::begin(&args.out, &profile.name)?;
    let mut outputs = Vec::new();
    for arch in &arches {
        let dir = staging.arch_dir(*arch)?;
        let out = build_arch(
            &profile,
            *arch,
            &requests,
            &files,
            &dir,
            args.source_date_epoch,
            &profile_sha,
            &user_data,
        )?;
        outputs.push(ArchOutput {
            dir: staging.final_dir(*arch),
            ..out
        });
    }
    staging.commit(&arches)?;
    if !opts.quiet {
        for o in &outputs {
            eprintln!(
                "rendered {} {} -> {} (overlay.tar.gz sha256 {}, {:.1} MB)",
                profile.name,
                o.arch,
                o.dir.display(),
                o.overlay_sha256,
                o.overlay_size as f64 / 1e6
            );
        }
    }
    Ok(outputs)
}

fn select_arches(profile: &Profile, asked: &[Arch]) -> Result<Vec<Arch>> {
    if asked.is_empty() {
        return Ok(profile.arches.clone());
    }
    let mut out = Vec::new();
    for a in asked {
        if !profile.arches.contains(a) {
            return Err(Error::Input(format!(
                "--arch {a}: profile {} is built for {} only; add {a} to its `arch` list (with pins for it) or pick one of those",
                profile.name,
                profile.arches.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(", ")
            ))
            .into());
        }
        if !out.contains(a) {
            out.push(*a);
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn build_arch(
    profile: &Profile,
    arch: Arch,
    requests: &[Request],
    files: &BTreeMap<String, PathBuf>,
    dir: &Path,
    mtime: u64,
    profile_sha: &str,
    ud: &user_data::UserDataArgs,
) -> Result<ArchOutput> {
    let root = dir.join("rootfs");
    std::fs::create_dir(&root).with_context(|| format!("creating {}", root.display()))?;
    let mut rootfs = Rootfs::new(&root);
    // Artifacts install in parallel (each is decompressed on its own core); the manifest's
    // order comes from the sorted entries, not from which finished first.
    let mut artifacts = Vec::new();
    let mut jobs = Vec::new();
    for a in &profile.artifacts {
        let req = requests
            .iter()
            .find(|r| r.artifact == a.name && r.arch == arch.as_str())
            .ok_or_else(|| Error::Internal(format!("no request for {} {arch}", a.name)))?;
        let path = files
            .get(&req.sha256)
            .ok_or_else(|| Error::Internal(format!("{} {arch} was not fetched", a.name)))?;
        jobs.push((a, req, path));
        artifacts.push(ArtifactRef {
            name: a.name.clone(),
            version: a.version.clone(),
            url: req.url.clone(),
            sha256: req.sha256.clone(),
        });
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let Some((a, req, path)) = jobs.get(i) else {
                            break;
                        };
                        out.push((i, crate::archive::install(a, &req.url, path, &rootfs)));
                    }
                    out
                })
            })
            .collect();
        let mut all: Vec<(usize, Result<()>)> = handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![(
                        usize::MAX,
                        Err(Error::Internal("an install thread panicked".into()).into()),
                    )]
                })
            })
            .collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, r)| r).collect()
    });
    // The first failing artifact in profile order is the one reported.
    for r in results {
        r?;
    }
    for o in &profile.overlays {
        overlay::copy(profile, o, &mut rootfs)?;
    }
    match profile.runtime {
        Runtime::Containerd => containerd::render(profile, &mut rootfs)?,
        Runtime::CriDockerd => cri_dockerd::render(profile, &mut rootfs)?,
    }

    let tarball = dir.join("overlay.tar.gz");
    let (overlay_sha256, overlay_size) = crate::pack::write_tar_gz(&root, &tarball, mtime)?;
    let m = Manifest {
        builder_version: crate::VERSION.to_string(),
        profile: ProfileRef {
            name: profile.name.clone(),
            sha256: profile_sha.to_string(),
        },
        kubernetes: profile.kubernetes.to_string(),
        runtime: profile.runtime.as_str().to_string(),
        arch: arch.to_string(),
        source_date_epoch: mtime,
        artifacts,
        overlay: OverlayRef {
            file: "overlay.tar.gz".into(),
            sha256: overlay_sha256.clone(),
            size: overlay_size,
        },
        files: manifest::files_of(&rootfs),
    };
    let json = m.to_json();
    write_output(&dir.join("manifest.json"), json.as_bytes())?;

    let user_data = user_data::write(profile, arch, &rootfs, dir, &overlay_sha256, ud)?;

    let digest = crate::cache::sha256_hex;
    let sums = BTreeMap::from([
        ("overlay.tar.gz".to_string(), overlay_sha256.clone()),
        ("manifest.json".to_string(), digest(json.as_bytes())),
        ("user-data".to_string(), digest(&user_data.bytes)),
        (
            "meta-data".to_string(),
            digest(user_data.meta_data.as_bytes()),
        ),
    ]);
    write_output(
        &dir.join("SHA256SUMS"),
        manifest::sha256sums(&sums).as_bytes(),
    )?;
    Ok(ArchOutput {
        arch,
        dir: dir.to_path_buf(),
        overlay_sha256,
        overlay_size,
    })
}

fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// The install path of a unit installed by an artifact, by file name.
fn installed_unit(rootfs: &Rootfs, unit: &str) -> Option<String> {
    rootfs
        .entries()
        .keys()
        .find(|p| p.ends_with(&format!("/systemd/system/{unit}")) && !p.contains(".wants/"))
        .cloned()
}

/// The runtime's CRI socket (as kubeadm spells it) and the units to enable and start.
pub fn runtime_units(runtime: Runtime) -> (&'static str, &'static [&'static str]) {
    match runtime {
        Runtime::Containerd => (containerd::ENDPOINT, containerd::UNITS),
        Runtime::CriDockerd => (cri_dockerd::ENDPOINT, cri_dockerd::UNITS),
    }
}

/// Fails unless an artifact installed `path` (the runtime's files refer to it).
fn require_file(rootfs: &Rootfs, profile: &Profile, path: &str, what: &str) -> Result<()> {
    if rootfs.get(path).is_some() {
        return Ok(());
    }
    Err(Error::Profile(format!(
        "profile {}: no artifact installs {path} ({what}), which the {} runtime's units and config run; \
         add the [[artifact]] or fix its install rule's `to`",
        profile.name,
        profile.runtime.as_str()
    ))
    .into())
}

/// Enables a unit the way `systemctl enable` would for `WantedBy=TARGET`.
fn enable_unit(rootfs: &mut Rootfs, profile: &Profile, unit: &str, target: &str) -> Result<()> {
    let path = installed_unit(rootfs, unit).ok_or_else(|| {
            Error::Profile(format!(
                "profile {}: no artifact installs the systemd unit {unit}; add it as an [[artifact]] \
                 (pinned by sha256) with `to = \"/usr/local/lib/systemd/system/{unit}\"`",
                profile.name
            ))
        })?
        .to_string();
    rootfs.symlink(
        &format!("/etc/systemd/system/{target}.wants/{unit}"),
        &path,
        "template:systemd-enable",
    )
}
