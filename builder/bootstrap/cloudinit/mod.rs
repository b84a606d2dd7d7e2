//! cloud-init user-data (and NoCloud meta-data) that turns a fresh VM into a profile's node.
//!
//! Two modes. **Baked**: the image already holds the overlay; user-data writes the
//! node-specific files and starts the runtime. **Fetch**: user-data downloads overlay.tar.gz
//! at first boot, checks it against the digest pinned at render time, and only then unpacks
//! it. Both load the kernel modules and sysctls, enable and start the runtime's units in
//! order, and, given join parameters, write a kubeadm JoinConfiguration and run
//! `kubeadm join --config`. The document is checked against the cloud's size limit and
//! gzipped when that makes it fit.
//!
//! This module produces bytes (and writes them with the right modes on request,
//! [`UserData::write_to`]); it reads no profile and logs nothing (the join token must not
//! reach a log). `render` (the subcommand) decides what to pass in
//! and where the output goes.

mod fetch;
pub mod user_data;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};

use crate::bootstrap::yaml;
use crate::util::digest::Sha256;
use crate::util::error::Error;
use crate::util::model::{check_target, Arch, KubeMinor, Runtime};

pub use crate::bootstrap::join::{
    join_configuration, DiscoveryTimeout, JoinParams, ENV_API_SERVER, ENV_CA_CERT_HASH,
    ENV_DISCOVERY_TIMEOUT, ENV_TOKEN, JOIN_CONFIG_PATH,
};
pub use fetch::{check as check_fetch, fetch_script, FetchOverlay, FETCH_SCRIPT_PATH};

/// Files larger than this (or not plain text) are written as `encoding: gz+b64`.
pub const INLINE_MAX: usize = 1024;

/// The cloud whose user-data size limit applies (`--cloud`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Cloud {
    /// Amazon EC2: 16384 bytes of raw user-data, before base64 ("User data is limited to
    /// 16 KB, in raw form, before it is base64-encoded": EC2 User Guide, "Run commands when
    /// you launch an EC2 instance with user data input").
    Aws,
    /// Azure: `osProfile.customData`, "the maximum length of the binary array is 65535 bytes"
    /// (Azure REST API reference, Virtual Machines, OSProfile.customData).
    Azure,
    /// Google Compute Engine: 256 KiB per metadata value, 262144 bytes (Compute Engine docs,
    /// "About VM metadata", metadata limits).
    Gcp,
    /// Anything else (NoCloud seed ISOs, OpenStack, bare metal): GCP's 256 KiB, a size every
    /// common datasource accepts.
    Generic,
}

impl Cloud {
    /// The most user-data bytes the cloud accepts (gzipped or not: the bytes handed over).
    pub fn limit(self) -> usize {
        match self {
            Cloud::Aws => 16_384,
            Cloud::Azure => 65_535,
            Cloud::Gcp | Cloud::Generic => 262_144,
        }
    }

    /// The `--cloud` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Azure => "azure",
            Cloud::Gcp => "gcp",
            Cloud::Generic => "generic",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Cloud::Aws => "AWS",
            Cloud::Azure => "Azure",
            Cloud::Gcp => "GCP",
            Cloud::Generic => "generic",
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A file the user-data writes on the node, owned by root:root.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeFile {
    /// Absolute path on the node.
    pub path: String,
    /// Permission bits, e.g. `0o644`.
    pub mode: u32,
    pub content: Vec<u8>,
}

impl fmt::Debug for NodeFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NodeFile {{ path: {:?}, mode: {:04o}, {} bytes }}",
            self.path,
            self.mode,
            self.content.len()
        )
    }
}

/// Everything one arch's user-data is made from.
#[derive(Debug)]
pub struct UserDataInput<'a> {
    pub profile: &'a str,
    pub arch: Arch,
    /// Also picks the CRI socket kubeadm registers the node with and the units to enable
    /// and start, in order ([`Runtime::cri_socket`], [`Runtime::units`]).
    pub runtime: Runtime,
    pub kubernetes: KubeMinor,
    /// Baked mode: the node-specific files to write (generated config and overlays/ files).
    /// Ignored in fetch mode (the overlay carries them).
    pub files: &'a [NodeFile],
    /// Fetch mode: download and verify overlay.tar.gz at first boot.
    pub fetch: Option<FetchOverlay>,
    /// Join the cluster after the runtime is up.
    pub join: Option<&'a JoinParams>,
    /// The kubelet flags (name without `--` → value) the rendered kubeadm-flags.env carries
    /// (`plan::kubelet_flags`). With `join` they go into the JoinConfiguration's
    /// kubeletExtraArgs, because `kubeadm join` rewrites kubeadm-flags.env from it; the CRI
    /// endpoint flags are left out there (kubeadm derives them from the CRI socket).
    pub kubelet_args: &'a BTreeMap<String, String>,
    pub cloud: Cloud,
}

/// The rendered user-data and meta-data.
#[derive(Clone, PartialEq, Eq)]
pub struct UserData {
    /// What to write as `user-data` (mode 0600: it may hold the join token).
    pub bytes: Vec<u8>,
    /// Whether `bytes` is the gzipped document (cloud-init detects and unpacks it).
    pub gzipped: bool,
    /// The NoCloud `meta-data` file.
    pub meta_data: String,
}

impl UserData {
    /// Writes `DIR/user-data` (mode 0600, whatever umask or an older file says: it may hold
    /// the join token) and `DIR/meta-data` (0644).
    pub fn write_to(&self, dir: &Path) -> Result<()> {
        write_with_mode(&dir.join("user-data"), &self.bytes, 0o600)?;
        write_with_mode(&dir.join("meta-data"), self.meta_data.as_bytes(), 0o644)
    }
}

pub(crate) fn write_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    // Created 0600 so the bytes are never readable by others, then set to the final mode.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_data())
        .with_context(|| format!("writing {}", path.display()))
}

impl fmt::Debug for UserData {
    // Never the bytes: they may hold the join token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "UserData {{ {} bytes, gzipped: {}, sha256: {} }}",
            self.bytes.len(),
            self.gzipped,
            Sha256::of(&self.bytes)
        )
    }
}

/// One `write_files` item, with what the size report needs.
struct Item {
    path: String,
    on_node: usize,
    yaml: String,
}

/// `readable`: builder's own scripts and configs stay plain text at any size, so whoever
/// reads the user-data sees what the node will run.
fn item(path: &str, mode: u32, content: &[u8], readable: bool) -> Result<Item> {
    let quoted_path = yaml::single_quoted(path)
        .filter(|_| check_target(path).is_ok() && !path.ends_with('/'))
        .ok_or_else(|| {
            Error::Input(format!(
                "cannot write {path:?} from user-data: not a plain absolute file path (no '..', line breaks or control characters)"
            ))
        })?;
    if mode > 0o7777 {
        return Err(
            Error::Internal(format!("mode {mode:o} of {path} is not a permission mode")).into(),
        );
    }
    let mut y =
        format!("- path: {quoted_path}\n  owner: 'root:root'\n  permissions: '{mode:04o}'\n");
    match std::str::from_utf8(content) {
        _ if content.is_empty() => y.push_str("  content: ''\n"),
        Ok(text) if (readable || content.len() <= INLINE_MAX) && yaml::literal_ok(text) => {
            y.push_str("  content: ");
            yaml::literal_block(&mut y, "    ", text);
        }
        _ => {
            y.push_str("  encoding: 'gz+b64'\n  content: '");
            y.push_str(&yaml::base64(&yaml::gzip(content)));
            y.push_str("'\n");
        }
    }
    Ok(Item {
        path: path.to_string(),
        on_node: content.len(),
        yaml: y,
    })
}

fn check_unit(unit: &str) -> Result<()> {
    let ok = !unit.is_empty()
        && unit
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@._:-".contains(&b))
        && [
            ".service", ".socket", ".target", ".timer", ".mount", ".path",
        ]
        .iter()
        .any(|s| unit.ends_with(s));
    if ok {
        Ok(())
    } else {
        Err(Error::Internal(format!("{unit:?} is not a systemd unit name")).into())
    }
}

/// The runcmd script: one item, so `set -eu` governs every step and a failed step (a
/// refused overlay above all) stops the rest: no half-installed runtime, no join.
fn runcmd(input: &UserDataInput) -> String {
    let mut s = String::from("set -eu\n");
    if input.fetch.is_some() {
        s.push_str(FETCH_SCRIPT_PATH);
        s.push('\n');
    }
    // modprobe takes one module unless -a; sysctl -e: a key some other package set for a
    // kernel without it must not stop the boot.
    s.push_str("modprobe -a overlay br_netfilter\nsysctl -e --system\n");
    if input.runtime == Runtime::CriDockerd {
        // docker.socket and cri-docker.socket have SocketGroup=docker.
        s.push_str("getent group docker >/dev/null || groupadd --system docker\n");
    }
    s.push_str("systemctl daemon-reload\n");
    let units: Vec<&str> = input.runtime.units().iter().map(|u| u.name).collect();
    s.push_str(&format!("systemctl enable --now {}\n", units.join(" ")));
    if input.join.is_some() {
        s.push_str(&format!(
            "kubeadm join --config {JOIN_CONFIG_PATH}\nrm -f {JOIN_CONFIG_PATH}\n"
        ));
    }
    s
}

/// Renders one arch's user-data and meta-data. Deterministic: the same input gives the same
/// bytes. Fails with `Error::Input` when the document does not fit the cloud's limit even
/// gzipped, naming the sizes, the limit and the largest files.
pub fn render(input: &UserDataInput) -> Result<UserData> {
    if yaml::single_quoted(input.profile).is_none() {
        return Err(Error::Internal(format!("profile name {:?}", input.profile)).into());
    }
    let cri_socket = input.runtime.cri_socket();
    if yaml::single_quoted(cri_socket).is_none() || cri_socket.contains(' ') {
        return Err(Error::Internal(format!("CRI socket {cri_socket:?}")).into());
    }
    if input.runtime.units().is_empty() {
        return Err(Error::Internal("no units to start".into()).into());
    }
    for u in input.runtime.units() {
        check_unit(u.name)?;
    }

    let mut items = Vec::new();
    match &input.fetch {
        Some(f) => {
            fetch::check(&f.url)?;
            items.push(item(
                FETCH_SCRIPT_PATH,
                0o755,
                fetch_script(&f.url, &f.sha256).as_bytes(),
                true,
            )?);
        }
        None => {
            let mut files: Vec<&NodeFile> = input.files.iter().collect();
            files.sort_by(|a, b| a.path.cmp(&b.path));
            for pair in files.windows(2) {
                if pair[0].path == pair[1].path {
                    return Err(Error::Input(format!(
                        "{} is given twice to write from user-data",
                        pair[0].path
                    ))
                    .into());
                }
            }
            for f in files {
                if f.path == JOIN_CONFIG_PATH || f.path == FETCH_SCRIPT_PATH {
                    return Err(Error::Input(format!(
                        "{} is written by builder's user-data itself; rename that file in the overlay",
                        f.path
                    ))
                    .into());
                }
                items.push(item(&f.path, f.mode, &f.content, false)?);
            }
        }
    }
    if let Some(j) = input.join {
        let text = join_configuration(
            input.profile,
            input.kubernetes,
            cri_socket,
            input.kubelet_args,
            j,
        )?;
        items.push(item(JOIN_CONFIG_PATH, 0o600, text.as_bytes(), true)?);
    }

    let mode = if input.fetch.is_some() {
        "fetch"
    } else {
        "baked"
    };
    let mut doc = String::from("#cloud-config\n");
    doc.push_str(&crate::node::header(input.profile));
    doc.push_str(&format!(
        "# {mode} mode: {arch}, {runtime}, Kubernetes {kube}; sized for {cloud} ({limit} bytes).\n",
        arch = input.arch,
        runtime = input.runtime.as_str(),
        kube = input.kubernetes,
        cloud = input.cloud.title(),
        limit = input.cloud.limit(),
    ));
    if !items.is_empty() {
        doc.push_str("write_files:\n");
        for i in &items {
            doc.push_str(&i.yaml);
        }
    }
    doc.push_str("runcmd:\n- ");
    yaml::literal_block(&mut doc, "  ", &runcmd(input));

    let limit = input.cloud.limit();
    let (bytes, gzipped) = if doc.len() <= limit {
        (doc.into_bytes(), false)
    } else {
        let gz = yaml::gzip(doc.as_bytes());
        if gz.len() > limit {
            return Err(too_big(input, doc.len(), gz.len(), &mut items).into());
        }
        (gz, true)
    };

    let digest = Sha256::of(&bytes).to_hex();
    let instance = format!("builder-{}-{}-{}", input.profile, input.arch, &digest[..12]);
    let meta_data = format!(
        "{}instance-id: {}\n",
        crate::node::header(input.profile),
        yaml::single_quoted(&instance)
            .ok_or_else(|| Error::Internal(format!("instance id {instance:?}")))?,
    );
    Ok(UserData {
        bytes,
        gzipped,
        meta_data,
    })
}

fn too_big(input: &UserDataInput, raw: usize, gz: usize, items: &mut [Item]) -> Error {
    items.sort_by(|a, b| b.yaml.len().cmp(&a.yaml.len()).then(a.path.cmp(&b.path)));
    let largest: Vec<String> = items
        .iter()
        .take(5)
        .map(|i| {
            format!(
                "{} ({} bytes in user-data, {} on the node)",
                i.path,
                i.yaml.len(),
                i.on_node
            )
        })
        .collect();
    let cure = if input.fetch.is_some() {
        "move large files out of the overlays/ tree into the image"
    } else {
        "leave large files in the image and write only node-specific ones, or use --overlay-url so nodes fetch the overlay at boot"
    };
    Error::Input(format!(
        "user-data for profile {} ({}) is {raw} bytes ({gz} gzipped), over the {} limit of {} bytes; \
         largest write_files entries: {}; {cure}",
        input.profile,
        input.arch,
        input.cloud.title(),
        input.cloud.limit(),
        if largest.is_empty() { "none".to_string() } else { largest.join(", ") },
    ))
}

#[cfg(test)]
mod tests;
