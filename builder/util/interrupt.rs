//! Ctrl-C and `kill`: what a render or a pin removes before it exits on SIGINT or SIGTERM.
//! Code that makes a temporary path (the staging folder, a `.partial` download, an unfinished
//! output-cache entry) registers it and keeps the returned [`Registered`] while the path is
//! live; dropping it (the path was committed or removed) unregisters it.
//!
//! [`install`] starts a thread that waits for the signals (signal-hook: the handler itself only
//! writes to a pipe, so nothing unsafe runs in signal context); on one it clears the progress
//! bars, waits for any [`hold`] (a commit under way) to finish, removes every registered path,
//! prints one line on stderr and exits 128 + the signal's number (130, 143). The locks on OUT
//! and the cache are the kernel's to release at exit. SIGKILL cannot be caught: its leftovers
//! are swept by the next run (`build::output`, `fetch::cache`).
//!
//! It decides nothing about what is temporary (callers do). Without `install` (library
//! callers, unit tests) registering is only bookkeeping and signals keep their default.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};

/// What a registered path is, for the line printed on a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A render's staging folder in OUT.
    Staging,
    /// A download's `.partial` file in the cache.
    Download,
    /// An output-cache entry being written.
    OutputCache,
}

#[derive(Debug)]
struct Entry {
    id: u64,
    path: PathBuf,
    kind: Kind,
}

static REGISTRY: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);
/// Read-held by commits; write-held by the signal thread from the removal to the exit.
static HOLD: RwLock<()> = RwLock::new(());
/// Set once a signal arrived: the process is about to exit 128 + signo.
static STOPPING: AtomicBool = AtomicBool::new(false);

fn registry() -> MutexGuard<'static, Vec<Entry>> {
    // A panic elsewhere while the lock was held leaves a valid list: keep using it.
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A path removed on SIGINT/SIGTERM while this lives.
#[derive(Debug)]
#[must_use = "the path is unregistered when this is dropped"]
pub struct Registered {
    id: u64,
}

/// Registers `path` (a file or a folder) to be removed on SIGINT/SIGTERM.
pub fn register(path: &Path, kind: Kind) -> Registered {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    registry().push(Entry {
        id,
        path: path.to_path_buf(),
        kind,
    });
    Registered { id }
}

impl Drop for Registered {
    fn drop(&mut self) {
        registry().retain(|e| e.id != self.id);
    }
}

/// Defers the removal on a signal while held: a commit (renames that must not race a removal
/// of what they move) holds it. Once a signal is being handled, it waits until the exit.
pub fn hold() -> RwLockReadGuard<'static, ()> {
    HOLD.read().unwrap_or_else(PoisonError::into_inner)
}

/// Whether a signal arrived and the process is exiting because of it.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// Blocks forever once a signal is being handled, so that the main thread, failing because
/// its files were removed under it, neither prints that failure nor exits with its code: the
/// signal thread exits the process.
pub fn wait_if_stopping() {
    while stopping() {
        std::thread::park();
    }
}

/// Starts the thread that handles SIGINT and SIGTERM for the rest of the process; `what` says
/// what is interrupted (`render of profile containerd`).
pub fn install(what: String) -> Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .context("installing the handler for SIGINT and SIGTERM")?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signo) = signals.forever().next() {
                stop(signo, &what);
            }
        })
        .context("starting the signal thread")?;
    Ok(())
}

/// Clears the bars, removes what is registered, says so in one line and exits 128 + signo.
fn stop(signo: i32, what: &str) -> ! {
    STOPPING.store(true, Ordering::SeqCst);
    crate::util::progress::silence();
    // Never released: a commit that has not started yet never will.
    let _held = HOLD.write().unwrap_or_else(PoisonError::into_inner);
    let removed = remove_registered();
    let name = if signo == SIGINT { "SIGINT" } else { "SIGTERM" };
    eprintln!(
        "interrupted ({name}): {what} stopped; {}",
        removed.describe()
    );
    std::process::exit(128 + signo)
}

/// What the signal thread removed, and what it could not.
#[derive(Debug, Default)]
struct Removed {
    staging: Vec<PathBuf>,
    downloads: usize,
    output_cache: usize,
    failed: Vec<String>,
}

fn remove_registered() -> Removed {
    let entries = std::mem::take(&mut *registry());
    let mut removed = Removed::default();
    for e in entries {
        match remove(&e.path) {
            Ok(false) => {}
            Ok(true) => match e.kind {
                Kind::Staging => removed.staging.push(e.path),
                Kind::Download => removed.downloads += 1,
                Kind::OutputCache => removed.output_cache += 1,
            },
            Err(err) => removed.failed.push(format!("{} ({err})", e.path.display())),
        }
    }
    removed
}

/// Removes a file or a folder; `false` if it was already gone. Tries twice: the main thread
/// may still be writing into a folder while it is removed.
fn remove(path: &Path) -> std::io::Result<bool> {
    let once = || {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        if meta.is_dir() {
            std::fs::remove_dir_all(path)?;
        } else {
            std::fs::remove_file(path)?;
        }
        Ok(true)
    };
    once().or_else(|_| once())
}

impl Removed {
    /// `removed its staging folder OUT/.builder-staging-x and 2 partial downloads`.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self.staging.as_slice() {
            [] => {}
            [one] => parts.push(format!("its staging folder {}", one.display())),
            many => parts.push(format!("{} staging folders", many.len())),
        }
        parts.extend(counted(self.downloads, "partial download"));
        parts.extend(counted(self.output_cache, "unfinished output-cache entry"));
        let mut text = if parts.is_empty() {
            "nothing to remove".to_string()
        } else {
            format!("removed {}", join_and(&parts))
        };
        if !self.failed.is_empty() {
            text.push_str(&format!("; could not remove {}", self.failed.join(", ")));
        }
        text
    }
}

fn counted(n: usize, noun: &str) -> Option<String> {
    match n {
        0 => None,
        1 => Some(format!("1 {noun}")),
        n => Some(format!("{n} {noun}s")),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_guard_unregisters_its_path() {
        let path = PathBuf::from("/nonexistent/interrupt-test-a");
        let guard = register(&path, Kind::Download);
        assert!(registry().iter().any(|e| e.path == path));
        drop(guard);
        assert!(!registry().iter().any(|e| e.path == path));
    }

    #[test]
    fn removes_files_and_folders_and_skips_what_is_gone() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("x.partial");
        let dir = d.path().join(".builder-staging-x");
        std::fs::write(&file, b"half").unwrap();
        std::fs::create_dir_all(dir.join("node/amd64")).unwrap();
        assert!(remove(&file).unwrap());
        assert!(remove(&dir).unwrap());
        assert!(!file.exists() && !dir.exists());
        assert!(!remove(&file).unwrap());
    }

    #[test]
    fn the_line_names_what_was_removed() {
        let mut r = Removed::default();
        assert_eq!(r.describe(), "nothing to remove");
        r.staging.push(PathBuf::from("dist/.builder-staging-ab"));
        r.downloads = 2;
        assert_eq!(
            r.describe(),
            "removed its staging folder dist/.builder-staging-ab and 2 partial downloads"
        );
        r.output_cache = 1;
        r.failed.push("x (denied)".into());
        assert_eq!(
            r.describe(),
            "removed its staging folder dist/.builder-staging-ab, 2 partial downloads and \
             1 unfinished output-cache entry; could not remove x (denied)"
        );
    }
}
