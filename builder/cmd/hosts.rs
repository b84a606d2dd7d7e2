//! `builder hosts`: one `--mirror FROM=TO` line per URL prefix a render of the profile fetches
//! from (computed by `crate::fetch::hosts` from the resolved plan); nothing is downloaded.

use anyhow::Result;
use clap::Args;

use serde::Serialize;

use super::options::{MirrorParser, Output, OutputParser};
use crate::fetch::Mirror;
use crate::profile::catalog::Catalog;
use crate::profile::plan::Plan;
use crate::profile::Lookup;

#[derive(Debug, Args)]
pub struct HostsArgs {
    /// A shipped profile's name (./profiles/NAME.toml, then built in) or a path to a .toml file
    #[arg(long, short, value_name = "NAME|FILE")]
    pub profile: String,
    /// A mirror already in use, as render takes it (repeatable): its FROM is printed with its TO
    #[arg(long = "mirror", value_name = "FROM=TO", value_parser = MirrorParser,
          env = "BUILDER_MIRROR", value_delimiter = ' ', hide_env_values = true)]
    pub mirrors: Vec<Mirror>,
    /// text: one `--mirror FROM=TO` line per prefix; json: one document (schema_version 1) with each prefix, the host it reaches, what is fetched through it and its line
    #[arg(long, short, value_parser = OutputParser, default_value = "text", value_name = "FORMAT")]
    pub output: Output,
}

/// `builder hosts --output json`.
#[derive(Serialize)]
struct HostsJson {
    schema_version: u32,
    profile: String,
    prefixes: Vec<PrefixJson>,
}

#[derive(Serialize)]
struct PrefixJson {
    /// The `--mirror` FROM (credentials hidden).
    from: String,
    /// The `--mirror` TO in force (credentials hidden), or null.
    mirror_to: Option<String>,
    /// The origin contacted (`scheme://host[:port]/`); null for file://.
    target: Option<String>,
    /// What is fetched through it (`containerd 2.3.4`).
    artifacts: Vec<String>,
    /// The ready-to-edit `--mirror FROM=TO` line.
    mirror_line: String,
}

/// Runs `builder hosts`.
pub(super) fn run(args: &HostsArgs) -> Result<u8> {
    // The profile's warnings are about the node it builds, not about where it downloads from:
    // `show` and `render` print them.
    let profile = Lookup::default().load(&args.profile)?;
    let name = profile.name.clone();
    let prefixes = crate::fetch::hosts::of_plan(
        &Plan::resolve(profile, &Catalog::builtin()?)?,
        &args.mirrors,
    )?;
    if args.output == Output::Json {
        crate::util::stdout::print_json(&HostsJson {
            schema_version: super::show::SCHEMA_VERSION,
            profile: name,
            prefixes: prefixes
                .iter()
                .map(|p| PrefixJson {
                    from: p.from.to_string(),
                    mirror_to: p.mirror_to.as_ref().map(ToString::to_string),
                    target: p.target.clone(),
                    artifacts: p.artifacts.clone(),
                    mirror_line: p.mirror_line(),
                })
                .collect(),
        })?;
        return Ok(0);
    }
    if prefixes.is_empty() {
        eprintln!("note: profile {name} fetches nothing over the network (only file:// URLs)");
    }
    for p in prefixes {
        println!("{}", p.mirror_line());
    }
    Ok(0)
}
