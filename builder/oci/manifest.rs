//! The OCI image-spec 1.1 documents builder writes and reads: descriptors, image manifests
//! (with `artifactType` and `subject`) and indexes. Serialised compactly with fields in a fixed
//! order and annotations sorted, so the same inputs give the same bytes and digests.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::util::digest::Sha256;
use crate::util::error::Error;

pub type Annotations = BTreeMap<String, String>;

/// What a manifest says about one blob or manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Annotations::is_empty")]
    pub annotations: Annotations,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
}

impl Descriptor {
    pub fn new(media_type: &str, sha256: &Sha256, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: format!("sha256:{sha256}"),
            size,
            artifact_type: None,
            platform: None,
            annotations: Annotations::new(),
        }
    }

    /// The descriptor of a document's bytes.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor::new(media_type, &Sha256::of(bytes), bytes.len() as u64)
    }

    /// The digest as a [`Sha256`]; an error names a digest of another algorithm or form.
    pub fn sha256(&self) -> anyhow::Result<Sha256> {
        self.digest
            .strip_prefix("sha256:")
            .and_then(Sha256::parse)
            .ok_or_else(|| {
                Error::Fetch(format!(
                    "descriptor digest {:?} is not sha256:<64 hex>",
                    self.digest
                ))
                .into()
            })
    }

    /// Its `org.opencontainers.image.title`, the file name it is stored under.
    pub fn title(&self) -> Option<&str> {
        self.annotations
            .get(super::media::TITLE)
            .map(String::as_str)
    }
}

/// An image manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "Annotations::is_empty")]
    pub annotations: Annotations,
}

/// An image index.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    #[serde(default)]
    pub media_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Annotations::is_empty")]
    pub annotations: Annotations,
}

impl ImageManifest {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn parse(bytes: &[u8]) -> anyhow::Result<ImageManifest> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::Fetch(format!("not an OCI image manifest: {e}")).into())
    }
}

impl Index {
    pub fn new(artifact_type: Option<&str>, manifests: Vec<Descriptor>) -> Index {
        Index {
            schema_version: 2,
            media_type: super::media::INDEX.to_string(),
            artifact_type: artifact_type.map(str::to_string),
            manifests,
            annotations: Annotations::new(),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn parse(bytes: &[u8]) -> anyhow::Result<Index> {
        serde_json::from_slice(bytes)
            .map_err(|e| Error::Fetch(format!("not an OCI image index: {e}")).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialised_in_spec_field_names_and_order() {
        let mut layer = Descriptor::of("application/x", b"abc");
        layer
            .annotations
            .insert(super::super::media::TITLE.into(), "f".into());
        let m = ImageManifest {
            schema_version: 2,
            media_type: super::super::media::MANIFEST.into(),
            artifact_type: Some("application/vnd.example".into()),
            config: Descriptor::of(super::super::media::EMPTY, b"{}"),
            layers: vec![layer],
            subject: None,
            annotations: Annotations::new(),
        };
        let text = String::from_utf8(m.to_bytes()).unwrap();
        assert_eq!(
            text,
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[{"mediaType":"application/x","digest":"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","size":3,"annotations":{"org.opencontainers.image.title":"f"}}]}"#
        );
        let back = ImageManifest::parse(text.as_bytes()).unwrap();
        assert_eq!(back.layers[0].title(), Some("f"));
    }
}
