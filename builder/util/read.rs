//! The one way builder reads a file it did not just write itself: a profile, a key, an
//! output's sums, manifest, signature or documents, an output-cache entry, a `file://`
//! artifact. Any of them may be a FIFO, a device, a socket or a link to one: such a read would
//! block forever or never end. So the path is judged first (`stat`, following links), opened
//! with `O_NONBLOCK` (a FIFO opened so never blocks) and judged again on the descriptor
//! (`fstat`, so a swap between the two is caught); only a regular file is read, and never
//! more than the bound of its kind.
//!
//! A leaf: it imports nothing from the crate.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// What a file is for, which bounds its size and names it in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A TOML profile (a profile of 200,000 artifacts is about 40 MB).
    Profile,
    /// A small config file (`--join-config`).
    Config,
    /// An output's `SHA256SUMS`.
    Sums,
    /// An output's `manifest.json` (it lists every file of the rootfs).
    Manifest,
    /// A detached signature (`SHA256SUMS.minisig`, `SHA256SUMS.sig`).
    Signature,
    /// A signing or public key.
    Key,
    /// An SBOM or provenance document.
    Document,
    /// An output cache's `index.json`.
    CacheIndex,
    /// A text file `builder diff` shows line by line.
    Text,
    /// A file that is hashed or copied while it is streamed (an artifact, an overlay, a file
    /// of an output): only the type is judged, the size is the reader's business.
    Stream,
}

impl Kind {
    /// The most bytes a file of this kind may hold.
    pub fn bound(self) -> u64 {
        match self {
            Kind::Profile => 256 * MIB,
            Kind::Config | Kind::CacheIndex => 4 * MIB,
            Kind::Sums => 16 * MIB,
            Kind::Manifest | Kind::Document => 256 * MIB,
            Kind::Signature | Kind::Key => 64 * KIB,
            Kind::Text => 16 * MIB,
            Kind::Stream => u64::MAX,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Profile => "a profile",
            Kind::Sums => "a SHA256SUMS file",
            Kind::Manifest => "a manifest",
            Kind::Signature => "a signature",
            Kind::Key => "a key",
            Kind::Document => "an SBOM or provenance document",
            Kind::CacheIndex => "an output-cache index",
            Kind::Text => "a text file",
            Kind::Config => "a config file",
            Kind::Stream => "a file",
        }
    }
}

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    NotRegular {
        path: PathBuf,
        kind: Kind,
        found: &'static str,
    },
    TooLarge {
        path: PathBuf,
        kind: Kind,
        size: u64,
    },
    Io {
        path: PathBuf,
        source: io::Error,
    },
}

impl ReadError {
    /// The file (or a folder above it) does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    /// What is wrong, without the path (for messages that name the path themselves).
    pub fn reason(&self) -> String {
        match self {
            ReadError::NotRegular { kind, found, .. } => format!(
                "expected {} here, found {found}; builder reads only regular files (a FIFO or device could block or never end)",
                kind.what()
            ),
            ReadError::TooLarge { kind, size, .. } => format!(
                "too large for {} ({size} bytes; builder reads at most {}); is it the right file?",
                kind.what(),
                kind.bound()
            ),
            ReadError::Io { source, .. } => source.to_string(),
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            ReadError::NotRegular { path, .. }
            | ReadError::TooLarge { path, .. }
            | ReadError::Io { path, .. } => path,
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = if matches!(self, ReadError::Io { .. }) {
            "reading "
        } else {
            ""
        };
        write!(f, "{verb}{}: {}", self.path().display(), self.reason())
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Opens `path` for reading if it is a regular file (links followed) within the bound of
/// `kind`; returns it with its metadata.
pub fn open(path: &Path, kind: Kind) -> Result<(File, Metadata), ReadError> {
    let io_err = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    check(path, kind, &std::fs::metadata(path).map_err(io_err)?)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    check(path, kind, &meta)?;
    Ok((file, meta))
}

/// The whole content of `path`, a regular file within the bound of `kind`.
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>, ReadError> {
    let (file, meta) = open(path, kind)?;
    let mut bytes = Vec::with_capacity(meta.len().min(64 * MIB) as usize);
    // The bound is checked again on what is read: the file may grow after the fstat.
    file.take(kind.bound().saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > kind.bound() {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            kind,
            size: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

/// [`read`] as UTF-8 text.
pub fn read_to_string(path: &Path, kind: Kind) -> Result<String, ReadError> {
    String::from_utf8(read(path, kind)?).map_err(|_| ReadError::Io {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"),
    })
}

fn check(path: &Path, kind: Kind, meta: &Metadata) -> Result<(), ReadError> {
    let t = meta.file_type();
    if !t.is_file() {
        let found = if t.is_dir() {
            "a folder"
        } else if t.is_fifo() {
            "a FIFO (named pipe)"
        } else if t.is_char_device() {
            "a character device"
        } else if t.is_block_device() {
            "a block device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "something that is not a regular file"
        };
        return Err(ReadError::NotRegular {
            path: path.to_path_buf(),
            kind,
            found,
        });
    }
    if meta.len() > kind.bound() {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            kind,
            size: meta.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_and_bounded() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("sums");
        std::fs::write(&f, b"x").unwrap();
        assert_eq!(read(&f, Kind::Sums).unwrap(), b"x");
        std::fs::write(&f, vec![b'k'; 64 * 1024 + 1]).unwrap();
        let e = read(&f, Kind::Key).unwrap_err();
        assert!(matches!(e, ReadError::TooLarge { size: 65537, .. }), "{e}");
        assert!(e.to_string().contains("builder reads at most 65536"), "{e}");
        let e = read(&d.path().join("missing"), Kind::Sums).unwrap_err();
        assert!(e.is_not_found(), "{e}");
    }

    #[test]
    fn fifos_devices_and_folders_are_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let zero = d.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        for (path, found) in [
            (&fifo, "a FIFO"),
            (&zero, "a character device"),
            (&d.path().to_path_buf(), "a folder"),
        ] {
            let e = read(path, Kind::Manifest).unwrap_err();
            let text = e.to_string();
            assert!(matches!(e, ReadError::NotRegular { .. }), "{text}");
            assert!(
                text.contains(found) && text.contains("expected a manifest"),
                "{text}"
            );
            assert!(open(path, Kind::Stream).is_err());
        }
    }
}
