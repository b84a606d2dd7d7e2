//! The built-in catalog of upstream sha256 digests (`data/checksums.toml`, copied from a public
//! table), keyed by artifact name, version and arch, plus unit files keyed by URL.
//!
//! A profile's own pin always wins; the catalog only fills in what the profile leaves out.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::util::digest::Sha256;
use crate::util::error::Error;

const BUILTIN: &str = include_str!("data/checksums.toml");

/// name -> arch -> version -> sha256, and URL -> sha256.
#[derive(Debug, Default)]
pub struct Catalog {
    releases: BTreeMap<String, BTreeMap<String, BTreeMap<String, Sha256>>>,
    units: BTreeMap<String, Sha256>,
}

impl Catalog {
    /// The catalog compiled into the binary.
    pub fn builtin() -> Result<Catalog> {
        Catalog::parse(BUILTIN)
            .map_err(|e| Error::Internal(format!("built-in catalog is malformed: {e}")).into())
    }

    pub fn parse(text: &str) -> std::result::Result<Catalog, String> {
        let table: toml::Table = text.parse().map_err(|e| format!("{e}"))?;
        let mut cat = Catalog::default();
        for (name, value) in table {
            let by_key = value
                .as_table()
                .ok_or_else(|| format!("[{name}] is not a table"))?;
            if name == "units" {
                for (url, digest) in by_key {
                    let digest = digest
                        .as_str()
                        .ok_or_else(|| format!("units.{url:?} is not a string"))?;
                    let digest = Sha256::parse(digest)
                        .ok_or_else(|| format!("units.{url:?} is not a sha256"))?;
                    cat.units.insert(url.clone(), digest);
                }
                continue;
            }
            let mut arches = BTreeMap::new();
            for (arch, versions) in by_key {
                let versions = versions
                    .as_table()
                    .ok_or_else(|| format!("[{name}.{arch}] is not a table"))?;
                let mut out = BTreeMap::new();
                for (version, digest) in versions {
                    let digest = digest
                        .as_str()
                        .ok_or_else(|| format!("{name}.{arch}.{version:?} is not a string"))?;
                    let digest = Sha256::parse(digest)
                        .ok_or_else(|| format!("{name}.{arch}.{version:?} is not a sha256"))?;
                    out.insert(version.clone(), digest);
                }
                arches.insert(arch.clone(), out);
            }
            cat.releases.insert(name, arches);
        }
        Ok(cat)
    }

    /// The digest of release `name` `version` for `arch`, if the catalog has it.
    pub fn lookup(&self, name: &str, version: &str, arch: &str) -> Option<Sha256> {
        self.releases.get(name)?.get(arch)?.get(version).copied()
    }

    /// The versions of release `name` the catalog pins for every one of `arches`.
    pub fn versions_for_all(&self, name: &str, arches: &[&str]) -> Vec<String> {
        let Some(by_arch) = self.releases.get(name) else {
            return Vec::new();
        };
        let Some((first, rest)) = arches.split_first() else {
            return Vec::new();
        };
        by_arch
            .get(*first)
            .into_iter()
            .flat_map(|v| v.keys())
            .filter(|v| {
                rest.iter()
                    .all(|a| by_arch.get(*a).is_some_and(|m| m.contains_key(*v)))
            })
            .cloned()
            .collect()
    }

    /// The digest of a file (a systemd unit) by its exact URL.
    pub fn lookup_url(&self, url: &str) -> Option<Sha256> {
        self.units.get(url).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_has_the_shipped_pins() {
        let c = Catalog::builtin().unwrap();
        assert_eq!(
            c.lookup("containerd", "2.3.4", "amd64").unwrap(),
            "9d68969855fbf676cdb8ed758e420fb048d61f984f61de3e53eddfebe484d168"
        );
        assert_eq!(c.lookup("containerd", "2.3.4", "s390x"), None);
        assert_eq!(c.lookup("docker-static", "28.3.3", "arm64"), None);
        assert!(c
            .lookup_url(
                "https://raw.githubusercontent.com/containerd/containerd/v2.3.4/containerd.service"
            )
            .is_some());
    }

    #[test]
    fn every_digest_is_64_lowercase_hex() {
        // Parsing checks each (`Catalog::builtin` fails otherwise); a digest that is not one
        // is refused.
        let c = Catalog::builtin().unwrap();
        assert!(c.releases.values().flat_map(|a| a.values()).count() > 10);
        let e = Catalog::parse("[runc.amd64]\n\"1.0.0\" = \"AB\"\n").unwrap_err();
        assert_eq!(e, "runc.amd64.\"1.0.0\" is not a sha256");
    }
}
