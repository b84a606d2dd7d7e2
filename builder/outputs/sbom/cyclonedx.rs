//! `sbom.cdx.json`: CycloneDX 1.6 JSON from the manifest, and reading one back for `check`.
//!
//! The overlay is `metadata.component`; the artifacts and the profile are top-level components
//! (the overlay depends on each); a file installed from an artifact is nested in that
//! artifact's `components` (CycloneDX's "included in", not a dependency), every other file is
//! a top-level component. Bom-refs: `overlay`, `profile`, `artifact:NAME`, `file:PATH`.

use serde::{Deserialize, Serialize};

use super::parts::{
    purl, regular_files, sha1_of, uri_escape, uuid_urn, Artifact, Inventory, Sha1s, Source,
};
use crate::outputs::manifest::{ArtifactRef, FileRef, Manifest};
use crate::util::digest::Recorded;

const OVERLAY_REF: &str = "overlay";
const PROFILE_REF: &str = "profile";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bom {
    bom_format: String,
    spec_version: String,
    serial_number: String,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
    #[serde(default)]
    dependencies: Vec<Dependency>,
}

#[derive(Serialize, Deserialize)]
struct Metadata {
    timestamp: String,
    tools: Tools,
    component: Component,
}

#[derive(Serialize, Deserialize)]
struct Tools {
    components: Vec<Component>,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Component {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "bom-ref", default, skip_serializing_if = "String::is_empty")]
    bom_ref: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    external_references: Vec<ExternalReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    components: Vec<Component>,
}

#[derive(Serialize, Deserialize)]
struct Hash {
    alg: String,
    content: String,
}

#[derive(Serialize, Deserialize)]
struct ExternalReference {
    #[serde(rename = "type")]
    kind: String,
    url: String,
}

#[derive(Serialize, Deserialize)]
struct Property {
    name: String,
    value: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Dependency {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(default)]
    depends_on: Vec<String>,
}

fn hashes(pairs: &[(&str, &str)]) -> Vec<Hash> {
    pairs
        .iter()
        .map(|(alg, content)| Hash {
            alg: alg.to_string(),
            content: content.to_string(),
        })
        .collect()
}

/// The CycloneDX 1.6 JSON document of `m`.
pub(super) fn document(m: &Manifest, sha1s: &Sha1s) -> anyhow::Result<Vec<u8>> {
    let mut artifacts: Vec<Component> = Vec::new();
    let mut refs = super::parts::Ids::default();
    for a in &m.artifacts {
        // Bom-refs may hold any text; only their uniqueness matters (names are unique in a
        // valid profile, and `Ids` keeps them so regardless).
        let bom_ref = refs.take("artifact:", &a.name);
        artifacts.push(artifact_component(m, a, bom_ref));
    }
    let mut top_files = Vec::new();
    let mut dependencies = Vec::new();
    for f in regular_files(m) {
        let file = file_component(f, sha1s)?;
        let parent = match Source::of(&f.source) {
            Source::Artifact(name) => m.artifacts.iter().position(|a| a.name == name),
            _ => None,
        };
        match parent {
            Some(i) => artifacts[i].components.push(file),
            None => top_files.push(file),
        }
    }
    let profile = Component {
        kind: "file".into(),
        bom_ref: PROFILE_REF.into(),
        name: m.profile.name.clone(),
        description: Some(super::parts::profile_description(m)),
        hashes: hashes(&[("SHA-256", m.profile.sha256.as_str())]),
        ..Component::default()
    };
    let mut depends_on: Vec<String> = artifacts.iter().map(|a| a.bom_ref.clone()).collect();
    depends_on.push(PROFILE_REF.into());
    dependencies.push(Dependency {
        reference: OVERLAY_REF.into(),
        depends_on,
    });
    let mut components = artifacts;
    components.push(profile);
    components.extend(top_files);
    let bom = Bom {
        bom_format: "CycloneDX".into(),
        spec_version: "1.6".into(),
        serial_number: uuid_urn(m.overlay.sha256.as_str()),
        version: 1,
        metadata: metadata(m)?,
        components,
        dependencies,
    };
    Ok(crate::util::stdout::json_string(&bom)?.into_bytes())
}

/// An artifact: an application when it installs a program (an executable file), else a file.
fn artifact_component(m: &Manifest, a: &ArtifactRef, bom_ref: String) -> Component {
    let installs_programs = m.files.iter().any(|f| {
        Source::of(&f.source) == Source::Artifact(&a.name)
            && u32::from_str_radix(&f.mode, 8).is_ok_and(|mode| mode & 0o111 != 0)
            && f.sha256.is_some()
    });
    Component {
        kind: if installs_programs {
            "application"
        } else {
            "file"
        }
        .into(),
        bom_ref,
        name: a.name.clone(),
        version: Some(a.version.clone()),
        hashes: hashes(&[("SHA-256", a.sha256.as_str())]),
        purl: Some(purl(a)),
        external_references: vec![ExternalReference {
            kind: "distribution".into(),
            url: uri_escape(&a.url),
        }],
        ..Component::default()
    }
}

/// A regular file of the overlay, with where it came from.
fn file_component(f: &FileRef, sha1s: &Sha1s) -> anyhow::Result<Component> {
    let sha256 = f.sha256.as_ref().map_or("", Recorded::as_str);
    Ok(Component {
        kind: "file".into(),
        bom_ref: format!("file:{}", f.path),
        name: f.path.clone(),
        hashes: hashes(&[("SHA-1", sha1_of(sha1s, &f.path)?), ("SHA-256", sha256)]),
        properties: vec![Property {
            name: "builder:source".into(),
            value: f.source.clone(),
        }],
        ..Component::default()
    })
}

/// The timestamp, builder as the tool, and the overlay as the document's subject.
fn metadata(m: &Manifest) -> anyhow::Result<Metadata> {
    Ok(Metadata {
        timestamp: super::parts::timestamp(m.source_date_epoch)?,
        tools: Tools {
            components: vec![Component {
                kind: "application".into(),
                name: "builder".into(),
                version: Some(m.builder_version.clone()),
                ..Component::default()
            }],
        },
        component: Component {
            kind: "file".into(),
            bom_ref: OVERLAY_REF.into(),
            name: m.overlay.file.clone(),
            description: Some(super::parts::overlay_description(m)),
            hashes: hashes(&[("SHA-256", m.overlay.sha256.as_str())]),
            ..Component::default()
        },
    })
}

/// What a CycloneDX document says, for `check`.
pub(super) fn inventory(bytes: &[u8]) -> Result<Inventory, String> {
    let bom: Bom = serde_json::from_slice(bytes)
        .map_err(|e| format!("not a CycloneDX document builder reads: {e}"))?;
    let sha256 = |c: &Component| -> Recorded {
        c.hashes
            .iter()
            .find(|h| h.alg == "SHA-256")
            .map(|h| h.content.clone())
            .unwrap_or_default()
            .into()
    };
    let mut inv = Inventory {
        overlay_sha256: sha256(&bom.metadata.component),
        ..Inventory::default()
    };
    let mut add_file = |c: &Component, parent: Option<&Component>| {
        inv.files
            .insert(c.name.clone(), (sha256(c), parent.map(|p| p.name.clone())));
    };
    let mut artifacts = Vec::new();
    for c in &bom.components {
        if c.bom_ref.starts_with("file:") {
            add_file(c, None);
        } else if c.bom_ref.starts_with("artifact:") {
            for f in &c.components {
                add_file(f, Some(c));
            }
            let url = c
                .external_references
                .iter()
                .find(|r| r.kind == "distribution");
            artifacts.push(Artifact {
                name: c.name.clone(),
                version: c.version.clone().unwrap_or_default(),
                url: url.map(|r| r.url.clone()).unwrap_or_default(),
                sha256: sha256(c),
                purl: c.purl.clone().unwrap_or_default(),
            });
        }
    }
    inv.artifacts = artifacts;
    Ok(inv)
}
