//! Archives built byte by byte (hostile ones included) and gzip in and out.

use std::io::{Read, Write};

/// One entry of a tar archive the tests build.
pub enum Member<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    /// A symlink whose target is any bytes (not UTF-8, say).
    RawSymlink(&'a str, &'a [u8]),
    Hardlink(&'a str, &'a str),
    CharDevice(&'a str),
}

/// Builds a tar (gzip-compressed when `gz`) from members, writing names verbatim (so tests can
/// build hostile archives the `tar` crate's safe helpers would refuse to create).
pub fn tar_bytes(members: &[Member], gz: bool) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        let (name, data): (&str, &[u8]) = match m {
            Member::File(n, d, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(d.len() as u64);
                (n, d)
            }
            Member::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                (n, &[])
            }
            Member::Symlink(n, t) | Member::Hardlink(n, t) => {
                h.set_entry_type(if matches!(m, Member::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.set_mode(0o777);
                h.set_size(0);
                h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
                (n, &[])
            }
            Member::RawSymlink(n, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                h.as_old_mut().linkname[..t.len()].copy_from_slice(t);
                (n, &[])
            }
            Member::CharDevice(n) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_mode(0o600);
                h.set_size(0);
                (n, &[])
            }
        };
        let raw = &mut h.as_old_mut().name;
        raw.fill(0);
        raw[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    if !gz {
        return tar;
    }
    gzip(&tar)
}

/// One gzip member holding `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// `bytes` gunzipped when they start with the gzip magic, else as they are.
pub fn gunzip_if_gzipped(bytes: &[u8]) -> Vec<u8> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        bytes.to_vec()
    }
}
