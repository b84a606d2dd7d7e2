//! The system-extension side of a render (`--format sysext`): cuts the image from the
//! finished rootfs before the manifest is written (the manifest lists it), and writes the
//! Ignition config and its Butane twin after. The formats themselves are `crate::outputs::sysext`'s.

use std::path::Path;

use anyhow::Result;

use crate::outputs::layout;
use crate::outputs::manifest::SysextRef;
use crate::outputs::sysext::{self, ConfigArgs, ImageFile, Split};
use crate::profile::plan::Plan;
use crate::util::digest::Sha256;
use crate::util::model::Arch;

use crate::bootstrap::cloudinit::user_data::UserDataArgs;

/// The image, built and written in `dir`, with the split it was cut from.
pub(super) struct Built {
    split: Split,
    pub(super) image: ImageFile,
}

/// Builds the image from `rootfs`.
pub(super) fn image(
    plan: &Plan,
    arch: Arch,
    rootfs: &crate::build::install::Rootfs,
    dir: &Path,
    mtime: u64,
) -> Result<Built> {
    let split = sysext::split(rootfs)?;
    let version = sysext::image_version(&plan.profile, &plan.profile_sha256);
    let image = sysext::write_image(&plan.profile, &version, arch, &split, dir, mtime)?;
    Ok(Built { split, image })
}

/// The manifest's entry for the image.
pub(super) fn manifest_ref(b: &Built) -> SysextRef {
    SysextRef {
        file: b.image.file.clone(),
        sha256: b.image.sha256.into(),
        size: b.image.size,
        name: b.image.name.clone(),
        version: b.image.version.clone(),
        architecture: b.image.architecture.to_string(),
    }
}

/// Writes ignition.json and butane.yaml; returns (file name, sha256) of each, and the image's,
/// for SHA256SUMS.
pub(super) fn config(
    plan: &Plan,
    arch: Arch,
    b: &Built,
    dir: &Path,
    ud: &UserDataArgs,
    sysext_url: Option<&str>,
) -> Result<Vec<(String, Sha256)>> {
    let profile = &plan.profile;
    let c = sysext::write_config(
        &ConfigArgs {
            profile: &profile.name,
            arch,
            runtime: profile.runtime,
            kubernetes: profile.kubernetes,
            url_template: sysext_url,
            join: ud.join,
            kubelet_args: &plan.kubelet_flags,
            cloud: ud.cloud,
        },
        &b.split,
        &b.image,
        dir,
    )?;
    Ok(vec![
        (b.image.file.clone(), b.image.sha256),
        (layout::IGNITION.into(), c.ignition_sha256),
        (layout::BUTANE.into(), c.butane_sha256),
    ])
}
