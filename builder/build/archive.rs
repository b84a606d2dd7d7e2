//! Reading verified artifacts and installing their members by the profile's `install` rules.
//! Every member is checked before anything of it is written: absolute paths, `..`, links that
//! leave the rootfs, names or link targets that are not UTF-8 or hold a control character
//! (which would forge lines in messages and listings), device nodes and FIFOs make the whole
//! archive refused. Archives are read exactly: every gzip member (pigz output, concatenated
//! tarballs), every tar archive in the stream, each member's CRC and size checked, within a
//! bound on the bytes and members unpacked.
//!
//! It writes only through `install::Rootfs`.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use flate2::read::MultiGzDecoder;
use tar::EntryType;

use crate::build::install::{link_stays_inside, Origin, Rootfs};
use crate::profile::{Artifact, ArtifactKind, InstallRule};
use crate::util::digest::{HashingReader, Sha256};
use crate::util::error::Error;
use crate::util::escape::has_control;

/// How much one archive may unpack to: generous for real releases, small enough that a
/// decompression bomb fails with a clear error long before the disk is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Bytes of the unpacked tar stream (headers and every member, installed or not).
    pub max_bytes: u64,
    /// Members (files, folders, links).
    pub max_members: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_bytes: 4 << 30,
            max_members: 100_000,
        }
    }
}

/// Passes bytes through and fails once more than `left` came; `over` says it was that.
struct Bounded<R> {
    inner: R,
    left: u64,
    over: Arc<AtomicBool>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.over.store(true, Ordering::Relaxed);
            return Err(io::Error::other(
                "the archive unpacks to more than its bound",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Installs one artifact file from the cache into `rootfs`, verifying it in the same pass:
/// every byte read is hashed, and the file must have digest `sha256`. On a mismatch (the
/// cache entry changed since it was verified) the error is [`Error::CorruptCacheEntry`],
/// whatever else went wrong, and what was installed must be discarded: install into a
/// scratch rootfs and keep it only on success.
pub fn install(
    artifact: &Artifact,
    url: &str,
    file: &Path,
    sha256: &Sha256,
    rootfs: &Rootfs,
    limits: &ArchiveLimits,
) -> Result<()> {
    let (f, _) = crate::util::read::open(file, crate::util::read::Kind::Stream)?;
    let mut reader = HashingReader::new(BufReader::with_capacity(256 * 1024, f));
    let result = match artifact.kind() {
        ArtifactKind::File => install_file(artifact, url, &mut reader, rootfs),
        ArtifactKind::TarGz => install_tar(
            artifact,
            url,
            MultiGzDecoder::new(&mut reader),
            rootfs,
            limits,
        ),
        ArtifactKind::Tar => install_tar(artifact, url, &mut reader, rootfs, limits),
    };
    let (actual, _) = reader
        .finish()
        .with_context(|| format!("reading {}", file.display()))?;
    if actual != *sha256 {
        return Err(Error::CorruptCacheEntry {
            artifact: artifact.name.clone(),
            path: file.to_path_buf(),
            expected: *sha256,
            actual,
        }
        .into());
    }
    result
}

/// A plain file: written once (the first rule), copied for the others.
fn install_file(artifact: &Artifact, url: &str, reader: impl Read, rootfs: &Rootfs) -> Result<()> {
    let origin = Origin::Artifact(artifact.name.clone());
    let mut reader = Some(reader);
    let mut first: Option<String> = None;
    for rule in &artifact.install {
        let dest = if rule.to.ends_with('/') {
            // The template's file name, expanded for this arch (checked at validation).
            format!("{}{}", rule.to, url_basename(url))
        } else {
            rule.to.clone()
        };
        match (&first, reader.take()) {
            (None, Some(r)) => {
                rootfs.write_file(&dest, rule.mode, &origin, r)?;
                first = Some(dest);
            }
            (Some(from), _) => rootfs.copy_within(from, &dest, rule.mode, &origin)?,
            (None, None) => {
                return Err(Error::Internal("a plain file was read twice".into()).into())
            }
        }
    }
    Ok(())
}

fn url_basename(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path)
}

/// A member name made safe to compare: no leading `./`, checked for escapes.
fn clean_member(raw: &str) -> std::result::Result<String, &'static str> {
    if raw.starts_with('/') {
        return Err("has an absolute path");
    }
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("has a '..' component"),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

fn destination(rule: &InstallRule, member: &str) -> String {
    if rule.to.ends_with('/') {
        let base = member.rsplit('/').next().unwrap_or(member);
        format!("{}{base}", rule.to)
    } else {
        rule.to.clone()
    }
}

fn install_tar(
    artifact: &Artifact,
    url: &str,
    reader: impl Read,
    rootfs: &Rootfs,
    limits: &ArchiveLimits,
) -> Result<()> {
    let unsafe_member = |member: &str, why: &str| -> anyhow::Error {
        Error::UnsafeArchive {
            artifact: artifact.name.clone(),
            archive: url.to_string(),
            member: member.to_string(),
            why: why.to_string(),
        }
        .into()
    };
    let too_big = || -> anyhow::Error {
        Error::ArchiveTooLarge {
            artifact: artifact.name.clone(),
            archive: url.to_string(),
            what: format!(
                "unpacks to more than {} bytes (--archive-max-bytes)",
                limits.max_bytes
            ),
        }
        .into()
    };
    let over = Arc::new(AtomicBool::new(false));
    let bounded = Bounded {
        inner: reader,
        left: limits.max_bytes,
        over: over.clone(),
    };
    // Whatever failed, a stream cut at the bound is reported as the bound.
    match install_members(artifact, url, bounded, rootfs, limits, &unsafe_member) {
        Err(_) if over.load(Ordering::Relaxed) => Err(too_big()),
        r => r,
    }
}

fn install_members(
    artifact: &Artifact,
    url: &str,
    reader: impl Read,
    rootfs: &Rootfs,
    limits: &ArchiveLimits,
    unsafe_member: &dyn Fn(&str, &str) -> anyhow::Error,
) -> Result<()> {
    let reading = || format!("reading archive {url} of artifact {}", artifact.name);
    let mut archive = tar::Archive::new(reader);
    // Concatenated tarballs: read past an end-of-archive marker into the next archive, so
    // nothing of the stream is silently left out.
    archive.set_ignore_zeros(true);
    let mut unpack = Unpack {
        artifact,
        url,
        rootfs,
        unsafe_member,
        origin: Origin::Artifact(artifact.name.clone()),
        matches: vec![0usize; artifact.install.len()],
        installed: BTreeMap::new(),
        members: Vec::new(),
    };
    let mut count = 0u64;
    let entries = archive.entries().with_context(reading)?;
    for entry in entries {
        let mut entry = entry.with_context(reading)?;
        count += 1;
        if count > limits.max_members {
            return Err(Error::ArchiveTooLarge {
                artifact: artifact.name.clone(),
                archive: url.to_string(),
                what: format!(
                    "has more than {} members (--archive-max-members)",
                    limits.max_members
                ),
            }
            .into());
        }
        if let Some(member) = unpack.check(&entry)? {
            unpack.place(member, &mut entry)?;
        }
    }
    // The rest of the stream (padding, and the trailer of the last gzip member with its CRC
    // and size) is read too: a stream that is cut or corrupt after the last member fails here.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).with_context(reading)?;
    unpack.check_every_rule_matched()
}

/// One archive's members being installed: what the rules matched so far.
struct Unpack<'a> {
    artifact: &'a Artifact,
    url: &'a str,
    rootfs: &'a Rootfs,
    unsafe_member: &'a dyn Fn(&str, &str) -> anyhow::Error,
    origin: Origin,
    /// Per install rule, how many members it matched.
    matches: Vec<usize>,
    /// Member name -> where it was installed (for hard links).
    installed: BTreeMap<String, (String, u32)>,
    /// Every member's name, for the error when a rule matches none.
    members: Vec<String>,
}

/// A member that passed the checks.
struct Member {
    /// The name as the archive spells it (for errors).
    raw: String,
    /// The name cleaned (what the rules match).
    name: String,
    ty: EntryType,
    /// A link's target: as written for a symlink, cleaned for a hard link.
    link: Option<String>,
}

/// Whether a member of type `ty` is installed (a folder is not: the files make theirs), or why
/// it makes the archive refused.
fn installable(ty: EntryType) -> std::result::Result<bool, &'static str> {
    match ty {
        EntryType::Block | EntryType::Char => Err("is a device node"),
        EntryType::Fifo => Err("is a FIFO"),
        EntryType::Directory => Ok(false),
        EntryType::Regular | EntryType::Continuous | EntryType::Symlink | EntryType::Link => {
            Ok(true)
        }
        EntryType::GNUSparse => Err("is a sparse file (not supported)"),
        _ => Err("has a member type builder does not install"),
    }
}

impl Unpack<'_> {
    /// Checks a member's name, type and link target; `None`: nothing to install (a folder).
    fn check<R: Read>(&mut self, entry: &tar::Entry<'_, R>) -> Result<Option<Member>> {
        let unsafe_member = self.unsafe_member;
        let raw = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| unsafe_member("<non-UTF-8 name>", "has a name that is not UTF-8"))?;
        if has_control(&raw) {
            return Err(unsafe_member(&raw, "has a control character in its name"));
        }
        let name = clean_member(&raw).map_err(|why| unsafe_member(&raw, why))?;
        let ty = entry.header().entry_type();
        if !installable(ty).map_err(|why| unsafe_member(&raw, why))? || name.is_empty() {
            return Ok(None);
        }
        let link = if matches!(ty, EntryType::Symlink | EntryType::Link) {
            Some(self.link_target(entry, ty, &raw, &name)?)
        } else {
            None
        };
        self.members.push(name.clone());
        Ok(Some(Member {
            raw,
            name,
            ty,
            link,
        }))
    }

    /// A link's target: a symlink's must stay inside the archive, a hard link's is a member name.
    fn link_target<R: Read>(
        &self,
        entry: &tar::Entry<'_, R>,
        ty: EntryType,
        raw: &str,
        name: &str,
    ) -> Result<String> {
        let unsafe_member = self.unsafe_member;
        let t = match entry.link_name_bytes() {
            Some(b) => String::from_utf8(b.into_owned())
                .map_err(|_| unsafe_member(raw, "is a link whose target is not UTF-8"))?,
            None => String::new(),
        };
        if has_control(&t) {
            return Err(unsafe_member(
                raw,
                &format!("is a link to {t:?}, a target with a control character"),
            ));
        }
        if ty == EntryType::Symlink && !link_stays_inside(&format!("/{name}"), &t) {
            return Err(unsafe_member(
                raw,
                &format!("is a link to {t:?}, which leaves the archive"),
            ));
        }
        if ty == EntryType::Link {
            let cleaned = clean_member(&t)
                .map_err(|why| unsafe_member(raw, &format!("is a hard link that {why}")))?;
            Ok(cleaned)
        } else {
            Ok(t)
        }
    }

    /// Installs `m` wherever a rule puts it: a file is written once and copied for the other
    /// rules, a hard link copies what its target was installed as.
    fn place<R: Read>(&mut self, m: Member, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let (artifact, url, rootfs, origin) = (self.artifact, self.url, self.rootfs, &self.origin);
        let unsafe_member = self.unsafe_member;
        let mut first_dest: Option<(String, u32)> = None;
        for (i, rule) in artifact.install.iter().enumerate() {
            let Some(matcher) = &rule.matcher else {
                continue;
            };
            if !matcher.is_match(&m.name) {
                continue;
            }
            self.matches[i] += 1;
            if !rule.to.ends_with('/') && self.matches[i] > 1 {
                return Err(rule.loc.error(format_args!(
                    "install rule from = {:?} matches more than one member of {url}, but `to = {:?}` names a single file; \
                     end `to` with '/' to install them into a folder",
                    rule.from.as_deref().unwrap_or(""),
                    rule.to
                )));
            }
            let dest = destination(rule, &m.name);
            match (m.ty, &m.link) {
                (EntryType::Symlink, Some(target)) => {
                    if !link_stays_inside(&dest, target) {
                        return Err(unsafe_member(
                            &m.raw,
                            &format!("is a link to {target:?}, which leaves the rootfs when installed at {dest}"),
                        ));
                    }
                    rootfs.symlink(&dest, target, origin)?;
                }
                (EntryType::Link, Some(target)) => {
                    let Some((from, _)) = self.installed.get(target) else {
                        return Err(unsafe_member(
                            &m.raw,
                            &format!("is a hard link to {target:?}, which no install rule installed before it"),
                        ));
                    };
                    let from = from.clone();
                    rootfs.copy_within(&from, &dest, rule.mode, origin)?;
                }
                _ => match &first_dest {
                    None => {
                        rootfs.write_file(&dest, rule.mode, origin, &mut *entry)?;
                        first_dest = Some((dest.clone(), rule.mode));
                    }
                    Some((from, _)) => rootfs.copy_within(from, &dest, rule.mode, origin)?,
                },
            }
        }
        if let Some(d) = first_dest {
            self.installed.insert(m.name, d);
        }
        Ok(())
    }

    /// Every install rule must have matched a member: one that matched none names them.
    fn check_every_rule_matched(&self) -> Result<()> {
        let (members, url) = (&self.members, self.url);
        for (rule, n) in self.artifact.install.iter().zip(&self.matches) {
            if *n == 0 {
                let mut shown: Vec<&str> = members.iter().map(String::as_str).take(12).collect();
                if members.len() > 12 {
                    shown.push("...");
                }
                return Err(rule.loc.error(format_args!(
                    "install rule from = {:?} matches no member of {url} (members: {}); fix the glob",
                    rule.from.as_deref().unwrap_or(""),
                    if shown.is_empty() {
                        "none".to_string()
                    } else {
                        shown.join(", ")
                    }
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_cleaned_or_refused() {
        assert_eq!(clean_member("./bin/ctr").unwrap(), "bin/ctr");
        assert_eq!(clean_member("bin//ctr").unwrap(), "bin/ctr");
        assert!(clean_member("/etc/passwd").is_err());
        assert!(clean_member("bin/../../etc").is_err());
    }

    /// A tar of regular files and symlinks (`Some(target)`), names written verbatim.
    fn tar_of(members: &[(&str, Option<&str>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, link) in members {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o755);
            h.set_size(0);
            h.set_entry_type(link.map_or(EntryType::Regular, |_| EntryType::Symlink));
            if let Some(t) = link {
                h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
            }
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, &[][..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    /// Installs `tar` as an artifact whose every member goes into /opt/x/.
    fn install_members_of(tar: &[u8], root: &Path) -> Result<()> {
        let profile = crate::profile::tests::load_text(
            &crate::profile::tests::MINIMAL
                .replace("runc.{arch}", "x-{arch}.tar")
                .replace(
                    "to = \"/usr/local/sbin/runc\"",
                    "from = \"*\", to = \"/opt/x/\"",
                ),
        )
        .unwrap();
        let url = "https://example.invalid/x-amd64.tar";
        let rootfs = Rootfs::new(root);
        install_tar(
            &profile.artifacts[0],
            url,
            tar,
            &rootfs,
            &ArchiveLimits::default(),
        )
    }

    #[test]
    fn names_and_link_targets_with_control_characters_are_refused() {
        for (members, shown) in [
            (vec![("ok", None), ("evil\nname", None)], "\"evil\\nname\""),
            (vec![("e\x1b[2Jvil", None)], "\"e\\u{1b}[2Jvil\""),
            (vec![("c1\u{9b}x", None)], "\"c1\\u{9b}x\""),
            (vec![("l", Some("o\rk"))], "\"o\\rk\""),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let e = install_members_of(&tar_of(&members), dir.path()).unwrap_err();
            let msg = format!("{e:#}");
            assert!(
                matches!(e.downcast_ref(), Some(Error::UnsafeArchive { .. })),
                "{msg}"
            );
            assert!(
                msg.contains(shown) && msg.contains("control character"),
                "{msg}"
            );
            assert!(!msg.contains('\n') && !msg.contains('\x1b'), "{msg:?}");
        }
        // Plain non-ASCII names and targets install.
        let dir = tempfile::tempdir().unwrap();
        let tar = tar_of(&[("café", None), ("l", Some("café"))]);
        install_members_of(&tar, dir.path()).unwrap();
        assert!(dir.path().join("opt/x/café").is_file());
        assert!(dir.path().join("opt/x/l").is_symlink());
    }

    #[test]
    fn basenames() {
        assert_eq!(url_basename("https://x/y/runc.amd64?z=1"), "runc.amd64");
    }
}
