//! `builder diff`: its options, turned into `diff::Options` for one call of `diff::run`
//! (which prints the report and picks the exit code: 0 no differences, 3 differences).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::options::{Output, OutputParser};

/// Options of `builder diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The render before: a profile folder, an arch folder or a manifest.json
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The render after, of the same shape as OLD
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// text: sections per arch and unified diffs, for people; json: one document (schema_version 1), for machines
    #[arg(long, short, value_parser = OutputParser, default_value = "text", value_name = "FORMAT")]
    pub output: Output,
}

/// Runs `builder diff`; the exit code is the library's.
pub(super) fn run(args: DiffArgs) -> Result<u8> {
    crate::verify::diff::run(&crate::verify::diff::Options {
        old: args.old,
        new: args.new,
        json: args.output == Output::Json,
    })
}
