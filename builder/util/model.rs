//! The value types every layer shares: architecture, runtime (with its CRI socket and units),
//! Kubernetes minor, the kubelet flags builder manages, release versions and in-rootfs paths.
//!
//! A leaf: it imports nothing from the crate, so any module may use it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A CPU architecture, spelled as Kubernetes and the release assets spell it (serde too:
/// [`Arch::as_str`]).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    clap::ValueEnum,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Amd64,
    Arm64,
    Ppc64le,
    S390x,
}

impl Arch {
    pub const ALL: [Arch; 4] = [Arch::Amd64, Arch::Arm64, Arch::Ppc64le, Arch::S390x];

    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
            Arch::Ppc64le => "ppc64le",
            Arch::S390x => "s390x",
        }
    }

    /// The kernel's name (`uname -m`), used by Docker's static downloads.
    pub fn uname(self) -> &'static str {
        match self {
            Arch::Amd64 => "x86_64",
            Arch::Arm64 => "aarch64",
            Arch::Ppc64le => "ppc64le",
            Arch::S390x => "s390x",
        }
    }

    pub fn parse(s: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The arch a kernel name (`uname -m`: x86_64, aarch64, ...) stands for, for hints; also
    /// the other common spellings (x86-64, x64, arm64v8). Not accepted as names: profiles and
    /// flags take Kubernetes' names only.
    pub fn from_uname(s: &str) -> Option<Arch> {
        let lower = s.to_ascii_lowercase();
        if let Some(arch) = Arch::ALL.into_iter().find(|a| a.uname() == lower) {
            return Some(arch);
        }
        match lower.as_str() {
            "x86-64" | "x64" | "amd64" => Some(Arch::Amd64),
            "arm64v8" | "aarch64_be" | "armv8" | "arm64" => Some(Arch::Arm64),
            "ppc64el" => Some(Arch::Ppc64le),
            _ => None,
        }
    }

    /// Every arch name, comma separated, for error messages.
    pub fn list() -> String {
        Arch::ALL.map(Arch::as_str).join(", ")
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the overlay archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// overlay.tar.gz: readable everywhere (GNU tar -z, every image tool)
    #[default]
    Gzip,
    /// overlay.tar.zst: faster to make and smaller; unpacking needs zstd (GNU tar --zstd)
    Zstd,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// GNU tar's option that reads it.
    pub fn tar_flag(self) -> &'static str {
        match self {
            Compression::Gzip => "-z",
            Compression::Zstd => "--zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A systemd unit a runtime enables, and the target that wants it (`WantedBy=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    pub name: &'static str,
    pub wanted_by: &'static str,
}

/// The container runtime the node runs pods through; serde and clap spell it as
/// [`Runtime::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum Runtime {
    /// containerd: pods never talk to Docker (the `containerd` profile)
    #[serde(rename = "containerd")]
    Containerd,
    /// Docker Engine behind the cri-dockerd shim, for workloads that use Docker itself (the `cri-dockerd` profile)
    #[serde(rename = "cri-dockerd")]
    CriDockerd,
}

const CONTAINERD_UNITS: &[Unit] = &[Unit {
    name: "containerd.service",
    wanted_by: "multi-user.target",
}];

/// Sockets before the services they activate.
const CRI_DOCKERD_UNITS: &[Unit] = &[
    Unit {
        name: "containerd.service",
        wanted_by: "multi-user.target",
    },
    Unit {
        name: "docker.socket",
        wanted_by: "sockets.target",
    },
    Unit {
        name: "docker.service",
        wanted_by: "multi-user.target",
    },
    Unit {
        name: "cri-docker.socket",
        wanted_by: "sockets.target",
    },
    Unit {
        name: "cri-docker.service",
        wanted_by: "multi-user.target",
    },
];

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::CriDockerd => "cri-dockerd",
        }
    }

    /// The CRI socket the kubelet, crictl and kubeadm talk to, as kubeadm spells it
    /// (cri-docker.socket listens on `%t/cri-dockerd.sock`).
    pub fn cri_socket(self) -> &'static str {
        match self {
            Runtime::Containerd => "unix:///var/run/containerd/containerd.sock",
            Runtime::CriDockerd => "unix:///var/run/cri-dockerd.sock",
        }
    }

    /// The units to enable and start, in order.
    pub fn units(self) -> &'static [Unit] {
        match self {
            Runtime::Containerd => CONTAINERD_UNITS,
            Runtime::CriDockerd => CRI_DOCKERD_UNITS,
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Kubernetes minor version, `1.N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeMinor(pub u32);

/// The oldest Kubernetes minor builder builds nodes for: older kubelets predate the flags it writes.
pub const OLDEST_MINOR: u32 = 20;

impl std::str::FromStr for KubeMinor {
    type Err = String;

    /// `"1.N"`, N at least [`OLDEST_MINOR`]; the error says how to write it.
    fn from_str(s: &str) -> Result<KubeMinor, String> {
        let bad = || {
            format!(
                "bad Kubernetes minor {s:?}: write it as \"1.N\" (for example \"1.36\"), the minor the nodes' kubelet runs"
            )
        };
        let rest = s.strip_prefix("1.").ok_or_else(bad)?;
        if rest.is_empty() || rest.len() > 3 || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let minor: u32 = rest.parse().map_err(|_| bad())?;
        if minor < OLDEST_MINOR {
            return Err(format!(
                "Kubernetes {s} is older than this builder supports (1.{OLDEST_MINOR} and later)"
            ));
        }
        Ok(KubeMinor(minor))
    }
}

impl fmt::Display for KubeMinor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "1.{}", self.0)
    }
}

/// kubeadm's pause image per Kubernetes minor (`PauseVersion` in kubeadm's constants,
/// cmd/kubeadm/app/constants/constants.go, as `kubeadm config images list` prints it), from
/// 1.20 on: each entry is the minor where the version changed.
const KUBEADM_PAUSE: &[(u32, &str)] = &[
    (20, "3.2"),
    (21, "3.4.1"),
    (22, "3.5"),
    (23, "3.6"),
    (24, "3.7"),
    (25, "3.8"),
    (26, "3.9"),
    (31, "3.10"),
    (34, "3.10.1"),
    (36, "3.10.2"),
];

impl KubeMinor {
    /// The pause image kubeadm pulls and expects the runtime to use for this minor, and
    /// whether builder knows it (`false`: a minor newer than the table, given the newest
    /// image builder knows).
    pub fn kubeadm_pause_image(self) -> (String, bool) {
        let newest = KUBEADM_PAUSE.last().map_or(0, |(m, _)| *m);
        let tag = KUBEADM_PAUSE
            .iter()
            .rev()
            .find(|(m, _)| *m <= self.0)
            .map_or("3.2", |(_, t)| t);
        (format!("registry.k8s.io/pause:{tag}"), self.0 <= newest)
    }
}

/// What a kubelet flag builder manages is derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerivedFrom {
    /// The runtime's CRI socket. kubeadm derives these from `nodeRegistration.criSocket` too.
    CriSocket,
    /// The runtime's sandbox (pause) image.
    SandboxImage,
}

/// The kubelet flags builder writes from the profile's runtime and Kubernetes minor; a profile
/// may not set them in `extra_args`.
pub const MANAGED_FLAGS: &[(&str, DerivedFrom)] = &[
    ("container-runtime", DerivedFrom::CriSocket),
    ("container-runtime-endpoint", DerivedFrom::CriSocket),
    ("image-service-endpoint", DerivedFrom::CriSocket),
    ("pod-infra-container-image", DerivedFrom::SandboxImage),
];

/// What a managed kubelet flag is derived from; `None` for a flag builder leaves alone.
pub fn managed_flag(name: &str) -> Option<DerivedFrom> {
    MANAGED_FLAGS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, d)| *d)
}

/// `X.Y.Z` with an optional `-suffix`/`+suffix` of letters, digits, '.', '-'.
pub fn valid_version(v: &str) -> bool {
    let (core, suffix) = match v.find(['-', '+']) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let core_ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()));
    let suffix_ok = suffix.is_none_or(|s| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    });
    core_ok && suffix_ok
}

/// (major, minor, patch) of a valid version.
pub fn version_triple(v: &str) -> (u32, u32, u32) {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let mut it = core.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// A render flag's URL template (`--overlay-url`, `--sysext-url`): `{arch}` is the only
/// placeholder, and with several arches it is required, since each arch's `what` has its own
/// digest.
pub fn check_arch_template(
    flag: &str,
    template: &str,
    arches: &[Arch],
    what: &str,
) -> Result<(), String> {
    let rest = template.replace("{arch}", "");
    if rest.contains('{') || rest.contains('}') {
        return Err(format!(
            "{flag} {template:?}: the only placeholder is {{arch}}"
        ));
    }
    if arches.len() > 1 && !template.contains("{arch}") {
        return Err(format!(
            "{flag} {template:?} has no {{arch}}, but {} arches are rendered and each {what} has its own digest; \
             add {{arch}} or render one --arch at a time",
            arches.len()
        ));
    }
    Ok(())
}

/// A path inside the rootfs must be absolute, normalised and stay inside (a trailing `/`, for
/// "into this folder", is allowed).
pub fn check_target(to: &str) -> Result<(), String> {
    if !to.starts_with('/') {
        return Err(format!(
            "install target {to:?} must be an absolute path such as \"/usr/local/bin/\""
        ));
    }
    let body = to.trim_end_matches('/');
    if body.is_empty() {
        return Err(format!(
            "install target {to:?} is the root itself; name a folder or file"
        ));
    }
    for part in body[1..].split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(format!(
                "install target {to:?} has an empty, '.' or '..' component; write a plain absolute path"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(valid_version("2.3.4"));
        assert!(valid_version("1.0.0-rc.1"));
        assert!(!valid_version("v2.3.4"));
        assert!(!valid_version("2.3"));
        assert!(!valid_version("2.3.4-"));
        assert_eq!(version_triple("1.7.34"), (1, 7, 34));
    }

    #[test]
    fn managed_flags_and_their_origin() {
        assert_eq!(
            managed_flag("container-runtime-endpoint"),
            Some(DerivedFrom::CriSocket)
        );
        assert_eq!(
            managed_flag("pod-infra-container-image"),
            Some(DerivedFrom::SandboxImage)
        );
        assert_eq!(managed_flag("node-labels"), None);
    }

    #[test]
    fn pause_images_follow_kubeadm() {
        let pause = |m| KubeMinor(m).kubeadm_pause_image();
        assert_eq!(pause(23).0, "registry.k8s.io/pause:3.6");
        assert_eq!(pause(30).0, "registry.k8s.io/pause:3.9");
        assert_eq!(pause(33).0, "registry.k8s.io/pause:3.10");
        assert_eq!(pause(34).0, "registry.k8s.io/pause:3.10.1");
        assert_eq!(pause(35).0, "registry.k8s.io/pause:3.10.1");
        assert_eq!(
            pause(36),
            ("registry.k8s.io/pause:3.10.2".to_string(), true)
        );
        assert_eq!(
            pause(37),
            ("registry.k8s.io/pause:3.10.2".to_string(), false)
        );
    }

    #[test]
    fn runtime_facts() {
        assert_eq!(
            Runtime::Containerd.cri_socket(),
            "unix:///var/run/containerd/containerd.sock"
        );
        let names: Vec<&str> = Runtime::CriDockerd.units().iter().map(|u| u.name).collect();
        assert_eq!(
            names,
            [
                "containerd.service",
                "docker.socket",
                "docker.service",
                "cri-docker.socket",
                "cri-docker.service"
            ]
        );
    }

    #[test]
    fn serde_spells_arches_and_runtimes_as_as_str_does() {
        for arch in Arch::ALL {
            let json = serde_json::to_string(&arch).unwrap();
            assert_eq!(json, format!("\"{}\"", arch.as_str()));
            assert_eq!(serde_json::from_str::<Arch>(&json).unwrap(), arch);
            assert_eq!(arch.to_string(), arch.as_str());
        }
        for runtime in [Runtime::Containerd, Runtime::CriDockerd] {
            let json = serde_json::to_string(&runtime).unwrap();
            assert_eq!(json, format!("\"{}\"", runtime.as_str()));
            assert_eq!(serde_json::from_str::<Runtime>(&json).unwrap(), runtime);
            assert_eq!(runtime.to_string(), runtime.as_str());
        }
        for bad in ["\"AMD64\"", "\"x86_64\"", "\"\"", "1"] {
            assert!(serde_json::from_str::<Arch>(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Runtime>("\"docker\"").is_err());
    }

    #[test]
    fn targets() {
        assert!(check_target("/usr/local/bin/").is_ok());
        assert!(check_target("usr/bin").is_err());
        assert!(check_target("/").is_err());
        assert!(check_target("/usr/../etc").is_err());
        assert!(check_target("/usr//bin").is_err());
    }
}
