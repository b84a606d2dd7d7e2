//! cloud-init user-data checked by its real consumers: `cloud-init schema -c`, cloud-init's own
//! write_files decoder and runcmd shellify (through the Python that runs cloud-init), and the
//! fetch-mode boot script run by sh and bash against a loopback server, in a temp root.
//!
//! Without cloud-init these tests print `SKIP: ...` and pass, unless BUILDER_REQUIRE_CONSUMERS
//! is set (CI installs Debian's `cloud-init` and sets it). Nothing here leaves 127.0.0.1: the
//! scripts run with a cleared environment (no proxy variables).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use builder::bootstrap::cloudinit::*;
use builder::node::containerd::config as containerd;
use builder::node::crictl;
use builder::node::kubelet::config as kubelet;
use builder::profile::plan::kubelet_flags;
use builder::profile::ContainerdSettings;
use builder::util::model::{Arch, KubeMinor, Runtime};

use crate::common::{
    fixture, gunzip_if_gzipped, sha256_hex, skip_or_fail, tar_bytes, which, Behaviour, Member,
    Server, Tmpfs, TOKEN_SECRET,
};

const CONTAINERD_SOCK: &str = "unix:///var/run/containerd/containerd.sock";
const DOCKERD_SOCK: &str = "unix:///var/run/cri-dockerd.sock";

/// The Python interpreter cloud-init runs under (from its `#!` line), or `None` after a SKIP.
fn cloud_init_python() -> Option<String> {
    let found = Command::new("sh")
        .args(["-c", "command -v cloud-init"])
        .output()
        .ok()
        .filter(|o| o.status.success());
    let Some(found) = found else {
        skip_or_fail("cloud-init is not installed (Debian: apt-get install cloud-init); user-data not checked with it");
        return None;
    };
    let path = String::from_utf8(found.stdout).unwrap().trim().to_string();
    let text = std::fs::read_to_string(&path).unwrap();
    let shebang = text.lines().next().unwrap_or("");
    let interp = shebang
        .strip_prefix("#!")
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("{path} does not start with #!: {shebang:?}"));
    Some(interp.to_string())
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `cloud-init schema -c` on the document (gunzipped first if need be).
fn schema(doc: &[u8]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("user-data");
    std::fs::write(&file, gunzip_if_gzipped(doc)).unwrap();
    Command::new("cloud-init")
        .args(["schema", "-c"])
        .arg(&file)
        .output()
        .unwrap()
}

#[track_caller]
fn assert_schema_valid(doc: &[u8], what: &str) {
    let o = schema(doc);
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("Valid cloud-config"),
        "{what}: cloud-init schema refused it\n{}",
        text(&o)
    );
}

/// A user-data document as cloud-init reads it.
struct Decoded {
    keys: Vec<String>,
    /// path -> (owner, mode, content)
    files: BTreeMap<String, (String, u32, Vec<u8>)>,
    /// The runcmd script as cloud-init writes it (`util.shellify`).
    runcmd: String,
}

/// Decodes user-data with cloud-init's own code: gzip detection, YAML loading, write_files'
/// encodings and permissions, runcmd's shell script.
fn decode(python: &str, user_data: &[u8]) -> Decoded {
    const SCRIPT: &str = r##"
import base64, json, sys
from cloudinit import util
from cloudinit.config.cc_write_files import canonicalize_extraction, decode_perms, extract_contents
raw = open(sys.argv[1], "rb").read()
text = util.decode_binary(util.decomp_gzip(raw, quiet=True, decode=False))
assert text.startswith("#cloud-config\n"), text[:40]
cfg = util.load_yaml(text)
files = {}
for f in cfg.get("write_files", []):
    content = extract_contents(f.get("content", ""), canonicalize_extraction(f.get("encoding")))
    if isinstance(content, str):
        content = content.encode()
    files[f["path"]] = [f.get("owner"), decode_perms(f.get("permissions"), None), base64.b16encode(content).decode()]
print(json.dumps({"keys": sorted(cfg), "files": files, "runcmd": util.shellify(cfg["runcmd"])}))
"##;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("user-data");
    std::fs::write(&file, user_data).unwrap();
    let o = Command::new(python)
        .args(["-c", SCRIPT])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "cloud-init's decoder failed\n{}",
        text(&o)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let unhex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    Decoded {
        keys: v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect(),
        files: v["files"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(p, f)| {
                (
                    p.clone(),
                    (
                        f[0].as_str().unwrap().to_string(),
                        f[1].as_u64().unwrap() as u32,
                        unhex(f[2].as_str().unwrap()),
                    ),
                )
            })
            .collect(),
        runcmd: v["runcmd"].as_str().unwrap().to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// What the tests render.

fn join() -> JoinParams {
    JoinParams::from_file(&fixture("cloudinit/join.toml")).unwrap()
}

fn kubelet_args(minor: KubeMinor, sock: &str) -> BTreeMap<String, String> {
    let extra = BTreeMap::from([("node-labels".to_string(), "pool=general".to_string())]);
    kubelet_flags(minor, sock, "registry.k8s.io/pause:3.10", &extra)
}

fn node_files(runtime: Runtime, minor: KubeMinor) -> Vec<NodeFile> {
    let f = |path: &str, mode: u32, content: &[u8]| NodeFile {
        path: path.into(),
        mode,
        content: content.to_vec(),
    };
    let sock = match runtime {
        Runtime::Containerd => CONTAINERD_SOCK,
        Runtime::CriDockerd => DOCKERD_SOCK,
    };
    let mut files = vec![
        f(
            "/etc/crictl.yaml",
            0o644,
            crictl::crictl_yaml("node", sock).as_bytes(),
        ),
        f(
            "/var/lib/kubelet/kubeadm-flags.env",
            0o644,
            kubelet::kubeadm_flags_env(&kubelet_args(minor, sock)).as_bytes(),
        ),
        f(
            "/etc/modules-load.d/k8s.conf",
            0o644,
            b"overlay\nbr_netfilter\n",
        ),
        f(
            "/etc/sysctl.d/99-kubernetes.conf",
            0o644,
            b"net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\n",
        ),
        // Over INLINE_MAX and binary: goes gz+b64.
        f(
            "/usr/local/share/builder/blob.bin",
            0o600,
            &(0..3000u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect::<Vec<_>>(),
        ),
        f(
            "/usr/local/sbin/node-hook",
            0o755,
            b"#!/bin/sh\necho 'it''s a hook' \"$@\"\n\ttabbed: yes # not a comment\n",
        ),
    ];
    match runtime {
        Runtime::Containerd => files.push(f(
            "/etc/containerd/config.toml",
            0o644,
            containerd::config_toml(
                "node",
                3,
                &ContainerdSettings {
                    sandbox_image: "registry.k8s.io/pause:3.10".into(),
                    systemd_cgroup: true,
                    config_path: "/etc/containerd/certs.d".into(),
                },
            )
            .as_bytes(),
        )),
        Runtime::CriDockerd => files.push(f(
            "/etc/docker/daemon.json",
            0o644,
            b"{\"exec-opts\": [\"native.cgroupdriver=systemd\"]}\n",
        )),
    }
    files
}

struct Spec {
    runtime: Runtime,
    minor: u32,
    fetch: Option<FetchOverlay>,
    join: Option<JoinParams>,
    cloud: Cloud,
    extra: Vec<NodeFile>,
}

impl Spec {
    fn files(&self) -> Vec<NodeFile> {
        let mut files = node_files(self.runtime, KubeMinor(self.minor));
        files.extend(self.extra.iter().cloned());
        files
    }

    fn render(&self) -> anyhow::Result<UserData> {
        let minor = KubeMinor(self.minor);
        let files = self.files();
        let args = kubelet_args(minor, self.runtime.cri_socket());
        render(&UserDataInput {
            profile: "node",
            arch: Arch::Arm64,
            runtime: self.runtime,
            kubernetes: minor,
            docker: (self.runtime == Runtime::CriDockerd).then_some("28.3.3"),
            files: &files,
            fetch: self.fetch.clone(),
            join: self.join.as_ref(),
            kubelet_args: &args,
            cloud: self.cloud,
        })
    }

    fn name(&self) -> String {
        format!(
            "{} {} 1.{}{}{} ({})",
            if self.fetch.is_some() {
                "fetch"
            } else {
                "baked"
            },
            self.runtime.as_str(),
            self.minor,
            if self.join.is_some() {
                " with join"
            } else {
                ""
            },
            if self.extra.is_empty() {
                ""
            } else {
                " with a big overlay"
            },
            self.cloud
        )
    }
}

fn fetch_for(url: &str, sha256: &str) -> FetchOverlay {
    FetchOverlay {
        url: url.into(),
        sha256: digest(sha256),
        registry: None,
    }
}

/// A digest the tests spell as hex.
fn digest(hex: &str) -> builder::util::digest::Sha256 {
    hex.parse().expect("a sha256 in hex")
}

fn specs() -> Vec<Spec> {
    let mut out = Vec::new();
    for runtime in [Runtime::Containerd, Runtime::CriDockerd] {
        for fetch in [false, true] {
            for (minor, join_it) in [(30, false), (30, true), (33, true)] {
                out.push(Spec {
                    runtime,
                    minor,
                    fetch: fetch.then(|| {
                        fetch_for(
                            "https://artifacts.example.com/node/arm64/overlay.tar.gz",
                            &"ab".repeat(32),
                        )
                    }),
                    join: join_it.then(join),
                    cloud: Cloud::Aws,
                    extra: Vec::new(),
                });
            }
        }
    }
    // A baked overlay tree too big for 16 KiB raw that fits once gzipped.
    out.push(Spec {
        runtime: Runtime::Containerd,
        minor: 31,
        fetch: None,
        join: Some(join()),
        cloud: Cloud::Aws,
        extra: (0..40)
            .map(|i| NodeFile {
                path: format!("/etc/site/conf.d/{i:02}.conf"),
                mode: 0o644,
                content: format!(
                    "# setting {i}\n{}",
                    "key = a value that repeats\n".repeat(30)
                )
                .into_bytes(),
            })
            .collect(),
    });
    out
}

// ---------------------------------------------------------------------------------------------

#[test]
fn every_user_data_passes_cloud_init_schema_and_decodes_to_what_was_given() {
    let Some(python) = cloud_init_python() else {
        return;
    };
    let specs = specs();
    assert!(
        specs.last().unwrap().render().unwrap().gzipped,
        "the big case must be gzipped"
    );
    for spec in &specs {
        let name = spec.name();
        let u = spec.render().unwrap();
        assert_schema_valid(&u.bytes, &name);
        let d = decode(&python, &u.bytes);
        assert_eq!(d.keys, ["runcmd", "write_files"], "{name}");

        let mut want: BTreeMap<String, (String, u32, Vec<u8>)> = BTreeMap::new();
        match &spec.fetch {
            None => {
                for f in spec.files() {
                    want.insert(f.path, ("root:root".into(), f.mode, f.content));
                }
            }
            Some(f) => {
                want.insert(
                    FETCH_SCRIPT_PATH.into(),
                    (
                        "root:root".into(),
                        0o755,
                        fetch_script(&f.url, &f.sha256).into_bytes(),
                    ),
                );
            }
        }
        let docker = (spec.runtime == Runtime::CriDockerd).then_some("28.3.3");
        want.insert(
            NODE_CHECK_PATH.into(),
            (
                "root:root".into(),
                0o755,
                node_check_script("node", KubeMinor(spec.minor), docker).into_bytes(),
            ),
        );
        if spec.join.is_some() {
            let (owner, mode, content) = d.files.get(JOIN_CONFIG_PATH).expect(&name).clone();
            assert_eq!((owner.as_str(), mode), ("root:root", 0o600), "{name}");
            let content = String::from_utf8(content).unwrap();
            let api = if spec.minor >= 31 {
                "v1beta4"
            } else {
                "v1beta3"
            };
            assert!(
                content.contains(&format!("apiVersion: kubeadm.k8s.io/{api}\n")),
                "{name}: {content}"
            );
            assert!(
                content.contains("token: 'abcdef.0123456789abcdef'\n"),
                "{name}"
            );
            let sock = if spec.runtime == Runtime::Containerd {
                CONTAINERD_SOCK
            } else {
                DOCKERD_SOCK
            };
            assert!(
                content.contains(&format!("criSocket: '{sock}'\n")),
                "{name}"
            );
            want.insert(
                JOIN_CONFIG_PATH.into(),
                ("root:root".into(), 0o600, content.into_bytes()),
            );
            assert!(
                d.runcmd
                    .contains("\nkubeadm join --config /etc/kubernetes/builder-join.yaml\n"),
                "{name}"
            );
        } else {
            assert!(!d.runcmd.contains("kubeadm"), "{name}");
        }
        assert_eq!(
            d.files, want,
            "{name}: write_files as cloud-init decodes them"
        );
        assert!(
            d.runcmd.starts_with("#!/bin/sh\nset -eu\n"),
            "{name}: {}",
            d.runcmd
        );
        // The self-check runs before any unit is touched.
        let check = d
            .runcmd
            .find(&format!("\n{NODE_CHECK_PATH}\n"))
            .expect(&name);
        assert!(check < d.runcmd.find("\nmodprobe ").unwrap(), "{name}");
        // The token is nowhere but in the user-data.
        assert!(!u.meta_data.contains(TOKEN_SECRET) && !format!("{u:?}").contains(TOKEN_SECRET));
    }
}

#[test]
fn the_schema_check_can_fail() {
    if cloud_init_python().is_none() {
        return;
    }
    let u = specs()[0].render().unwrap();
    let doc = String::from_utf8(u.bytes).unwrap();
    let broken = doc.replacen(
        "  owner: 'root:root'\n",
        "  owner: 'root:root'\n  mode: '0644'\n",
        1,
    );
    assert_ne!(broken, doc);
    let o = schema(broken.as_bytes());
    assert!(
        !o.status.success(),
        "cloud-init schema accepted an unknown key\n{}",
        text(&o)
    );
    assert!(text(&o).contains("'mode' was unexpected"), "{}", text(&o));
}

// ---------------------------------------------------------------------------------------------
// The fetch script, for real.

fn overlay(config: &str) -> Vec<u8> {
    tar_bytes(
        &[
            Member::Dir("etc/"),
            Member::Dir("etc/containerd/"),
            Member::File("etc/containerd/config.toml", config.as_bytes(), 0o644),
            Member::Dir("usr/"),
            Member::Dir("usr/local/"),
            Member::Dir("usr/local/bin/"),
            Member::File(
                "usr/local/bin/containerd",
                b"#!/bin/sh\necho containerd\n",
                0o755,
            ),
        ],
        true,
    )
}

struct Run {
    out: Output,
    root: tempfile::TempDir,
    console: String,
}

/// Runs `script` with `shell` in a cleared environment: PATH as given, BUILDER_ROOT an empty
/// temp folder, messages copied to a console file, one download attempt.
fn run_script(shell: &str, script: &str, path_env: &str) -> Run {
    let root = tempfile::tempdir().unwrap();
    let (out, console) = run_script_in(shell, script, path_env, root.path());
    let stray: Vec<String> = root_listing(root.path())
        .into_iter()
        .filter(|p| p.starts_with(".builder-overlay."))
        .collect();
    assert!(stray.is_empty(), "staging left in the root: {stray:?}");
    Run { out, root, console }
}

/// Runs `script` with BUILDER_ROOT=`root`; returns its output and what it wrote to the console.
fn run_script_in(shell: &str, script: &str, path_env: &str, root: &Path) -> (Output, String) {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("script");
    std::fs::write(&file, script).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    let console = work.path().join("console");
    std::fs::write(&console, "").unwrap();
    let out = Command::new(shell)
        .arg(&file)
        .env_clear()
        .env("PATH", path_env)
        .env("HOME", work.path())
        .env("TMPDIR", work.path())
        .env("BUILDER_ROOT", root)
        .env("BUILDER_CONSOLE", &console)
        .env("BUILDER_FETCH_ATTEMPTS", "1")
        // The self-check reads AppArmor's switch here: an empty sysfs, not the host's.
        .env("BUILDER_SYSFS", work.path())
        .output()
        .unwrap();
    let console = std::fs::read_to_string(&console).unwrap();
    // The temp download is cleaned up whatever happened.
    let left: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("builder-overlay."))
        .collect();
    assert!(left.is_empty(), "temp download left behind: {left:?}");
    (out, console)
}

fn root_listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every program the fetch script runs but a downloader and zstd.
const BASE_TOOLS: [&str; 15] = [
    "mktemp",
    "sha256sum",
    "cut",
    "tar",
    "gzip",
    "rm",
    "sleep",
    "find",
    "sh",
    "stat",
    "mkdir",
    "mv",
    "head",
    "od",
    "tr",
];

const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn shells() -> Vec<&'static str> {
    ["sh", "bash"]
        .into_iter()
        .filter(|s| which(s).is_some())
        .collect()
}

#[test]
fn fetch_script_unpacks_a_good_overlay() {
    let good = overlay("version = 3\n");
    let server = Server::start();
    server.route("/node/amd64/overlay.tar.gz", Behaviour::Ok(good.clone()));
    let url = server.url("/node/amd64/overlay.tar.gz");
    let script = fetch_script(&url, &digest(&sha256_hex(&good)));
    for shell in shells() {
        let r = run_script(shell, &script, SYSTEM_PATH);
        assert!(r.out.status.success(), "{shell}\n{}", text(&r.out));
        let root = r.root.path();
        assert_eq!(
            std::fs::read_to_string(root.join("etc/containerd/config.toml")).unwrap(),
            "version = 3\n"
        );
        let mode = std::fs::metadata(root.join("usr/local/bin/containerd"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755, "{shell}");
        assert!(r.console.contains("unpacked"), "{shell}: {}", r.console);
    }
    assert!(server.hits("/node/amd64/overlay.tar.gz") >= 1);
}

/// A zstd overlay (`render --compression zstd`) unpacks the same; without zstd on the node the
/// script says so and the root stays untouched.
#[test]
fn fetch_script_unpacks_a_zstd_overlay_and_names_a_missing_zstd() {
    if which("zstd").is_none() {
        skip_or_fail(
            "zstd is not installed (Debian: apt-get install zstd); GNU tar --zstd needs it",
        );
        return;
    }
    let gz = overlay("version = 3\n");
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut tar)
        .unwrap();
    let zst = zstd::stream::encode_all(&tar[..], 3).unwrap();
    let server = Server::start();
    server.route("/o.tar.zst", Behaviour::Ok(zst.clone()));
    let script = fetch_script(&server.url("/o.tar.zst"), &digest(&sha256_hex(&zst)));
    for shell in shells() {
        let r = run_script(shell, &script, SYSTEM_PATH);
        assert!(r.out.status.success(), "{shell}\n{}", text(&r.out));
        assert_eq!(
            std::fs::read_to_string(r.root.path().join("etc/containerd/config.toml")).unwrap(),
            "version = 3\n"
        );
    }
    // Every tool the script needs but zstd.
    let dir = tempfile::tempdir().unwrap();
    let mut tools = BASE_TOOLS.to_vec();
    tools.push("python3");
    let Some(path) = bin_with(dir.path(), &tools) else {
        skip_or_fail("a base tool is missing for the no-zstd PATH");
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let (out, console) = run_script_in("/bin/sh", &script, &path, root.path());
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        console.contains("is zstd-compressed and this image has no zstd"),
        "{console}"
    );
    assert!(
        root_listing(root.path()).is_empty(),
        "{:?}",
        root_listing(root.path())
    );
}

#[test]
fn fetch_script_refuses_a_tampered_overlay_and_unpacks_nothing() {
    let good = overlay("version = 3\n");
    let tampered = overlay("version = 3\n[evil]\n");
    let server = Server::start();
    server.route("/o.tar.gz", Behaviour::Ok(tampered.clone()));
    let url = server.url("/o.tar.gz");
    let (want, got) = (sha256_hex(&good), sha256_hex(&tampered));
    let script = fetch_script(&url, &digest(&want));
    for shell in shells() {
        let r = run_script(shell, &script, SYSTEM_PATH);
        assert!(
            !r.out.status.success(),
            "{shell} accepted a tampered overlay\n{}",
            text(&r.out)
        );
        let err = String::from_utf8_lossy(&r.out.stderr);
        assert!(
            err.contains(&format!(
                "checksum mismatch for {url}: expected sha256 {want}, got {got}"
            )),
            "{shell}: {err}"
        );
        assert!(err.contains("nothing was unpacked"), "{shell}: {err}");
        assert!(
            r.console.contains(&want) && r.console.contains(&got),
            "{shell}: {}",
            r.console
        );
        assert_eq!(root_listing(r.root.path()), Vec::<String>::new(), "{shell}");
    }
}

#[test]
fn fetch_script_leaves_the_root_as_it_was_when_the_disk_fills() {
    // The overlay unpacks to 3 MiB of noise; the root is a 1 MiB tmpfs holding one file.
    let mut x: u32 = 12345;
    let noise: Vec<u8> = (0..3 << 20)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    let tgz = tar_bytes(
        &[
            Member::Dir("etc/"),
            Member::File("etc/small.conf", b"small\n", 0o644),
            Member::File("etc/big.bin", &noise, 0o644),
        ],
        true,
    );
    let server = Server::start();
    server.route("/o.tar.gz", Behaviour::Ok(tgz.clone()));
    let script = fetch_script(&server.url("/o.tar.gz"), &digest(&sha256_hex(&tgz)));
    let root = tempfile::tempdir().unwrap();
    let Some(mounted) = Tmpfs::mount(root.path().to_path_buf(), "1m") else {
        skip_or_fail("mounting a tmpfs (needs root) for the full-disk fetch test");
        return;
    };
    std::fs::write(root.path().join("keep"), "kept").unwrap();
    let (out, console) = run_script_in("sh", &script, SYSTEM_PATH, root.path());
    let listing = root_listing(root.path());
    let kept = std::fs::read_to_string(root.path().join("keep"));
    drop(mounted);
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing was installed") && err.contains("as it was"),
        "{err}"
    );
    assert!(console.contains("a full disk?"), "{console}");
    assert_eq!(listing, ["keep"]);
    assert_eq!(kept.unwrap(), "kept");
}

#[test]
fn fetch_script_fails_cleanly_on_404() {
    let server = Server::start();
    let url = server.url("/missing.tar.gz");
    let r = run_script(
        "sh",
        &fetch_script(&url, &digest(&"ab".repeat(32))),
        SYSTEM_PATH,
    );
    assert!(!r.out.status.success());
    let err = String::from_utf8_lossy(&r.out.stderr);
    assert!(err.contains(&format!("could not download {url}")), "{err}");
    assert!(root_listing(r.root.path()).is_empty());
}

/// A PATH holding only links to `tools`: shows the script gets by without curl (and wget).
fn bin_with(dir: &Path, tools: &[&str]) -> Option<String> {
    for t in tools {
        let real = if *t == "python3" && Path::new("/usr/bin/python3").exists() {
            PathBuf::from("/usr/bin/python3")
        } else {
            which(t)?
        };
        std::os::unix::fs::symlink(real, dir.join(t)).unwrap();
    }
    Some(dir.display().to_string())
}

#[test]
fn fetch_script_falls_back_to_wget_then_python3() {
    let good = overlay("version = 2\n");
    let server = Server::start();
    server.route("/o.tar.gz", Behaviour::Ok(good.clone()));
    let script = fetch_script(&server.url("/o.tar.gz"), &digest(&sha256_hex(&good)));
    let base = BASE_TOOLS;
    let mut ran = 0;
    for downloader in ["wget", "python3"] {
        let dir = tempfile::tempdir().unwrap();
        let mut tools = base.to_vec();
        tools.push(downloader);
        let Some(path) = bin_with(dir.path(), &tools) else {
            // Not a consumer of builder's output: a missing wget is a SKIP even in CI.
            let _ = writeln!(
                std::io::stderr(),
                "SKIP: {downloader} or a base tool is missing; that fallback is not tested"
            );
            continue;
        };
        ran += 1;
        let r = run_script("/bin/sh", &script, &path);
        assert!(r.out.status.success(), "{downloader}\n{}", text(&r.out));
        assert!(
            r.root.path().join("etc/containerd/config.toml").exists(),
            "{downloader}"
        );
    }
    assert_eq!(server.hits("/o.tar.gz"), ran, "one download per fallback");
}

/// runcmd as cloud-init runs it (shellify), with stubs for the system commands and a stub
/// kubelet printing a version: a refused overlay, or a kubelet of another minor than the
/// profile's, stops everything after it; a good overlay on a matching kubelet goes on to start
/// the units and join.
#[test]
fn runcmd_stops_before_the_runtime_when_the_overlay_is_refused() {
    let Some(python) = cloud_init_python() else {
        return;
    };
    let good = overlay("version = 3\n");
    let tampered = overlay("version = 3\n# changed\n");
    let server = Server::start();
    server.route("/good.tar.gz", Behaviour::Ok(good.clone()));
    server.route("/bad.tar.gz", Behaviour::Ok(tampered));
    for (path, kubelet_says, ok) in [
        ("/good.tar.gz", "Kubernetes v1.33.4", true),
        ("/bad.tar.gz", "Kubernetes v1.33.4", false),
        ("/good.tar.gz", "Kubernetes v1.27.3", false),
    ] {
        let spec = Spec {
            runtime: Runtime::CriDockerd,
            minor: 33,
            fetch: Some(fetch_for(&server.url(path), &sha256_hex(&good))),
            join: Some(join()),
            cloud: Cloud::Generic,
            extra: Vec::new(),
        };
        let d = decode(&python, &spec.render().unwrap().bytes);
        let work = tempfile::tempdir().unwrap();
        // The files as cloud-init would write them, moved under the temp folder.
        let fetch_path = work.path().join("builder-fetch-overlay");
        std::fs::write(&fetch_path, &d.files[FETCH_SCRIPT_PATH].2).unwrap();
        std::fs::set_permissions(&fetch_path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let join_path = work.path().join("builder-join.yaml");
        std::fs::write(&join_path, &d.files[JOIN_CONFIG_PATH].2).unwrap();
        let check_path = work.path().join("builder-node-check");
        std::fs::write(&check_path, &d.files[NODE_CHECK_PATH].2).unwrap();
        std::fs::set_permissions(&check_path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let runcmd = d
            .runcmd
            .replace(FETCH_SCRIPT_PATH, fetch_path.to_str().unwrap())
            .replace(NODE_CHECK_PATH, check_path.to_str().unwrap())
            .replace(JOIN_CONFIG_PATH, join_path.to_str().unwrap());
        assert_ne!(runcmd, d.runcmd);
        // Stubs log their command line; getent says the group is missing.
        let stubs = work.path().join("stubs");
        std::fs::create_dir(&stubs).unwrap();
        let log = work.path().join("log");
        for stub in [
            "modprobe",
            "sysctl",
            "getent",
            "groupadd",
            "systemctl",
            "kubeadm",
        ] {
            let body = format!(
                "#!/bin/sh\necho \"{stub} $*\" >> '{}'\n{}",
                log.display(),
                if stub == "getent" { "exit 2\n" } else { "" }
            );
            std::fs::write(stubs.join(stub), body).unwrap();
            std::fs::set_permissions(stubs.join(stub), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        // Test double for the base image's kubelet: prints a version, runs nothing.
        std::fs::write(
            stubs.join("kubelet"),
            format!("#!/bin/sh\necho '{kubelet_says}'\n"),
        )
        .unwrap();
        std::fs::set_permissions(
            stubs.join("kubelet"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let r = run_script("sh", &runcmd, &format!("{}:{SYSTEM_PATH}", stubs.display()));
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        if ok {
            assert!(r.out.status.success(), "{}", text(&r.out));
            assert_eq!(
                log,
                format!(
                    "modprobe -a overlay br_netfilter\nsysctl -e --system\ngetent group docker\ngroupadd --system docker\n\
                     systemctl daemon-reload\nsystemctl enable --now containerd.service docker.socket docker.service cri-docker.socket cri-docker.service\n\
                     kubeadm join --config {}\n",
                    join_path.display()
                )
            );
            assert!(r.root.path().join("usr/local/bin/containerd").exists());
            assert!(
                !join_path.exists(),
                "the join config (with the token) is removed after the join"
            );
        } else {
            assert!(!r.out.status.success(), "{}", text(&r.out));
            assert_eq!(
                log, "",
                "nothing may run after a refused overlay or a wrong kubelet"
            );
            assert!(join_path.exists());
            if path == "/bad.tar.gz" {
                assert!(root_listing(r.root.path()).is_empty());
            } else {
                let err = String::from_utf8_lossy(&r.out.stderr);
                let want = "builder-node-check: this node's kubelet is v1.27.3 (minor 1.27) but the overlay was rendered for Kubernetes 1.33; use a base image with kubelet 1.33 or render with --kubernetes 1.27\n";
                assert!(err.ends_with(want), "{err}");
                assert!(r.console.ends_with(want), "{}", r.console);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Join parameters and the secret.

#[test]
fn the_token_is_only_in_user_data_which_is_written_0600() {
    let bad = format!(
        "{:#}",
        JoinParams::from_file(&fixture("cloudinit/join-bad-token.toml")).unwrap_err()
    );
    assert!(
        bad.contains("join-bad-token.toml") && bad.contains("bootstrap token"),
        "{bad}"
    );
    assert!(!bad.contains("0123456789abcde"), "{bad}");

    let j = join();
    assert!(!format!("{j:?}").contains(TOKEN_SECRET));
    let spec = Spec {
        runtime: Runtime::Containerd,
        minor: 36,
        fetch: None,
        join: Some(j),
        cloud: Cloud::Azure,
        extra: Vec::new(),
    };
    let u = spec.render().unwrap();
    let out = tempfile::tempdir().unwrap();
    // An older, world-readable user-data must not keep its mode.
    std::fs::write(out.path().join("user-data"), "old").unwrap();
    std::fs::set_permissions(
        out.path().join("user-data"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    u.write_to(out.path()).unwrap();
    let mode = |n: &str| {
        std::fs::metadata(out.path().join(n))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("user-data"), 0o600);
    assert_eq!(mode("meta-data"), 0o644);
    let ud = std::fs::read_to_string(out.path().join("user-data")).unwrap();
    assert_eq!(ud.matches(TOKEN_SECRET).count(), 1);
    let md = std::fs::read_to_string(out.path().join("meta-data")).unwrap();
    assert!(
        md.contains("instance-id: 'builder-node-arm64-") && !md.contains(TOKEN_SECRET),
        "{md}"
    );
    assert!(!format!("{u:?}").contains(TOKEN_SECRET));
}

#[test]
fn fetch_script_reads_file_urls_from_an_attached_disk() {
    // file:///path: an overlay on a disk the image or platform attaches; checked the same way.
    let good = overlay("version = 3\n");
    let disk = tempfile::tempdir().unwrap();
    let path = disk.path().join("overlay.tar.gz");
    std::fs::write(&path, &good).unwrap();
    let url = format!("file://{}", path.display());
    for shell in shells() {
        let r = run_script(
            shell,
            &fetch_script(&url, &digest(&sha256_hex(&good))),
            SYSTEM_PATH,
        );
        assert!(r.out.status.success(), "{shell}\n{}", text(&r.out));
        assert!(r.root.path().join("usr/local/bin/containerd").is_file());
        let wrong = "0".repeat(64);
        let r = run_script(shell, &fetch_script(&url, &digest(&wrong)), SYSTEM_PATH);
        assert!(!r.out.status.success(), "{shell} accepted a wrong digest");
        assert!(
            root_listing(r.root.path()).is_empty(),
            "{shell}: something was unpacked"
        );
    }
}
