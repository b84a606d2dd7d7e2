//! The read-only profile commands: `builder profiles` (the list), `builder show` (one profile
//! resolved, every pin spelled out) and `builder schema` (the JSON Schema of profile files).
//! They print what `crate::profile` computes and fetch nothing.

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use super::options::{Output, OutputParser};
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
    #[arg(long, env = "BUILDER_ALLOW_UNSUPPORTED", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_unsupported: bool,
    /// text: the resolved profile as TOML (its sha256 is the manifest's profile digest); json: one document (schema_version 1) with the same profile as JSON, where it comes from, the notes and warnings
    #[arg(long, short, value_parser = OutputParser, default_value = "text", value_name = "FORMAT")]
    pub output: Output,
}

/// Options of `builder profiles`.
#[derive(Debug, Args)]
pub struct ProfilesArgs {
    /// text: a table for people; json: one document (schema_version 1) with each profile's name, origin, file and description
    #[arg(long, short, value_parser = OutputParser, default_value = "text", value_name = "FORMAT")]
    pub output: Output,
}

/// Bumped when a field of the JSON documents of `profiles`, `show` or `hosts` is removed,
/// renamed or changes meaning; adding a field keeps it.
pub(super) const SCHEMA_VERSION: u32 = 1;

/// `builder profiles --output json`.
#[derive(Serialize)]
struct ProfilesJson<'a> {
    schema_version: u32,
    profiles: Vec<ListedJson<'a>>,
}

#[derive(Serialize)]
struct ListedJson<'a> {
    name: &'a str,
    /// `built-in`, `shipped`, `yours` or `path`.
    origin: &'static str,
    file: &'a str,
    description: &'a str,
}

/// `builder profiles`: one line per profile, or the JSON document.
pub(super) fn profiles(args: &ProfilesArgs) -> Result<u8> {
    let rows = list(&Lookup::default())?;
    if args.output == Output::Json {
        let origin = |o: Origin| match o {
            Origin::BuiltIn => "built-in",
            Origin::Shipped => "shipped",
            Origin::Local => "yours",
            Origin::Path => "path",
        };
        crate::util::stdout::print_json(&ProfilesJson {
            schema_version: SCHEMA_VERSION,
            profiles: rows
                .iter()
                .map(|r| ListedJson {
                    name: &r.name,
                    origin: origin(r.origin),
                    file: &r.file,
                    description: &r.description,
                })
                .collect(),
        })?;
        return Ok(0);
    }
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
    // Only where it comes from: its text is read again by the load (and not held twice).
    let origin_note = Lookup::default().find(&args.profile, None)?.origin_note();
    let (profile, notes) = crate::profile::compat::load_fitted(
        &args.profile,
        args.kubernetes,
        args.allow_unsupported,
        &[],
        &catalog,
    )?;
    for n in &notes {
        eprintln!("note: {n}");
    }
    for w in &profile.warnings {
        eprintln!("warning: {w}");
    }
    let warnings = profile.warnings.clone();
    let plan = Plan::resolve(profile, &catalog)?;
    let text = plan.show_text();
    if args.output == Output::Json {
        // The same resolved profile, read back from its TOML: one source for both forms.
        let profile: serde_json::Value = toml::from_str(text).map_err(|e| {
            crate::util::error::Error::Internal(format!("show's own TOML does not parse: {e}"))
        })?;
        crate::util::stdout::print_json(&ShowJson {
            schema_version: SCHEMA_VERSION,
            source: origin_note,
            notes,
            warnings,
            profile_sha256: crate::util::digest::Sha256::of(text.as_bytes()).to_string(),
            profile,
        })?;
        return Ok(0);
    }
    // Where it comes from goes to stderr: stdout is the resolved text alone, whose digest the
    // manifest records (`builder show | sha256sum`), whichever folder it was read from.
    if !quiet {
        eprintln!("note: {origin_note}");
    }
    print!("{text}");
    Ok(0)
}

/// `builder show --output json`.
#[derive(Serialize)]
struct ShowJson {
    schema_version: u32,
    /// Where the profile comes from (what `show` prints as a note on stderr).
    source: String,
    notes: Vec<String>,
    warnings: Vec<String>,
    /// The sha256 of the text form (`builder show | sha256sum`): the manifest's profile digest.
    profile_sha256: String,
    /// The resolved profile: the text form's TOML, as JSON.
    profile: serde_json::Value,
}

/// `builder schema`: the JSON Schema of profile files.
pub(super) fn schema() -> Result<u8> {
    print!("{}", crate::profile::json_schema());
    Ok(0)
}
