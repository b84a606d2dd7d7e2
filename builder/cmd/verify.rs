//! `builder verify`: its options, turned into `verify::Options` for one call of `verify::run`
//! (which prints one line per check, or the JSON document).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::options::{Output, OutputParser};

/// Options of `builder verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// An output folder (--out of a render), a profile folder (OUT/PROFILE) or an arch folder (OUT/PROFILE/ARCH)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// A public key the SHA256SUMS signature must verify with: minisign (.pub) or OpenSSH (ssh-ed25519 ...); repeatable, one matching key is enough. With none, the signature is not checked
    #[arg(long, value_name = "PUB")]
    pub key: Vec<PathBuf>,
    /// text: one line per check, for people; json: one document (schema_version 1), for machines
    #[arg(long, short, value_parser = OutputParser, default_value = "text", value_name = "FORMAT")]
    pub output: Output,
}

/// Runs `builder verify`; the exit code is the library's.
pub(super) fn run(args: VerifyArgs, quiet: bool) -> Result<u8> {
    crate::verify::run(&crate::verify::Options {
        dir: args.dir,
        keys: args.key,
        json: args.output == Output::Json,
        quiet,
    })
}
