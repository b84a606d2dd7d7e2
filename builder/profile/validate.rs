//! Validation: the merged profile checked value by value, each check a small function that
//! returns the typed value or an error at the value's `file:line:column` with the fix.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;

use super::merge::{At, Merged, MergedArtifact};
use super::raw::{RawInstall, RawPins};
use super::source::{valid_name, Loc, Source};
use super::types::{
    Artifact, ArtifactKind, ContainerdSettings, DockerSettings, InstallRule, KubeletSettings,
    OverlayRef, Pins, Profile, SysextSettings,
};
use crate::util::digest::Sha256;
use crate::util::error::Error;
use crate::util::model::{check_target, managed_flag, valid_version, Arch, KubeMinor, Runtime};

/// The merged profile, checked: the first error found, in the order the keys are read.
pub(super) fn validate(mut m: Merged) -> Result<Profile> {
    let top = m
        .top
        .clone()
        .ok_or_else(|| Error::Internal("validate called without a profile".into()))?;
    let name = profile_name(require(m.name.take(), "name", &top)?)?;
    let kubernetes = minor(&require(m.kubernetes.take(), "kubernetes", &top)?)?;
    let runtime_at = require(m.runtime.take(), "runtime", &top)?;
    let runtime = runtime(&runtime_at, kubernetes)?;
    runtime_tables(runtime, &runtime_at, &m.docker_table, &m.containerd_table)?;
    let mut warnings = Vec::new();
    if runtime == Runtime::CriDockerd && kubernetes.0 < 24 {
        warnings.push(format!(
            "profile {name}: on Kubernetes {kubernetes} the kubelet still has dockershim; this node reaches Docker \
             through cri-dockerd instead (--container-runtime=remote), as every Docker node must from 1.24 on, \
             so it keeps working when the cluster moves to 1.24"
        ));
    }
    let arches = arches(require(m.arch.take(), "arch", &top)?, &top)?;
    let overlays = m
        .overlays
        .take()
        .unwrap_or_default()
        .iter()
        .map(|o| overlay(o, &m.overlay_dirs))
        .collect::<Result<_>>()?;
    let (containerd, docker) = runtime_settings(&m, &name, kubernetes, runtime, &mut warnings)?;
    let extra_args = kubelet_args(&m.extra_args)?;
    let sysext = sysext(
        &m.sysext_table,
        &m.sysext_id,
        &m.sysext_level,
        &m.sysext_version_id,
    )?;
    let mut artifacts = m
        .artifacts
        .into_iter()
        .flatten()
        .map(|a| artifact(a, &top))
        .collect::<Result<Vec<_>>>()?;
    // Collected through `Result`, the vector grew by doubling: give the slack back.
    artifacts.shrink_to_fit();
    if artifacts.is_empty() {
        return Err(Error::Profile(format!(
            "{}: the profile installs no artifacts: add [[artifact]] tables (see `builder show --profile containerd`)",
            top.name
        ))
        .into());
    }
    Ok(Profile {
        name,
        description: m.description.unwrap_or_default(),
        kubernetes,
        runtime,
        arches,
        overlays,
        containerd,
        docker,
        kubelet: KubeletSettings { extra_args },
        sysext,
        artifacts,
        overlay_dirs: m.overlay_dirs,
        warnings,
    })
}

/// `[containerd]` and `[docker]`, defaults filled in. The sandbox image follows kubeadm's for
/// the minor unless set; a warning says when builder does not know kubeadm's, or when the
/// runtime's differs from it.
fn runtime_settings(
    m: &Merged,
    name: &str,
    kubernetes: KubeMinor,
    runtime: Runtime,
    warnings: &mut Vec<String>,
) -> Result<(ContainerdSettings, DockerSettings)> {
    // Unless the profile says otherwise, the pause image kubeadm expects for the minor.
    let (kubeadm_pause, known) = kubernetes.kubeadm_pause_image();
    if !known {
        warnings.push(format!(
            "profile {name}: builder does not know kubeadm's pause image for Kubernetes {kubernetes}; \
             it assumes {kubeadm_pause} (the newest it knows): check `kubeadm config images list` and set \
             sandbox_image if it differs"
        ));
    }
    let sandbox_image = match &m.sandbox_image {
        Some(v) => image(v)?,
        None => kubeadm_pause.clone(),
    };
    let config_path = match &m.config_path {
        Some(v) => {
            check_target(v.get()).map_err(|e| v.loc().error(e))?;
            v.get().clone()
        }
        None => "/etc/containerd/certs.d".to_string(),
    };
    let docker_sandbox_image = match &m.docker_sandbox_image {
        Some(v) => image(v)?,
        None => sandbox_image.clone(),
    };
    let chosen = match runtime {
        Runtime::Containerd => &sandbox_image,
        Runtime::CriDockerd => &docker_sandbox_image,
    };
    if known && *chosen != kubeadm_pause {
        warnings.push(format!(
            "profile {name}: the sandbox (pause) image {chosen} is not the one kubeadm uses for Kubernetes \
             {kubernetes} ({kubeadm_pause}): kubeadm's preflight will warn, and it pulls {kubeadm_pause}; \
             leave sandbox_image unset to follow kubeadm, or keep it if it is a mirror of that image"
        ));
    }
    let log_max_size = match &m.log_max_size {
        Some(v) => log_size(v)?,
        None => "100m".to_string(),
    };
    Ok((
        ContainerdSettings {
            sandbox_image,
            systemd_cgroup: m.systemd_cgroup.unwrap_or(true),
            config_path,
        },
        DockerSettings {
            sandbox_image: docker_sandbox_image,
            systemd_cgroup: m.docker_systemd_cgroup.unwrap_or(true),
            log_max_size,
            log_max_file: m.log_max_file.unwrap_or(5),
        },
    ))
}

fn require<T>(v: Option<T>, key: &str, top: &Arc<Source>) -> Result<T> {
    v.ok_or_else(|| {
        Error::Profile(format!(
            "{}: missing required key `{key}` (in this profile or the one it extends)",
            top.name
        ))
        .into()
    })
}

fn profile_name(v: At<String>) -> Result<String> {
    let name = v.get().clone();
    if !valid_name(&name) {
        return Err(v.loc().error(format_args!(
            "bad profile name {name:?}: use lowercase letters, digits, '-' and '_' (it names the output folder)"
        )));
    }
    Ok(name)
}

fn runtime(v: &At<String>, kubernetes: KubeMinor) -> Result<Runtime> {
    match v.get().as_str() {
        "containerd" => Ok(Runtime::Containerd),
        "cri-dockerd" => Ok(Runtime::CriDockerd),
        "docker" | "dockershim" => Err(v.loc().error(dockershim_refusal(kubernetes))),
        other => Err(v.loc().error(format_args!(
            "unknown runtime {other:?}: expected \"containerd\" or \"cri-dockerd\""
        ))),
    }
}

/// The listed arches, in order, without repeats.
fn arches(list: Vec<At<String>>, top: &Arc<Source>) -> Result<Vec<Arch>> {
    let mut arches = Vec::new();
    for a in list {
        let arch = Arch::parse(a.get()).ok_or_else(|| {
            a.loc().error(format_args!(
                "unknown arch {:?}: expected one of {} (Kubernetes' names, e.g. amd64 not x86_64)",
                a.get(),
                Arch::list()
            ))
        })?;
        if !arches.contains(&arch) {
            arches.push(arch);
        }
    }
    if arches.is_empty() {
        return Err(Error::Profile(format!(
            "{}: `arch` is empty: list at least one of {}",
            top.name,
            Arch::list()
        ))
        .into());
    }
    Ok(arches)
}

/// A table that the chosen runtime would not read is an error, not silently dropped.
fn runtime_tables(
    runtime: Runtime,
    chosen: &At<String>,
    docker: &Option<Loc>,
    containerd: &Option<Loc>,
) -> Result<()> {
    match (runtime, docker, containerd) {
        (Runtime::Containerd, Some(table), _) => Err(table.error(format_args!(
            "[docker] configures Docker Engine, which a runtime = \"containerd\" profile ({}) does not install, \
             so nothing would read it: remove the [docker] table, or set runtime = \"cri-dockerd\"",
            chosen.loc()
        ))),
        (Runtime::CriDockerd, _, Some(table)) => Err(table.error(format_args!(
            "[containerd] systemd_cgroup and config_path configure containerd's CRI plugin, which a \
             runtime = \"cri-dockerd\" profile ({}) turns off, so nothing would read them: remove them \
             (Docker's cgroup driver is [docker] systemd_cgroup; [containerd] sandbox_image may stay, \
             it is [docker]'s default), or set runtime = \"containerd\"",
            chosen.loc()
        ))),
        _ => Ok(()),
    }
}

fn overlay(o: &At<String>, dirs: &[std::path::PathBuf]) -> Result<OverlayRef> {
    if !valid_name(o.get()) {
        return Err(o.loc().error(format_args!(
            "bad overlay name {:?}: name a folder under overlays/ (letters, digits, '-', '_')",
            o.get()
        )));
    }
    if super::overlays::find_overlay(dirs, o.get()).is_none() {
        return Err(o.loc().error(super::overlays::missing(o.get())));
    }
    Ok(OverlayRef {
        name: o.get().clone(),
        loc: o.loc(),
    })
}

/// An os-release value as systemd compares it: lowercase letters, digits, '.', '_', '-'.
fn os_release_value(v: &At<String>, key: &str, example: &str) -> Result<String> {
    let s = v.get();
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(s.clone())
    } else {
        Err(v.loc().error(format_args!(
            "bad [sysext] {key} {s:?}: the host's os-release value to match, lowercase letters, digits, '.', '_' and '-' \
             (up to 64), such as {example:?}"
        )))
    }
}

/// `[sysext]`: `id` (default `_any`), and at most one of `sysext_level` and `version_id`;
/// an `id` other than `_any` needs one of them (systemd-sysext refuses the image without).
fn sysext(
    table: &Option<Loc>,
    id: &Option<At<String>>,
    level: &Option<At<String>>,
    version_id: &Option<At<String>>,
) -> Result<Option<SysextSettings>> {
    let Some(table) = table else {
        return Ok(None);
    };
    let id = match id {
        Some(v) if v.get() == "_any" => "_any".to_string(),
        Some(v) => os_release_value(v, "id", "flatcar")?,
        None => "_any".to_string(),
    };
    let sysext_level = match level {
        Some(v) => Some(os_release_value(v, "sysext_level", "1.0")?),
        None => None,
    };
    if let (Some(_), Some(v)) = (level, version_id) {
        return Err(v.loc().error(
            "[sysext] gives both sysext_level and version_id: systemd matches one of them; keep one \
             (sysext_level, such as Flatcar's \"1.0\", survives OS updates; version_id ties the image to one OS release)",
        ));
    }
    let version_id = match version_id {
        Some(v) => Some(os_release_value(v, "version_id", "12")?),
        None => None,
    };
    if id != "_any" && sysext_level.is_none() && version_id.is_none() {
        return Err(table.error(format_args!(
            "[sysext] id = {id:?} without sysext_level or version_id: systemd-sysext refuses such an image on every host; \
             add sysext_level (Flatcar: \"1.0\") or version_id, or set id = \"_any\""
        )));
    }
    Ok(Some(SysextSettings {
        id,
        sysext_level,
        version_id,
    }))
}

fn image(v: &At<String>) -> Result<String> {
    let s = v.get();
    if s.is_empty() || s.contains(char::is_whitespace) || s.contains('"') {
        return Err(v.loc().error(format_args!(
            "bad image reference {s:?}: expected something like \"registry.k8s.io/pause:3.10.2\""
        )));
    }
    Ok(s.clone())
}

fn log_size(v: &At<String>) -> Result<String> {
    let s = v.get();
    let digits = s.trim_end_matches(['k', 'm', 'g']);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(v.loc().error(format_args!(
            "bad log_max_size {s:?}: a number with k, m or g, such as \"100m\""
        )));
    }
    Ok(s.clone())
}

fn kubelet_args(args: &BTreeMap<String, At<String>>) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (k, v) in args {
        let ok_key = !k.is_empty()
            && !k.starts_with('-')
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok_key {
            return Err(v.loc().error(format_args!(
                "bad kubelet flag name {k:?}: write it without the leading \"--\" (for example \"node-labels\")"
            )));
        }
        if v.get().contains(['\n', '"']) {
            return Err(v.loc().error(format_args!(
                "kubelet flag {k}: the value may not contain quotes or newlines"
            )));
        }
        if managed_flag(k).is_some() {
            return Err(v.loc().error(format_args!(
                "kubelet flag {k} is written by builder from the profile's runtime and Kubernetes minor; remove it from extra_args"
            )));
        }
        out.insert(k.clone(), v.get().clone());
    }
    Ok(out)
}

fn minor(v: &At<String>) -> Result<KubeMinor> {
    v.get().parse().map_err(|e: String| v.loc().error(e))
}

fn dockershim_refusal(minor: KubeMinor) -> String {
    let when = if minor.0 >= 24 {
        format!("Kubernetes {minor} has no dockershim: it was removed from the kubelet in 1.24")
    } else {
        format!(
            "builder builds the nodes that replace dockershim ones; Kubernetes {minor} still has dockershim, \
             but it is gone from 1.24, so a new node should not depend on it"
        )
    };
    format!(
        "{when}. There are two ways off it: `runtime = \"containerd\"` (the shipped `containerd` profile; \
         pods never talk to Docker), or `runtime = \"cri-dockerd\"` (the shipped `cri-dockerd` profile; Docker Engine \
         stays, behind the cri-dockerd shim, for workloads that use /var/run/docker.sock)"
    )
}

fn mode(rule: &At<RawInstall>) -> Result<u32> {
    let Some(mode) = &rule.get().mode else {
        return Ok(0o644);
    };
    let digits = mode.strip_prefix("0o").unwrap_or(mode);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 && !digits.is_empty() && digits.len() <= 5 => Ok(m),
        _ => Err(rule.loc().error(format_args!(
            "bad mode {mode:?}: write it as an octal string such as \"0755\" or \"0644\""
        ))),
    }
}

fn install_rule(rule: &At<RawInstall>, kind: ArtifactKind) -> Result<InstallRule> {
    let raw = rule.get();
    check_target(&raw.to).map_err(|e| rule.loc().error(e))?;
    let (from, matcher) = match (&raw.from, kind) {
        (Some(_), ArtifactKind::File) => {
            return Err(rule.loc().error(
                "`from` selects members of an archive, but this artifact's URL names a plain file \
                 (not .tar, .tar.gz or .tgz); drop `from` and set `to` to the file's path",
            ))
        }
        (None, ArtifactKind::TarGz | ArtifactKind::Tar) => {
            return Err(rule.loc().error(
                "this artifact is an archive: say which members to install with `from = \"<glob>\"` (for example \"bin/*\")",
            ))
        }
        (None, ArtifactKind::File) => (None, None),
        (Some(pattern), _) => {
            let glob = globset::GlobBuilder::new(pattern.trim_start_matches("./"))
                .literal_separator(true)
                .build()
                .map_err(|e| rule.loc().error(format_args!("bad glob {pattern:?} in `from`: {e}")))?;
            (Some(pattern.clone()), Some(Box::new(glob.compile_matcher())))
        }
    };
    Ok(InstallRule {
        from,
        matcher,
        to: raw.to.clone(),
        mode: mode(rule)?,
        loc: rule.loc(),
    })
}

fn pins((pins, loc): &(RawPins, Loc)) -> Result<Pins> {
    let bad_hex = |s: &str| {
        loc.error(format_args!(
            "sha256 {s:?} is not 64 lowercase hex digits; copy the digest from the release's checksum file"
        ))
    };
    match pins {
        RawPins::One(s) => {
            let sha256 = Sha256::parse(s).ok_or_else(|| bad_hex(s))?;
            Ok(Pins {
                any: Some(sha256),
                per_arch: BTreeMap::new(),
            })
        }
        RawPins::PerArch(t) => {
            let mut per_arch = BTreeMap::new();
            for (k, s) in t {
                let arch = Arch::parse(k).ok_or_else(|| {
                    loc.error(format_args!(
                        "unknown arch {k:?} in sha256 pins: expected one of {}",
                        Arch::list()
                    ))
                })?;
                let sha256 = Sha256::parse(s).ok_or_else(|| bad_hex(s))?;
                per_arch.insert(arch, sha256);
            }
            Ok(Pins {
                any: None,
                per_arch,
            })
        }
    }
}

fn url(u: &At<String>) -> Result<()> {
    let s = u.get();
    let scheme_ok =
        s.starts_with("https://") || s.starts_with("http://") || s.starts_with("file://");
    if !scheme_ok {
        return Err(u.loc().error(format_args!(
            "URL {s:?} must start with https://, http:// or file://"
        )));
    }
    // Only the known placeholders may appear.
    let mut rest = s.as_str();
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or_else(|| {
            u.loc()
                .error("unclosed '{' in URL; placeholders are {version}, {arch}, {uname_arch}")
        })?;
        let key = &after[..close];
        if !matches!(key, "version" | "arch" | "uname_arch") {
            return Err(u.loc().error(format_args!(
                "unknown placeholder {{{key}}} in URL; placeholders are {{version}}, {{arch}}, {{uname_arch}}"
            )));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

fn artifact(a: MergedArtifact, top: &Arc<Source>) -> Result<Artifact> {
    let name = a.name.get().clone();
    if !valid_name(&name) {
        return Err(a.name.loc().error(format_args!(
            "bad artifact name {name:?}: use lowercase letters, digits, '-' and '_'"
        )));
    }
    let missing = |key: &str| {
        a.name.loc().error(format_args!(
            "artifact {name:?} has no `{key}` (in {} or the profile it extends)",
            top.name
        ))
    };
    let version = a.version.as_ref().ok_or_else(|| missing("version"))?;
    if !valid_version(version.get()) {
        return Err(version.loc().error(format_args!(
            "bad version {:?} for artifact {name}: write it as MAJOR.MINOR.PATCH without a leading 'v' (for example \"2.3.4\")",
            version.get()
        )));
    }
    let url = a.url.as_ref().ok_or_else(|| missing("url"))?;
    self::url(url)?;
    let pins = match &a.sha256 {
        Some(p) => pins(p)?,
        None => Pins::default(),
    };
    let rules = a.install.as_ref().ok_or_else(|| missing("install"))?;
    if rules.is_empty() {
        return Err(a.name.loc().error(format_args!(
            "artifact {name:?} installs nothing: give at least one `install` rule"
        )));
    }
    let loc = a.name.loc();
    let mut artifact = Artifact {
        name,
        version: version.get().clone(),
        url: url.get().clone(),
        pins,
        install: Vec::new(),
        loc,
    };
    let kind = artifact.kind();
    // Exactly as many as there are (collecting through `Result` would reserve four): a
    // profile of 100,000 artifacts keeps every rule.
    let mut install = Vec::with_capacity(rules.len());
    for r in rules {
        install.push(install_rule(r, kind)?);
    }
    artifact.install = install;
    // A plain file installed into a folder takes its name from the URL: check that name now,
    // not after the download.
    let into_folder = artifact.install.iter().any(|r| r.to.ends_with('/'));
    let file_name = artifact.url_file_name();
    if kind == ArtifactKind::File && into_folder && matches!(file_name, "" | "." | "..") {
        return Err(url.loc().error(format_args!(
            "URL {:?} ends in {file_name:?}, which cannot name the installed file; an install rule's `to` ends with '/', \
             so the file is named after the URL: give `to` a file name (for example \"/usr/local/sbin/runc\") or fix the URL",
            crate::util::error::redact_urls(url.get())
        )));
    }
    Ok(artifact)
}
