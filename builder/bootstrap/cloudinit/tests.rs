use std::collections::BTreeMap;
use std::io::Read;

use super::*;
use crate::node::containerd::config as containerd;
use crate::node::crictl;
use crate::node::kubelet::config as kubelet;
use crate::profile::ContainerdSettings;

const TOKEN: &str = "abcdef.0123456789abcdef";
const HASH: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const CONTAINERD_SOCK: &str = "unix:///var/run/containerd/containerd.sock";
const DOCKERD_SOCK: &str = "unix:///var/run/cri-dockerd.sock";
/// What a cri-dockerd node starts, in order (Docker's static bundle runs its own containerd).
const DOCKER_UNITS: &[&str] = &[
    "containerd.service",
    "docker.socket",
    "docker.service",
    "cri-docker.socket",
    "cri-docker.service",
];

fn join() -> JoinParams {
    JoinParams::new("10.0.0.10:6443".into(), TOKEN.into(), vec![HASH.into()]).unwrap()
}

fn kubelet_args(minor: KubeMinor, sock: &str) -> BTreeMap<String, String> {
    let extra = BTreeMap::from([(
        "node-labels".to_string(),
        "node.kubernetes.io/pool=general".to_string(),
    )]);
    crate::profile::plan::kubelet_flags(minor, sock, "registry.k8s.io/pause:3.10", &extra)
}

/// The files a containerd node's render would hand over in baked mode.
fn containerd_files(minor: KubeMinor) -> Vec<NodeFile> {
    let settings = ContainerdSettings {
        sandbox_image: "registry.k8s.io/pause:3.10".into(),
        systemd_cgroup: true,
        config_path: "/etc/containerd/certs.d".into(),
    };
    let f = |path: &str, content: String| NodeFile {
        path: path.into(),
        mode: 0o644,
        content: content.into_bytes(),
    };
    vec![
        f(
            "/etc/containerd/config.toml",
            containerd::config_toml("node", 3, &settings),
        ),
        f("/etc/crictl.yaml", crictl::crictl_yaml("node", CONTAINERD_SOCK)),
        f(
            "/var/lib/kubelet/kubeadm-flags.env",
            kubelet::kubeadm_flags_env(&kubelet_args(minor, CONTAINERD_SOCK)),
        ),
        f(
            "/etc/containerd/certs.d/registry.example.com/ca.crt",
            fake_pem(),
        ),
        f(
            "/etc/modules-load.d/k8s.conf",
            "# Kernel modules a Kubernetes node needs at boot.\noverlay\nbr_netfilter\n".into(),
        ),
        f(
            "/etc/sysctl.d/99-kubernetes.conf",
            "net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n"
                .into(),
        ),
    ]
}

/// A certificate-shaped file just over INLINE_MAX.
fn fake_pem() -> String {
    let body = yaml::base64(&noise(900, 7));
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

fn docker_files(minor: KubeMinor) -> Vec<NodeFile> {
    vec![
        NodeFile {
            path: "/etc/docker/daemon.json".into(),
            mode: 0o644,
            content: br#"{
  "exec-opts": ["native.cgroupdriver=systemd"],
  "log-driver": "json-file",
  "log-opts": {"max-size": "100m", "max-file": "5"}
}
"#
            .to_vec(),
        },
        NodeFile {
            path: "/etc/crictl.yaml".into(),
            mode: 0o644,
            content: crictl::crictl_yaml("docker", DOCKERD_SOCK).into_bytes(),
        },
        NodeFile {
            path: "/var/lib/kubelet/kubeadm-flags.env".into(),
            mode: 0o644,
            content: kubelet::kubeadm_flags_env(&kubelet_args(minor, DOCKERD_SOCK)).into_bytes(),
        },
    ]
}

struct Case {
    runtime: Runtime,
    minor: KubeMinor,
    files: Vec<NodeFile>,
    fetch: Option<FetchOverlay>,
    join: Option<JoinParams>,
    args: BTreeMap<String, String>,
    cloud: Cloud,
}

impl Case {
    fn containerd(minor: u32) -> Case {
        let minor = KubeMinor(minor);
        Case {
            runtime: Runtime::Containerd,
            minor,
            files: containerd_files(minor),
            fetch: None,
            join: None,
            args: kubelet_args(minor, CONTAINERD_SOCK),
            cloud: Cloud::Aws,
        }
    }

    fn docker(minor: u32) -> Case {
        let minor = KubeMinor(minor);
        Case {
            runtime: Runtime::CriDockerd,
            minor,
            files: docker_files(minor),
            fetch: None,
            join: None,
            args: kubelet_args(minor, DOCKERD_SOCK),
            cloud: Cloud::Aws,
        }
    }

    fn render(&self) -> Result<UserData> {
        render(&UserDataInput {
            profile: "node",
            arch: Arch::Amd64,
            runtime: self.runtime,
            kubernetes: self.minor,
            docker: (self.runtime == Runtime::CriDockerd).then_some("28.3.3"),
            files: &self.files,
            fetch: self.fetch.clone(),
            join: self.join.as_ref(),
            kubelet_args: &self.args,
            cloud: self.cloud,
        })
    }
}

fn text(u: &UserData) -> String {
    assert!(!u.gzipped);
    String::from_utf8(u.bytes.clone()).unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn fetch() -> FetchOverlay {
    FetchOverlay {
        url: "https://artifacts.example.com/node/amd64/overlay.tar.gz".into(),
        sha256: "5e".repeat(32).parse().unwrap(),
        registry: None,
    }
}

#[test]
fn golden_baked_containerd() {
    let u = Case::containerd(30).render().unwrap();
    let t = text(&u);
    crate::node::assert_golden("cloudinit-baked-containerd.yaml", &t);
    // The CA bundle is over INLINE_MAX, so it travels gzipped; the small files are readable.
    assert!(t.contains("- path: '/etc/containerd/certs.d/registry.example.com/ca.crt'\n  owner: 'root:root'\n  permissions: '0644'\n  encoding: 'gz+b64'\n"), "{t}");
    let b64 = t
        .split("encoding: 'gz+b64'\n  content: '")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap();
    assert_eq!(gunzip(&base64_decode(b64)), fake_pem().into_bytes());
    assert!(t.contains("- path: '/etc/containerd/config.toml'\n  owner: 'root:root'\n  permissions: '0644'\n  content: |\n    # Generated by builder"), "{t}");
    assert!(t.contains("systemctl enable --now containerd.service\n"));
    assert!(!t.contains("kubeadm join") && !t.contains(JOIN_CONFIG_PATH));
    assert!(!t.contains(FETCH_SCRIPT_PATH));
    // Not a golden file: the digest covers the version stamp, which changes every release.
    let digest = crate::util::digest::Sha256::of(&u.bytes).to_hex();
    assert_eq!(
        u.meta_data,
        format!(
            "{}instance-id: 'builder-node-amd64-{}'\n",
            crate::node::header("node"),
            &digest[..12]
        )
    );
}

#[test]
fn golden_baked_cri_dockerd_with_join_and_the_token_only_there() {
    let mut case = Case::docker(30);
    case.join = Some(join());
    let u = case.render().unwrap();
    let t = text(&u);
    crate::node::assert_golden("cloudinit-baked-cri-dockerd-join.yaml", &t);
    // The token appears once, inside the 0600 JoinConfiguration's content.
    assert_eq!(t.matches(TOKEN).count(), 1, "{t}");
    assert_eq!(t.matches("0123456789abcdef'").count(), 1, "{t}");
    let at = t.find(TOKEN).unwrap();
    let entry = t[..at].rfind("- path: ").unwrap();
    let end = at + t[at..].find("runcmd:\n").unwrap();
    assert!(
        t[entry..at].starts_with(&format!(
            "- path: '{JOIN_CONFIG_PATH}'\n  owner: 'root:root'\n  permissions: '0600'\n  content: |\n"
        )),
        "{}",
        &t[entry..at]
    );
    assert!(t[entry..at].contains("    apiVersion: kubeadm.k8s.io/v1beta3\n"));
    assert!(t[at..end].contains(&format!("      criSocket: '{DOCKERD_SOCK}'\n")));
    // Everything else the caller may print or store is free of it.
    for other in [
        u.meta_data.clone(),
        format!("{u:?}"),
        format!("{:?}", case.join),
    ] {
        assert!(!other.contains("0123456789abcdef"), "{other}");
    }
    assert!(t.contains("getent group docker >/dev/null || groupadd --system docker\n"));
    assert!(t.contains(
        "systemctl enable --now containerd.service docker.socket docker.service cri-docker.socket cri-docker.service\n  kubeadm join --config /etc/kubernetes/builder-join.yaml\n"
    ));
}

#[test]
fn golden_fetch_mode() {
    let mut case = Case::containerd(33);
    case.fetch = Some(fetch());
    let u = case.render().unwrap();
    let t = text(&u);
    crate::node::assert_golden("cloudinit-fetch-containerd.yaml", &t);
    // The files are the overlay's business in fetch mode.
    assert!(!t.contains("/etc/containerd/config.toml"));
    assert!(t.contains(&format!(
        "- path: '{FETCH_SCRIPT_PATH}'\n  owner: 'root:root'\n  permissions: '0755'\n"
    )));
    // The script stays readable although it is over INLINE_MAX.
    let mut block = String::new();
    yaml::literal_block(
        &mut block,
        "    ",
        &fetch_script(&fetch().url, &fetch().sha256),
    );
    assert!(
        t.contains(&format!("  content: {block}- path: '{NODE_CHECK_PATH}'\n")),
        "{t}"
    );
    assert!(!t.contains("gz+b64"));
    // The fetch runs first, under set -eu, then the self-check, before any unit is touched.
    let run = t.split("runcmd:\n").nth(1).unwrap();
    assert!(
        run.starts_with(&format!(
            "- |\n  set -eu\n  {FETCH_SCRIPT_PATH}\n  {NODE_CHECK_PATH}\n  modprobe -a overlay br_netfilter\n"
        )),
        "{run}"
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let pad = chunk.iter().filter(|&&c| c == b'=').count();
        let mut n = 0u32;
        for &c in chunk {
            n = (n << 6) | if c == b'=' { 0 } else { u32::from(val(c)) };
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..4 - pad]);
    }
    out
}

#[test]
fn api_version_switches_at_131() {
    for (minor, want) in [(30, "v1beta3"), (31, "v1beta4"), (36, "v1beta4")] {
        let mut case = Case::containerd(minor);
        case.join = Some(join());
        let t = text(&case.render().unwrap());
        assert!(
            t.contains(&format!("    apiVersion: kubeadm.k8s.io/{want}\n")),
            "1.{minor}: {t}"
        );
        let list_form = t.contains(
            "      - name: 'node-labels'\n        value: 'node.kubernetes.io/pool=general'\n",
        );
        let map_form = t.contains("        'node-labels': 'node.kubernetes.io/pool=general'\n");
        assert_eq!(
            (list_form, map_form),
            (want == "v1beta4", want == "v1beta3"),
            "1.{minor}: {t}"
        );
    }
}

#[test]
fn deterministic() {
    let mut case = Case::docker(31);
    case.join = Some(join());
    assert_eq!(case.render().unwrap(), case.render().unwrap());
    // The caller's file order does not matter either.
    let a = case.render().unwrap();
    case.files.reverse();
    assert_eq!(a, case.render().unwrap());
}

/// Incompressible bytes (xorshift), so gzip cannot rescue them.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn over_the_aws_limit_names_the_biggest_file() {
    let mut case = Case::containerd(30);
    case.files.push(NodeFile {
        path: "/opt/site/firmware.bin".into(),
        mode: 0o644,
        content: noise(14_000, 1),
    });
    case.files.push(NodeFile {
        path: "/opt/site/ca-bundle.bin".into(),
        mode: 0o644,
        content: noise(3_000, 2),
    });
    let e = case.render().unwrap_err();
    assert!(
        matches!(e.downcast_ref::<Error>(), Some(Error::Input(_))),
        "{e:#}"
    );
    let msg = format!("{e:#}");
    assert!(msg.contains("over the AWS limit of 16384 bytes"), "{msg}");
    assert!(msg.contains("gzipped"), "{msg}");
    let first = msg.split("largest write_files entries: ").nth(1).unwrap();
    assert!(first.starts_with("/opt/site/firmware.bin ("), "{msg}");
    assert!(first.contains("14000 on the node"), "{msg}");
    assert!(first.contains("/opt/site/ca-bundle.bin"), "{msg}");
    // The same files fit Azure's 64 KiB as they are.
    case.cloud = Cloud::Azure;
    assert!(!case.render().unwrap().gzipped);
}

#[test]
fn between_raw_and_gzipped_limit_is_gzipped() {
    let mut case = Case::containerd(30);
    for i in 0..30 {
        case.files.push(NodeFile {
            path: format!("/etc/site/conf.d/{i:02}.conf"),
            mode: 0o644,
            content: format!(
                "# site setting {i}\n{}",
                "key = value-that-repeats\n".repeat(38)
            )
            .into_bytes(),
        });
    }
    case.cloud = Cloud::Gcp;
    let plain = case.render().unwrap();
    let raw = text(&plain);
    assert!(
        raw.len() > Cloud::Aws.limit(),
        "the test needs a big document: {}",
        raw.len()
    );
    case.cloud = Cloud::Aws;
    let u = case.render().unwrap();
    assert!(u.gzipped);
    assert!(u.bytes.len() <= Cloud::Aws.limit());
    assert_eq!(&u.bytes[..3], &[0x1f, 0x8b, 8]);
    // It unpacks to the document a roomier cloud gets, but for the sizing comment.
    let back = String::from_utf8(gunzip(&u.bytes)).unwrap();
    assert_eq!(
        back,
        raw.replace(
            "sized for GCP (262144 bytes)",
            "sized for AWS (16384 bytes)"
        )
    );
    assert_eq!(u, case.render().unwrap(), "gzip must be deterministic");
}

#[test]
fn inline_or_gzip_by_content() {
    let files = [
        (
            "/a/text",
            b"plain\ntext\n".to_vec(),
            "  content: |\n    plain\n    text\n",
        ),
        ("/a/nonl", b"x = 1".to_vec(), "  content: |-\n    x = 1\n"),
        ("/a/empty", Vec::new(), "  content: ''\n"),
        ("/a/bin", vec![0, 159, 146, 150], "  encoding: 'gz+b64'\n"),
        ("/a/crlf", b"dos\r\n".to_vec(), "  encoding: 'gz+b64'\n"),
        (
            "/a/big",
            "y\n".repeat(600).into_bytes(),
            "  encoding: 'gz+b64'\n",
        ),
    ];
    let big = item("/a/script", 0o755, "y\n".repeat(600).as_bytes(), true).unwrap();
    assert!(
        big.yaml.contains("  content: |\n    y\n    y\n"),
        "{}",
        big.yaml
    );
    for (path, content, want) in files {
        let i = item(path, 0o640, &content, false).unwrap();
        assert!(i.yaml.contains("  permissions: '0640'\n"), "{}", i.yaml);
        assert!(i.yaml.contains(want), "{path}: {}", i.yaml);
    }
}

#[test]
fn bad_inputs_are_refused() {
    let mut case = Case::containerd(30);
    case.files.push(NodeFile {
        path: "/etc/x/../passwd".into(),
        mode: 0o644,
        content: b"x".to_vec(),
    });
    assert!(format!("{:#}", case.render().unwrap_err()).contains("not a plain absolute file path"));
    let mut case = Case::containerd(30);
    case.files.push(NodeFile {
        path: "/etc/new\nline".into(),
        mode: 0o644,
        content: b"x".to_vec(),
    });
    assert!(case.render().is_err());
    let mut case = Case::containerd(30);
    case.files.push(case.files[0].clone());
    assert!(format!("{:#}", case.render().unwrap_err()).contains("given twice"));
    for ours in [JOIN_CONFIG_PATH, NODE_CHECK_PATH] {
        let mut case = Case::containerd(30);
        case.files.push(NodeFile {
            path: ours.into(),
            mode: 0o600,
            content: b"x".to_vec(),
        });
        assert!(format!("{:#}", case.render().unwrap_err()).contains("written by builder"));
    }
    let mut case = Case::containerd(30);
    case.fetch = Some(FetchOverlay {
        url: "ftp://example.invalid/overlay.tar.gz".into(),
        sha256: "5e".repeat(32).parse().unwrap(),
        registry: None,
    });
    let e = case.render().unwrap_err();
    assert!(
        matches!(e.downcast_ref::<Error>(), Some(Error::Input(_))),
        "{e:#}"
    );
    for unit in [
        "",
        "containerd",
        "a b.service",
        "x;reboot.service",
        "x\\x2d.service",
    ] {
        assert!(check_unit(unit).is_err(), "{unit:?}");
    }
    check_unit("cri-docker.socket").unwrap();
    check_unit("getty@tty1.service").unwrap();
}

#[test]
fn cloud_limits() {
    assert_eq!(Cloud::Aws.limit(), 16_384);
    assert_eq!(Cloud::Azure.limit(), 65_535);
    assert_eq!(Cloud::Gcp.limit(), 262_144);
    assert_eq!(Cloud::Generic.limit(), 262_144);
    use clap::ValueEnum;
    for c in Cloud::value_variants() {
        assert_eq!(Cloud::from_str(c.as_str(), false).unwrap(), *c);
    }
}

#[test]
fn runtimes_start_these_units_over_these_sockets() {
    let names = |r: Runtime| r.units().iter().map(|u| u.name).collect::<Vec<_>>();
    assert_eq!(names(Runtime::CriDockerd), DOCKER_UNITS);
    assert_eq!(names(Runtime::Containerd), ["containerd.service"]);
    assert_eq!(Runtime::Containerd.cri_socket(), CONTAINERD_SOCK);
    assert_eq!(Runtime::CriDockerd.cri_socket(), DOCKERD_SOCK);
}
