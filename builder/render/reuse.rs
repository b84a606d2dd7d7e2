//! Skipping work a render already did. Each arch's output has an input digest: builder's
//! version, the resolved profile (every pin), the overlays/ files it copies, the arch and every
//! render flag that changes output. The digest is recorded in manifest.json (`input_sha256`).
//!
//! - **Up to date**: the arch folder in `--out` has that digest and still verifies (every file
//!   of SHA256SUMS has its digest, nothing else is there but the signature this render would
//!   write, and every file and link the manifest lists is in rootfs/ with its size or
//!   target): nothing is done.
//! - **Output cache**: `<cache>/outputs-v1/<digest>/` keeps what does not depend on the
//!   user-data (the overlay archive, its .sha256, the manifest, the SBOMs), each checked against
//!   an index of digests when taken. A hit is copied into the new output and the rootfs is
//!   unpacked from the overlay, without fetching, installing or packing. The user-data (which
//!   can hold a join token), meta-data, provenance, SHA256SUMS and signature are never cached:
//!   they are written again each time. Least recently used entries go when the cache passes
//!   its size bound.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::bootstrap::cloudinit::{JoinParams, NodeFile};
use crate::outputs::layout::{self, ArchDir};
use crate::outputs::manifest::{parse_sums, Manifest, Sums};
use crate::outputs::sign::SigningKey;
use crate::profile::plan::Plan;
use crate::util::digest::{Recorded, Sha256};
use crate::util::error::Error;
use crate::util::model::{Arch, Compression};

/// The cache's folder for outputs, beside the download cache's `sha256-v1`.
const LAYOUT: &str = "outputs-v1";
/// The index of a cache entry: each file's sha256.
const INDEX: &str = "index.json";

/// Everything that changes one arch's output, hashed. Field order is part of the digest.
#[derive(Serialize)]
struct Inputs<'a> {
    builder_version: &'a str,
    profile: &'a str,
    profile_sha256: &'a str,
    overlays: Vec<(String, Sha256)>,
    arch: &'a str,
    source_date_epoch: u64,
    cloud: &'a str,
    overlay_url: Option<&'a str>,
    /// sha256 of the join parameters, token included (so a new token gives a new user-data).
    join_sha256: Option<Sha256>,
    compression: &'a str,
    /// The signing key's public identity: another key, another signature.
    signer: Option<String>,
    formats: Vec<String>,
    sysext_url: Option<&'a str>,
}

/// The render flags that change output, besides the join parameters and the signing key.
pub(super) struct Flags<'a> {
    pub source_date_epoch: u64,
    pub cloud: &'a str,
    pub overlay_url: Option<&'a str>,
    pub compression: Compression,
    /// `--format` (besides the overlay) and `--sysext-url`.
    pub formats: Vec<String>,
    pub sysext_url: Option<&'a str>,
}

/// The input digest of one arch's output. `overlays` names each overlay the profile copies
/// with a digest of its files.
pub(super) fn input_digest(
    plan: &Plan,
    arch: Arch,
    flags: &Flags,
    join: Option<&JoinParams>,
    signer: Option<&SigningKey>,
    overlays: &[(String, Sha256)],
) -> Result<Sha256> {
    let inputs = Inputs {
        builder_version: crate::VERSION,
        profile: &plan.profile.name,
        profile_sha256: plan.profile_sha256.as_str(),
        overlays: overlays.to_vec(),
        arch: arch.as_str(),
        source_date_epoch: flags.source_date_epoch,
        cloud: flags.cloud,
        overlay_url: flags.overlay_url,
        join_sha256: join.map(|j| {
            let canonical = serde_json::json!([
                j.api_server,
                j.token,
                j.ca_cert_hashes,
                j.discovery_timeout.as_ref().map(|t| t.as_str())
            ]);
            Sha256::of(canonical.to_string().as_bytes())
        }),
        compression: flags.compression.as_str(),
        signer: signer.map(SigningKey::describe),
        formats: flags.formats.clone(),
        sysext_url: flags.sysext_url,
    };
    let json = serde_json::to_vec(&inputs).context("hashing the render's inputs")?;
    Ok(Sha256::of(&json))
}

/// An arch folder found up to date: its manifest and SHA256SUMS, as checked.
pub(super) struct Current {
    pub manifest: Manifest,
    pub sums: Sums,
}

/// Reads `dir`'s manifest if the output there was made from `digest` and still verifies.
pub(super) fn up_to_date(dir: &Path, digest: &Sha256, signature: Option<&str>) -> Option<Current> {
    let out = ArchDir::new(dir);
    let m: Manifest = serde_json::from_slice(&fs::read(out.manifest()).ok()?).ok()?;
    if m.input_sha256 != *digest {
        return None;
    }
    let sums = parse_sums(&fs::read(out.sums()).ok()?).ok()?;
    let mut expected: Vec<String> = vec![layout::SUMS.into(), layout::ROOTFS.into()];
    expected.extend(signature.map(String::from));
    for (name, hex) in &sums {
        let (got, _) = crate::util::digest::sha256_file(&out.file(name)).ok()?;
        if got != *hex {
            return None;
        }
        expected.push(name.clone());
    }
    let mut present: Vec<String> = fs::read_dir(dir)
        .ok()?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()
        .ok()?;
    present.sort();
    expected.sort();
    if present != expected || !m.overlay.file.is_empty() && !expected.contains(&m.overlay.file) {
        return None;
    }
    let root = out.rootfs();
    for f in &m.files {
        let path = root.join(f.path.trim_start_matches('/'));
        let meta = fs::symlink_metadata(&path).ok()?;
        let ok = match (&f.link, f.size) {
            (Some(target), _) => {
                meta.file_type().is_symlink() && fs::read_link(&path).ok()? == Path::new(target)
            }
            (None, Some(size)) => meta.is_file() && meta.len() == size,
            (None, None) => false,
        };
        if !ok {
            return None;
        }
    }
    Some(Current { manifest: m, sums })
}

/// The output cache under a download cache folder.
pub(super) struct OutputCache {
    root: PathBuf,
    max_bytes: u64,
}

#[derive(Serialize, Deserialize)]
struct Index {
    files: BTreeMap<String, Sha256>,
}

/// What a cache hit put into an arch folder.
pub(super) struct Hit {
    pub manifest: Manifest,
    pub json: String,
    pub node_files: Vec<NodeFile>,
}

impl OutputCache {
    pub fn new(cache_dir: &Path, max_bytes: u64) -> OutputCache {
        OutputCache {
            root: cache_dir.join(LAYOUT),
            max_bytes,
        }
    }

    /// Copies the entry for `digest` into `dir` (rootfs/ unpacked from the overlay) if there
    /// is one and every file has its indexed digest; a damaged entry is removed.
    pub fn take(&self, digest: &Sha256, dir: &Path) -> Result<Option<Hit>> {
        let entry = self.root.join(digest.as_str());
        let Ok(index) = fs::read(entry.join(INDEX)) else {
            return Ok(None);
        };
        let Some(m) = self.check(&entry, &index) else {
            let _ = fs::remove_dir_all(&entry);
            return Ok(None);
        };
        let index: Index = serde_json::from_slice(&index).context("reading a cache index")?;
        for name in index.files.keys() {
            let (from, to) = (entry.join(name), dir.join(name));
            fs::copy(&from, &to)
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        }
        // Used now: the size bound removes the least recently used entries first.
        let _ = fs::File::open(entry.join(INDEX))
            .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        let out = ArchDir::new(dir);
        let root = out.rootfs();
        unpack(&out.file(&m.overlay.file), &root)?;
        let node_files = node_files(&m, &root)?;
        let json = fs::read_to_string(out.manifest())
            .with_context(|| format!("reading {}", out.manifest().display()))?;
        Ok(Some(Hit {
            manifest: m,
            json,
            node_files,
        }))
    }

    /// The entry's manifest if every indexed file has its digest, and the manifest gives the
    /// overlay and both SBOMs theirs (what the render lists from it: [`sha256_of`]).
    fn check(&self, entry: &Path, index: &[u8]) -> Option<Manifest> {
        let index: Index = serde_json::from_slice(index).ok()?;
        for (name, hex) in &index.files {
            if name.contains('/')
                || crate::util::digest::sha256_file(&entry.join(name)).ok()?.0 != *hex
            {
                return None;
            }
        }
        let m: Manifest =
            serde_json::from_slice(&fs::read(ArchDir::new(entry).manifest()).ok()?).ok()?;
        let document = |name: &str| {
            m.documents
                .iter()
                .any(|d| d.file == name && d.sha256.sha256().is_some())
        };
        let listed = m.overlay.sha256.sha256().is_some()
            && document(layout::SBOM_SPDX)
            && document(layout::SBOM_CYCLONEDX);
        (listed && index.files.contains_key(&m.overlay.file)).then_some(m)
    }

    /// Stores `names` from `dir` (an arch folder just rendered) under `digest`: written in a
    /// temporary folder, renamed into place; then the cache is pruned to its bound. Failing to
    /// cache is not failing the render: the error is returned for a warning.
    pub fn store(&self, digest: &Sha256, dir: &Path, names: &[&str]) -> Result<()> {
        fs::create_dir_all(&self.root)
            .with_context(|| format!("creating {}", self.root.display()))?;
        let target = self.root.join(digest.as_str());
        if target.exists() {
            return Ok(());
        }
        let tmp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempdir_in(&self.root)
            .with_context(|| format!("creating a folder in {}", self.root.display()))?;
        let _on_signal =
            crate::util::interrupt::register(tmp.path(), crate::util::interrupt::Kind::OutputCache);
        let mut files = BTreeMap::new();
        for name in names {
            let (from, to) = (dir.join(name), tmp.path().join(name));
            // A hard link where possible (the output is replaced, never edited, by builder);
            // the index digests catch an output edited by hand afterwards.
            if fs::hard_link(&from, &to).is_err() {
                fs::copy(&from, &to)
                    .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
            }
            files.insert(name.to_string(), crate::util::digest::sha256_file(&to)?.0);
        }
        let index = serde_json::to_vec_pretty(&Index { files })?;
        fs::write(tmp.path().join(INDEX), index)
            .with_context(|| format!("writing {}", tmp.path().join(INDEX).display()))?;
        let tmp = tmp.keep();
        if let Err(e) = fs::rename(&tmp, &target) {
            let _ = fs::remove_dir_all(&tmp);
            if !target.exists() {
                return Err(anyhow::Error::new(e)
                    .context(format!("moving a cache entry to {}", target.display())));
            }
        }
        self.prune()
    }

    /// Removes the least recently used entries (and leftovers of killed renders) until the
    /// entries take at most the bound.
    fn prune(&self) -> Result<()> {
        let mut entries = Vec::new();
        for e in
            fs::read_dir(&self.root).with_context(|| format!("listing {}", self.root.display()))?
        {
            let e = e.with_context(|| format!("listing {}", self.root.display()))?;
            let path = e.path();
            let Ok(index) = fs::metadata(path.join(INDEX)) else {
                // A folder without an index is being written by another render (sharing the
                // cache, not the output folder), or was left by a killed one: only an old one
                // is removed.
                let stale = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_none_or(|age| age > std::time::Duration::from_secs(3600));
                if stale {
                    let _ = fs::remove_dir_all(&path);
                }
                continue;
            };
            let size: u64 = fs::read_dir(&path)
                .map(|rd| {
                    rd.flatten()
                        .filter_map(|f| f.metadata().ok())
                        .map(|m| m.len())
                        .sum()
                })
                .unwrap_or(0);
            let used = index.modified().unwrap_or(std::time::UNIX_EPOCH);
            entries.push((used, size, path));
        }
        entries.sort();
        let mut total: u64 = entries.iter().map(|(_, s, _)| s).sum();
        for (_, size, path) in entries {
            if total <= self.max_bytes {
                break;
            }
            fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))?;
            total -= size;
        }
        Ok(())
    }
}

/// A digest `what` has in a manifest this render wrote, or took from the output cache (which
/// checks them): a sha256, or a bug.
pub(super) fn sha256_of(d: &Recorded, what: &str) -> Result<Sha256> {
    d.sha256().copied().ok_or_else(|| {
        Error::Internal(format!(
            "manifest.json gives {what} the digest {d:?}, not a sha256"
        ))
        .into()
    })
}

/// Unpacks the overlay archive (gzip or zstd) into `root`, modes as recorded.
fn unpack(archive: &Path, root: &Path) -> Result<()> {
    let stream = crate::build::pack::open_archive(archive)
        .with_context(|| format!("opening {}", archive.display()))?;
    fs::create_dir(root).with_context(|| format!("creating {}", root.display()))?;
    let mut tar = tar::Archive::new(stream);
    tar.set_preserve_permissions(true);
    tar.set_preserve_mtime(false);
    tar.set_overwrite(false);
    tar.unpack(root)
        .with_context(|| format!("unpacking {} into {}", archive.display(), root.display()))
}

/// Baked mode's node files from an unpacked output: what the manifest says builder generated
/// or copied from overlays/, with the bytes on disk (checked against the manifest).
fn node_files(m: &Manifest, root: &Path) -> Result<Vec<NodeFile>> {
    let mut out = Vec::new();
    for f in &m.files {
        let ours = f.source.starts_with("template:") || f.source.starts_with("overlay:");
        let Some(sha256) = f.sha256.as_ref().filter(|_| ours && f.link.is_none()) else {
            continue;
        };
        let path = root.join(f.path.trim_start_matches('/'));
        let content = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        if Sha256::of(&content) != *sha256 {
            anyhow::bail!("{} does not match the cached manifest", path.display());
        }
        out.push(NodeFile {
            path: f.path.clone(),
            mode: u32::from_str_radix(&f.mode, 8).context("a mode in the cached manifest")?,
            content,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(version: &str) -> Inputs<'_> {
        Inputs {
            builder_version: version,
            profile: "p",
            profile_sha256: "00",
            overlays: vec![("kubernetes-node".into(), sha("11"))],
            arch: "amd64",
            source_date_epoch: 0,
            cloud: "generic",
            overlay_url: None,
            join_sha256: None,
            compression: "gzip",
            signer: None,
            formats: Vec::new(),
            sysext_url: None,
        }
    }

    fn sha(s: &str) -> Sha256 {
        s.repeat(32).parse().unwrap()
    }

    fn digest(i: &Inputs) -> Sha256 {
        Sha256::of(&serde_json::to_vec(i).unwrap())
    }

    #[test]
    fn every_input_reaches_the_digest() {
        let base = digest(&inputs("1.0.0"));
        assert_ne!(base, digest(&inputs("1.0.1")), "builder's version");
        let changed: [fn(&mut Inputs); 11] = [
            |i| i.profile_sha256 = "01",
            |i| i.overlays[0].1 = sha("12"),
            |i| i.arch = "arm64",
            |i| i.source_date_epoch = 1,
            |i| i.cloud = "aws",
            |i| i.overlay_url = Some("https://x.invalid/{arch}"),
            |i| i.join_sha256 = Some(sha("22")),
            |i| i.compression = "zstd",
            |i| i.signer = Some("minisign key ID 1".into()),
            |i| i.formats = vec!["Sysext".into()],
            |i| i.sysext_url = Some("https://x.invalid/{arch}.raw"),
        ];
        for (n, change) in changed.iter().enumerate() {
            let mut i = inputs("1.0.0");
            change(&mut i);
            assert_ne!(digest(&i), base, "change {n}");
        }
    }

    #[test]
    fn a_cache_entry_is_taken_only_with_the_digests_the_render_lists() {
        use crate::outputs::manifest::{DocumentRef, OverlayRef, ProfileRef};
        let d = tempfile::tempdir().unwrap();
        let cache = OutputCache::new(d.path(), u64::MAX);
        let entry = d.path().join("entry");
        fs::create_dir(&entry).unwrap();
        fs::write(entry.join("overlay.tar.gz"), b"o").unwrap();
        let index_of = |m: &Manifest| {
            fs::write(entry.join("manifest.json"), m.to_json().unwrap()).unwrap();
            let files = ["overlay.tar.gz", "manifest.json"].map(|n| {
                let sha = crate::util::digest::sha256_file(&entry.join(n)).unwrap().0;
                (n.to_string(), sha)
            });
            serde_json::to_vec(&Index {
                files: files.into_iter().collect(),
            })
            .unwrap()
        };
        let doc = |file: &str| DocumentRef {
            file: file.into(),
            format: "f".into(),
            sha256: sha("dd").into(),
            size: 1,
        };
        let good = Manifest {
            builder_version: "9.9.9".into(),
            profile: ProfileRef {
                name: "p".into(),
                sha256: sha("11").into(),
            },
            kubernetes: "1.36".into(),
            runtime: crate::util::model::Runtime::Containerd,
            arch: Arch::Amd64,
            source_date_epoch: 0,
            input_sha256: sha("22").into(),
            artifacts: Vec::new(),
            overlay: OverlayRef {
                file: "overlay.tar.gz".into(),
                sha256: Sha256::of(b"o").into(),
                size: 1,
                sha256_file: "overlay.tar.gz.sha256".into(),
            },
            sysext: None,
            files: Vec::new(),
            documents: vec![doc("sbom.spdx.json"), doc("sbom.cdx.json")],
        };
        assert!(cache.check(&entry, &index_of(&good)).is_some());
        let mut broken = [good.clone(), good.clone(), good];
        broken[0].overlay.sha256 = "edited".to_string().into();
        broken[1].documents[1].sha256 = Recorded::default();
        broken[2].documents.pop();
        for m in broken {
            assert!(cache.check(&entry, &index_of(&m)).is_none(), "{m:?}");
        }
    }
}
