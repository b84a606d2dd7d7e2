//! `builder init`: its options, turned into `profile::init::Options` for one call of
//! `profile::init::run`, and the lines that say what was written and what to run next.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::util::model::{Arch, KubeMinor, Runtime};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The new profile's name: lowercase letters, digits, '-', '_' (it names the file DIR/NAME.toml and the output folder)
    #[arg(value_name = "NAME")]
    pub name: String,
    /// The runtime; the new profile extends the shipped profile of the same name
    #[arg(long, value_name = "RUNTIME")]
    pub runtime: Runtime,
    /// The Kubernetes minor the nodes' kubelet runs, as 1.N (for example 1.35)
    #[arg(long, value_name = "MINOR")]
    pub kubernetes: KubeMinor,
    /// The architectures to render (repeatable or comma-separated) [default: the shipped profile's]
    #[arg(long, value_name = "ARCH", value_delimiter = ',')]
    pub arch: Vec<Arch>,
    /// The folder the profile is written into (created if missing); ./profiles is where `--profile NAME` finds it
    #[arg(long, default_value = "profiles", value_name = "DIR")]
    pub dir: PathBuf,
    /// Replace DIR/NAME.toml if it exists
    #[arg(long)]
    pub force: bool,
}

/// Runs `builder init`; `quiet` is the global `-q`.
pub(super) fn run(args: InitArgs, quiet: bool) -> Result<u8> {
    let opts = crate::profile::init::Options {
        name: args.name,
        runtime: args.runtime,
        kubernetes: args.kubernetes,
        arch: args.arch,
        dir: args.dir,
        force: args.force,
    };
    let written = crate::profile::init::run(&opts)?;
    if quiet {
        return Ok(0);
    }
    let path = written.profile.display();
    println!("wrote {path}");
    if let Some(schema) = &written.schema {
        println!(
            "wrote {} (the JSON Schema its #:schema line names)",
            schema.display()
        );
    }
    println!("next:");
    println!("  builder show --profile {path}     # resolved, every pin spelled out");
    println!("  builder render --profile {path}   # the overlay, per arch");
    println!(
        "  builder pin --profile {path} --write   # after changing an artifact's version or url"
    );
    Ok(0)
}
