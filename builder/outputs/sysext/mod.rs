//! `render --format sysext`: the node as a systemd system extension for immutable OSes
//! (Flatcar, Fedora CoreOS, ParticleOS): `<profile>-<version>-<arch>.raw`, a squashfs image of
//! the overlay's /usr and /opt with the units' enablement moved into /usr and an
//! extension-release file, plus `ignition.json` and `butane.yaml`, which write the overlay's
//! /etc and /var files, place the image in /var/lib/extensions/ and enable systemd-sysext.
//!
//! Submodule `image` writes the squashfs; the config with its Butane twin and the two units it
//! adds are `bootstrap::ignition`'s. This module splits the rendered rootfs between them; it
//! does not build the rootfs (see `render`) or fetch anything.

mod early;
mod image;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use crate::bootstrap::cloud::Cloud;
use crate::bootstrap::files::{write_with_mode, NodeFile};
use crate::bootstrap::ignition::{self, units};
use crate::bootstrap::join::{join_configuration, JoinParams, JOIN_CONFIG_PATH};
use crate::build::install::{Kind, Rootfs};
use crate::outputs::layout::{self, ArchDir};
use crate::profile::{Profile, SysextSettings};
use crate::util::digest::Sha256;
use crate::util::error::Error;
use crate::util::model::{Arch, KubeMinor, Runtime};

pub use crate::bootstrap::ignition::units::{JOIN_UNIT, RELOAD_UNIT};
pub use crate::bootstrap::ignition::SPEC as IGNITION_SPEC;
pub use early::{check_embeddable, check_install_rules, Download, EMBED_MARGIN};
pub use image::{write_squashfs, ImageNode};

/// Where the config places the image: systemd-sysext reads /etc/extensions,
/// /run/extensions and /var/lib/extensions; /var is writable on every immutable OS.
pub const EXTENSIONS_DIR: &str = "/var/lib/extensions";

/// What `render` produces (`--format`, repeatable or comma-separated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Format {
    /// rootfs/, overlay.tar.gz, user-data, meta-data (always written: the sysext is cut from it)
    Overlay,
    /// <profile>-<version>-<arch>.raw (a systemd-sysext image), ignition.json and butane.yaml
    Sysext,
}

/// The architecture as systemd spells it (os-release's and extension-release's ARCHITECTURE).
pub fn systemd_arch(arch: Arch) -> &'static str {
    match arch {
        Arch::Amd64 => "x86-64",
        Arch::Arm64 => "arm64",
        Arch::Ppc64le => "ppc64-le",
        Arch::S390x => "s390x",
    }
}

/// The image's `<version>`: the version of the runtime's own artifact (`containerd` or
/// `cri-dockerd`), else the first 12 hex digits of the profile digest.
pub fn image_version(profile: &Profile, profile_sha256: &Sha256) -> String {
    profile
        .artifact(profile.runtime.as_str())
        .map(|a| a.version.clone())
        .unwrap_or_else(|| profile_sha256.as_str()[..12].to_string())
}

/// The extension's name, `<profile>-<version>-<arch>`: the image is `NAME.raw` in the arch
/// folder and on the node alike, because systemd-sysext (and systemd-dissect) look for
/// `extension-release.NAME` with NAME taken from the file's name; a renamed file is refused.
pub fn extension_name(profile: &str, version: &str, arch: Arch) -> String {
    format!("{profile}-{version}-{arch}")
}

/// `--sysext-url`: `{arch}` is the only placeholder, required with several arches, and an
/// http(s) URL (Ignition fetches http, https, tftp, s3 and gs, not file://).
pub fn check_sysext_url(template: &str, arches: &[Arch]) -> Result<()> {
    crate::util::model::check_arch_template("--sysext-url", template, arches, "image")
        .map_err(Error::Input)?;
    let url = template.replace("{arch}", arches.first().map_or("amd64", |a| a.as_str()));
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    if !scheme_ok
        || url.len() <= "https://".len()
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::Input(format!(
            "--sysext-url {template:?}: not an http:// or https:// URL without spaces (Ignition cannot read file://); \
             give the URL nodes download the .raw image from, with {{arch}} where the arch goes"
        ))
        .into());
    }
    Ok(())
}

/// `--format` and `--sysext-url` together, before anything is fetched: the URL needs the
/// sysext format, and is checked as [`check_sysext_url`] says.
pub fn check_options(formats: &[Format], url: Option<&str>, arches: &[Arch]) -> Result<()> {
    match url {
        Some(t) if !formats.contains(&Format::Sysext) => Err(Error::Input(format!(
            "--sysext-url {t:?} is given, but no system extension is rendered; add --format sysext"
        ))
        .into()),
        Some(t) => check_sysext_url(t, arches),
        None => Ok(()),
    }
}

/// The extension-release file: systemd-sysext merges the image only when `ID` is `_any` or
/// the host's, `SYSEXT_LEVEL` or `VERSION_ID` match the host's (when given), and
/// `ARCHITECTURE` is the host's.
pub fn extension_release(profile: &str, s: &SysextSettings, arch: Arch, version: &str) -> String {
    let mut t = crate::node::header(profile);
    t.push_str(&format!("ID={}\n", s.id));
    if let Some(l) = &s.sysext_level {
        t.push_str(&format!("SYSEXT_LEVEL={l}\n"));
    }
    if let Some(v) = &s.version_id {
        t.push_str(&format!("VERSION_ID={v}\n"));
    }
    t.push_str(&format!("ARCHITECTURE={}\n", systemd_arch(arch)));
    t.push_str(&format!("SYSEXT_VERSION_ID={version}\n"));
    t
}

/// The in-image path of the extension-release file of the extension `name`.
pub fn extension_release_path(name: &str) -> String {
    format!("/usr/lib/extension-release.d/extension-release.{name}")
}

/// The rendered rootfs, split: what goes into the image, and the /etc and /var files.
#[derive(Debug, Default)]
pub struct Split {
    pub image: BTreeMap<String, ImageNode>,
    pub files: Vec<NodeFile>,
}

/// Splits `rootfs`: /usr and /opt into the image (the enable links in
/// /etc/systemd/system/TARGET.wants/ become links in the unit's own folder's TARGET.wants/,
/// which systemd reads as well), /etc and /var into files for the config. Anything else, or
/// a link in /etc or /var that is not an enable link, is refused.
pub fn split(rootfs: &Rootfs) -> Result<Split> {
    let entries = rootfs.entries().clone();
    let mut out = Split::default();
    let mut wants = Vec::new();
    for (path, e) in &entries {
        let in_image = path.starts_with("/usr/") || path.starts_with("/opt/");
        let in_config = path.starts_with("/etc/") || path.starts_with("/var/");
        match &e.kind {
            Kind::File { .. } if in_image => {
                out.image.insert(
                    path.clone(),
                    ImageNode::HostFile {
                        from: rootfs.host_path(path)?,
                        mode: e.mode,
                    },
                );
            }
            Kind::Symlink { target } if in_image => {
                out.image.insert(
                    path.clone(),
                    ImageNode::Symlink {
                        target: target.clone(),
                    },
                );
            }
            Kind::File { .. } if in_config => {
                let content = match &e.content {
                    Some(c) => c.to_vec(),
                    None => {
                        let host = rootfs.host_path(path)?;
                        std::fs::read(&host)
                            .with_context(|| format!("reading {}", host.display()))?
                    }
                };
                out.files.push(NodeFile {
                    path: path.clone(),
                    mode: e.mode,
                    content,
                });
            }
            Kind::Symlink { target }
                if path.starts_with("/etc/systemd/system/")
                    && path.contains(".wants/")
                    && target.starts_with("/usr/") =>
            {
                wants.push((path.clone(), target.clone()));
            }
            _ => {
                return Err(Error::Profile(format!(
                    "{path} ({}) cannot go into a system extension: the image carries /usr and /opt, the \
                     Ignition config the files in /etc and /var, and links there are not written; move it \
                     (or render without --format sysext)",
                    e.origin
                ))
                .into())
            }
        }
    }
    for (link, unit_path) in wants {
        // /etc/systemd/system/multi-user.target.wants/containerd.service
        //   -> /usr/local/lib/systemd/system/containerd.service
        let (wants_dir, unit) = link
            .rsplit_once('/')
            .ok_or_else(|| Error::Internal(format!("enable link {link}")))?;
        let wants_dir = wants_dir.rsplit('/').next().unwrap_or(wants_dir);
        let (unit_dir, unit_file) = unit_path
            .rsplit_once('/')
            .ok_or_else(|| Error::Internal(format!("unit path {unit_path}")))?;
        if !unit_dir.ends_with("/systemd/system") || !out.image.contains_key(&unit_path) {
            return Err(Error::Internal(format!(
                "enable link {link} points at {unit_path}, not a unit the image carries"
            ))
            .into());
        }
        let new = format!("{unit_dir}/{wants_dir}/{unit}");
        if out
            .image
            .insert(
                new.clone(),
                ImageNode::Symlink {
                    target: format!("../{unit_file}"),
                },
            )
            .is_some()
        {
            return Err(Error::Profile(format!(
                "{new} is in the overlay already; builder puts the enable link there in the system extension"
            ))
            .into());
        }
    }
    Ok(out)
}

/// The image file written in the arch folder.
#[derive(Debug, Clone)]
pub struct ImageFile {
    pub file: String,
    /// The extension's name (the file is NAME.raw, in the arch folder and on the node).
    pub name: String,
    pub version: String,
    pub architecture: &'static str,
    pub sha256: Sha256,
    pub size: u64,
}

/// Writes the image for `split` into `dir`: the split's image part plus the extension-release.
pub fn write_image(
    profile: &Profile,
    version: &str,
    arch: Arch,
    split: &Split,
    dir: &Path,
    mtime: u64,
) -> Result<ImageFile> {
    let settings = profile.sysext.clone().unwrap_or_default();
    let mut nodes = split.image.clone();
    let name = extension_name(&profile.name, version, arch);
    let release = extension_release_path(&name);
    if nodes.contains_key(&release) {
        return Err(Error::Profile(format!(
            "{release} is in the overlay already; builder writes it for the system extension"
        ))
        .into());
    }
    nodes.insert(
        release,
        ImageNode::Bytes {
            content: extension_release(&profile.name, &settings, arch, version).into_bytes(),
            mode: 0o644,
        },
    );
    let file = layout::sysext_image(&name);
    let (sha256, size) = write_squashfs(&nodes, &dir.join(&file), mtime)?;
    Ok(ImageFile {
        file,
        name,
        version: version.to_string(),
        architecture: systemd_arch(arch),
        sha256,
        size,
    })
}

/// What the config is made of besides the split and the image.
#[derive(Debug)]
pub struct ConfigArgs<'a> {
    pub profile: &'a str,
    pub arch: Arch,
    pub runtime: Runtime,
    pub kubernetes: KubeMinor,
    /// `--sysext-url` (with `{arch}`); `None`: the image is embedded.
    pub url_template: Option<&'a str>,
    pub join: Option<&'a JoinParams>,
    pub kubelet_args: &'a BTreeMap<String, String>,
    pub cloud: Cloud,
}

/// A config file written in the arch folder: its bytes' digest and size.
#[derive(Debug, Clone)]
pub struct ConfigFiles {
    pub ignition_sha256: Sha256,
    pub ignition_size: u64,
    pub butane_sha256: Sha256,
    pub butane_size: u64,
}

/// Writes `ignition.json` and `butane.yaml` (both 0600: with join parameters they hold the
/// token) into `dir`.
pub fn write_config(
    args: &ConfigArgs,
    split: &Split,
    image: &ImageFile,
    dir: &Path,
) -> Result<ConfigFiles> {
    let mut files = split.files.clone();
    if let Some(j) = args.join {
        if files.iter().any(|f| f.path == JOIN_CONFIG_PATH) {
            return Err(Error::Input(format!(
                "{JOIN_CONFIG_PATH} is written by builder's Ignition config itself; rename that file in the overlay"
            ))
            .into());
        }
        let text = join_configuration(
            args.profile,
            args.kubernetes,
            args.runtime.cri_socket(),
            args.kubelet_args,
            j,
        )?;
        files.push(NodeFile {
            path: JOIN_CONFIG_PATH.into(),
            mode: 0o600,
            content: text.into_bytes(),
        });
    }
    let image_source = match args.url_template {
        Some(t) => ignition::ImageSource::Url {
            url: t.replace("{arch}", args.arch.as_str()),
            sha256: image.sha256,
        },
        None => {
            let path = dir.join(&image.file);
            ignition::ImageSource::Embedded {
                bytes: std::fs::read(&path)
                    .with_context(|| format!("reading {}", path.display()))?,
                sha256: image.sha256,
            }
        }
    };
    let mut units = vec![
        ignition::UnitSpec {
            name: "systemd-sysext.service".into(),
            enabled: true,
            contents: None,
        },
        ignition::UnitSpec {
            name: RELOAD_UNIT.into(),
            enabled: true,
            contents: Some(units::reload_unit(args.profile)),
        },
    ];
    for u in args.runtime.units() {
        units.push(ignition::UnitSpec {
            name: u.name.into(),
            enabled: true,
            contents: None,
        });
    }
    if args.join.is_some() {
        units.push(ignition::UnitSpec {
            name: JOIN_UNIT.into(),
            enabled: true,
            contents: Some(units::join_unit(args.profile, args.runtime)),
        });
    }
    let rendered = ignition::render(&ignition::ConfigInput {
        profile: args.profile,
        files: &files,
        image_path: format!("{EXTENSIONS_DIR}/{}", image.file),
        image: image_source,
        units,
        cloud: args.cloud,
    })?;
    let out = ArchDir::new(dir);
    write_with_mode(&out.ignition(), &rendered.json, 0o600)?;
    write_with_mode(&out.butane(), rendered.butane.as_bytes(), 0o600)?;
    Ok(ConfigFiles {
        ignition_sha256: Sha256::of(&rendered.json),
        ignition_size: rendered.json.len() as u64,
        butane_sha256: Sha256::of(rendered.butane.as_bytes()),
        butane_size: rendered.butane.len() as u64,
    })
}

#[cfg(test)]
mod tests;
