//! `provenance.intoto.json`: an in-toto Statement v1 whose predicate is SLSA Provenance v1,
//! naming every output of one arch by digest (the subjects) and everything it was made from
//! (the artifacts by URL and digest, the resolved profile's digest, the render flags that
//! change output). Deterministic: no clocks, no host names, no paths of the machine.
//!
//! It is listed in SHA256SUMS, so a signature over SHA256SUMS covers it too. Its name in the
//! arch folder is `layout::PROVENANCE`.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::outputs::manifest::{Manifest, Sums};
use crate::util::digest::Recorded;

/// in-toto's Statement v1 type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// SLSA Provenance v1's predicate type.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// What `externalParameters` means: the parameters of `builder render`, version 1 of their
/// layout (README "Provenance").
pub const BUILD_TYPE: &str = "urn:builder:render:v1";

/// The render flags that change output, as the provenance records them.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--cloud` (the user-data size limit it was checked against).
    pub cloud: String,
    /// `--overlay-url` as given (credentials hidden); `None` in baked mode.
    pub overlay_url: Option<String>,
    /// The join parameters without their secret, when the user-data joins a cluster.
    pub join: Option<Join>,
}

/// What the user-data joins, without the bootstrap token (which never leaves the user-data).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Join {
    pub api_server: String,
    pub ca_cert_hashes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub discovery_timeout: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Descriptor>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: Provenance,
}

/// An in-toto ResourceDescriptor: what the subjects and dependencies are made of.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Descriptor {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub uri: Option<String>,
    pub digest: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    pub build_definition: BuildDefinition,
    pub run_details: RunDetails,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    pub build_type: String,
    pub external_parameters: ExternalParameters,
    pub resolved_dependencies: Vec<Descriptor>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalParameters {
    pub profile: ProfileParam,
    pub arch: String,
    pub source_date_epoch: u64,
    pub cloud: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub overlay_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub join: Option<Join>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProfileParam {
    pub name: String,
    /// sha256 of the resolved profile as `builder show` prints it.
    pub sha256: Recorded,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    pub builder: Builder,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Builder {
    pub id: String,
    pub version: BTreeMap<String, String>,
}

/// builder's id as the provenance names it: a URN with its version, so a verifier can pin
/// which builder versions it trusts.
pub fn builder_id(version: &str) -> String {
    format!("urn:builder:cli:{version}")
}

/// The statement for one arch: `m` says what was built from what, `subjects` maps each output
/// file's name to its sha256 (every file of SHA256SUMS but this one).
pub fn statement(m: &Manifest, flags: &Flags, subjects: &Sums) -> Statement {
    let sha256 =
        |hex: &dyn std::fmt::Display| BTreeMap::from([("sha256".to_string(), hex.to_string())]);
    Statement {
        type_: STATEMENT_TYPE.into(),
        subject: subjects
            .iter()
            .map(|(name, hex)| Descriptor {
                name: name.clone(),
                uri: None,
                digest: sha256(hex),
            })
            .collect(),
        predicate_type: PREDICATE_TYPE.into(),
        predicate: Provenance {
            build_definition: BuildDefinition {
                build_type: BUILD_TYPE.into(),
                external_parameters: ExternalParameters {
                    profile: ProfileParam {
                        name: m.profile.name.clone(),
                        sha256: m.profile.sha256.clone(),
                    },
                    arch: m.arch.to_string(),
                    source_date_epoch: m.source_date_epoch,
                    cloud: flags.cloud.clone(),
                    overlay_url: flags.overlay_url.clone(),
                    join: flags.join.clone(),
                },
                resolved_dependencies: m
                    .artifacts
                    .iter()
                    .map(|a| Descriptor {
                        name: format!("{}@{}", a.name, a.version),
                        uri: Some(a.url.clone()),
                        digest: sha256(&a.sha256),
                    })
                    .collect(),
            },
            run_details: RunDetails {
                builder: Builder {
                    id: builder_id(&m.builder_version),
                    version: BTreeMap::from([("builder".to_string(), m.builder_version.clone())]),
                },
            },
        },
    }
}

impl Statement {
    pub fn to_json(&self) -> Result<String> {
        crate::util::stdout::json_string(self)
    }

    /// Parses a provenance file, refusing another statement or predicate type.
    pub fn parse(bytes: &[u8]) -> std::result::Result<Statement, String> {
        let s: Statement = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a provenance statement: {e}"))?;
        if s.type_ != STATEMENT_TYPE {
            return Err(format!(
                "_type is {:?}, expected {STATEMENT_TYPE:?}",
                s.type_
            ));
        }
        if s.predicate_type != PREDICATE_TYPE {
            return Err(format!(
                "predicateType is {:?}, expected {PREDICATE_TYPE:?}",
                s.predicate_type
            ));
        }
        Ok(s)
    }

    /// The first way this statement disagrees with the manifest and the files it names
    /// (`outputs`: name -> sha256 of every file of SHA256SUMS but this one), if any.
    pub fn check(&self, m: &Manifest, outputs: &Sums) -> Option<String> {
        let subjects: BTreeMap<&str, Option<&String>> = self
            .subject
            .iter()
            .map(|d| (d.name.as_str(), d.digest.get("sha256")))
            .collect();
        for (name, hex) in outputs {
            match subjects.get(name.as_str()) {
                None => return Some(format!("subject {name} is missing")),
                Some(Some(h)) if h.as_str() == hex.as_str() => {}
                Some(got) => {
                    return Some(format!(
                        "subject {name} has sha256 {}, the file has {hex}",
                        got.map_or("(none)", |s| s.as_str())
                    ))
                }
            }
        }
        if let Some(extra) = subjects.keys().find(|n| !outputs.contains_key(**n)) {
            return Some(format!("subject {extra} is not an output in SHA256SUMS"));
        }
        let ext = &self.predicate.build_definition.external_parameters;
        if ext.profile.sha256 != m.profile.sha256 || ext.profile.name != m.profile.name {
            return Some(format!(
                "externalParameters.profile is {} {}, the manifest says {} {}",
                ext.profile.name, ext.profile.sha256, m.profile.name, m.profile.sha256
            ));
        }
        if ext.arch != m.arch.as_str() || ext.source_date_epoch != m.source_date_epoch {
            return Some(format!(
                "externalParameters say arch {} epoch {}, the manifest says arch {} epoch {}",
                ext.arch, ext.source_date_epoch, m.arch, m.source_date_epoch
            ));
        }
        let deps = &self.predicate.build_definition.resolved_dependencies;
        if deps.len() != m.artifacts.len() {
            return Some(format!(
                "{} resolvedDependencies, the manifest has {} artifacts",
                deps.len(),
                m.artifacts.len()
            ));
        }
        for (d, a) in deps.iter().zip(&m.artifacts) {
            let digest = d.digest.get("sha256").map(String::as_str);
            if d.uri.as_deref() != Some(a.url.as_str()) || digest != Some(a.sha256.as_str()) {
                return Some(format!(
                    "resolvedDependency {} differs from the manifest's artifact {} {} ({} sha256 {})",
                    d.name, a.name, a.version, a.url, a.sha256
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::manifest::{ArtifactRef, OverlayRef, ProfileRef};
    use crate::util::digest::Sha256;
    use crate::util::model::{Arch, Runtime};

    fn manifest() -> Manifest {
        Manifest {
            builder_version: "9.9.9".into(),
            profile: ProfileRef {
                name: "p".into(),
                sha256: "11".repeat(32).into(),
            },
            kubernetes: "1.31".into(),
            runtime: Runtime::Containerd,
            arch: Arch::Amd64,
            source_date_epoch: 42,
            input_sha256: Recorded::default(),
            artifacts: vec![ArtifactRef {
                name: "runc".into(),
                version: "v1.2.3".into(),
                url: "https://example.invalid/runc.amd64".into(),
                sha256: "22".repeat(32).into(),
            }],
            overlay: OverlayRef {
                file: "overlay.tar.gz".into(),
                sha256: "33".repeat(32).into(),
                size: 1,
                sha256_file: String::new(),
            },
            sysext: None,
            files: vec![],
            documents: vec![],
        }
    }

    fn sha(s: &str) -> Sha256 {
        s.repeat(32).parse().unwrap()
    }

    fn outputs() -> Sums {
        BTreeMap::from([
            ("overlay.tar.gz".to_string(), sha("33")),
            ("manifest.json".to_string(), sha("44")),
        ])
    }

    #[test]
    fn a_statement_checks_against_what_it_was_made_from() {
        let m = manifest();
        let flags = Flags {
            cloud: "aws".into(),
            overlay_url: None,
            join: Some(Join {
                api_server: "10.0.0.1:6443".into(),
                ca_cert_hashes: vec![format!("sha256:{}", "55".repeat(32))],
                discovery_timeout: None,
            }),
        };
        let json = statement(&m, &flags, &outputs()).to_json().unwrap();
        let s = Statement::parse(json.as_bytes()).unwrap();
        assert_eq!(s.check(&m, &outputs()), None);
        assert!(json.contains("\"apiServer\": \"10.0.0.1:6443\""), "{json}");
        assert!(!json.contains("token"), "{json}");

        let mut changed = outputs();
        changed.insert("manifest.json".into(), sha("66"));
        assert!(s
            .check(&m, &changed)
            .unwrap()
            .contains("subject manifest.json"));
        changed.insert("sbom.spdx.json".into(), sha("66"));
        assert!(s.check(&m, &changed).is_some());

        let mut other = manifest();
        other.artifacts[0].sha256 = "77".repeat(32).into();
        assert!(s
            .check(&other, &outputs())
            .unwrap()
            .contains("resolvedDependency runc@v1.2.3"));
        other = manifest();
        other.profile.sha256 = "88".repeat(32).into();
        assert!(s.check(&other, &outputs()).unwrap().contains("profile"));
    }

    #[test]
    fn other_statements_are_refused() {
        let json = statement(&manifest(), &Flags::default(), &outputs())
            .to_json()
            .unwrap();
        let other = json.replace(PREDICATE_TYPE, "https://slsa.dev/provenance/v0.2");
        assert!(Statement::parse(other.as_bytes())
            .unwrap_err()
            .contains("predicateType"));
        assert!(Statement::parse(b"{}").is_err());
    }
}
