//! The `--plan` runbook of `builder detect`: the steps that replace a batch of nodes (one node,
//! for the JSON's per-node plan, or a whole pool), the affected nodes grouped by pool with one
//! render command per (verdict, profile, minor, arch), and the plan's table form. What a node's
//! pool and minor are is decided in `pools`; the rest of the report lives in `report`.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use serde::{Serialize, Serializer};

use super::pools::Pool;
use super::rules::Verdict;
use crate::util::model::KubeMinor;

/// Placeholder for the replacement node's name in the runbook.
const NEW_NODE: &str = "NEW_NODE";

/// How many node names a note lists before "and N more".
const NAMES_SHOWN: usize = 10;

/// One step of the runbook; `command` is what to run, `note` what it does.
#[derive(Serialize)]
pub struct PlanStep {
    pub step: &'static str,
    pub command: String,
    pub note: String,
}

/// Replaces control characters so that input cannot garble the terminal.
pub(super) fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Quotes a word for a POSIX shell when it needs it.
pub(super) fn sh(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "._-:/=@+".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Serializes a minor as `"1.23"` (None as null).
pub(super) fn minor_text<S: Serializer>(m: &Option<KubeMinor>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(m) => s.collect_str(m),
        None => s.serialize_none(),
    }
}

/// One kind of replacement in a batch: what to render (no profile: a Windows node) and for
/// how many of the batch's nodes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Target {
    pub profile: Option<&'static str>,
    pub arch: Option<String>,
    /// The node's minor, where known.
    pub minor: Option<KubeMinor>,
    /// `--kubernetes` for the render line: the minor where it differs from the profile's.
    pub kubernetes: Option<KubeMinor>,
    /// The site profile to render instead of `profile` (`ProfileMinors::site`).
    pub site: Option<String>,
}

impl Target {
    /// `builder render ...` and the folder it writes (None for a Windows node).
    pub fn render(&self) -> Option<(String, String)> {
        let p = self.site.as_deref().or(self.profile)?;
        let (arch_flag, dir) = match self.arch.as_deref() {
            Some(a) => (format!(" --arch {}", sh(a)), format!("dist/{p}/{a}")),
            None => (String::new(), format!("dist/{p}/<arch>")),
        };
        let kube = self
            .kubernetes
            .map(|m| format!(" --kubernetes {m}"))
            .unwrap_or_default();
        Some((
            format!("builder render --profile {p}{arch_flag}{kube}"),
            dir,
        ))
    }
}

/// What one runbook replaces.
pub struct Batch<'a> {
    /// The old nodes' names.
    pub nodes: &'a [String],
    /// How the notes name a pool ("pool ng-1 (eks.amazonaws.com/nodegroup)"); None for one node.
    pub pool: Option<String>,
    /// Each kind of replacement, with the nodes that get it.
    pub targets: Vec<(Target, Vec<String>)>,
    /// The Docker-socket workloads on those nodes.
    pub workloads: &'a [String],
}

/// `a, b, c`, or the first [`NAMES_SHOWN`] and "and N more".
pub fn some_names(names: &[String]) -> String {
    let shown = names.iter().take(NAMES_SHOWN).cloned().collect::<Vec<_>>();
    match names.len().saturating_sub(NAMES_SHOWN) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// The render step of one target (None for Windows).
fn render_step(t: &Target, nodes: &[String], of: usize) -> Option<PlanStep> {
    let (command, dir) = t.render()?;
    let mut note = format!("build the replacement's overlay into {dir}/");
    if of > nodes.len() {
        note.push_str(&format!(
            " (for {} of the {of} nodes: {})",
            nodes.len(),
            some_names(nodes)
        ));
    }
    if t.minor.is_none() {
        note.push_str(
            "; the kubelet version is missing or unreadable, so the node's Kubernetes minor is unknown: \
             check it and add --kubernetes MINOR, or the profile's own minor is rendered",
        );
    }
    if let (Some(p), Some(m), None) = (t.profile, t.kubernetes, &t.site) {
        if !pinned_release_fits(p, m, t.arch.as_deref()) {
            note.push_str(&format!(
                "; builder's catalog pins no {p} release that Kubernetes {m} supports, so this render stops \
                 naming the supported ones: run `builder init {p}-{m} --runtime {p} --kubernetes {m}`, set the \
                 runtime's version in profiles/{p}-{m}.toml to a supported one, `builder pin --profile \
                 profiles/{p}-{m}.toml --write`, and render that profile (docs/src/compatibility.md)",
                m = m
            ));
        }
    }
    Some(PlanStep {
        step: "render",
        command,
        note,
    })
}

/// Does the built-in catalog pin a release of `profile`'s runtime that fits minor `m` on `arch`
/// (so that `render --profile P --arch A --kubernetes M` works as printed)? Answered once per
/// (profile, minor, arch): a plan has a render step per node, and loading a profile takes
/// milliseconds.
fn pinned_release_fits(profile: &str, m: KubeMinor, arch: Option<&str>) -> bool {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Key = (String, KubeMinor, Option<String>);
    static KNOWN: OnceLock<Mutex<HashMap<Key, bool>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    let key = (profile.to_string(), m, arch.map(str::to_string));
    if let Some(fits) = known.lock().ok().and_then(|k| k.get(&key).copied()) {
        return fits;
    }
    let fits = crate::profile::catalog::Catalog::builtin()
        .and_then(|c| {
            let arches: Vec<_> = arch
                .and_then(crate::util::model::Arch::parse)
                .into_iter()
                .collect();
            crate::profile::compat::load_fitted(profile, Some(m), false, &arches, &c)
        })
        .is_ok();
    if let Ok(mut k) = known.lock() {
        k.insert(key, fits);
    }
    fits
}

/// The bring-up note: how many replacements, from where, for which pool and nodes.
fn bring_up_note(b: &Batch) -> String {
    let n = b.nodes.len();
    let dirs: Vec<String> = b
        .targets
        .iter()
        .filter_map(|(t, _)| t.render())
        .map(|(_, dir)| format!("{dir}/overlay.tar.gz"))
        .collect();
    let windows: usize = b
        .targets
        .iter()
        .filter(|(t, _)| t.profile.is_none())
        .map(|(_, nodes)| nodes.len())
        .sum();
    let pinned = b.workloads.join(", ");
    let mut note = match &b.pool {
        Some(pool) => format!(
            "bring up {n} replacement node(s) for {pool} (replacing {}) under new names",
            some_names(b.nodes)
        ),
        None => "bring up a replacement node under a new name".into(),
    };
    if !dirs.is_empty() {
        note.push_str(&format!(" from {}", dirs.join(", ")));
    }
    if windows > 0 {
        note.push_str(&format!(
            "{}Windows on containerd for {windows} Windows node(s) (out of scope for builder's Linux profiles)",
            if dirs.is_empty() { " " } else { ", and " }
        ));
    }
    note.push_str(match b.pool {
        Some(_) => ", join them, wait until each is Ready",
        None => ", join it, wait until it is Ready",
    });
    if !b.workloads.is_empty() {
        let keep = if windows == n {
            "these workloads use Docker's pipe and need changing first"
        } else {
            "these workloads mount the Docker socket, so keep them on cri-dockerd nodes (nodeSelector)"
        };
        note.push_str(&format!("; {keep}: {pinned}"));
    }
    note
}

/// The runbook that replaces a batch: render (per target), bring up, cordon, drain, delete.
pub fn plan_steps(b: &Batch) -> Vec<PlanStep> {
    let of = b.nodes.len();
    let mut steps: Vec<PlanStep> = b
        .targets
        .iter()
        .filter_map(|(t, nodes)| render_step(t, nodes, of))
        .collect();
    let names = b.nodes.iter().map(|n| sh(n)).collect::<Vec<_>>().join(" ");
    steps.push(PlanStep {
        step: "bring-up",
        command: format!("kubectl wait --for=condition=Ready node/{NEW_NODE} --timeout=15m"),
        note: bring_up_note(b),
    });
    steps.push(PlanStep {
        step: "cordon",
        command: format!("kubectl cordon {names}"),
        note: "stop new pods from landing on the old node(s)".into(),
    });
    steps.push(PlanStep {
        step: "drain",
        command: format!("kubectl drain {names} --ignore-daemonsets --delete-emptydir-data"),
        note: "evict their pods (DaemonSet pods stay; emptyDir data is lost)".into(),
    });
    steps.push(PlanStep {
        step: "delete",
        command: format!("kubectl delete node {names}"),
        note: "once the replacements are Ready and the drain has finished: remove the old node(s), then retire their machines".into(),
    });
    steps
}

/// Affected nodes of one pool that get the same replacement.
#[derive(Serialize)]
pub(super) struct GroupReport {
    verdict: Verdict,
    profile: Option<&'static str>,
    #[serde(serialize_with = "minor_text")]
    minor: Option<KubeMinor>,
    arch: Option<String>,
    node_count: usize,
    nodes: Vec<String>,
    /// The `builder render` line (null for Windows nodes).
    pub(super) render: Option<String>,
}

/// The affected nodes of one pool.
#[derive(Serialize)]
pub(super) struct PoolReport {
    pub(super) name: String,
    label: Option<&'static str>,
    pub(super) node_count: usize,
    pub(super) nodes: Vec<String>,
    pub(super) groups: Vec<GroupReport>,
    #[serde(skip)]
    workloads: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) plan: Option<Vec<PlanStep>>,
}

/// An affected node, as the grouping sees it.
pub(super) struct Member<'a> {
    pub(super) name: &'a str,
    pub(super) pool: &'a Pool,
    pub(super) verdict: Verdict,
    pub(super) target: Target,
    pub(super) workloads: &'a [String],
}

/// The affected nodes grouped by pool (pools in the order their first node comes), each pool's
/// nodes by (verdict, target); with `plan`, each pool's runbook.
pub(super) fn pool_reports(affected: Vec<Member>, plan: bool) -> Vec<PoolReport> {
    let mut index: HashMap<&Pool, usize> = HashMap::new();
    let mut members: Vec<(&Pool, Vec<Member>)> = Vec::new();
    for n in affected {
        let i = *index.entry(n.pool).or_insert_with(|| {
            members.push((n.pool, Vec::new()));
            members.len() - 1
        });
        members[i].1.push(n);
    }
    members
        .into_iter()
        .map(|(pool, ns)| pool_report(pool, &ns, plan))
        .collect()
}

fn pool_report(pool: &Pool, ns: &[Member], plan: bool) -> PoolReport {
    let mut groups: BTreeMap<(&str, Target), (Verdict, Vec<String>)> = BTreeMap::new();
    for n in ns {
        let key = (n.verdict.as_str(), n.target.clone());
        let g = groups.entry(key).or_insert((n.verdict, Vec::new()));
        g.1.push(n.name.to_string());
    }
    let names: Vec<String> = ns.iter().map(|n| n.name.to_string()).collect();
    let mut workloads: Vec<String> = ns
        .iter()
        .flat_map(|n| n.workloads.iter().cloned())
        .collect();
    workloads.sort();
    workloads.dedup();
    // One render per target, whatever the verdicts (Windows nodes render nothing).
    let mut targets: Vec<(Target, Vec<String>)> = Vec::new();
    let mut reports = Vec::with_capacity(groups.len());
    for ((_, t), (verdict, nodes)) in groups {
        match targets.iter_mut().find(|(x, _)| *x == t) {
            Some((_, of_t)) => of_t.extend(nodes.iter().cloned()),
            None => targets.push((t.clone(), nodes.clone())),
        }
        reports.push(GroupReport {
            verdict,
            render: t.render().map(|(cmd, _)| cmd),
            profile: t.profile,
            minor: t.minor,
            arch: t.arch,
            node_count: nodes.len(),
            nodes,
        });
    }
    let steps = plan.then(|| {
        plan_steps(&Batch {
            nodes: &names,
            pool: Some(pool_label(pool)),
            targets,
            workloads: &workloads,
        })
    });
    PoolReport {
        name: pool.name.clone(),
        label: pool.label,
        node_count: names.len(),
        nodes: names,
        groups: reports,
        workloads,
        plan: steps,
    }
}

/// "pool NAME (LABEL)", "instance type X (LABEL)", or the no-pool name, for notes.
fn pool_label(pool: &Pool) -> String {
    match pool.label {
        Some(l) if pool.name.starts_with("instance type ") => {
            format!("the nodes of {} ({l})", pool.name)
        }
        Some(l) => format!("pool {} ({l})", pool.name),
        None => "the nodes without a pool label".into(),
    }
}

/// One line per group: "3 dockershim -> containerd, 1.23, amd64".
fn group_line(g: &GroupReport) -> String {
    let profile = g.profile.unwrap_or("no builder profile (Windows)");
    let minor = g
        .minor
        .map_or_else(|| "minor unknown".into(), |m| m.to_string());
    let arch = g.arch.as_deref().unwrap_or("arch unknown");
    format!(
        "{} {} -> {profile}, {minor}, {arch}",
        g.node_count,
        g.verdict.as_str()
    )
}

/// The pool's heading: its name and the label it came from.
fn heading(p: &PoolReport) -> String {
    match p.label {
        Some(l) => format!("{} ({l})", clean(&p.name)),
        None => clean(&p.name),
    }
}

/// The summary's "by pool" lines.
pub(super) fn write_pool_summary(
    out: &mut impl Write,
    pools: &[PoolReport],
) -> std::io::Result<()> {
    if pools.is_empty() {
        return Ok(());
    }
    writeln!(out, "Affected nodes by pool:")?;
    for p in pools {
        let groups: Vec<String> = p.groups.iter().map(group_line).collect();
        writeln!(
            out,
            "  {}: {} node(s): {}",
            heading(p),
            p.node_count,
            clean(&groups.join("; "))
        )?;
    }
    Ok(())
}

/// The runbook of one pool.
pub(super) fn write_pool_plan(out: &mut impl Write, p: &PoolReport) -> std::io::Result<()> {
    writeln!(
        out,
        "\nPlan for pool {}: {} node(s): {}",
        heading(p),
        p.node_count,
        clean(&some_names(&p.nodes))
    )?;
    if !p.workloads.is_empty() {
        writeln!(
            out,
            "  pinned to Docker by: {}",
            clean(&p.workloads.join(", "))
        )?;
    }
    for (i, step) in p.plan.iter().flatten().enumerate() {
        writeln!(
            out,
            "  {}. {}\n       # {}",
            i + 1,
            clean(&step.command),
            clean(&step.note)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(profile: &'static str, arch: &str, kube: Option<u32>) -> Target {
        Target {
            profile: Some(profile),
            arch: Some(arch.into()),
            minor: kube.map(KubeMinor),
            kubernetes: kube.map(KubeMinor),
            site: None,
        }
    }

    #[test]
    fn plan_has_the_runbook_commands_with_quoted_names() {
        let nodes = ["worker-1".to_string()];
        let pinned = ["ci/Deployment/b".to_string()];
        let steps = plan_steps(&Batch {
            nodes: &nodes,
            pool: None,
            targets: vec![(target("cri-dockerd", "arm64", None), nodes.to_vec())],
            workloads: &pinned,
        });
        let cmds: Vec<&str> = steps.iter().map(|s| s.command.as_str()).collect();
        assert_eq!(
            cmds,
            [
                "builder render --profile cri-dockerd --arch arm64",
                "kubectl wait --for=condition=Ready node/NEW_NODE --timeout=15m",
                "kubectl cordon worker-1",
                "kubectl drain worker-1 --ignore-daemonsets --delete-emptydir-data",
                "kubectl delete node worker-1",
            ]
        );
        assert!(steps[0].note.contains("minor is unknown"));
        assert!(steps[1].note.contains("ci/Deployment/b"));
        let odd = ["a b;rm -rf /'".to_string(), "n2".to_string()];
        let mut t = target("containerd", "amd64", Some(23));
        t.arch = None;
        let steps = plan_steps(&Batch {
            nodes: &odd,
            pool: Some("pool p (agentpool)".into()),
            targets: vec![(t, odd.to_vec())],
            workloads: &[],
        });
        assert_eq!(
            steps[0].command,
            "builder render --profile containerd --kubernetes 1.23"
        );
        assert_eq!(steps[2].command, r"kubectl cordon 'a b;rm -rf /'\''' n2");
        assert!(steps[1].note.contains("2 replacement node(s) for pool p"));
    }

    #[test]
    fn long_name_lists_are_cut() {
        let names: Vec<String> = (0..25).map(|i| format!("n{i}")).collect();
        let s = some_names(&names);
        assert!(
            s.starts_with("n0, n1,") && s.ends_with("n9 and 15 more"),
            "{s}"
        );
        assert_eq!(some_names(&names[..2]), "n0, n1");
    }
}
