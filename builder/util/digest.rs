//! sha256 in one place: the [`Sha256`] type (parsed once: 64 lowercase hex digits), digests of
//! bytes, readers and files, a writer and a reader that hash what passes through them, a copy
//! that also takes the SBOMs' SHA-1 ([`copy_hashed`]), and [`Recorded`], a digest as a file
//! read back states it.
//!
//! A leaf: it imports nothing from the crate.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest;

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

/// A sha256 digest, held as builder writes and pins them: 64 lowercase hex digits. Made by
/// hashing ([`Sha256::of`], [`sha256_file`], the hashing reader and writer) or by parsing
/// ([`FromStr`], serde), which accepts exactly what [`is_sha256_hex`] does. Displays, and
/// serialises, as that hex; orders as the hex text does.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256([u8; 64]);

/// A string that is not 64 lowercase hex digits, given where a [`Sha256`] was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotSha256(pub String);

impl fmt::Display for NotSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a sha256 (64 lowercase hex digits)", self.0)
    }
}

impl std::error::Error for NotSha256 {}

impl Sha256 {
    /// The digest of bytes in memory.
    pub fn of(bytes: &[u8]) -> Sha256 {
        Sha256::from_hasher(sha2::Sha256::new_with_prefix(bytes))
    }

    /// The digest a hasher has computed.
    pub fn from_hasher(hasher: sha2::Sha256) -> Sha256 {
        Sha256::from_bytes(hasher.finalize().into())
    }

    /// The digest from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Sha256 {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (i, b) in bytes.iter().enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 0x0f)];
        }
        Sha256(out)
    }

    /// `s` as a digest, when it is 64 lowercase hex digits.
    pub fn parse(s: &str) -> Option<Sha256> {
        is_sha256_hex(s).then(|| {
            let mut out = [0u8; 64];
            out.copy_from_slice(s.as_bytes());
            Sha256(out)
        })
    }

    /// The 64 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        // Only ever filled with ASCII hex digits (by `from_bytes` or a checked `parse`).
        std::str::from_utf8(&self.0).expect("a Sha256 holds ASCII hex")
    }

    /// The 64 lowercase hex digits, owned.
    pub fn to_hex(&self) -> String {
        self.as_str().to_string()
    }
}

impl FromStr for Sha256 {
    type Err = NotSha256;

    fn from_str(s: &str) -> std::result::Result<Sha256, NotSha256> {
        Sha256::parse(s).ok_or_else(|| NotSha256(s.to_string()))
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::LowerHex for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As the hex string's: `{:?}` reads as it did when digests were strings.
impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl AsRef<str> for Sha256 {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Sha256 {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Sha256 {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Sha256 {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl Serialize for Sha256 {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Sha256, D::Error> {
        let s = String::deserialize(d)?;
        Sha256::parse(&s).ok_or_else(|| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Str(&s),
                &"a sha256: 64 lowercase hex digits",
            )
        })
    }
}

/// A sha256 as a file builder wrote and reads back states it (manifest.json, an SBOM, the
/// provenance): a [`Sha256`] when it is one, otherwise the text as found. builder only ever
/// writes digests there, but a file edited by hand may say anything: it is still read, and the
/// check that uses the digest reports a mismatch naming what the file says, instead of
/// refusing the whole file. Compares, displays and serialises as that text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Recorded(std::result::Result<Sha256, String>);

impl Recorded {
    /// What a file says; a [`Sha256`] when it is 64 lowercase hex digits.
    pub fn new(text: String) -> Recorded {
        Recorded(Sha256::parse(&text).ok_or(text))
    }

    /// The digest, when the text is one.
    pub fn sha256(&self) -> Option<&Sha256> {
        self.0.as_ref().ok()
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Ok(sha) => sha.as_str(),
            Err(text) => text,
        }
    }
}

/// Empty: a field a file written before it existed does not have.
impl Default for Recorded {
    fn default() -> Recorded {
        Recorded(Err(String::new()))
    }
}

impl From<String> for Recorded {
    fn from(text: String) -> Recorded {
        Recorded::new(text)
    }
}

impl From<&str> for Recorded {
    fn from(text: &str) -> Recorded {
        Recorded::new(text.to_string())
    }
}

impl From<Sha256> for Recorded {
    fn from(sha: Sha256) -> Recorded {
        Recorded(Ok(sha))
    }
}

impl From<&Sha256> for Recorded {
    fn from(sha: &Sha256) -> Recorded {
        Recorded(Ok(*sha))
    }
}

impl fmt::Display for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As the text's: `{:?}` reads as it did when digests were strings.
impl fmt::Debug for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<Sha256> for Recorded {
    fn eq(&self, other: &Sha256) -> bool {
        self.sha256() == Some(other)
    }
}

impl PartialEq<Recorded> for Sha256 {
    fn eq(&self, other: &Recorded) -> bool {
        other == self
    }
}

impl Serialize for Recorded {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Recorded {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Recorded, D::Error> {
        String::deserialize(d).map(Recorded::new)
    }
}

/// A file's digests as it was installed: its length, sha256 and SHA-1 (the SBOMs need SHA-1;
/// taken in the same pass that writes the file, so nothing is read twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub size: u64,
    pub sha256: Sha256,
    pub sha1: [u8; 20],
}

/// Copies `r` into `w`, hashing with sha256 and SHA-1 on the way.
pub fn copy_hashed(mut r: impl Read, mut w: impl Write) -> io::Result<Copied> {
    use sha1::Digest as _;
    let mut buf = vec![0u8; 256 * 1024];
    let (mut h256, mut h1, mut size) = (sha2::Sha256::new(), sha1::Sha1::new(), 0u64);
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..n])?;
        h256.update(&buf[..n]);
        h1.update(&buf[..n]);
        size += n as u64;
    }
    Ok(Copied {
        size,
        sha256: Sha256::from_hasher(h256),
        sha1: h1.finalize().into(),
    })
}

/// sha256 of everything a reader yields, and its length; streamed, never held in memory.
pub fn sha256_reader(r: impl Read) -> io::Result<(Sha256, u64)> {
    let mut w = HashingWriter::new(io::sink());
    io::copy(&mut { r }, &mut w)?;
    let (_, sha, size) = w.finish();
    Ok((sha, size))
}

/// sha256 and length of a file; anything but a regular file (a FIFO, a device) is refused
/// ([`crate::util::read`]).
pub fn sha256_file(path: &Path) -> Result<(Sha256, u64)> {
    let (f, _) = crate::util::read::open(path, crate::util::read::Kind::Stream)?;
    sha256_reader(io::BufReader::with_capacity(256 * 1024, f))
        .with_context(|| format!("reading {}", path.display()))
}

/// A writer that hashes (sha256) and counts what passes through it.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: sha2::Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter {
            inner,
            hasher: sha2::Sha256::new(),
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

    /// The inner writer, the digest and the byte count.
    pub fn finish(self) -> (W, Sha256, u64) {
        (self.inner, Sha256::from_hasher(self.hasher), self.size)
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
    hasher: sha2::Sha256,
    size: u64,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> HashingReader<R> {
        HashingReader {
            inner,
            hasher: sha2::Sha256::new(),
            size: 0,
        }
    }

    /// Reads the rest (so the digest covers everything), then gives the digest and the byte
    /// count.
    pub fn finish(mut self) -> io::Result<(Sha256, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((Sha256::from_hasher(self.hasher), self.size))
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
    fn the_ways_of_hashing_agree() {
        let hello: Sha256 = HELLO.parse().unwrap();
        assert_eq!(Sha256::of(b"hello").as_str(), HELLO);
        assert_eq!(Sha256::of(b"hello"), hello);
        assert_eq!(sha256_reader(&b"hello"[..]).unwrap(), (hello, 5));
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(b"hel").unwrap();
        w.write_all(b"lo").unwrap();
        assert_eq!(w.size(), 5);
        let (inner, sha, size) = w.finish();
        assert_eq!((inner.as_slice(), sha, size), (&b"hello"[..], hello, 5));
        let mut r = HashingReader::new(&b"hello"[..]);
        let mut first = [0u8; 2];
        r.read_exact(&mut first).unwrap();
        assert_eq!(r.finish().unwrap(), (hello, 5));
    }

    #[test]
    fn digest_strings() {
        assert!(is_sha256_hex(HELLO));
        for bad in [
            HELLO.to_uppercase(),
            HELLO[1..].to_string(),
            HELLO.replace('2', "g"),
            format!("{HELLO}0"),
            format!(" {}", &HELLO[1..]),
            String::new(),
        ] {
            assert!(!is_sha256_hex(&bad), "{bad}");
            assert_eq!(bad.parse::<Sha256>(), Err(NotSha256(bad.clone())));
            assert_eq!(Sha256::parse(&bad), None);
        }
    }

    #[test]
    fn shown_and_serialised_as_the_hex() {
        let sha = Sha256::of(b"hello");
        assert_eq!(sha.to_string(), HELLO);
        assert_eq!(format!("{sha:x}"), HELLO);
        assert_eq!(format!("{sha:?}"), format!("{HELLO:?}"));
        assert_eq!(sha.to_hex(), HELLO);
        assert_eq!(serde_json::to_string(&sha).unwrap(), format!("\"{HELLO}\""));
        let back: Sha256 = serde_json::from_str(&format!("\"{HELLO}\"")).unwrap();
        assert_eq!(back, sha);
        let upper = format!("\"{}\"", HELLO.to_uppercase());
        assert!(serde_json::from_str::<Sha256>(&upper).is_err());
        assert!(serde_json::from_str::<Sha256>("\"ab\"").is_err());
        // Orders as the hex text does (maps keyed by digest keep their order).
        let (a, b) = (Sha256::of(b"a"), Sha256::of(b"b"));
        assert_eq!(a.cmp(&b), a.as_str().cmp(b.as_str()));
    }

    #[test]
    fn recorded_digests_keep_whatever_the_file_says() {
        let sha = Sha256::of(b"hello");
        let good: Recorded = serde_json::from_str(&format!("\"{HELLO}\"")).unwrap();
        assert_eq!(good, Recorded::from(sha));
        assert_eq!(good, sha);
        assert_eq!(good.sha256(), Some(&sha));
        for text in [HELLO.to_uppercase(), "ab".to_string(), String::new()] {
            let json = serde_json::to_string(&text).unwrap();
            let r: Recorded = serde_json::from_str(&json).unwrap();
            assert_eq!(r.sha256(), None);
            assert_ne!(r, sha);
            assert_eq!(r.as_str(), text);
            assert_eq!(r.to_string(), text);
            assert_eq!(format!("{r:?}"), format!("{text:?}"));
            assert_eq!(serde_json::to_string(&r).unwrap(), json);
        }
        assert_eq!(Recorded::default().as_str(), "");
        assert_eq!(Recorded::new(HELLO.to_string()), sha);
    }
}
