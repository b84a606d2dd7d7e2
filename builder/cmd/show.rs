//! The read-only profile commands: `builder profiles` (the list), `builder show` (one profile
//! resolved, every pin spelled out) and `builder schema` (the JSON Schema of profile files).
//! They print what `crate::profile` computes and fetch nothing.

use anyhow::Result;
use clap::Args;

use crate::profile::catalog::Catalog;
use crate::profile::plan::Plan;
use crate::profile::{list, Listed, Lookup, Origin};
use crate::util::model::KubeMinor;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A profile's name (./profiles/NAME.toml, then built in) or a path to a .toml file
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
    let from = |r: &Listed| match r.origin {
        Origin::BuiltIn => "built-in".to_string(),
        Origin::Shipped => format!("{} (shipped)", r.file),
        _ => format!("{} (yours)", r.file),
    };
    let from_width = rows.iter().map(|r| from(r).len()).max().unwrap_or(4).max(4);
    println!("{:width$}  {:from_width$}  DESCRIPTION", "NAME", "FROM");
    for r in &rows {
        println!(
            "{:width$}  {:from_width$}  {}",
            r.name,
            from(r),
            r.description
        );
    }
    println!(
        "\nbuilt-in and shipped profiles: extend them (`builder init NAME`), do not edit them; \
         yours: edit them freely."
    );
    Ok(0)
}

/// `builder show`: the resolved profile on stdout, where it comes from on stderr (unless `quiet`).
pub(super) fn run(args: &ShowArgs, quiet: bool) -> Result<u8> {
    let catalog = Catalog::builtin()?;
    let source = Lookup::default().find(&args.profile, None)?;
    let (profile, notes) = crate::profile::compat::load_fitted(
        &args.profile,
        args.kubernetes,
        args.allow_unsupported,
        &[],
        &catalog,
    )?;
    for n in notes {
        eprintln!("note: {n}");
    }
    for w in &profile.warnings {
        eprintln!("warning: {w}");
    }
    let plan = Plan::resolve(profile, &catalog)?;
    // Where it comes from goes to stderr: stdout is the resolved text alone, whose digest the
    // manifest records (`builder show | sha256sum`), whichever folder it was read from.
    if !quiet {
        eprintln!("note: {}", source.origin_note());
    }
    print!("{}", plan.show_text());
    Ok(0)
}

/// `builder schema`: the JSON Schema of profile files.
pub(super) fn schema() -> Result<u8> {
    print!("{}", crate::profile::json_schema());
    Ok(0)
}
