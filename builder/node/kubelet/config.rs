//! The kubelet's files: `/var/lib/kubelet/kubeadm-flags.env` in kubeadm's own format (one
//! `KUBELET_KUBEADM_ARGS="..."` line, `--name=value` arguments sorted by name) and, from 1.34,
//! `instance-config.yaml`. Which flags a Kubernetes minor takes is the plan's
//! (`plan::kubelet_flags`); this only writes them.

use std::collections::BTreeMap;

use crate::util::model::KubeMinor;

/// Go's `%q` for the characters that can appear here.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `/var/lib/kubelet/instance-config.yaml` from 1.34 on: with kubeadm's NodeLocalCRISocket
/// (beta and on by default in 1.34, GA in 1.36) kubeadm reads the node's CRI socket from this
/// file instead of a node annotation, and applies it as a patch to the kubelet's config.yaml.
/// Byte for byte what kubeadm writes (`WriteInstanceConfigToDisk`,
/// cmd/kubeadm/app/phases/kubelet/config.go): one line, `containerRuntimeEndpoint: %q`.
pub fn instance_config(minor: KubeMinor, endpoint: &str) -> Option<String> {
    (minor.0 >= 34).then(|| format!("containerRuntimeEndpoint: {}\n", go_quote(endpoint)))
}

/// The file's text (kubeadm writes no comment into it, and neither do we).
pub fn kubeadm_flags_env(args: &BTreeMap<String, String>) -> String {
    let joined: Vec<String> = args.iter().map(|(k, v)| format!("--{k}={v}")).collect();
    format!("KUBELET_KUBEADM_ARGS={}\n", go_quote(&joined.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::assert_golden;

    const SOCK: &str = "unix:///var/run/containerd/containerd.sock";
    const PAUSE: &str = "registry.k8s.io/pause:3.10.1";

    fn render(minor: u32) -> String {
        let extra = BTreeMap::from([(
            "node-labels".to_string(),
            "node.kubernetes.io/runtime=containerd".to_string(),
        )]);
        kubeadm_flags_env(&crate::profile::plan::kubelet_flags(
            KubeMinor(minor),
            SOCK,
            PAUSE,
            &extra,
        ))
    }

    #[test]
    fn goldens_per_version_band() {
        assert_golden("kubeadm-flags-1.24.env", &render(24));
        assert_golden("kubeadm-flags-1.30.env", &render(30));
        assert_golden("kubeadm-flags-1.36.env", &render(36));
    }

    #[test]
    fn version_boundaries() {
        assert!(render(25).contains("--container-runtime=remote"));
        assert!(!render(26).contains("--container-runtime=remote"));
        assert!(!render(27).contains("--container-runtime="));
        assert!(render(34).contains("--pod-infra-container-image="));
        assert!(!render(35).contains("--pod-infra-container-image"));
        for m in 20..40 {
            assert!(render(m).contains(&format!("--container-runtime-endpoint={SOCK}")));
        }
    }

    #[test]
    fn instance_config_from_134() {
        assert!(instance_config(KubeMinor(33), SOCK).is_none());
        assert_golden(
            "kubelet-instance-config.yaml",
            &instance_config(KubeMinor(34), SOCK).unwrap(),
        );
    }

    #[test]
    fn one_sorted_line() {
        let text = render(30);
        assert_eq!(text.lines().count(), 1);
        let inner = text
            .trim_end()
            .strip_prefix("KUBELET_KUBEADM_ARGS=\"")
            .unwrap()
            .strip_suffix('"')
            .unwrap();
        let names: Vec<&str> = inner
            .split(' ')
            .map(|a| a.split('=').next().unwrap())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }
}
