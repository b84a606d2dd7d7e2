//! sha256 in one place: lowercase hex, digests of bytes, readers and files, a writer that
//! hashes what passes through it, and the check that a string is a digest.
//!
//! A leaf: it imports nothing from the crate.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Is `s` a sha256 digest as builder writes and pins them: 64 lowercase hex digits?
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// sha256 of bytes in memory, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// sha256 of everything a reader yields, and its length; streamed, never held in memory.
pub fn sha256_reader(r: impl Read) -> io::Result<(String, u64)> {
    let mut w = HashingWriter::new(io::sink());
    io::copy(&mut { r }, &mut w)?;
    let (_, sha, size) = w.finish();
    Ok((sha, size))
}

/// sha256 and length of a file.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    sha256_reader(io::BufReader::with_capacity(256 * 1024, f))
        .with_context(|| format!("reading {}", path.display()))
}

/// A writer that hashes (sha256) and counts what passes through it.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer, the hex digest and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, hex(&self.hasher.finalize()), self.size)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes (sha256) and counts what is read through it.
pub struct HashingReader<R: Read> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> HashingReader<R> {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// Reads the rest (so the digest covers everything), then gives the hex digest and the
    /// byte count.
    pub fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((hex(&self.hasher.finalize()), self.size))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn the_three_ways_agree() {
        assert_eq!(sha256_hex(b"hello"), HELLO);
        assert_eq!(
            sha256_reader(&b"hello"[..]).unwrap(),
            (HELLO.to_string(), 5)
        );
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"hel").unwrap();
        w.write_all(b"lo").unwrap();
        assert_eq!(w.size(), 5);
        let (inner, sha, size) = w.finish();
        assert_eq!(
            (inner.as_slice(), sha.as_str(), size),
            (&b"hello"[..], HELLO, 5)
        );
    }

    #[test]
    fn digest_strings() {
        assert!(is_sha256_hex(HELLO));
        assert!(!is_sha256_hex(&HELLO.to_uppercase()));
        assert!(!is_sha256_hex(&HELLO[1..]));
        assert!(!is_sha256_hex(&HELLO.replace('2', "g")));
    }
}
