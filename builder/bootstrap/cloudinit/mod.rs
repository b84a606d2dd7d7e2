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
//! and where the output goes. The node files, the cloud's size limit and the join parameters
//! are `bootstrap`'s, shared with Ignition (`files`, `cloud`, `join`); they are re-exported
//! here because `UserDataInput` is made of them.

mod fetch;
pub mod user_data;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use anyhow::Result;

use crate::bootstrap::files::{write_with_mode, INLINE_MAX};
use crate::bootstrap::yaml;
use crate::util::digest::Sha256;
use crate::util::error::Error;
use crate::util::model::{check_target, Arch, KubeMinor, Runtime};

pub use crate::bootstrap::cloud::Cloud;
pub use crate::bootstrap::files::NodeFile;
pub use crate::bootstrap::join::{
    join_configuration, DiscoveryTimeout, JoinParams, ENV_API_SERVER, ENV_CA_CERT_HASH,
    ENV_DISCOVERY_TIMEOUT, ENV_TOKEN, JOIN_CONFIG_PATH,
};
pub use crate::bootstrap::node_check::{node_check_script, NODE_CHECK_PATH};
pub use fetch::{
    check as check_fetch, check_endpoint, fetch_script, registry_fetch_script, FetchOverlay,
    RegistrySource, FETCH_SCRIPT_PATH,
};

/// Everything one arch's user-data is made from.
#[derive(Debug)]
pub struct UserDataInput<'a> {
    pub profile: &'a str,
    pub arch: Arch,
    /// Also picks the CRI socket kubeadm registers the node with and the units to enable
    /// and start, in order ([`Runtime::cri_socket`], [`Runtime::units`]).
    pub runtime: Runtime,
    /// Checked against the node's `kubelet --version` before anything starts.
    pub kubernetes: KubeMinor,
    /// Docker Engine's version (the `docker-static` artifact's) for cri-dockerd profiles: decides
    /// whether a missing `apparmor_parser` fails the boot or only warns
    /// ([`crate::bootstrap::node_check`]).
    pub docker: Option<&'a str>,
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
/// refused overlay, a base image that cannot run the overlay) stops the rest: no
/// half-installed runtime, no join. The self-check runs after the fetch (the overlay may
/// bring the kubelet) and before anything starts.
fn runcmd(input: &UserDataInput) -> String {
    let mut s = String::from("set -eu\n");
    if input.fetch.is_some() {
        s.push_str(FETCH_SCRIPT_PATH);
        s.push('\n');
    }
    s.push_str(NODE_CHECK_PATH);
    s.push('\n');
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
    check_input(input)?;
    let mut items = write_files(input)?;
    let doc = document(input, &items);
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
    let meta_data = meta_data(input, &bytes)?;
    Ok(UserData {
        bytes,
        gzipped,
        meta_data,
    })
}

/// What the document quotes or runs unchecked: the profile name, the CRI socket, the units.
fn check_input(input: &UserDataInput) -> Result<()> {
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
    Ok(())
}

/// The `write_files` items: the fetch script, or baked mode's node files; the self-check
/// script; then the JoinConfiguration.
fn write_files(input: &UserDataInput) -> Result<Vec<Item>> {
    let mut items = match &input.fetch {
        Some(f) => {
            let script = match &f.registry {
                Some(r) => {
                    for e in &r.endpoints {
                        fetch::check_endpoint(e)?;
                    }
                    registry_fetch_script(&f.url, &f.sha256, r)
                }
                None => {
                    fetch::check(&f.url)?;
                    fetch_script(&f.url, &f.sha256)
                }
            };
            vec![item(FETCH_SCRIPT_PATH, 0o755, script.as_bytes(), true)?]
        }
        None => node_file_items(input.files)?,
    };
    let check = node_check_script(input.profile, input.kubernetes, input.docker);
    items.push(item(NODE_CHECK_PATH, 0o755, check.as_bytes(), true)?);
    if let Some(j) = input.join {
        let text = join_configuration(
            input.profile,
            input.kubernetes,
            input.runtime.cri_socket(),
            input.kubelet_args,
            j,
        )?;
        items.push(item(JOIN_CONFIG_PATH, 0o600, text.as_bytes(), true)?);
    }
    Ok(items)
}

/// Baked mode's node files, by path: none twice, none where builder's own files go.
fn node_file_items(files: &[NodeFile]) -> Result<Vec<Item>> {
    let mut files: Vec<&NodeFile> = files.iter().collect();
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
    let mut items = Vec::new();
    for f in files {
        if [JOIN_CONFIG_PATH, FETCH_SCRIPT_PATH, NODE_CHECK_PATH].contains(&f.path.as_str()) {
            return Err(Error::Input(format!(
                "{} is written by builder's user-data itself; rename that file in the overlay",
                f.path
            ))
            .into());
        }
        items.push(item(&f.path, f.mode, &f.content, false)?);
    }
    Ok(items)
}

/// The `#cloud-config` document: header, `write_files`, `runcmd`.
fn document(input: &UserDataInput, items: &[Item]) -> String {
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
        for i in items {
            doc.push_str(&i.yaml);
        }
    }
    doc.push_str("runcmd:\n- ");
    yaml::literal_block(&mut doc, "  ", &runcmd(input));
    doc
}

/// The NoCloud meta-data: an instance id that changes with the user-data's bytes.
fn meta_data(input: &UserDataInput, bytes: &[u8]) -> Result<String> {
    let digest = Sha256::of(bytes).to_hex();
    let instance = format!("builder-{}-{}-{}", input.profile, input.arch, &digest[..12]);
    Ok(format!(
        "{}instance-id: {}\n",
        crate::node::header(input.profile),
        yaml::single_quoted(&instance)
            .ok_or_else(|| Error::Internal(format!("instance id {instance:?}")))?,
    ))
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
