//! The read-only profile commands: `builder profiles` (the list), `builder show` (one profile
//! resolved, every pin spelled out) and `builder schema` (the JSON Schema of profile files).
//! They print what `crate::profile` computes and fetch nothing.

use anyhow::Result;
use clap::Args;

use crate::profile::catalog::Catalog;
use crate::profile::plan::Plan;
use crate::profile::{list, Lookup};
use crate::util::model::KubeMinor;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A shipped profile's name (./profiles/NAME.toml, then built in) or a path to a .toml file
    #[arg(long, short, value_name = "NAME|FILE")]
    pub profile: String,
    /// Show it as `render --kubernetes MINOR` would render it: that minor, and the runtime releases that fit it
    #[arg(long, env = "BUILDER_KUBERNETES", value_name = "MINOR")]
    pub kubernetes: Option<KubeMinor>,
    /// As for render: show a runtime outside the compatibility table with a warning instead of refusing
    #[arg(long, env = "BUILDER_ALLOW_UNSUPPORTED")]
    pub allow_unsupported: bool,
}

/// `builder profiles`: one line per profile.
pub(super) fn profiles() -> Result<u8> {
    let rows = list(&Lookup::default())?;
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    println!("{:width$}  {:28}  DESCRIPTION", "NAME", "FROM");
    for r in rows {
        println!("{:width$}  {:28}  {}", r.name, r.origin, r.description);
    }
    Ok(0)
}

/// `builder show`: the resolved profile.
pub(super) fn run(args: &ShowArgs) -> Result<u8> {
    let catalog = Catalog::builtin()?;
    let (profile, notes) = crate::profile::compat::load_fitted(
        &args.profile,
        args.kubernetes,
        args.allow_unsupported,
        &catalog,
    )?;
    for n in notes {
        eprintln!("note: {n}");
    }
    for w in &profile.warnings {
        eprintln!("warning: {w}");
    }
    print!("{}", Plan::resolve(profile, &catalog)?.show_text());
    Ok(0)
}

/// `builder schema`: the JSON Schema of profile files.
pub(super) fn schema() -> Result<u8> {
    print!("{}", crate::profile::json_schema());
    Ok(0)
}
