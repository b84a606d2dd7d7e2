//! `ignition.json` (Ignition spec 3.4.0, which Flatcar and Fedora CoreOS read) and its twin
//! `butane.yaml` (Butane `variant: flatcar`, `version: 1.1.0`, which translates to spec 3.4.0):
//! the first-boot half of a system-extension node. The extension carries /usr and /opt; this
//! writes the /etc and /var files, places the extension image, enables systemd-sysext and the
//! runtime's units, and with join parameters writes the JoinConfiguration (0600) and a oneshot
//! unit running `kubeadm join`.
//!
//! Bytes only: what goes in is decided by `outputs::sysext::write_config`. The join token is in
//! exactly one place, the JoinConfiguration file's contents, so the config is a secret like
//! user-data.

pub mod units;

use serde::Serialize;

use crate::bootstrap::cloud::Cloud;
use crate::bootstrap::files::{NodeFile, INLINE_MAX};
use crate::bootstrap::yaml;
use crate::util::digest::Sha256;
use crate::util::error::Error;

/// The Ignition spec version written.
pub const SPEC: &str = "3.4.0";

/// Where the image comes from: a URL with its digest, or the bytes themselves.
#[derive(Debug, Clone)]
pub enum ImageSource {
    Url { url: String, sha256: Sha256 },
    Embedded { bytes: Vec<u8>, sha256: Sha256 },
}

/// One unit the config names.
#[derive(Debug, Clone)]
pub struct UnitSpec {
    pub name: String,
    pub enabled: bool,
    /// `None`: a unit the host or the extension brings (only enabled here).
    pub contents: Option<String>,
}

/// Everything one arch's config is made from.
#[derive(Debug)]
pub struct ConfigInput<'a> {
    pub profile: &'a str,
    /// The /etc and /var files, with their modes.
    pub files: &'a [NodeFile],
    /// Where the image goes on the node (`/var/lib/extensions/NAME.raw`).
    pub image_path: String,
    pub image: ImageSource,
    pub units: Vec<UnitSpec>,
    pub cloud: Cloud,
}

#[derive(Serialize)]
struct Config {
    ignition: Meta,
    storage: Storage,
    systemd: Systemd,
}

#[derive(Serialize)]
struct Meta {
    version: &'static str,
}

#[derive(Serialize)]
struct Storage {
    files: Vec<FileEntry>,
}

#[derive(Serialize)]
struct FileEntry {
    path: String,
    mode: u32,
    overwrite: bool,
    contents: Resource,
}

#[derive(Serialize)]
struct Resource {
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    compression: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verification: Option<Verification>,
}

#[derive(Serialize)]
struct Verification {
    hash: String,
}

#[derive(Serialize)]
struct Systemd {
    units: Vec<UnitEntry>,
}

#[derive(Serialize)]
struct UnitEntry {
    name: String,
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    contents: Option<String>,
}

/// The rendered pair.
pub struct Rendered {
    /// `ignition.json` (mode 0600 on disk: it may hold the join token).
    pub json: Vec<u8>,
    /// `butane.yaml` (mode 0600, same reason).
    pub butane: String,
}

impl std::fmt::Debug for Rendered {
    // Never the bytes: they may hold the join token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Rendered {{ {} bytes of JSON }}", self.json.len())
    }
}

/// RFC 2397 `data:` URL: percent-encoded text (readable in the JSON), or base64.
fn data_url(bytes: &[u8], compress: bool) -> (String, Option<&'static str>) {
    if compress {
        let gz = yaml::gzip(bytes);
        return (format!("data:;base64,{}", yaml::base64(&gz)), Some("gzip"));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let mut s = String::from("data:,");
            for b in text.bytes() {
                if b.is_ascii_alphanumeric() || b"-_.~/:=,".contains(&b) {
                    s.push(b as char);
                } else {
                    s.push_str(&format!("%{b:02X}"));
                }
            }
            (s, None)
        }
        Err(_) => (format!("data:;base64,{}", yaml::base64(bytes)), None),
    }
}

fn config(input: &ConfigInput, compress_large: bool) -> Config {
    let mut files: Vec<FileEntry> = input
        .files
        .iter()
        .map(|f| {
            let (source, compression) =
                data_url(&f.content, compress_large && f.content.len() > INLINE_MAX);
            FileEntry {
                path: f.path.clone(),
                mode: f.mode,
                overwrite: true,
                contents: Resource {
                    source,
                    compression,
                    verification: None,
                },
            }
        })
        .collect();
    let (source, sha256) = match &input.image {
        ImageSource::Url { url, sha256 } => (url.clone(), sha256),
        ImageSource::Embedded { bytes, sha256 } => (data_url(bytes, false).0, sha256),
    };
    files.push(FileEntry {
        path: input.image_path.clone(),
        mode: 0o644,
        overwrite: true,
        contents: Resource {
            source,
            compression: None,
            verification: Some(Verification {
                hash: format!("sha256-{sha256}"),
            }),
        },
    });
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Config {
        ignition: Meta { version: SPEC },
        storage: Storage { files },
        systemd: Systemd {
            units: input
                .units
                .iter()
                .map(|u| UnitEntry {
                    name: u.name.clone(),
                    enabled: u.enabled,
                    contents: u.contents.clone(),
                })
                .collect(),
        },
    }
}

/// Renders the pair; the JSON must fit the cloud's user-data limit (large files are then
/// gzipped inside it, as Ignition's `compression: gzip`), else an `Error::Input` naming the
/// sizes, and for an embedded image, `--sysext-url`.
pub fn render(input: &ConfigInput) -> anyhow::Result<Rendered> {
    let limit = input.cloud.limit();
    let to_json = |c: &Config| -> anyhow::Result<Vec<u8>> {
        let mut v = serde_json::to_vec_pretty(c)
            .map_err(|e| Error::Internal(format!("serialising ignition.json: {e}")))?;
        v.push(b'\n');
        Ok(v)
    };
    let mut cfg = config(input, false);
    let mut json = to_json(&cfg)?;
    if json.len() > limit {
        cfg = config(input, true);
        json = to_json(&cfg)?;
    }
    if json.len() > limit {
        let cure = match &input.image {
            ImageSource::Embedded { bytes, .. } => format!(
                "the system extension image alone is {} bytes, embedded as a data URL; give --sysext-url TEMPLATE \
                 (the URL nodes download the image from, with {{arch}}; the config then pins its sha256)",
                bytes.len()
            ),
            ImageSource::Url { .. } => {
                "move large files out of the overlays/ tree (the /etc and /var files all go into the config)"
                    .to_string()
            }
        };
        return Err(Error::Input(format!(
            "ignition.json for profile {} is {} bytes, over the {} limit of {limit} bytes; {cure}",
            input.profile,
            json.len(),
            input.cloud
        ))
        .into());
    }
    let butane = butane(input.profile, &cfg);
    Ok(Rendered { json, butane })
}

/// The Butane twin of `cfg`: the same files, modes, sources and units; text files inline.
fn butane(profile: &str, cfg: &Config) -> String {
    let mut y = crate::node::header(profile);
    y.push_str("# Butane (https://coreos.github.io/butane/): `butane --strict butane.yaml` gives ignition.json.\n");
    y.push_str("variant: flatcar\nversion: 1.1.0\nstorage:\n  files:\n");
    for f in &cfg.storage.files {
        let q = |s: &str| yaml::single_quoted(s).unwrap_or_else(|| format!("{s:?}"));
        y.push_str(&format!(
            "    - path: {}\n      mode: 0{:o}\n      overwrite: {}\n      contents:\n",
            q(&f.path),
            f.mode,
            f.overwrite
        ));
        match inline_text(&f.contents) {
            Some(text) if yaml::literal_ok(&text) => {
                y.push_str("        inline: ");
                yaml::literal_block(&mut y, "          ", &text);
            }
            _ => {
                y.push_str(&format!("        source: {}\n", q(&f.contents.source)));
                if let Some(c) = f.contents.compression {
                    y.push_str(&format!("        compression: {c}\n"));
                }
                if let Some(v) = &f.contents.verification {
                    y.push_str(&format!(
                        "        verification:\n          hash: {}\n",
                        q(&v.hash)
                    ));
                }
            }
        }
    }
    y.push_str("systemd:\n  units:\n");
    for u in &cfg.systemd.units {
        y.push_str(&format!(
            "    - name: {}\n      enabled: {}\n",
            yaml::single_quoted(&u.name).unwrap_or_default(),
            u.enabled
        ));
        if let Some(c) = &u.contents {
            y.push_str("      contents: ");
            yaml::literal_block(&mut y, "        ", c);
        }
    }
    y
}

/// The text of a percent-encoded `data:,` source (not compressed, no verification).
fn inline_text(r: &Resource) -> Option<String> {
    if r.compression.is_some() || r.verification.is_some() {
        return None;
    }
    let enc = r.source.strip_prefix("data:,")?;
    let mut out = Vec::with_capacity(enc.len());
    let b = enc.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
