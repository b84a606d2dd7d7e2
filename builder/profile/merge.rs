//! `extends`: laying a profile file over the one it extends. Values keep the file and span
//! they came from, so validation errors point at the right file.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use toml::Spanned;

use super::raw::{
    RawArtifact, RawContainerd, RawDocker, RawInstall, RawPins, RawProfile, RawSysext,
};
use super::source::{Loc, Source};

/// A raw value together with the source it was read from.
#[derive(Debug)]
pub(super) struct At<T> {
    pub(super) src: Arc<Source>,
    pub(super) v: Spanned<T>,
}

impl<T> At<T> {
    pub(super) fn loc(&self) -> Loc {
        Loc::new(&self.src, &self.v)
    }
    pub(super) fn get(&self) -> &T {
        self.v.get_ref()
    }
}

fn at<T>(src: &Arc<Source>, v: Spanned<T>) -> At<T> {
    At {
        src: src.clone(),
        v,
    }
}

/// The merge of a profile and everything it extends, before validation.
#[derive(Debug, Default)]
pub(super) struct Merged {
    pub(super) name: Option<At<String>>,
    pub(super) description: Option<String>,
    pub(super) kubernetes: Option<At<String>>,
    pub(super) runtime: Option<At<String>>,
    pub(super) arch: Option<Vec<At<String>>>,
    pub(super) overlays: Option<Vec<At<String>>>,
    pub(super) sandbox_image: Option<At<String>>,
    pub(super) systemd_cgroup: Option<bool>,
    pub(super) config_path: Option<At<String>>,
    pub(super) docker_sandbox_image: Option<At<String>>,
    pub(super) docker_systemd_cgroup: Option<bool>,
    pub(super) log_max_size: Option<At<String>>,
    pub(super) log_max_file: Option<u32>,
    pub(super) extra_args: BTreeMap<String, At<String>>,
    pub(super) sysext_id: Option<At<String>>,
    pub(super) sysext_level: Option<At<String>>,
    pub(super) sysext_version_id: Option<At<String>>,
    /// Where the last `[sysext]` table was written (`None`: no file gave one).
    pub(super) sysext_table: Option<Loc>,
    /// In order of first appearance; `None` where `remove = true` dropped one.
    pub(super) artifacts: Vec<Option<MergedArtifact>>,
    /// Name -> index in `artifacts` of the live artifact of that name (merging is linear in
    /// the number of artifacts, not quadratic).
    pub(super) by_name: HashMap<String, usize>,
    pub(super) overlay_dirs: Vec<PathBuf>,
    /// Where a `[docker]` table was written after the runtime was last chosen (in the file
    /// that chose it or one laid over it): refused unless the runtime is cri-dockerd.
    pub(super) docker_table: Option<Loc>,
    /// The same for a `[containerd]` table with keys only the containerd runtime reads
    /// (`systemd_cgroup`, `config_path`); its `sandbox_image` is also [docker]'s default.
    pub(super) containerd_table: Option<Loc>,
    /// The file that named the profile (the last in the chain), for errors about the whole.
    pub(super) top: Option<Arc<Source>>,
}

#[derive(Debug)]
pub(super) struct MergedArtifact {
    pub(super) name: At<String>,
    pub(super) version: Option<At<String>>,
    pub(super) url: Option<At<String>>,
    pub(super) sha256: Option<(RawPins, Loc)>,
    pub(super) install: Option<Vec<At<RawInstall>>>,
}

/// Lays one file over what the files it extends gave (later files win, artifacts merge by name).
pub(super) fn merge(m: &mut Merged, raw: RawProfile, src: &Arc<Source>) {
    m.top = Some(src.clone());
    if let Some(v) = raw.name {
        m.name = Some(at(src, v));
    }
    if raw.description.is_some() {
        m.description = raw.description;
    }
    if let Some(v) = raw.kubernetes {
        m.kubernetes = Some(at(src, v));
    }
    if let Some(v) = raw.runtime {
        m.runtime = Some(at(src, v));
        // Tables for the other runtime inherited from the profile this one changes are left
        // behind with it; only those written from here on must fit the runtime.
        m.docker_table = None;
        m.containerd_table = None;
    }
    if let Some(v) = raw.arch {
        m.arch = Some(v.into_inner().into_iter().map(|a| at(src, a)).collect());
    }
    if let Some(v) = raw.overlays {
        m.overlays = Some(v.into_iter().map(|o| at(src, o)).collect());
    }
    if let Some(c) = raw.containerd {
        merge_containerd(m, c, src);
    }
    if let Some(d) = raw.docker {
        merge_docker(m, d, src);
    }
    if let Some(k) = raw.kubelet {
        for (key, v) in k.extra_args {
            m.extra_args.insert(key, at(src, v));
        }
    }
    if let Some(t) = raw.sysext {
        merge_sysext(m, t, src);
    }
    for a in raw.artifacts {
        merge_artifact(m, a, src);
    }
}

/// `[containerd]`: each key given replaces the one before.
fn merge_containerd(m: &mut Merged, c: Spanned<RawContainerd>, src: &Arc<Source>) {
    let table = Loc::new(src, &c);
    let c = c.into_inner();
    if c.systemd_cgroup.is_some() || c.config_path.is_some() {
        m.containerd_table = Some(table);
    }
    if let Some(v) = c.sandbox_image {
        m.sandbox_image = Some(at(src, v));
    }
    if c.systemd_cgroup.is_some() {
        m.systemd_cgroup = c.systemd_cgroup;
    }
    if let Some(v) = c.config_path {
        m.config_path = Some(at(src, v));
    }
}

/// `[docker]`: each key given replaces the one before.
fn merge_docker(m: &mut Merged, d: Spanned<RawDocker>, src: &Arc<Source>) {
    m.docker_table = Some(Loc::new(src, &d));
    let d = d.into_inner();
    if let Some(v) = d.sandbox_image {
        m.docker_sandbox_image = Some(at(src, v));
    }
    if d.systemd_cgroup.is_some() {
        m.docker_systemd_cgroup = d.systemd_cgroup;
    }
    if let Some(v) = d.log_max_size {
        m.log_max_size = Some(at(src, v));
    }
    if d.log_max_file.is_some() {
        m.log_max_file = d.log_max_file;
    }
}

/// `[sysext]`: each key given replaces the one before.
fn merge_sysext(m: &mut Merged, t: Spanned<RawSysext>, src: &Arc<Source>) {
    m.sysext_table = Some(Loc::new(src, &t));
    let t = t.into_inner();
    if let Some(v) = t.id {
        m.sysext_id = Some(at(src, v));
    }
    if let Some(v) = t.sysext_level {
        m.sysext_level = Some(at(src, v));
    }
    if let Some(v) = t.version_id {
        m.sysext_version_id = Some(at(src, v));
    }
}

/// One `[[artifact]]`: removes the live artifact of its name, is laid over it, or is added.
fn merge_artifact(m: &mut Merged, a: RawArtifact, src: &Arc<Source>) {
    if a.remove {
        if let Some(pos) = m.by_name.remove(a.name.get_ref()) {
            m.artifacts[pos] = None;
        }
        return;
    }
    let pos = m.by_name.get(a.name.get_ref()).copied();
    let name_loc = Loc::new(src, &a.name);
    let incoming = MergedArtifact {
        sha256: a.sha256.map(|v| (v, name_loc)),
        name: at(src, a.name),
        version: a.version.map(|v| at(src, v)),
        url: a.url.map(|v| at(src, v)),
        install: a
            .install
            .map(|rules| rules.into_iter().map(|r| at(src, r)).collect()),
    };
    match pos.and_then(|pos| m.artifacts[pos].as_mut()) {
        None => {
            m.by_name
                .insert(incoming.name.get().clone(), m.artifacts.len());
            m.artifacts.push(Some(incoming));
        }
        Some(base) => base.lay_over(incoming),
    }
}

impl MergedArtifact {
    /// `incoming`, from a later file, over `self`: the keys it gives win.
    fn lay_over(&mut self, incoming: MergedArtifact) {
        // A pin belongs to one version and URL: a child that changes either without a
        // new pin falls back to the catalog rather than keeping a now-wrong digest.
        let changes_bytes = incoming.version.is_some() || incoming.url.is_some();
        if incoming.sha256.is_some() || changes_bytes {
            self.sha256 = incoming.sha256;
        }
        if incoming.version.is_some() {
            self.version = incoming.version;
        }
        if incoming.url.is_some() {
            self.url = incoming.url;
        }
        if incoming.install.is_some() {
            self.install = incoming.install;
        }
        self.name = incoming.name;
    }
}
