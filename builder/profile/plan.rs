//! The resolved plan: a validated profile turned, once, into everything a render reads: per
//! arch, each artifact's upstream URL and sha256 pin (the profile's, else the built-in
//! catalog's); the kubelet flags for the Kubernetes minor; the runtime's CRI socket, sandbox
//! image and units; and the resolved profile as `builder show` prints it (a header comment,
//! then TOML), whose sha256 is the profile digest in every manifest: one text, so
//! `builder show --profile P | sha256sum` is that digest.
//!
//! Fetch, install, manifest, `show` and cloud-init all read this; none resolves a pin or a
//! flag again.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::profile::catalog::Catalog;
use crate::profile::{
    Artifact, ContainerdSettings, DockerSettings, KubeletSettings, Profile, SCHEMA,
};
use crate::util::digest::Sha256;
use crate::util::error::Error;
use crate::util::model::{Arch, DerivedFrom, KubeMinor, Runtime, Unit, MANAGED_FLAGS};

/// Where a pin came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinOrigin {
    Profile,
    Catalog,
}

/// One artifact for one arch: what to fetch and the bytes it must have; how to install it is
/// the profile's artifact at `index` ([`Plan::artifact`]).
#[derive(Debug, Clone)]
pub struct PlannedArtifact {
    /// Index into the profile's artifacts.
    pub index: usize,
    /// The upstream URL for this arch (mirrors are applied when fetching, never recorded).
    pub url: String,
    pub sha256: Sha256,
    pub origin: PinOrigin,
}

/// Everything fetched and installed for one arch, in the profile's artifact order.
#[derive(Debug, Clone)]
pub struct ArchPlan {
    pub arch: Arch,
    pub artifacts: Vec<PlannedArtifact>,
}

/// A profile, resolved.
#[derive(Debug, Clone)]
pub struct Plan {
    pub profile: Profile,
    /// Every arch the profile lists, in its order.
    pub arches: Vec<ArchPlan>,
    /// The CRI socket the kubelet, crictl and kubeadm use.
    pub cri_socket: &'static str,
    /// The runtime's units, enabled and started in this order.
    pub units: &'static [Unit],
    /// The pause image the runtime pins.
    pub sandbox_image: String,
    /// The kubelet's flags (name without `--` -> value): kubeadm-flags.env and the
    /// JoinConfiguration's kubeletExtraArgs both carry them.
    pub kubelet_flags: BTreeMap<String, String>,
    /// sha256 of `show_text()`, byte for byte: the profile digest in manifests.
    pub profile_sha256: Sha256,
    /// `builder show`'s output: the header comment (which pins came from the catalog; no
    /// builder version, so the digest follows the profile, not the tool), then the resolved
    /// TOML from byte `toml_at` on (one string: a profile can be 100,000 artifacts long).
    shown: String,
    toml_at: usize,
}

impl Plan {
    /// Resolves every pin for every arch the profile lists, artifact by artifact: a missing
    /// pin fails here, before anything is fetched.
    pub fn resolve(profile: Profile, catalog: &Catalog) -> Result<Plan> {
        let mut arches: Vec<ArchPlan> = profile
            .arches
            .iter()
            .map(|&arch| ArchPlan {
                arch,
                artifacts: Vec::with_capacity(profile.artifacts.len()),
            })
            .collect();
        let mut from_catalog = Vec::new();
        for (index, a) in profile.artifacts.iter().enumerate() {
            for ap in &mut arches {
                let planned = resolve_pin(index, a, ap.arch, catalog)?;
                if planned.origin == PinOrigin::Catalog {
                    from_catalog.push(format!("{} {}", a.name, ap.arch));
                }
                ap.artifacts.push(planned);
            }
        }
        let runtime = profile.runtime;
        let sandbox_image = profile.sandbox_image().to_string();
        let kubelet_flags = kubelet_flags(
            profile.kubernetes,
            runtime.cri_socket(),
            &sandbox_image,
            &profile.kubelet.extra_args,
        );
        let pin_note = if from_catalog.is_empty() {
            "every pin comes from the profile".to_string()
        } else {
            format!(
                "pins from the built-in catalog: {}",
                from_catalog.join(", ")
            )
        };
        let mut shown = format!(
            "# Resolved by builder from profile {}; {pin_note}.\n",
            profile.name
        );
        let toml_at = shown.len();
        show_toml(&mut shown, &profile, &arches)?;
        shown.shrink_to_fit();
        Ok(Plan {
            profile_sha256: Sha256::of(shown.as_bytes()),
            cri_socket: runtime.cri_socket(),
            units: runtime.units(),
            sandbox_image,
            kubelet_flags,
            shown,
            toml_at,
            arches,
            profile,
        })
    }

    /// The plan of one arch the profile lists.
    pub fn arch(&self, arch: Arch) -> Result<&ArchPlan> {
        self.arches.iter().find(|a| a.arch == arch).ok_or_else(|| {
            Error::Internal(format!(
                "arch {arch} is not in the plan of {}",
                self.profile.name
            ))
            .into()
        })
    }

    /// The profile's artifact a planned one installs.
    pub fn artifact(&self, planned: &PlannedArtifact) -> &Artifact {
        &self.profile.artifacts[planned.index]
    }

    /// `builder show`'s output, whose sha256 is `profile_sha256`: a header comment, then the
    /// resolved TOML.
    pub fn show_text(&self) -> &str {
        &self.shown
    }

    /// The resolved profile as TOML (`show_text()` without its header comment): itself a
    /// loadable profile with every pin spelled out.
    pub fn resolved_toml(&self) -> &str {
        &self.shown[self.toml_at..]
    }
}

/// The pinned sha256 of an artifact for one arch and where it comes from: the profile's pin,
/// else the catalog's (by name, version and arch, then by exact URL for unit files); `None`
/// when neither pins it (`builder pin` fills those in).
pub fn pin_of(a: &Artifact, arch: Arch, catalog: &Catalog) -> Option<(Sha256, PinOrigin)> {
    if let Some(sha256) = a.pins.per_arch.get(&arch).or(a.pins.any.as_ref()) {
        return Some((*sha256, PinOrigin::Profile));
    }
    catalog
        .lookup(&a.name, &a.version, arch.as_str())
        .or_else(|| catalog.lookup_url(&a.url_for(arch)))
        .map(|sha256| (sha256, PinOrigin::Catalog))
}

/// [`pin_of`], or the error that says how to pin it.
fn resolve_pin(
    index: usize,
    a: &Artifact,
    arch: Arch,
    catalog: &Catalog,
) -> Result<PlannedArtifact> {
    let url = a.url_for(arch);
    let Some((sha256, origin)) = pin_of(a, arch, catalog) else {
        return Err(a.loc.error(format_args!(
            "artifact {} {} has no sha256 pin for {arch}, and the built-in catalog does not know it; \
             every fetched byte must be verified, so pin it: add `sha256.{arch} = \"<hex>\"` (or `sha256 = \"<hex>\"` \
             for every arch) to this [[artifact]], with the digest from the upstream release's checksum file for {url} \
             (`builder pin --profile P` fetches it and writes the line)",
            a.name, a.version
        )));
    };
    Ok(PlannedArtifact {
        index,
        url,
        sha256,
        origin,
    })
}

/// The kubelet flags for a node of `minor` talking to `endpoint`: the profile's extra flags
/// plus the managed ones the minor still takes. `--container-runtime=remote` only up to 1.25
/// (kubeadm stopped writing it in 1.26, the kubelet removed it in 1.27);
/// `--pod-infra-container-image` up to 1.34 (removed in 1.35).
pub fn kubelet_flags(
    minor: KubeMinor,
    endpoint: &str,
    sandbox_image: &str,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut args = extra.clone();
    for (name, from) in MANAGED_FLAGS {
        let value = match (*name, from) {
            ("container-runtime", _) if minor.0 <= 25 => "remote",
            (_, DerivedFrom::CriSocket) if *name == "container-runtime-endpoint" => endpoint,
            (_, DerivedFrom::SandboxImage) if minor.0 < 35 => sandbox_image,
            // image-service-endpoint: the kubelet defaults it to the runtime endpoint.
            _ => continue,
        };
        args.insert(name.to_string(), value.to_string());
    }
    args
}

#[derive(Serialize)]
struct ShowDoc<'a> {
    schema: i64,
    name: &'a str,
    description: &'a str,
    kubernetes: String,
    runtime: &'a str,
    arch: Vec<&'static str>,
    overlays: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    containerd: Option<&'a ContainerdSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    docker: Option<&'a DockerSettings>,
    kubelet: &'a KubeletSettings,
    #[serde(skip_serializing_if = "Option::is_none")]
    sysext: Option<&'a crate::profile::SysextSettings>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    artifact: Vec<ShowArtifact<'a>>,
}

/// One `[[artifact]]` table alone, as the whole document would show it.
#[derive(Serialize)]
struct ShowOne<'a> {
    artifact: [ShowArtifact<'a>; 1],
}

#[derive(Serialize)]
struct ShowArtifact<'a> {
    name: &'a str,
    version: &'a str,
    /// Credentials hidden: the TOML is printed and its digest recorded.
    url: String,
    /// Per arch, every digest spelled out (so the output is itself a loadable profile).
    sha256: BTreeMap<&'static str, &'a str>,
    install: Vec<ShowInstall<'a>>,
}

#[derive(Serialize)]
struct ShowInstall<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a str>,
    to: &'a str,
    mode: String,
}

/// Appends the resolved profile as TOML, every pin spelled out per arch. The head and each artifact
/// are serialised on their own and joined as one document would be (a blank line before each
/// table), so no TOML document of every artifact is ever held: 100,000 artifacts cost their
/// text, not a document tree each (ci/bench/profile.sh).
fn show_toml(text: &mut String, p: &Profile, arches: &[ArchPlan]) -> Result<()> {
    let to_text = |r: std::result::Result<String, toml::ser::Error>| {
        r.map_err(|e| -> anyhow::Error {
            Error::Internal(format!("cannot serialise the resolved profile: {e}")).into()
        })
    };
    text.push_str(&to_text(toml::to_string(&show_head(p, Vec::new())))?);
    for (i, a) in p.artifacts.iter().enumerate() {
        let one = to_text(toml::to_string(&ShowOne {
            artifact: [show_artifact(a, i, arches)],
        }))?;
        text.push('\n');
        text.push_str(&one);
    }
    Ok(())
}

fn show_artifact<'a>(
    a: &'a crate::profile::Artifact,
    i: usize,
    arches: &'a [ArchPlan],
) -> ShowArtifact<'a> {
    ShowArtifact {
        name: &a.name,
        version: &a.version,
        url: crate::util::error::redact_urls(&a.url),
        sha256: arches
            .iter()
            .map(|ap| (ap.arch.as_str(), ap.artifacts[i].sha256.as_str()))
            .collect(),
        install: a
            .install
            .iter()
            .map(|r| ShowInstall {
                from: r.from.as_deref(),
                to: &r.to,
                mode: format!("{:04o}", r.mode),
            })
            .collect(),
    }
}

fn show_head<'a>(p: &'a Profile, artifact: Vec<ShowArtifact<'a>>) -> ShowDoc<'a> {
    ShowDoc {
        schema: SCHEMA,
        name: &p.name,
        description: &p.description,
        kubernetes: p.kubernetes.to_string(),
        runtime: p.runtime.as_str(),
        arch: p.arches.iter().map(|a| a.as_str()).collect(),
        overlays: p.overlays.iter().map(|o| o.name.as_str()).collect(),
        containerd: (p.runtime == Runtime::Containerd).then_some(&p.containerd),
        docker: (p.runtime == Runtime::CriDockerd).then_some(&p.docker),
        kubelet: &p.kubelet,
        sysext: p.sysext.as_ref(),
        artifact,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::profile::tests::{err_of, load_text, MINIMAL};
    use crate::profile::{list, Lookup};

    fn plan_of(text: &str) -> Result<Plan> {
        Plan::resolve(load_text(text)?, &Catalog::builtin()?)
    }

    /// The text as one TOML document of the whole profile gives it: what `show_toml` joins
    /// piece by piece must be the same, byte for byte (it is the profile digest).
    fn show_as_one_document(plan: &Plan) -> String {
        let p = &plan.profile;
        let all = p
            .artifacts
            .iter()
            .enumerate()
            .map(|(i, a)| show_artifact(a, i, &plan.arches))
            .collect();
        toml::to_string(&show_head(p, all)).unwrap()
    }

    #[test]
    fn shown_piece_by_piece_is_the_whole_document() {
        let mut texts: Vec<String> = list(&Lookup::default())
            .unwrap()
            .iter()
            .map(|l| Lookup::default().find(&l.name, None).unwrap().text.clone())
            .collect();
        // Every kind of table and value: per-arch pins, several rules, a glob, sysext,
        // extra kubelet flags, quotes and backslashes.
        texts.push(MINIMAL.replace("[\"amd64\"]", "[\"amd64\", \"arm64\"]").replace(
            "install =",
            "sha256.arm64 = \"0000000000000000000000000000000000000000000000000000000000000000\"\ninstall =",
        ));
        texts.push(
            MINIMAL.replace("name = \"t\"", "name = \"t\"\ndescription = \"say \\\"hi\\\" \\\\ 'there'\"")
                + "\n[sysext]\nid = \"flatcar\"\nsysext_level = \"1.0\"\n[kubelet]\nextra_args = { \"node-labels\" = \"a=b\\\\c\", v = \"2\" }\n",
        );
        texts.push(MINIMAL.replace("runc.{arch}", "runc-{arch}.tar.gz").replace(
            "install = [{ ",
            "install = [{ from = \"bin/*\", to = \"/usr/local/bin/\", mode = \"0755\" }, { from = \"x\", ",
        ));
        let mut compared = 0;
        for text in &texts {
            let Ok(plan) = plan_of(text) else { continue };
            compared += 1;
            assert_eq!(plan.resolved_toml(), show_as_one_document(&plan), "{text}");
            assert!(plan.show_text().ends_with(plan.resolved_toml()));
        }
        assert!(
            compared >= 5,
            "only {compared} of {} profiles compared",
            texts.len()
        );
    }

    #[test]
    fn pins_come_from_the_profile_then_the_catalog() {
        let text = MINIMAL.replace(
            "install =",
            "sha256.arm64 = \"0000000000000000000000000000000000000000000000000000000000000000\"\ninstall =",
        );
        let plan = plan_of(&text.replace("[\"amd64\"]", "[\"amd64\", \"arm64\"]")).unwrap();
        let arm = &plan.arch(Arch::Arm64).unwrap().artifacts[0];
        assert_eq!(arm.origin, PinOrigin::Profile);
        assert_eq!(arm.url, "https://example.invalid/runc.arm64");
        // runc 1.4.3 amd64 is in the shipped catalog.
        let amd = &plan.arch(Arch::Amd64).unwrap().artifacts[0];
        assert_eq!(amd.origin, PinOrigin::Catalog);
        assert_eq!(
            amd.sha256,
            "f6ae8efc0fa40079e1475e97cbe9d1bd3f106a28d6af78a11d9f1bd565515e60"
        );
        assert!(plan
            .show_text()
            .contains("pins from the built-in catalog: runc amd64"));
        let e = err_of(&text.replace("0000000000", "zz00000000"));
        assert!(e.contains("64 lowercase hex"), "{e}");
    }

    #[test]
    fn missing_pin_says_how_to_pin() {
        let e = format!(
            "{:#}",
            plan_of(&MINIMAL.replace("1.4.3", "9.9.9")).unwrap_err()
        );
        assert!(
            e.contains("sha256.amd64 = ") && e.contains("p.toml:8:8"),
            "{e}"
        );
    }

    #[test]
    fn the_digest_is_the_shown_text_and_the_text_loads_again() {
        let plan = plan_of(MINIMAL).unwrap();
        assert_eq!(plan.profile_sha256, Sha256::of(plan.show_text().as_bytes()));
        assert_ne!(
            plan.profile_sha256,
            Sha256::of(plan.resolved_toml().as_bytes()),
            "the header is part of the digest"
        );
        let again = plan_of(plan.show_text()).unwrap();
        assert_eq!(again.resolved_toml(), plan.resolved_toml());
        assert_eq!(
            again.show_text().lines().next().unwrap(),
            "# Resolved by builder from profile t; every pin comes from the profile."
        );
    }

    #[test]
    fn kubelet_flags_follow_the_minor() {
        let extra = BTreeMap::from([("node-labels".to_string(), "a=b".to_string())]);
        let flags = |m| kubelet_flags(KubeMinor(m), "unix:///s.sock", "pause:1", &extra);
        assert_eq!(flags(25)["container-runtime"], "remote");
        assert!(!flags(26).contains_key("container-runtime"));
        assert_eq!(flags(34)["pod-infra-container-image"], "pause:1");
        assert!(!flags(35).contains_key("pod-infra-container-image"));
        for m in 20..40 {
            assert_eq!(flags(m)["container-runtime-endpoint"], "unix:///s.sock");
            assert_eq!(flags(m)["node-labels"], "a=b");
            assert!(!flags(m).contains_key("image-service-endpoint"));
        }
    }

    #[test]
    fn an_error_in_a_built_in_profile_says_to_extend_it_not_edit_it() {
        let e = format!(
            "{:#}",
            plan_of("schema = 1\nextends = \"cri-dockerd\"\nname = \"t\"\narch = [\"amd64\", \"arm64\"]\n")
                .unwrap_err()
        );
        assert!(e.starts_with("<built-in>/cri-dockerd.toml:"), "{e}");
        assert!(
            e.contains("is built into builder, so do not edit it")
                && e.contains("`extends = \"cri-dockerd\"` plus only what differs"),
            "{e}"
        );
        // Control: the same error in the user's own file says to fix it there.
        let e = err_of_plan(&MINIMAL.replace("[\"amd64\"]", "[\"amd64\", \"s390x\"]"));
        assert!(e.contains("has no sha256 pin for s390x"), "{e}");
        assert!(!e.contains("do not edit"), "{e}");
    }

    fn err_of_plan(text: &str) -> String {
        format!("{:#}", plan_of(text).unwrap_err())
    }

    #[test]
    fn shipped_profiles_load_and_resolve_every_pin() {
        let lookup = Lookup {
            local_dir: PathBuf::from("/nonexistent"),
        };
        let cat = Catalog::builtin().unwrap();
        let listed = list(&lookup).unwrap();
        assert!(listed.iter().any(|l| l.name == "containerd"));
        for l in listed {
            let p = lookup.load(&l.name).unwrap();
            Plan::resolve(p, &cat).unwrap();
        }
    }
}
