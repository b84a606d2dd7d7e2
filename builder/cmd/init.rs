//! `builder init`: its options, turned into `profile::init::Options` for one call of
//! `profile::init::run`, and the lines that say what was written and what to run next.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use super::options::ArchParser;
use crate::profile::init::{groups_from_detect, Options, Written};
use crate::util::model::{Arch, KubeMinor, Runtime};
use crate::util::read::Kind;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The new profile's name: lowercase letters, digits, '-', '_' (it names the file DIR/NAME.toml and the output folder)
    #[arg(value_name = "NAME", required_unless_present = "from_detect")]
    pub name: Option<String>,
    /// The runtime; the new profile extends the shipped profile of the same name
    #[arg(long, value_name = "RUNTIME", required_unless_present = "from_detect")]
    pub runtime: Option<Runtime>,
    /// The Kubernetes minor the nodes' kubelet runs, as 1.N (for example 1.35)
    #[arg(long, value_name = "MINOR", required_unless_present = "from_detect")]
    pub kubernetes: Option<KubeMinor>,
    /// The architectures to render (repeatable or comma-separated) [default: the shipped profile's]
    #[arg(long, value_name = "ARCH", value_delimiter = ',', value_parser = ArchParser)]
    pub arch: Vec<Arch>,
    /// Instead of NAME, --runtime and --kubernetes: read `builder detect --output json` from FILE and write one profile per runtime, Kubernetes minor and arch of the affected nodes, named RUNTIME-1.N-ARCH
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "runtime", "kubernetes", "arch"])]
    pub from_detect: Option<PathBuf>,
    /// The folder the profile is written into (created if missing); ./profiles is where `--profile NAME` finds it
    #[arg(long, default_value = "profiles", value_name = "DIR")]
    pub dir: PathBuf,
    /// Replace DIR/NAME.toml if it exists
    #[arg(long)]
    pub force: bool,
}

/// Runs `builder init`; `quiet` is the global `-q`.
pub(super) fn run(args: InitArgs, quiet: bool) -> Result<u8> {
    if let Some(report) = &args.from_detect {
        return from_detect(report, &args, quiet);
    }
    let (Some(name), Some(runtime), Some(kubernetes)) = (args.name, args.runtime, args.kubernetes)
    else {
        unreachable!("clap requires NAME, --runtime and --kubernetes without --from-detect")
    };
    let opts = Options {
        name,
        runtime,
        kubernetes,
        arch: args.arch,
        dir: args.dir,
        force: args.force,
    };
    let written = crate::profile::init::run(&opts)?;
    if quiet {
        return Ok(0);
    }
    print_written(&written);
    let path = written.profile.display();
    println!("next:");
    println!("  builder show --profile {path}     # resolved, every pin spelled out");
    println!("  builder render --profile {path}   # the overlay, per arch");
    println!(
        "  builder pin --profile {path} --write   # after changing an artifact's version or url"
    );
    Ok(0)
}

fn print_written(written: &Written) {
    println!("wrote {}", written.profile.display());
    if let Some(schema) = &written.schema {
        println!(
            "wrote {} (the JSON Schema its #:schema line names)",
            schema.display()
        );
    }
}

/// `builder init --from-detect FILE`: one profile per group of affected nodes.
fn from_detect(report: &Path, args: &InitArgs, quiet: bool) -> Result<u8> {
    let text = crate::util::read::read_to_string(report, Kind::Document).map_err(|e| {
        crate::Error::Input(format!("cannot read {}: {}", report.display(), e.reason()))
    })?;
    let (groups, skipped) = groups_from_detect(&text, &report.display().to_string())?;
    for s in &skipped {
        eprintln!("warning: no profile for {s}");
    }
    let all: Vec<Options> = groups
        .iter()
        .map(|g| Options {
            name: g.name(),
            runtime: g.runtime,
            kubernetes: g.minor,
            arch: vec![g.arch],
            dir: args.dir.clone(),
            force: args.force,
        })
        .collect();
    let written = crate::profile::init::run_all(&all)?;
    if quiet {
        return Ok(0);
    }
    if written.is_empty() {
        println!(
            "no affected node in {} has a replacement profile: nothing written",
            report.display()
        );
    }
    for (w, g) in written.iter().zip(&groups) {
        print_written(w);
        println!("  for {} node(s): {}", g.nodes.len(), g.nodes.join(", "));
    }
    if let Some(first) = written.first() {
        println!(
            "next: builder render --profile {} (and each of the others)",
            first.profile.display()
        );
        if args.dir == Path::new("profiles") {
            println!(
                "      builder detect --plan, run in this folder, names them in its render lines"
            );
        }
    }
    Ok(0)
}
