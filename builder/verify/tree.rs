//! The entries of an output, read three ways so they can be compared: as manifest.json lists
//! them, as overlay.tar.gz holds them (streamed, hashed as read), and as rootfs/ has them on
//! disk. Folders are not compared (the manifest does not list them); their contents are.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::outputs::manifest::FileRef;
use crate::util::digest::Recorded;

/// What one path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    File {
        mode: u32,
        size: u64,
        /// From the manifest, as it says; from the archive or the folder, as computed.
        sha256: Recorded,
    },
    Link {
        target: String,
    },
}

impl Entry {
    fn describe(&self) -> String {
        match self {
            Entry::File { mode, size, sha256 } => {
                format!("a file, mode {mode:04o}, {size} bytes, sha256 {sha256}")
            }
            Entry::Link { target } => format!("a link to {target:?}"),
        }
    }
}

pub type Entries = BTreeMap<String, Entry>;

/// The manifest's files, by path.
pub fn from_manifest(files: &[FileRef]) -> Result<Entries, String> {
    let mut out = Entries::new();
    for f in files {
        let entry = match (&f.link, f.size, &f.sha256) {
            (Some(target), None, None) => Entry::Link {
                target: target.clone(),
            },
            (None, Some(size), Some(sha256)) => Entry::File {
                mode: u32::from_str_radix(&f.mode, 8)
                    .map_err(|_| format!("{}: mode {:?} is not octal", f.path, f.mode))?,
                size,
                sha256: sha256.clone(),
            },
            _ => {
                return Err(format!(
                    "{}: neither a file (size and sha256) nor a link (link only)",
                    f.path
                ))
            }
        };
        if out.insert(f.path.clone(), entry).is_some() {
            return Err(format!("{} is listed twice", f.path));
        }
    }
    Ok(out)
}

/// The overlay archive's entries (gzip or zstd, told by its magic number), each file hashed
/// as it streams past.
pub fn from_archive(path: &Path) -> Result<Entries, String> {
    let stream = crate::build::pack::open_archive(path)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    let mut archive = tar::Archive::new(stream);
    let mut out = Entries::new();
    let bad = |e: io::Error| format!("reading {}: {e}", path.display());
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        // The manifest names paths from the root: /etc/..., where the archive has etc/...
        let name = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let name = format!("/{}", name.trim_start_matches("./"));
        let header = entry.header();
        let mode = header.mode().map_err(bad)? & 0o7777;
        let kind = header.entry_type();
        let e = if kind.is_dir() {
            continue;
        } else if kind.is_symlink() {
            let target = entry
                .link_name()
                .map_err(bad)?
                .ok_or_else(|| format!("{name}: a link without a target"))?;
            Entry::Link {
                target: target.to_string_lossy().into_owned(),
            }
        } else if kind.is_file() {
            let (sha256, size) = crate::util::digest::sha256_reader(&mut entry).map_err(bad)?;
            Entry::File {
                mode,
                size,
                sha256: sha256.into(),
            }
        } else {
            return Err(format!(
                "{name}: a {kind:?} entry, which builder never writes"
            ));
        };
        if out.insert(name.clone(), e).is_some() {
            return Err(format!("{name} is in the archive twice"));
        }
    }
    Ok(out)
}

/// rootfs/'s files and links, hashed (the files on every core: a rootfs is a few large binaries).
pub fn from_dir(root: &Path) -> Result<Entries, String> {
    let mut out = Entries::new();
    let mut files = Vec::new();
    walk(root, "", &mut out, &mut files)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let hashed = crate::util::pool::run(&files, cores, |(_, path, _)| {
        crate::util::digest::sha256_file(path)
    })
    .map_err(|e| format!("{e:#}"))?;
    for ((rel, _, mode), (sha256, size)) in files.into_iter().zip(hashed) {
        let sha256 = sha256.into();
        out.insert(rel, Entry::File { mode, size, sha256 });
    }
    Ok(out)
}

/// A file found by [`walk`], to hash: its name in the tree, where it is, its mode.
type FoundFile = (String, std::path::PathBuf, u32);

fn walk(
    dir: &Path,
    rel: &str,
    out: &mut Entries,
    files: &mut Vec<FoundFile>,
) -> Result<(), String> {
    let listing = fs::read_dir(dir).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    for entry in listing {
        let entry = entry.map_err(|e| format!("listing {}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{rel}/{name}");
        let path = entry.path();
        let meta = fs::symlink_metadata(&path)
            .map_err(|e| format!("inspecting {}: {e}", path.display()))?;
        let ft = meta.file_type();
        if ft.is_dir() {
            walk(&path, &rel, out, files)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&path)
                .map_err(|e| format!("reading link {}: {e}", path.display()))?;
            out.insert(
                rel,
                Entry::Link {
                    target: target.to_string_lossy().into_owned(),
                },
            );
        } else if ft.is_file() {
            files.push((rel, path, meta.permissions().mode() & 0o7777));
        } else {
            return Err(format!("{rel}: neither a file, a folder nor a link"));
        }
    }
    Ok(())
}

/// The first difference between what the manifest lists and what `found` (`what`: the
/// archive or the folder) holds, in path order; `None` when they agree entry by entry.
pub fn first_difference(manifest: &Entries, found: &Entries, what: &str) -> Option<String> {
    let mut paths: Vec<&String> = manifest.keys().chain(found.keys()).collect();
    paths.sort();
    paths.dedup();
    for path in paths {
        match (manifest.get(path), found.get(path)) {
            (Some(m), Some(f)) if m == f => {}
            (Some(m), Some(f)) => {
                return Some(format!(
                    "{path}: {what} has {}; manifest.json says {}",
                    f.describe(),
                    m.describe()
                ))
            }
            (Some(_), None) => return Some(format!("{path}: in manifest.json, not in {what}")),
            (None, Some(_)) => return Some(format!("{path}: in {what}, not in manifest.json")),
            (None, None) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(mode: u32, sha: &str) -> Entry {
        Entry::File {
            mode,
            size: 3,
            sha256: sha.into(),
        }
    }

    #[test]
    fn differences_are_named_by_path_in_order() {
        let m = Entries::from([
            ("a".to_string(), file(0o644, "aa")),
            ("b".to_string(), Entry::Link { target: "a".into() }),
        ]);
        assert_eq!(first_difference(&m, &m.clone(), "x"), None);
        let mut f = m.clone();
        f.insert("a".into(), file(0o755, "aa"));
        let d = first_difference(&m, &f, "overlay.tar.gz").unwrap();
        assert!(
            d.starts_with("a: overlay.tar.gz has a file, mode 0755"),
            "{d}"
        );
        f = m.clone();
        f.insert(
            "b".into(),
            Entry::Link {
                target: "../a".into(),
            },
        );
        assert!(first_difference(&m, &f, "x")
            .unwrap()
            .contains("a link to \"../a\""));
        f = m.clone();
        f.remove("a");
        f.insert("c".into(), file(0o644, "cc"));
        assert_eq!(
            first_difference(&m, &f, "rootfs/").unwrap(),
            "a: in manifest.json, not in rootfs/"
        );
        f.insert("a".into(), file(0o644, "aa"));
        assert_eq!(
            first_difference(&m, &f, "rootfs/").unwrap(),
            "c: in rootfs/, not in manifest.json"
        );
    }

    #[test]
    fn bad_manifest_entries_are_refused() {
        let f = |mode: &str, size, sha: Option<&str>, link: Option<&str>| FileRef {
            path: "p".into(),
            mode: mode.into(),
            size,
            sha256: sha.map(Recorded::from),
            link: link.map(String::from),
            source: "template:x".into(),
        };
        assert!(from_manifest(&[f("0644", Some(1), Some("aa"), None)]).is_ok());
        assert!(from_manifest(&[f("0999", Some(1), Some("aa"), None)]).is_err());
        assert!(from_manifest(&[f("0644", Some(1), None, None)]).is_err());
        assert!(from_manifest(&[f("0777", None, None, Some("x"))]).is_ok());
        let twice = [
            f("0644", Some(1), Some("aa"), None),
            f("0644", Some(1), Some("aa"), None),
        ];
        assert!(from_manifest(&twice).unwrap_err().contains("twice"));
    }
}
