//! Profiles: finding them (./profiles, built-in, or a path), strict parsing of schema 1 with
//! file:line:column errors, `extends` merging, and validation into the types the rest of the
//! code uses. Pins are resolved here too (profile first, then the built-in catalog).
//!
//! It does not fetch anything and does not know how a runtime is configured.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use include_dir::{include_dir, Dir};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::catalog::Catalog;
use crate::error::Error;

/// The only schema this builder reads.
pub const SCHEMA: i64 = 1;

/// Profiles shipped inside the binary, so `--profile containerd` works from any folder.
static BUILTIN_PROFILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/profiles");

/// Kubernetes minors below this are not targets: their kubelets predate the flags we write.
const OLDEST_MINOR: u32 = 20;

// ---------------------------------------------------------------------------------------------
// Where a value came from, for error messages.

/// A profile's text and the name to show for it.
#[derive(Debug)]
pub struct Source {
    /// A path, or `<built-in>/NAME.toml`.
    pub name: String,
    /// The folder relative paths in it (`extends = "./base.toml"`) are resolved from.
    pub dir: Option<PathBuf>,
    pub text: String,
}

/// A span inside a source: renders as `file:line:column`.
#[derive(Debug, Clone)]
pub struct Loc {
    pub src: Arc<Source>,
    pub span: Range<usize>,
}

impl Loc {
    fn new<T>(src: &Arc<Source>, v: &Spanned<T>) -> Loc {
        Loc {
            src: src.clone(),
            span: v.span(),
        }
    }

    /// 1-based line and column of the span's start.
    pub fn line_col(&self) -> (usize, usize) {
        line_col(&self.src.text, self.span.start)
    }

    /// An error at this location: `file:line:col: what`.
    pub fn error(&self, what: impl fmt::Display) -> anyhow::Error {
        Error::Profile(format!("{self}: {what}")).into()
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (line, col) = self.line_col();
        write!(f, "{}:{line}:{col}", self.src.name)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

// ---------------------------------------------------------------------------------------------
// Validated types.

/// A CPU architecture, spelled as Kubernetes and the release assets spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Amd64,
    Arm64,
    Ppc64le,
    S390x,
}

impl Arch {
    pub const ALL: [Arch; 4] = [Arch::Amd64, Arch::Arm64, Arch::Ppc64le, Arch::S390x];

    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
            Arch::Ppc64le => "ppc64le",
            Arch::S390x => "s390x",
        }
    }

    /// The kernel's name (`uname -m`), used by Docker's static downloads.
    pub fn uname(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64",
            Arch::Arm64 => "aarch64",
            Arch::Ppc64le => "ppc64le",
            Arch::S390x => "s390x",
        }
    }

    pub fn parse(s: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The container runtime the node runs pods through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Runtime {
    #[serde(rename = "containerd")]
    Containerd,
    #[serde(rename = "cri-dockerd")]
    CriDockerd,
}

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::CriDockerd => "cri-dockerd",
        }
    }
}

/// A Kubernetes minor version, `1.N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KubeMinor(pub u32);

impl fmt::Display for KubeMinor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}", self.0)
    }
}

/// `[containerd]` settings.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerdSettings {
    /// The pause image the CRI plugin pins.
    pub sandbox_image: String,
    /// Use systemd to manage pod cgroups (kubeadm's default cgroup driver since 1.22).
    pub systemd_cgroup: bool,
    /// The registry hosts folder (`hosts.toml` per registry).
    pub config_path: String,
}

/// `[docker]` settings (the cri-dockerd runtime).
#[derive(Debug, Clone, Serialize)]
pub struct DockerSettings {
    /// The pause image cri-dockerd starts pods with.
    pub sandbox_image: String,
    /// Use the systemd cgroup driver.
    pub systemd_cgroup: bool,
    /// json-file log rotation: the size of one file.
    pub log_max_size: String,
    /// json-file log rotation: how many files to keep.
    pub log_max_file: u32,
}

/// `[kubelet]` settings.
#[derive(Debug, Clone, Serialize)]
pub struct KubeletSettings {
    /// Extra kubelet flags, without the leading `--`.
    pub extra_args: BTreeMap<String, String>,
}

/// One `install` rule of an artifact.
#[derive(Debug, Clone)]
pub struct InstallRule {
    /// Glob over archive members (`bin/*`); `None` for a bare file.
    pub from: Option<String>,
    pub matcher: Option<globset::GlobMatcher>,
    /// Absolute target; a trailing `/` means "into this folder, keeping the member's file name".
    pub to: String,
    pub mode: u32,
    pub loc: Loc,
}

/// A sha256 pin from a profile: for every arch, or per arch.
#[derive(Debug, Clone, Default)]
pub struct Pins {
    pub any: Option<String>,
    pub per_arch: BTreeMap<Arch, String>,
}

/// One upstream artifact to fetch, verify and install.
#[derive(Debug, Clone)]
pub struct Artifact {
    pub name: String,
    pub version: String,
    /// URL template with `{version}`, `{arch}`, `{uname_arch}`.
    pub url: String,
    pub pins: Pins,
    pub install: Vec<InstallRule>,
    pub loc: Loc,
}

/// What kind of file an artifact's URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    TarGz,
    Tar,
    File,
}

impl Artifact {
    pub fn url_for(&self, arch: Arch) -> String {
        expand_url(&self.url, &self.version, arch)
    }

    pub fn kind(&self) -> ArtifactKind {
        let path = self.url.split(['?', '#']).next().unwrap_or("");
        if path.ends_with(".tar.gz") || path.ends_with(".tgz") {
            ArtifactKind::TarGz
        } else if path.ends_with(".tar") {
            ArtifactKind::Tar
        } else {
            ArtifactKind::File
        }
    }

    /// The pinned sha256 for one arch: the profile's pin, else the catalog's.
    pub fn pin(&self, arch: Arch, catalog: &Catalog) -> Result<Pin> {
        if let Some(hex) = self.pins.per_arch.get(&arch).or(self.pins.any.as_ref()) {
            return Ok(Pin {
                sha256: hex.clone(),
                origin: PinOrigin::Profile,
            });
        }
        if let Some(hex) = catalog.lookup(&self.name, &self.version, arch.as_str()) {
            return Ok(Pin {
                sha256: hex.to_string(),
                origin: PinOrigin::Catalog,
            });
        }
        let url = self.url_for(arch);
        if let Some(hex) = catalog.lookup_url(&url) {
            return Ok(Pin {
                sha256: hex.to_string(),
                origin: PinOrigin::Catalog,
            });
        }
        Err(self.loc.error(format_args!(
            "artifact {} {} has no sha256 pin for {arch}, and the built-in catalog does not know it; \
             every fetched byte must be verified, so pin it: add `sha256.{arch} = \"<hex>\"` (or `sha256 = \"<hex>\"` \
             for every arch) to this [[artifact]], with the digest from the upstream release's checksum file for {url}",
            self.name, self.version
        )))
    }
}

/// A resolved pin and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub sha256: String,
    pub origin: PinOrigin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinOrigin {
    Profile,
    Catalog,
}

/// A folder under overlays/ copied into the rootfs.
#[derive(Debug, Clone)]
pub struct OverlayRef {
    pub name: String,
    pub loc: Loc,
}

/// A validated, fully merged profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub kubernetes: KubeMinor,
    pub runtime: Runtime,
    pub arches: Vec<Arch>,
    pub overlays: Vec<OverlayRef>,
    pub containerd: ContainerdSettings,
    pub docker: DockerSettings,
    pub kubelet: KubeletSettings,
    pub artifacts: Vec<Artifact>,
    /// Folders to search for overlays before ./overlays and the built-in ones.
    pub overlay_dirs: Vec<PathBuf>,
    /// Warnings found while validating (printed by the caller).
    pub warnings: Vec<String>,
}

impl Profile {
    pub fn artifact(&self, name: &str) -> Option<&Artifact> {
        self.artifacts.iter().find(|a| a.name == name)
    }
}

pub fn expand_url(template: &str, version: &str, arch: Arch) -> String {
    template
        .replace("{version}", version)
        .replace("{arch}", arch.as_str())
        .replace("{uname_arch}", arch.uname())
}

// ---------------------------------------------------------------------------------------------
// Raw (per-file) structs: everything optional so `extends` can fill gaps.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    // Checked (with its location) by parse_raw before this struct is read.
    #[serde(rename = "schema")]
    _schema: i64,
    extends: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    description: Option<String>,
    kubernetes: Option<Spanned<String>>,
    runtime: Option<Spanned<String>>,
    arch: Option<Spanned<Vec<Spanned<String>>>>,
    overlays: Option<Vec<Spanned<String>>>,
    containerd: Option<RawContainerd>,
    docker: Option<RawDocker>,
    kubelet: Option<RawKubelet>,
    #[serde(default, rename = "artifact")]
    artifacts: Vec<RawArtifact>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContainerd {
    sandbox_image: Option<Spanned<String>>,
    systemd_cgroup: Option<bool>,
    config_path: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocker {
    sandbox_image: Option<Spanned<String>>,
    systemd_cgroup: Option<bool>,
    log_max_size: Option<Spanned<String>>,
    log_max_file: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKubelet {
    #[serde(default)]
    extra_args: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArtifact {
    name: Spanned<String>,
    version: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    // Not spanned: toml cannot span a table written with dotted keys (`sha256.amd64 = ...`);
    // errors point at the artifact's name instead.
    sha256: Option<RawPins>,
    install: Option<Vec<Spanned<RawInstall>>>,
    /// In a profile that `extends` another: drop the inherited artifact of this name.
    #[serde(default)]
    remove: bool,
}

/// `sha256 = "<hex>"` or `sha256.ARCH = "<hex>"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawPins {
    One(String),
    PerArch(BTreeMap<String, String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstall {
    from: Option<String>,
    to: String,
    mode: Option<String>,
}

/// A raw value together with the source it was read from.
#[derive(Debug)]
struct At<T> {
    src: Arc<Source>,
    v: Spanned<T>,
}

impl<T> At<T> {
    fn loc(&self) -> Loc {
        Loc::new(&self.src, &self.v)
    }
    fn get(&self) -> &T {
        self.v.get_ref()
    }
}

fn at<T>(src: &Arc<Source>, v: Spanned<T>) -> At<T> {
    At {
        src: src.clone(),
        v,
    }
}

/// The merge of a profile and everything it extends, before validation.
#[derive(Debug, Default)]
struct Merged {
    name: Option<At<String>>,
    description: Option<String>,
    kubernetes: Option<At<String>>,
    runtime: Option<At<String>>,
    arch: Option<Vec<At<String>>>,
    overlays: Option<Vec<At<String>>>,
    sandbox_image: Option<At<String>>,
    systemd_cgroup: Option<bool>,
    config_path: Option<At<String>>,
    docker_sandbox_image: Option<At<String>>,
    docker_systemd_cgroup: Option<bool>,
    log_max_size: Option<At<String>>,
    log_max_file: Option<u32>,
    extra_args: BTreeMap<String, At<String>>,
    artifacts: Vec<MergedArtifact>,
    overlay_dirs: Vec<PathBuf>,
    /// The file that named the profile (the last in the chain), for errors about the whole.
    top: Option<Arc<Source>>,
}

#[derive(Debug)]
struct MergedArtifact {
    name: At<String>,
    version: Option<At<String>>,
    url: Option<At<String>>,
    sha256: Option<(RawPins, Loc)>,
    install: Option<Vec<At<RawInstall>>>,
}

// ---------------------------------------------------------------------------------------------
// Finding and loading.

/// Where a profile is looked up.
#[derive(Debug, Clone)]
pub struct Lookup {
    /// `./profiles` (relative to the working directory).
    pub local_dir: PathBuf,
}

impl Default for Lookup {
    fn default() -> Self {
        Lookup {
            local_dir: PathBuf::from("profiles"),
        }
    }
}

fn is_path_like(spec: &str) -> bool {
    spec.ends_with(".toml") || spec.contains('/') || spec.contains(std::path::MAIN_SEPARATOR)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
        })
        && !name.starts_with('.')
}

impl Lookup {
    /// Finds a profile's text: a path, `./profiles/NAME.toml`, or the built-in NAME.
    pub fn find(&self, spec: &str, relative_to: Option<&Path>) -> Result<Arc<Source>> {
        if is_path_like(spec) {
            let path = match relative_to {
                Some(dir) if Path::new(spec).is_relative() => dir.join(spec),
                _ => PathBuf::from(spec),
            };
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::Profile(format!("cannot read profile {}: {e}", path.display()))
            })?;
            return Ok(Arc::new(Source {
                name: path.display().to_string(),
                dir: path.parent().map(Path::to_path_buf),
                text,
            }));
        }
        if !valid_name(spec) {
            return Err(Error::Profile(format!(
                "{spec:?} is neither a profile name (lowercase letters, digits, '-', '_') nor a path to a .toml file"
            ))
            .into());
        }
        let local = self.local_dir.join(format!("{spec}.toml"));
        if local.is_file() {
            let text = std::fs::read_to_string(&local)
                .with_context(|| format!("reading profile {}", local.display()))?;
            return Ok(Arc::new(Source {
                name: local.display().to_string(),
                dir: local.parent().map(Path::to_path_buf),
                text,
            }));
        }
        if let Some(file) = BUILTIN_PROFILES.get_file(format!("{spec}.toml")) {
            let text = file
                .contents_utf8()
                .ok_or_else(|| Error::Internal(format!("built-in profile {spec} is not UTF-8")))?;
            return Ok(Arc::new(Source {
                name: format!("<built-in>/{spec}.toml"),
                dir: None,
                text: text.to_string(),
            }));
        }
        let known: Vec<String> = list(self)?.into_iter().map(|p| p.name).collect();
        Err(Error::Profile(format!(
            "no profile named {spec:?} in {} or built in (known: {}); pass a path to a .toml file or see `builder profiles`",
            self.local_dir.display(),
            known.join(", ")
        ))
        .into())
    }

    /// Loads, merges (`extends`) and validates a profile.
    pub fn load(&self, spec: &str) -> Result<Profile> {
        let mut merged = Merged::default();
        self.load_into(spec, None, &mut merged, &mut Vec::new())?;
        validate(merged)
    }

    fn load_into(
        &self,
        spec: &str,
        relative_to: Option<&Path>,
        merged: &mut Merged,
        chain: &mut Vec<String>,
    ) -> Result<()> {
        let src = self.find(spec, relative_to)?;
        if chain.contains(&src.name) {
            chain.push(src.name.clone());
            return Err(Error::Profile(format!(
                "profiles extend each other in a loop: {}; break the cycle",
                chain.join(" -> ")
            ))
            .into());
        }
        if chain.len() >= 8 {
            return Err(Error::Profile(format!(
                "profile {} extends too deeply (more than 8 levels): {}",
                src.name,
                chain.join(" -> ")
            ))
            .into());
        }
        chain.push(src.name.clone());
        let raw = parse_raw(&src)?;
        if let Some(base) = &raw.extends {
            self.load_into(base.get_ref(), src.dir.as_deref(), merged, chain)
                .map_err(|e| {
                    let loc = Loc::new(&src, base);
                    e.context(format!("{loc}: in the profile named by `extends`"))
                })?;
        }
        if let Some(dir) = &src.dir {
            // overlays/ beside the profiles/ folder the file sits in, and beside the file.
            merged.overlay_dirs.insert(0, dir.join("overlays"));
            merged.overlay_dirs.insert(0, dir.join("../overlays"));
        }
        merge(merged, raw, &src);
        Ok(())
    }
}

/// Parses one file strictly (unknown keys and a wrong schema are errors with a location).
fn parse_raw(src: &Arc<Source>) -> Result<RawProfile> {
    // Check the schema first so a schema-2 file says "schema", not "unknown field".
    #[derive(Deserialize)]
    struct SchemaOnly {
        schema: Option<Spanned<toml::Value>>,
    }
    if let Ok(head) = toml::from_str::<SchemaOnly>(&src.text) {
        match head.schema {
            Some(v) if v.get_ref().as_integer() == Some(SCHEMA) => {}
            Some(v) => {
                let (line, col) = line_col(&src.text, v.span().start);
                return Err(Error::Profile(format!(
                    "{}:{line}:{col}: unsupported schema {}: this builder ({}) reads schema {SCHEMA}; \
                     set `schema = {SCHEMA}` and check the README's profile format",
                    src.name,
                    v.get_ref(),
                    crate::VERSION
                ))
                .into());
            }
            None => {
                return Err(Error::Profile(format!(
                    "{}:1:1: missing `schema = {SCHEMA}` at the top of the profile",
                    src.name
                ))
                .into())
            }
        }
    }
    toml::from_str::<RawProfile>(&src.text).map_err(|e| {
        let where_ = match e.span() {
            Some(span) => {
                let (line, col) = line_col(&src.text, span.start);
                format!("{}:{line}:{col}", src.name)
            }
            None => src.name.clone(),
        };
        Error::Profile(format!(
            "{where_}: {}; see the README's profile format for the keys a profile takes",
            e.message().trim_end()
        ))
        .into()
    })
}

fn merge(m: &mut Merged, raw: RawProfile, src: &Arc<Source>) {
    m.top = Some(src.clone());
    if let Some(v) = raw.name {
        m.name = Some(at(src, v));
    }
    if raw.description.is_some() {
        m.description = raw.description;
    }
    if let Some(v) = raw.kubernetes {
        m.kubernetes = Some(at(src, v));
    }
    if let Some(v) = raw.runtime {
        m.runtime = Some(at(src, v));
    }
    if let Some(v) = raw.arch {
        m.arch = Some(v.into_inner().into_iter().map(|a| at(src, a)).collect());
    }
    if let Some(v) = raw.overlays {
        m.overlays = Some(v.into_iter().map(|o| at(src, o)).collect());
    }
    if let Some(c) = raw.containerd {
        if let Some(v) = c.sandbox_image {
            m.sandbox_image = Some(at(src, v));
        }
        if c.systemd_cgroup.is_some() {
            m.systemd_cgroup = c.systemd_cgroup;
        }
        if let Some(v) = c.config_path {
            m.config_path = Some(at(src, v));
        }
    }
    if let Some(d) = raw.docker {
        if let Some(v) = d.sandbox_image {
            m.docker_sandbox_image = Some(at(src, v));
        }
        if d.systemd_cgroup.is_some() {
            m.docker_systemd_cgroup = d.systemd_cgroup;
        }
        if let Some(v) = d.log_max_size {
            m.log_max_size = Some(at(src, v));
        }
        if d.log_max_file.is_some() {
            m.log_max_file = d.log_max_file;
        }
    }
    if let Some(k) = raw.kubelet {
        for (key, v) in k.extra_args {
            m.extra_args.insert(key, at(src, v));
        }
    }
    for a in raw.artifacts {
        let pos = m
            .artifacts
            .iter()
            .position(|x| x.name.get() == a.name.get_ref());
        if a.remove {
            if let Some(pos) = pos {
                m.artifacts.remove(pos);
            }
            continue;
        }
        let name_loc = Loc::new(src, &a.name);
        let incoming = MergedArtifact {
            sha256: a.sha256.map(|v| (v, name_loc)),
            name: at(src, a.name),
            version: a.version.map(|v| at(src, v)),
            url: a.url.map(|v| at(src, v)),
            install: a
                .install
                .map(|rules| rules.into_iter().map(|r| at(src, r)).collect()),
        };
        match pos {
            None => m.artifacts.push(incoming),
            Some(pos) => {
                let base = &mut m.artifacts[pos];
                // A pin belongs to one version and URL: a child that changes either without a
                // new pin falls back to the catalog rather than keeping a now-wrong digest.
                let changes_bytes = incoming.version.is_some() || incoming.url.is_some();
                if incoming.sha256.is_some() || changes_bytes {
                    base.sha256 = incoming.sha256;
                }
                if incoming.version.is_some() {
                    base.version = incoming.version;
                }
                if incoming.url.is_some() {
                    base.url = incoming.url;
                }
                if incoming.install.is_some() {
                    base.install = incoming.install;
                }
                base.name = incoming.name;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation.

fn require<T>(v: Option<T>, key: &str, top: &Arc<Source>) -> Result<T> {
    v.ok_or_else(|| {
        Error::Profile(format!(
            "{}: missing required key `{key}` (in this profile or the one it extends)",
            top.name
        ))
        .into()
    })
}

/// `X.Y.Z` with an optional `-suffix`/`+suffix` of letters, digits, '.', '-'.
pub fn valid_version(v: &str) -> bool {
    let (core, suffix) = match v.find(['-', '+']) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let core_ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()));
    let suffix_ok = suffix.is_none_or(|s| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    });
    core_ok && suffix_ok
}

/// (major, minor, patch) of a valid version.
pub fn version_triple(v: &str) -> (u32, u32, u32) {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let mut it = core.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn parse_minor(v: &At<String>) -> Result<KubeMinor> {
    let s = v.get();
    let bad = || {
        v.loc().error(format_args!(
            "bad Kubernetes minor {s:?}: write it as \"1.N\" (for example \"1.36\"), the minor the nodes' kubelet runs"
        ))
    };
    let rest = s.strip_prefix("1.").ok_or_else(bad)?;
    if rest.is_empty() || rest.len() > 3 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let minor: u32 = rest.parse().map_err(|_| bad())?;
    if minor < OLDEST_MINOR {
        return Err(v.loc().error(format_args!(
            "Kubernetes {s} is older than this builder supports (1.{OLDEST_MINOR} and later)"
        )));
    }
    Ok(KubeMinor(minor))
}

fn dockershim_refusal(minor: KubeMinor) -> String {
    let when = if minor.0 >= 24 {
        format!("Kubernetes {minor} has no dockershim: it was removed from the kubelet in 1.24")
    } else {
        format!(
            "builder builds the nodes that replace dockershim ones; Kubernetes {minor} still has dockershim, \
             but it is gone from 1.24, so a new node should not depend on it"
        )
    };
    format!(
        "{when}. There are two ways off it: `runtime = \"containerd\"` (the shipped `containerd` profile; \
         pods never talk to Docker), or `runtime = \"cri-dockerd\"` (the shipped `cri-dockerd` profile; Docker Engine \
         stays, behind the cri-dockerd shim, for workloads that use /var/run/docker.sock)"
    )
}

fn parse_mode(rule: &At<RawInstall>) -> Result<u32> {
    let Some(mode) = &rule.get().mode else {
        return Ok(0o644);
    };
    let digits = mode.strip_prefix("0o").unwrap_or(mode);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 && !digits.is_empty() && digits.len() <= 5 => Ok(m),
        _ => Err(rule.loc().error(format_args!(
            "bad mode {mode:?}: write it as an octal string such as \"0755\" or \"0644\""
        ))),
    }
}

/// A target path must be absolute, normalised and stay inside the rootfs.
pub fn check_target(to: &str) -> std::result::Result<(), String> {
    if !to.starts_with('/') {
        return Err(format!(
            "install target {to:?} must be an absolute path such as \"/usr/local/bin/\""
        ));
    }
    let body = to.trim_end_matches('/');
    if body.is_empty() {
        return Err(format!(
            "install target {to:?} is the root itself; name a folder or file"
        ));
    }
    for part in body[1..].split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(format!(
                "install target {to:?} has an empty, '.' or '..' component; write a plain absolute path"
            ));
        }
    }
    Ok(())
}

fn validate_install(rule: &At<RawInstall>, kind: ArtifactKind) -> Result<InstallRule> {
    let raw = rule.get();
    check_target(&raw.to).map_err(|e| rule.loc().error(e))?;
    let (from, matcher) = match (&raw.from, kind) {
        (Some(_), ArtifactKind::File) => {
            return Err(rule.loc().error(
                "`from` selects members of an archive, but this artifact's URL names a plain file \
                 (not .tar, .tar.gz or .tgz); drop `from` and set `to` to the file's path",
            ))
        }
        (None, ArtifactKind::TarGz | ArtifactKind::Tar) => {
            return Err(rule.loc().error(
                "this artifact is an archive: say which members to install with `from = \"<glob>\"` (for example \"bin/*\")",
            ))
        }
        (None, ArtifactKind::File) => (None, None),
        (Some(pattern), _) => {
            let glob = globset::GlobBuilder::new(pattern.trim_start_matches("./"))
                .literal_separator(true)
                .build()
                .map_err(|e| rule.loc().error(format_args!("bad glob {pattern:?} in `from`: {e}")))?;
            (Some(pattern.clone()), Some(glob.compile_matcher()))
        }
    };
    Ok(InstallRule {
        from,
        matcher,
        to: raw.to.clone(),
        mode: parse_mode(rule)?,
        loc: rule.loc(),
    })
}

fn validate_pins((pins, loc): &(RawPins, Loc)) -> Result<Pins> {
    let bad_hex = |s: &str| {
        loc.error(format_args!(
            "sha256 {s:?} is not 64 lowercase hex digits; copy the digest from the release's checksum file"
        ))
    };
    match pins {
        RawPins::One(s) => {
            if !is_hex64(s) {
                return Err(bad_hex(s));
            }
            Ok(Pins {
                any: Some(s.clone()),
                per_arch: BTreeMap::new(),
            })
        }
        RawPins::PerArch(t) => {
            let mut per_arch = BTreeMap::new();
            for (k, s) in t {
                let arch = Arch::parse(k).ok_or_else(|| {
                    loc.error(format_args!(
                        "unknown arch {k:?} in sha256 pins: expected one of {}",
                        arch_list()
                    ))
                })?;
                if !is_hex64(s) {
                    return Err(bad_hex(s));
                }
                per_arch.insert(arch, s.clone());
            }
            Ok(Pins {
                any: None,
                per_arch,
            })
        }
    }
}

fn arch_list() -> String {
    Arch::ALL.map(Arch::as_str).join(", ")
}

fn validate_url(u: &At<String>) -> Result<()> {
    let s = u.get();
    let scheme_ok =
        s.starts_with("https://") || s.starts_with("http://") || s.starts_with("file://");
    if !scheme_ok {
        return Err(u.loc().error(format_args!(
            "URL {s:?} must start with https://, http:// or file://"
        )));
    }
    // Only the known placeholders may appear.
    let mut rest = s.as_str();
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| {
            u.loc()
                .error("unclosed '{' in URL; placeholders are {version}, {arch}, {uname_arch}")
        })?;
        let key = &after[..close];
        if !matches!(key, "version" | "arch" | "uname_arch") {
            return Err(u.loc().error(format_args!(
                "unknown placeholder {{{key}}} in URL; placeholders are {{version}}, {{arch}}, {{uname_arch}}"
            )));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

fn validate_artifact(a: MergedArtifact, top: &Arc<Source>) -> Result<Artifact> {
    let name = a.name.get().clone();
    if !valid_name(&name) {
        return Err(a.name.loc().error(format_args!(
            "bad artifact name {name:?}: use lowercase letters, digits, '-' and '_'"
        )));
    }
    let missing = |key: &str| {
        a.name.loc().error(format_args!(
            "artifact {name:?} has no `{key}` (in {} or the profile it extends)",
            top.name
        ))
    };
    let version = a.version.as_ref().ok_or_else(|| missing("version"))?;
    if !valid_version(version.get()) {
        return Err(version.loc().error(format_args!(
            "bad version {:?} for artifact {name}: write it as MAJOR.MINOR.PATCH without a leading 'v' (for example \"2.3.4\")",
            version.get()
        )));
    }
    let url = a.url.as_ref().ok_or_else(|| missing("url"))?;
    validate_url(url)?;
    let pins = match &a.sha256 {
        Some(p) => validate_pins(p)?,
        None => Pins::default(),
    };
    let rules = a.install.as_ref().ok_or_else(|| missing("install"))?;
    if rules.is_empty() {
        return Err(a.name.loc().error(format_args!(
            "artifact {name:?} installs nothing: give at least one `install` rule"
        )));
    }
    let loc = a.name.loc();
    let mut artifact = Artifact {
        name,
        version: version.get().clone(),
        url: url.get().clone(),
        pins,
        install: Vec::new(),
        loc,
    };
    let kind = artifact.kind();
    artifact.install = rules
        .iter()
        .map(|r| validate_install(r, kind))
        .collect::<Result<_>>()?;
    Ok(artifact)
}

fn validate(m: Merged) -> Result<Profile> {
    let top = m
        .top
        .clone()
        .ok_or_else(|| Error::Internal("validate called without a profile".into()))?;
    let name_at = require(m.name, "name", &top)?;
    let name = name_at.get().clone();
    if !valid_name(&name) {
        return Err(name_at.loc().error(format_args!(
            "bad profile name {name:?}: use lowercase letters, digits, '-' and '_' (it names the output folder)"
        )));
    }
    let kubernetes = parse_minor(&require(m.kubernetes, "kubernetes", &top)?)?;
    let runtime_at = require(m.runtime, "runtime", &top)?;
    let runtime = match runtime_at.get().as_str() {
        "containerd" => Runtime::Containerd,
        "cri-dockerd" => Runtime::CriDockerd,
        "docker" | "dockershim" => {
            return Err(runtime_at.loc().error(dockershim_refusal(kubernetes)));
        }
        other => {
            return Err(runtime_at.loc().error(format_args!(
                "unknown runtime {other:?}: expected \"containerd\" or \"cri-dockerd\""
            )))
        }
    };
    let mut warnings = Vec::new();
    if runtime == Runtime::CriDockerd && kubernetes.0 < 24 {
        warnings.push(format!(
            "profile {name}: cri-dockerd is not needed yet on Kubernetes {kubernetes} (dockershim still exists there); \
             the node is built anyway and keeps working when the cluster moves to 1.24 or later"
        ));
    }
    let mut arches = Vec::new();
    for a in require(m.arch, "arch", &top)? {
        let arch = Arch::parse(a.get()).ok_or_else(|| {
            a.loc().error(format_args!(
                "unknown arch {:?}: expected one of {} (Kubernetes' names, e.g. amd64 not x86_64)",
                a.get(),
                arch_list()
            ))
        })?;
        if !arches.contains(&arch) {
            arches.push(arch);
        }
    }
    if arches.is_empty() {
        return Err(Error::Profile(format!(
            "{}: `arch` is empty: list at least one of {}",
            top.name,
            arch_list()
        ))
        .into());
    }
    let mut overlays = Vec::new();
    for o in m.overlays.unwrap_or_default() {
        if !valid_name(o.get()) {
            return Err(o.loc().error(format_args!(
                "bad overlay name {:?}: name a folder under overlays/ (letters, digits, '-', '_')",
                o.get()
            )));
        }
        overlays.push(OverlayRef {
            name: o.get().clone(),
            loc: o.loc(),
        });
    }
    let image_ok = |v: &At<String>| -> Result<String> {
        let s = v.get();
        if s.is_empty() || s.contains(char::is_whitespace) || s.contains('"') {
            return Err(v.loc().error(format_args!(
                "bad image reference {s:?}: expected something like \"registry.k8s.io/pause:3.10.1\""
            )));
        }
        Ok(s.clone())
    };
    let default_pause = "registry.k8s.io/pause:3.10.1".to_string();
    let sandbox_image = match &m.sandbox_image {
        Some(v) => image_ok(v)?,
        None => default_pause.clone(),
    };
    let config_path = match &m.config_path {
        Some(v) => {
            check_target(v.get()).map_err(|e| v.loc().error(e))?;
            v.get().clone()
        }
        None => "/etc/containerd/certs.d".to_string(),
    };
    let docker_sandbox_image = match &m.docker_sandbox_image {
        Some(v) => image_ok(v)?,
        None => sandbox_image.clone(),
    };
    let log_max_size = match &m.log_max_size {
        Some(v) => {
            let s = v.get();
            let digits = s.trim_end_matches(['k', 'm', 'g']);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(v.loc().error(format_args!(
                    "bad log_max_size {s:?}: a number with k, m or g, such as \"100m\""
                )));
            }
            s.clone()
        }
        None => "100m".to_string(),
    };
    let mut extra_args = BTreeMap::new();
    for (k, v) in &m.extra_args {
        let ok_key = !k.is_empty()
            && !k.starts_with('-')
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok_key {
            return Err(v.loc().error(format_args!(
                "bad kubelet flag name {k:?}: write it without the leading \"--\" (for example \"node-labels\")"
            )));
        }
        if v.get().contains(['\n', '"']) {
            return Err(v.loc().error(format_args!(
                "kubelet flag {k}: the value may not contain quotes or newlines"
            )));
        }
        if crate::templates::kubelet::MANAGED_FLAGS.contains(&k.as_str()) {
            return Err(v.loc().error(format_args!(
                "kubelet flag {k} is written by builder from the profile's runtime and Kubernetes minor; remove it from extra_args"
            )));
        }
        extra_args.insert(k.clone(), v.get().clone());
    }
    let mut artifacts = Vec::new();
    for a in m.artifacts {
        artifacts.push(validate_artifact(a, &top)?);
    }
    if artifacts.is_empty() {
        return Err(Error::Profile(format!(
            "{}: the profile installs no artifacts: add [[artifact]] tables (see `builder show --profile containerd`)",
            top.name
        ))
        .into());
    }
    Ok(Profile {
        name,
        description: m.description.unwrap_or_default(),
        kubernetes,
        runtime,
        arches,
        overlays,
        containerd: ContainerdSettings {
            sandbox_image,
            systemd_cgroup: m.systemd_cgroup.unwrap_or(true),
            config_path,
        },
        docker: DockerSettings {
            sandbox_image: docker_sandbox_image,
            systemd_cgroup: m.docker_systemd_cgroup.unwrap_or(true),
            log_max_size,
            log_max_file: m.log_max_file.unwrap_or(5),
        },
        kubelet: KubeletSettings { extra_args },
        artifacts,
        overlay_dirs: m.overlay_dirs,
        warnings,
    })
}

// ---------------------------------------------------------------------------------------------
// `builder profiles` and `builder show`.

/// A profile in the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    pub description: String,
    pub origin: String,
}

fn description_of(text: &str) -> String {
    text.parse::<toml::Table>()
        .ok()
        .and_then(|t| {
            t.get("description")
                .and_then(|d| d.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// Local profiles (shadowing built-in ones of the same name), then the rest of the built-ins.
pub fn list(lookup: &Lookup) -> Result<Vec<Listed>> {
    let mut out: BTreeMap<String, Listed> = BTreeMap::new();
    for file in BUILTIN_PROFILES.files() {
        let path = file.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        out.insert(
            name.clone(),
            Listed {
                name,
                description: description_of(file.contents_utf8().unwrap_or("")),
                origin: "built-in".into(),
            },
        );
    }
    if let Ok(entries) = std::fs::read_dir(&lookup.local_dir) {
        for entry in entries {
            let entry = entry.with_context(|| format!("listing {}", lookup.local_dir.display()))?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let Some(name) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
            else {
                continue;
            };
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            out.insert(
                name.clone(),
                Listed {
                    name,
                    description: description_of(&text),
                    origin: path.display().to_string(),
                },
            );
        }
    }
    Ok(out.into_values().collect())
}

pub fn list_command() -> Result<()> {
    let rows = list(&Lookup::default())?;
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    println!("{:width$}  {:28}  DESCRIPTION", "NAME", "FROM");
    for r in rows {
        println!("{:width$}  {:28}  {}", r.name, r.origin, r.description);
    }
    Ok(())
}

#[derive(Serialize)]
struct ShowDoc<'a> {
    schema: i64,
    name: &'a str,
    description: &'a str,
    kubernetes: String,
    runtime: &'a str,
    arch: Vec<&'static str>,
    overlays: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    containerd: Option<&'a ContainerdSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    docker: Option<&'a DockerSettings>,
    kubelet: &'a KubeletSettings,
    artifact: Vec<ShowArtifact<'a>>,
}

#[derive(Serialize)]
struct ShowArtifact<'a> {
    name: &'a str,
    version: &'a str,
    url: &'a str,
    /// Per arch, every digest spelled out (so the output is itself a loadable profile).
    sha256: BTreeMap<&'static str, String>,
    install: Vec<ShowInstall<'a>>,
}

#[derive(Serialize)]
struct ShowInstall<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    to: &'a str,
    mode: String,
}

/// A profile after `extends` and pin resolution, as TOML that is itself a loadable profile.
pub struct Resolved {
    /// Which pins came from the catalog (for a comment).
    pub origin: String,
    /// The TOML; its sha256 is the profile digest recorded in manifests.
    pub body: String,
}

/// The resolved profile, every pin spelled out per arch.
pub fn resolved_toml(p: &Profile, catalog: &Catalog) -> Result<Resolved> {
    let mut artifacts = Vec::new();
    let mut from_catalog = Vec::new();
    for a in &p.artifacts {
        let mut sha256 = BTreeMap::new();
        for arch in &p.arches {
            let pin = a.pin(*arch, catalog)?;
            sha256.insert(arch.as_str(), pin.sha256);
            if pin.origin == PinOrigin::Catalog {
                from_catalog.push(format!("{} {}", a.name, arch));
            }
        }
        artifacts.push(ShowArtifact {
            name: &a.name,
            version: &a.version,
            url: &a.url,
            sha256,
            install: a
                .install
                .iter()
                .map(|r| ShowInstall {
                    from: r.from.as_deref(),
                    to: &r.to,
                    mode: format!("{:04o}", r.mode),
                })
                .collect(),
        });
    }
    let doc = ShowDoc {
        schema: SCHEMA,
        name: &p.name,
        description: &p.description,
        kubernetes: p.kubernetes.to_string(),
        runtime: p.runtime.as_str(),
        arch: p.arches.iter().map(|a| a.as_str()).collect(),
        overlays: p.overlays.iter().map(|o| o.name.as_str()).collect(),
        containerd: (p.runtime == Runtime::Containerd).then_some(&p.containerd),
        docker: (p.runtime == Runtime::CriDockerd).then_some(&p.docker),
        kubelet: &p.kubelet,
        artifact: artifacts,
    };
    let body = toml::to_string(&doc)
        .map_err(|e| Error::Internal(format!("cannot serialise the resolved profile: {e}")))?;
    let origin = if from_catalog.is_empty() {
        "every pin comes from the profile".to_string()
    } else {
        format!(
            "pins from the built-in catalog: {}",
            from_catalog.join(", ")
        )
    };
    Ok(Resolved { origin, body })
}

pub fn show_command(spec: &str) -> Result<()> {
    let profile = Lookup::default().load(spec)?;
    for w in &profile.warnings {
        eprintln!("warning: {w}");
    }
    let r = resolved_toml(&profile, &Catalog::builtin()?)?;
    print!(
        "# Resolved by builder {} from profile {}; {}.\n{}",
        crate::VERSION,
        profile.name,
        r.origin,
        r.body
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Profile> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, text).unwrap();
        Lookup {
            local_dir: dir.path().join("none"),
        }
        .load(path.to_str().unwrap())
    }

    const MINIMAL: &str = r#"schema = 1
name = "t"
kubernetes = "1.30"
runtime = "containerd"
arch = ["amd64"]

[[artifact]]
name = "runc"
version = "1.4.3"
url = "https://example.invalid/runc.{arch}"
install = [{ to = "/usr/local/sbin/runc", mode = "0755" }]
"#;

    fn err_of(text: &str) -> String {
        format!("{:#}", load_text(text).unwrap_err())
    }

    #[test]
    fn minimal_profile_loads_with_defaults() {
        let p = load_text(MINIMAL).unwrap();
        assert_eq!(p.kubernetes, KubeMinor(30));
        assert_eq!(p.arches, vec![Arch::Amd64]);
        assert!(p.containerd.systemd_cgroup);
        assert_eq!(p.containerd.config_path, "/etc/containerd/certs.d");
        assert_eq!(p.artifacts[0].install[0].mode, 0o755);
        assert_eq!(p.artifacts[0].kind(), ArtifactKind::File);
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let text = MINIMAL.replace("arch = [\"amd64\"]", "arch = [\"amd64\"]\nbogus = 1");
        let e = err_of(&text);
        assert!(e.contains("p.toml:6:1"), "{e}");
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn wrong_schema_is_named() {
        let e = err_of(&MINIMAL.replace("schema = 1", "schema = 2"));
        assert!(
            e.contains("p.toml:1:1") && e.contains("unsupported schema 2"),
            "{e}"
        );
    }

    #[test]
    fn bad_version_unknown_arch_and_bad_minor() {
        let e = err_of(&MINIMAL.replace("\"1.4.3\"", "\"v1.4\""));
        assert!(
            e.contains("p.toml:9:11") && e.contains("bad version"),
            "{e}"
        );
        let e = err_of(&MINIMAL.replace("[\"amd64\"]", "[\"x86_64\"]"));
        assert!(
            e.contains("p.toml:5:9") && e.contains("unknown arch"),
            "{e}"
        );
        let e = err_of(&MINIMAL.replace("\"1.30\"", "\"130\""));
        assert!(
            e.contains("p.toml:3:14") && e.contains("bad Kubernetes minor"),
            "{e}"
        );
    }

    #[test]
    fn dockershim_is_refused_with_both_ways_off() {
        let e = err_of(&MINIMAL.replace("\"containerd\"", "\"docker\""));
        assert!(e.contains("no dockershim"), "{e}");
        assert!(e.contains("containerd") && e.contains("cri-dockerd"), "{e}");
    }

    #[test]
    fn cri_dockerd_below_124_warns() {
        let p = load_text(
            &MINIMAL
                .replace("\"containerd\"", "\"cri-dockerd\"")
                .replace("1.30", "1.23"),
        )
        .unwrap();
        assert!(p.warnings[0].contains("not needed yet"), "{:?}", p.warnings);
    }

    #[test]
    fn archive_rules_need_from_and_files_refuse_it() {
        let e = err_of(&MINIMAL.replace("runc.{arch}", "runc-{arch}.tar.gz"));
        assert!(e.contains("say which members"), "{e}");
        let e = err_of(&MINIMAL.replace("{ to =", "{ from = \"bin/*\", to ="));
        assert!(e.contains("plain file"), "{e}");
    }

    #[test]
    fn bad_targets_modes_and_placeholders() {
        let e = err_of(&MINIMAL.replace("/usr/local/sbin/runc", "/usr/../etc/passwd"));
        assert!(e.contains("'..'"), "{e}");
        let e = err_of(&MINIMAL.replace("\"0755\"", "\"rwx\""));
        assert!(e.contains("bad mode"), "{e}");
        let e = err_of(&MINIMAL.replace("{arch}", "{os}"));
        assert!(e.contains("unknown placeholder {os}"), "{e}");
    }

    #[test]
    fn pins_validate_and_resolve() {
        let text = MINIMAL.replace(
            "install =",
            "sha256.arm64 = \"0000000000000000000000000000000000000000000000000000000000000000\"\ninstall =",
        );
        let p = load_text(&text.replace("[\"amd64\"]", "[\"amd64\", \"arm64\"]")).unwrap();
        let cat = Catalog::builtin().unwrap();
        let a = &p.artifacts[0];
        assert_eq!(a.pin(Arch::Arm64, &cat).unwrap().origin, PinOrigin::Profile);
        // runc 1.4.3 amd64 is in the shipped catalog.
        let amd = a.pin(Arch::Amd64, &cat).unwrap();
        assert_eq!(amd.origin, PinOrigin::Catalog);
        assert_eq!(
            amd.sha256,
            "f6ae8efc0fa40079e1475e97cbe9d1bd3f106a28d6af78a11d9f1bd565515e60"
        );
        let e = err_of(&text.replace("0000000000", "zz00000000"));
        assert!(e.contains("64 lowercase hex"), "{e}");
    }

    #[test]
    fn missing_pin_says_how_to_pin() {
        let p = load_text(&MINIMAL.replace("1.4.3", "9.9.9")).unwrap();
        let e = format!(
            "{:#}",
            p.artifacts[0]
                .pin(Arch::Amd64, &Catalog::builtin().unwrap())
                .unwrap_err()
        );
        assert!(
            e.contains("sha256.amd64 = ") && e.contains("p.toml:8:8"),
            "{e}"
        );
    }

    #[test]
    fn extends_merges_artifacts_by_name_and_drops_stale_pins() {
        let dir = tempfile::tempdir().unwrap();
        let base = MINIMAL.replace(
            "install =",
            "sha256 = \"1111111111111111111111111111111111111111111111111111111111111111\"\ninstall =",
        );
        std::fs::write(dir.path().join("base.toml"), base).unwrap();
        std::fs::write(
            dir.path().join("site.toml"),
            r#"schema = 1
extends = "./base.toml"
name = "site"
[kubelet]
extra_args = { "node-labels" = "site=a" }
[[artifact]]
name = "runc"
version = "1.4.2"
"#,
        )
        .unwrap();
        let p = Lookup {
            local_dir: dir.path().join("none"),
        }
        .load(dir.path().join("site.toml").to_str().unwrap())
        .unwrap();
        assert_eq!(p.name, "site");
        assert_eq!(p.kubernetes, KubeMinor(30));
        let a = &p.artifacts[0];
        assert_eq!(a.version, "1.4.2");
        assert_eq!(a.install[0].to, "/usr/local/sbin/runc");
        assert!(
            a.pins.any.is_none(),
            "a pin for 1.4.3 must not follow the move to 1.4.2"
        );
        assert_eq!(p.kubelet.extra_args["node-labels"], "site=a");
    }

    #[test]
    fn extends_loop_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.toml"),
            "schema = 1\nextends = \"./b.toml\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.toml"),
            "schema = 1\nextends = \"./a.toml\"\n",
        )
        .unwrap();
        let e = Lookup {
            local_dir: dir.path().join("none"),
        }
        .load(dir.path().join("a.toml").to_str().unwrap())
        .unwrap_err();
        assert!(format!("{e:#}").contains("loop"), "{e:#}");
    }

    #[test]
    fn shipped_profiles_load_and_resolve_every_pin() {
        let lookup = Lookup {
            local_dir: PathBuf::from("/nonexistent"),
        };
        let cat = Catalog::builtin().unwrap();
        let listed = list(&lookup).unwrap();
        assert!(listed.iter().any(|l| l.name == "containerd"));
        for l in listed {
            let p = lookup.load(&l.name).unwrap();
            resolved_toml(&p, &cat).unwrap();
        }
    }

    #[test]
    fn versions() {
        assert!(valid_version("2.3.4"));
        assert!(valid_version("1.0.0-rc.1"));
        assert!(!valid_version("v2.3.4"));
        assert!(!valid_version("2.3"));
        assert!(!valid_version("2.3.4-"));
        assert_eq!(version_triple("1.7.34"), (1, 7, 34));
    }
}
