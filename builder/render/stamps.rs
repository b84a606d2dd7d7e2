//! What the up-to-date check knows of an output's rootfs/ without reading every byte: for each
//! file, its device, inode, size, mode, mtime and ctime as the render left it, kept in the
//! cache folder (`stamps-v1/<sha256 of the output's path>.json`), so that OUT holds only what
//! is published and a render that changes nothing writes nothing there.
//! As git's index does: a file whose stat still matches is unchanged (ctime moves on every
//! write, chmod or rename and a user cannot set it back); any other file is hashed and compared
//! with the manifest. A file changed in the clock tick the stamps were written in cannot be
//! told by its stat ("racy", in git's word), so it is hashed too. No stamps, or stamps of
//! other inputs, only mean every file is hashed: the stamps make the check fast, the manifest
//! makes it right.

use std::collections::BTreeMap;
use std::fs::{self, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::outputs::manifest::{FileRef, Manifest};
use crate::util::digest::Sha256;
use crate::util::model::Arch;
use crate::util::read::{self, Kind};

/// The cache's folder for stamps, beside the download cache's `sha256-v1`.
const LAYOUT: &str = "stamps-v1";

#[derive(Serialize, Deserialize)]
struct Stamps {
    input_sha256: Sha256,
    files: BTreeMap<String, Stat>,
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Clone, Copy)]
struct Stat {
    dev: u64,
    ino: u64,
    size: u64,
    mode: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stat {
    fn of(m: &Metadata) -> Stat {
        Stat {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mode: m.mode(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// Where the stamps of one arch's output (`OUT/<profile>/<arch>`) live in the cache folder.
pub(super) fn path(cache_dir: &Path, out: &Path, profile: &str, arch: Arch) -> PathBuf {
    let out = fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf());
    let key = Sha256::of(format!("{}\0{profile}\0{}", out.display(), arch.as_str()).as_bytes());
    cache_dir.join(LAYOUT).join(format!("{key}.json"))
}

/// Records the stat of every file under `root` (an arch's rootfs/, as just rendered) for the
/// output of `digest`. Best effort for the caller: without stamps the check hashes.
pub(super) fn record(stamps: &Path, root: &Path, digest: &Sha256) -> Result<()> {
    let mut found = BTreeMap::new();
    walk(root, "", &mut found)?;
    let files = found
        .into_iter()
        .filter(|(_, m)| m.is_file())
        .map(|(p, m)| (p, Stat::of(&m)))
        .collect();
    let json = serde_json::to_vec(&Stamps {
        input_sha256: *digest,
        files,
    })?;
    let dir = stamps.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    fs::write(tmp.path(), json).with_context(|| format!("writing {}", tmp.path().display()))?;
    tmp.persist(stamps)
        .with_context(|| format!("writing {}", stamps.display()))?;
    Ok(())
}

/// Does `root` hold exactly the files and links `m` lists, with their modes, sizes, targets
/// and contents? Files whose stat is stamped are not read; when any had to be hashed and all
/// matched, the stamps are written again.
pub(super) fn unchanged(stamps: &Path, root: &Path, m: &Manifest, digest: &Sha256) -> bool {
    let (known, tick) = load(stamps, digest).unwrap_or_default();
    let mut found = BTreeMap::new();
    if walk(root, "", &mut found).is_err() || found.len() != m.files.len() {
        return false;
    }
    let mut hashed = false;
    for f in &m.files {
        let Some(meta) = found.get(&f.path) else {
            return false;
        };
        match entry_matches(f, meta, root, known.get(&f.path).filter(|s| s.ctime < tick)) {
            Some(h) => hashed |= h,
            None => return false,
        }
    }
    if hashed || known.is_empty() && !m.files.is_empty() {
        let _ = record(stamps, root, digest);
    }
    true
}

/// Whether `meta` (at `f.path` under `root`) is what `f` lists: Some(hashed) if so.
fn entry_matches(f: &FileRef, meta: &Metadata, root: &Path, stamp: Option<&Stat>) -> Option<bool> {
    let path = root.join(f.path.trim_start_matches('/'));
    if let Some(target) = &f.link {
        let ok = meta.file_type().is_symlink() && fs::read_link(&path).ok()? == Path::new(target);
        return ok.then_some(false);
    }
    let mode = u32::from_str_radix(&f.mode, 8).ok()?;
    if !meta.is_file() || Some(meta.len()) != f.size || meta.mode() & 0o7777 != mode {
        return None;
    }
    if stamp == Some(&Stat::of(meta)) {
        return Some(false);
    }
    let (sha, _) = crate::util::digest::sha256_file(&path).ok()?;
    (f.sha256.as_ref()? == &sha).then_some(true)
}

/// The stamps of `digest`'s output and the time they were written (their file's mtime).
fn load(stamps: &Path, digest: &Sha256) -> Option<(BTreeMap<String, Stat>, (i64, i64))> {
    let s: Stamps = serde_json::from_slice(&read::read(stamps, Kind::Manifest).ok()?).ok()?;
    let meta = fs::metadata(stamps).ok()?;
    (s.input_sha256 == *digest).then_some((s.files, (meta.mtime(), meta.mtime_nsec())))
}

/// Every file, link and other non-folder under `dir` by its path from the root (`/etc/x`),
/// with its metadata (links not followed).
fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Metadata>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let rel = format!("{rel}/{}", entry.file_name().to_string_lossy());
        let meta = entry
            .metadata()
            .with_context(|| format!("inspecting {}", entry.path().display()))?;
        if meta.is_dir() {
            walk(&entry.path(), &rel, out)?;
        } else {
            out.insert(rel, meta);
        }
    }
    Ok(())
}
