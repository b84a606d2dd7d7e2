//! The report of `builder detect`: Docker-socket workloads per node, the recommended profile,
//! the summary, the `--plan` runbook, and their table and JSON forms.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;

use serde::Serialize;

use super::kubectl::{Node, RawPod};
use super::rules::{is_docker_socket_path, resolve_owner, Assessment, Verdict, Workload};

/// Placeholder for the replacement node's name in the runbook.
const NEW_NODE: &str = "NEW_NODE";

/// Docker-socket workloads per node index, plus all of them with their node names.
#[derive(Default)]
pub(super) struct DockerUse {
    pub(super) per_node: Vec<BTreeSet<usize>>,
    pub(super) workloads: Vec<(Workload, BTreeSet<String>, usize)>,
    pub(super) pods: usize,
}

pub(super) fn docker_use(nodes: &[Node], pods: &[RawPod]) -> DockerUse {
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let mut by_workload: HashMap<Workload, usize> = HashMap::new();
    let mut du = DockerUse {
        per_node: vec![BTreeSet::new(); nodes.len()],
        ..Default::default()
    };
    for pod in pods {
        let Some(spec) = &pod.spec else { continue };
        let mounts = spec.volumes.iter().flatten().any(|v| {
            v.host_path
                .as_ref()
                .and_then(|h| h.path.as_deref())
                .is_some_and(is_docker_socket_path)
        });
        if !mounts {
            continue;
        }
        du.pods += 1;
        let meta = pod.metadata.as_ref();
        let ns = meta
            .and_then(|m| m.namespace.as_deref())
            .unwrap_or("default");
        let name = meta.and_then(|m| m.name.as_deref()).unwrap_or("?");
        let owners = meta
            .and_then(|m| m.owner_references.as_deref())
            .unwrap_or(&[]);
        let hash = meta
            .and_then(|m| m.labels.as_ref())
            .and_then(|l| l.pod_template_hash.as_deref());
        let w = resolve_owner(ns, name, owners, hash);
        let wi = *by_workload.entry(w.clone()).or_insert_with(|| {
            du.workloads.push((w, BTreeSet::new(), 0));
            du.workloads.len() - 1
        });
        du.workloads[wi].2 += 1;
        if let Some(node) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
            du.workloads[wi].1.insert(node.to_string());
            if let Some(&ni) = index.get(node) {
                du.per_node[ni].insert(wi);
            }
        }
    }
    du
}

#[derive(Serialize)]
pub(super) struct Report {
    schema_version: u32,
    inputs: Inputs,
    pub(super) summary: Summary,
    nodes: Vec<NodeReport>,
    docker_socket_workloads: Vec<WorkloadReport>,
}

#[derive(Serialize)]
pub(super) struct Inputs {
    pub(super) nodes: Option<String>,
    pub(super) pods: Option<String>,
    pub(super) kubelet_cmdline: Option<String>,
    pub(super) flags_env: Option<String>,
    pub(super) node_name: Option<String>,
}

#[derive(Serialize, Default)]
pub(super) struct Summary {
    nodes: usize,
    affected: usize,
    unknown: usize,
    verdicts: VerdictCounts,
    profiles: ProfileCounts,
    pods_scanned: Option<usize>,
    docker_socket_pods: usize,
    pub(super) exit_code: u8,
}

#[derive(Serialize, Default)]
struct VerdictCounts {
    dockershim: usize,
    #[serde(rename = "cri-dockerd")]
    cri_dockerd: usize,
    containerd: usize,
    #[serde(rename = "cri-o")]
    cri_o: usize,
    #[serde(rename = "other-runtime")]
    other_runtime: usize,
    #[serde(rename = "windows-out-of-scope")]
    windows_out_of_scope: usize,
    unknown: usize,
}

#[derive(Serialize, Default)]
struct ProfileCounts {
    #[serde(rename = "cri-dockerd")]
    cri_dockerd: usize,
    containerd: usize,
}

#[derive(Serialize)]
struct NodeReport {
    name: String,
    kubelet_version: Option<String>,
    runtime: Option<String>,
    cri_socket: Option<String>,
    os: Option<String>,
    arch: Option<String>,
    verdict: Verdict,
    affected: bool,
    reason: String,
    profile: Option<&'static str>,
    docker_socket_workloads: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<Vec<PlanStep>>,
}

#[derive(Serialize)]
struct WorkloadReport {
    namespace: String,
    kind: String,
    name: String,
    pods: usize,
    nodes: Vec<String>,
}

/// One step of the runbook; `command` is what to run, `note` what it does.
#[derive(Serialize)]
pub struct PlanStep {
    pub step: &'static str,
    pub command: String,
    pub note: String,
}

/// Quotes a word for a POSIX shell when it needs it.
fn sh(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "._-:/=@+".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The runbook that replaces `node` with one rendered from `profile` (None: not a builder profile).
pub fn plan_steps(
    node: &str,
    profile: Option<&str>,
    arch: Option<&str>,
    workloads: &[String],
) -> Vec<PlanStep> {
    let n = sh(node);
    let mut steps = Vec::new();
    let pinned = workloads.join(", ");
    let bring_up = match profile {
        Some(p) => {
            let (arch_flag, dir) = match arch {
                Some(a) => (format!(" --arch {}", sh(a)), format!("dist/{p}/{a}")),
                None => (String::new(), format!("dist/{p}/<arch>")),
            };
            steps.push(PlanStep {
                step: "render",
                command: format!("builder render --profile {p}{arch_flag}"),
                note: format!("build the replacement's overlay into {dir}/"),
            });
            let keep = if workloads.is_empty() {
                String::new()
            } else {
                format!("; these workloads mount the Docker socket, so keep them on cri-dockerd nodes (nodeSelector): {pinned}")
            };
            format!("bring up a replacement node under a new name from {dir}/overlay.tar.gz, join it, wait until it is Ready{keep}")
        }
        None => {
            let keep = if workloads.is_empty() {
                String::new()
            } else {
                format!("; these workloads use Docker's pipe and need changing first: {pinned}")
            };
            format!("bring up a replacement Windows node on containerd (out of scope for builder's Linux profiles) under a new name, wait until it is Ready{keep}")
        }
    };
    steps.push(PlanStep {
        step: "bring-up",
        command: format!("kubectl wait --for=condition=Ready node/{NEW_NODE} --timeout=15m"),
        note: bring_up,
    });
    steps.push(PlanStep {
        step: "cordon",
        command: format!("kubectl cordon {n}"),
        note: "stop new pods from landing on the old node".into(),
    });
    steps.push(PlanStep {
        step: "drain",
        command: format!("kubectl drain {n} --ignore-daemonsets --delete-emptydir-data"),
        note: "evict its pods (DaemonSet pods stay; emptyDir data is lost)".into(),
    });
    steps.push(PlanStep {
        step: "delete",
        command: format!("kubectl delete node {n}"),
        note: "once the replacement is Ready and the drain has finished: remove the old node, then retire its machine".into(),
    });
    steps
}

pub(super) fn build_report(
    nodes: Vec<Node>,
    assessed: Vec<Assessment>,
    du: &DockerUse,
    pods_scanned: Option<usize>,
    plan: bool,
    inputs: Inputs,
) -> Report {
    let mut s = Summary {
        nodes: nodes.len(),
        pods_scanned,
        docker_socket_pods: du.pods,
        ..Default::default()
    };
    let mut reports = Vec::with_capacity(nodes.len());
    for (i, (node, a)) in nodes.into_iter().zip(assessed).enumerate() {
        let pins = du.pins(i);
        let (profile, reason) = recommend(&a, &pins, pods_scanned);
        s.count(&a, profile);
        let steps = (plan && a.affected)
            .then(|| plan_steps(&node.name, profile, node.arch.as_deref(), &pins));
        reports.push(NodeReport {
            name: node.name,
            kubelet_version: node.kubelet_version,
            runtime: node.runtime,
            cri_socket: node.cri_socket,
            os: node.os,
            arch: node.arch,
            verdict: a.verdict,
            affected: a.affected,
            reason,
            profile,
            docker_socket_workloads: pins,
            plan: steps,
        });
    }
    s.exit_code = if s.affected > 0 { 3 } else { 0 };
    Report {
        schema_version: 1,
        inputs,
        summary: s,
        nodes: reports,
        docker_socket_workloads: du.workload_reports(),
    }
}

impl DockerUse {
    /// The Docker-socket workloads on node `i`, by name, sorted.
    fn pins(&self, i: usize) -> Vec<String> {
        let mut pins: Vec<String> = self
            .per_node
            .get(i)
            .into_iter()
            .flatten()
            .map(|&w| self.workloads[w].0.to_string())
            .collect();
        pins.sort();
        pins
    }

    /// Every Docker-socket workload, sorted by namespace, kind and name.
    fn workload_reports(&self) -> Vec<WorkloadReport> {
        let mut workloads: Vec<WorkloadReport> = self
            .workloads
            .iter()
            .map(|(w, nodes, pods)| WorkloadReport {
                namespace: w.namespace.clone(),
                kind: w.kind.clone(),
                name: w.name.clone(),
                pods: *pods,
                nodes: nodes.iter().cloned().collect(),
            })
            .collect();
        workloads.sort_by(|a, b| {
            (&a.namespace, &a.kind, &a.name).cmp(&(&b.namespace, &b.kind, &b.name))
        });
        workloads
    }
}

/// The profile for an affected Linux node (cri-dockerd where a workload pins it to Docker,
/// else containerd) and the assessment's reason, with why.
fn recommend(
    a: &Assessment,
    pins: &[String],
    pods_scanned: Option<usize>,
) -> (Option<&'static str>, String) {
    let windows = a.verdict == Verdict::WindowsOutOfScope;
    let profile = match (a.affected, windows, pins.is_empty()) {
        (true, false, false) => Some("cri-dockerd"),
        (true, false, true) => Some("containerd"),
        _ => None,
    };
    let mut reason = a.reason.clone();
    let n = pins.len();
    match (pods_scanned.is_some(), profile) {
        (_, Some(_)) if n > 0 => reason.push_str(&format!(
            "; {n} workload(s) here mount the Docker socket: cri-dockerd"
        )),
        (true, Some(_)) => reason.push_str("; no pod here mounts the Docker socket: containerd"),
        (false, Some(_)) => reason.push_str("; no --pods given: containerd assumed"),
        (_, None) if n > 0 && a.verdict != Verdict::CriDockerd => {
            reason.push_str(&format!("; {n} workload(s) here mount the Docker socket"))
        }
        _ => {}
    }
    (profile, reason)
}

impl Summary {
    /// Counts one node: its verdict, whether it is affected, the profile recommended.
    fn count(&mut self, a: &Assessment, profile: Option<&str>) {
        let c = &mut self.verdicts;
        *match a.verdict {
            Verdict::Dockershim => &mut c.dockershim,
            Verdict::CriDockerd => &mut c.cri_dockerd,
            Verdict::Containerd => &mut c.containerd,
            Verdict::CriO => &mut c.cri_o,
            Verdict::OtherRuntime => &mut c.other_runtime,
            Verdict::WindowsOutOfScope => &mut c.windows_out_of_scope,
            Verdict::Unknown => &mut c.unknown,
        } += 1;
        self.affected += usize::from(a.affected);
        self.unknown += usize::from(a.verdict == Verdict::Unknown);
        match profile {
            Some("cri-dockerd") => self.profiles.cri_dockerd += 1,
            Some(_) => self.profiles.containerd += 1,
            None => {}
        }
    }
}

/// Replaces control characters so that input cannot garble the terminal.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

pub(super) fn write_table(out: &mut impl Write, r: &Report, plan: bool) -> std::io::Result<()> {
    write_nodes(out, &r.nodes)?;
    write_summary(out, r)?;
    if !plan {
        return Ok(());
    }
    if r.summary.affected == 0 {
        return writeln!(out, "\nPlan: no node is on dockershim; nothing to replace.");
    }
    for n in r.nodes.iter().filter(|n| n.affected) {
        write_plan(out, n)?;
    }
    Ok(())
}

/// One row per node, in columns as wide as their widest cell.
fn write_nodes(out: &mut impl Write, nodes: &[NodeReport]) -> std::io::Result<()> {
    let dash = |s: &Option<String>| s.as_deref().map(clean).unwrap_or_else(|| "-".into());
    let mut rows =
        vec![["NODE", "KUBELET", "RUNTIME", "VERDICT", "REASON", "PROFILE"].map(String::from)];
    for n in nodes {
        rows.push([
            clean(&n.name),
            dash(&n.kubelet_version),
            dash(&n.runtime),
            n.verdict.as_str().into(),
            clean(&n.reason),
            n.profile.unwrap_or("-").into(),
        ]);
    }
    let mut widths = [0usize; 6];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The counts, and with --pods the Docker-socket workloads.
fn write_summary(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    let s = &r.summary;
    let v = &s.verdicts;
    writeln!(
        out,
        "\n{} node(s), {} affected: {} dockershim, {} cri-dockerd, {} containerd, {} cri-o, {} other-runtime, \
         {} windows-out-of-scope, {} unknown",
        s.nodes, s.affected, v.dockershim, v.cri_dockerd, v.containerd, v.cri_o, v.other_runtime,
        v.windows_out_of_scope, v.unknown
    )?;
    if s.profiles.cri_dockerd + s.profiles.containerd > 0 {
        writeln!(
            out,
            "Profiles for the affected Linux nodes: {} cri-dockerd, {} containerd",
            s.profiles.cri_dockerd, s.profiles.containerd
        )?;
    }
    if let Some(p) = s.pods_scanned {
        writeln!(
            out,
            "{p} pod(s) read, {} mount the Docker socket:",
            s.docker_socket_pods
        )?;
        for w in &r.docker_socket_workloads {
            let nodes = if w.nodes.is_empty() {
                "-".into()
            } else {
                w.nodes.join(", ")
            };
            writeln!(
                out,
                "  {}/{}/{} ({} pod(s); nodes: {})",
                clean(&w.namespace),
                clean(&w.kind),
                clean(&w.name),
                w.pods,
                clean(&nodes)
            )?;
        }
    }
    Ok(())
}

/// The runbook of one affected node.
fn write_plan(out: &mut impl Write, n: &NodeReport) -> std::io::Result<()> {
    let target = match n.profile {
        Some(p) => format!(
            "profile {p}, arch {}",
            n.arch.as_deref().unwrap_or("unknown")
        ),
        None => "no builder profile (Windows)".into(),
    };
    writeln!(
        out,
        "\nPlan for {} ({}: {target})",
        clean(&n.name),
        n.verdict.as_str()
    )?;
    if !n.docker_socket_workloads.is_empty() {
        writeln!(
            out,
            "  pinned to Docker by: {}",
            clean(&n.docker_socket_workloads.join(", "))
        )?;
    }
    for (i, step) in n.plan.iter().flatten().enumerate() {
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
    use crate::detect::rules::assess_node;

    fn node(name: &str, kubelet: &str, runtime: &str, os: &str) -> Node {
        Node {
            name: name.into(),
            kubelet_version: Some(kubelet.into()),
            runtime: Some(runtime.into()),
            os: Some(os.into()),
            arch: Some("arm64".into()),
            ..Default::default()
        }
    }

    fn pod(ns: &str, name: &str, node: &str, path: &str, owner: &str, hash: &str) -> RawPod {
        let (kind, oname) = owner.split_once('/').unwrap_or(("", ""));
        let owners = if kind.is_empty() {
            String::new()
        } else {
            format!(
                r#","ownerReferences":[{{"kind":"{kind}","name":"{oname}","controller":true}}]"#
            )
        };
        let json = format!(
            r#"{{"kind":"Pod","metadata":{{"name":"{name}","namespace":"{ns}","labels":{{"pod-template-hash":"{hash}"}}{owners}}},
               "spec":{{"nodeName":"{node}","volumes":[{{"name":"v","hostPath":{{"path":"{path}"}}}}]}}}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    fn report(nodes: Vec<Node>, pods: Option<&[RawPod]>, plan: bool) -> Report {
        let du = match pods {
            Some(p) => docker_use(&nodes, p),
            None => DockerUse {
                per_node: vec![BTreeSet::new(); nodes.len()],
                ..Default::default()
            },
        };
        let assessed = nodes.iter().map(assess_node).collect();
        let inputs = Inputs {
            nodes: None,
            pods: None,
            kubelet_cmdline: None,
            flags_env: None,
            node_name: None,
        };
        build_report(
            nodes,
            assessed,
            &du,
            pods.map(<[RawPod]>::len),
            plan,
            inputs,
        )
    }

    #[test]
    fn docker_socket_pods_pick_cri_dockerd_and_others_containerd() {
        let nodes = vec![
            node("a", "v1.23.17", "docker://20.10.24", "linux"),
            node("b", "v1.23.17", "docker://20.10.24", "linux"),
            node("c", "v1.25.16", "containerd://1.7.13", "linux"),
        ];
        let pods = [
            pod(
                "ci",
                "build-7d9f8b6c5-x",
                "a",
                "/var/run/docker.sock",
                "ReplicaSet/build-7d9f8b6c5",
                "7d9f8b6c5",
            ),
            pod(
                "ci",
                "build-7d9f8b6c5-y",
                "a",
                "/run/docker.sock/",
                "ReplicaSet/build-7d9f8b6c5",
                "7d9f8b6c5",
            ),
            pod("mon", "agent-1", "c", "/var/run/", "DaemonSet/agent", ""),
            pod(
                "web",
                "front-1",
                "b",
                "/var/run/secrets",
                "ReplicaSet/front-1",
                "",
            ),
        ];
        let r = report(nodes, Some(&pods), false);
        let profiles: Vec<_> = r.nodes.iter().map(|n| n.profile).collect();
        assert_eq!(profiles, [Some("cri-dockerd"), Some("containerd"), None]);
        assert_eq!(r.nodes[0].docker_socket_workloads, ["ci/Deployment/build"]);
        assert_eq!(r.summary.docker_socket_pods, 3);
        assert_eq!((r.summary.affected, r.summary.exit_code), (2, 3));
        assert_eq!(r.docker_socket_workloads.len(), 2);
        assert_eq!(r.docker_socket_workloads[0].pods, 2);
        assert!(
            r.nodes[2].reason.contains("mount the Docker socket"),
            "{}",
            r.nodes[2].reason
        );
        assert!(r.nodes.iter().all(|n| n.plan.is_none()));
    }

    #[test]
    fn nothing_affected_exits_zero_and_windows_gets_no_profile() {
        let r = report(
            vec![node("c", "v1.25.16", "containerd://1.7.13", "linux")],
            None,
            true,
        );
        assert_eq!((r.summary.affected, r.summary.exit_code), (0, 0));
        let w = report(
            vec![node("w", "v1.23.17", "docker://20.10.9", "windows")],
            None,
            true,
        );
        assert_eq!(w.nodes[0].profile, None);
        assert_eq!(w.summary.exit_code, 3);
        let steps = w.nodes[0]
            .plan
            .as_ref()
            .map(|p| p.iter().map(|s| s.step).collect::<Vec<_>>());
        assert_eq!(steps, Some(vec!["bring-up", "cordon", "drain", "delete"]));
    }

    #[test]
    fn plan_has_the_runbook_commands_with_quoted_names() {
        let steps = plan_steps(
            "worker-1",
            Some("cri-dockerd"),
            Some("arm64"),
            &["ci/Deployment/b".into()],
        );
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
        assert!(steps[1].note.contains("ci/Deployment/b"));
        let odd = plan_steps("a b;rm -rf /'", Some("containerd"), None, &[]);
        assert_eq!(odd[0].command, "builder render --profile containerd");
        assert_eq!(odd[2].command, r"kubectl cordon 'a b;rm -rf /'\'''");
    }

    #[test]
    fn table_lists_columns_and_cleans_control_characters() {
        let r = report(
            vec![node(
                "evil\x1b[2J",
                "v1.23.17",
                "docker://20.10.24",
                "linux",
            )],
            None,
            true,
        );
        let mut out = Vec::new();
        write_table(&mut out, &r, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("NODE "), "{text}");
        for col in ["KUBELET", "RUNTIME", "VERDICT", "REASON", "PROFILE"] {
            assert!(text.lines().next().unwrap_or("").contains(col));
        }
        assert!(!text.contains('\x1b'));
        assert!(text.contains("kubectl drain 'evil"), "{text}");
    }
}
