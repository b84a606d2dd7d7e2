//! The download cache: content-addressed by sha256 under `<dir>/sha256-v1/<hex>`, written
//! through a uniquely named `<hex>.*.partial` temp file that is hashed while it is written and
//! only renamed into place once its digest matches. Entries are re-hashed on every use.
//! A writer holds an exclusive lock (flock on the `sha256-v1` folder) while it fetches, so concurrent
//! renders wait for each other (and then find the entries cached); holding it, a writer
//! removes the `.partial` files of killed runs, and so does a run that downloads nothing when it
//! gets the lock at once ([`sweep_if_idle`]). SIGINT/SIGTERM remove a live download's file
//! (`util::interrupt`).
//!
//! It does not know about URLs or retries (see `fetch`).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::util::digest::{HashingWriter, Sha256};
use crate::util::interrupt::{Kind, Registered};

/// The layout version: bump it when the layout changes so old caches are ignored, not misread.
const LAYOUT: &str = "sha256-v1";

const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by builder.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

/// The default cache folder: the user's cache dir + `/builder`.
pub fn default_dir() -> Result<PathBuf> {
    let base = dirs::cache_dir().context(
        "cannot find the user's cache folder (no HOME or XDG_CACHE_HOME); pass --cache-dir or set BUILDER_CACHE_DIR",
    )?;
    Ok(base.join("builder"))
}

/// How long a trusted download is reused by the next `pin --trust-download` (a dry run, then
/// `--write`): long enough for that, short enough that a release re-uploaded under the same
/// URL is not pinned from a stale copy.
pub const TRUSTED_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// An open cache folder.
#[derive(Debug)]
pub struct Cache {
    dir: PathBuf,
    /// The writer's lock, held while the Cache lives; `None` for a read-only (--offline) one.
    _lock: Option<fs::File>,
}

impl Cache {
    /// Opens (creating if needed) the cache under `root` for writing: waits for the lock,
    /// then removes temp files that killed runs left.
    pub fn open(root: &Path) -> Result<Cache> {
        let dir = root.join(LAYOUT);
        fs::create_dir_all(&dir)
            .with_context(|| format!("creating cache folder {}", dir.display()))?;
        let tag = root.join("CACHEDIR.TAG");
        if !tag.exists() {
            // Best effort: a read-only cache (warmed elsewhere) still works for --offline.
            let _ = fs::write(&tag, CACHEDIR_TAG);
        }
        let lock = fs::File::open(&dir).with_context(|| format!("opening {}", dir.display()))?;
        crate::util::lock::exclusive(&lock, &format!("the cache {}", root.display()))?;
        let cache = Cache {
            dir,
            _lock: Some(lock),
        };
        cache.sweep()?;
        Ok(cache)
    }

    /// Opens the cache without creating or locking anything (for --offline: it only reads,
    /// and may be read-only).
    pub fn open_existing(root: &Path) -> Cache {
        Cache {
            dir: root.join(LAYOUT),
            _lock: None,
        }
    }

    /// Removes `.partial` files: with the lock held, none belongs to a live download.
    fn sweep(&self) -> Result<()> {
        sweep_partials(&self.dir)
    }

    pub fn root(&self) -> &Path {
        self.dir.parent().unwrap_or(&self.dir)
    }

    /// The file that remembers what a trusted, unpinned download of `url` had
    /// (`builder pin --trust-download`): `<root>/trusted/<sha256 of the url>`.
    fn trusted_path(&self, url: &str) -> PathBuf {
        self.root()
            .join("trusted")
            .join(Sha256::of(url.as_bytes()).as_str())
    }

    /// The digest and cached file of `url`'s trusted download, if one was made within
    /// [`TRUSTED_FOR`] and its file is still in the cache with that digest (re-hashed here:
    /// nothing else checks an unpinned file).
    pub fn trusted_get(&self, url: &str) -> Option<(Sha256, PathBuf)> {
        let path = self.trusted_path(url);
        let age = fs::metadata(&path).ok()?.modified().ok()?.elapsed().ok()?;
        if age > TRUSTED_FOR {
            return None;
        }
        let digest: Sha256 = fs::read_to_string(&path).ok()?.trim().parse().ok()?;
        let file = self.get(&digest)?;
        let (actual, _) = crate::util::digest::sha256_file(&file).ok()?;
        (actual == digest).then_some((digest, file))
    }

    /// Remembers that `url`'s trusted download had `digest` (temp file, then rename).
    pub fn trusted_record(&self, url: &str, digest: &Sha256) -> Result<()> {
        let path = self.trusted_path(url);
        let dir = path.parent().unwrap_or(&self.dir);
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("creating a temp file in {}", dir.display()))?;
        io::Write::write_all(&mut tmp, format!("{digest}\n").as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        tmp.persist(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    pub fn path_of(&self, sha256: &Sha256) -> PathBuf {
        self.dir.join(sha256.as_str())
    }

    /// The cached file for `sha256`, if there is one. Not re-hashed here: whoever reads it
    /// hashes it as it reads (`archive::install`), so the bytes used are the bytes checked.
    pub fn get(&self, sha256: &Sha256) -> Option<PathBuf> {
        let path = self.path_of(sha256);
        path.is_file().then_some(path)
    }

    /// Drops an entry found corrupt.
    pub fn remove(&self, sha256: &Sha256) -> Result<()> {
        let path = self.path_of(sha256);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(anyhow::Error::new(e)
                .context(format!("removing corrupt cache entry {}", path.display()))),
            _ => Ok(()),
        }
    }

    /// A new partial entry that hashes what is written to it.
    pub fn partial(&self, sha256: &Sha256) -> Result<Partial> {
        let file = tempfile::Builder::new()
            .prefix(&format!("{sha256}."))
            .suffix(".partial")
            .tempfile_in(&self.dir)
            .with_context(|| format!("creating a temp file in {}", self.dir.display()))?;
        Ok(Partial {
            _on_signal: on_signal(&file),
            file: HashingWriter::new(file),
            expected: Some(*sha256),
            dest: self.path_of(sha256),
        })
    }

    /// A new partial entry for bytes whose digest is not known yet (`builder pin
    /// --trust-download`): stored under whatever digest they turn out to have.
    pub fn partial_unpinned(&self) -> Result<Partial> {
        let file = tempfile::Builder::new()
            .prefix("unpinned.")
            .suffix(".partial")
            .tempfile_in(&self.dir)
            .with_context(|| format!("creating a temp file in {}", self.dir.display()))?;
        Ok(Partial {
            _on_signal: on_signal(&file),
            file: HashingWriter::new(file),
            expected: None,
            dest: self.dir.clone(),
        })
    }
}

/// Removes the `.partial` files killed downloads left in the cache under `root`, if no writer
/// holds the cache now (a render or pin that downloads nothing: offline, or every artifact
/// cached or up to date). Never waits: a live writer sweeps when it is done with its own
/// downloads' files, the next time it opens the cache. Best effort: a read-only cache
/// (warmed elsewhere, used --offline) keeps its leftovers.
pub fn sweep_if_idle(root: &Path) {
    let dir = root.join(LAYOUT);
    let Ok(lock) = fs::File::open(&dir) else {
        return; // No cache yet.
    };
    if lock.try_lock().is_err() {
        tracing::debug!("not sweeping {}: another process is writing", dir.display());
        return;
    }
    if let Err(e) = sweep_partials(&dir) {
        tracing::debug!("not sweeping {}: {e:#}", dir.display());
    }
}

/// Removes the `.partial` files in `dir`; the caller holds its lock.
fn sweep_partials(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        if entry.file_name().to_string_lossy().ends_with(".partial") {
            let path = entry.path();
            fs::remove_file(&path).with_context(|| {
                format!(
                    "removing {}, left by a download that was killed",
                    path.display()
                )
            })?;
        }
    }
    Ok(())
}

/// A download in progress. Dropping it deletes the temp file.
pub struct Partial {
    file: HashingWriter<tempfile::NamedTempFile>,
    /// The pin; `None` for an unpinned download.
    expected: Option<Sha256>,
    dest: PathBuf,
    /// Removes the temp file on SIGINT/SIGTERM (declared after `file`, so dropped after it).
    _on_signal: Registered,
}

fn on_signal(file: &tempfile::NamedTempFile) -> Registered {
    crate::util::interrupt::register(file.path(), Kind::Download)
}

/// What became of a finished partial.
pub enum Finished {
    /// Renamed into the cache (or another writer got there first with the same bytes).
    Stored(PathBuf),
    /// The bytes did not match the pin; nothing was stored.
    Mismatch { actual: Sha256 },
}

impl Partial {
    pub fn written(&self) -> u64 {
        self.file.size()
    }

    /// Verifies and, on a match, moves the file into the cache.
    pub fn finish(self) -> Result<Finished> {
        let (file, actual, _) = self.file.finish();
        if Some(actual) != self.expected {
            return Ok(Finished::Mismatch { actual });
        }
        Self::store(file, self.dest).map(Finished::Stored)
    }

    /// Stores a [`Cache::partial_unpinned`] entry under its digest: (sha256, path).
    pub fn finish_unpinned(self) -> Result<(Sha256, PathBuf)> {
        let (file, actual, _) = self.file.finish();
        let path = Self::store(file, self.dest.join(actual.as_str()))?;
        Ok((actual, path))
    }

    /// Syncs and renames a verified temp file to `dest`.
    fn store(file: tempfile::NamedTempFile, dest: PathBuf) -> Result<PathBuf> {
        file.as_file()
            .sync_data()
            .with_context(|| format!("syncing {}", file.path().display()))?;
        match file.persist_noclobber(&dest) {
            Ok(_) => Ok(dest),
            // Another writer got there first: keep theirs (same digest, same bytes).
            Err(e) if dest.is_file() => {
                drop(e);
                Ok(dest)
            }
            Err(e) => Err(anyhow::Error::new(e.error)
                .context(format!("moving the download into {}", dest.display()))),
        }
    }
}

impl Write for Partial {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_HEX: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    fn hello() -> Sha256 {
        HELLO_HEX.parse().unwrap()
    }

    #[test]
    fn good_bytes_are_stored_found_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        assert!(dir.path().join("CACHEDIR.TAG").is_file());
        let mut p = cache.partial(&hello()).unwrap();
        p.write_all(b"hello").unwrap();
        let Finished::Stored(path) = p.finish().unwrap() else {
            panic!("expected a stored entry")
        };
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        assert_eq!(path, dir.path().join(LAYOUT).join(HELLO_HEX));
        assert_eq!(cache.get(&hello()), Some(path.clone()));
        cache.remove(&hello()).unwrap();
        assert_eq!(cache.get(&hello()), None);
        cache.remove(&hello()).unwrap();
    }

    #[test]
    fn partials_of_killed_runs_are_swept_by_the_next_writer() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir
            .path()
            .join(LAYOUT)
            .join(format!("{HELLO_HEX}.x1.partial"));
        fs::create_dir_all(stale.parent().unwrap()).unwrap();
        fs::write(&stale, b"half").unwrap();
        let _read_only = Cache::open_existing(dir.path());
        assert!(stale.exists(), "a reader removes nothing");
        let _writer = Cache::open(dir.path()).unwrap();
        assert!(!stale.exists());
    }

    #[test]
    fn an_idle_cache_is_swept_without_waiting_and_a_busy_one_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        sweep_if_idle(dir.path()); // No cache at all: nothing to do.
        let writer = Cache::open(dir.path()).unwrap();
        let stale = dir.path().join(LAYOUT).join("unpinned.x2.partial");
        fs::write(&stale, b"half").unwrap();
        sweep_if_idle(dir.path());
        assert!(
            stale.exists(),
            "a writer holds the lock: its partial may be live"
        );
        drop(writer);
        sweep_if_idle(dir.path());
        assert!(!stale.exists());
    }

    #[test]
    fn wrong_bytes_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let mut p = cache.partial(&hello()).unwrap();
        p.write_all(b"goodbye").unwrap();
        match p.finish().unwrap() {
            Finished::Mismatch { actual } => assert_eq!(actual, Sha256::of(b"goodbye")),
            Finished::Stored(_) => panic!("stored a mismatching file"),
        }
        let left: Vec<_> = fs::read_dir(dir.path().join(LAYOUT))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
