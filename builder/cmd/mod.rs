//! The command layer: clap definitions (their doc comments are the `--help` text), one file per
//! subcommand with its options, their conversion into the library's plain option types and the
//! call. This file holds the top: `Cli`, the global options, the `Command` enum and the dispatch.
//! Nothing in the library imports this module, and no file under `cmd/` imports this one (the
//! subcommand files take plain values such as `quiet`, `docs` takes `Cli::command()`).
//!
//!   options.rs  shared: the download options (`FetchArgs` -> `FetchOptions`), `--output`, `--mirror`
//!   render.rs   render
//!   detect.rs   detect
//!   diff.rs     diff
//!   verify.rs   verify
//!   pin.rs      pin
//!   init.rs     init
//!   hosts.rs    hosts
//!   registry.rs push, pull
//!   show.rs     profiles, show, schema (read-only, nothing fetched)
//!   docs.rs     completions, manpage

mod detect;
mod diff;
mod docs;
mod hosts;
mod init;
mod options;
mod pin;
mod registry;
mod render;
mod show;
mod verify;

use anyhow::Result;
use clap::{Args, CommandFactory, Parser, Subcommand};

pub use self::detect::DetectArgs;
pub use self::diff::DiffArgs;
pub use self::docs::{CompletionsArgs, ManpageArgs};
pub use self::hosts::HostsArgs;
pub use self::init::InitArgs;
pub use self::options::{FetchArgs, Output};
pub use self::pin::PinArgs;
pub use self::registry::{PullArgs, PushArgs, RegistryArgs};
pub use self::render::RenderArgs;
pub use self::show::{ProfilesArgs, ShowArgs};
pub use self::verify::VerifyArgs;

/// The top-level `--help`'s closing section.
const EXAMPLES: &str = "\
Examples:
  builder profiles                                   # the profiles, and where each comes from
  builder init site --runtime containerd --kubernetes 1.35   # profiles/site.toml, yours to edit
  builder show --profile containerd                  # the resolved profile, every pin spelled out
  builder render --profile containerd --arch amd64   # dist/containerd/amd64/{overlay.tar.gz,...}
  builder render --profile cri-dockerd --mirror https://github.com/=https://mirror.example/gh/
  builder render --profile containerd --sign-key builder.key   # + SHA256SUMS.minisig
  builder verify dist/containerd --key builder.pub   # sums, signature, overlay, SBOMs, provenance
  kubectl get nodes -o json | builder detect --nodes -   # nodes still on dockershim (exit 3)

Each command's --help has its options and an example.";

/// `--version`: the crate's version, and the commit it was built from when built from a git
/// checkout (build.rs).
fn version() -> &'static str {
    const VERSION: &str = env!("CARGO_PKG_VERSION");
    const COMMIT: &str = env!("BUILDER_COMMIT");
    if COMMIT.is_empty() {
        VERSION
    } else {
        // One string for the life of the process; clap wants a 'static str.
        static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        TEXT.get_or_init(|| format!("{VERSION} (commit {COMMIT})"))
    }
}

/// Build verified, reproducible Kubernetes node overlays for the move off dockershim.
///
/// A TOML profile names the Kubernetes minor, the runtime (containerd, or Docker Engine behind
/// cri-dockerd) and every upstream artifact with its sha256 pin; `builder render` turns it into
/// a rootfs tree, a deterministic overlay.tar.gz, a manifest and SHA256SUMS per architecture.
///
/// Exit codes: 0 success, 1 bad input or a failed fetch/verify, 2 internal error
/// (`detect` also uses 3: affected nodes found; `diff` 3: the renders differ).
#[derive(Debug, Parser)]
#[command(
    name = "builder",
    version = version(),
    help_expected = true,
    max_term_width = 100,
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

// Options every subcommand takes. (A `//` comment: clap would take a doc comment here for
// the program's own description.)
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print only errors and warnings
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Log each request, retry and cache decision on stderr (as RUST_LOG=builder=debug; without -v, RUST_LOG decides)
    #[arg(long, short, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render a profile into dist/<profile>/<arch>/{rootfs/, overlay.tar.gz, manifest.json, user-data, meta-data, SHA256SUMS}.
    ///
    /// Every artifact is fetched (or taken from the cache), verified against its sha256 pin and
    /// installed into a fresh rootfs with the runtime's configuration; cloud-init user-data
    /// (baked mode, or fetch mode with --overlay-url) turns a fresh VM into the node. Output is
    /// built beside the target and moved into place at the end; on failure the target is left
    /// as it was.
    ///
    /// Example: builder render --profile containerd --arch amd64 --out dist --cloud aws
    Render(Box<RenderArgs>),
    /// List the profiles (./profiles, then those built into the binary) with where each comes from and its description.
    ///
    /// Built-in and shipped profiles (the copies in builder's own ./profiles) are extended, not
    /// edited; the other files in ./profiles are the user's own.
    ///
    /// Example: builder profiles
    Profiles(ProfilesArgs),
    /// Write a new profile of your own, DIR/NAME.toml, that extends the shipped profile of a runtime and sets the Kubernetes minor.
    ///
    /// The file has a comment on each key and the commands to run next; it never replaces an
    /// existing file unless --force. DIR/schema.json (for the file's `#:schema` line) is written
    /// too when it is missing. With --from-detect, one such profile per runtime, Kubernetes
    /// minor and arch of the affected nodes in a `builder detect --output json` report (none
    /// written if any exists, unless --force).
    ///
    /// Example: builder init site-nodes --runtime containerd --kubernetes 1.35 --arch amd64,arm64
    Init(InitArgs),
    /// Print the resolved profile (after `extends`) with every pin, per architecture, as TOML.
    ///
    /// stdout is the resolved text alone (its sha256 is the manifest's profile digest); a note
    /// on stderr says where the profile comes from: built in, shipped, your own, or the file given.
    ///
    /// Example: builder show --profile containerd
    Show(ShowArgs),
    /// Find the nodes still on dockershim in `kubectl get nodes -o json` and say which profile replaces each.
    ///
    /// Exit codes: 0 nothing affected, 3 affected nodes found, 1 bad input.
    ///
    /// Example: kubectl get nodes -o json | builder detect --nodes -
    Detect(DetectArgs),
    /// Print every URL prefix a render of the profile fetches from, as ready-to-edit `--mirror FROM=TO` lines.
    ///
    /// One line per distinct prefix (scheme://host[:port]/, or the FROM of a --mirror already
    /// given, which is then printed with its TO), for every arch the profile lists, as a render
    /// with an empty cache needs them. Edit each TO to point at your mirror.
    ///
    /// Example: builder hosts --profile cri-dockerd
    Hosts(HostsArgs),
    /// Show what changed between two renders: artifacts, files, and a unified diff of each generated file.
    ///
    /// OLD and NEW are two profile folders (dist/PROFILE: every arch), two arch folders
    /// (dist/PROFILE/ARCH) or two manifest.json files (digests only: content diffs need the
    /// folders). Output is sorted, so the same renders give the same report.
    ///
    /// Exit codes: 0 no differences, 3 differences found, 1 bad input.
    ///
    /// Example: builder diff old/containerd dist/containerd
    Diff(DiffArgs),
    /// Check an output folder: SHA256SUMS, the signature (with --key), manifest.json against overlay.tar.gz and rootfs/ entry by entry, the SBOMs and the provenance.
    ///
    /// One line per check and arch. Run it in a pipeline before baking, or after copying an
    /// output elsewhere.
    ///
    /// Exit codes: 0 every check holds, 1 one failed (the first is named on stderr) or bad input.
    ///
    /// Example: builder verify dist/containerd --key builder.pub
    Verify(VerifyArgs),
    /// Push an output to an OCI registry: each arch as an artifact (overlay, system extension, manifest.json, SHA256SUMS) with the SBOMs, provenance and signatures as its referrers; several arches as an image index.
    ///
    /// The folder is verified first; blobs the repository holds are not sent again, and the same
    /// output always pushes to the same digests. stdout: the digest, and the `--overlay-url
    /// oci://...@sha256:...` line for a fetch-mode render. user-data and meta-data stay home.
    /// Credentials: BUILDER_REGISTRY_USERNAME/PASSWORD, REGISTRY_AUTH_FILE, or the files
    /// `oras login` / `docker login` write (and their credential helpers).
    ///
    /// Example: builder push dist/containerd registry.example:5000/nodes/containerd:1.36
    Push(PushArgs),
    /// Pull a pushed output back into OUT/PROFILE/ARCH (overlay, rootfs/, manifest, SHA256SUMS, SBOMs, provenance, signatures) and check it as `builder verify` does.
    ///
    /// Every blob is checked against its digest as it arrives, and the folder is verified in a
    /// staging folder; only an output whose every check holds is moved into place.
    ///
    /// Example: builder pull registry.example:5000/nodes/containerd@sha256:<digest> pulled --key builder.pub
    Pull(PullArgs),
    /// Print the shell completion script for SHELL on stdout.
    ///
    /// The script completes subcommands, flags and their fixed values (arches, clouds, output
    /// formats). README "Shell completions and man pages" has the line to install it per shell.
    ///
    /// Example: builder completions bash > ~/.local/share/bash-completion/completions/builder
    Completions(CompletionsArgs),
    /// Write the man pages: builder.1 and one page per subcommand (builder-render.1, ...) into --dir, or builder.1 to stdout.
    ///
    /// Example: builder manpage --dir ~/.local/share/man/man1 && man builder-render
    Manpage(ManpageArgs),
    /// Pin what a profile lacks: fetch upstream's checksum file for each artifact and arch
    /// without a sha256 (in the profile or the built-in catalog), download the artifact, require
    /// the two digests to agree, and write `sha256.ARCH = "<hex>"` into the profile, keeping
    /// its comments and layout. Run it after bumping a version.
    ///
    /// Without --write it prints the lines it would write. Built-in profiles are not edited:
    /// extend them in a file of your own. Docker's static bundles and cri-dockerd publish no
    /// checksum file: they are refused unless --trust-download.
    ///
    /// Example: builder pin --profile profiles/site-nodes.toml --write
    Pin(PinArgs),
    /// Print the JSON Schema of profile files (draft-07), generated from the parser's own types.
    ///
    /// Editors that read `#:schema` directives (taplo, VS Code's Even Better TOML) complete and
    /// check profiles with it; the shipped profiles point at the copy in profiles/schema.json.
    ///
    /// Example: builder schema > profiles/schema.json
    Schema,
}

/// Runs one parsed command line; returns the exit code for success paths.
pub fn run(cli: Cli) -> Result<u8> {
    crate::util::progress::init_log(cli.global.verbose);
    let quiet = cli.global.quiet;
    match cli.command {
        Command::Render(args) => render::run(*args, quiet),
        Command::Profiles(args) => show::profiles(&args),
        Command::Init(args) => init::run(args, quiet),
        Command::Show(args) => show::run(&args, quiet),
        Command::Detect(args) => detect::run(args),
        Command::Hosts(args) => hosts::run(&args),
        Command::Diff(args) => diff::run(args),
        Command::Verify(args) => verify::run(args, quiet),
        Command::Push(args) => registry::push(args, quiet),
        Command::Pull(args) => registry::pull(args, quiet),
        Command::Completions(args) => docs::completions(&args, Cli::command()),
        Command::Manpage(args) => docs::manpage(&args, Cli::command()),
        Command::Pin(args) => pin::run(args, quiet),
        Command::Schema => show::schema(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn mirror_flag_parses_and_rejects() {
        let cli = Cli::try_parse_from([
            "builder",
            "render",
            "--profile",
            "containerd",
            "--mirror",
            "https://github.com/=http://mirror.local/gh/",
        ])
        .unwrap();
        let Command::Render(args) = cli.command else {
            panic!("not render")
        };
        assert_eq!(args.fetch.mirrors.len(), 1);
        assert!(
            Cli::try_parse_from(["builder", "render", "-p", "x", "--mirror", "nothing"]).is_err()
        );
    }

    #[test]
    fn verbose_and_quiet_exclude_each_other() {
        assert!(Cli::try_parse_from(["builder", "-v", "profiles"]).is_ok());
        assert!(Cli::try_parse_from(["builder", "-q", "-v", "profiles"]).is_err());
    }
}
