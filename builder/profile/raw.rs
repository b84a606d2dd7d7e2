//! The raw shapes of one profile file, as serde reads them: every key optional (so `extends`
//! can fill gaps), unknown keys refused, and the schema checked first with its location.
//! The same types, through their `JsonSchema` derives, are `builder schema`'s JSON Schema
//! (`schema.rs`): their doc comments are its descriptions.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::source::Source;
use crate::util::error::{line_col, one_line, Error};
use crate::util::model::Arch;
use schemars::{json_schema, Schema, SchemaGenerator};
use serde_json::{Map, Value};

/// The only schema this builder reads.
pub const SCHEMA: i64 = 1;

/// A builder profile: the Kubernetes minor, the runtime and every upstream artifact a node
/// overlay is built from. See the README's "Profiles" section.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "builder profile")]
pub(super) struct RawProfile {
    // Checked (with its location) by parse_raw before this struct is read.
    /// The profile format version: this builder reads exactly 1.
    #[serde(rename = "schema")]
    #[schemars(schema_with = "schema_version")]
    _schema: i64,
    /// A profile to inherit (a shipped profile's name or a path relative to this file); this
    /// file then changes only the keys it gives.
    #[schemars(with = "Option<String>")]
    pub(super) extends: Option<Spanned<String>>,
    /// The profile's name; names the output folder (`dist/NAME/`).
    #[schemars(with = "Option<String>", pattern(r"^[a-z0-9_-][a-z0-9._-]{0,63}$"))]
    pub(super) name: Option<Spanned<String>>,
    /// One line for `builder profiles`.
    pub(super) description: Option<String>,
    /// The Kubernetes minor the nodes' kubelet runs, as "1.N" (1.20 or later): drives the
    /// kubelet flags and the default pause image.
    #[schemars(with = "Option<String>", pattern(r"^1\.[0-9]{1,3}$"))]
    pub(super) kubernetes: Option<Spanned<String>>,
    /// The container runtime: "containerd", or "cri-dockerd" (Docker Engine behind cri-dockerd).
    #[serde(default)]
    #[schemars(schema_with = "runtime")]
    pub(super) runtime: Option<Spanned<String>>,
    /// The architectures to build, in Kubernetes' names.
    #[serde(default)]
    #[schemars(schema_with = "arch_list")]
    pub(super) arch: Option<Spanned<Vec<Spanned<String>>>>,
    /// Folders under overlays/ copied into the rootfs.
    #[schemars(
        with = "Option<Vec<String>>",
        inner(pattern(r"^[a-z0-9_-][a-z0-9._-]{0,63}$"))
    )]
    pub(super) overlays: Option<Vec<Spanned<String>>>,
    /// containerd's settings (runtime = "containerd").
    #[schemars(with = "Option<RawContainerd>")]
    pub(super) containerd: Option<Spanned<RawContainerd>>,
    /// Docker Engine's and cri-dockerd's settings (runtime = "cri-dockerd").
    #[schemars(with = "Option<RawDocker>")]
    pub(super) docker: Option<Spanned<RawDocker>>,
    /// The kubelet's settings.
    pub(super) kubelet: Option<RawKubelet>,
    /// The system extension's extension-release fields (`render --format sysext`).
    #[schemars(with = "Option<RawSysext>")]
    pub(super) sysext: Option<Spanned<RawSysext>>,
    /// An upstream artifact to fetch, verify against its sha256 pin and install.
    #[serde(default, rename = "artifact")]
    pub(super) artifacts: Vec<RawArtifact>,
}

/// `[containerd]`: containerd's settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContainerd {
    /// The sandbox (pause) image the CRI plugin pins; default: kubeadm's for the Kubernetes minor.
    #[schemars(with = "Option<String>")]
    pub(super) sandbox_image: Option<Spanned<String>>,
    /// Use systemd to manage pod cgroups (default true).
    pub(super) systemd_cgroup: Option<bool>,
    /// The registry hosts folder, an absolute path (default "/etc/containerd/certs.d").
    #[schemars(with = "Option<String>")]
    pub(super) config_path: Option<Spanned<String>>,
}

/// `[docker]`: Docker Engine's and cri-dockerd's settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDocker {
    /// cri-dockerd's pause image (default: [containerd]'s, else kubeadm's for the minor).
    #[schemars(with = "Option<String>")]
    pub(super) sandbox_image: Option<Spanned<String>>,
    /// daemon.json native.cgroupdriver=systemd (default true).
    pub(super) systemd_cgroup: Option<bool>,
    /// json-file log rotation: the size of one file, a number with k, m or g (default "100m").
    #[schemars(with = "Option<String>", pattern(r"^[0-9]+[kmg]*$"))]
    pub(super) log_max_size: Option<Spanned<String>>,
    /// json-file log rotation: how many files to keep (default 5).
    pub(super) log_max_file: Option<u32>,
}

/// `[kubelet]`: the kubelet's settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKubelet {
    /// Extra kubelet flags, name without the leading "--" -> value; merged key by key over
    /// the profile this one extends.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub(super) extra_args: BTreeMap<String, Spanned<String>>,
}

/// `[sysext]`: what the system extension image's extension-release says, which systemd-sysext
/// matches against the host's os-release before it merges the image.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSysext {
    /// The host OS's os-release ID the image is for ("flatcar", "fedora", "debian"), or
    /// "_any" (the default: any host; systemd then checks neither level nor version).
    #[schemars(
        with = "Option<String>",
        pattern(r"^(_any|[a-z0-9][a-z0-9._-]{0,63})$")
    )]
    pub(super) id: Option<Spanned<String>>,
    /// The host's SYSEXT_LEVEL it matches (Flatcar: "1.0"); not with version_id.
    #[schemars(with = "Option<String>", pattern(r"^[a-z0-9][a-z0-9._-]{0,63}$"))]
    pub(super) sysext_level: Option<Spanned<String>>,
    /// The host's VERSION_ID it matches; not with sysext_level.
    #[schemars(with = "Option<String>", pattern(r"^[a-z0-9][a-z0-9._-]{0,63}$"))]
    pub(super) version_id: Option<Spanned<String>>,
}

/// `[[artifact]]`: an upstream file or archive, fetched, verified and installed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArtifact {
    /// The artifact's name (lowercase letters, digits, '-', '_'); a profile that extends
    /// another merges artifacts by name.
    #[schemars(with = "String", pattern(r"^[a-z0-9_-][a-z0-9._-]{0,63}$"))]
    pub(super) name: Spanned<String>,
    /// MAJOR.MINOR.PATCH (an optional -suffix), without a leading "v".
    #[schemars(
        with = "Option<String>",
        pattern(r"^[0-9]{1,9}\.[0-9]{1,9}\.[0-9]{1,9}([-+][0-9A-Za-z.-]+)?$")
    )]
    pub(super) version: Option<Spanned<String>>,
    /// Where to fetch it: https://, http:// or file://, with {version}, {arch} and
    /// {uname_arch} (x86_64, aarch64) placeholders.
    #[schemars(with = "Option<String>", pattern(r"^(https?|file)://"))]
    pub(super) url: Option<Spanned<String>>,
    // Not spanned: toml cannot span a table written with dotted keys (`sha256.amd64 = ...`);
    // errors point at the artifact's name instead.
    /// The sha256 pin: one digest for every arch, or per arch (`sha256.amd64 = "<hex>"`);
    /// overrides the built-in catalog. `builder pin` writes it.
    pub(super) sha256: Option<RawPins>,
    /// What to install from it: at least one rule.
    #[schemars(with = "Option<Vec<RawInstall>>", length(min = 1))]
    pub(super) install: Option<Vec<Spanned<RawInstall>>>,
    /// In a profile that `extends` another: drop the inherited artifact of this name.
    #[serde(default)]
    pub(super) remove: bool,
}

/// `sha256 = "<hex>"` or `sha256.ARCH = "<hex>"`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(super) enum RawPins {
    /// One digest for every arch.
    One(#[schemars(schema_with = "sha256")] String),
    /// A digest per arch.
    PerArch(#[schemars(schema_with = "per_arch_pins")] BTreeMap<String, String>),
}

/// An install rule: which file (or archive members) goes where, with which mode.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInstall {
    /// Archives only: a glob over member names ("bin/*"; `*` does not cross '/').
    pub(super) from: Option<String>,
    /// The absolute target; ending in '/' it is a folder (the member's or URL's file name is kept).
    #[schemars(pattern(r"^/"))]
    pub(super) to: String,
    /// An octal string such as "0755" (default "0644").
    #[schemars(pattern(r"^(0o)?0?[0-7]{1,4}$"))]
    pub(super) mode: Option<String>,
}

// JSON Schema fragments for what the derives cannot say: the enums and patterns `validate`
// checks, taken from `model` where it has them.

/// A sha256 digest as the parser accepts it.
const SHA256_PATTERN: &str = "^[0-9a-f]{64}$";

fn arch_names() -> Vec<&'static str> {
    Arch::ALL.map(Arch::as_str).to_vec()
}

fn schema_version(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "integer",
        "const": SCHEMA,
    })
}

fn runtime(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "enum": ["containerd", "cri-dockerd"],
    })
}

fn arch_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "minItems": 1,
        "items": { "type": "string", "enum": arch_names() },
    })
}

fn sha256(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "pattern": SHA256_PATTERN,
    })
}

fn per_arch_pins(_: &mut SchemaGenerator) -> Schema {
    let digest = json_schema!({ "type": "string", "pattern": SHA256_PATTERN });
    let properties: Map<String, Value> = arch_names()
        .into_iter()
        .map(|a| (a.to_string(), digest.clone().to_value()))
        .collect();
    json_schema!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    })
}

impl RawProfile {
    /// Does the file say the schema this builder reads? (A file parsed by `chunks` has not
    /// been through [`parse_raw`]'s own check.)
    pub(super) fn schema_is_current(&self) -> bool {
        self._schema == SCHEMA
    }
}

/// Parses one file strictly (unknown keys and a wrong schema are errors with a location).
pub(super) fn parse_raw(src: &Arc<Source>) -> Result<RawProfile> {
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
                     set `schema = {SCHEMA}` and check the profile format in docs/src/profiles.md",
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
            "{where_}: {}; see the profile format in docs/src/profiles.md for the keys a profile takes",
            one_line(e.message())
        ))
        .into()
    })
}
