//! `builder push` and `builder pull`: their options (and the registry options both take),
//! turned into `oci::push::Options` / `oci::pull::Options`, and what they print.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::oci::{self, Reference};
use crate::util::error::Error;
use crate::util::model::Arch;

/// How to reach the registry (both commands).
#[derive(Debug, Args)]
#[command(next_help_heading = "Registry options")]
pub struct RegistryArgs {
    /// Speak plain HTTP to the registry (one on loopback without TLS); credentials then travel unencrypted
    #[arg(long)]
    pub plain_http: bool,
    /// PEM certificates to trust besides the built-in roots (a private registry's CA)
    #[arg(long, env = "BUILDER_REGISTRY_CA", value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
}

impl RegistryArgs {
    pub(super) fn options(&self) -> oci::RegistryOptions {
        oci::RegistryOptions {
            plain_http: self.plain_http,
            ca_file: self.registry_ca.clone(),
        }
    }
}

/// Options of `builder push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The output to push: a profile folder (OUT/PROFILE: every arch, as an image index) or one arch folder (OUT/PROFILE/ARCH)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Where to: REGISTRY/REPOSITORY[:TAG] (the tag defaults to latest), e.g. registry.example:5000/nodes/containerd:1.36
    #[arg(value_name = "REF")]
    pub reference: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Options of `builder pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// What to pull: REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST (an oci:// prefix is allowed)
    #[arg(value_name = "REF")]
    pub reference: String,
    /// The output folder: the artifact lands in OUT/PROFILE/ARCH, as a render's does
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
    /// Only these arches of a multi-arch artifact (comma-separated; default: every one)
    #[arg(long, value_delimiter = ',', value_name = "ARCH")]
    pub arch: Vec<Arch>,
    /// A public key the SHA256SUMS signature must verify with: minisign (.pub) or OpenSSH; repeatable, one matching key is enough
    #[arg(long, value_name = "PUB")]
    pub key: Vec<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

fn reference(text: &str, default_tag: Option<&str>) -> Result<Reference> {
    let text = text.strip_prefix(oci::reference::SCHEME).unwrap_or(text);
    Reference::parse(text, default_tag).map_err(|e| Error::Input(e).into())
}

/// Runs `builder push`: the digest and the `--overlay-url` line on stdout.
pub(super) fn push(args: PushArgs, quiet: bool) -> Result<u8> {
    let opts = oci::push::Options {
        dir: args.dir,
        reference: reference(&args.reference, Some("latest"))?,
        registry: args.registry.options(),
    };
    let p = oci::push::push(&opts)?;
    if !quiet {
        let arches: Vec<&str> = p.arches.iter().map(|a| a.arch.as_str()).collect();
        eprintln!(
            "pushed {} ({}) to {}: {} blobs uploaded, {} already there",
            p.profile,
            arches.join(", "),
            opts.reference,
            p.uploaded,
            p.present
        );
        for a in &p.arches {
            eprintln!(
                "  {}: manifest sha256:{}, overlay sha256:{}, {} referrers",
                a.arch,
                a.manifest,
                a.overlay,
                a.referrers.len()
            );
        }
    }
    let mut out = format!("sha256:{}\n", p.digest);
    out.push_str(&format!(
        "--overlay-url {}{}\n",
        oci::reference::SCHEME,
        p.reference
    ));
    crate::util::stdout::print_text(&out)?;
    Ok(0)
}

/// Runs `builder pull`: verify's lines, then where the folders are.
pub(super) fn pull(args: PullArgs, quiet: bool) -> Result<u8> {
    let opts = oci::pull::Options {
        reference: reference(&args.reference, None)?,
        out: args.out,
        arches: args.arch,
        keys: args.key,
        registry: args.registry.options(),
    };
    let p = oci::pull::pull(&opts)?;
    let colour = crate::util::stdout::colour_on(&std::io::stdout());
    let mut text = crate::verify::text(&p.report, quiet, colour);
    if !quiet {
        let dirs: Vec<String> = p.dirs.iter().map(|d| d.display().to_string()).collect();
        text.push_str(&format!(
            "pulled {} (sha256:{}) into {}\n",
            opts.reference,
            p.digest,
            dirs.join(", ")
        ));
    }
    crate::util::stdout::print_text(&text)?;
    Ok(0)
}
