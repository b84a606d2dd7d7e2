//! `builder pin`: its options and the download options, turned into `profile::pin::Options`
//! and `FetchOptions` for one call of `profile::pin::run`.

use anyhow::Result;
use clap::Args;

use super::options::FetchArgs;

#[derive(Debug, Args)]
pub struct PinArgs {
    /// The profile file to pin: a path, or NAME for ./profiles/NAME.toml
    #[arg(long, short, value_name = "NAME|FILE")]
    pub profile: String,
    /// Write the pins into the profile (otherwise print the lines it would write)
    #[arg(long)]
    pub write: bool,
    /// Where upstream publishes no checksum file (Docker's static bundle, cri-dockerd) or it is
    /// missing, pin the digest of what the download has, with a comment beside it saying so
    #[arg(long)]
    pub trust_download: bool,
    // Last, so that its "Download options" heading covers only its own options.
    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// Runs `builder pin`; `quiet` is the global `-q`.
pub(super) fn run(args: PinArgs, quiet: bool) -> Result<u8> {
    let fetch = args.fetch.fetch_options(quiet)?;
    crate::util::interrupt::install(format!("pin of profile {}", args.profile))?;
    let opts = crate::profile::pin::Options {
        profile: args.profile,
        write: args.write,
        trust_download: args.trust_download,
    };
    crate::profile::pin::run(&opts, &fetch)?;
    Ok(0)
}
