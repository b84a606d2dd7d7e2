//! The deterministic overlay archive: entries sorted by byte order of their path, every header
//! field set by hand (uid/gid 0 and no owner names, mode as installed, mtime from
//! SOURCE_DATE_EPOCH), compressed by `gzip::ParGzWriter` (no name, mtime 0, fixed level) or by
//! multi-threaded zstd (fixed level, checksum, no content size).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

use crate::build::gzip::{ParGzWriter, LEVEL};
use crate::util::digest::{HashingWriter, Sha256};
use crate::util::model::Compression;
use crate::util::progress::Task;

/// zstd level for overlays. On ci/bench/run.sh's data (224 MB of release binaries, 2 cores) level 2
/// compresses in 0.52 s to 81.6 MB, level 3 in 0.66 s to 78.3 MB, gzip level 2 in 1.4 s to
/// 88.1 MB: level 2 keeps most of zstd's size gain at a fifth less time.
pub const ZSTD_LEVEL: i32 = 2;

/// Writes `root`'s tree as a compressed tar to `dest`; returns (sha256, size) of the file.
/// `task` advances by the tar bytes compressed so far.
pub fn write_tar(
    root: &Path,
    dest: &Path,
    mtime: u64,
    compression: Compression,
    task: &Task,
) -> Result<(Sha256, u64)> {
    let file = File::create(dest).with_context(|| format!("creating {}", dest.display()))?;
    let hashing = HashingWriter::new(BufWriter::with_capacity(1 << 20, file));
    let writing = || format!("writing {}", dest.display());
    let mut hashing = match compression {
        Compression::Gzip => {
            let gz = tar_into(root, ParGzWriter::new(hashing, LEVEL), mtime, task, dest)?;
            gz.finish().with_context(writing)?
        }
        Compression::Zstd => {
            let enc = zstd_writer(hashing).with_context(writing)?;
            tar_into(root, enc, mtime, task, dest)?
                .finish()
                .with_context(writing)?
        }
    };
    hashing.flush().with_context(writing)?;
    let (inner, sha, size) = hashing.finish();
    let file = inner
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {}", dest.display(), e.error()))?;
    file.sync_data()
        .with_context(|| format!("syncing {}", dest.display()))?;
    Ok((sha, size))
}

/// A multi-threaded zstd stream. Always at least one worker: libzstd's streaming output with
/// workers does not depend on how many there are (it differs from its single-threaded mode),
/// so the bytes are the same on every machine. A checksum in the frame; no content size (the
/// stream's length is not known up front).
fn zstd_writer<W: Write>(out: W) -> io::Result<zstd::stream::write::Encoder<'static, W>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    zstd_writer_with(out, cores)
}

fn zstd_writer_with<W: Write>(
    out: W,
    workers: usize,
) -> io::Result<zstd::stream::write::Encoder<'static, W>> {
    let mut enc = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
    enc.multithread(workers.max(1) as u32)?;
    enc.include_checksum(true)?;
    enc.include_contentsize(false)?;
    Ok(enc)
}

/// Writes the tar stream of `root` into `out` and returns it, for the caller to finish.
fn tar_into<W: Write>(root: &Path, out: W, mtime: u64, task: &Task, dest: &Path) -> Result<W> {
    let mut tar = tar::Builder::new(Counting {
        inner: out,
        task,
        pending: 0,
    });
    tar.mode(tar::HeaderMode::Deterministic);
    append_dir(&mut tar, root, "", mtime)?;
    let counting = tar
        .into_inner()
        .with_context(|| format!("writing {}", dest.display()))?;
    task.inc(counting.pending);
    Ok(counting.inner)
}

/// Opens an overlay archive for reading its tar stream: zstd or gzip, told by the file's
/// magic number, so a reader needs no other hint (a renamed file still reads right). Only a
/// regular file is opened ([`crate::util::read`]).
pub fn open_archive(path: &Path) -> io::Result<Box<dyn io::Read>> {
    let (file, _) =
        crate::util::read::open(path, crate::util::read::Kind::Stream).map_err(io::Error::other)?;
    let mut reader = io::BufReader::with_capacity(1 << 20, file);
    let magic = io::BufRead::fill_buf(&mut reader)?;
    Ok(if magic.starts_with(&ZSTD_MAGIC) {
        Box::new(zstd::stream::read::Decoder::with_buffer(reader)?)
    } else {
        Box::new(flate2::read::GzDecoder::new(reader))
    })
}

/// Unpacks an overlay archive (gzip or zstd) into `root`, which must not exist yet, with the
/// modes it records (the tar crate refuses entries that would land outside `root`).
pub fn unpack(archive: &Path, root: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let stream = open_archive(archive).with_context(|| format!("opening {}", archive.display()))?;
    std::fs::create_dir(root).with_context(|| format!("creating {}", root.display()))?;
    let mut tar = tar::Archive::new(stream);
    tar.set_preserve_permissions(true);
    tar.set_preserve_mtime(false);
    tar.set_overwrite(false);
    tar.unpack(root)
        .with_context(|| format!("unpacking {} into {}", archive.display(), root.display()))
}

/// The first four bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Tells `task` how many tar bytes went through, a MiB at a time (not per 512-byte block).
struct Counting<'t, W> {
    inner: W,
    task: &'t Task,
    pending: u64,
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.pending += n as u64;
        if self.pending >= 1 << 20 {
            self.task.inc(self.pending);
            self.pending = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// About how many tar bytes files of these sizes make (a header each, data in 512-byte
/// blocks, the two end blocks): the length of the packing bar.
pub fn tar_size_estimate(sizes: impl IntoIterator<Item = u64>) -> u64 {
    sizes
        .into_iter()
        .map(|s| 512 + s.div_ceil(512) * 512)
        .sum::<u64>()
        + 1024
}

fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    // Empty owner names: numeric ownership, as reproducible-builds.org recommends.
    let _ = h.set_username("");
    let _ = h.set_groupname("");
    h
}

fn append_dir<W: Write>(
    tar: &mut tar::Builder<W>,
    host: &Path,
    rel: &str,
    mtime: u64,
) -> Result<()> {
    let mut names: Vec<Vec<u8>> = Vec::new();
    for entry in fs::read_dir(host).with_context(|| format!("listing {}", host.display()))? {
        let entry = entry.with_context(|| format!("listing {}", host.display()))?;
        names.push(entry.file_name().into_encoded_bytes());
    }
    names.sort();
    for name in names {
        let name = String::from_utf8(name)
            .map_err(|_| anyhow::anyhow!("a file name under {} is not UTF-8", host.display()))?;
        let path = host.join(&name);
        let rel_path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let meta = fs::symlink_metadata(&path)
            .with_context(|| format!("inspecting {}", path.display()))?;
        let mode = meta.permissions().mode() & 0o7777;
        let ft = meta.file_type();
        if ft.is_dir() {
            let mut h = header(tar::EntryType::Directory, mode, 0, mtime);
            tar.append_data(&mut h, format!("{rel_path}/"), io::empty())
                .with_context(|| format!("adding {rel_path}/"))?;
            append_dir(tar, &path, &rel_path, mtime)?;
        } else if ft.is_symlink() {
            let target =
                fs::read_link(&path).with_context(|| format!("reading link {}", path.display()))?;
            let mut h = header(tar::EntryType::Symlink, 0o777, 0, mtime);
            tar.append_link(&mut h, &rel_path, &target)
                .with_context(|| format!("adding link {rel_path}"))?;
        } else if ft.is_file() {
            let f = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
            let mut h = header(tar::EntryType::Regular, mode, meta.len(), mtime);
            tar.append_data(&mut h, &rel_path, f)
                .with_context(|| format!("adding {rel_path}"))?;
        } else {
            anyhow::bail!("{} is neither a file, a folder nor a link", path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("usr/local/bin")).unwrap();
        fs::create_dir_all(d.path().join("etc")).unwrap();
        fs::write(d.path().join("usr/local/bin/b"), b"bbb").unwrap();
        fs::write(d.path().join("usr/local/bin/a"), b"aaa").unwrap();
        fs::set_permissions(
            d.path().join("usr/local/bin/a"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        fs::write(d.path().join("etc/x.conf"), b"x").unwrap();
        std::os::unix::fs::symlink("a", d.path().join("usr/local/bin/c")).unwrap();
        d
    }

    #[test]
    fn sorted_fully_specified_and_stable() {
        let src = tree();
        let out = tempfile::tempdir().unwrap();
        let gz = |name: &str, mtime| {
            write_tar(
                src.path(),
                &out.path().join(name),
                mtime,
                Compression::Gzip,
                &Task::hidden(),
            )
            .unwrap()
            .0
        };
        let (sha1, sha2) = (gz("1.tgz", 0), gz("2.tgz", 0));
        assert_eq!(sha1, sha2);
        let sha3 = gz("3.tgz", 1_700_000_000);
        assert_ne!(sha1, sha3, "mtime must reach the headers");
        let mut raw_tar = Vec::new();
        flate2::read::GzDecoder::new(File::open(out.path().join("1.tgz")).unwrap())
            .read_to_end(&mut raw_tar)
            .unwrap();
        // Three files of 1-3 bytes: the estimate counts their headers and blocks, not the
        // folders' and the link's headers (5 x 512).
        assert_eq!(tar_size_estimate([3, 3, 1]) + 5 * 512, raw_tar.len() as u64);

        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(File::open(out.path().join("3.tgz")).unwrap())
            .read_to_end(&mut raw)
            .unwrap();
        let mut ar = tar::Archive::new(&raw[..]);
        let mut names = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(h.uid().unwrap(), 0);
            assert_eq!(h.gid().unwrap(), 0);
            assert_eq!(h.mtime().unwrap(), 1_700_000_000);
            let name = e.path().unwrap().display().to_string();
            if name == "usr/local/bin/a" {
                assert_eq!(h.mode().unwrap(), 0o755);
            }
            names.push(name);
        }
        assert_eq!(
            names,
            [
                "etc/",
                "etc/x.conf",
                "usr/",
                "usr/local/",
                "usr/local/bin/",
                "usr/local/bin/a",
                "usr/local/bin/b",
                "usr/local/bin/c"
            ]
        );
    }

    /// Bytes that compress like a release binary, more or less: runs, a small alphabet and
    /// noise, from a fixed xorshift seed.
    fn binary_like(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let run = (x >> 60) as usize + 1;
            let byte = match x & 3 {
                0 => (x >> 8) as u8,
                1 => b"\0\x48\x89\xe5\xc3"[(x >> 16) as usize % 5],
                _ => b"abcdefghijklmnop"[(x >> 24) as usize % 16],
            };
            out.extend(std::iter::repeat_n(byte, run.min(n - out.len())));
        }
        out
    }

    /// The overlay's bytes for a fixed tree, as released builders wrote them: a change of
    /// compressor, backend, chunking or header shows here (the gzip overlay must stay
    /// byte-identical for the same inputs; see the benchmark notes in docs/src/benchmarks.md).
    #[test]
    fn overlay_bytes_are_golden() {
        let src = tree();
        fs::create_dir_all(src.path().join("opt/cni/bin")).unwrap();
        for (i, size) in [3 << 20, (1 << 20) + 7, 511, 0, 2_500_001]
            .into_iter()
            .enumerate()
        {
            let path = src.path().join(format!("opt/cni/bin/p{i}"));
            fs::write(&path, binary_like(size, i as u64 + 1)).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let out = tempfile::tempdir().unwrap();
        let sha = |c, name: &str| {
            let dest = out.path().join(name);
            write_tar(src.path(), &dest, 1_700_000_000, c, &Task::hidden())
                .unwrap()
                .0
                .to_string()
        };
        assert_eq!(sha(Compression::Gzip, "o.tgz"), GOLDEN_GZIP);
        assert_eq!(sha(Compression::Zstd, "o.zst"), GOLDEN_ZSTD);
    }

    const GOLDEN_GZIP: &str = "8ae7d0af9d4bebfc63e1c6da7f58592d5fbf7d199d0b8e341f17f61b00444cbe";
    const GOLDEN_ZSTD: &str = "0bf532a0b50003a2c1caf251179807da662c0dbd6e2083c8a061c8e4cd6544dc";

    #[test]
    fn zstd_is_the_same_tar_and_the_same_bytes_whatever_the_workers() {
        let src = tree();
        let out = tempfile::tempdir().unwrap();
        let (gz, zst) = (out.path().join("o.tgz"), out.path().join("o.zst"));
        write_tar(src.path(), &gz, 0, Compression::Gzip, &Task::hidden()).unwrap();
        let (sha, size) =
            write_tar(src.path(), &zst, 0, Compression::Zstd, &Task::hidden()).unwrap();
        assert_eq!(size, fs::metadata(&zst).unwrap().len());
        let mut from_gz = Vec::new();
        flate2::read::GzDecoder::new(File::open(&gz).unwrap())
            .read_to_end(&mut from_gz)
            .unwrap();
        let from_zst = zstd::stream::decode_all(File::open(&zst).unwrap()).unwrap();
        assert_eq!(from_gz, from_zst, "the same tar inside");
        // Enough data for several zstd jobs, compressed with 1, 2 and 4 workers.
        let data: Vec<u8> = (0..24u32 << 20)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 & 0x1f)
            .collect();
        let with = |workers| {
            let mut enc = zstd_writer_with(Vec::new(), workers).unwrap();
            for piece in data.chunks(100_003) {
                enc.write_all(piece).unwrap();
            }
            enc.finish().unwrap()
        };
        let one = with(1);
        assert_eq!(one, with(2));
        assert_eq!(one, with(4));
        assert_eq!(zstd::stream::decode_all(&one[..]).unwrap(), data);
        assert_eq!(
            sha,
            write_tar(src.path(), &zst, 0, Compression::Zstd, &Task::hidden())
                .unwrap()
                .0
        );
    }
}
