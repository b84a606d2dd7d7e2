//! The command line: clap definitions (their doc comments are the `--help` text), turned into
//! the library's plain option types, and the dispatch from each subcommand to one library call.
//! Nothing in the library imports this module.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::archive::ArchiveLimits;
use crate::catalog::Catalog;
use crate::cloudinit::Cloud;
use crate::detect::OutputFormat;
use crate::fetch::{FetchOptions, Mirror, NetLimits};
use crate::model::Arch;
use crate::plan::Plan;
use crate::profile::{list, Lookup};

/// Build verified, reproducible Kubernetes node overlays for the move off dockershim.
///
/// A TOML profile names the Kubernetes minor, the runtime (containerd, or Docker Engine behind
/// cri-dockerd) and every upstream artifact with its sha256 pin; `builder render` turns it into
/// a rootfs tree, a deterministic overlay.tar.gz, a manifest and SHA256SUMS per architecture.
///
/// Exit codes: 0 success, 1 bad input or a failed fetch/verify, 2 internal error
/// (`detect` also uses 3: affected nodes found).
#[derive(Debug, Parser)]
#[command(name = "builder", version, help_expected = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every subcommand that fetches.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Cache folder for verified downloads (content-addressed by sha256) [default: the user's cache dir + /builder]
    #[arg(long, global = true, env = "BUILDER_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Use only the cache: never open a network connection; a missing artifact is an error
    #[arg(long, global = true, env = "BUILDER_OFFLINE")]
    pub offline: bool,
    /// Rewrite URLs starting with FROM to start with TO (repeatable; the longest FROM wins).
    /// Pins stay the same, so a mirror cannot change the bytes installed. Credentials in TO
    /// (https://user:token@host/) are never printed or stored; pass them through the env
    /// variable (space-separated FROM=TO pairs) to keep them off the command line
    #[arg(long = "mirror", global = true, value_name = "FROM=TO", value_parser = parse_mirror,
          env = "BUILDER_MIRROR", value_delimiter = ' ', hide_env_values = true)]
    pub mirrors: Vec<Mirror>,
    /// Attempts per download for transient failures (connection errors, 408, 429, 5xx)
    #[arg(long, global = true, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub retries: u32,
    /// Downloads to run at the same time
    #[arg(long, global = true, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=32))]
    pub jobs: u32,
    /// Seconds to open a connection (TCP and TLS) before the attempt fails
    #[arg(long, global = true, env = "BUILDER_CONNECT_TIMEOUT", default_value_t = 10,
          value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub connect_timeout: u64,
    /// Seconds without a byte (waiting for the response, or between two reads of the body) before the attempt fails
    #[arg(long, global = true, env = "BUILDER_READ_TIMEOUT", default_value_t = 30,
          value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub read_timeout: u64,
    /// Fail an attempt whose download is slower than this many bytes a second over --speed-time (0: no check)
    #[arg(
        long,
        global = true,
        env = "BUILDER_SPEED_LIMIT",
        default_value_t = 1024,
        value_name = "BYTES"
    )]
    pub speed_limit: u64,
    /// The window --speed-limit is measured over, in seconds
    #[arg(long, global = true, env = "BUILDER_SPEED_TIME", default_value_t = 30,
          value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub speed_time: u64,
    /// Print only errors and warnings
    #[arg(long, short, global = true)]
    pub quiet: bool,
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
    Render(RenderArgs),
    /// List the shipped profiles (./profiles, then those built into the binary) with their description.
    ///
    /// Example: builder profiles
    Profiles,
    /// Print the resolved profile (after `extends`) with every pin, per architecture, as TOML.
    ///
    /// Example: builder show --profile containerd
    Show(ShowArgs),
    /// Find the nodes still on dockershim in `kubectl get nodes -o json` and say which profile replaces each.
    ///
    /// Exit codes: 0 nothing affected, 3 affected nodes found, 1 bad input.
    ///
    /// Example: kubectl get nodes -o json | builder detect --nodes -
    Detect(DetectArgs),
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

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A shipped profile's name (./profiles/NAME.toml, then built in) or a path to a .toml file
    #[arg(long, short, value_name = "NAME|FILE")]
    pub profile: String,
    /// Render only this architecture (repeatable) [default: every arch the profile lists]
    #[arg(long, value_name = "ARCH")]
    pub arch: Vec<Arch>,
    /// Output folder; each arch goes to OUT/<profile>/<arch>/
    #[arg(long, default_value = "dist", value_name = "DIR")]
    pub out: PathBuf,
    /// mtime of every archive entry (seconds since the epoch); 0 when unset
    #[arg(
        long,
        env = "SOURCE_DATE_EPOCH",
        default_value_t = 0,
        value_name = "SECONDS"
    )]
    pub source_date_epoch: u64,
    /// Size limit the user-data must fit: aws (16384 bytes raw), azure (65535), gcp or generic (262144); gzipped when that makes it fit
    #[arg(long, value_enum, default_value_t = Cloud::Generic, env = "BUILDER_CLOUD", value_name = "CLOUD")]
    pub cloud: Cloud,
    /// Fetch mode: the URL nodes download overlay.tar.gz from at first boot, with {arch} for the architecture; the user-data pins its sha256. Without it, baked mode (the image already holds the overlay)
    #[arg(long, env = "BUILDER_OVERLAY_URL", value_name = "TEMPLATE")]
    pub overlay_url: Option<String>,
    /// kubeadm join parameters for the user-data: a TOML file with api_server, token, ca_cert_hashes and optionally discovery_timeout (or env BUILDER_JOIN_API_SERVER, BUILDER_JOIN_TOKEN, BUILDER_JOIN_CA_CERT_HASH, optionally BUILDER_JOIN_DISCOVERY_TIMEOUT); the token is never printed or stored anywhere but user-data
    #[arg(long, value_name = "FILE")]
    pub join_config: Option<PathBuf>,
    /// Refuse an archive that unpacks to more than this many bytes (a decompression bomb)
    #[arg(long, env = "BUILDER_ARCHIVE_MAX_BYTES", default_value_t = ArchiveLimits::default().max_bytes, value_name = "BYTES")]
    pub archive_max_bytes: u64,
    /// Refuse an archive with more than this many members
    #[arg(long, env = "BUILDER_ARCHIVE_MAX_MEMBERS", default_value_t = ArchiveLimits::default().max_members, value_name = "N")]
    pub archive_max_members: u64,
}

/// Options of `builder detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Nodes to check: the output of `kubectl get nodes -o json` (a List, or a single Node); `-` reads standard input
    #[arg(long, value_name = "FILE|-",
          required_unless_present_any = ["kubelet_cmdline", "flags_env"],
          conflicts_with_all = ["kubelet_cmdline", "flags_env"])]
    pub nodes: Option<PathBuf>,
    /// The output of `kubectl get pods -A -o json`; pods with a hostPath on the Docker socket pin their node
    /// (and workload) to Docker, so that node gets the cri-dockerd profile; `-` reads standard input
    #[arg(long, value_name = "FILE|-", requires = "nodes")]
    pub pods: Option<PathBuf>,
    /// Check one node from its kubelet's command line: a copy of /proc/$(pgrep kubelet)/cmdline (NUL-separated)
    #[arg(long, value_name = "FILE")]
    pub kubelet_cmdline: Option<PathBuf>,
    /// Check one node from its /var/lib/kubelet/kubeadm-flags.env (KUBELET_KUBEADM_ARGS="...")
    #[arg(long, value_name = "FILE", conflicts_with = "kubelet_cmdline")]
    pub flags_env: Option<PathBuf>,
    /// Output format: a table for people, or JSON (a stable shape with a top-level summary) for machines
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Add, per affected node, the replacement runbook: render, bring up, cordon, drain, delete
    #[arg(long)]
    pub plan: bool,
}

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
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A shipped profile's name (./profiles/NAME.toml, then built in) or a path to a .toml file
    #[arg(long, short, value_name = "NAME|FILE")]
    pub profile: String,
}

fn parse_mirror(s: &str) -> Result<Mirror, String> {
    Mirror::parse(s)
}

impl GlobalArgs {
    pub fn fetch_options(&self) -> Result<FetchOptions> {
        let cache_dir = match &self.cache_dir {
            Some(dir) => dir.clone(),
            None => crate::cache::default_dir()?,
        };
        Ok(FetchOptions {
            cache_dir,
            offline: self.offline,
            mirrors: self.mirrors.clone(),
            attempts: self.retries,
            jobs: self.jobs as usize,
            quiet: self.quiet,
            limits: NetLimits {
                connect: Duration::from_secs(self.connect_timeout),
                read: Duration::from_secs(self.read_timeout),
                speed_limit: self.speed_limit,
                speed_time: Duration::from_secs(self.speed_time),
            },
        })
    }
}

impl RenderArgs {
    fn options(self) -> crate::render::Options {
        crate::render::Options {
            profile: self.profile,
            arches: self.arch,
            out: self.out,
            source_date_epoch: self.source_date_epoch,
            cloud: self.cloud,
            overlay_url: self.overlay_url,
            join_config: self.join_config,
            archive_limits: ArchiveLimits {
                max_bytes: self.archive_max_bytes,
                max_members: self.archive_max_members,
            },
        }
    }
}

impl DetectArgs {
    fn options(self) -> crate::detect::Options {
        crate::detect::Options {
            nodes: self.nodes,
            pods: self.pods,
            kubelet_cmdline: self.kubelet_cmdline,
            flags_env: self.flags_env,
            output: self.output,
            plan: self.plan,
        }
    }
}

/// `builder profiles`: one line per profile.
fn print_profiles() -> Result<()> {
    let rows = list(&Lookup::default())?;
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    println!("{:width$}  {:28}  DESCRIPTION", "NAME", "FROM");
    for r in rows {
        println!("{:width$}  {:28}  {}", r.name, r.origin, r.description);
    }
    Ok(())
}

/// `builder show`: the resolved profile.
fn print_show(spec: &str) -> Result<()> {
    let profile = Lookup::default().load(spec)?;
    for w in &profile.warnings {
        eprintln!("warning: {w}");
    }
    print!(
        "{}",
        Plan::resolve(profile, &Catalog::builtin()?)?.show_text()
    );
    Ok(())
}

/// Runs one parsed command line; returns the exit code for success paths.
pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Render(args) => {
            let fetch = cli.global.fetch_options()?;
            crate::render::run(&args.options(), &fetch)?;
            Ok(0)
        }
        Command::Profiles => {
            print_profiles()?;
            Ok(0)
        }
        Command::Show(args) => {
            print_show(&args.profile)?;
            Ok(0)
        }
        Command::Detect(args) => crate::detect::run(&args.options()),
        Command::Pin(args) => {
            let fetch = cli.global.fetch_options()?;
            let opts = crate::pin::Options {
                profile: args.profile,
                write: args.write,
                trust_download: args.trust_download,
            };
            crate::pin::run(&opts, &fetch)?;
            Ok(0)
        }
        Command::Schema => {
            print!("{}", crate::profile::json_schema());
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

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
        assert_eq!(cli.global.mirrors.len(), 1);
        assert!(
            Cli::try_parse_from(["builder", "render", "-p", "x", "--mirror", "nothing"]).is_err()
        );
    }
}
