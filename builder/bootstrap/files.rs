//! The files first boot writes on the node, whichever config carries them (cloud-init's
//! `write_files`, Ignition's `storage.files`), and writing a first-boot config on the host with
//! the mode it needs (0600 when it may hold the join token).

use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result};

/// The size above which a node file may travel gzipped: cloud-init writes larger ones (and any
/// that is not plain text) as `encoding: gz+b64`, builder's own scripts and configs aside;
/// Ignition gzips larger ones when the config does not fit the cloud's limit otherwise.
pub const INLINE_MAX: usize = 1024;

/// A file the first-boot config writes on the node, owned by root:root.
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

/// Writes `bytes` to `path` with permission bits `mode`, whatever umask or an older file says.
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
