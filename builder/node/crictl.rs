//! `/etc/crictl.yaml`: points crictl at the node's CRI socket.

/// The file's text for a CRI endpoint such as `unix:///run/containerd/containerd.sock`.
pub fn crictl_yaml(profile: &str, endpoint: &str) -> String {
    format!(
        "{header}runtime-endpoint: {endpoint}\nimage-endpoint: {endpoint}\ntimeout: 10\ndebug: false\n",
        header = crate::node::header(profile)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn golden() {
        crate::node::assert_golden(
            "crictl.yaml",
            &super::crictl_yaml("containerd", "unix:///run/containerd/containerd.sock"),
        );
    }
}
