//! `builder detect` end to end: the real binary on kubectl-shaped fixtures under
//! tests/fixtures/detect/ (exit codes, verdicts, profiles, JSON fields, the plan, error messages).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{consumer, skip_or_fail, which};

const F: &str = "tests/fixtures/detect";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn detect(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_builder"))
        .arg("detect")
        .args(args)
        .env_remove("COLUMNS")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn builder");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        // builder may stop reading (or never start) once it knows the input is bad.
        match pipe.write_all(bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            r => r.expect("write stdin"),
        }
    }
    let out = child.wait_with_output().expect("wait for builder");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "panic: {}", run.stderr);
    run
}

fn fx(name: &str) -> String {
    format!("{F}/{name}")
}

fn json(args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let run = detect(&all, None);
    let v = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\n{}", run.stdout, run.stderr));
    (run.code, v)
}

fn node<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["nodes"]
        .as_array()
        .and_then(|ns| ns.iter().find(|n| n["name"] == name))
        .unwrap_or_else(|| panic!("no node {name} in {report}"))
}

/// The table row of a node, split on runs of two or more spaces.
fn row(table: &str, name: &str) -> Vec<String> {
    let line = table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row for {name} in\n{table}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn mixed_fleet_table_gives_verdicts_and_profiles_and_exit_3() {
    let nodes = fx("nodes-mixed.json");
    let pods = fx("pods-mixed.json");
    let r = detect(&["--nodes", &nodes, "--pods", &pods], None);
    assert_eq!(r.code, 3, "{}{}", r.stdout, r.stderr);
    let header = r.stdout.lines().next().unwrap_or("");
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["NODE", "KUBELET", "RUNTIME", "VERDICT", "PROFILE", "REASON"]
    );
    let expect = [
        ("cp-1", "containerd", "-"),
        ("worker-legacy-1", "dockershim", "cri-dockerd"),
        ("worker-legacy-2", "dockershim", "containerd"),
        ("worker-shim-1", "cri-dockerd", "-"),
        ("worker-ctrd-1", "containerd", "-"),
        ("worker-crio-1", "cri-o", "-"),
        ("win-worker-1", "windows-out-of-scope", "-"),
    ];
    for (name, verdict, profile) in expect {
        let cells = row(&r.stdout, name);
        assert_eq!(cells.len(), 6, "{cells:?}");
        assert_eq!(
            (cells[3].as_str(), cells[4].as_str()),
            (verdict, profile),
            "{name}: {cells:?}"
        );
    }
    assert_eq!(row(&r.stdout, "worker-legacy-1")[1], "v1.23.17");
    assert_eq!(row(&r.stdout, "worker-shim-1")[2], "docker://24.0.7");
    assert!(row(&r.stdout, "win-worker-1")[5].contains("out of scope"));
    assert!(r.stdout.contains("7 node(s), 3 affected"), "{}", r.stdout);
}

#[test]
fn the_table_fits_the_width_and_wide_keeps_every_reason() {
    let nodes = fx("nodes-mixed.json");
    let pods = fx("pods-mixed.json");
    let table = |output: &str, columns: Option<&str>, extra: &[&str]| -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_builder"));
        cmd.args(["detect", "--nodes", &nodes, "--pods", &pods, "-o", output])
            .args(extra)
            .env_remove("COLUMNS");
        if let Some(c) = columns {
            cmd.env("COLUMNS", c);
        }
        let o = cmd.output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let node_lines = |t: &str| -> Vec<String> {
        t.lines()
            .take_while(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    };
    // A pipe with no COLUMNS, and -o wide: every reason in full, the same rows.
    let full = table("table", None, &[]);
    assert_eq!(table("wide", Some("60"), &[]), full);
    let longest = node_lines(&full)
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap();
    assert!(
        longest > 120,
        "the fixture's rows should be wider than 120:\n{full}"
    );
    // COLUMNS=120 (what a terminal of that width gives): every row fits, the cut ones end in
    // "...", each a prefix of the full reason; the other columns are untouched.
    let narrow = table("table", Some("120"), &[]);
    let rows = node_lines(&narrow);
    assert_eq!(rows.len(), node_lines(&full).len());
    assert!(rows.iter().all(|l| l.chars().count() <= 120), "{narrow}");
    let mut cut = 0;
    for (short, long) in rows.iter().zip(node_lines(&full)).skip(1) {
        let name = short.split_whitespace().next().unwrap();
        let (s, l) = (row(&narrow, name), row(&full, name));
        assert_eq!(s[..5], l[..5], "{name}");
        if s[5] != l[5] {
            cut += 1;
            let kept = s[5]
                .strip_suffix("...")
                .unwrap_or_else(|| panic!("{short}"));
            assert!(l[5].starts_with(kept), "{short}\n{long}");
        }
    }
    assert!(cut > 0, "nothing was shortened:\n{narrow}");
    // Very narrow: REASON keeps its minimum rather than vanishing.
    let tiny = table("table", Some("20"), &[]);
    for line in node_lines(&tiny).iter().skip(1) {
        let name = line.split_whitespace().next().unwrap();
        let (s, l) = (row(&tiny, name), row(&full, name));
        assert!(
            s[5] == l[5]
                || (s[5].ends_with("...")
                    && s[5].chars().count() <= 24
                    && s[5].chars().count() >= 20),
            "{line}"
        );
    }
    // --no-headers: the first line is a node.
    let bare = table("table", None, &["--no-headers"]);
    assert_eq!(bare.lines().next(), full.lines().nth(1));
}

#[test]
fn mixed_fleet_json_has_summary_nodes_and_workloads() {
    let nodes = fx("nodes-mixed.json");
    let pods = fx("pods-mixed.json");
    let (code, v) = json(&["--nodes", &nodes, "--pods", &pods]);
    assert_eq!(code, 3);
    assert_eq!(v["schema_version"], 1);
    let s = &v["summary"];
    assert_eq!(s["nodes"], 7);
    assert_eq!(s["affected"], 3);
    assert_eq!(s["unknown"], 0);
    assert_eq!(s["exit_code"], 3);
    assert_eq!(s["pods_scanned"], 15);
    assert_eq!(s["docker_socket_pods"], 7);
    let verdicts = &s["verdicts"];
    for (k, n) in [
        ("dockershim", 2),
        ("cri-dockerd", 1),
        ("containerd", 2),
        ("cri-o", 1),
        ("other-runtime", 0),
        ("windows-out-of-scope", 1),
        ("unknown", 0),
    ] {
        assert_eq!(verdicts[k], n, "verdicts.{k} in {verdicts}");
    }
    assert_eq!(s["profiles"]["cri-dockerd"], 1);
    assert_eq!(s["profiles"]["containerd"], 1);

    let legacy = node(&v, "worker-legacy-1");
    assert_eq!(legacy["verdict"], "dockershim");
    assert_eq!(legacy["affected"], true);
    assert_eq!(legacy["profile"], "cri-dockerd");
    assert_eq!(legacy["kubelet_version"], "v1.23.17");
    assert_eq!(legacy["runtime"], "docker://20.10.24");
    assert_eq!(legacy["cri_socket"], "/var/run/dockershim.sock");
    assert_eq!(
        (legacy["os"].as_str(), legacy["arch"].as_str()),
        (Some("linux"), Some("amd64"))
    );
    assert_eq!(
        legacy["docker_socket_workloads"],
        serde_json::json!([
            "ci/Deployment/docker-builder",
            "ci/Job/nightly-image-28569120",
            "monitoring/DaemonSet/dd-agent"
        ])
    );
    assert!(legacy.get("plan").is_none(), "plan only with --plan");

    let legacy2 = node(&v, "worker-legacy-2");
    assert_eq!(
        (legacy2["verdict"].as_str(), legacy2["profile"].as_str()),
        (Some("dockershim"), Some("containerd"))
    );
    assert_eq!(legacy2["arch"], "arm64");
    let shim = node(&v, "worker-shim-1");
    assert_eq!(
        (shim["verdict"].as_str(), shim["affected"].as_bool()),
        (Some("cri-dockerd"), Some(false))
    );
    assert!(shim["profile"].is_null());
    assert_eq!(node(&v, "worker-crio-1")["verdict"], "cri-o");
    let ctrd = node(&v, "worker-ctrd-1");
    assert_eq!(ctrd["verdict"], "containerd");
    assert_eq!(
        ctrd["docker_socket_workloads"],
        serde_json::json!(["default/Pod/debug-shell"])
    );
    let win = node(&v, "win-worker-1");
    assert_eq!(win["verdict"], "windows-out-of-scope");
    assert_eq!(win["affected"], true);
    assert!(win["profile"].is_null());
    assert!(win["reason"]
        .as_str()
        .unwrap_or("")
        .contains("out of scope"));

    let workloads = v["docker_socket_workloads"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<String> = workloads
        .iter()
        .map(|w| format!("{}/{}/{}", w["namespace"], w["kind"], w["name"]).replace('"', ""))
        .collect();
    assert_eq!(
        names,
        [
            "ci/Deployment/docker-builder",
            "ci/Job/nightly-image-28569120",
            "default/Pod/debug-shell",
            "monitoring/DaemonSet/dd-agent",
            "win/Deployment/iis-logger"
        ]
    );
    // The pending docker-builder pod counts, though it has no node yet.
    assert_eq!(workloads[0]["pods"], 2);
    assert_eq!(
        workloads[0]["nodes"],
        serde_json::json!(["worker-legacy-1"])
    );
    assert_eq!(
        workloads[3]["nodes"],
        serde_json::json!(["worker-legacy-1", "worker-shim-1"])
    );
}

#[test]
fn without_docker_socket_pods_every_affected_node_gets_containerd() {
    let nodes = fx("nodes-mixed.json");
    for pods in [None, Some(fx("pods-clean.json"))] {
        let mut args = vec!["--nodes", nodes.as_str()];
        if let Some(p) = &pods {
            args.extend(["--pods", p.as_str()]);
        }
        let (code, v) = json(&args);
        assert_eq!(code, 3);
        assert_eq!(
            node(&v, "worker-legacy-1")["profile"],
            "containerd",
            "pods: {pods:?}"
        );
        assert_eq!(node(&v, "worker-legacy-2")["profile"], "containerd");
        assert_eq!(v["summary"]["docker_socket_pods"], 0);
        assert_eq!(v["summary"]["pods_scanned"].is_null(), pods.is_none());
    }
}

#[test]
fn plan_gives_one_runbook_per_pool_of_affected_nodes_only() {
    let nodes = fx("nodes-mixed.json");
    let pods = fx("pods-mixed.json");
    let r = detect(&["--nodes", &nodes, "--pods", &pods, "--plan"], None);
    assert_eq!(r.code, 3);
    let out = &r.stdout;
    // The fixture's nodes carry no pool label: the affected ones form one batch.
    let affected = "worker-legacy-1 worker-legacy-2 win-worker-1";
    for cmd in [
        "builder render --profile cri-dockerd --arch amd64 --kubernetes 1.23",
        "builder render --profile containerd --arch arm64 --kubernetes 1.23",
        "kubectl wait --for=condition=Ready node/NEW_NODE",
        &format!("kubectl cordon {affected}\n"),
        &format!("kubectl drain {affected} --ignore-daemonsets --delete-emptydir-data"),
        &format!("kubectl delete node {affected}\n"),
    ] {
        assert!(out.contains(cmd), "plan lacks {cmd:?}:\n{out}");
    }
    assert_eq!(out.matches("builder render").count(), 2, "none for Windows");
    assert!(out.contains("Plan for pool (no pool label): 3 node(s)"));
    assert!(out.contains("Windows on containerd for 1 Windows node(s)"));
    assert!(out.contains(
        "pinned to Docker by: ci/Deployment/docker-builder, ci/Job/nightly-image-28569120, monitoring/DaemonSet/dd-agent"
    ));
    // The old nodes go only after their replacements are up.
    let at = |s: &str| out.find(s).unwrap_or(usize::MAX);
    assert!(at("builder render") < at("kubectl wait") && at("kubectl wait") < at("kubectl cordon"));
    assert!(
        at("kubectl cordon") < at("kubectl drain")
            && at("kubectl drain") < at("kubectl delete node")
    );
}

#[test]
fn plan_in_json_lists_steps_with_commands() {
    let nodes = fx("nodes-mixed.json");
    let (_, v) = json(&["--nodes", &nodes, "--plan"]);
    let legacy2 = node(&v, "worker-legacy-2");
    assert_eq!(
        (&legacy2["minor"], &legacy2["pool"]),
        (&"1.23".into(), &"(no pool label)".into())
    );
    let steps = legacy2["plan"].as_array().cloned().unwrap_or_default();
    let kinds: Vec<&str> = steps.iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(kinds, ["render", "bring-up", "cordon", "drain", "delete"]);
    assert_eq!(
        steps[0]["command"],
        "builder render --profile containerd --arch arm64 --kubernetes 1.23"
    );
    assert_eq!(steps[4]["command"], "kubectl delete node worker-legacy-2");
    assert!(steps[1]["note"].as_str().unwrap_or("").contains("Ready"));
    assert!(node(&v, "worker-shim-1").get("plan").is_none());
    let pool_steps = v["pools"][0]["plan"].as_array().map_or(0, Vec::len);
    assert_eq!(
        pool_steps, 6,
        "two renders, bring-up, cordon, drain, delete"
    );
}

/// A kubectl Node; `kubelet` None leaves kubeletVersion out.
fn kube_node(
    name: &str,
    kubelet: Option<&str>,
    runtime: &str,
    arch: &str,
    labels: &[(&str, &str)],
) -> Value {
    let mut labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), (*v).into()))
        .collect();
    labels.insert("kubernetes.io/arch".into(), arch.into());
    labels.insert("kubernetes.io/os".into(), "linux".into());
    let mut info = serde_json::json!({
        "containerRuntimeVersion": runtime, "operatingSystem": "linux", "architecture": arch
    });
    if let Some(k) = kubelet {
        info["kubeletVersion"] = k.into();
    }
    serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "status": {"nodeInfo": info}
    })
}

/// `builder detect --nodes - ARGS` on a List of `nodes`.
fn detect_fleet(nodes: &[Value], args: &[&str]) -> Run {
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": nodes});
    let mut all = vec!["--nodes", "-"];
    all.extend(args);
    detect(&all, Some(list.to_string().as_bytes()))
}

/// Whether `what` appears in the plan (after the table and the summary).
fn in_plans(out: &str, what: &str) -> bool {
    out.split("\nPlan for pool ")
        .skip(1)
        .any(|p| p.contains(what))
}

/// The plan's command lines that start with `prefix`.
fn commands(out: &str, prefix: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.trim_start().split_once(". "))
        .map(|(_, cmd)| cmd.to_string())
        .filter(|cmd| cmd.starts_with(prefix))
        .collect()
}

/// containerd 1.5 (what Kubernetes 1.22 supports) is pinned for amd64 only: the amd64 pool's
/// render line works as printed, the arm64 pool's names the init + pin path instead.
#[test]
fn a_minor_pinned_for_one_arch_gets_the_init_path_on_the_other() {
    let fleet = [("amd64", "np-x86"), ("arm64", "np-arm")].map(|(arch, pool)| {
        kube_node(
            &format!("{pool}-1"),
            Some("v1.22.17"),
            "docker://20.10.24",
            arch,
            &[("cloud.google.com/gke-nodepool", pool)],
        )
    });
    let r = detect_fleet(&fleet, &["--plan"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let out = &r.stdout;
    let plan = |pool: &str| {
        out.split("\nPlan for pool ")
            .find(|p| p.starts_with(pool))
            .unwrap_or_else(|| panic!("no plan for {pool}: {out}"))
            .to_string()
    };
    let x86 = plan("np-x86");
    assert!(
        x86.contains("builder render --profile containerd --arch amd64 --kubernetes 1.22"),
        "{x86}"
    );
    assert!(!x86.contains("builder init"), "{x86}");
    let arm = plan("np-arm");
    assert!(
        arm.contains("builder render --profile containerd --arch arm64 --kubernetes 1.22"),
        "{arm}"
    );
    assert!(
        arm.contains("builder init containerd-1.22 --runtime containerd --kubernetes 1.22"),
        "{arm}"
    );
}

#[test]
fn a_1_23_nodegroup_gives_one_render_at_its_minor_and_one_pool_step() {
    let ng = [("eks.amazonaws.com/nodegroup", "ng-legacy")];
    let mut fleet: Vec<Value> = (1..=3)
        .map(|i| {
            kube_node(
                &format!("ip-10-0-0-{i}"),
                Some("v1.23.17-eks-1a2b3c"),
                "docker://20.10.24",
                "amd64",
                &ng,
            )
        })
        .collect();
    // Negative control: a node of the same group already on containerd.
    fleet.push(kube_node(
        "ip-10-0-0-9",
        Some("v1.23.17-eks-1a2b3c"),
        "containerd://1.6.28",
        "amd64",
        &ng,
    ));
    let r = detect_fleet(&fleet, &["--plan"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let out = &r.stdout;
    assert_eq!(
        commands(out, "builder render"),
        ["builder render --profile containerd --arch amd64 --kubernetes 1.23"]
    );
    assert_eq!(out.matches("\nPlan for pool ").count(), 1, "{out}");
    // The catalog pins containerd 1.6 for 1.23: the render line works as printed, so no init +
    // pin path is given (tests/it/minors.rs shows the render picks 1.6.39).
    assert!(!out.contains("builder init containerd-1.23"), "{out}");
    assert!(
        out.contains("Plan for pool ng-legacy (eks.amazonaws.com/nodegroup): 3 node(s)"),
        "{out}"
    );
    assert!(out.contains("ng-legacy (eks.amazonaws.com/nodegroup): 3 node(s): 3 dockershim -> containerd, 1.23, amd64"));
    assert_eq!(commands(out, "kubectl wait").len(), 1);
    assert_eq!(
        commands(out, "kubectl cordon"),
        ["kubectl cordon ip-10-0-0-1 ip-10-0-0-2 ip-10-0-0-3"]
    );
    assert!(
        !in_plans(out, "ip-10-0-0-9"),
        "the containerd node is in no plan"
    );
}

#[test]
fn a_mixed_fleet_gets_one_plan_per_pool_at_each_pools_minor() {
    let gke = [("cloud.google.com/gke-nodepool", "default-pool")];
    let aks = [
        ("kubernetes.azure.com/agentpool", "arm1"),
        ("agentpool", "arm1"),
    ];
    let aks_old = [("agentpool", "old1")];
    let kops = [
        ("kops.k8s.io/instancegroup", "nodes-a"),
        ("node.kubernetes.io/instance-type", "m5.large"),
    ];
    let capi = [("cluster.x-k8s.io/deployment-name", "md-0")];
    let it = [("node.kubernetes.io/instance-type", "m6i.large")];
    let it_old = [("beta.kubernetes.io/instance-type", "m4.large")];
    let shim = "docker://20.10.24";
    let fleet = [
        kube_node("gke-1", Some("v1.22.17-gke.900"), shim, "amd64", &gke),
        kube_node("gke-2", Some("v1.22.17-gke.900"), shim, "amd64", &gke),
        kube_node(
            "gke-3",
            Some("v1.22.17-gke.900"),
            "containerd://1.6.28",
            "amd64",
            &gke,
        ),
        // 1.27 on Docker is cri-dockerd already: in no plan.
        kube_node("aks-1", Some("v1.27.9"), shim, "arm64", &aks),
        kube_node("aks-2", Some("v1.21.14"), shim, "arm64", &aks_old),
        kube_node("kops-1", Some("v1.20.15"), shim, "amd64", &kops),
        kube_node("capi-1", Some("v1.23.17"), shim, "arm64", &capi),
        kube_node("it-1", Some("v1.36.1"), shim, "amd64", &it),
        kube_node("it-2", Some("v1.23.5"), shim, "amd64", &it_old),
        kube_node("bare-1", None, shim, "amd64", &[]),
    ];
    let r = detect_fleet(&fleet, &["--plan"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    let out = &r.stdout;
    let mut renders = commands(out, "builder render");
    renders.sort();
    assert_eq!(
        renders,
        [
            "builder render --profile containerd --arch amd64 --kubernetes 1.20",
            "builder render --profile containerd --arch amd64 --kubernetes 1.22",
            "builder render --profile containerd --arch amd64 --kubernetes 1.23",
            "builder render --profile containerd --arch arm64 --kubernetes 1.21",
            "builder render --profile containerd --arch arm64 --kubernetes 1.23",
        ]
    );
    for heading in [
        "Plan for pool default-pool (cloud.google.com/gke-nodepool): 2 node(s)",
        "Plan for pool old1 (agentpool): 1 node(s)",
        "Plan for pool nodes-a (kops.k8s.io/instancegroup): 1 node(s)",
        "Plan for pool md-0 (cluster.x-k8s.io/deployment-name): 1 node(s)",
        "Plan for pool instance type m4.large (beta.kubernetes.io/instance-type): 1 node(s)",
    ] {
        assert!(out.contains(heading), "no {heading:?} in\n{out}");
    }
    assert_eq!(out.matches("\nPlan for pool ").count(), 5);
    for absent in ["aks-1", "it-1", "bare-1", "gke-3"] {
        assert!(!in_plans(out, absent), "{absent} in a plan");
    }
    assert!(in_plans(out, "gke-2") && !out.contains("--kubernetes 1.36"));
    assert_eq!(row(out, "it-1")[3], "cri-dockerd");
    assert_eq!(row(out, "bare-1")[3], "unknown");

    let (code, v) = {
        let r = detect_fleet(&fleet, &["-o", "json"]);
        (
            r.code,
            serde_json::from_str::<Value>(&r.stdout).expect("json"),
        )
    };
    assert_eq!(code, 3);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(
        (&node(&v, "gke-1")["minor"], &node(&v, "gke-1")["pool"]),
        (&"1.22".into(), &"default-pool".into())
    );
    assert_eq!(
        node(&v, "aks-1")["pool"],
        "arm1",
        "the AKS label wins over the legacy one"
    );
    assert_eq!(node(&v, "it-1")["pool"], "instance type m6i.large");
    assert_eq!(
        (&node(&v, "bare-1")["minor"], &node(&v, "bare-1")["pool"]),
        (&Value::Null, &"(no pool label)".into())
    );
    let pools = v["pools"].as_array().cloned().unwrap_or_default();
    assert_eq!(pools.len(), 5);
    let gke_pool = &pools[0];
    assert_eq!(gke_pool["name"], "default-pool");
    assert_eq!(gke_pool["label"], "cloud.google.com/gke-nodepool");
    assert_eq!(gke_pool["node_count"], 2);
    assert_eq!(gke_pool["nodes"], serde_json::json!(["gke-1", "gke-2"]));
    let g = &gke_pool["groups"][0];
    assert_eq!(
        (
            &g["verdict"],
            &g["profile"],
            &g["minor"],
            &g["arch"],
            &g["node_count"]
        ),
        (
            &"dockershim".into(),
            &"containerd".into(),
            &"1.22".into(),
            &"amd64".into(),
            &2.into()
        )
    );
    assert_eq!(
        g["render"],
        "builder render --profile containerd --arch amd64 --kubernetes 1.22"
    );
    assert!(
        gke_pool.get("plan").is_none(),
        "the pool's steps only with --plan"
    );
}

#[test]
fn one_node_without_a_kubelet_version_renders_the_profiles_minor_and_says_so() {
    let cmdline = fx("kubelet-cmdline-dockershim");
    let r = detect(&["--kubelet-cmdline", &cmdline, "--plan"], None);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(
        commands(&r.stdout, "builder render"),
        ["builder render --profile containerd"]
    );
    assert!(
        r.stdout.contains("Kubernetes minor is unknown"),
        "{}",
        r.stdout
    );
}

#[test]
fn migrated_fleet_exits_zero() {
    let nodes = fx("nodes-migrated.json");
    let r = detect(&["--nodes", &nodes, "--plan"], None);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(row(&r.stdout, "worker-1-23-shim")[3], "cri-dockerd");
    assert_eq!(row(&r.stdout, "win-worker-2")[3], "windows-out-of-scope");
    assert!(r.stdout.contains("nothing to replace"));
    let (code, v) = json(&["--nodes", &nodes]);
    assert_eq!(
        (code, &v["summary"]["affected"], &v["summary"]["exit_code"]),
        (0, &0.into(), &0.into())
    );
}

#[test]
fn a_single_node_object_and_standard_input_work() {
    let single = fx("node-single.json");
    let (code, v) = json(&["--nodes", &single]);
    assert_eq!(code, 3);
    assert_eq!(v["summary"]["nodes"], 1);
    assert_eq!(node(&v, "worker-legacy-1")["verdict"], "dockershim");

    let bytes = std::fs::read(fx("nodes-migrated.json")).expect("fixture");
    let r = detect(&["--nodes", "-", "-o", "json"], Some(&bytes));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["summary"]["nodes"], 5);
    assert_eq!(v["inputs"]["nodes"], "-");
}

#[test]
fn an_empty_list_is_reported_not_silent() {
    let empty = fx("empty-list.json");
    let r = detect(&["--nodes", &empty], None);
    assert_eq!(r.code, 0);
    assert!(
        r.stderr.contains("empty") && r.stderr.contains("empty-list.json"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("0 node(s)"));
}

fn assert_input_error(r: &Run, file: &str, what: &[&str]) {
    assert_eq!(r.code, 1, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    assert!(r.stdout.is_empty(), "no report on bad input: {}", r.stdout);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert!(
        r.stderr.contains(file),
        "error does not name {file}: {}",
        r.stderr
    );
    for w in what {
        assert!(r.stderr.contains(w), "error lacks {w:?}: {}", r.stderr);
    }
}

#[test]
fn malformed_node_files_are_errors_naming_the_file() {
    let expected = "kubectl get nodes -o json";
    let cases = [
        ("not-json.yaml", "not JSON"),
        ("nodes-truncated.json", "truncated"),
        ("deployment.json", "holds a Deployment"),
        ("binary.bin", "binary"),
        ("pods-mixed.json", "item 0 is a Pod, not a Node"),
        ("does-not-exist.json", "cannot read"),
    ];
    for (file, what) in cases {
        let path = fx(file);
        let r = detect(&["--nodes", &path], None);
        assert_input_error(&r, &path, &[what, expected]);
    }
    let r = detect(
        &["--nodes", "-"],
        Some(b"{\"kind\": \"List\", \"items\": ["),
    );
    assert_input_error(&r, "standard input", &["truncated", expected]);
}

#[test]
fn malformed_pod_files_are_errors_naming_the_file() {
    let nodes = fx("nodes-mixed.json");
    for (file, what) in [
        ("nodes-mixed.json", "item 0 is a Node, not a Pod"),
        ("binary.bin", "binary"),
    ] {
        let path = fx(file);
        let r = detect(&["--nodes", &nodes, "--pods", &path], None);
        assert_input_error(&r, &path, &["--pods", what, "kubectl get pods -A -o json"]);
    }
    let r = detect(&["--nodes", "-", "--pods", "-"], Some(b"{}"));
    assert_input_error(&r, "standard input", &["both"]);
}

#[test]
fn kubelet_cmdline_and_flags_env_judge_one_node() {
    let cases = [
        (
            "--kubelet-cmdline",
            "kubelet-cmdline-dockershim",
            3,
            "dockershim",
        ),
        (
            "--kubelet-cmdline",
            "kubelet-cmdline-cri-dockerd",
            0,
            "cri-dockerd",
        ),
        (
            "--kubelet-cmdline",
            "kubelet-cmdline-containerd",
            0,
            "containerd",
        ),
        (
            "--flags-env",
            "kubeadm-flags-dockershim.env",
            3,
            "dockershim",
        ),
        (
            "--flags-env",
            "kubeadm-flags-cri-dockerd.env",
            0,
            "cri-dockerd",
        ),
        (
            "--flags-env",
            "kubeadm-flags-containerd.env",
            0,
            "containerd",
        ),
    ];
    for (flag, file, want_code, verdict) in cases {
        let path = fx(file);
        let (code, v) = json(&[flag, &path]);
        assert_eq!(code, want_code, "{file}");
        let n = &v["nodes"][0];
        assert_eq!(n["verdict"], verdict, "{file}: {n}");
    }
    let (_, v) = json(&["--kubelet-cmdline", &fx("kubelet-cmdline-cri-dockerd")]);
    assert_eq!(
        v["nodes"][0]["name"], "worker-shim-1",
        "from --hostname-override"
    );
    assert_eq!(
        v["nodes"][0]["cri_socket"],
        "unix:///var/run/cri-dockerd.sock"
    );
    let (_, v) = json(&["--kubelet-cmdline", &fx("kubelet-cmdline-containerd")]);
    assert_eq!(
        v["nodes"][0]["cri_socket"],
        "unix:///run/containerd/containerd.sock"
    );
    let r = detect(
        &["--flags-env", &fx("kubeadm-flags-dockershim.env"), "--plan"],
        None,
    );
    assert!(
        r.stdout.contains("builder render --profile containerd"),
        "{}",
        r.stdout
    );
}

#[test]
fn bad_kubelet_inputs_are_errors_naming_the_file() {
    let path = fx("not-a-kubelet-cmdline");
    let r = detect(&["--kubelet-cmdline", &path], None);
    assert_input_error(&r, &path, &["not a kubelet", "cmdline"]);
    let path = fx("nodes-mixed.json");
    let r = detect(&["--flags-env", &path], None);
    assert_input_error(&r, &path, &["KUBELET_KUBEADM_ARGS"]);
    let path = fx("binary.bin");
    let r = detect(&["--kubelet-cmdline", &path], None);
    assert_input_error(&r, &path, &["binary"]);
}

#[test]
fn usage_errors_are_rejected() {
    assert_ne!(detect(&[], None).code, 0, "some input is required");
    let nodes = fx("nodes-mixed.json");
    let cmdline = fx("kubelet-cmdline-dockershim");
    assert_ne!(
        detect(&["--nodes", &nodes, "--kubelet-cmdline", &cmdline], None).code,
        0
    );
    assert_ne!(
        detect(&["--nodes", &nodes, "--output", "yaml"], None).code,
        0
    );
}

#[test]
fn files_and_standard_input_give_the_same_report() {
    // Files take the streaming reader, standard input the whole-buffer parser.
    let nodes = fx("nodes-mixed.json");
    let pods = fx("pods-mixed.json");
    let (_, mut from_file) = json(&["--nodes", &nodes, "--pods", &pods, "--plan"]);
    let bytes = std::fs::read(&pods).expect("fixture");
    let r = detect(
        &["--nodes", &nodes, "--pods", "-", "--plan", "-o", "json"],
        Some(&bytes),
    );
    let mut from_stdin: Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(from_stdin["inputs"]["pods"], "-");
    from_file["inputs"] = Value::Null;
    from_stdin["inputs"] = Value::Null;
    assert_eq!(from_file, from_stdin);
}

/// Peak RSS in KiB of `builder ARGS`, by /usr/bin/time (installed by the test command).
fn peak_rss_kib(args: &[&str]) -> Option<(i32, u64, String)> {
    let time = std::path::Path::new("/usr/bin/time");
    if !time.exists() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("rss");
    let out = Command::new(time)
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(env!("CARGO_BIN_EXE_builder"))
        .args(args)
        .output()
        .unwrap();
    // After "Command exited with non-zero status N" when it did.
    let report = std::fs::read_to_string(&report).unwrap();
    let kib = report.lines().last().unwrap().trim().parse().unwrap();
    Some((
        out.status.code().unwrap_or(-1),
        kib,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn a_huge_blank_file_is_refused_without_reading_it_into_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blank.json");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![b' '; 1 << 20];
    for i in 0..256 {
        f.write_all(if i % 64 == 63 { b"\n" } else { &chunk })
            .unwrap();
    }
    drop(f);
    let p = path.to_str().unwrap();
    let Some((code, kib, err)) = peak_rss_kib(&["detect", "--nodes", p]) else {
        skip_or_fail("/usr/bin/time is missing (the test command installs it)");
        return;
    };
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is empty"), "{err}");
    assert!(
        kib < 64 * 1024,
        "peak RSS {kib} KiB for a 252 MiB blank file"
    );
}

#[test]
fn one_node_with_pods_is_matched_by_its_name() {
    let cmdline = fx("kubelet-cmdline-dockershim");
    let pods = fx("pods-mixed.json");
    // worker-legacy-1 runs three workloads that mount the Docker socket: cri-dockerd.
    let (code, v) = json(&[
        "--kubelet-cmdline",
        &cmdline,
        "--pods",
        &pods,
        "--node-name",
        "worker-legacy-1",
    ]);
    assert_eq!(code, 3);
    let n = node(&v, "worker-legacy-1");
    assert_eq!(n["profile"], "cri-dockerd", "{n}");
    assert!(
        n["reason"]
            .as_str()
            .unwrap()
            .contains("3 workload(s) here mount the Docker socket"),
        "{n}"
    );
    assert_eq!(
        n["docker_socket_workloads"],
        serde_json::json!([
            "ci/Deployment/docker-builder",
            "ci/Job/nightly-image-28569120",
            "monitoring/DaemonSet/dd-agent"
        ])
    );
    assert_eq!(v["summary"]["pods_scanned"], 15);
    assert_eq!(v["inputs"]["node_name"], "worker-legacy-1");
    // Control: worker-legacy-2 has pods, none on the Docker socket: containerd, said so.
    let (_, v) = json(&[
        "--kubelet-cmdline",
        &cmdline,
        "--pods",
        &pods,
        "--node-name",
        "worker-legacy-2",
    ]);
    let n = node(&v, "worker-legacy-2");
    assert_eq!(n["profile"], "containerd", "{n}");
    let reason = n["reason"].as_str().unwrap();
    assert!(
        reason.contains("no pod here mounts the Docker socket"),
        "{n}"
    );
    assert!(!reason.contains("no --pods given"), "{n}");
}

#[test]
fn one_node_with_pods_takes_its_name_from_hostname_override() {
    let dir = tempfile::tempdir().unwrap();
    let cmdline = dir.path().join("cmdline");
    std::fs::write(
        &cmdline,
        b"/usr/bin/kubelet\0--network-plugin=cni\0--hostname-override=worker-legacy-1\0",
    )
    .unwrap();
    let cmdline = cmdline.display().to_string();
    let (code, v) = json(&[
        "--kubelet-cmdline",
        &cmdline,
        "--pods",
        &fx("pods-mixed.json"),
    ]);
    assert_eq!(code, 3);
    assert_eq!(node(&v, "worker-legacy-1")["profile"], "cri-dockerd");
    // --node-name wins over --hostname-override.
    let (_, v) = json(&[
        "--kubelet-cmdline",
        &cmdline,
        "--pods",
        &fx("pods-mixed.json"),
        "--node-name",
        "worker-legacy-2",
    ]);
    assert_eq!(node(&v, "worker-legacy-2")["profile"], "containerd");
    // A name no pod runs on is reported, not silently taken as "no Docker use".
    let r = detect(
        &[
            "--kubelet-cmdline",
            &cmdline,
            "--pods",
            &fx("pods-mixed.json"),
            "--node-name",
            "typo",
        ],
        None,
    );
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("warning: no pod in --pods runs on node \"typo\""),
        "{}",
        r.stderr
    );
}

#[test]
fn one_node_with_pods_but_no_name_is_refused() {
    // The fixture has no --hostname-override.
    let r = detect(
        &[
            "--kubelet-cmdline",
            &fx("kubelet-cmdline-dockershim"),
            "--pods",
            &fx("pods-mixed.json"),
        ],
        None,
    );
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr
            .starts_with("error: --pods with one node's kubelet flags needs that node's name")
            && r.stderr.contains("--node-name NAME"),
        "{}",
        r.stderr
    );
    // Control: without --pods the same command line is judged (and says pods were not read).
    let r = detect(
        &["--kubelet-cmdline", &fx("kubelet-cmdline-dockershim")],
        None,
    );
    assert_eq!(r.code, 3);
    assert!(r.stdout.contains("no --pods given"), "{}", r.stdout);
}

#[test]
fn without_nodes_the_error_names_every_input() {
    for args in [
        &[][..],
        &["--pods", "tests/fixtures/detect/pods-mixed.json"][..],
    ] {
        let r = detect(args, None);
        assert_eq!(r.code, 1, "{args:?}");
        let first = r.stderr.lines().next().unwrap_or_default();
        for flag in [
            "--nodes",
            "--pods",
            "--kubelet-cmdline",
            "--flags-env",
            "--node-name",
        ] {
            assert!(first.contains(flag), "{flag} missing from: {first}");
        }
    }
    let r = detect(
        &["--flags-env", "-", "--pods", "-"],
        Some(b"KUBELET_KUBEADM_ARGS=\"\"\n"),
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("cannot both read standard input"),
        "{}",
        r.stderr
    );
}

/// `builder detect ARGS` with stdin, stdout and stderr on a pseudo-terminal (util-linux
/// `script`), fed `input` after a second; returns everything the terminal showed.
fn on_a_terminal(args: &str, input: &[u8]) -> String {
    let cmd = format!("{} detect {args}", env!("CARGO_BIN_EXE_builder"));
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the command on a pty");
    let mut pipe = child.stdin.take().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    pipe.write_all(input).unwrap();
    // Ctrl-D on an empty line: end of input for the program on the terminal.
    std::thread::sleep(std::time::Duration::from_millis(500));
    pipe.write_all(b"\x04").unwrap();
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn stdin_on_a_terminal_gets_a_hint_and_a_pipe_does_not() {
    let nodes = std::fs::read(fx("node-single.json")).unwrap();
    let shown = on_a_terminal("--nodes -", &nodes);
    let hint = "reading --nodes from standard input, a terminal: waiting for the JSON";
    assert!(shown.contains(hint), "{shown}");
    // The report still follows, read from the terminal.
    assert!(shown.contains("1 node(s), 1 affected"), "{shown}");
    // Control: piped, no hint.
    let r = detect(&["--nodes", "-"], Some(&nodes));
    assert_eq!(r.code, 3);
    assert!(!r.stderr.contains("waiting"), "{}", r.stderr);
}

/// Loads `page` (with `fragment`) in headless Chromium: (the DOM after its script ran, the
/// console lines Chromium logged).
fn chromium_dom(chromium: &Path, page: &Path, fragment: &str) -> (String, String) {
    let o = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("file://{}{fragment}", page.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let console: String = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(|l| format!("{l}\n"))
        .collect();
    (String::from_utf8(o.stdout).unwrap(), console)
}

#[test]
fn the_html_report_opens_in_chromium_with_the_json_counts() {
    let nodes = fx("nodes-mixed.json");
    let pods = fx("pods-mixed.json");
    let json = detect(
        &["--nodes", &nodes, "--pods", &pods, "--plan", "-o", "json"],
        None,
    );
    let html = detect(
        &["--nodes", &nodes, "--pods", &pods, "--plan", "-o", "html"],
        None,
    );
    assert_eq!((json.code, html.code), (3, 3), "{}", html.stderr);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let s = &doc["summary"];
    let page = &html.stdout;
    // Self-contained: nothing it would fetch.
    for external in ["src=\"http", "href=\"http", "@import", "url("] {
        assert!(!page.contains(external), "{external} in the page");
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("detect-report");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.html");
    std::fs::write(&file, page).unwrap();
    let Some(chromium) = consumer("chromium", which("chromium")) else {
        return;
    };
    let (dom, console) = chromium_dom(&chromium, &file, "");
    assert_eq!(console, "", "console messages on load");
    assert!(
        dom.contains("data-ready=\"yes\"") && dom.contains("data-ready-ms=\""),
        "the page's script did not run"
    );
    let count = |needle: &str| dom.matches(needle).count();
    assert_eq!(
        count("<tr class=\"node"),
        s["nodes"].as_u64().unwrap() as usize
    );
    assert_eq!(
        count("<tr class=\"node affected\""),
        s["affected"].as_u64().unwrap() as usize
    );
    assert!(dom.contains(&format!("<span id=\"n-affected\">{}</span>", s["affected"])));
    for (verdict, n) in s["verdicts"].as_object().unwrap() {
        assert_eq!(
            count(&format!("data-verdict=\"{verdict}\"")),
            n.as_u64().unwrap() as usize,
            "{verdict}"
        );
    }
    assert_eq!(
        count("<tr class=\"workload\""),
        doc["docker_socket_workloads"].as_array().unwrap().len()
    );
    for step in doc["pools"][0]["plan"].as_array().unwrap() {
        let command = step["command"].as_str().unwrap();
        let shown = command
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        assert!(dom.contains(&shown), "plan command missing: {command}");
    }
    // The filter box (from the address): only the matching rows stay visible.
    let (dom, console) = chromium_dom(&chromium, &file, "#filter=worker-legacy");
    assert_eq!(console, "");
    assert!(
        dom.contains("<span id=\"n-shown\">2</span>"),
        "filter did not apply"
    );
    assert_eq!(
        dom.matches("<tr class=\"node").count() - dom.matches("hidden=\"\"").count(),
        2
    );
    // Kept for people to look at.
    let shot = dir.join("report.png");
    let o = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=1280,1600",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap();
    assert!(
        o.status.success() && shot.is_file(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Control: a script error is seen on the console.
    let broken = dir.join("broken.html");
    assert!(
        page.contains("apply();void document.body"),
        "the script changed: update the control"
    );
    std::fs::write(
        &broken,
        page.replace("apply();void document.body", "applyy();void document.body"),
    )
    .unwrap();
    let (dom, console) = chromium_dom(&chromium, &broken, "");
    assert!(console.contains("Uncaught ReferenceError"), "{console}");
    assert!(!dom.contains("data-ready=\"yes\""));
}
