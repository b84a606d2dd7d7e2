//! The cloud-init side of a render: checking `--overlay-url`, choosing baked mode's node files,
//! and writing `user-data` (0600) and `meta-data` beside the overlay they belong to.
//!
//! The documents themselves are `crate::bootstrap::cloudinit`'s; this only feeds it from the render.

use std::path::Path;

use anyhow::Result;

use crate::bootstrap::cloudinit::{self, FetchOverlay, UserData, UserDataInput};
use crate::build::install::{Kind, Origin, Rootfs};
use crate::profile::plan::Plan;
use crate::util::digest::Sha256;
use crate::util::error::Error;
use crate::util::model::{Arch, Runtime};

/// What the user-data is made of, besides the profile.
pub struct UserDataArgs<'a> {
    pub cloud: cloudinit::Cloud,
    pub overlay_url: Option<&'a str>,
    /// With an `oci://` overlay URL: the repository and endpoints the node fetches from.
    pub registry: Option<&'a cloudinit::RegistrySource>,
    pub join: Option<&'a cloudinit::JoinParams>,
}

/// `{arch}` is the only placeholder; with several arches it is required (each has its own digest).
pub fn check_overlay_url(template: &str, arches: &[Arch]) -> Result<()> {
    crate::util::model::check_arch_template("--overlay-url", template, arches, "overlay")
        .map_err(Error::Input)?;
    cloudinit::check_fetch(&template.replace("{arch}", arches[0].as_str()))
}

/// Baked mode's node files: every file the render generated or copied from overlays/ (not
/// the artifacts, which the image has, nor the `.wants/` links, which `systemctl enable` makes),
/// with the bytes the rootfs ledger kept when they were written.
pub fn node_files(rootfs: &Rootfs) -> Result<Vec<cloudinit::NodeFile>> {
    let mut out = Vec::new();
    for (path, e) in rootfs.entries().iter() {
        let ours = matches!(e.origin, Origin::Template(_) | Origin::Overlay(_));
        if !ours || !matches!(e.kind, Kind::File { .. }) {
            continue;
        }
        let content = e.content.as_ref().ok_or_else(|| {
            Error::Internal(format!(
                "{path} ({}) was written without its bytes kept",
                e.origin
            ))
        })?;
        out.push(cloudinit::NodeFile {
            path: path.clone(),
            mode: e.mode,
            content: content.to_vec(),
        });
    }
    Ok(out)
}

/// Renders and writes one arch's user-data and meta-data into `dir`.
pub fn write(
    plan: &Plan,
    arch: Arch,
    node_files: Vec<cloudinit::NodeFile>,
    dir: &Path,
    overlay_sha256: &Sha256,
    ud: &UserDataArgs,
) -> Result<UserData> {
    let profile = &plan.profile;
    let files = if ud.overlay_url.is_some() {
        Vec::new()
    } else {
        node_files
    };
    let user_data = cloudinit::render(&UserDataInput {
        profile: &profile.name,
        arch,
        runtime: profile.runtime,
        kubernetes: profile.kubernetes,
        docker: match profile.runtime {
            Runtime::CriDockerd => profile
                .artifact("docker-static")
                .map(|a| a.version.as_str()),
            Runtime::Containerd => None,
        },
        files: &files,
        fetch: ud.overlay_url.map(|t| FetchOverlay {
            // An oci:// URL names the artifact (every arch); the blob is this arch's overlay.
            url: match ud.registry {
                Some(_) => t.to_string(),
                None => t.replace("{arch}", arch.as_str()),
            },
            sha256: *overlay_sha256,
            registry: ud.registry.cloned(),
        }),
        join: ud.join,
        // kubeadm join rewrites kubeadm-flags.env from the JoinConfiguration: same flags there.
        kubelet_args: &plan.kubelet_flags,
        cloud: ud.cloud,
    })?;
    user_data.write_to(dir)?;
    Ok(user_data)
}
