//! Where an overlay named by a profile is: a folder beside the profile (its `overlays/`),
//! then `./overlays`, then the trees built into the binary. The profile is validated against
//! this lookup (a missing overlay is a profile error for `show` and `render` alike); copying
//! the files is `render`'s.

use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};

static BUILTIN_OVERLAYS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/overlays");

/// Where an overlay's files are.
#[derive(Debug, Clone)]
pub enum OverlaySource {
    /// A folder on disk.
    Dir(PathBuf),
    /// A tree built into the binary (paths inside it start with the overlay's name).
    BuiltIn(&'static Dir<'static>),
}

/// Finds overlay `name`: in each of `dirs` (the profile's own overlay folders), then
/// `./overlays`, then built in.
pub fn find_overlay(dirs: &[PathBuf], name: &str) -> Option<OverlaySource> {
    dirs.iter()
        .map(PathBuf::as_path)
        .chain([Path::new("overlays")])
        .map(|base| base.join(name))
        .find(|dir| dir.is_dir())
        .map(OverlaySource::Dir)
        .or_else(|| BUILTIN_OVERLAYS.get_dir(name).map(OverlaySource::BuiltIn))
}

/// The fix for an overlay that is nowhere.
pub(super) fn missing(name: &str) -> String {
    format!(
        "overlay {name:?} not found: create overlays/{name}/ beside the profiles folder (or in the current folder), \
         or remove it from `overlays`"
    )
}
