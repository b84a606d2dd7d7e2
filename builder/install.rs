//! The rootfs being built: every write goes through here, so nothing lands outside the root,
//! no path is written twice, and each file's mode, size, digest and origin are recorded for
//! the manifest.
//!
//! It does not read archives (see `archive`) or decide what a runtime needs (see `render`).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use anyhow::{Context, Result};

use crate::cache::HashingWriter;
use crate::error::Error;

/// What a path in the rootfs is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File { size: u64, sha256: String },
    Symlink { target: String },
}

/// One installed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub mode: u32,
    pub kind: Kind,
    /// Where it came from: `artifact:NAME`, `template:NAME` or `overlay:NAME`.
    pub source: String,
}

/// A rootfs under construction. Shared by reference between threads (artifacts install in
/// parallel): a path is claimed under the lock before it is written.
#[derive(Debug)]
pub struct Rootfs {
    root: PathBuf,
    entries: Mutex<BTreeMap<String, Entry>>,
}

/// Checks an absolute in-rootfs path and returns it without the leading '/'.
fn relative(path: &str) -> Result<&str> {
    crate::profile::check_target(path).map_err(Error::Internal)?;
    if path.ends_with('/') {
        return Err(Error::Internal(format!("{path:?} names a folder, not a file")).into());
    }
    Ok(&path[1..])
}

impl Rootfs {
    /// Starts an empty rootfs in `root` (which must exist and be empty).
    pub fn new(root: &Path) -> Rootfs {
        Rootfs {
            root: root.to_path_buf(),
            entries: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every installed path (a lock is held while the guard lives).
    pub fn entries(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, path: &str) -> Option<Entry> {
        self.entries().get(path).cloned()
    }

    /// Host path of an in-rootfs path.
    pub fn host_path(&self, path: &str) -> Result<PathBuf> {
        Ok(self.root.join(relative(path)?))
    }

    /// Reserves `path` for `source` (a placeholder entry, replaced once written).
    fn claim(&self, path: &str, source: &str) -> Result<()> {
        let mut entries = self.entries();
        if let Some(prev) = entries.get(path) {
            return Err(Error::Profile(format!(
                "{path} would be written twice: by {} and by {source}; change one install rule's `to` \
                 (or drop the file from the overlay)",
                prev.source
            ))
            .into());
        }
        entries.insert(
            path.to_string(),
            Entry {
                mode: 0,
                kind: Kind::Symlink {
                    target: String::new(),
                },
                source: source.to_string(),
            },
        );
        Ok(())
    }

    /// Creates the parent folders of `rel`, refusing to go through anything but real folders.
    fn make_parents(&self, rel: &str) -> Result<PathBuf> {
        let mut dir = self.root.clone();
        let parts: Vec<&str> = rel.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            dir.push(part);
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(Error::Profile(format!(
                        "cannot install /{rel}: /{} in the rootfs is not a folder (a file or link is in the way)",
                        dir.strip_prefix(&self.root).unwrap_or(&dir).display()
                    ))
                    .into())
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&dir) {
                    Ok(()) => fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
                        .with_context(|| format!("setting the mode of {}", dir.display()))?,
                    // Another thread made it first: fine if it is a real folder.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && !dir.is_symlink() && dir.is_dir() => {}
                    Err(e) => {
                        return Err(anyhow::Error::new(e).context(format!("creating {}", dir.display())))
                    }
                },
                Err(e) => return Err(anyhow::Error::new(e).context(format!("inspecting {}", dir.display()))),
            }
        }
        Ok(self.root.join(rel))
    }

    /// Writes a file from a reader, hashing it on the way; returns its sha256.
    pub fn write_file(
        &self,
        path: &str,
        mode: u32,
        source: &str,
        mut content: impl Read,
    ) -> Result<String> {
        let rel = relative(path)?;
        self.claim(path, source)?;
        let host = self.make_parents(rel)?;
        let mut f = OpenOptions::new()
            .write(true)
            // O_CREAT|O_EXCL: fails on an existing path, a link included, so nothing is ever
            // written through a link planted at the final component.
            .create_new(true)
            .mode(0o600)
            .open(&host)
            .with_context(|| format!("creating {}", host.display()))?;
        let mut w = HashingWriter::new(&mut f);
        io::copy(&mut content, &mut w).with_context(|| format!("writing {}", host.display()))?;
        let (_, sha256, size) = w.finish();
        f.set_permissions(fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", host.display()))?;
        self.entries().insert(
            path.to_string(),
            Entry {
                mode,
                kind: Kind::File {
                    size,
                    sha256: sha256.clone(),
                },
                source: source.to_string(),
            },
        );
        Ok(sha256)
    }

    pub fn write_bytes(&self, path: &str, mode: u32, source: &str, bytes: &[u8]) -> Result<String> {
        self.write_file(path, mode, source, bytes)
    }

    /// Copies an installed file to another path (hard links in archives).
    pub fn copy_within(&self, from: &str, to: &str, mode: u32, source: &str) -> Result<()> {
        let src = self.host_path(from)?;
        let f = File::open(&src).with_context(|| format!("opening {}", src.display()))?;
        self.write_file(to, mode, source, f)?;
        Ok(())
    }

    /// Creates a symlink. `target` is written as given; callers check that it stays inside.
    pub fn symlink(&self, path: &str, target: &str, source: &str) -> Result<()> {
        let rel = relative(path)?;
        self.claim(path, source)?;
        let host = self.make_parents(rel)?;
        std::os::unix::fs::symlink(target, &host)
            .with_context(|| format!("creating the link {}", host.display()))?;
        self.entries().insert(
            path.to_string(),
            Entry {
                mode: 0o777,
                kind: Kind::Symlink {
                    target: target.to_string(),
                },
                source: source.to_string(),
            },
        );
        Ok(())
    }
}

/// Does a relative link `target`, placed at in-rootfs `path`, resolve inside the rootfs?
pub fn link_stays_inside(path: &str, target: &str) -> bool {
    if target.starts_with('/') || target.is_empty() {
        return false;
    }
    // Depth of the link's folder below the root.
    let mut depth: i64 = path.trim_start_matches('/').split('/').count() as i64 - 1;
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => depth += 1,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_record_digest_mode_and_refuse_doubles() {
        let dir = tempfile::tempdir().unwrap();
        let r = Rootfs::new(dir.path());
        let sha = r
            .write_bytes("/usr/local/bin/x", 0o755, "artifact:a", b"hello")
            .unwrap();
        assert_eq!(
            sha,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        let meta = fs::metadata(dir.path().join("usr/local/bin/x")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o755);
        let e = r
            .write_bytes("/usr/local/bin/x", 0o755, "artifact:b", b"again")
            .unwrap_err();
        assert!(format!("{e}").contains("written twice"), "{e}");
    }

    #[test]
    fn refuses_to_write_through_links_or_outside() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let r = Rootfs::new(dir.path());
        std::os::unix::fs::symlink(outside.path(), dir.path().join("etc")).unwrap();
        assert!(r.write_bytes("/etc/passwd", 0o644, "t", b"x").is_err());
        assert!(r.write_bytes("/../x", 0o644, "t", b"x").is_err());
        assert!(fs::read_dir(outside.path()).unwrap().next().is_none());
        // A link planted at the final component is not written through either.
        fs::create_dir(dir.path().join("usr")).unwrap();
        let victim = outside.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("usr/x")).unwrap();
        assert!(r.write_bytes("/usr/x", 0o644, "t", b"evil").is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn link_containment() {
        assert!(link_stays_inside("/usr/local/bin/a", "b"));
        assert!(link_stays_inside("/usr/local/bin/a", "../../lib/x"));
        assert!(link_stays_inside("/usr/local/bin/a", "../../../etc/x"));
        assert!(!link_stays_inside("/usr/local/bin/a", "../../../../etc/x"));
        assert!(!link_stays_inside("/a", "/etc/passwd"));
        assert!(!link_stays_inside("/a", ".."));
    }
}
