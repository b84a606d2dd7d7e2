//! `sbom.spdx.json`: SPDX 2.3 JSON from the manifest, and reading one back for `check`.
//!
//! The overlay package has `filesAnalyzed: true` and a verification code over its files' SHA1s;
//! an artifact package has `filesAnalyzed: true` when files installed from it are listed
//! (CONTAINED_BY it; SPDX allows that only then), without a verification code: those are the
//! members installed, not necessarily every member of the download.

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::parts::{purl, regular_files, sha1_of, Artifact, Ids, Inventory, Sha1s, Source};
use crate::outputs::manifest::Manifest;
use crate::util::digest::Recorded;

const OVERLAY_ID: &str = "SPDXRef-Overlay";
const PROFILE_ID: &str = "SPDXRef-Profile";
const DOCUMENT_ID: &str = "SPDXRef-DOCUMENT";
const NOASSERTION: &str = "NOASSERTION";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    spdx_version: String,
    data_license: String,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    packages: Vec<Package>,
    files: Vec<File>,
    relationships: Vec<Relationship>,
}

#[derive(Serialize, Deserialize)]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Package {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    package_file_name: Option<String>,
    download_location: String,
    files_analyzed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    package_verification_code: Option<VerificationCode>,
    checksums: Vec<Checksum>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    primary_package_purpose: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationCode {
    package_verification_code_value: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Checksum {
    algorithm: String,
    checksum_value: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: String,
    reference_type: String,
    reference_locator: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    file_name: String,
    checksums: Vec<Checksum>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: String,
    related_spdx_element: String,
}

fn checksums(pairs: &[(&str, &str)]) -> Vec<Checksum> {
    pairs
        .iter()
        .map(|(algorithm, value)| Checksum {
            algorithm: algorithm.to_string(),
            checksum_value: value.to_string(),
        })
        .collect()
}

fn relation(from: &str, kind: &str, to: &str) -> Relationship {
    Relationship {
        spdx_element_id: from.to_string(),
        relationship_type: kind.to_string(),
        related_spdx_element: to.to_string(),
    }
}

/// The URL as SPDX's `downloadLocation`, or NOASSERTION when validators would not take it as a
/// URL: they want `http(s)://` (or ftp, ssh, git, svn, sftp) and a host name ending in a
/// label of letters, so an IP address, `localhost` or a `file://` URL cannot be one.
pub(super) fn download_location(url: &str) -> String {
    let ok = (|| {
        let (scheme, rest) = url.split_once("://")?;
        let schemes = ["http", "https", "ftp", "ssh", "git", "svn", "sftp"];
        if !schemes.contains(&scheme.to_ascii_lowercase().as_str()) {
            return None;
        }
        let authority = rest.split(['/', '?', '#']).next()?;
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let (host, port) = host.split_once(':').unwrap_or((host, "1"));
        let labels: Vec<&str> = host.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        let tld = labels.last()?;
        let valid = labels.len() >= 2
            && labels.iter().all(label_ok)
            && tld.len() >= 2
            && tld.bytes().all(|b| b.is_ascii_alphabetic())
            && (1..=5).contains(&port.len())
            && port.bytes().all(|b| b.is_ascii_digit())
            && !url
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control());
        valid.then_some(())
    })();
    match ok {
        Some(()) => url.to_string(),
        None => NOASSERTION.to_string(),
    }
}

/// SPDX's package verification code: SHA1 of the files' SHA1s, sorted and concatenated.
fn verification_code<'a>(sha1s: impl Iterator<Item = &'a str>) -> String {
    let mut all: Vec<&str> = sha1s.collect();
    all.sort_unstable();
    crate::util::digest::hex(&Sha1::digest(all.concat().as_bytes()))
}

/// The SPDX 2.3 JSON document of `m`.
pub(super) fn document(m: &Manifest, sha1s: &Sha1s) -> anyhow::Result<Vec<u8>> {
    let mut ids = Ids::default();
    let mut files = Vec::new();
    let mut relationships = vec![relation(DOCUMENT_ID, "DESCRIBES", OVERLAY_ID)];
    let mut contained = Vec::new();
    let artifact_ids: Vec<String> = m
        .artifacts
        .iter()
        .map(|a| ids.take("SPDXRef-Artifact-", &a.name))
        .collect();
    for f in regular_files(m) {
        let id = ids.take("SPDXRef-File-", &f.path);
        let sha256 = f.sha256.as_ref().map_or("", Recorded::as_str);
        let sha1 = sha1_of(sha1s, &f.path)?;
        relationships.push(relation(OVERLAY_ID, "CONTAINS", &id));
        match Source::of(&f.source) {
            Source::Artifact(name) => {
                if let Some(i) = m.artifacts.iter().position(|a| a.name == name) {
                    contained.push(i);
                    relationships.push(relation(&id, "CONTAINED_BY", &artifact_ids[i]));
                }
            }
            Source::Template(_) => relationships.push(relation(&id, "GENERATED_FROM", PROFILE_ID)),
            Source::Overlay(_) | Source::Other => {}
        }
        files.push(File {
            spdx_id: id,
            file_name: format!("./{}", f.path.trim_start_matches('/')),
            checksums: checksums(&[("SHA1", sha1), ("SHA256", sha256)]),
            comment: Some(format!("source: {}", f.source)),
        });
    }
    let overlay_code =
        verification_code(files.iter().map(|f| f.checksums[0].checksum_value.as_str()));
    let mut packages = vec![Package {
        spdx_id: OVERLAY_ID.into(),
        name: format!("{}-{}-overlay", m.profile.name, m.arch),
        package_file_name: Some(m.overlay.file.clone()),
        download_location: NOASSERTION.into(),
        files_analyzed: true,
        package_verification_code: Some(VerificationCode {
            package_verification_code_value: overlay_code,
        }),
        checksums: checksums(&[("SHA256", m.overlay.sha256.as_str())]),
        primary_package_purpose: Some("ARCHIVE".into()),
        comment: Some(super::parts::overlay_description(m)),
        ..Package::default()
    }];
    for (i, (a, id)) in m.artifacts.iter().zip(artifact_ids).enumerate() {
        let location = download_location(&a.url);
        packages.push(Package {
            spdx_id: id,
            name: a.name.clone(),
            version_info: Some(a.version.clone()),
            source_info: (location == NOASSERTION).then(|| format!("downloaded from {}", a.url)),
            download_location: location,
            files_analyzed: contained.contains(&i),
            checksums: checksums(&[("SHA256", a.sha256.as_str())]),
            external_refs: vec![ExternalRef {
                reference_category: "PACKAGE-MANAGER".into(),
                reference_type: "purl".into(),
                reference_locator: purl(a),
            }],
            ..Package::default()
        });
    }
    packages.push(Package {
        spdx_id: PROFILE_ID.into(),
        name: m.profile.name.clone(),
        download_location: NOASSERTION.into(),
        files_analyzed: false,
        checksums: checksums(&[("SHA256", m.profile.sha256.as_str())]),
        primary_package_purpose: Some("SOURCE".into()),
        comment: Some(super::parts::profile_description(m)),
        ..Package::default()
    });
    let doc = Document {
        spdx_version: "SPDX-2.3".into(),
        data_license: "CC0-1.0".into(),
        spdx_id: DOCUMENT_ID.into(),
        name: format!("builder {} {}", m.profile.name, m.arch),
        document_namespace: format!("urn:builder:sbom:spdx:sha256:{}", m.overlay.sha256),
        creation_info: CreationInfo {
            created: super::parts::timestamp(m.source_date_epoch)?,
            creators: vec![format!("Tool: builder-{}", m.builder_version)],
        },
        packages,
        files,
        relationships,
    };
    Ok(crate::util::stdout::json_string(&doc)?.into_bytes())
}

/// What an SPDX document says, for `check`.
pub(super) fn inventory(bytes: &[u8]) -> Result<Inventory, String> {
    let doc: Document = serde_json::from_slice(bytes)
        .map_err(|e| format!("not an SPDX document builder reads: {e}"))?;
    let related = |from: &str, kind: &str| {
        doc.relationships
            .iter()
            .find(|r| r.spdx_element_id == from && r.relationship_type == kind)
            .map(|r| r.related_spdx_element.as_str())
    };
    let sha256 = |c: &[Checksum]| -> Recorded {
        c.iter()
            .find(|c| c.algorithm == "SHA256")
            .map(|c| c.checksum_value.clone())
            .unwrap_or_default()
            .into()
    };
    let described = related(DOCUMENT_ID, "DESCRIBES").ok_or("no package is DESCRIBED")?;
    let package = |id: &str| doc.packages.iter().find(|p| p.spdx_id == id);
    let overlay = package(described)
        .ok_or_else(|| format!("the described package {described} is missing"))?;
    let mut inv = Inventory {
        overlay_sha256: sha256(&overlay.checksums),
        ..Inventory::default()
    };
    for p in &doc.packages {
        if p.spdx_id == described || p.spdx_id == PROFILE_ID {
            continue;
        }
        let purl = p.external_refs.iter().find(|r| r.reference_type == "purl");
        inv.artifacts.push(Artifact {
            name: p.name.clone(),
            version: p.version_info.clone().unwrap_or_default(),
            url: p.download_location.clone(),
            sha256: sha256(&p.checksums),
            purl: purl
                .map(|r| r.reference_locator.clone())
                .unwrap_or_default(),
        });
    }
    for f in &doc.files {
        let parent = related(&f.spdx_id, "CONTAINED_BY")
            .map(|id| package(id).map_or_else(|| id.to_string(), |p| p.name.clone()));
        let path = format!("/{}", f.file_name.trim_start_matches("./"));
        inv.files.insert(path, (sha256(&f.checksums), parent));
    }
    Ok(inv)
}
