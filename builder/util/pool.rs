//! The one worker pool: runs a job per item on a few scoped threads and gives the results
//! back in item order. Downloads and artifact installs both run through it.
//!
//! Imports only the error kinds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Result;

use crate::util::error::Error;

/// Runs `job` on every item, at most `workers` at a time. Once a job fails no new one starts
/// (jobs under way finish on their own). The result is every job's output in item order, or
/// the error of the first failing item in item order: items are handed out in order, so every
/// item before a failed one was started, and the error reported does not depend on timing.
pub fn run<T, R, F>(items: &[T], workers: usize, job: F) -> Result<Vec<R>>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> Result<R> + Sync,
{
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<R>>>> =
        Mutex::new(std::iter::repeat_with(|| None).take(items.len()).collect());
    let workers = workers.clamp(1, items.len().max(1));
    let panicked = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { break };
                    let r = job(item);
                    let failed = r.is_err();
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r);
                    if failed {
                        next.store(usize::MAX / 2, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        handles.into_iter().any(|h| h.join().is_err())
    });
    if panicked {
        return Err(Error::Internal("a worker thread panicked".into()).into());
    }
    let mut out = Vec::with_capacity(items.len());
    for r in results.into_inner().unwrap_or_else(|p| p.into_inner()) {
        match r {
            Some(r) => out.push(r?),
            None => {
                return Err(Error::Internal("a job was neither finished nor failed".into()).into())
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_item_order() {
        let items: Vec<u64> = (0..50).collect();
        let out = run(&items, 4, |i| {
            std::thread::sleep(std::time::Duration::from_micros((50 - i) * 20));
            Ok(i * 2)
        })
        .unwrap();
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn the_first_failing_item_is_reported_and_later_ones_do_not_start() {
        let started = AtomicUsize::new(0);
        let items: Vec<usize> = (0..100).collect();
        let e = run(&items, 2, |&i| {
            started.fetch_add(1, Ordering::SeqCst);
            if i == 3 || i == 5 {
                anyhow::bail!("item {i} failed");
            }
            Ok(i)
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "item 3 failed");
        assert!(started.load(Ordering::SeqCst) < 100);
    }

    #[test]
    fn no_items_no_threads() {
        let out: Vec<u8> = run(&[] as &[u8], 8, |_| Ok(1)).unwrap();
        assert!(out.is_empty());
    }
}
