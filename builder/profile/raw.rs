//! The raw shapes of one profile file, as serde reads them: every key optional (so `extends`
//! can fill gaps), unknown keys refused, and the schema checked first with its location.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use serde::Deserialize;
use toml::Spanned;

use super::source::Source;
use crate::error::{line_col, one_line, Error};

/// The only schema this builder reads.
pub const SCHEMA: i64 = 1;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
    // Checked (with its location) by parse_raw before this struct is read.
    #[serde(rename = "schema")]
    _schema: i64,
    pub(super) extends: Option<Spanned<String>>,
    pub(super) name: Option<Spanned<String>>,
    pub(super) description: Option<String>,
    pub(super) kubernetes: Option<Spanned<String>>,
    pub(super) runtime: Option<Spanned<String>>,
    pub(super) arch: Option<Spanned<Vec<Spanned<String>>>>,
    pub(super) overlays: Option<Vec<Spanned<String>>>,
    pub(super) containerd: Option<Spanned<RawContainerd>>,
    pub(super) docker: Option<Spanned<RawDocker>>,
    pub(super) kubelet: Option<RawKubelet>,
    #[serde(default, rename = "artifact")]
    pub(super) artifacts: Vec<RawArtifact>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContainerd {
    pub(super) sandbox_image: Option<Spanned<String>>,
    pub(super) systemd_cgroup: Option<bool>,
    pub(super) config_path: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDocker {
    pub(super) sandbox_image: Option<Spanned<String>>,
    pub(super) systemd_cgroup: Option<bool>,
    pub(super) log_max_size: Option<Spanned<String>>,
    pub(super) log_max_file: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKubelet {
    #[serde(default)]
    pub(super) extra_args: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArtifact {
    pub(super) name: Spanned<String>,
    pub(super) version: Option<Spanned<String>>,
    pub(super) url: Option<Spanned<String>>,
    // Not spanned: toml cannot span a table written with dotted keys (`sha256.amd64 = ...`);
    // errors point at the artifact's name instead.
    pub(super) sha256: Option<RawPins>,
    pub(super) install: Option<Vec<Spanned<RawInstall>>>,
    /// In a profile that `extends` another: drop the inherited artifact of this name.
    #[serde(default)]
    pub(super) remove: bool,
}

/// `sha256 = "<hex>"` or `sha256.ARCH = "<hex>"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawPins {
    One(String),
    PerArch(BTreeMap<String, String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInstall {
    pub(super) from: Option<String>,
    pub(super) to: String,
    pub(super) mode: Option<String>,
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
            one_line(e.message())
        ))
        .into()
    })
}
