//! `builder detect`: its options, turned into `detect::Options` for one call of `detect::run`
//! (which prints the report and picks the exit code: 0 nothing affected, 3 affected nodes).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::detect::OutputFormat;

/// Options of `builder detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Nodes to check: the output of `kubectl get nodes -o json` (a List, or a single Node); `-` reads standard input
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["kubelet_cmdline", "flags_env", "node_name"])]
    pub nodes: Option<PathBuf>,
    /// The output of `kubectl get pods -A -o json`; pods with a hostPath on the Docker socket pin their node
    /// (and workload) to Docker, so that node gets the cri-dockerd profile; `-` reads standard input.
    /// With --kubelet-cmdline/--flags-env, the node's pods are found by its name (--node-name)
    #[arg(long, value_name = "FILE|-")]
    pub pods: Option<PathBuf>,
    /// Check one node from its kubelet's command line: a copy of /proc/$(pgrep kubelet)/cmdline (NUL-separated)
    #[arg(long, value_name = "FILE")]
    pub kubelet_cmdline: Option<PathBuf>,
    /// Check one node from its /var/lib/kubelet/kubeadm-flags.env (KUBELET_KUBEADM_ARGS="...")
    #[arg(long, value_name = "FILE", conflicts_with = "kubelet_cmdline")]
    pub flags_env: Option<PathBuf>,
    /// With --kubelet-cmdline or --flags-env: the node's name as `kubectl get nodes` shows it, to
    /// match --pods by spec.nodeName and to name it in the report [default: the kubelet's --hostname-override]
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// Output format: a table for people, or JSON (a stable shape with a top-level summary) for machines
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Table: leave out the header row (for scripts that cut columns)
    #[arg(long)]
    pub no_headers: bool,
    /// Add the replacement runbook, one per pool of affected nodes: render (at each node's Kubernetes
    /// minor), bring up, cordon, drain, delete
    #[arg(long)]
    pub plan: bool,
}

impl DetectArgs {
    fn options(self) -> crate::detect::Options {
        crate::detect::Options {
            nodes: self.nodes,
            pods: self.pods,
            kubelet_cmdline: self.kubelet_cmdline,
            flags_env: self.flags_env,
            node_name: self.node_name,
            output: self.output,
            plan: self.plan,
            no_headers: self.no_headers,
        }
    }
}

/// Runs `builder detect`; the exit code is the library's.
pub(super) fn run(args: DetectArgs) -> Result<u8> {
    crate::detect::run(&args.options())
}
