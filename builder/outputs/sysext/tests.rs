use std::collections::BTreeMap;

use super::*;
use crate::build::install::Origin;
use crate::profile::tests::{load_text, MINIMAL};

const TOKEN: &str = "abcdef.0123456789abcdef";

/// A small rendered rootfs: a binary, a unit with its enable link, a link, /etc and /var files.
fn rootfs(dir: &Path) -> Rootfs {
    std::fs::create_dir_all(dir).unwrap();
    let r = Rootfs::new(dir);
    let a = Origin::Artifact("a".into());
    let t = Origin::Template("t");
    r.write_bytes("/usr/local/bin/containerd", 0o755, &a, b"\x7fELF binary")
        .unwrap();
    r.write_bytes(
        "/usr/local/lib/systemd/system/containerd.service",
        0o644,
        &a,
        b"[Service]\nExecStart=/usr/local/bin/containerd\n",
    )
    .unwrap();
    r.symlink("/usr/local/bin/ctr-link", "containerd", &a)
        .unwrap();
    r.write_bytes("/opt/cni/bin/bridge", 0o755, &a, b"cni")
        .unwrap();
    r.symlink(
        "/etc/systemd/system/multi-user.target.wants/containerd.service",
        "/usr/local/lib/systemd/system/containerd.service",
        &Origin::Template("systemd-enable"),
    )
    .unwrap();
    r.write_bytes("/etc/crictl.yaml", 0o644, &t, b"runtime-endpoint: x\n")
        .unwrap();
    r.write_bytes("/var/lib/kubelet/kubeadm-flags.env", 0o644, &t, b"K=1\n")
        .unwrap();
    r
}

fn profile() -> Profile {
    load_text(&MINIMAL.replace(
        "[[artifact]]",
        "[sysext]\nid = \"flatcar\"\nsysext_level = \"1.0\"\n\n[[artifact]]",
    ))
    .unwrap()
}

fn join() -> JoinParams {
    JoinParams::new(
        "10.0.0.10:6443".into(),
        TOKEN.into(),
        vec![format!("sha256:{}", "ab".repeat(32))],
    )
    .unwrap()
}

fn args<'a>(
    url: Option<&'a str>,
    join: Option<&'a JoinParams>,
    flags: &'a BTreeMap<String, String>,
) -> ConfigArgs<'a> {
    ConfigArgs {
        profile: "t",
        arch: Arch::Amd64,
        runtime: Runtime::Containerd,
        kubernetes: KubeMinor(36),
        url_template: url,
        join,
        kubelet_args: flags,
        cloud: Cloud::Generic,
    }
}

#[test]
fn split_moves_enablement_into_usr_and_refuses_other_roots() {
    let d = tempfile::tempdir().unwrap();
    let r = rootfs(d.path());
    let s = split(&r).unwrap();
    let paths: Vec<&str> = s.image.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "/opt/cni/bin/bridge",
            "/usr/local/bin/containerd",
            "/usr/local/bin/ctr-link",
            "/usr/local/lib/systemd/system/containerd.service",
            "/usr/local/lib/systemd/system/multi-user.target.wants/containerd.service",
        ]
    );
    assert_eq!(
        s.image["/usr/local/lib/systemd/system/multi-user.target.wants/containerd.service"],
        ImageNode::Symlink {
            target: "../containerd.service".into()
        }
    );
    let files: Vec<&str> = s.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        files,
        ["/etc/crictl.yaml", "/var/lib/kubelet/kubeadm-flags.env"]
    );
    r.write_bytes("/srv/x", 0o644, &Origin::Overlay("o".into()), b"x")
        .unwrap();
    let e = format!("{:#}", split(&r).unwrap_err());
    assert!(
        e.contains("/srv/x (overlay:o)") && e.contains("/usr and /opt"),
        "{e}"
    );
}

const GOLDEN_SYSEXT: &str = "4907f851eaf78492cb5c6780db9145c5dfcd9ce285f2ab007257e05632136f04";

#[test]
fn image_is_reproducible_and_names_its_release() {
    let d = tempfile::tempdir().unwrap();
    let r = rootfs(&d.path().join("root"));
    let s = split(&r).unwrap();
    let p = profile();
    let out = |name: &str| {
        let o = d.path().join(name);
        std::fs::create_dir(&o).unwrap();
        write_image(&p, "2.3.4", Arch::Amd64, &s, &o, 1_700_000_000).unwrap()
    };
    let (a, b) = (out("a"), out("b"));
    assert_eq!(a.file, "t-2.3.4-amd64.raw");
    assert_eq!((a.sha256.as_str(), a.size), (b.sha256.as_str(), b.size));
    // Golden: a change of the squashfs writer or of its zlib compressor shows here.
    assert_eq!(a.sha256.as_str(), GOLDEN_SYSEXT);
    let bytes = std::fs::read(d.path().join("a").join(&a.file)).unwrap();
    assert_eq!(&bytes[..4], b"hsqs", "squashfs magic");
    assert_eq!(bytes.len() % 4096, 0, "padded to 4 KiB for loop devices");
    assert_eq!(crate::util::digest::Sha256::of(&bytes), a.sha256);
    let other = d.path().join("c");
    std::fs::create_dir(&other).unwrap();
    let c = write_image(&p, "2.3.4", Arch::Amd64, &s, &other, 1_700_000_001).unwrap();
    assert_ne!(c.sha256, a.sha256, "the mtime is in the image");
    assert!(write_image(&p, "2.3.4", Arch::Amd64, &s, &other, 1 << 33).is_err());
}

#[test]
fn extension_release_fields() {
    let p = profile();
    let text = extension_release("t", p.sysext.as_ref().unwrap(), Arch::Arm64, "2.3.4");
    let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        body,
        [
            "ID=flatcar",
            "SYSEXT_LEVEL=1.0",
            "ARCHITECTURE=arm64",
            "SYSEXT_VERSION_ID=2.3.4"
        ]
    );
    let any = extension_release("t", &SysextSettings::default(), Arch::Amd64, "1");
    assert!(any.contains("\nID=_any\nARCHITECTURE=x86-64\n"), "{any}");
    assert_eq!(
        extension_release_path("t"),
        "/usr/lib/extension-release.d/extension-release.t"
    );
}

#[test]
fn sysext_url_rules() {
    let one = [Arch::Amd64];
    let two = [Arch::Amd64, Arch::Arm64];
    check_sysext_url("https://h/{arch}/n.raw", &two).unwrap();
    check_sysext_url("http://h/n.raw", &one).unwrap();
    for (bad, arches, says) in [
        ("https://h/n.raw", &two[..], "has no {arch}"),
        ("https://h/{version}.raw", &one[..], "only placeholder"),
        ("file:///mnt/n.raw", &one[..], "cannot read file://"),
        ("https://h/a b", &one[..], "without spaces"),
    ] {
        let e = format!("{:#}", check_sysext_url(bad, arches).unwrap_err());
        assert!(e.contains(says), "{bad}: {e}");
    }
    let e = format!(
        "{:#}",
        check_options(&[Format::Overlay], Some("https://h/x"), &one).unwrap_err()
    );
    assert!(e.contains("add --format sysext"), "{e}");
    check_options(&[Format::Overlay], None, &one).unwrap();
}

#[test]
fn config_goldens_token_once_and_embedded_limit() {
    let d = tempfile::tempdir().unwrap();
    let r = rootfs(&d.path().join("root"));
    let s = split(&r).unwrap();
    let p = profile();
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let image = write_image(&p, "2.3.4", Arch::Amd64, &s, &out, 0).unwrap();
    let flags = BTreeMap::new();
    let j = join();
    let url = "https://artifacts.example.com/node/{arch}/t.raw";
    let c = write_config(&args(Some(url), Some(&j), &flags), &s, &image, &out).unwrap();
    let json = std::fs::read_to_string(out.join(layout::IGNITION)).unwrap();
    let butane = std::fs::read_to_string(out.join(layout::BUTANE)).unwrap();
    assert_eq!(
        crate::util::digest::Sha256::of(json.as_bytes()),
        c.ignition_sha256
    );
    for f in [layout::IGNITION, layout::BUTANE] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join(f)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    // The token, once, inside the JoinConfiguration's data URL (the ':' is kept, '.' too).
    assert_eq!(json.matches(TOKEN).count(), 1, "{json}");
    assert_eq!(butane.matches(TOKEN).count(), 1, "{butane}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let files = v["storage"]["files"].as_array().unwrap();
    let with_token: Vec<&str> = files
        .iter()
        .filter(|f| f.to_string().contains(TOKEN))
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(with_token, [JOIN_CONFIG_PATH]);
    // The image's digest changes with builder's version (its extension-release names it).
    let (json, butane) = (
        json.replace(image.sha256.as_str(), "IMAGE_SHA256"),
        butane.replace(image.sha256.as_str(), "IMAGE_SHA256"),
    );
    crate::node::assert_golden("sysext-ignition.json", &json);
    crate::node::assert_golden("sysext-butane.yaml", &butane);

    // Embedded: a small image fits; with the AWS limit and a large image, the error asks
    // for --sysext-url.
    write_config(&args(None, None, &flags), &s, &image, &out).unwrap();
    let json = std::fs::read_to_string(out.join(layout::IGNITION)).unwrap();
    assert!(json.contains("\"source\": \"data:;base64,aHNxc"), "{json}");
    let big = ImageFile {
        file: "big.raw".into(),
        ..image.clone()
    };
    std::fs::write(out.join("big.raw"), vec![7u8; 20_000]).unwrap();
    let mut a = args(None, None, &flags);
    a.cloud = Cloud::Aws;
    let e = format!("{:#}", write_config(&a, &s, &big, &out).unwrap_err());
    assert!(
        e.contains("over the aws limit of 16384 bytes") && e.contains("give --sysext-url"),
        "{e}"
    );
}
