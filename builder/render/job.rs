//! What the stages of a render share: the options ([`Options`]), the context they report
//! through ([`Context`]), the checked inputs `prepare` hands on ([`Prepared`]), the render as a
//! whole ([`Render`], whose methods are the stages), and an arch's two folders ([`Dirs`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::output_cache;
use crate::bootstrap::cloudinit::user_data::UserDataArgs;
use crate::bootstrap::cloudinit::{Cloud, JoinParams, RegistrySource};
use crate::build::archive::ArchiveLimits;
use crate::fetch::FetchOptions;
use crate::outputs::manifest::ProfileRef;
use crate::outputs::sign::SigningKey;
use crate::profile::plan::Plan;
use crate::util::digest::Sha256;
use crate::util::model::{Arch, Compression, KubeMinor};
use crate::util::progress::Progress;

/// What to render and where: the command line's `render` options, as plain values.
#[derive(Debug, Clone)]
pub struct Options {
    /// A shipped profile's name or a path to a .toml file.
    pub profile: String,
    /// The arches to render; empty for every arch the profile lists.
    pub arches: Vec<Arch>,
    /// The output folder; each arch goes to OUT/<profile>/<arch>/.
    pub out: PathBuf,
    /// `--kubernetes`: the minor to render for instead of the profile's.
    pub kubernetes: Option<KubeMinor>,
    /// `--allow-unsupported`: a runtime outside the compatibility table is a warning.
    pub allow_unsupported: bool,
    /// The mtime of every archive entry.
    pub source_date_epoch: u64,
    /// The cloud whose user-data size limit applies.
    pub cloud: Cloud,
    /// Fetch mode's overlay URL template (`{arch}`), or an `oci://REGISTRY/REPO@sha256:DIGEST`
    /// artifact; `None` for baked mode.
    pub overlay_url: Option<String>,
    /// With an `oci://` overlay URL: mirrors the node tries first (`http(s)://host[:port][/prefix]`).
    pub overlay_mirrors: Vec<String>,
    /// How to reach the registry an `oci://` overlay URL (or the output cache URL) names.
    pub registry: crate::oci::RegistryOptions,
    /// `--output-cache-url oci://REGISTRY/REPO`: an output cache shared through a registry.
    pub output_cache_url: Option<String>,
    /// kubeadm join parameters from a file; without it, from the environment (if set).
    pub join_config: Option<PathBuf>,
    /// The secret key that signs each arch's SHA256SUMS (passphrase: env
    /// `BUILDER_SIGN_PASSPHRASE`); `None` for no signature.
    pub sign_key: Option<PathBuf>,
    /// How much one archive may unpack to.
    pub archive_limits: ArchiveLimits,
    /// How the overlay archive is compressed.
    pub compression: Compression,
    /// Rebuild even when the output is up to date or the output cache has it.
    pub force: bool,
    /// Keep and reuse outputs in the cache (`<cache>/outputs-v1`), up to this many bytes;
    /// `None` turns the output cache off.
    pub output_cache: Option<u64>,
    /// `--format`: what to produce besides the overlay (`sysext`).
    pub formats: Vec<crate::outputs::sysext::Format>,
    /// `--sysext-url` template (`{arch}`); `None` embeds the image in ignition.json.
    pub sysext_url: Option<String>,
}

/// What the stages report through and keep between arches, apart from what to render
/// ([`Options`]) and how to download ([`FetchOptions`]).
pub(super) struct Context<'a> {
    pub(super) progress: &'a Progress,
    /// `-q`: no notes on stderr.
    pub(super) quiet: bool,
    /// `--offline`: no registry is contacted.
    pub(super) offline: bool,
    /// `None` with `--no-output-cache`, and for sysext renders (their image is cut from the
    /// rootfs as built, so they always build; the up-to-date check still applies).
    pub(super) output_cache: Option<output_cache::OutputCache>,
}

/// One render's fixed inputs, which every stage after `prepare` reads.
pub(super) struct Render<'a> {
    pub(super) opts: &'a Options,
    pub(super) fetch: &'a FetchOptions,
    pub(super) cx: Context<'a>,
    pub(super) job: Prepared,
}

/// What `prepare` hands on: the checked inputs of the render.
pub(super) struct Prepared {
    pub(super) plan: Plan,
    /// In the order rendered (the profile's `arch` order, or the `--arch` order).
    pub(super) arches: Vec<Arch>,
    pub(super) join: Option<JoinParams>,
    pub(super) signer: Option<SigningKey>,
    /// Each arch's input digest (see `reuse`).
    pub(super) digests: BTreeMap<Arch, Sha256>,
    /// An `oci://` overlay URL: the artifact, and where nodes fetch its overlay blob from.
    pub(super) overlay_source: Option<(crate::oci::Reference, RegistrySource)>,
    /// `--output-cache-url`'s repository (none offline, for sysext renders and without it).
    pub(super) registry_cache: Option<crate::oci::Reference>,
}

impl Prepared {
    /// The cloud-init side's inputs.
    pub fn user_data<'a>(&'a self, opts: &'a Options) -> UserDataArgs<'a> {
        UserDataArgs {
            cloud: opts.cloud,
            overlay_url: opts.overlay_url.as_deref(),
            registry: self.overlay_source.as_ref().map(|(_, s)| s),
            join: self.join.as_ref(),
        }
    }
}

/// Where an arch's files are written (the staging folder) and where they end up once the
/// render commits (OUT/<profile>/<arch>): the summary names the latter.
pub(super) struct Dirs {
    pub(super) staged: PathBuf,
    pub(super) last: PathBuf,
}

/// The profile's name and digest, as the manifest and the summary give them.
pub(super) fn profile_ref(plan: &Plan) -> ProfileRef {
    ProfileRef {
        name: plan.profile.name.clone(),
        sha256: plan.profile_sha256.into(),
    }
}

pub(super) fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    use anyhow::Context as _;
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}
