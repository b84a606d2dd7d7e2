//! The read-only profile commands: `builder profiles` (the list), `builder show` (one profile
//! resolved, every pin spelled out) and `builder schema` (the JSON Schema of profile files).
//! They print what `crate::profile` computes and fetch nothing.

use anyhow::Result;
use clap::Args;

use crate::profile::catalog::Catalog;
use crate::profile::plan::Plan;
use crate::profile::{list, Lookup};

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A shipped profile's name (./profiles/NAME.toml, then built in) or a path to a .toml file
    #[arg(long, short, value_name = "NAME|FILE")]
    pub profile: String,
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
    let profile = Lookup::default().load(&args.profile)?;
    for w in &profile.warnings {
        eprintln!("warning: {w}");
    }
    print!(
        "{}",
        Plan::resolve(profile, &Catalog::builtin()?)?.show_text()
    );
    Ok(0)
}

/// `builder schema`: the JSON Schema of profile files.
pub(super) fn schema() -> Result<u8> {
    print!("{}", crate::profile::json_schema());
    Ok(0)
}
