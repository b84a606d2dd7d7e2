//! Copying a static overlay tree (overlays/NAME) into the rootfs; where it is comes from
//! `profile::find_overlay` (beside the profile, then ./overlays, then built in).
//! Modes: 0755 for files that are executable on disk (built-in: under a `bin`/`sbin`
//! folder), 0644 otherwise; links are refused (an overlay is plain files).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use include_dir::{Dir, DirEntry};

use crate::build::install::{Origin, Rootfs};
use crate::profile::{find_overlay, OverlayRef, OverlaySource, Profile};
use crate::util::digest::Sha256;

pub fn copy(profile: &Profile, o: &OverlayRef, rootfs: &Rootfs) -> Result<()> {
    let source = Origin::Overlay(o.name.clone());
    // Validation found it; it can only be gone if it was removed since.
    match find_overlay(&profile.overlay_dirs, &o.name) {
        Some(OverlaySource::Dir(dir)) => copy_dir(&dir, "", &source, rootfs),
        Some(OverlaySource::BuiltIn(dir)) => copy_builtin(dir, &o.name, &source, rootfs),
        None => Err(o.loc.error(format_args!(
            "overlay {:?} not found (was it removed during the render?)",
            o.name
        ))),
    }
}

fn copy_dir(host: &Path, rel: &str, source: &Origin, rootfs: &Rootfs) -> Result<()> {
    let mut names: Vec<_> = fs::read_dir(host)
        .with_context(|| format!("listing overlay folder {}", host.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("listing overlay folder {}", host.display()))?;
    names.sort();
    for name in names {
        let name = name.into_string().map_err(|n| {
            anyhow::anyhow!(
                "overlay file name {n:?} under {} is not UTF-8",
                host.display()
            )
        })?;
        let path = host.join(&name);
        let target = format!("{rel}/{name}");
        let meta = fs::symlink_metadata(&path)
            .with_context(|| format!("inspecting {}", path.display()))?;
        if meta.is_dir() {
            copy_dir(&path, &target, source, rootfs)?;
        } else if meta.is_file() {
            let mode = if meta.permissions().mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            };
            // Read whole: overlay files are small, and the user-data carries them.
            let bytes = crate::util::read::read(&path, crate::util::read::Kind::Stream)?;
            rootfs.write_bytes(&target, mode, source, &bytes)?;
        } else {
            anyhow::bail!(
                "overlay file {} is not a plain file or folder; overlays hold files only",
                path.display()
            );
        }
    }
    Ok(())
}

fn copy_builtin(dir: &Dir<'_>, name: &str, source: &Origin, rootfs: &Rootfs) -> Result<()> {
    let mut entries: Vec<&DirEntry<'_>> = dir.entries().iter().collect();
    entries.sort_by_key(|e| e.path().to_path_buf());
    for e in entries {
        match e {
            DirEntry::Dir(d) => copy_builtin(d, name, source, rootfs)?,
            DirEntry::File(f) => {
                let rel = f.path().strip_prefix(name).unwrap_or(f.path());
                let target = format!("/{}", rel.display());
                let in_bin = rel
                    .parent()
                    .and_then(|p| p.file_name())
                    .is_some_and(|n| n == "bin" || n == "sbin");
                rootfs.write_bytes(
                    &target,
                    if in_bin { 0o755 } else { 0o644 },
                    source,
                    f.contents(),
                )?;
            }
        }
    }
    Ok(())
}

/// A digest of what copying `o` writes (paths, modes, bytes), copied into a scratch folder:
/// an edited overlays/ folder changes the render's input digest.
pub fn digest(profile: &Profile, o: &OverlayRef) -> Result<Sha256> {
    let tmp = tempfile::tempdir().context("creating a temporary folder")?;
    let scratch = Rootfs::new(tmp.path());
    copy(profile, o, &scratch)?;
    let listing: Vec<String> = crate::outputs::manifest::files_of(&scratch)
        .into_iter()
        .map(|f| format!("{} {} {}", f.path, f.mode, f.sha256.unwrap_or_default()))
        .collect();
    Ok(Sha256::of(listing.join("\n").as_bytes()))
}
