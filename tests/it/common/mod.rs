//! Test support for every area: a loopback HTTP server that can misbehave ([`server`]),
//! archives built byte by byte ([`archive`]), upstream releases (fixture binaries, upstream's
//! units) and the test profiles that pin them ([`upstream`]), a scratch workspace that runs the
//! real binary ([`workspace`]), the other programs the tests run or skip without
//! ([`programs`]), and, here, readers of what a run printed and left on disk.
//!
//! Every `builder::...` path the areas share is re-exported here once (`sha256_hex`); an area
//! that alone needs a library item imports it at its top.

mod archive;
mod programs;
pub mod registry;
mod server;
mod upstream;
mod workspace;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;

pub use archive::*;
/// A digest as the lowercase hex the tests compare with file contents.
pub fn sha256_hex(bytes: &[u8]) -> String {
    builder::util::digest::Sha256::of(bytes).to_string()
}
pub use programs::*;
pub use server::*;
pub use upstream::*;
pub use workspace::*;

/// The fake bootstrap token of the join configs the tests use (tests/fixtures/cloudinit/join.toml
/// holds it too), and its secret half, which must never leave user-data.
pub const TOKEN: &str = "abcdef.0123456789abcdef";
pub const TOKEN_SECRET: &str = "0123456789abcdef";

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[track_caller]
pub fn assert_ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    );
}

/// Every file under `dir` with its bytes (for "unchanged" checks).
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    if !dir.exists() {
        return out;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p.clone());
                out.push((p, Vec::new()));
            } else if meta.is_file() {
                let mut v = Vec::new();
                std::fs::File::open(&p)
                    .unwrap()
                    .read_to_end(&mut v)
                    .unwrap();
                out.push((p, v));
            } else {
                out.push((p, b"<link>".to_vec()));
            }
        }
    }
    out.sort();
    out
}

/// [`snapshot`] with paths relative to `root`, to compare two trees.
pub fn files_under(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    snapshot(root)
        .into_iter()
        .map(|(p, b)| (p.strip_prefix(root).unwrap().to_path_buf(), b))
        .collect()
}

/// A file's text, panicking with its path.
pub fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

/// A JSON file (a manifest, a statement), parsed.
pub fn read_json(p: impl AsRef<Path>) -> serde_json::Value {
    serde_json::from_str(&read(p)).unwrap()
}

/// `tests/fixtures/PATH` in the crate.
pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// Small download limits (`--read-timeout 1` and the like) so a hung server fails an attempt
/// in about a second.
pub const FAST: &[&str] = &[
    "--read-timeout",
    "1",
    "--connect-timeout",
    "2",
    "--speed-limit",
    "1000",
    "--speed-time",
    "2",
];

/// A loopback address nobody listens on.
pub fn dead_addr() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string()
}
