//! Stage 1 of a render: everything that can fail before a byte is fetched. The profile is
//! loaded and resolved into a plan (a missing pin fails here), the arches, the join
//! parameters, the overlay and sysext URLs and OUT are checked, the signing key is read and
//! decrypted (a wrong passphrase fails in a second, not after the downloads), and each arch's
//! input digest is computed.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use zeroize::Zeroizing;

use super::job::{Context, Options, Prepared};
use super::reuse;
use crate::bootstrap::cloudinit::user_data;
use crate::bootstrap::cloudinit::{JoinParams, RegistrySource};
use crate::build::overlay;
use crate::oci::Reference;
use crate::outputs::sign::{SigningKey, PASSPHRASE_ENV};
use crate::outputs::sysext::Format;
use crate::profile::catalog::Catalog;
use crate::profile::compat;
use crate::profile::plan::Plan;
use crate::profile::Profile;
use crate::util::digest::Sha256;
use crate::util::error::Error;
use crate::util::model::Arch;

pub(super) fn prepare(opts: &Options, cx: &Context) -> Result<Prepared> {
    let catalog = Catalog::builtin()?;
    let (profile, notes) = compat::load_fitted(
        &opts.profile,
        opts.kubernetes,
        opts.allow_unsupported,
        &opts.arches,
        &catalog,
    )?;
    if !cx.quiet {
        for n in notes {
            eprintln!("note: {n}");
        }
    }
    let arches = select_arches(&profile, &opts.arches)?;
    let join = join_params(opts.join_config.as_deref(), cx.quiet)?;
    let overlay_source = overlay_source(opts, &arches)?;
    if let (Some((artifact, _)), true, false) = (&overlay_source, cx.offline, cx.quiet) {
        eprintln!(
            "note: offline, so the render does not check that oci://{artifact} holds the overlay it pins; \
             push this render (`builder push`) before nodes boot, or they fail to fetch it"
        );
    }
    crate::outputs::sysext::check_options(&opts.formats, opts.sysext_url.as_deref(), &arches)?;
    let plan = Plan::resolve(profile, &catalog)?;
    if opts.formats.contains(&Format::Sysext) {
        crate::outputs::sysext::check_install_rules(&plan.profile, plan.units)?;
    }
    crate::build::output::check_out(&opts.out, &plan.profile.name)?;
    let signer = opts.sign_key.as_deref().map(load_signing_key).transpose()?;
    let mut job = Prepared {
        plan,
        arches,
        join,
        signer,
        digests: BTreeMap::new(),
        overlay_source,
        registry_cache: registry_cache(opts, cx)?,
    };
    job.digests = input_digests(&job, opts)?;
    Ok(job)
}

/// `--overlay-url`: a URL template, checked; or an `oci://` artifact (pinned by digest), with
/// the endpoints its nodes fetch from: the `--overlay-mirror`s, then the registry itself.
fn overlay_source(opts: &Options, arches: &[Arch]) -> Result<Option<(Reference, RegistrySource)>> {
    let Some(url) = &opts.overlay_url else {
        if !opts.overlay_mirrors.is_empty() {
            return Err(Error::Input(
                "--overlay-mirror is for an oci:// --overlay-url; give one, or drop the mirrors"
                    .into(),
            )
            .into());
        }
        return Ok(None);
    };
    let Some(parsed) = Reference::parse_pinned_url(url) else {
        if !opts.overlay_mirrors.is_empty() {
            return Err(Error::Input(format!(
                "--overlay-mirror is for an oci:// --overlay-url, not {url:?}; for a plain URL, point --overlay-url at the mirror"
            ))
            .into());
        }
        user_data::check_overlay_url(url, arches)?;
        return Ok(None);
    };
    let r = parsed.map_err(Error::Input)?;
    let scheme = if opts.registry.plain_http {
        "http"
    } else {
        "https"
    };
    let mut endpoints = opts.overlay_mirrors.clone();
    endpoints.push(format!("{scheme}://{}", r.registry));
    for e in &endpoints {
        crate::bootstrap::cloudinit::check_endpoint(e)?;
    }
    let source = RegistrySource {
        repository: r.repository.clone(),
        endpoints,
    };
    Ok(Some((r, source)))
}

/// `--output-cache-url`, parsed; `None` for sysext renders (their image is not cached) and
/// offline (with a note).
fn registry_cache(opts: &Options, cx: &Context) -> Result<Option<Reference>> {
    let Some(url) = &opts.output_cache_url else {
        return Ok(None);
    };
    let repo = crate::oci::cache::parse_url(url).map_err(Error::Input)?;
    if opts.formats.contains(&Format::Sysext) || cx.offline {
        if !cx.quiet {
            eprintln!(
                "note: --output-cache-url is not used {}",
                if cx.offline {
                    "offline"
                } else {
                    "by --format sysext renders"
                }
            );
        }
        return Ok(None);
    }
    Ok(Some(repo))
}

/// `--join-config`'s file, else the `BUILDER_JOIN_*` variables (if set).
fn join_params(file: Option<&Path>, quiet: bool) -> Result<Option<JoinParams>> {
    match file {
        Some(path) => {
            // `Ok(None)` only when no BUILDER_JOIN_* is set; an incomplete set is an `Err`.
            if !matches!(JoinParams::from_env(), Ok(None)) && !quiet {
                eprintln!("note: --join-config wins over the BUILDER_JOIN_* variables");
            }
            Ok(Some(JoinParams::from_file(path)?))
        }
        None => JoinParams::from_env(),
    }
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

/// Each arch's input digest: the plan, the overlays' files and every flag that changes output.
fn input_digests(job: &Prepared, opts: &Options) -> Result<BTreeMap<Arch, Sha256>> {
    let plan = &job.plan;
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
        overlay_endpoints: job
            .overlay_source
            .as_ref()
            .map(|(_, s)| s.endpoints.clone())
            .unwrap_or_default(),
        compression: opts.compression,
        formats: if opts.formats.contains(&Format::Sysext) {
            vec!["sysext".into()]
        } else {
            Vec::new()
        },
        sysext_url: opts.sysext_url.as_deref(),
    };
    let (join, signer) = (job.join.as_ref(), job.signer.as_ref());
    job.arches
        .iter()
        .map(|arch| {
            let d = reuse::input_digest(plan, *arch, &flags, join, signer, &overlays)?;
            Ok((*arch, d))
        })
        .collect()
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
