//! The system extension image itself: a squashfs file system written by the `backhand` crate
//! (no external tool), gzip-compressed, every inode owned by root with the mode the rootfs
//! ledger recorded and the mtime from `SOURCE_DATE_EPOCH`, entries added in sorted order.
//! Same tree, same bytes (the tests build twice and compare).
//!
//! Why squashfs and not erofs: systemd-sysext mounts either, but squashfs is what Flatcar's
//! sysext-bakery and mkosi ship, every kernel a sysext host runs (Flatcar, Fedora CoreOS,
//! Debian 12's 6.1) has it, and a pure-Rust writer exists; erofs would need `mkfs.erofs`.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Cursor, Read};
use std::path::Path;

use anyhow::{Context, Result};
use backhand::compression::{CompressionAction, Compressor};
use backhand::kind::Kind;
use backhand::{BackhandError, FilesystemCompressor, FilesystemWriter, NodeHeader, SuperBlock};

use crate::util::digest::{HashingWriter, Sha256};
use crate::util::error::Error;

/// squashfs's "gzip" compressor (zlib streams, in fact, level 9) through miniz_oxide, as every
/// stream builder writes (`build::gzip`): the same bytes on every machine. Reading goes through
/// flate2.
struct Zlib;

static ZLIB: Zlib = Zlib;

impl CompressionAction for Zlib {
    type Error = BackhandError;
    type Compressor = Compressor;
    type FilesystemCompressor = FilesystemCompressor;
    type SuperBlock = SuperBlock;

    fn decompress(
        &self,
        bytes: &[u8],
        out: &mut Vec<u8>,
        compressor: Compressor,
    ) -> Result<(), BackhandError> {
        match compressor {
            Compressor::Gzip => {
                flate2::read::ZlibDecoder::new(bytes).read_to_end(out)?;
                Ok(())
            }
            Compressor::Uncompressed => {
                out.extend_from_slice(bytes);
                Ok(())
            }
            _ => Err(BackhandError::UnsupportedCompression(format!(
                "{compressor:?}"
            ))),
        }
    }

    fn compress(
        &self,
        bytes: &[u8],
        _fc: FilesystemCompressor,
        _block_size: u32,
    ) -> Result<Vec<u8>, BackhandError> {
        Ok(crate::build::gzip::zlib(bytes, 9))
    }
}

/// A file opened on its first read and closed at its end (backhand reads the files one after
/// another while it writes the image, and keeps every reader until it is done).
struct LazyFile {
    path: std::path::PathBuf,
    file: Option<File>,
    done: bool,
}

impl Read for LazyFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let f = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(File::open(&self.path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("opening {}: {e}", self.path.display()))
            })?),
        };
        let n = f.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.done = true;
            self.file = None;
        }
        Ok(n)
    }
}

/// What one path of the image holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageNode {
    /// A file on the host disk (an installed artifact), with its mode.
    HostFile { from: std::path::PathBuf, mode: u32 },
    /// A file from memory (extension-release), with its mode.
    Bytes { content: Vec<u8>, mode: u32 },
    /// A symbolic link and its target, written as given.
    Symlink { target: String },
}

/// The mtime every inode gets: `SOURCE_DATE_EPOCH`, which squashfs stores in 32 bits.
fn mtime32(mtime: u64) -> Result<u32> {
    u32::try_from(mtime).map_err(|_| {
        Error::Input(format!(
            "SOURCE_DATE_EPOCH {mtime} is past 2106-02-07, the last time a squashfs image can store; \
             give a smaller --source-date-epoch"
        ))
        .into()
    })
}

/// Writes `nodes` (absolute in-image paths, such as "/usr/local/bin/containerd") as a squashfs
/// image at `dest`; returns (sha256, size) of the file. Parent folders are made with mode 0755.
pub fn write_squashfs(
    nodes: &std::collections::BTreeMap<String, ImageNode>,
    dest: &Path,
    mtime: u64,
) -> Result<(Sha256, u64)> {
    let mtime = mtime32(mtime)?;
    let header = |mode: u32| NodeHeader {
        permissions: (mode & 0o7777) as u16,
        uid: 0,
        gid: 0,
        mtime,
    };
    let mut fs = FilesystemWriter::default();
    fs.set_kind(Kind::new_v4(&ZLIB));
    fs.set_time(mtime);
    fs.set_root_mode(0o755);
    fs.set_root_uid(0);
    fs.set_root_gid(0);
    fs.set_compressor(
        FilesystemCompressor::new(Compressor::Gzip, None)
            .map_err(|e| Error::Internal(format!("squashfs gzip compressor: {e}")))?,
    );
    // Every parent folder, parents before children (BTreeSet order puts "/a" before "/a/b").
    let mut dirs = BTreeSet::new();
    for path in nodes.keys() {
        let mut p = Path::new(path.as_str());
        while let Some(parent) = p.parent() {
            if parent == Path::new("/") {
                break;
            }
            dirs.insert(parent.to_string_lossy().into_owned());
            p = parent;
        }
    }
    let squash_err = |what: &str, path: &str, e: backhand::BackhandError| -> anyhow::Error {
        Error::Internal(format!("squashfs image: adding {what} {path}: {e:?}")).into()
    };
    for d in &dirs {
        if nodes.contains_key(d) {
            return Err(Error::Internal(format!(
                "{d} is both a folder and a file in the system extension"
            ))
            .into());
        }
        fs.push_dir(d.trim_start_matches('/'), header(0o755))
            .map_err(|e| squash_err("the folder", d, e))?;
    }
    for (path, node) in nodes {
        let rel = path.trim_start_matches('/');
        match node {
            ImageNode::HostFile { from, mode } => {
                // Opened when backhand reads it, so a tree of any size needs one descriptor
                // at a time; its existence is checked now.
                std::fs::metadata(from).with_context(|| format!("opening {}", from.display()))?;
                let f = LazyFile {
                    path: from.clone(),
                    file: None,
                    done: false,
                };
                fs.push_file(f, rel, header(*mode))
                    .map_err(|e| squash_err("the file", path, e))?;
            }
            ImageNode::Bytes { content, mode } => {
                fs.push_file(Cursor::new(content.clone()), rel, header(*mode))
                    .map_err(|e| squash_err("the file", path, e))?;
            }
            ImageNode::Symlink { target } => {
                fs.push_symlink(target.as_str(), rel, header(0o777))
                    .map_err(|e| squash_err("the link", path, e))?;
            }
        }
    }
    let file = File::create(dest).with_context(|| format!("creating {}", dest.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    fs.write(&mut out).map_err(|e| match e {
        backhand::BackhandError::StdIo(io) => {
            anyhow::Error::new(io).context(format!("writing {}", dest.display()))
        }
        e => Error::Internal(format!(
            "writing the squashfs image {}: {e:?}",
            dest.display()
        ))
        .into(),
    })?;
    let file = out
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {}", dest.display(), e.error()))?;
    file.sync_data()
        .with_context(|| format!("syncing {}", dest.display()))?;
    drop(file);
    // backhand seeks back to write the superblock, so the digest is taken from the file.
    let mut f = File::open(dest).with_context(|| format!("opening {}", dest.display()))?;
    let mut h = HashingWriter::new(std::io::sink());
    std::io::copy(&mut f, &mut h).with_context(|| format!("reading {}", dest.display()))?;
    let (_, sha256, size) = h.finish();
    Ok((sha256, size))
}
