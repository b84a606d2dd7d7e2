//! `builder init`: a new profile of the user's own that `extends` the shipped profile of a
//! runtime and sets the Kubernetes minor (and the arches), with comments saying what each key
//! does and what to run next. The text is plain Rust ([`profile_text`], golden-tested); the
//! file is written through a temporary file beside it and a rename, and never over an
//! existing one unless asked.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::source::valid_name;
use crate::util::error::Error;
use crate::util::model::{Arch, KubeMinor, Runtime};

/// What `builder init` writes.
#[derive(Debug, Clone)]
pub struct Options {
    /// The new profile's name: the file's stem and the output folder's name.
    pub name: String,
    pub runtime: Runtime,
    pub kubernetes: KubeMinor,
    /// Empty: the shipped profile's arches.
    pub arch: Vec<Arch>,
    /// The folder the profile goes into (created if missing).
    pub dir: PathBuf,
    /// Replace an existing file.
    pub force: bool,
}

/// What was written.
#[derive(Debug)]
pub struct Written {
    pub profile: PathBuf,
    /// `DIR/schema.json`, when it was missing and so written for the `#:schema` directive.
    pub schema: Option<PathBuf>,
}

/// Writes `DIR/NAME.toml` (and `DIR/schema.json` when missing).
pub fn run(opts: &Options) -> Result<Written> {
    check_name(&opts.name)?;
    let profile = opts.dir.join(format!("{}.toml", opts.name));
    if !opts.force && std::fs::symlink_metadata(&profile).is_ok() {
        return Err(Error::Profile(format!(
            "{} already exists; pick another NAME, or pass --force to replace it",
            profile.display()
        ))
        .into());
    }
    std::fs::create_dir_all(&opts.dir).map_err(|e| {
        Error::Profile(format!(
            "cannot create the folder {}: {e}; pass --dir with a folder you can write",
            opts.dir.display()
        ))
    })?;
    let text = profile_text(
        &opts.name,
        &profile.display().to_string(),
        opts.runtime,
        opts.kubernetes,
        &opts.arch,
    );
    write_new(&profile, &text)?;
    let schema_path = opts.dir.join("schema.json");
    let schema = if std::fs::symlink_metadata(&schema_path).is_err() {
        write_new(&schema_path, &super::json_schema())?;
        Some(schema_path)
    } else {
        None
    };
    Ok(Written { profile, schema })
}

/// A name the profile lookup finds and that does not hide a built-in profile (which it
/// extends: a file of the same name would extend itself).
fn check_name(name: &str) -> Result<()> {
    if !valid_name(name) {
        return Err(Error::Profile(format!(
            "bad profile name {name:?}: use lowercase letters, digits, '-', '_' and '.' (not first), at most 64 \
             characters (it names the file and the output folder), for example \"site-nodes\""
        ))
        .into());
    }
    if name == Runtime::Containerd.as_str() || name == Runtime::CriDockerd.as_str() {
        return Err(Error::Profile(format!(
            "profile name {name:?} is a built-in profile's, which the new profile extends; pick another, \
             for example \"site-{name}\""
        ))
        .into());
    }
    Ok(())
}

/// The nodes of one runtime, Kubernetes minor and arch in a `builder detect --output json`
/// report: one profile of `builder init --from-detect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub runtime: Runtime,
    pub minor: KubeMinor,
    pub arch: Arch,
    /// The affected nodes it replaces, by name.
    pub nodes: Vec<String>,
}

impl Group {
    /// The profile's name: `RUNTIME-1.N-ARCH`.
    pub fn name(&self) -> String {
        group_profile_name(self.runtime.as_str(), self.minor, self.arch)
    }
}

/// The name `--from-detect` gives the profile of a group of nodes (`containerd-1.23-amd64`);
/// `builder detect --plan` looks for it in ./profiles.
pub fn group_profile_name(base: &str, minor: KubeMinor, arch: Arch) -> String {
    format!("{base}-{minor}-{arch}")
}

/// The groups of affected nodes with a replacement profile in a `builder detect --output json`
/// report (`what` names it in errors), sorted by name, and one line per affected node left out
/// (no profile for it, or no kubelet version or arch builder can use).
pub fn groups_from_detect(json: &str, what: &str) -> Result<(Vec<Group>, Vec<String>)> {
    let bad = |why: &str| {
        Error::Input(format!(
            "{what}: {why}; give the output of `builder detect --output json`"
        ))
    };
    let report: serde_json::Value =
        serde_json::from_str(json).map_err(|e| bad(&format!("not JSON ({e})")))?;
    let nodes = report["nodes"]
        .as_array()
        .ok_or_else(|| bad("no \"nodes\" list"))?;
    let mut groups: Vec<Group> = Vec::new();
    let mut skipped = Vec::new();
    for node in nodes.iter().filter(|n| n["affected"] == true) {
        let name = node["name"].as_str().unwrap_or("?").to_string();
        match group_key(node) {
            Ok((runtime, minor, arch)) => {
                let same = |g: &&mut Group| (g.runtime, g.minor, g.arch) == (runtime, minor, arch);
                match groups.iter_mut().find(same) {
                    Some(g) => g.nodes.push(name),
                    None => groups.push(Group {
                        runtime,
                        minor,
                        arch,
                        nodes: vec![name],
                    }),
                }
            }
            Err(why) => skipped.push(format!("node {name}: {why}")),
        }
    }
    groups.sort_by_key(Group::name);
    Ok((groups, skipped))
}

/// A node's replacement runtime, its kubelet's minor and its arch, or why there is none.
fn group_key(node: &serde_json::Value) -> std::result::Result<(Runtime, KubeMinor, Arch), String> {
    let runtime = match node["profile"].as_str() {
        Some("containerd") => Runtime::Containerd,
        Some("cri-dockerd") => Runtime::CriDockerd,
        _ => {
            return Err(format!(
                "no replacement profile ({})",
                node["reason"].as_str().unwrap_or("?")
            ))
        }
    };
    let version = node["kubelet_version"].as_str().unwrap_or("");
    let minor: String = version
        .trim_start_matches('v')
        .splitn(3, '.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".");
    let minor = minor
        .parse::<KubeMinor>()
        .map_err(|e| format!("kubelet version {version:?}: {e}"))?;
    let arch = node["arch"].as_str().unwrap_or("");
    let arch =
        Arch::parse(arch).ok_or_else(|| format!("arch {arch:?} is not one builder renders"))?;
    Ok((runtime, minor, arch))
}

/// [`run`] for each of `all`, after checking that none would replace a file without `force`
/// (then nothing is written).
pub fn run_all(all: &[Options]) -> Result<Vec<Written>> {
    let taken: Vec<String> = all
        .iter()
        .filter(|o| !o.force)
        .map(|o| o.dir.join(format!("{}.toml", o.name)))
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .map(|p| p.display().to_string())
        .collect();
    if !taken.is_empty() {
        return Err(Error::Profile(format!(
            "{} already exist{}; nothing was written: remove {}, or pass --force to replace {}",
            taken.join(", "),
            if taken.len() == 1 { "s" } else { "" },
            if taken.len() == 1 { "it" } else { "them" },
            if taken.len() == 1 { "it" } else { "them" },
        ))
        .into());
    }
    all.iter().map(run).collect()
}

/// `text` into `path` through a temporary file in the same folder and a rename.
fn write_new(path: &Path, text: &str) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let fail = |e: &dyn std::fmt::Display| {
        Error::Profile(format!(
            "cannot write {}: {e}; pass --dir with a folder you can write",
            path.display()
        ))
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| fail(&e))?;
    tmp.write_all(text.as_bytes()).map_err(|e| fail(&e))?;
    tmp.as_file().sync_all().map_err(|e| fail(&e))?;
    tmp.persist(path).map_err(|e| fail(&e.error))?;
    Ok(())
}

/// The profile's text. `path` is where it is written, for the commands in its comments.
pub fn profile_text(
    name: &str,
    path: &str,
    runtime: Runtime,
    minor: KubeMinor,
    arch: &[Arch],
) -> String {
    let base = runtime.as_str();
    let arch_line = if arch.is_empty() {
        format!(
            "# The architectures to render: as in {base} unless listed here, for example\n\
             # arch = [\"amd64\", \"arm64\"]\n"
        )
    } else {
        let list: Vec<String> = arch.iter().map(|a| format!("\"{a}\"")).collect();
        format!(
            "# The architectures to render; each needs every artifact pinned for it.\narch = [{}]\n",
            list.join(", ")
        )
    };
    let settings = match runtime {
        Runtime::Containerd => CONTAINERD_SETTINGS,
        Runtime::CriDockerd => DOCKER_SETTINGS,
    };
    format!(
        "#:schema ./schema.json
# {name}: {base} nodes for Kubernetes {minor}, written by `builder init` (builder {version}).
# It extends the {base} profile that ships with builder and sets only what differs; the rest
# (artifacts, versions, pins, runtime settings) comes from there: builder show --profile {base}
#
# Next:
#   builder show --profile {path}            # resolved, every pin spelled out
#   builder render --profile {path}          # dist/{name}/<arch>/overlay.tar.gz, user-data, ...
#   builder pin --profile {path} --write    # after changing an artifact: pins it here

# The version of this file's format.
schema = 1
# The profile this one starts from (found in ./profiles, else built into builder).
extends = \"{base}\"
# Names the output folder (dist/{name}/) and the generated files on the node.
name = \"{name}\"
# What `builder profiles` lists beside the name.
description = \"{base} nodes for Kubernetes {minor}\"
# The Kubernetes minor the nodes' kubelet runs: the kubelet flags and the sandbox (pause)
# image follow it.
kubernetes = \"{minor}\"
{arch_line}{settings}
# Flags for the kubelet, merged key by key with the ones {base} sets (builder refuses the
# flags it writes itself: the CRI socket, the pause image). For example:
# [kubelet]
# extra_args = {{ \"node-labels\" = \"node.kubernetes.io/runtime={base},site=eu-1\", \"max-pods\" = \"50\" }}

# To change an artifact, name it and give only the keys that change, then run `builder pin`
# (above) for the digests the built-in catalog does not know:
# [[artifact]]
# name = \"crictl\"
# version = \"1.36.1\"
",
        version = crate::VERSION,
    )
}

/// `[containerd]`, commented out: the keys a site most often changes.
const CONTAINERD_SETTINGS: &str = "
# containerd's settings: uncomment the keys that differ from the shipped profile's.
# [containerd]
# sandbox_image = \"registry.example/pause:3.10\"   # default: kubeadm's for the minor
# systemd_cgroup = true                            # the kubelet's cgroup driver is systemd
# config_path = \"/etc/containerd/certs.d\"          # registry mirrors and credentials, per host
";

/// `[docker]`, commented out, and the one pin the shipped profile cannot give.
const DOCKER_SETTINGS: &str = "
# Docker Engine's settings: uncomment the keys that differ from the shipped profile's.
# [docker]
# sandbox_image = \"registry.example/pause:3.10\"   # default: kubeadm's for the minor
# systemd_cgroup = true                            # the kubelet's cgroup driver is systemd
# log_max_size = \"100m\"                            # per container log file
# log_max_file = 5
#
# Docker's static bundle is pinned by the built-in catalog for amd64 only; for arm64, run
# `builder pin --profile ... --write --trust-download` (Docker publishes no checksum file).
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_containerd_with_arches() {
        let text = profile_text(
            "site-nodes",
            "profiles/site-nodes.toml",
            Runtime::Containerd,
            KubeMinor(35),
            &[Arch::Amd64, Arch::Arm64],
        );
        crate::node::assert_golden("init-containerd.toml", &text);
    }

    #[test]
    fn golden_cri_dockerd_default_arches() {
        let text = profile_text(
            "ci",
            "site/ci.toml",
            Runtime::CriDockerd,
            KubeMinor(34),
            &[],
        );
        crate::node::assert_golden("init-cri-dockerd.toml", &text);
    }

    #[test]
    fn the_text_loads_with_its_minor_and_arches() {
        for runtime in [Runtime::Containerd, Runtime::CriDockerd] {
            let text = profile_text("t", "t.toml", runtime, KubeMinor(33), &[Arch::Amd64]);
            let p = crate::profile::Lookup::default()
                .load_text("t.toml", &text)
                .unwrap();
            assert_eq!((p.name.as_str(), p.kubernetes), ("t", KubeMinor(33)));
            assert_eq!(
                (p.runtime, p.arches.as_slice()),
                (runtime, &[Arch::Amd64][..])
            );
        }
    }

    #[test]
    fn detect_reports_group_by_runtime_minor_and_arch() {
        let node = |name: &str, version: &str, arch: &str, profile: &str| {
            format!(
                r#"{{"name":"{name}","kubelet_version":"{version}","arch":"{arch}","affected":true,"profile":{profile},"reason":"r"}}"#
            )
        };
        let json = format!(
            r#"{{"nodes":[{},{},{},{},{},{{"name":"ok","affected":false,"profile":null}}]}}"#,
            node("a", "v1.30.4", "amd64", "\"containerd\""),
            node("b", "v1.30.9", "amd64", "\"containerd\""),
            node("c", "v1.30.4", "arm64", "\"containerd\""),
            node("d", "v1.23.1", "amd64", "\"cri-dockerd\""),
            node("win", "v1.23.1", "amd64", "null"),
        );
        let (groups, skipped) = groups_from_detect(&json, "d.json").unwrap();
        let names: Vec<(String, usize)> =
            groups.iter().map(|g| (g.name(), g.nodes.len())).collect();
        let want = [
            ("containerd-1.30-amd64", 2),
            ("containerd-1.30-arm64", 1),
            ("cri-dockerd-1.23-amd64", 1),
        ];
        assert_eq!(names, want.map(|(n, c)| (n.to_string(), c)));
        assert_eq!(skipped, ["node win: no replacement profile (r)"]);
        assert!(groups_from_detect("[]", "d.json").is_err());
    }

    #[test]
    fn names_are_checked() {
        for bad in ["", "Site", "a/b", ".x", "containerd", "cri-dockerd"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("site-nodes").is_ok());
    }
}
