//! `builder hosts`: one `--mirror FROM=TO` line per URL prefix a render of the profile fetches
//! from (computed by `crate::fetch::hosts` from the resolved plan); nothing is downloaded.

use anyhow::Result;
use clap::Args;

use super::options::MirrorParser;
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
    if prefixes.is_empty() {
        eprintln!("note: profile {name} fetches nothing over the network (only file:// URLs)");
    }
    for p in prefixes {
        println!("{}", p.mirror_line());
    }
    Ok(0)
}
