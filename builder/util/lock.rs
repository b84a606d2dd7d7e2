//! Advisory file locks (flock) that say why they wait. The kernel drops a lock when its
//! holder exits, killed or not, so a lock never outlives a crash.
//!
//! A leaf: it imports nothing from the crate.

use std::fs::{File, TryLockError};

use anyhow::{Context, Result};

/// Takes an exclusive lock on `file`, waiting for it; says once on stderr that it waits, and
/// for `what`, when another process holds it.
pub fn exclusive(file: &File, what: &str) -> Result<()> {
    match file.try_lock() {
        Ok(()) => return Ok(()),
        Err(TryLockError::WouldBlock) => {
            eprintln!("waiting: another builder process is using {what}");
        }
        Err(TryLockError::Error(e)) => {
            return Err(anyhow::Error::new(e).context(format!("locking {what}")))
        }
    }
    file.lock().with_context(|| format!("locking {what}"))
}
