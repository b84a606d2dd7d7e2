//! systemd in the rootfs: checking that the files a runtime's units run were installed, and
//! enabling units the way `systemctl enable` would (a link in `TARGET.wants/`).

use anyhow::Result;

use crate::build::install::{Origin, Rootfs};
use crate::profile::Profile;
use crate::util::error::Error;
use crate::util::model::Unit;

/// The install path of a unit an artifact installed, by file name.
fn installed_unit(rootfs: &Rootfs, unit: &str) -> Option<String> {
    rootfs
        .entries()
        .keys()
        .find(|p| p.ends_with(&format!("/systemd/system/{unit}")) && !p.contains(".wants/"))
        .cloned()
}

/// Fails unless an artifact installed `path` (the runtime's files refer to it).
pub fn require_file(rootfs: &Rootfs, profile: &Profile, path: &str, what: &str) -> Result<()> {
    if rootfs.get(path).is_some() {
        return Ok(());
    }
    Err(Error::Profile(format!(
        "profile {}: no artifact installs {path} ({what}), which the {} runtime's units and config run; \
         add the [[artifact]] or fix its install rule's `to`",
        profile.name,
        profile.runtime.as_str()
    ))
    .into())
}

/// Enables each unit, in order, for the target that wants it.
pub fn enable_units(rootfs: &Rootfs, profile: &Profile, units: &[Unit]) -> Result<()> {
    for unit in units {
        let path = installed_unit(rootfs, unit.name).ok_or_else(|| {
            Error::Profile(format!(
                "profile {}: no artifact installs the systemd unit {name}; add it as an [[artifact]] \
                 (pinned by sha256) with `to = \"/usr/local/lib/systemd/system/{name}\"`",
                profile.name,
                name = unit.name
            ))
        })?;
        rootfs.symlink(
            &format!("/etc/systemd/system/{}.wants/{}", unit.wanted_by, unit.name),
            &path,
            &Origin::Template("systemd-enable"),
        )?;
    }
    Ok(())
}
