//! `builder render`: its options, their conversion into `render::Options`, the call, and the
//! JSON summary on stdout with `--output json`. The stages themselves live in `crate::render`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::options::{ArchParser, FetchArgs, Output, OutputParser};
use super::registry::RegistryArgs;
use crate::bootstrap::cloudinit::Cloud;
use crate::build::archive::ArchiveLimits;
use crate::util::model::{Arch, Compression, KubeMinor};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A shipped profile's name (./profiles/NAME.toml, then built in) or a path to a .toml file
    #[arg(long, short, value_name = "NAME|FILE")]
    pub profile: String,
    /// Render only this architecture (repeatable or comma-separated) [default: every arch the profile lists]
    #[arg(long, value_name = "ARCH", value_delimiter = ',', value_parser = ArchParser)]
    pub arch: Vec<Arch>,
    /// Output folder; each arch goes to OUT/<profile>/<arch>/
    #[arg(long, default_value = "dist", value_name = "DIR")]
    pub out: PathBuf,
    /// Render for this Kubernetes minor instead of the profile's (1.N): the kubelet flags and pause image follow it, and a runtime the profile takes from the built-in catalog (containerd, cri-dockerd; crictl of that minor) is swapped for the newest pinned release its project supports with that minor
    #[arg(long, env = "BUILDER_KUBERNETES", value_name = "MINOR")]
    pub kubernetes: Option<KubeMinor>,
    /// Render even when the profile pairs a runtime with a Kubernetes minor its project does not support (a warning instead of an error)
    #[arg(long, env = "BUILDER_ALLOW_UNSUPPORTED", value_parser = clap::builder::BoolishValueParser::new())]
    pub allow_unsupported: bool,
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
    /// An output cache shared through a registry, oci://REGISTRY/REPOSITORY: an arch whose input digest is tagged there (in-sha256-HEX) is taken from it, proven as a local entry is, instead of built; an arch built is pushed there. Credentials as for `builder push`
    #[arg(long, env = "BUILDER_OUTPUT_CACHE_URL", value_name = "URL")]
    pub output_cache_url: Option<String>,
    /// Largest size of the output cache in bytes; the least recently used outputs go first
    #[arg(long, env = "BUILDER_OUTPUT_CACHE_MAX_BYTES", default_value_t = 2 << 30, value_name = "BYTES")]
    pub output_cache_max_bytes: u64,
    /// Overlay archive: gzip (overlay.tar.gz, the default) or zstd (overlay.tar.zst: faster and smaller; unpacking needs zstd on the image or node)
    #[arg(long, value_enum, default_value_t = Compression::Gzip, env = "BUILDER_COMPRESSION", value_name = "KIND")]
    pub compression: Compression,
    /// Fetch mode: the URL nodes download overlay.tar.gz from at first boot, with {arch} for the architecture; the user-data pins its sha256. Without it, baked mode (the image already holds the overlay)
    ///
    /// Or oci://REGISTRY/REPOSITORY@sha256:DIGEST, the artifact `builder push` printed: the node fetches this arch's overlay blob from the registry by digest (curl; anonymous, a Bearer token, or the credentials in /etc/builder/registry-auth on the image), and the render first checks that the artifact holds the overlay it made (not with --offline, which contacts no registry)
    #[arg(long, env = "BUILDER_OVERLAY_URL", value_name = "TEMPLATE")]
    pub overlay_url: Option<String>,
    /// With an oci:// --overlay-url: a registry mirror the node tries before the registry itself, http(s)://HOST[:PORT][/PREFIX] serving the same repositories (repeatable, tried in order)
    #[arg(long, value_name = "URL")]
    pub overlay_mirror: Vec<String>,
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
    #[arg(long, short, value_parser = OutputParser, default_value = "text", value_name = "FORMAT")]
    pub output: Output,
    #[command(flatten)]
    pub registry: RegistryArgs,
    // Last, so that its "Download options" heading covers only its own options.
    #[command(flatten)]
    pub fetch: FetchArgs,
}

impl RenderArgs {
    fn options(self) -> crate::render::Options {
        crate::render::Options {
            profile: self.profile,
            arches: self.arch,
            out: self.out,
            kubernetes: self.kubernetes,
            allow_unsupported: self.allow_unsupported,
            source_date_epoch: self.source_date_epoch,
            cloud: self.cloud,
            overlay_url: self.overlay_url,
            overlay_mirrors: self.overlay_mirror,
            output_cache_url: self.output_cache_url,
            registry: self.registry.options(),
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

/// Runs `builder render`; `quiet` is the global `-q`.
pub(super) fn run(args: RenderArgs, quiet: bool) -> Result<u8> {
    let fetch = args.fetch.fetch_options(quiet)?;
    let output = args.output;
    crate::util::interrupt::install(format!("render of profile {}", args.profile))?;
    let summary = crate::render::run(&args.options(), &fetch)?;
    if output == Output::Json {
        crate::util::stdout::print_json(&summary)?;
    }
    Ok(0)
}
