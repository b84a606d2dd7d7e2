//! Reading verified artifacts and installing their members by the profile's `install` rules.
//! Every member is checked before anything of it is written: absolute paths, `..`, links that
//! leave the rootfs, device nodes and FIFOs make the whole archive refused.
//!
//! It writes only through `install::Rootfs`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result};
use flate2::read::GzDecoder;
use tar::EntryType;

use crate::error::Error;
use crate::install::{link_stays_inside, Origin, Rootfs};
use crate::profile::{Artifact, ArtifactKind, InstallRule};

/// Installs one verified artifact file into the rootfs.
pub fn install(artifact: &Artifact, url: &str, file: &Path, rootfs: &Rootfs) -> Result<()> {
    let origin = Origin::Artifact(artifact.name.clone());
    match artifact.kind() {
        ArtifactKind::File => {
            for rule in &artifact.install {
                let dest = if rule.to.ends_with('/') {
                    let base = url_basename(url);
                    format!("{}{base}", rule.to)
                } else {
                    rule.to.clone()
                };
                let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
                rootfs.write_file(&dest, rule.mode, &origin, BufReader::new(f))?;
            }
            Ok(())
        }
        ArtifactKind::TarGz => {
            let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
            install_tar(
                artifact,
                url,
                GzDecoder::new(BufReader::with_capacity(256 * 1024, f)),
                rootfs,
            )
        }
        ArtifactKind::Tar => {
            let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
            install_tar(
                artifact,
                url,
                BufReader::with_capacity(256 * 1024, f),
                rootfs,
            )
        }
    }
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

fn install_tar(artifact: &Artifact, url: &str, reader: impl Read, rootfs: &Rootfs) -> Result<()> {
    let origin = Origin::Artifact(artifact.name.clone());
    let unsafe_member = |member: &str, why: &str| -> anyhow::Error {
        Error::UnsafeArchive {
            artifact: artifact.name.clone(),
            archive: url.to_string(),
            member: member.to_string(),
            why: why.to_string(),
        }
        .into()
    };
    let mut archive = tar::Archive::new(reader);
    let mut matches = vec![0usize; artifact.install.len()];
    // Member name -> where it was installed (for hard links).
    let mut installed: BTreeMap<String, (String, u32)> = BTreeMap::new();
    let mut members = Vec::new();
    let entries = archive
        .entries()
        .with_context(|| format!("reading archive {url} of artifact {}", artifact.name))?;
    for entry in entries {
        let mut entry = entry
            .with_context(|| format!("reading archive {url} of artifact {}", artifact.name))?;
        let raw = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| unsafe_member("<non-UTF-8 name>", "has a name that is not UTF-8"))?;
        let name = clean_member(&raw).map_err(|why| unsafe_member(&raw, why))?;
        let ty = entry.header().entry_type();
        match ty {
            EntryType::Block | EntryType::Char => {
                return Err(unsafe_member(&raw, "is a device node"))
            }
            EntryType::Fifo => return Err(unsafe_member(&raw, "is a FIFO")),
            EntryType::Directory => continue,
            EntryType::Regular | EntryType::Continuous | EntryType::Symlink | EntryType::Link => {}
            EntryType::GNUSparse => {
                return Err(unsafe_member(&raw, "is a sparse file (not supported)"))
            }
            _ => {
                return Err(unsafe_member(
                    &raw,
                    "has a member type builder does not install",
                ))
            }
        }
        if name.is_empty() {
            continue;
        }
        let link_target = if matches!(ty, EntryType::Symlink | EntryType::Link) {
            let t = entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            if ty == EntryType::Symlink && !link_stays_inside(&format!("/{name}"), &t) {
                return Err(unsafe_member(
                    &raw,
                    &format!("is a link to {t:?}, which leaves the archive"),
                ));
            }
            if ty == EntryType::Link {
                let cleaned = clean_member(&t)
                    .map_err(|why| unsafe_member(&raw, &format!("is a hard link that {why}")))?;
                Some(cleaned)
            } else {
                Some(t)
            }
        } else {
            None
        };
        members.push(name.clone());
        let mut first_dest: Option<(String, u32)> = None;
        for (i, rule) in artifact.install.iter().enumerate() {
            let Some(m) = &rule.matcher else { continue };
            if !m.is_match(&name) {
                continue;
            }
            matches[i] += 1;
            if !rule.to.ends_with('/') && matches[i] > 1 {
                return Err(rule.loc.error(format_args!(
                    "install rule from = {:?} matches more than one member of {url}, but `to = {:?}` names a single file; \
                     end `to` with '/' to install them into a folder",
                    rule.from.as_deref().unwrap_or(""),
                    rule.to
                )));
            }
            let dest = destination(rule, &name);
            match (ty, &link_target) {
                (EntryType::Symlink, Some(target)) => {
                    if !link_stays_inside(&dest, target) {
                        return Err(unsafe_member(
                            &raw,
                            &format!("is a link to {target:?}, which leaves the rootfs when installed at {dest}"),
                        ));
                    }
                    rootfs.symlink(&dest, target, &origin)?;
                }
                (EntryType::Link, Some(target)) => {
                    let Some((from, _)) = installed.get(target) else {
                        return Err(unsafe_member(
                            &raw,
                            &format!("is a hard link to {target:?}, which no install rule installed before it"),
                        ));
                    };
                    let from = from.clone();
                    rootfs.copy_within(&from, &dest, rule.mode, &origin)?;
                }
                _ => match &first_dest {
                    None => {
                        rootfs.write_file(&dest, rule.mode, &origin, &mut entry)?;
                        first_dest = Some((dest.clone(), rule.mode));
                    }
                    Some((from, _)) => rootfs.copy_within(from, &dest, rule.mode, &origin)?,
                },
            }
        }
        if let Some(d) = first_dest {
            installed.insert(name, d);
        }
    }
    for (rule, n) in artifact.install.iter().zip(&matches) {
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

    #[test]
    fn basenames() {
        assert_eq!(url_basename("https://x/y/runc.amd64?z=1"), "runc.amd64");
    }
}
