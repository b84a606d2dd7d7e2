//! Which pool a node belongs to (from its node-group labels), which Kubernetes minor it runs
//! (from its kubelet version) and which minor a recommended profile renders, so that `--plan`
//! replaces a pool at a time, at the node's own minor. The labels are read in `kubectl`; the
//! plan's commands are spelled in `plan`.

use std::collections::HashMap;

use anyhow::Result;

use crate::profile::Lookup;
use crate::util::model::{Arch, KubeMinor};

/// The node-group labels, in the order they are tried, with the platform that sets each.
pub const POOL_LABELS: [(&str, &str); 6] = [
    ("eks.amazonaws.com/nodegroup", "EKS managed node group"),
    ("cloud.google.com/gke-nodepool", "GKE node pool"),
    ("kubernetes.azure.com/agentpool", "AKS agent pool"),
    ("agentpool", "AKS agent pool (older clusters)"),
    ("kops.k8s.io/instancegroup", "kops instance group"),
    (
        "cluster.x-k8s.io/deployment-name",
        "Cluster API MachineDeployment",
    ),
];

/// Without a node-group label, nodes are grouped by instance type (well-known label, then the
/// legacy beta one).
pub const INSTANCE_TYPE_LABELS: [&str; 2] = [
    "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/instance-type",
];

/// The pool name of nodes without any of the labels above.
pub const NO_POOL: &str = "(no pool label)";

/// The pool a node is replaced with: its name as shown, and the label it came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pool {
    /// The label's value; "instance type X" for an instance-type group; [`NO_POOL`].
    pub name: String,
    /// The label key it came from (None for [`NO_POOL`]).
    pub label: Option<&'static str>,
}

impl Default for Pool {
    /// [`NO_POOL`].
    fn default() -> Self {
        Pool {
            name: NO_POOL.into(),
            label: None,
        }
    }
}

/// Every label key [`pool_of`] reads, for the parser to keep.
pub fn pool_label_keys() -> impl Iterator<Item = &'static str> {
    POOL_LABELS
        .iter()
        .map(|(k, _)| *k)
        .chain(INSTANCE_TYPE_LABELS)
}

/// The node's pool: the first node-group label present (not blank), else its instance type,
/// else [`NO_POOL`]. `get` looks a label up by key.
pub fn pool_of<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Pool {
    let present = |key: &'static str| get(key).filter(|v| !v.trim().is_empty()).map(|v| (key, v));
    if let Some((key, v)) = POOL_LABELS.iter().find_map(|(k, _)| present(k)) {
        return Pool {
            name: v.to_string(),
            label: Some(key),
        };
    }
    if let Some((key, v)) = INSTANCE_TYPE_LABELS.iter().find_map(|k| present(k)) {
        return Pool {
            name: format!("instance type {v}"),
            label: Some(key),
        };
    }
    Pool::default()
}

/// (major, minor) of a kubelet version such as `v1.23.17`, `v1.27.4-gke.900` or `v1.25.3+k3s1`.
pub fn kubelet_minor(version: &str) -> Option<(u64, u64)> {
    let v = version.trim();
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let mut parts = v.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Some((major, minor.parse().ok()?))
}

/// The Kubernetes minor of a kubelet version (`v1.23.17` -> 1.23); None when missing or
/// unreadable, or not 1.x.
pub fn node_minor(kubelet_version: Option<&str>) -> Option<KubeMinor> {
    match kubelet_minor(kubelet_version?)? {
        (1, minor) => u32::try_from(minor).ok().map(KubeMinor),
        _ => None,
    }
}

/// The `--kubernetes` value the plan's render line needs: the node's minor where it is known
/// and differs from the profile's (or the profile's is unknown).
pub fn kubernetes_flag(node: Option<KubeMinor>, profile: Option<KubeMinor>) -> Option<KubeMinor> {
    node.filter(|n| Some(*n) != profile)
}

/// Reads a profile's Kubernetes minor by name.
type LoadMinor = Box<dyn Fn(&str) -> Result<KubeMinor>>;
/// Is there a site profile of this name in `./profiles`?
type HasLocal = Box<dyn Fn(&str) -> bool>;

/// The Kubernetes minor of each recommended profile, loaded once per profile, found the way
/// `builder render --profile NAME` finds it (`./profiles/NAME.toml`, else built in); and the
/// site profiles `builder init --from-detect` wrote, which the plan renders instead.
pub struct ProfileMinors {
    load: LoadMinor,
    has_local: HasLocal,
    known: HashMap<String, Option<KubeMinor>>,
    /// What `has_local` said, by name.
    local: HashMap<String, bool>,
}

impl ProfileMinors {
    /// Through [`Lookup::default`], as `builder render` and `builder show` load profiles.
    pub fn from_lookup() -> Self {
        let mut minors = Self::new(|name| Ok(Lookup::default().load(name)?.kubernetes));
        minors.has_local = Box::new(|name| {
            Lookup::default()
                .local_dir
                .join(format!("{name}.toml"))
                .is_file()
        });
        minors
    }

    /// Minors from `load`; no site profiles.
    pub fn new(load: impl Fn(&str) -> Result<KubeMinor> + 'static) -> Self {
        ProfileMinors {
            load: Box::new(load),
            has_local: Box::new(|_| false),
            known: HashMap::new(),
            local: HashMap::new(),
        }
    }

    /// The same, with the site profiles `has_local` says exist.
    #[cfg(test)]
    pub fn with_local(mut self, has_local: impl Fn(&str) -> bool + 'static) -> Self {
        self.has_local = Box::new(has_local);
        self
    }

    /// The site profile for `profile`'s nodes at `minor` on `arch`: `PROFILE-1.N-ARCH`, the name
    /// `builder init --from-detect` gives it, when `./profiles` holds it. A site that wrote one
    /// (and pointed its artifacts at a mirror, say) renders that, not the shipped profile.
    pub fn site(
        &mut self,
        profile: &str,
        minor: Option<KubeMinor>,
        arch: Option<Arch>,
    ) -> Option<String> {
        let name = crate::profile::init::group_profile_name(profile, minor?, arch?);
        // Once per name: a plan asks for every affected node.
        let has_local = &self.has_local;
        let found = *self
            .local
            .entry(name.clone())
            .or_insert_with(|| has_local(&name));
        found.then_some(name)
    }

    /// The profile's minor; None (and a warning, once) when it cannot be loaded, so that the
    /// plan passes `--kubernetes` for every node whose minor is known.
    pub fn get(&mut self, profile: &str) -> Option<KubeMinor> {
        if let Some(m) = self.known.get(profile) {
            return *m;
        }
        let m = (self.load)(profile)
            .map_err(|e| {
                eprintln!(
                    "warning: cannot load profile {profile} to read its Kubernetes minor ({e:#}); \
                     the plan passes --kubernetes for every node whose minor is known"
                )
            })
            .ok();
        self.known.insert(profile.to_string(), m);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(labels: &[(&str, &str)]) -> Pool {
        pool_of(|k| labels.iter().find(|(key, _)| *key == k).map(|(_, v)| *v))
    }

    #[test]
    fn pool_labels_resolve_in_order() {
        let all = [
            ("node.kubernetes.io/instance-type", "m5.large"),
            ("cluster.x-k8s.io/deployment-name", "md-0"),
            ("kops.k8s.io/instancegroup", "nodes-a"),
            ("agentpool", "legacy"),
            ("kubernetes.azure.com/agentpool", "np1"),
            ("cloud.google.com/gke-nodepool", "default-pool"),
            ("eks.amazonaws.com/nodegroup", "ng-1"),
        ];
        // Dropping the winner each time walks the order down.
        let want = [
            ("ng-1", "eks.amazonaws.com/nodegroup"),
            ("default-pool", "cloud.google.com/gke-nodepool"),
            ("np1", "kubernetes.azure.com/agentpool"),
            ("legacy", "agentpool"),
            ("nodes-a", "kops.k8s.io/instancegroup"),
            ("md-0", "cluster.x-k8s.io/deployment-name"),
            ("instance type m5.large", "node.kubernetes.io/instance-type"),
        ];
        for (n, (name, label)) in want.iter().enumerate() {
            let p = pool(&all[..all.len() - n]);
            assert_eq!((p.name.as_str(), p.label), (*name, Some(*label)));
        }
        let beta = pool(&[("beta.kubernetes.io/instance-type", "n1")]);
        assert_eq!(beta.name, "instance type n1");
        let both = pool(&[
            ("beta.kubernetes.io/instance-type", "old"),
            ("node.kubernetes.io/instance-type", "new"),
        ]);
        assert_eq!(both.name, "instance type new");
        let blank = pool(&[("eks.amazonaws.com/nodegroup", " "), ("agentpool", "p")]);
        assert_eq!(blank.name, "p", "a blank label is skipped");
        let none = pool(&[("app", "x")]);
        assert_eq!((none.name.as_str(), none.label), (NO_POOL, None));
        assert_eq!(pool_label_keys().count(), 8);
    }

    #[test]
    fn minors_parse_and_the_flag_appears_only_when_they_differ() {
        let m = |s| node_minor(Some(s));
        assert_eq!(m("v1.23.17"), Some(KubeMinor(23)));
        assert_eq!(m("v1.27.4-eks-1a2b3c"), Some(KubeMinor(27)));
        assert_eq!(m("v1.22.17-gke.900"), Some(KubeMinor(22)));
        assert_eq!(m("1.25+k3s1"), Some(KubeMinor(25)));
        for bad in ["", "garbage", "v2.1.0", "v1", "v1.x"] {
            assert_eq!(m(bad), None, "{bad}");
        }
        assert_eq!(node_minor(None), None);
        let (k23, k36) = (Some(KubeMinor(23)), Some(KubeMinor(36)));
        assert_eq!(kubernetes_flag(k23, k36), k23);
        assert_eq!(kubernetes_flag(k36, k36), None);
        assert_eq!(kubernetes_flag(None, k36), None);
        assert_eq!(kubernetes_flag(k23, None), k23, "unknown profile minor");
    }

    #[test]
    fn the_shipped_profiles_minor_is_read_once() {
        let mut shipped = ProfileMinors::from_lookup();
        assert_eq!(shipped.get("containerd"), Some(KubeMinor(36)));
        assert_eq!(shipped.get("cri-dockerd"), Some(KubeMinor(36)));
        let calls = std::rc::Rc::new(std::cell::Cell::new(0));
        let seen = calls.clone();
        let mut broken = ProfileMinors::new(move |_| {
            seen.set(seen.get() + 1);
            anyhow::bail!("no such profile")
        });
        assert_eq!((broken.get("x"), broken.get("x")), (None, None));
        assert_eq!(calls.get(), 1);
    }
}
