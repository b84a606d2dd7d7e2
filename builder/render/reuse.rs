//! Skipping work a render already did. Each arch's output has an input digest: builder's
//! version, the resolved profile (every pin), the overlays/ files it copies, the arch and every
//! render flag that changes output. The digest is recorded in manifest.json (`input_sha256`).
//!
//! - **Up to date**: the arch folder in `--out` has that digest and is unchanged (every file
//!   of SHA256SUMS has its digest, nothing else is there but the signature this render would
//!   write, and rootfs/ holds exactly what the manifest lists, contents included: see
//!   `stamps`): nothing is done.
//! - **Output cache**: another OUT's output of the same digest, kept in the cache folder and
//!   proven before use (see `output_cache`).

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::stamps;
use crate::bootstrap::cloudinit::JoinParams;
use crate::outputs::layout::{self, ArchDir};
use crate::outputs::manifest::{parse_sums, Manifest, Sums};
use crate::outputs::sign::SigningKey;
use crate::profile::plan::Plan;
use crate::util::digest::{Recorded, Sha256};
use crate::util::error::Error;
use crate::util::model::{Arch, Compression};
use crate::util::read::{self, Kind};

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
    /// An oci:// overlay URL's endpoints (mirrors, then the registry with its scheme).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    overlay_endpoints: Vec<String>,
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
    pub overlay_endpoints: Vec<String>,
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
        overlay_endpoints: flags.overlay_endpoints.clone(),
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

/// Reads `dir`'s manifest if the output there was made from `digest` and is unchanged: every
/// file of SHA256SUMS has its digest, nothing else is there but the signature this render
/// would write, and rootfs/ holds exactly what the manifest lists ([`stamps::unchanged`]).
pub(super) fn up_to_date(
    dir: &Path,
    stamps: &Path,
    digest: &Sha256,
    signature: Option<&str>,
) -> Option<Current> {
    let out = ArchDir::new(dir);
    let m: Manifest =
        serde_json::from_slice(&read::read(&out.manifest(), Kind::Manifest).ok()?).ok()?;
    if m.input_sha256 != *digest {
        return None;
    }
    let sums = parse_sums(&read::read(&out.sums(), Kind::Sums).ok()?).ok()?;
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
    stamps::unchanged(stamps, &out.rootfs(), &m, digest).then_some(Current { manifest: m, sums })
}

/// A digest `what` has in a manifest this render wrote, or took from the output cache (which
/// proves them): a sha256, or a bug.
pub(super) fn sha256_of(d: &Recorded, what: &str) -> Result<Sha256> {
    d.sha256().copied().ok_or_else(|| {
        Error::Internal(format!(
            "manifest.json gives {what} the digest {d:?}, not a sha256"
        ))
        .into()
    })
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
            overlay_endpoints: Vec::new(),
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
        let changed: [fn(&mut Inputs); 12] = [
            |i| i.profile_sha256 = "01",
            |i| i.overlays[0].1 = sha("12"),
            |i| i.arch = "arm64",
            |i| i.source_date_epoch = 1,
            |i| i.cloud = "aws",
            |i| i.overlay_url = Some("https://x.invalid/{arch}"),
            |i| i.overlay_endpoints = vec!["https://mirror.invalid".into()],
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
}
