//! The report of `builder detect`: Docker-socket workloads per node, the recommended profile,
//! each node's minor and pool, the summary, and their table and JSON forms (the `--plan`
//! runbook and the grouping by pool are `plan`'s).

use std::collections::{BTreeSet, HashMap};
use std::io::Write;

use serde::Serialize;

use super::kubectl::{Node, RawPod};
use super::plan::{
    clean, minor_text, plan_steps, pool_reports, write_pool_plan, write_pool_summary, Batch,
    Member, PlanStep, PoolReport, Target,
};
use super::pools::{kubernetes_flag, node_minor, Pool, ProfileMinors};
use super::rules::{is_docker_socket_path, resolve_owner, Assessment, Verdict, Workload};
use crate::util::model::{Arch, KubeMinor};

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
    /// The affected nodes by pool.
    pools: Vec<PoolReport>,
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
    /// From the kubelet version: `"1.23"`, or null.
    #[serde(serialize_with = "minor_text")]
    minor: Option<KubeMinor>,
    /// The pool's name.
    #[serde(serialize_with = "pool_name")]
    pool: Pool,
    runtime: Option<String>,
    cri_socket: Option<String>,
    os: Option<String>,
    arch: Option<String>,
    verdict: Verdict,
    affected: bool,
    reason: String,
    profile: Option<&'static str>,
    docker_socket_workloads: Vec<String>,
    /// The render line's `--kubernetes`, where the minor differs from the profile's.
    #[serde(skip)]
    kubernetes: Option<KubeMinor>,
    /// The site profile the render line names instead of `profile`.
    #[serde(skip)]
    site: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<Vec<PlanStep>>,
}

fn pool_name<S: serde::Serializer>(p: &Pool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.name)
}

#[derive(Serialize)]
struct WorkloadReport {
    namespace: String,
    kind: String,
    name: String,
    pods: usize,
    nodes: Vec<String>,
}

pub(super) fn build_report(
    nodes: Vec<Node>,
    assessed: Vec<Assessment>,
    du: &DockerUse,
    pods_scanned: Option<usize>,
    plan: bool,
    inputs: Inputs,
    minors: &mut ProfileMinors,
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
        let minor = node_minor(node.kubelet_version.as_deref());
        let arch = node.arch.as_deref().and_then(Arch::parse);
        let site = profile.and_then(|p| minors.site(p, minor, arch));
        let rendered = site.as_deref().or(profile);
        let kubernetes = rendered.and_then(|p| kubernetes_flag(minor, minors.get(p)));
        let target = Target {
            profile,
            arch: node.arch.clone(),
            minor,
            kubernetes,
            site: site.clone(),
        };
        let steps = (plan && a.affected).then(|| {
            plan_steps(&Batch {
                nodes: std::slice::from_ref(&node.name),
                pool: None,
                targets: vec![(target, vec![node.name.clone()])],
                workloads: &pins,
            })
        });
        reports.push(NodeReport {
            name: node.name,
            kubelet_version: node.kubelet_version,
            minor,
            pool: node.pool,
            kubernetes,
            site,
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
        pools: pool_reports(members(&reports), plan),
        nodes: reports,
        docker_socket_workloads: du.workload_reports(),
    }
}

/// The affected nodes, for the grouping by pool.
fn members(reports: &[NodeReport]) -> Vec<Member<'_>> {
    reports
        .iter()
        .filter(|n| n.affected)
        .map(|n| Member {
            name: &n.name,
            pool: &n.pool,
            verdict: n.verdict,
            target: Target {
                profile: n.profile,
                arch: n.arch.clone(),
                minor: n.minor,
                kubernetes: n.kubernetes,
                site: n.site.clone(),
            },
            workloads: &n.docker_socket_workloads,
        })
        .collect()
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

/// How the node table is laid out.
#[derive(Debug, Clone, Copy)]
pub(super) struct TableStyle {
    /// At most this many columns: REASON, the last column, is shortened to fit (never below
    /// [`MIN_REASON`] characters). `None`: no limit.
    pub width: Option<usize>,
    pub headers: bool,
}

/// The fewest characters of REASON a narrow table keeps.
const MIN_REASON: usize = 24;

pub(super) fn write_table(
    out: &mut impl Write,
    r: &Report,
    plan: bool,
    style: TableStyle,
) -> std::io::Result<()> {
    write_nodes(out, &r.nodes, style)?;
    write_summary(out, r)?;
    if !plan {
        return Ok(());
    }
    if r.summary.affected == 0 {
        return writeln!(out, "\nPlan: no node is on dockershim; nothing to replace.");
    }
    for p in &r.pools {
        write_pool_plan(out, p)?;
    }
    Ok(())
}

/// One row per node, in columns as wide as their widest cell; REASON last, shortened to the
/// style's width.
fn write_nodes(
    out: &mut impl Write,
    nodes: &[NodeReport],
    style: TableStyle,
) -> std::io::Result<()> {
    let dash = |s: &Option<String>| s.as_deref().map(clean).unwrap_or_else(|| "-".into());
    let mut rows = Vec::new();
    if style.headers {
        rows.push(["NODE", "KUBELET", "RUNTIME", "VERDICT", "PROFILE", "REASON"].map(String::from));
    }
    for n in nodes {
        rows.push([
            clean(&n.name),
            dash(&n.kubelet_version),
            dash(&n.runtime),
            n.verdict.as_str().into(),
            n.profile.unwrap_or("-").into(),
            clean(&n.reason),
        ]);
    }
    if let Some(width) = style.width {
        shorten_reasons(&mut rows, width);
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

/// Cuts each row's REASON (the last cell) so that the row fits `width` characters, ending it
/// with "..." where it was cut; REASON keeps at least [`MIN_REASON`] characters.
fn shorten_reasons(rows: &mut [[String; 6]], width: usize) {
    let mut widths = [0usize; 5];
    for row in rows.iter() {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let before: usize = widths.iter().map(|w| w + 2).sum();
    let room = width.saturating_sub(before).max(MIN_REASON);
    for row in rows.iter_mut() {
        let reason = &mut row[5];
        if reason.chars().count() > room {
            let cut: String = reason.chars().take(room - 3).collect();
            *reason = format!("{}...", cut.trim_end());
        }
    }
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
    write_pool_summary(out, &r.pools)
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
        report_with(nodes, pods, plan, ProfileMinors::new(|_| Ok(KubeMinor(36))))
    }

    fn report_with(
        nodes: Vec<Node>,
        pods: Option<&[RawPod]>,
        plan: bool,
        mut minors: ProfileMinors,
    ) -> Report {
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
            &mut minors,
        )
    }

    #[test]
    fn a_site_profile_from_init_is_what_the_plan_renders() {
        let nodes = || {
            vec![
                node("a", "v1.23.17", "docker://20.10.24", "linux"),
                node("b", "v1.22.9", "docker://20.10.24", "linux"),
            ]
        };
        // ./profiles holds containerd-1.23-arm64 (minor 1.23), not containerd-1.22-arm64.
        let minors = || {
            ProfileMinors::new(|name| {
                Ok(KubeMinor(if name == "containerd-1.23-arm64" {
                    23
                } else {
                    36
                }))
            })
            .with_local(|name| name == "containerd-1.23-arm64")
        };
        let r = report_with(nodes(), None, true, minors());
        let render = |n: &NodeReport| n.plan.as_ref().map(|p| p[0].command.clone());
        assert_eq!(
            render(&r.nodes[0]).as_deref(),
            Some("builder render --profile containerd-1.23-arm64 --arch arm64")
        );
        assert!(r.nodes[0].plan.as_ref().unwrap()[0]
            .note
            .contains("dist/containerd-1.23-arm64/arm64/"));
        assert_eq!(
            render(&r.nodes[1]).as_deref(),
            Some("builder render --profile containerd --arch arm64 --kubernetes 1.22")
        );
        // The JSON keeps the runtime profile (what init --from-detect groups by).
        assert_eq!(r.nodes[0].profile, Some("containerd"));
        let renders: Vec<_> = r.pools[0].groups.iter().map(|g| g.render.clone()).collect();
        assert!(renders.contains(&Some(
            "builder render --profile containerd-1.23-arm64 --arch arm64".into()
        )));
        // A site profile at another minor still gets the node's --kubernetes.
        let other = ProfileMinors::new(|_| Ok(KubeMinor(36))).with_local(|_| true);
        let r = report_with(nodes(), None, true, other);
        assert_eq!(
            render(&r.nodes[0]).as_deref(),
            Some("builder render --profile containerd-1.23-arm64 --arch arm64 --kubernetes 1.23")
        );
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

    fn in_pool(name: &str, kubelet: &str, runtime: &str, pool: &str) -> Node {
        Node {
            arch: Some("amd64".into()),
            pool: Pool {
                name: pool.into(),
                label: Some("eks.amazonaws.com/nodegroup"),
            },
            ..node(name, kubelet, runtime, "linux")
        }
    }

    #[test]
    fn affected_nodes_group_by_pool_with_one_render_per_minor_and_arch() {
        let mut nodes: Vec<Node> = (0..12)
            .map(|i| in_pool(&format!("a{i}"), "v1.23.17", "docker://20.10.24", "ng-a"))
            .collect();
        nodes.push(in_pool("b0", "v1.36.1", "docker://20.10.24", "ng-b"));
        nodes.push(in_pool("b1", "v1.22.3", "docker://20.10.24", "ng-b"));
        nodes.push(in_pool("b2", "", "docker://20.10.24", "ng-b"));
        nodes.push(Node {
            arch: Some("arm64".into()),
            ..in_pool("b3", "v1.22.3", "docker://20.10.24", "ng-b")
        });
        nodes.push(in_pool("c0", "v1.23.17", "containerd://1.6.28", "ng-c"));
        let r = report(nodes, None, true);
        let names: Vec<&str> = r.pools.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["ng-a", "ng-b"],
            "containerd's pool is not in the plan"
        );
        let renders = |p: &PoolReport| -> Vec<String> {
            let steps = p.plan.as_deref().unwrap_or_default();
            steps
                .iter()
                .filter(|s| s.step == "render")
                .map(|s| s.command.clone())
                .collect()
        };
        assert_eq!(
            renders(&r.pools[0]),
            ["builder render --profile containerd --arch amd64 --kubernetes 1.23"]
        );
        assert_eq!(r.pools[0].node_count, 12);
        let bring_up = &r.pools[0].plan.as_deref().unwrap_or_default()[1].note;
        assert!(
            bring_up.contains("12 replacement node(s) for pool ng-a"),
            "{bring_up}"
        );
        assert!(bring_up.contains("a9 and 2 more"), "{bring_up}");
        // b0 (1.36: cri-dockerd already) and b2 (no version: unknown) are not affected.
        assert_eq!(r.pools[1].nodes, ["b1", "b3"]);
        assert_eq!(
            renders(&r.pools[1]),
            [
                "builder render --profile containerd --arch amd64 --kubernetes 1.22",
                "builder render --profile containerd --arch arm64 --kubernetes 1.22",
            ]
        );
        assert_eq!(r.nodes[12].minor, Some(KubeMinor(36)));
        assert_eq!(r.nodes[14].minor, None);
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
        let wide = TableStyle {
            width: None,
            headers: true,
        };
        write_table(&mut out, &r, true, wide).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("NODE "), "{text}");
        for col in ["KUBELET", "RUNTIME", "VERDICT", "REASON", "PROFILE"] {
            assert!(text.lines().next().unwrap_or("").contains(col));
        }
        assert!(!text.contains('\x1b'));
        assert!(text.contains("kubectl drain 'evil"), "{text}");
    }
}
