//! The verdict rules of `builder detect`: what a node's runtime, kubelet version and cri-socket
//! annotation (or its kubelet flags) say about dockershim, which hostPaths expose the Docker
//! socket, and which workload owns a pod.

use serde::Serialize;

use super::kubectl::{Node, OwnerRef};
use super::pools::kubelet_minor;

/// What a node runs, as far as the input tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Docker through the kubelet's built-in dockershim: must move before upgrading to 1.24.
    #[serde(rename = "dockershim")]
    Dockershim,
    /// Docker Engine through cri-dockerd (or another external shim): already off dockershim.
    #[serde(rename = "cri-dockerd")]
    CriDockerd,
    /// containerd: not affected.
    #[serde(rename = "containerd")]
    Containerd,
    /// CRI-O: not affected.
    #[serde(rename = "cri-o")]
    CriO,
    /// Another CRI runtime that is not Docker: not affected.
    #[serde(rename = "other-runtime")]
    OtherRuntime,
    /// A Windows node: out of scope for builder's Linux profiles.
    #[serde(rename = "windows-out-of-scope")]
    WindowsOutOfScope,
    /// The input does not tell.
    #[serde(rename = "unknown")]
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Dockershim => "dockershim",
            Verdict::CriDockerd => "cri-dockerd",
            Verdict::Containerd => "containerd",
            Verdict::CriO => "cri-o",
            Verdict::OtherRuntime => "other-runtime",
            Verdict::WindowsOutOfScope => "windows-out-of-scope",
            Verdict::Unknown => "unknown",
        }
    }
}

/// A verdict with whether the node is on dockershim and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub verdict: Verdict,
    /// True when the node uses dockershim (whatever its OS): it blocks the upgrade to 1.24.
    pub affected: bool,
    pub reason: String,
}

fn assessment(verdict: Verdict, reason: String) -> Assessment {
    let affected = verdict == Verdict::Dockershim;
    Assessment {
        verdict,
        affected,
        reason,
    }
}

/// What a CRI socket path or endpoint names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Socket {
    Dockershim,
    CriDockerd,
    Containerd,
    CriO,
    /// Docker Engine's own API socket: not a CRI endpoint.
    Docker,
    Other,
}

pub fn socket_kind(endpoint: &str) -> Socket {
    let l = endpoint.to_ascii_lowercase();
    if l.contains("dockershim") {
        Socket::Dockershim
    } else if l.contains("cri-docker") {
        Socket::CriDockerd
    } else if l.contains("crio") || l.contains("cri-o") {
        Socket::CriO
    } else if l.contains("containerd") {
        Socket::Containerd
    } else if l.contains("docker.sock") || l.contains("docker_engine") {
        Socket::Docker
    } else {
        Socket::Other
    }
}

/// The verdict for one node from kubectl's view of it.
pub fn assess_node(node: &Node) -> Assessment {
    let base = assess_runtime(node);
    let windows = node
        .os
        .as_deref()
        .is_some_and(|o| o.eq_ignore_ascii_case("windows"));
    if !windows {
        return base;
    }
    Assessment {
        verdict: Verdict::WindowsOutOfScope,
        affected: base.affected,
        reason: format!(
            "Windows node, out of scope for builder's Linux profiles: {}",
            base.reason
        ),
    }
}

/// "; cri-socket X is stale" when the kubeadm annotation names another runtime than the one running.
fn stale(sock: Option<&str>, running: Socket) -> String {
    match sock {
        Some(s) if !matches!(socket_kind(s), Socket::Other) && socket_kind(s) != running => {
            format!("; cri-socket {s} is stale")
        }
        _ => String::new(),
    }
}

fn assess_runtime(node: &Node) -> Assessment {
    let Some(runtime) = node.runtime.as_deref() else {
        return assessment(
            Verdict::Unknown,
            "no containerRuntimeVersion reported (not Ready yet?)".into(),
        );
    };
    let sock = node.cri_socket.as_deref();
    let (scheme, version) = runtime.split_once("://").unwrap_or(("", runtime));
    match scheme.to_ascii_lowercase().as_str() {
        "docker" => assess_docker(node, version, sock),
        "containerd" => assessment(
            Verdict::Containerd,
            format!(
                "containerd {version}: not affected{}",
                stale(sock, Socket::Containerd)
            ),
        ),
        "cri-o" | "crio" => assessment(
            Verdict::CriO,
            format!("CRI-O {version}: not affected{}", stale(sock, Socket::CriO)),
        ),
        "" => assessment(
            Verdict::Unknown,
            format!("unrecognised containerRuntimeVersion {runtime:?}"),
        ),
        other => assessment(
            Verdict::OtherRuntime,
            format!("{other} {version} is not Docker: not affected"),
        ),
    }
}

fn assess_docker(node: &Node, version: &str, sock: Option<&str>) -> Assessment {
    let kubelet = node.kubelet_version.as_deref().unwrap_or("");
    let on = format!("docker {version} on kubelet {kubelet}");
    match (kubelet_minor(kubelet), sock.map(socket_kind)) {
        (Some(v), _) if v >= (1, 24) => assessment(
            Verdict::CriDockerd,
            format!(
                "{on}: dockershim is gone since 1.24, so cri-dockerd (or another shim){}",
                stale(sock, Socket::CriDockerd)
            ),
        ),
        (_, Some(Socket::CriDockerd)) => assessment(
            Verdict::CriDockerd,
            format!(
                "{on} via cri-socket {}: already off dockershim",
                sock.unwrap_or("")
            ),
        ),
        (Some(_), None) => assessment(
            Verdict::Dockershim,
            format!("{on} (< 1.24), no cri-dockerd socket: built-in dockershim, move before 1.24"),
        ),
        (Some(_), Some(Socket::Dockershim | Socket::Docker)) => assessment(
            Verdict::Dockershim,
            format!(
                "{on} (< 1.24), cri-socket {}: built-in dockershim, move before 1.24",
                sock.unwrap_or("")
            ),
        ),
        (Some(_), Some(_)) => assessment(
            Verdict::Unknown,
            format!(
                "{on} but cri-socket {}: check its kubelet flags (--kubelet-cmdline)",
                sock.unwrap_or("")
            ),
        ),
        (None, _) => assessment(
            Verdict::Unknown,
            format!("{on}: unreadable kubelet version (dockershim if older than 1.24)"),
        ),
    }
}

/// The kubelet flags that say which runtime it talks to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KubeletFlags {
    pub container_runtime: Option<String>,
    pub endpoint: Option<String>,
    pub hostname_override: Option<String>,
    pub config: Option<String>,
    pub network_plugin: Option<String>,
}

/// Reads `--flag=value` and `--flag value`; later occurrences win, as in the kubelet.
pub fn kubelet_flags(args: &[String]) -> KubeletFlags {
    let mut f = KubeletFlags::default();
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            continue;
        };
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, None),
        };
        let slot = match name {
            "container-runtime" => &mut f.container_runtime,
            "container-runtime-endpoint" => &mut f.endpoint,
            "hostname-override" => &mut f.hostname_override,
            "config" => &mut f.config,
            "network-plugin" => &mut f.network_plugin,
            _ => continue,
        };
        let value = match value {
            Some(v) => v,
            None => match args.get(i) {
                Some(next) if !next.starts_with('-') => {
                    i += 1;
                    next.clone()
                }
                _ => String::new(),
            },
        };
        *slot = Some(value);
    }
    f
}

/// Splits a /proc/PID/cmdline into arguments (a space-separated copy is accepted too).
pub fn parse_cmdline(s: &str) -> std::result::Result<Vec<String>, String> {
    let args: Vec<String> = if s.contains('\0') {
        s.split('\0')
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect()
    } else {
        s.split_whitespace().map(str::to_string).collect()
    };
    let is_kubelet = |a: &String| a.rsplit('/').next().is_some_and(|b| b.contains("kubelet"));
    if !args.iter().take(2).any(is_kubelet) {
        let first = args.first().map(String::as_str).unwrap_or("");
        return Err(format!("its first argument is {first:?}, not a kubelet"));
    }
    Ok(args)
}

/// Reads the arguments of every KUBELET_*ARGS=... line of a kubeadm-flags.env.
pub fn parse_flags_env(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut found = false;
    for line in s.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!("line {line:?} is not NAME=VALUE"));
        };
        if !name.starts_with("KUBELET_") {
            continue;
        }
        found = true;
        args.extend(split_shell_words(value));
    }
    if !found {
        return Err("it has no KUBELET_KUBEADM_ARGS=... line".into());
    }
    Ok(args)
}

/// The words of a `NAME=VALUE` line's value: one pair of outer quotes is removed (as a shell or
/// systemd's EnvironmentFile does), then the value splits on whitespace, as `$NAME` does in ExecStart.
fn split_shell_words(value: &str) -> Vec<String> {
    let v = value.trim();
    let unquoted = ['"', '\'']
        .iter()
        .find_map(|&q| v.strip_prefix(q).and_then(|v| v.strip_suffix(q)))
        .unwrap_or(v);
    unquoted.split_whitespace().map(str::to_string).collect()
}

/// The verdict for one node from its kubelet flags.
pub fn assess_kubelet(f: &KubeletFlags) -> Assessment {
    if f.container_runtime.as_deref() == Some("docker") {
        return assessment(
            Verdict::Dockershim,
            "--container-runtime=docker: the built-in dockershim; move before upgrading to 1.24"
                .into(),
        );
    }
    if let Some(ep) = f.endpoint.as_deref().filter(|e| !e.is_empty()) {
        let (verdict, what) = match socket_kind(ep) {
            Socket::Dockershim => (
                Verdict::Dockershim,
                "dockershim's socket; move before upgrading to 1.24",
            ),
            Socket::CriDockerd => (Verdict::CriDockerd, "cri-dockerd: already off dockershim"),
            Socket::Containerd => (Verdict::Containerd, "containerd: not affected"),
            Socket::CriO => (Verdict::CriO, "CRI-O: not affected"),
            Socket::Docker => (
                Verdict::Unknown,
                "Docker's own API socket, not a CRI endpoint",
            ),
            Socket::Other => (Verdict::OtherRuntime, "not dockershim: not affected"),
        };
        return assessment(
            verdict,
            format!("--container-runtime-endpoint={ep} is {what}"),
        );
    }
    if f.container_runtime.as_deref() == Some("remote") {
        return assessment(
            Verdict::Unknown,
            "--container-runtime=remote without --container-runtime-endpoint: read containerRuntimeEndpoint \
             in the --config file"
                .into(),
        );
    }
    let mut reason = String::from(
        "no --container-runtime-endpoint flag: a kubelet before 1.24 then runs the built-in dockershim",
    );
    if let Some(p) = &f.network_plugin {
        reason.push_str(&format!(" (--network-plugin={p} is a dockershim-era flag)"));
    } else if let Some(c) = &f.config {
        reason.push_str(&format!(
            " (unless the kubelet is 1.27+ and {c} sets containerRuntimeEndpoint)"
        ));
    }
    assessment(Verdict::Dockershim, reason)
}

// ---------------------------------------------------------------------------------------------
// Pods that mount the Docker socket.

/// True for a hostPath that exposes the Docker socket: the socket itself or its folder.
pub fn is_docker_socket_path(path: &str) -> bool {
    if path.eq_ignore_ascii_case(r"\\.\pipe\docker_engine") {
        return true;
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if !path.starts_with('/') {
        return false;
    }
    matches!(
        parts.as_slice(),
        ["var", "run"] | ["run"] | ["var", "run", "docker.sock"] | ["run", "docker.sock"]
    )
}

/// A workload, as `namespace/Kind/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Workload {
    pub namespace: String,
    pub kind: String,
    pub name: String,
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.namespace, self.kind, self.name)
    }
}

/// The workload that owns a pod: its controller, with a Deployment's ReplicaSet
/// (`foo-5d8f7c9b6` with label pod-template-hash=5d8f7c9b6) resolved to Deployment `foo`.
pub fn resolve_owner(
    namespace: &str,
    pod: &str,
    owners: &[OwnerRef],
    template_hash: Option<&str>,
) -> Workload {
    let owner = owners
        .iter()
        .find(|o| o.controller == Some(true))
        .or(owners.first());
    let (kind, name) = match owner {
        Some(OwnerRef {
            kind: Some(k),
            name: Some(n),
            ..
        }) if !k.is_empty() && !n.is_empty() => (k.as_str(), n.as_str()),
        _ => ("Pod", pod),
    };
    let deployment = match (kind, template_hash) {
        ("ReplicaSet", Some(h)) if !h.is_empty() => name
            .strip_suffix(h)
            .and_then(|n| n.strip_suffix('-'))
            .filter(|n| !n.is_empty()),
        _ => None,
    };
    let (kind, name) = match deployment {
        Some(d) => ("Deployment", d),
        None => (kind, name),
    };
    Workload {
        namespace: namespace.to_string(),
        kind: kind.to_string(),
        name: name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kubelet: &str, runtime: &str, sock: Option<&str>, os: &str) -> Node {
        Node {
            name: "n1".into(),
            kubelet_version: Some(kubelet.into()),
            runtime: Some(runtime.into()),
            cri_socket: sock.map(str::to_string),
            os: Some(os.into()),
            arch: Some("amd64".into()),
            ..Default::default()
        }
    }

    fn verdict(kubelet: &str, runtime: &str, sock: Option<&str>) -> (Verdict, bool) {
        let a = assess_node(&node(kubelet, runtime, sock, "linux"));
        (a.verdict, a.affected)
    }

    #[test]
    fn kubelet_versions_parse() {
        assert_eq!(kubelet_minor("v1.23.17"), Some((1, 23)));
        assert_eq!(kubelet_minor("v1.27.4-gke.900"), Some((1, 27)));
        assert_eq!(kubelet_minor("1.25+k3s1"), Some((1, 25)));
        assert_eq!(kubelet_minor("v1.24.0-eks-1a2b3c"), Some((1, 24)));
        assert_eq!(kubelet_minor(""), None);
        assert_eq!(kubelet_minor("vX.Y"), None);
        assert_eq!(kubelet_minor("v1"), None);
    }

    #[test]
    fn docker_before_124_is_dockershim_unless_cri_dockerd() {
        let ds = (Verdict::Dockershim, true);
        assert_eq!(verdict("v1.23.17", "docker://20.10.24", None), ds);
        assert_eq!(
            verdict(
                "v1.23.17",
                "docker://20.10.24",
                Some("/var/run/dockershim.sock")
            ),
            ds
        );
        assert_eq!(
            verdict(
                "v1.20.2",
                "docker://19.3.15",
                Some("unix:///var/run/dockershim.sock")
            ),
            ds
        );
        let shim = (Verdict::CriDockerd, false);
        assert_eq!(
            verdict(
                "v1.23.17",
                "docker://20.10.24",
                Some("unix:///var/run/cri-dockerd.sock")
            ),
            shim
        );
        // A docker:// runtime while the annotation names containerd: conflicting evidence.
        assert_eq!(
            verdict(
                "v1.23.17",
                "docker://20.10.24",
                Some("unix:///run/containerd/containerd.sock")
            ),
            (Verdict::Unknown, false)
        );
    }

    #[test]
    fn docker_from_124_is_cri_dockerd_even_with_a_stale_annotation() {
        let shim = (Verdict::CriDockerd, false);
        assert_eq!(verdict("v1.24.0", "docker://23.0.1", None), shim);
        assert_eq!(
            verdict(
                "v1.25.16",
                "docker://24.0.7",
                Some("unix:///var/run/cri-dockerd.sock")
            ),
            shim
        );
        let a = assess_node(&node(
            "v1.26.3",
            "docker://24.0.7",
            Some("/var/run/dockershim.sock"),
            "linux",
        ));
        assert_eq!(a.verdict, Verdict::CriDockerd);
        assert!(a.reason.contains("stale"), "{}", a.reason);
    }

    #[test]
    fn other_runtimes_and_unknowns() {
        assert_eq!(
            verdict("v1.23.17", "containerd://1.6.28", None),
            (Verdict::Containerd, false)
        );
        assert_eq!(
            verdict("v1.25.16", "cri-o://1.25.4", None),
            (Verdict::CriO, false)
        );
        assert_eq!(
            verdict("v1.25.16", "kata://3.1", None),
            (Verdict::OtherRuntime, false)
        );
        assert_eq!(
            verdict("garbage", "docker://20.10.24", None),
            (Verdict::Unknown, false)
        );
        assert_eq!(
            verdict(
                "garbage",
                "docker://20.10.24",
                Some("unix:///var/run/cri-dockerd.sock")
            ),
            (Verdict::CriDockerd, false)
        );
        assert_eq!(
            verdict("v1.23.17", "docker 20.10", None),
            (Verdict::Unknown, false)
        );
        let mut n = node("v1.23.17", "", None, "linux");
        n.runtime = None;
        assert_eq!(assess_node(&n).verdict, Verdict::Unknown);
    }

    #[test]
    fn windows_is_out_of_scope_but_still_counts_as_dockershim() {
        let a = assess_node(&node("v1.23.17", "docker://20.10.9", None, "windows"));
        assert_eq!(a.verdict, Verdict::WindowsOutOfScope);
        assert!(a.affected);
        assert!(a.reason.contains("out of scope"), "{}", a.reason);
        let b = assess_node(&node("v1.25.16", "containerd://1.6.21", None, "Windows"));
        assert_eq!((b.verdict, b.affected), (Verdict::WindowsOutOfScope, false));
    }

    #[test]
    fn sockets_classify() {
        assert_eq!(
            socket_kind("unix:///var/run/cri-dockerd.sock"),
            Socket::CriDockerd
        );
        assert_eq!(socket_kind("/var/run/dockershim.sock"), Socket::Dockershim);
        assert_eq!(
            socket_kind("npipe:////./pipe/dockershim"),
            Socket::Dockershim
        );
        assert_eq!(
            socket_kind("unix:///run/containerd/containerd.sock"),
            Socket::Containerd
        );
        assert_eq!(socket_kind("unix:///var/run/crio/crio.sock"), Socket::CriO);
        assert_eq!(socket_kind("/var/run/docker.sock"), Socket::Docker);
        assert_eq!(socket_kind("unix:///run/other.sock"), Socket::Other);
    }

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn kubelet_flags_both_forms_last_wins() {
        let f = kubelet_flags(&words(
            "kubelet --container-runtime remote --container-runtime-endpoint=unix:///a.sock \
             --hostname-override n7 --container-runtime-endpoint unix:///run/containerd/containerd.sock -v 2",
        ));
        assert_eq!(f.container_runtime.as_deref(), Some("remote"));
        assert_eq!(
            f.endpoint.as_deref(),
            Some("unix:///run/containerd/containerd.sock")
        );
        assert_eq!(f.hostname_override.as_deref(), Some("n7"));
        // A flag given without a value does not swallow the next flag.
        let g = kubelet_flags(&words("kubelet --config --network-plugin=cni"));
        assert_eq!(g.config.as_deref(), Some(""));
        assert_eq!(g.network_plugin.as_deref(), Some("cni"));
    }

    #[test]
    fn kubelet_flag_verdicts() {
        let v = |s: &str| assess_kubelet(&kubelet_flags(&words(s)));
        assert_eq!(
            v("kubelet --container-runtime=docker").verdict,
            Verdict::Dockershim
        );
        let bare = v("kubelet --config=/var/lib/kubelet/config.yaml");
        assert_eq!(bare.verdict, Verdict::Dockershim);
        assert!(
            bare.reason.contains("containerRuntimeEndpoint"),
            "{}",
            bare.reason
        );
        let ep = |e: &str| v(&format!("kubelet --container-runtime-endpoint={e}")).verdict;
        assert_eq!(ep("unix:///var/run/dockershim.sock"), Verdict::Dockershim);
        assert_eq!(ep("unix:///var/run/cri-dockerd.sock"), Verdict::CriDockerd);
        assert_eq!(
            ep("unix:///run/containerd/containerd.sock"),
            Verdict::Containerd
        );
        assert_eq!(ep("unix:///var/run/crio/crio.sock"), Verdict::CriO);
        assert_eq!(ep("unix:///var/run/docker.sock"), Verdict::Unknown);
        assert_eq!(
            v("kubelet --container-runtime=remote").verdict,
            Verdict::Unknown
        );
    }

    #[test]
    fn cmdline_parses_nul_and_space_separated_and_rejects_non_kubelets() {
        let a = parse_cmdline("/usr/bin/kubelet\0--a=b\0--c\0d\0").unwrap();
        assert_eq!(a, ["/usr/bin/kubelet", "--a=b", "--c", "d"]);
        let b = parse_cmdline("/usr/local/bin/hyperkube kubelet --a=b").unwrap();
        assert_eq!(b.len(), 3);
        assert!(parse_cmdline("/usr/sbin/sshd\0-D\0").is_err());
        assert!(parse_cmdline("").is_err());
    }

    #[test]
    fn flags_env_parses_quoted_values() {
        let a = parse_flags_env(
            "# written by kubeadm\nKUBELET_KUBEADM_ARGS=\"--container-runtime=remote \
             --container-runtime-endpoint=unix:///run/containerd/containerd.sock\"\n",
        )
        .unwrap();
        assert_eq!(
            a,
            [
                "--container-runtime=remote",
                "--container-runtime-endpoint=unix:///run/containerd/containerd.sock"
            ]
        );
        let b = parse_flags_env("KUBELET_EXTRA_ARGS='--node-ip=10.0.0.1'\n").unwrap();
        assert_eq!(b, ["--node-ip=10.0.0.1"]);
        assert!(parse_flags_env("").is_err());
        assert!(parse_flags_env("OTHER=1\n").is_err());
        assert!(parse_flags_env("just some text\n").is_err());
    }

    #[test]
    fn docker_socket_paths_match_socket_and_parents_only() {
        for p in [
            "/var/run/docker.sock",
            "/run/docker.sock",
            "/var/run",
            "/var/run/",
            "/run",
            "/run//",
            "//var//run/docker.sock/",
            "/var/./run",
            r"\\.\pipe\docker_engine",
        ] {
            assert!(is_docker_socket_path(p), "{p}");
        }
        for p in [
            "/var/run/calico",
            "/var/run/docker",
            "/var/lib/docker/containers",
            "/run/xtables.lock",
            "/",
            "/var",
            "var/run/docker.sock",
            "/run/containerd/containerd.sock",
            "",
        ] {
            assert!(!is_docker_socket_path(p), "{p}");
        }
    }

    fn owner(kind: &str, name: &str, controller: Option<bool>) -> OwnerRef {
        OwnerRef {
            kind: Some(kind.into()),
            name: Some(name.into()),
            controller,
        }
    }

    #[test]
    fn owners_resolve_to_workloads() {
        let rs = [owner("ReplicaSet", "foo-5d8f7c9b6", Some(true))];
        let w = resolve_owner("ns", "foo-5d8f7c9b6-abcde", &rs, Some("5d8f7c9b6"));
        assert_eq!(w.to_string(), "ns/Deployment/foo");
        // Without the label (or when it does not match) the ReplicaSet stays itself.
        assert_eq!(
            resolve_owner("ns", "p", &rs, None).to_string(),
            "ns/ReplicaSet/foo-5d8f7c9b6"
        );
        assert_eq!(
            resolve_owner("ns", "p", &rs, Some("zzz")).to_string(),
            "ns/ReplicaSet/foo-5d8f7c9b6"
        );
        // A name that is only the hash does not become an empty Deployment name.
        let bare = [owner("ReplicaSet", "-abc", Some(true))];
        assert_eq!(
            resolve_owner("ns", "p", &bare, Some("abc")).to_string(),
            "ns/ReplicaSet/-abc"
        );
        // The controller wins over other owners; no owner means the pod itself.
        let two = [
            owner("ConfigMap", "cm", None),
            owner("DaemonSet", "agent", Some(true)),
        ];
        assert_eq!(
            resolve_owner("kube-system", "agent-x", &two, None).to_string(),
            "kube-system/DaemonSet/agent"
        );
        assert_eq!(
            resolve_owner("default", "debug", &[], None).to_string(),
            "default/Pod/debug"
        );
        let broken = [OwnerRef {
            kind: None,
            name: Some("x".into()),
            controller: Some(true),
        }];
        assert_eq!(
            resolve_owner("default", "debug", &broken, None).to_string(),
            "default/Pod/debug"
        );
    }
}
