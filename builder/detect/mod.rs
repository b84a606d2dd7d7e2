//! `builder detect`: reads kubectl's node (and pod) JSON, or one kubelet's command line or
//! kubeadm-flags.env, decides per node whether it still runs on dockershim, recommends the
//! profile that replaces it, and prints the table, the JSON report and the `--plan` runbook.
//!
//! Submodules: `kubectl` (reading and checking the input JSON), `stream` (the fast path for big
//! List files), `rules` (the verdict rules, kubelet flags, Docker-socket pods, owner resolution),
//! `pools` (a node's pool and Kubernetes minor), `report` (the report, table and JSON), `plan`
//! (the `--plan` runbook, per pool), `html` (`--output html`, the page to send around).

mod html;
mod kubectl;
mod plan;
mod pools;
mod report;
mod rules;
mod stream;

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::ValueEnum;

use kubectl::{input_error, load_nodes, load_pods, read_input, text, Node, RawPod};
use pools::ProfileMinors;
use report::{build_report, docker_use, write_table, DockerUse, Inputs, TableStyle};
use rules::{
    assess_kubelet, assess_node, kubelet_flags, parse_cmdline, parse_flags_env, Assessment,
};

const CMDLINE_EXPECTED: &str = "the kubelet's /proc/PID/cmdline (NUL-separated arguments)";
const FLAGS_ENV_EXPECTED: &str =
    "a kubeadm-flags.env with a line like KUBELET_KUBEADM_ARGS=\"--flag=value ...\"";

/// What `builder detect` reads and how it reports: the command line's options, as plain
/// values (`--nodes`, with `--pods`; or one node's `--kubelet-cmdline` and/or `--flags-env`,
/// with `--pods` matched by the node's name).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub nodes: Option<PathBuf>,
    pub pods: Option<PathBuf>,
    pub kubelet_cmdline: Option<PathBuf>,
    pub flags_env: Option<PathBuf>,
    /// One node's name as `kubectl get nodes` shows it (wins over `--hostname-override`).
    pub node_name: Option<String>,
    pub output: OutputFormat,
    /// Add the replacement runbook, one per pool of affected nodes.
    pub plan: bool,
    /// Table: leave out the header row.
    pub no_headers: bool,
}

/// `--output` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns as wide as the terminal (REASON shortened to fit), then a summary (and
    /// the plan with --plan)
    #[default]
    Table,
    /// The table with every REASON in full, however wide
    Wide,
    /// One self-contained HTML page to send around: the summary, each pool's plan, the
    /// docker.sock workloads and every node, with a filter box (opens offline)
    Html,
    /// One JSON document (schema_version 1)
    Json,
}

/// How wide the default table may be: the terminal's width when standard output is one, else
/// `COLUMNS` when set (a pager, `watch`), else no limit (a pipe or a file keeps every REASON).
fn table_width() -> Option<usize> {
    use std::io::IsTerminal;
    let stdout = std::io::stdout();
    if stdout.is_terminal() {
        if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size_of(&stdout) {
            return Some(usize::from(w));
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&w| w > 0)
}

// ---------------------------------------------------------------------------------------------
// Entry point.

fn single_node(args: &Options) -> Result<(Vec<Node>, Vec<Assessment>)> {
    let mut all = Vec::new();
    if let Some(p) = &args.flags_env {
        let input = read_input("--flags-env", p, FLAGS_ENV_EXPECTED)?;
        let s = text(&input, FLAGS_ENV_EXPECTED, false)?;
        let parsed = parse_flags_env(s);
        all.extend(parsed.map_err(|e| {
            input_error(format!(
                "{}: {e}; expected {FLAGS_ENV_EXPECTED}",
                input.label
            ))
        })?);
    }
    if let Some(p) = &args.kubelet_cmdline {
        let input = read_input("--kubelet-cmdline", p, CMDLINE_EXPECTED)?;
        let s = text(&input, CMDLINE_EXPECTED, true)?;
        let parsed = parse_cmdline(s);
        all.extend(parsed.map_err(|e| {
            input_error(format!("{}: {e}; expected {CMDLINE_EXPECTED}", input.label))
        })?);
    }
    let flags = kubelet_flags(&all);
    let a = assess_kubelet(&flags);
    let name = args
        .node_name
        .clone()
        .or_else(|| flags.hostname_override.clone())
        .filter(|h| !h.is_empty());
    if name.is_none() && args.pods.is_some() {
        return Err(input_error(
            "--pods with one node's kubelet flags needs that node's name to find its pods, and the kubelet \
             flags have no --hostname-override: pass --node-name NAME (the name `kubectl get nodes` shows)"
                .into(),
        ));
    }
    let node = Node {
        name: name.unwrap_or_else(|| "NODE_NAME".into()),
        runtime: flags.endpoint.clone().or_else(|| {
            flags
                .container_runtime
                .as_ref()
                .map(|r| format!("--container-runtime={r}"))
        }),
        cri_socket: flags.endpoint.clone(),
        ..Default::default()
    };
    Ok((vec![node], vec![a]))
}

/// For the fuzz target `detect_lists`: reads `bytes` as a node list and as a pod list with
/// both readers, and panics where the streaming reader answers differently from the
/// whole-document one. Not an API.
#[doc(hidden)]
pub fn fuzz_lists(bytes: &[u8]) {
    for (streamed, whole) in kubectl::lists_both_ways(bytes) {
        if let Some(streamed) = streamed {
            assert_eq!(streamed, whole, "the two readers disagree");
        }
    }
}

/// For the fuzz target `kubelet_inputs`: reads `text` as a kubelet command line and as a
/// kubeadm-flags.env, and assesses what was read. Not an API.
#[doc(hidden)]
pub fn fuzz_kubelet(text: &str) {
    for args in [parse_cmdline(text), parse_flags_env(text)]
        .into_iter()
        .flatten()
    {
        let _ = assess_kubelet(&kubelet_flags(&args));
    }
}

/// The inputs read from a file or standard input, by flag, for messages.
fn inputs_of(args: &Options) -> [(&'static str, Option<&Path>); 4] {
    [
        ("--nodes", args.nodes.as_deref()),
        ("--pods", args.pods.as_deref()),
        ("--kubelet-cmdline", args.kubelet_cmdline.as_deref()),
        ("--flags-env", args.flags_env.as_deref()),
    ]
}

/// Refuses a run without a node input, or with two inputs on standard input; on a terminal,
/// says that standard input is being waited for.
fn check_inputs(args: &Options) -> Result<()> {
    if args.nodes.is_none() && args.kubelet_cmdline.is_none() && args.flags_env.is_none() {
        return Err(input_error(
            "detect needs nodes to check: --nodes FILE|- (`kubectl get nodes -o json`), or one node's \
             --kubelet-cmdline FILE (a copy of /proc/PID/cmdline) or --flags-env FILE (its kubeadm-flags.env); \
             add --pods FILE|- (`kubectl get pods -A -o json`) to find pods that need Docker, and \
             --node-name NAME with one node's flags; see `builder detect --help`"
                .into(),
        ));
    }
    let stdin = Path::new("-");
    let on_stdin: Vec<&str> = inputs_of(args)
        .into_iter()
        .filter(|(_, p)| *p == Some(stdin))
        .map(|(flag, _)| flag)
        .collect();
    if on_stdin.len() > 1 {
        return Err(input_error(format!(
            "{} cannot both read standard input: give a file for one of them",
            on_stdin.join(" and ")
        )));
    }
    if let Some(flag) = on_stdin.first() {
        if std::io::stdin().is_terminal() {
            eprintln!(
                "builder detect: reading {flag} from standard input, a terminal: waiting for the JSON \
                 (pipe kubectl's output in, or paste it and press Ctrl-D; Ctrl-C to stop)"
            );
        }
    }
    Ok(())
}

/// Pods on the node named `name` (the single-node mode's check that --node-name is right).
fn pods_on(pods: &[RawPod], name: &str) -> usize {
    pods.iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name))
        .count()
}

/// Runs `builder detect`: Ok(0) when no node is on dockershim, Ok(3) when some are.
pub fn run(args: &Options) -> Result<u8> {
    check_inputs(args)?;
    let shown = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    let inputs = Inputs {
        nodes: shown(&args.nodes),
        pods: shown(&args.pods),
        kubelet_cmdline: shown(&args.kubelet_cmdline),
        flags_env: shown(&args.flags_env),
        node_name: args.node_name.clone(),
    };
    let (nodes, assessed, du, pods_scanned) = match &args.nodes {
        Some(nodes_path) => {
            // The two files are read and parsed at the same time (the pod list is the big one).
            let (nodes, pods) = std::thread::scope(|s| {
                let pods = args.pods.as_deref().map(|p| s.spawn(move || load_pods(p)));
                let nodes = load_nodes(nodes_path);
                // A panic there is a bug: pass it on.
                let pods = pods.map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
                (nodes, pods)
            });
            let (nodes, pods) = (nodes?, pods.transpose()?);
            let du = pods
                .as_deref()
                .map(|p| docker_use(&nodes, p))
                .unwrap_or_else(|| DockerUse {
                    per_node: vec![BTreeSet::new(); nodes.len()],
                    ..Default::default()
                });
            let assessed = nodes.iter().map(assess_node).collect();
            (nodes, assessed, du, pods.map(|p| p.len()))
        }
        None => {
            let (nodes, assessed) = single_node(args)?;
            let pods = args.pods.as_deref().map(load_pods).transpose()?;
            let du = match &pods {
                Some(pods) => {
                    if pods_on(pods, &nodes[0].name) == 0 {
                        eprintln!(
                            "warning: no pod in --pods runs on node {:?} (spec.nodeName); check the node's name \
                             (--node-name, else the kubelet's --hostname-override)",
                            nodes[0].name
                        );
                    }
                    docker_use(&nodes, pods)
                }
                None => DockerUse {
                    per_node: vec![BTreeSet::new()],
                    ..Default::default()
                },
            };
            (nodes, assessed, du, pods.map(|p| p.len()))
        }
    };
    if nodes.is_empty() {
        let from = args
            .nodes
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        eprintln!("warning: --nodes {from} holds an empty List: no node to check");
    }
    let mut minors = ProfileMinors::from_lookup();
    let report = build_report(
        nodes,
        assessed,
        &du,
        pods_scanned,
        args.plan,
        inputs,
        &mut minors,
    );
    let code = report.summary.exit_code;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = match args.output {
        OutputFormat::Json => serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        OutputFormat::Html => serde_json::to_value(&report)
            .map_err(std::io::Error::from)
            .and_then(|v| html::write_html(&mut out, &v)),
        OutputFormat::Table | OutputFormat::Wide => {
            let style = TableStyle {
                width: (args.output == OutputFormat::Table)
                    .then(table_width)
                    .flatten(),
                headers: !args.no_headers,
            };
            write_table(&mut out, &report, args.plan, style)
        }
    }
    .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("writing the report to standard output"))
        }
        _ => Ok(code),
    }
}
