//! Where each upstream publishes the sha256 of its release assets, by artifact name, and how
//! to read those checksum files. It fetches nothing (see `pin::mod`).

use crate::util::digest::Sha256;

/// Where an artifact kind's checksum file is, relative to the asset's own URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `<asset URL><suffix>`, beside the asset (`containerd-V-linux-ARCH.tar.gz.sha256sum`).
    Beside(&'static str),
    /// One file listing every asset of the release, in the asset's folder (`runc.sha256sum`).
    List(&'static str),
    /// Upstream publishes no checksum file.
    Unpublished,
}

/// Artifact name -> rule, as the README's table gives them. Checked against the projects'
/// release pages: containerd and containerd-static `<asset>.sha256sum` (`<hex>  <asset>`);
/// runc one `runc.sha256sum` for every asset; CNI plugins `<asset>.sha256` (`<hex>  <asset>`);
/// crictl `<asset>.sha256` (the hex alone); kubelet, kubeadm and kubectl `<binary>.sha256`
/// beside the binary on the release download path (the hex alone); Docker's static bundles
/// and cri-dockerd publish none.
pub const RULES: &[(&str, Rule)] = &[
    ("containerd", Rule::Beside(".sha256sum")),
    ("containerd-static", Rule::Beside(".sha256sum")),
    ("runc", Rule::List("runc.sha256sum")),
    ("cni-plugins", Rule::Beside(".sha256")),
    ("crictl", Rule::Beside(".sha256")),
    ("kubelet", Rule::Beside(".sha256")),
    ("kubeadm", Rule::Beside(".sha256")),
    ("kubectl", Rule::Beside(".sha256")),
    ("docker-static", Rule::Unpublished),
    ("cri-dockerd", Rule::Unpublished),
];

/// The rule for an artifact name; `None` for a name builder knows no rule for.
pub fn rule(name: &str) -> Option<Rule> {
    RULES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// The names with a checksum file rule, for messages.
pub fn known() -> String {
    RULES
        .iter()
        .filter(|(_, r)| *r != Rule::Unpublished)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The URL's last path segment: the asset's file name.
pub fn file_name(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path)
}

impl Rule {
    /// The checksum file's URL for an asset at `asset_url`; `None` when unpublished.
    pub fn checksum_url(self, asset_url: &str) -> Option<String> {
        let path = asset_url.split(['?', '#']).next().unwrap_or(asset_url);
        match self {
            Rule::Beside(suffix) => Some(format!("{path}{suffix}")),
            Rule::List(list) => {
                let folder = &path[..path.len() - file_name(path).len()];
                Some(format!("{folder}{list}"))
            }
            Rule::Unpublished => None,
        }
    }
}

/// The digest a checksum file gives for `asset`: a `<hex>  <name>` line (sha256sum's format,
/// `*` for binary mode and a leading `./` allowed) naming it, or a file holding the hex alone.
pub fn digest_for(text: &str, asset: &str) -> Result<Sha256, String> {
    let mut alone = Vec::new();
    let mut named = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let hex = parts.next().unwrap_or("").to_ascii_lowercase();
        let Some(hex) = Sha256::parse(&hex) else {
            return Err(format!(
                "the line {:?} does not start with a sha256 (64 hex digits)",
                line.chars().take(80).collect::<String>()
            ));
        };
        match parts.next() {
            None => alone.push(hex),
            Some(name) => {
                let name = name.trim_start_matches('*').trim_start_matches("./");
                named.push((name.to_string(), hex));
            }
        }
    }
    if let Some((_, hex)) = named.iter().find(|(n, _)| n == asset) {
        return Ok(*hex);
    }
    match (alone.as_slice(), named.is_empty()) {
        ([hex], true) => Ok(*hex),
        ([], true) => Err("it is empty".into()),
        (_, true) => Err("it holds several digests and no file names".into()),
        _ => Err(format!(
            "it lists {} but not {asset}",
            named
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn checksum_urls_follow_each_projects_naming() {
        let gh = "https://github.com";
        let cases = [
            (
                "containerd",
                format!("{gh}/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz"),
                format!("{gh}/containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz.sha256sum"),
            ),
            (
                "runc",
                format!("{gh}/opencontainers/runc/releases/download/v1.4.3/runc.arm64"),
                format!("{gh}/opencontainers/runc/releases/download/v1.4.3/runc.sha256sum"),
            ),
            (
                "cni-plugins",
                format!("{gh}/containernetworking/plugins/releases/download/v1.9.1/cni-plugins-linux-amd64-v1.9.1.tgz"),
                format!("{gh}/containernetworking/plugins/releases/download/v1.9.1/cni-plugins-linux-amd64-v1.9.1.tgz.sha256"),
            ),
            (
                "crictl",
                format!("{gh}/kubernetes-sigs/cri-tools/releases/download/v1.36.0/crictl-v1.36.0-linux-amd64.tar.gz"),
                format!("{gh}/kubernetes-sigs/cri-tools/releases/download/v1.36.0/crictl-v1.36.0-linux-amd64.tar.gz.sha256"),
            ),
            (
                "kubelet",
                "https://dl.k8s.io/release/v1.36.3/bin/linux/amd64/kubelet".to_string(),
                "https://dl.k8s.io/release/v1.36.3/bin/linux/amd64/kubelet.sha256".to_string(),
            ),
        ];
        for (name, asset, sums) in cases {
            assert_eq!(
                rule(name).unwrap().checksum_url(&asset),
                Some(sums),
                "{name}"
            );
        }
        assert_eq!(rule("cri-dockerd"), Some(Rule::Unpublished));
        assert_eq!(
            rule("docker-static")
                .unwrap()
                .checksum_url("https://x/d.tgz"),
            None
        );
        assert_eq!(rule("my-tool"), None);
        assert!(!known().contains("cri-dockerd"));
    }

    #[test]
    fn checksum_files_in_every_upstream_format() {
        // containerd, CNI: one named line.
        assert_eq!(
            digest_for(&format!("{A}  c.tar.gz\n"), "c.tar.gz").unwrap(),
            A
        );
        // runc: a list; binary mode and ./ are accepted.
        let list = format!("{B} *runc.amd64\n{A}  ./runc.arm64\n");
        assert_eq!(digest_for(&list, "runc.arm64").unwrap(), A);
        assert_eq!(digest_for(&list, "runc.amd64").unwrap(), B);
        // crictl, kubelet: the hex alone (uppercase read as lowercase).
        assert_eq!(digest_for(&A.to_uppercase(), "kubelet").unwrap(), A);
        // Negative: another asset's line, garbage, empty, ambiguous.
        let e = digest_for(&format!("{A}  other.tgz\n"), "c.tgz").unwrap_err();
        assert!(e.contains("lists other.tgz but not c.tgz"), "{e}");
        assert!(digest_for("<html>Not Found</html>", "c").is_err());
        assert!(digest_for("\n", "c").unwrap_err().contains("empty"));
        assert!(digest_for(&format!("{A}\n{B}\n"), "c").is_err());
    }
}
