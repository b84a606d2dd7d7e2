//! The command line: clap definitions (their doc comments are the `--help` text), turned into
//! the library's plain option types, and the dispatch from each subcommand to one library call.
//! Nothing in the library imports this module.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::bootstrap::cloudinit::Cloud;
use crate::build::archive::ArchiveLimits;
use crate::detect::OutputFormat;
use crate::fetch::{FetchOptions, Mirror, NetLimits};
use crate::profile::catalog::Catalog;
use crate::profile::plan::Plan;
use crate::profile::{list, Lookup};
use crate::util::error::Error;
use crate::util::model::{Arch, Compression};
use crate::util::progress::{Mode, Progress};

/// Build verified, reproducible Kubernetes node overlays for the move off dockershim.
///
/// A TOML profile names the Kubernetes minor, the runtime (containerd, or Docker Engine behind
/// cri-dockerd) and every upstream artifact with its sha256 pin; `builder render` turns it into
/// a rootfs tree, a deterministic overlay.tar.gz, a manifest and SHA256SUMS per architecture.
///
/// Exit codes: 0 success, 1 bad input or a failed fetch/verify, 2 internal error
/// (`detect` also uses 3: affected nodes found; `diff` 3: the renders differ).
/// The top-level `--help`'s closing section.
const EXAMPLES: &str = "\
Examples:
  builder profiles                                   # the shipped profiles
  builder show --profile containerd                  # the resolved profile, every pin spelled out
  builder render --profile containerd --arch amd64   # dist/containerd/amd64/{overlay.tar.gz,...}
  builder render --profile cri-dockerd --mirror https://github.com/=https://mirror.example/gh/
  builder render --profile containerd --sign-key builder.key   # + SHA256SUMS.minisig
  builder verify dist/containerd --key builder.pub   # sums, signature, overlay, SBOMs, provenance
  kubectl get nodes -o json | builder detect --nodes -   # nodes still on dockershim (exit 3)

Each command's --help has its options and an example.";

#[derive(Debug, Parser)]
#[command(
    name = "builder",
    version,
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

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print only errors and warnings
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Log each request, retry and cache decision on stderr (as RUST_LOG=builder=debug; without -v, RUST_LOG decides)
    #[arg(long, short, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
}

/// Options of the subcommands that download (`render`): the cache, mirrors, and the bounds
/// of each download. Each has a BUILDER_ env twin where it makes sense in CI.
#[derive(Debug, Args)]
#[command(next_help_heading = "Download options")]
pub struct FetchArgs {
    /// Cache folder for verified downloads (content-addressed by sha256) [default: the user's cache dir + /builder]
    #[arg(long, env = "BUILDER_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Use only the cache: never open a network connection; a missing artifact is an error.
    /// Env BUILDER_OFFLINE: 1, true or yes (0, false, no or empty: online; any case)
    #[arg(long)]
    pub offline: bool,
    /// Rewrite URLs starting with FROM to start with TO (repeatable; the longest FROM wins).
    /// Pins stay the same, so a mirror cannot change the bytes installed. Credentials in TO
    /// (https://user:token@host/) are never printed or stored; pass them through the env
    /// variable (space-separated FROM=TO pairs) to keep them off the command line
    #[arg(long = "mirror", value_name = "FROM=TO", value_parser = parse_mirror,
          env = "BUILDER_MIRROR", value_delimiter = ' ', hide_env_values = true)]
    pub mirrors: Vec<Mirror>,
    /// Attempts per download for transient failures (connection errors, 408, 429, 5xx)
    #[arg(long, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub retries: u32,
    /// Downloads to run at the same time
    #[arg(long, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=32))]
    pub jobs: u32,
    /// Seconds to open a connection (TCP and TLS) before the attempt fails
    #[arg(long, env = "BUILDER_CONNECT_TIMEOUT", default_value_t = 10,
          value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub connect_timeout: u64,
    /// Seconds without a byte (waiting for the response, or between two reads of the body) before the attempt fails
    #[arg(long, env = "BUILDER_READ_TIMEOUT", default_value_t = 30,
          value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub read_timeout: u64,
    /// Fail an attempt whose download is slower than this many bytes a second over --speed-time (0: no check)
    #[arg(
        long,
        env = "BUILDER_SPEED_LIMIT",
        default_value_t = 1024,
        value_name = "BYTES"
    )]
    pub speed_limit: u64,
    /// The window --speed-limit is measured over, in seconds
    #[arg(long, env = "BUILDER_SPEED_TIME", default_value_t = 30,
          value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub speed_time: u64,
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
    /// Rebuild even when the output in --out is up to date or the output cache holds it
    #[arg(long)]
    pub force: bool,
    /// Do not keep or reuse packed outputs in the cache folder (<cache>/outputs-v1)
    #[arg(long)]
    pub no_output_cache: bool,
    /// Largest size of the output cache in bytes; the least recently used outputs go first
    #[arg(long, env = "BUILDER_OUTPUT_CACHE_MAX_BYTES", default_value_t = 2 << 30, value_name = "BYTES")]
    pub output_cache_max_bytes: u64,
    /// Overlay archive: gzip (overlay.tar.gz, the default) or zstd (overlay.tar.zst: faster and smaller; unpacking needs zstd on the image or node)
    #[arg(long, value_enum, default_value_t = Compression::Gzip, env = "BUILDER_COMPRESSION", value_name = "KIND")]
    pub compression: Compression,
    /// Fetch mode: the URL nodes download overlay.tar.gz from at first boot, with {arch} for the architecture; the user-data pins its sha256. Without it, baked mode (the image already holds the overlay)
    #[arg(long, env = "BUILDER_OVERLAY_URL", value_name = "TEMPLATE")]
    pub overlay_url: Option<String>,
    /// What to produce (repeatable or comma-separated): overlay (rootfs/, overlay.tar.gz, user-data; always written) and sysext (adds <profile>-<version>-<arch>.raw, a systemd-sysext image of /usr and /opt, with ignition.json and butane.yaml for Flatcar/Fedora CoreOS)
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "overlay",
        value_name = "FORMAT"
    )]
    pub format: Vec<crate::outputs::sysext::Format>,
    /// With --format sysext: the http(s) URL nodes download the .raw image from, with {arch} for the architecture; ignition.json pins its sha256. Without it the image is embedded in ignition.json, which only fits very small images
    #[arg(long, env = "BUILDER_SYSEXT_URL", value_name = "TEMPLATE")]
    pub sysext_url: Option<String>,
    /// kubeadm join parameters for the user-data: a TOML file with api_server, token, ca_cert_hashes and optionally discovery_timeout (or env BUILDER_JOIN_API_SERVER, BUILDER_JOIN_TOKEN, BUILDER_JOIN_CA_CERT_HASH, optionally BUILDER_JOIN_DISCOVERY_TIMEOUT); the token is never printed or stored anywhere but user-data
    #[arg(long, value_name = "FILE")]
    pub join_config: Option<PathBuf>,
    /// Refuse an archive that unpacks to more than this many bytes (a decompression bomb)
    #[arg(long, env = "BUILDER_ARCHIVE_MAX_BYTES", default_value_t = ArchiveLimits::default().max_bytes, value_name = "BYTES")]
    pub archive_max_bytes: u64,
    /// Refuse an archive with more than this many members
    #[arg(long, env = "BUILDER_ARCHIVE_MAX_MEMBERS", default_value_t = ArchiveLimits::default().max_members, value_name = "N")]
    pub archive_max_members: u64,
    /// Sign each arch's SHA256SUMS with this secret key: a minisign key (`minisign -G`) writes SHA256SUMS.minisig, an OpenSSH Ed25519 or ECDSA private key (`ssh-keygen -t ed25519`; not RSA) SHA256SUMS.sig (SSHSIG, namespace "file"). An encrypted key's passphrase is read from env BUILDER_SIGN_PASSPHRASE only (there is no flag for it); the key is checked before anything is downloaded
    #[arg(long, env = "BUILDER_SIGN_KEY", value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
    /// text: nothing on stdout (progress and results go to stderr); json: one summary on stdout for CI (schema_version 1: per arch the paths, digests and artifacts, and the warnings)
    #[arg(long, short, value_enum, default_value_t = Output::Text, value_name = "FORMAT")]
    pub output: Output,
    // Last, so that its "Download options" heading covers only its own options.
    #[command(flatten)]
    pub fetch: FetchArgs,
}

/// `--output` of `render` and `diff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people
    Text,
    /// One JSON document on stdout, for machines
    Json,
}

/// Options of `builder detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Nodes to check: the output of `kubectl get nodes -o json` (a List, or a single Node); `-` reads standard input
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["kubelet_cmdline", "flags_env", "node_name"])]
    pub nodes: Option<PathBuf>,
    /// The output of `kubectl get pods -A -o json`; pods with a hostPath on the Docker socket pin their node
    /// (and workload) to Docker, so that node gets the cri-dockerd profile; `-` reads standard input.
    /// With --kubelet-cmdline/--flags-env, the node's pods are found by its name (--node-name)
    #[arg(long, value_name = "FILE|-")]
    pub pods: Option<PathBuf>,
    /// Check one node from its kubelet's command line: a copy of /proc/$(pgrep kubelet)/cmdline (NUL-separated)
    #[arg(long, value_name = "FILE")]
    pub kubelet_cmdline: Option<PathBuf>,
    /// Check one node from its /var/lib/kubelet/kubeadm-flags.env (KUBELET_KUBEADM_ARGS="...")
    #[arg(long, value_name = "FILE", conflicts_with = "kubelet_cmdline")]
    pub flags_env: Option<PathBuf>,
    /// With --kubelet-cmdline or --flags-env: the node's name as `kubectl get nodes` shows it, to
    /// match --pods by spec.nodeName and to name it in the report [default: the kubelet's --hostname-override]
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// Output format: a table for people, or JSON (a stable shape with a top-level summary) for machines
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Add, per affected node, the replacement runbook: render, bring up, cordon, drain, delete
    #[arg(long)]
    pub plan: bool,
}

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
    #[arg(long, short, value_enum, default_value_t = Output::Text, value_name = "FORMAT")]
    pub output: Output,
}

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
    #[arg(long, short, value_enum, default_value_t = Output::Text, value_name = "FORMAT")]
    pub output: Output,
}

/// Options of `builder completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Options of `builder manpage`.
#[derive(Debug, Args)]
pub struct ManpageArgs {
    /// Write builder.1 and builder-SUBCOMMAND.1 into this folder (created if missing) instead of builder.1 to stdout
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
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
    // Last, so that its "Download options" heading covers only its own options.
    #[command(flatten)]
    pub fetch: FetchArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A shipped profile's name (./profiles/NAME.toml, then built in) or a path to a .toml file
    #[arg(long, short, value_name = "NAME|FILE")]
    pub profile: String,
}

#[derive(Debug, Args)]
pub struct HostsArgs {
    /// A shipped profile's name (./profiles/NAME.toml, then built in) or a path to a .toml file
    #[arg(long, short, value_name = "NAME|FILE")]
    pub profile: String,
    /// A mirror already in use, as render takes it (repeatable): its FROM is printed with its TO
    #[arg(long = "mirror", value_name = "FROM=TO", value_parser = parse_mirror,
          env = "BUILDER_MIRROR", value_delimiter = ' ', hide_env_values = true)]
    pub mirrors: Vec<Mirror>,
}

fn parse_mirror(s: &str) -> Result<Mirror, String> {
    Mirror::parse(s)
}

/// A yes/no environment variable: 1/0, true/false, yes/no (any case); unset or empty is no.
/// A bad value is an error naming the variable (the user set it, not a flag).
fn env_flag(name: &str) -> Result<bool> {
    let Some(raw) = std::env::var_os(name) else {
        return Ok(false);
    };
    let value = raw.to_string_lossy();
    parse_flag_value(&value).ok_or_else(|| {
        Error::Input(format!(
            "environment variable {name}={value:?} is not a yes/no value; set it to 1, true or yes \
             (or 0, false, no, or unset it)"
        ))
        .into()
    })
}

fn parse_flag_value(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Some(true),
        "0" | "false" | "no" | "" => Some(false),
        _ => None,
    }
}

impl FetchArgs {
    /// The library's fetch options; `quiet` is the global `-q`.
    pub fn fetch_options(&self, quiet: bool) -> Result<FetchOptions> {
        let cache_dir = match &self.cache_dir {
            Some(dir) => dir.clone(),
            None => crate::fetch::cache::default_dir()?,
        };
        let logging = tracing::dispatcher::has_been_set();
        Ok(FetchOptions {
            cache_dir,
            offline: self.offline || env_flag("BUILDER_OFFLINE")?,
            mirrors: self.mirrors.clone(),
            attempts: self.retries,
            jobs: self.jobs as usize,
            quiet,
            progress: Progress::new(Mode::for_stderr(quiet, logging)),
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
            sign_key: self.sign_key,
            formats: self.format,
            sysext_url: self.sysext_url,
            archive_limits: ArchiveLimits {
                max_bytes: self.archive_max_bytes,
                max_members: self.archive_max_members,
            },
            compression: self.compression,
            force: self.force,
            output_cache: (!self.no_output_cache).then_some(self.output_cache_max_bytes),
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
            node_name: self.node_name,
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

/// `builder hosts`: one `--mirror FROM=TO` line per prefix a render fetches from.
fn print_hosts(spec: &str, mirrors: &[Mirror]) -> Result<()> {
    let profile = Lookup::default().load(spec)?;
    for w in &profile.warnings {
        eprintln!("warning: {w}");
    }
    let name = profile.name.clone();
    let prefixes =
        crate::fetch::hosts::of_plan(&Plan::resolve(profile, &Catalog::builtin()?)?, mirrors)?;
    if prefixes.is_empty() {
        eprintln!("note: profile {name} fetches nothing over the network (only file:// URLs)");
    }
    for p in prefixes {
        println!("{}", p.mirror_line());
    }
    Ok(())
}

/// `builder completions SHELL`: the script, generated from the definitions above.
fn print_completions(shell: clap_complete::Shell) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "builder", &mut script);
    crate::util::stdout::print_text(&String::from_utf8_lossy(&script))
}

/// Every man page: (file name, roff text), builder.1 first, then one per visible subcommand
/// (global options included in each).
pub fn man_pages() -> Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let page = |cmd: clap::Command| -> Result<(String, Vec<u8>)> {
        let man = clap_mangen::Man::new(cmd);
        let mut roff = Vec::new();
        man.render(&mut roff)
            .map_err(|e| crate::Error::Internal(format!("cannot render a man page: {e}")))?;
        Ok((man.get_filename(), roff))
    };
    let mut pages = vec![page(cmd.clone())?];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push(page(sub.clone())?);
    }
    Ok(pages)
}

/// `builder manpage [--dir DIR]`. Each page is written beside its final name and renamed
/// into place, so a failure never leaves a half-written page.
fn write_man_pages(dir: Option<&std::path::Path>) -> Result<()> {
    let pages = man_pages()?;
    let Some(dir) = dir else {
        return crate::util::stdout::print_text(&String::from_utf8_lossy(&pages[0].1));
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the man page folder {}", dir.display()))?;
    for (name, roff) in &pages {
        let path = dir.join(name);
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
        std::io::Write::write_all(&mut tmp, roff)
            .with_context(|| format!("writing {}", path.display()))?;
        tmp.persist(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        // NamedTempFile is created 0600; a man page is for everyone to read.
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
    }
    Ok(())
}

/// Runs one parsed command line; returns the exit code for success paths.
pub fn run(cli: Cli) -> Result<u8> {
    crate::util::progress::init_log(cli.global.verbose);
    match cli.command {
        Command::Render(args) => {
            let fetch = args.fetch.fetch_options(cli.global.quiet)?;
            let output = args.output;
            let summary = crate::render::run(&args.options(), &fetch)?;
            if output == Output::Json {
                crate::util::stdout::print_json(&summary)?;
            }
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
        Command::Hosts(args) => {
            print_hosts(&args.profile, &args.mirrors)?;
            Ok(0)
        }
        Command::Diff(args) => crate::diff::run(&crate::diff::Options {
            old: args.old,
            new: args.new,
            json: args.output == Output::Json,
        }),
        Command::Verify(args) => crate::verify::run(&crate::verify::Options {
            dir: args.dir,
            keys: args.key,
            json: args.output == Output::Json,
        }),
        Command::Completions(args) => {
            print_completions(args.shell)?;
            Ok(0)
        }
        Command::Manpage(args) => {
            write_man_pages(args.dir.as_deref())?;
            Ok(0)
        }
        Command::Pin(args) => {
            let fetch = args.fetch.fetch_options(cli.global.quiet)?;
            let opts = crate::profile::pin::Options {
                profile: args.profile,
                write: args.write,
                trust_download: args.trust_download,
            };
            crate::profile::pin::run(&opts, &fetch)?;
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
        let Command::Render(args) = cli.command else {
            panic!("not render")
        };
        assert_eq!(args.fetch.mirrors.len(), 1);
        assert!(
            Cli::try_parse_from(["builder", "render", "-p", "x", "--mirror", "nothing"]).is_err()
        );
    }

    #[test]
    fn yes_no_values() {
        for v in ["1", "true", "TRUE", "Yes", " yes "] {
            assert_eq!(parse_flag_value(v), Some(true), "{v}");
        }
        for v in ["0", "false", "False", "NO", ""] {
            assert_eq!(parse_flag_value(v), Some(false), "{v}");
        }
        for v in ["2", "on", "maybe", "ture"] {
            assert_eq!(parse_flag_value(v), None, "{v}");
        }
    }

    #[test]
    fn verbose_and_quiet_exclude_each_other() {
        assert!(Cli::try_parse_from(["builder", "-v", "profiles"]).is_ok());
        assert!(Cli::try_parse_from(["builder", "-q", "-v", "profiles"]).is_err());
    }
}
