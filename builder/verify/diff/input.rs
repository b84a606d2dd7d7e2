//! What `builder diff` compares: each argument resolved to its manifests (a manifest.json file,
//! an arch folder, or a profile folder holding arch folders), and the bytes of a generated file
//! read back from the rootfs/ beside a manifest, checked against the manifest's digest.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::outputs::layout::ArchDir;
use crate::outputs::manifest::Manifest;
use crate::util::error::Error;
use crate::util::read::{self, Kind};

/// Generated files larger than this are not shown as a unified diff.
pub const MAX_TEXT: u64 = 1 << 20;

/// One argument of `builder diff`.
pub struct Side {
    /// The argument as given.
    pub label: String,
    pub shape: Shape,
    /// By the manifests' `arch`.
    pub arches: BTreeMap<String, ArchSide>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shape {
    /// A manifest.json file, or an arch folder holding one: one arch.
    One,
    /// A folder whose subfolders are arch folders (`dist/PROFILE`).
    Profile,
}

/// One arch's manifest, and its rootfs when the argument was a folder.
pub struct ArchSide {
    pub manifest: Manifest,
    pub manifest_path: PathBuf,
    pub rootfs: Option<PathBuf>,
}

/// What the file's contents were, for a unified diff.
pub enum Content {
    Text(String),
    /// Not shown, and why.
    Hidden(String),
}

const SHAPES: &str =
    "a manifest.json, an arch folder (dist/PROFILE/ARCH) or a profile folder (dist/PROFILE)";

impl Side {
    pub fn load(which: &str, path: &Path) -> Result<Side> {
        let label = path.display().to_string();
        let meta = fs::metadata(path).map_err(|e| {
            Error::Input(format!(
                "{which} {label}: cannot read it ({e}); give {SHAPES}"
            ))
        })?;
        let mut arches = BTreeMap::new();
        let one = ArchDir::new(path);
        // Anything but a folder is read as a manifest, and anything named manifest.json as
        // one: a FIFO or a device there is refused by name (util::read), not taken for absent.
        let shape = if !meta.is_dir() {
            let side = arch_side(path, None)?;
            arches.insert(side.manifest.arch.to_string(), side);
            Shape::One
        } else if one.manifest().exists() {
            let side = arch_side(&one.manifest(), Some(one.rootfs()))?;
            arches.insert(side.manifest.arch.to_string(), side);
            Shape::One
        } else {
            let mut dirs = Vec::new();
            for entry in fs::read_dir(path).with_context(|| format!("listing {label}"))? {
                let entry = entry.with_context(|| format!("listing {label}"))?;
                let sub = ArchDir::new(entry.path());
                if sub.manifest().is_file() {
                    dirs.push(sub);
                }
            }
            dirs.sort_by(|a, b| a.path().cmp(b.path()));
            for dir in dirs {
                let side = arch_side(&dir.manifest(), Some(dir.rootfs()))?;
                let arch = side.manifest.arch.to_string();
                if let Some(first) = arches.insert(arch.clone(), side) {
                    return Err(Error::Input(format!(
                        "{which} {label}: {} and {} are both arch {arch}; give one of them",
                        first.manifest_path.display(),
                        dir.manifest().display()
                    ))
                    .into());
                }
            }
            if arches.is_empty() {
                return Err(Error::Input(format!(
                    "{which} {label} holds no manifest.json, neither itself nor in a subfolder; \
                     give {SHAPES}"
                ))
                .into());
            }
            Shape::Profile
        };
        Ok(Side {
            label,
            shape,
            arches,
        })
    }

    /// Arches as a list for messages.
    pub fn arch_list(&self) -> String {
        self.arches.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Reads and checks one manifest; `rootfs` is kept when it is a folder.
fn arch_side(manifest_path: &Path, rootfs: Option<PathBuf>) -> Result<ArchSide> {
    let text = read::read_to_string(manifest_path, Kind::Manifest)?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        Error::Input(format!(
            "{} is not a builder manifest.json ({e}); give the manifest.json of a render",
            manifest_path.display()
        ))
    })?;
    let twice = |what: &str, name: &str| {
        Error::Input(format!(
            "{} lists {what} {name} twice; a render never does: was it edited?",
            manifest_path.display()
        ))
    };
    let mut seen = std::collections::BTreeSet::new();
    for a in &manifest.artifacts {
        if !seen.insert(a.name.as_str()) {
            return Err(twice("artifact", &a.name).into());
        }
    }
    seen.clear();
    for f in &manifest.files {
        if !seen.insert(f.path.as_str()) {
            return Err(twice("file", &f.path).into());
        }
    }
    Ok(ArchSide {
        manifest,
        manifest_path: manifest_path.to_path_buf(),
        rootfs: rootfs.filter(|r| r.is_dir()),
    })
}

impl ArchSide {
    /// The text of the manifest's file at `path` (size and digest from the manifest), read from
    /// the rootfs beside it, or why it cannot be shown.
    pub fn content(&self, path: &str, size: u64, sha256: &str) -> Result<Content> {
        let Some(root) = &self.rootfs else {
            return Ok(Content::Hidden(format!(
                "no rootfs/ beside {}: content diffs need the output folders",
                self.manifest_path.display()
            )));
        };
        if size > MAX_TEXT {
            return Ok(Content::Hidden(format!(
                "{size} bytes, over 1 MiB: not shown"
            )));
        }
        let file = inside(root, path).map_err(|why| {
            Error::Input(format!(
                "{} names {path:?}, which {why}; is it a builder manifest?",
                self.manifest_path.display()
            ))
        })?;
        let mut bytes = Vec::new();
        read::open(&file, Kind::Text)?
            .0
            .take(MAX_TEXT + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {}", file.display()))?;
        let read = crate::util::digest::Sha256::of(&bytes);
        if read != sha256 {
            return Err(Error::Input(format!(
                "{} does not match {} (sha256 {sha256} there, {read} on disk): the folder changed after the render; render it again",
                file.display(),
                self.manifest_path.display()
            ))
            .into());
        }
        Ok(match String::from_utf8(bytes) {
            Ok(text) if !text.contains('\0') => Content::Text(text),
            _ => Content::Hidden("not text: not shown".into()),
        })
    }
}

/// `path` (absolute, from a manifest) under `root`, refusing `..`, empty components, and links
/// on the way: what is read must be the file the render wrote, inside the rootfs.
fn inside(root: &Path, path: &str) -> std::result::Result<PathBuf, &'static str> {
    let rel = path.strip_prefix('/').ok_or("is not absolute")?;
    let mut at = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() || *part == "." || *part == ".." {
            return Err("has an empty, '.' or '..' component");
        }
        at.push(part);
        let meta = fs::symlink_metadata(&at).map_err(|_| "is missing from the rootfs")?;
        let last = i + 1 == parts.len();
        if (last && !meta.is_file()) || (!last && !meta.is_dir()) {
            return Err("is not a plain file under plain folders in the rootfs");
        }
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_rootfs() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("rootfs");
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/a"), "x").unwrap();
        fs::write(d.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(d.path(), root.join("up")).unwrap();
        assert_eq!(inside(&root, "/etc/a").unwrap(), root.join("etc/a"));
        assert!(inside(&root, "etc/a").is_err());
        assert!(inside(&root, "/etc/../../secret").is_err());
        assert!(inside(&root, "/up/secret").is_err());
        assert!(inside(&root, "/etc//a").is_err());
        assert!(inside(&root, "/etc").is_err());
        assert!(inside(&root, "/etc/missing").is_err());
    }
}
