//! The output cache: `<cache>/outputs-v1/<input digest>/` keeps what of an arch's output does
//! not depend on the user-data (the overlay archive and its .sha256, the manifest, the SBOMs,
//! and `rootfs/`, a tree of hard links to the rendered files), so a render of the same inputs
//! into another OUT skips fetching, installing and packing. The user-data (which can hold a
//! join token), meta-data, provenance, SHA256SUMS and signature are never cached: they are
//! written again each time.
//!
//! **Restoring is linking, not copying**: the entry's files and its rootfs/ tree are hard-linked
//! into the output and the links are hashed (on every core) to prove them, so a hit reads each
//! upstream byte once and writes none. The files builder generated or copied from overlays/
//! (small: configs, drop-ins) are copied instead, into the entry and out of it, since those
//! are what people edit in place. builder never edits an output file in place (a render
//! replaces it), so sharing inodes with the cache is safe; a user's in-place edit of a linked
//! upstream file changes the entry and the outputs linked to it, and the entry's next use
//! finds that by the proof below (as each output's up-to-date check does). Where links cannot
//! be made (the cache on another file system), the files are copied and rootfs/ is unpacked
//! from the proven overlay, as an entry without a tree is.
//!
//! **An entry is proven before it is used; its index is never the proof.** The index
//! (`index.json`) names the files and speeds the lookup. The entry's manifest must carry this
//! render's input digest, profile and arch; every other file is hashed as it is linked (or
//! copied) into the output and must have the digest the manifest gives it (the overlay, the
//! SBOMs) or the text it implies (the overlay's `.sha256` line); the rootfs/ tree must hold
//! exactly the manifest's files and links, each file with its mode, size and sha256. A
//! mismatch drops the entry, with a warning, and the arch is built.
//!
//! **Renders sharing one cache agree through flocks on the entry folders**: a reader holds a
//! shared lock while it copies; pruning (least recently used first, past the size bound)
//! removes only entries it can lock exclusively, so never one in use; a store writes into a
//! `.partial-*` folder it holds locked and renames it into place, and a `.partial-*` folder is
//! removed only when nobody holds it (its writer was killed).

use std::collections::BTreeSet;
use std::fs::{self, File, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::bootstrap::cloudinit::NodeFile;
use crate::outputs::layout::{self, ArchDir};
use crate::outputs::manifest::{self, Manifest};
use crate::util::digest::{HashingWriter, Recorded, Sha256};
use crate::util::model::Arch;
use crate::util::read::{self, Kind};

/// The cache's folder for outputs, beside the download cache's `sha256-v1`.
const LAYOUT: &str = "outputs-v1";
/// The index of a cache entry: each file's sha256 when it was stored.
const INDEX: &str = "index.json";
/// Temporary folders of stores in progress start with this.
const PARTIAL: &str = ".partial-";

/// The output cache under a download cache folder.
pub(super) struct OutputCache {
    root: PathBuf,
    max_bytes: u64,
}

#[derive(Serialize, Deserialize)]
struct Index {
    files: std::collections::BTreeMap<String, Sha256>,
}

/// What the entry must be the output of.
pub(super) struct Wanted<'a> {
    pub digest: &'a Sha256,
    pub profile: &'a str,
    pub profile_sha256: &'a Sha256,
    pub arch: Arch,
}

/// What a cache hit put into an arch folder.
pub(super) struct Hit {
    pub manifest: Manifest,
    pub json: String,
    pub node_files: Vec<NodeFile>,
    /// Where it came from, for the progress line: "the output cache" or "the registry cache".
    pub origin: &'static str,
}

/// What a lookup found.
pub(super) enum Taken {
    Hit(Box<Hit>),
    /// No entry (or one another render is removing).
    Miss,
    /// An entry that failed its proof: dropped; the reason is for a warning.
    Dropped(String),
}

impl OutputCache {
    pub fn new(cache_dir: &Path, max_bytes: u64) -> OutputCache {
        OutputCache {
            root: cache_dir.join(LAYOUT),
            max_bytes,
        }
    }

    /// Links (or copies) the entry for `want` into `dir`, rootfs/ included, if there is one and
    /// it proves to be `want`'s output; an entry that does not is removed.
    pub fn take(&self, want: &Wanted, dir: &Path) -> Result<Taken> {
        let entry = self.root.join(want.digest.as_str());
        let lock = match File::open(&entry) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Taken::Miss),
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("opening {}", entry.display())))
            }
        };
        lock.lock_shared()
            .with_context(|| format!("locking {}", entry.display()))?;
        // Pruned while this render waited: the folder is gone.
        if !entry.join(INDEX).exists() {
            return Ok(Taken::Miss);
        }
        let proven = self
            .copy_proven(want, &entry, dir)
            .and_then(|(m, json)| restore_rootfs(&entry, dir, &m).map(|()| (m, json)));
        match proven {
            Ok((m, json)) => {
                // Used now: the size bound removes the least recently used entries first.
                let _ = File::open(entry.join(INDEX))
                    .and_then(|f| f.set_modified(std::time::SystemTime::now()));
                drop(lock);
                Ok(Taken::Hit(Box::new(hit(dir, m, json)?)))
            }
            Err(why) => {
                clear(dir)?;
                remove_if_unused(&entry, lock);
                Ok(Taken::Dropped(format!(
                    "the output cache entry {} was not used and is removed: {why}",
                    entry.display()
                )))
            }
        }
    }

    /// The entry's manifest, once it and every file it names are proven and copied into
    /// `dir`; else why not.
    fn copy_proven(
        &self,
        want: &Wanted,
        entry: &Path,
        dir: &Path,
    ) -> Result<(Manifest, String), String> {
        let shown = |e: read::ReadError| e.to_string();
        let index: Index = serde_json::from_slice(
            &read::read(&entry.join(INDEX), Kind::CacheIndex).map_err(shown)?,
        )
        .map_err(|e| format!("{INDEX} is not an index: {e}"))?;
        let json =
            read::read_to_string(&ArchDir::new(entry).manifest(), Kind::Manifest).map_err(shown)?;
        let m: Manifest = serde_json::from_str(&json)
            .map_err(|e| format!("{} is not a builder manifest: {e}", layout::MANIFEST))?;
        check_identity(&m, want)?;
        let expected = expected_files(&m)?;
        let mut names: Vec<&String> = index.files.keys().collect();
        names.retain(|n| n.as_str() != layout::MANIFEST);
        let listed: Vec<&String> = expected.iter().map(|(n, _)| n).collect();
        if names != listed {
            return Err(format!("it holds {names:?}, its manifest names {listed:?}"));
        }
        for (name, proof) in &expected {
            link_checked(&entry.join(name), &dir.join(name), proof)?;
        }
        fs::write(dir.join(layout::MANIFEST), &json)
            .map_err(|e| format!("writing {}: {e}", dir.join(layout::MANIFEST).display()))?;
        Ok((m, json))
    }

    /// Stores the output `dir` (an arch folder just rendered, whose manifest is `m`, written as
    /// `json`) under `digest`: the files a take proves ([`expected_files`]), the manifest and
    /// the rootfs tree, written in a locked temporary folder and renamed into place; then the
    /// cache is pruned to its bound. The index takes its digests from the manifest, unchecked
    /// (it is never the proof). Failing to cache is not failing the render: the error is
    /// returned for a warning.
    pub fn store(&self, digest: &Sha256, dir: &Path, m: &Manifest, json: &str) -> Result<()> {
        let mut files: Vec<(String, Sha256)> = expected_files(m)
            .map_err(|e| {
                crate::util::error::Error::Internal(format!("the render's own manifest: {e}"))
            })?
            .into_iter()
            .map(|(name, proof)| (name, proof.sha256()))
            .collect();
        files.push((layout::MANIFEST.to_string(), Sha256::of(json.as_bytes())));
        fs::create_dir_all(&self.root)
            .with_context(|| format!("creating {}", self.root.display()))?;
        let target = self.root.join(digest.as_str());
        if target.exists() {
            return Ok(());
        }
        let tmp = tempfile::Builder::new()
            .prefix(PARTIAL)
            .tempdir_in(&self.root)
            .with_context(|| format!("creating a folder in {}", self.root.display()))?;
        let _on_signal =
            crate::util::interrupt::register(tmp.path(), crate::util::interrupt::Kind::OutputCache);
        // Held until the rename: a pruning render leaves a locked .partial folder alone.
        let lock = File::open(tmp.path())
            .and_then(|f| f.lock().map(|()| f))
            .with_context(|| format!("locking {}", tmp.path().display()))?;
        let mut index = std::collections::BTreeMap::new();
        for (name, sha256) in &files {
            let (from, to) = (dir.join(name), tmp.path().join(name));
            // A hard link where possible (the output is replaced, never edited, by builder);
            // an entry is proven against its manifest whenever it is used.
            if fs::hard_link(&from, &to).is_err() {
                fs::copy(&from, &to)
                    .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
            }
            index.insert(name.clone(), *sha256);
        }
        // The rendered tree, as hard links; none where links cannot be made (a hit then
        // unpacks the overlay).
        let tree = tmp.path().join(layout::ROOTFS);
        if link_tree(&dir.join(layout::ROOTFS), &tree, "", &copied(m)).is_err() {
            fs::remove_dir_all(&tree)
                .or_else(|e| {
                    if e.kind() == io::ErrorKind::NotFound {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .with_context(|| format!("removing {}", tree.display()))?;
        }
        let index = serde_json::to_vec_pretty(&Index { files: index })?;
        fs::write(tmp.path().join(INDEX), index)
            .with_context(|| format!("writing {}", tmp.path().join(INDEX).display()))?;
        let tmp = tmp.keep();
        if let Err(e) = fs::rename(&tmp, &target) {
            let _ = fs::remove_dir_all(&tmp);
            if !target.exists() {
                return Err(anyhow::Error::new(e)
                    .context(format!("moving a cache entry to {}", target.display())));
            }
        }
        drop(lock);
        self.prune()
    }

    /// Removes the least recently used entries not in use (and `.partial-*` folders nobody
    /// writes) until the entries take at most the bound.
    fn prune(&self) -> Result<()> {
        let mut entries = Vec::new();
        let listing =
            fs::read_dir(&self.root).with_context(|| format!("listing {}", self.root.display()))?;
        for e in listing {
            let e = e.with_context(|| format!("listing {}", self.root.display()))?;
            let path = e.path();
            if e.file_name().to_string_lossy().starts_with(PARTIAL) {
                if let Ok(lock) = File::open(&path) {
                    remove_if_unused(&path, lock);
                }
                continue;
            }
            let Ok(index) = fs::metadata(path.join(INDEX)) else {
                continue;
            };
            let used = index.modified().unwrap_or(std::time::UNIX_EPOCH);
            entries.push((used, folder_size(&path), path));
        }
        entries.sort();
        let mut total: u64 = entries.iter().map(|(_, s, _)| s).sum();
        for (_, size, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            let Ok(lock) = File::open(&path) else {
                continue;
            };
            if remove_if_unused(&path, lock) {
                total -= size;
            }
        }
        Ok(())
    }
}

/// Removes `path` if `lock` (open on it) can be locked exclusively, that is if no other
/// render reads or writes it. Whether it was removed.
fn remove_if_unused(path: &Path, lock: File) -> bool {
    match lock.try_lock() {
        Ok(()) => fs::remove_dir_all(path).is_ok(),
        Err(TryLockError::WouldBlock | TryLockError::Error(_)) => false,
    }
}

/// Bytes of the files under `path`, its rootfs/ tree included (whose blocks it shares with
/// the output it was linked from, until that output is removed).
fn folder_size(path: &Path) -> u64 {
    fs::read_dir(path)
        .map(|rd| {
            rd.flatten()
                .filter_map(|f| {
                    let m = f.file_type().ok()?;
                    if m.is_dir() {
                        Some(folder_size(&f.path()))
                    } else {
                        f.metadata().ok().map(|m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The manifest must be `want`'s: its input digest, profile and arch.
fn check_identity(m: &Manifest, want: &Wanted) -> Result<(), String> {
    if m.input_sha256 != *want.digest {
        return Err(format!(
            "its manifest has the input sha256 {}, this render's is {}",
            m.input_sha256, want.digest
        ));
    }
    if m.profile.name != want.profile
        || m.profile.sha256 != *want.profile_sha256
        || m.arch != want.arch
    {
        return Err(format!(
            "its manifest is of profile {} (sha256 {}) for {}, this render is of {} (sha256 {}) for {}",
            m.profile.name, m.profile.sha256, m.arch, want.profile, want.profile_sha256, want.arch
        ));
    }
    Ok(())
}

/// How a file of an entry is proven.
enum Proof {
    Sha256(Sha256),
    Text(String),
}

impl Proof {
    /// The digest the file must have.
    fn sha256(&self) -> Sha256 {
        match self {
            Proof::Sha256(s) => *s,
            Proof::Text(t) => Sha256::of(t.as_bytes()),
        }
    }
}

/// The files besides the manifest an entry must hold, sorted by name, with their proofs.
fn expected_files(m: &Manifest) -> Result<Vec<(String, Proof)>, String> {
    let sha = |d: &Recorded, what: &str| {
        d.sha256()
            .copied()
            .ok_or_else(|| format!("its manifest gives {what} the digest {d:?}, not a sha256"))
    };
    let overlay = sha(&m.overlay.sha256, "the overlay")?;
    let mut files = vec![
        (m.overlay.file.clone(), Proof::Sha256(overlay)),
        (
            m.overlay.sha256_file.clone(),
            Proof::Text(manifest::sha256_line(&m.overlay.file, &overlay)),
        ),
    ];
    for d in &m.documents {
        files.push((d.file.clone(), Proof::Sha256(sha(&d.sha256, &d.file)?)));
    }
    for required in [layout::SBOM_SPDX, layout::SBOM_CYCLONEDX] {
        if !files.iter().any(|(n, _)| n == required) {
            return Err(format!("its manifest lists no {required}"));
        }
    }
    if let Some((bad, _)) = files.iter().find(|(n, _)| !plain_name(n)) {
        return Err(format!("its manifest names the file {bad:?}"));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// A file name with no folder in it, no `.` or `..`, and not the manifest.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('/')
        && name != "."
        && name != ".."
        && name != layout::MANIFEST
}

/// Hard-links `from` to `to` and hashes it, or copies it (hashing while it copies) where a
/// link cannot be made; either way the result must match `proof`.
fn link_checked(from: &Path, to: &Path, proof: &Proof) -> Result<(), String> {
    if fs::hard_link(from, to).is_err() {
        return copy_checked(from, to, proof);
    }
    let (got, size) = crate::util::digest::sha256_file(to).map_err(|e| format!("{e:#}"))?;
    check_proof(from, got, size, proof)
}

fn check_proof(from: &Path, got: Sha256, size: u64, proof: &Proof) -> Result<(), String> {
    let want = proof.sha256();
    if got != want {
        return Err(format!(
            "{} has sha256 {got} ({size} bytes), its manifest says {want}",
            from.display()
        ));
    }
    Ok(())
}

/// Copies `from` to `to`, hashing while it copies; the copy must match `proof`.
fn copy_checked(from: &Path, to: &Path, proof: &Proof) -> Result<(), String> {
    let (mut src, _) = read::open(from, Kind::Stream).map_err(|e| e.to_string())?;
    let dest = File::create(to).map_err(|e| format!("creating {}: {e}", to.display()))?;
    let mut w = HashingWriter::new(io::BufWriter::new(dest));
    io::copy(&mut src, &mut w).map_err(|e| format!("copying {}: {e}", from.display()))?;
    let (mut out, got, size) = w.finish();
    out.flush()
        .map_err(|e| format!("writing {}: {e}", to.display()))?;
    check_proof(from, got, size, proof)
}

/// Links the entry's rootfs/ tree into `dir`, then proves what was linked: it must hold exactly
/// what `m` lists (every file hashed). Proving the links, not the entry, leaves no moment
/// between the check and the use for the entry to change. No tree, or links that cannot be
/// made: nothing here, and the caller unpacks the overlay. A tree that differs from its
/// manifest fails the entry.
fn restore_rootfs(entry: &Path, dir: &Path, m: &Manifest) -> Result<(), String> {
    let tree = entry.join(layout::ROOTFS);
    if !tree.is_dir() {
        return Ok(());
    }
    let root = dir.join(layout::ROOTFS);
    if link_tree(&tree, &root, "", &copied(m)).is_err() {
        return fs::remove_dir_all(&root).map_err(|e| format!("removing {}: {e}", root.display()));
    }
    let listed = crate::verify::tree::from_manifest(&m.files)?;
    let found = crate::verify::tree::from_dir(&root)?;
    match crate::verify::tree::first_difference(&listed, &found, "its rootfs/") {
        Some(d) => Err(d),
        None => Ok(()),
    }
}

/// The rootfs files a tree copies instead of linking: those builder generated or took from
/// overlays/ (config files, small), which people edit in place (`echo >> file`) more than
/// upstream binaries; a copy keeps such an edit in the output it was made in.
fn copied(m: &Manifest) -> BTreeSet<String> {
    m.files
        .iter()
        .filter(|f| f.link.is_none() && !f.source.starts_with("artifact:"))
        .map(|f| f.path.clone())
        .collect()
}

/// Makes `to` (the rootfs path `rel`) a tree of `from`'s folders (modes kept), links, and files:
/// hard links, or copies for the paths in `copy`.
fn link_tree(from: &Path, to: &Path, rel: &str, copy: &BTreeSet<String>) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::symlink_metadata(from)?;
    fs::create_dir(to)?;
    fs::set_permissions(
        to,
        fs::Permissions::from_mode(meta.permissions().mode() & 0o7777),
    )?;
    for e in fs::read_dir(from)? {
        let e = e?;
        let (src, dest) = (e.path(), to.join(e.file_name()));
        let path = format!("{rel}/{}", e.file_name().to_string_lossy());
        let ft = e.file_type()?;
        if ft.is_dir() {
            link_tree(&src, &dest, &path, copy)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dest)?;
        } else if ft.is_file() && copy.contains(&path) {
            fs::copy(&src, &dest)?;
        } else if ft.is_file() {
            fs::hard_link(&src, &dest)?;
        } else {
            return Err(io::Error::other(format!("{} is not a file", src.display())));
        }
    }
    Ok(())
}

/// Empties the staging folder an entry that failed its proof was copied into.
fn clear(dir: &Path) -> Result<()> {
    for e in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = e
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        let gone = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        gone.with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

/// A hit from files the registry's cache wrote into `dir` (the overlay and the manifest
/// proven by `oci::cache`): the overlay is unpacked and rootfs/ proven against the manifest, as
/// a linked tree is. `Err(why)` leaves `dir` empty.
pub(super) fn hit_unpacked(dir: &Path, m: Manifest, json: String) -> Result<Result<Hit, String>> {
    let out = ArchDir::new(dir);
    let root = out.rootfs();
    let proven = crate::build::pack::unpack(&out.file(&m.overlay.file), &root)
        .map_err(|e| format!("{e:#}"))
        .and_then(|()| {
            let listed = crate::verify::tree::from_manifest(&m.files)?;
            let found = crate::verify::tree::from_dir(&root)?;
            match crate::verify::tree::first_difference(&listed, &found, "its overlay") {
                Some(d) => Err(d),
                None => Ok(()),
            }
        });
    match proven {
        Ok(()) => Ok(Ok(Hit {
            origin: "the registry cache",
            ..hit(dir, m, json)?
        })),
        Err(why) => {
            clear(dir)?;
            Ok(Err(why))
        }
    }
}

/// Unpacks the proven overlay and reads the node files back.
fn hit(dir: &Path, m: Manifest, json: String) -> Result<Hit> {
    let out = ArchDir::new(dir);
    let root = out.rootfs();
    if !root.exists() {
        crate::build::pack::unpack(&out.file(&m.overlay.file), &root)?;
    }
    let node_files = node_files(&m, &root)?;
    Ok(Hit {
        manifest: m,
        json,
        node_files,
        origin: "the output cache",
    })
}

/// Baked mode's node files from an unpacked output: what the manifest says builder generated
/// or copied from overlays/, with the bytes on disk (checked against the manifest).
fn node_files(m: &Manifest, root: &Path) -> Result<Vec<NodeFile>> {
    let mut out = Vec::new();
    for f in &m.files {
        let ours = f.source.starts_with("template:") || f.source.starts_with("overlay:");
        let Some(sha256) = f.sha256.as_ref().filter(|_| ours && f.link.is_none()) else {
            continue;
        };
        let rel = Path::new(f.path.trim_start_matches('/'));
        if !rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            anyhow::bail!("the cached manifest names the file {:?}", f.path);
        }
        let path = root.join(rel);
        let content = read::read(&path, Kind::Stream)?;
        if Sha256::of(&content) != *sha256 {
            anyhow::bail!("{} does not match the cached manifest", path.display());
        }
        out.push(NodeFile {
            path: f.path.clone(),
            mode: u32::from_str_radix(&f.mode, 8).context("a mode in the cached manifest")?,
            content,
        });
    }
    Ok(out)
}
