//! The loader's unit tests: defaults, locations of errors, `extends`.

use anyhow::Result;

use super::*;
use crate::util::model::{Arch, KubeMinor};

pub(crate) fn load_text(text: &str) -> Result<Profile> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, text).unwrap();
    Lookup {
        local_dir: dir.path().join("none"),
    }
    .load(path.to_str().unwrap())
}

pub(crate) const MINIMAL: &str = r#"schema = 1
name = "t"
kubernetes = "1.30"
runtime = "containerd"
arch = ["amd64"]

[[artifact]]
name = "runc"
version = "1.4.3"
url = "https://example.invalid/runc.{arch}"
install = [{ to = "/usr/local/sbin/runc", mode = "0755" }]
"#;

pub(crate) fn err_of(text: &str) -> String {
    format!("{:#}", load_text(text).unwrap_err())
}

#[test]
fn minimal_profile_loads_with_defaults() {
    let p = load_text(MINIMAL).unwrap();
    assert_eq!(p.kubernetes, KubeMinor(30));
    assert_eq!(p.arches, vec![Arch::Amd64]);
    assert!(p.containerd.systemd_cgroup);
    assert_eq!(p.containerd.config_path, "/etc/containerd/certs.d");
    assert_eq!(p.artifacts[0].install[0].mode, 0o755);
    assert_eq!(p.artifacts[0].kind(), ArtifactKind::File);
}

#[test]
fn unknown_key_names_line_and_column() {
    let text = MINIMAL.replace("arch = [\"amd64\"]", "arch = [\"amd64\"]\nbogus = 1");
    let e = err_of(&text);
    assert!(e.contains("p.toml:6:1"), "{e}");
    assert!(e.contains("bogus"), "{e}");
}

#[test]
fn wrong_schema_is_named() {
    let e = err_of(&MINIMAL.replace("schema = 1", "schema = 2"));
    assert!(
        e.contains("p.toml:1:1") && e.contains("unsupported schema 2"),
        "{e}"
    );
}

#[test]
fn bad_version_unknown_arch_and_bad_minor() {
    let e = err_of(&MINIMAL.replace("\"1.4.3\"", "\"v1.4\""));
    assert!(
        e.contains("p.toml:9:11") && e.contains("bad version"),
        "{e}"
    );
    let e = err_of(&MINIMAL.replace("[\"amd64\"]", "[\"x86_64\"]"));
    assert!(
        e.contains("p.toml:5:9") && e.contains("unknown arch"),
        "{e}"
    );
    let e = err_of(&MINIMAL.replace("\"1.30\"", "\"130\""));
    assert!(
        e.contains("p.toml:3:14") && e.contains("bad Kubernetes minor"),
        "{e}"
    );
}

#[test]
fn dockershim_is_refused_with_both_ways_off() {
    let e = err_of(&MINIMAL.replace("\"containerd\"", "\"docker\""));
    assert!(e.contains("no dockershim"), "{e}");
    assert!(e.contains("containerd") && e.contains("cri-dockerd"), "{e}");
}

#[test]
fn cri_dockerd_below_124_warns() {
    let p = load_text(
        &MINIMAL
            .replace("\"containerd\"", "\"cri-dockerd\"")
            .replace("1.30", "1.23"),
    )
    .unwrap();
    assert!(
        p.warnings[0].contains("the kubelet still has dockershim"),
        "{:?}",
        p.warnings
    );
}

#[test]
fn archive_rules_need_from_and_files_refuse_it() {
    let e = err_of(&MINIMAL.replace("runc.{arch}", "runc-{arch}.tar.gz"));
    assert!(e.contains("say which members"), "{e}");
    let e = err_of(&MINIMAL.replace("{ to =", "{ from = \"bin/*\", to ="));
    assert!(e.contains("plain file"), "{e}");
}

#[test]
fn bad_targets_modes_and_placeholders() {
    let e = err_of(&MINIMAL.replace("/usr/local/sbin/runc", "/usr/../etc/passwd"));
    assert!(e.contains("'..'"), "{e}");
    let e = err_of(&MINIMAL.replace("\"0755\"", "\"rwx\""));
    assert!(e.contains("bad mode"), "{e}");
    let e = err_of(&MINIMAL.replace("{arch}", "{os}"));
    assert!(e.contains("unknown placeholder {os}"), "{e}");
}

#[test]
fn extends_merges_artifacts_by_name_and_drops_stale_pins() {
    let dir = tempfile::tempdir().unwrap();
    let base = MINIMAL.replace(
        "install =",
        "sha256 = \"1111111111111111111111111111111111111111111111111111111111111111\"\ninstall =",
    );
    std::fs::write(dir.path().join("base.toml"), base).unwrap();
    std::fs::write(
        dir.path().join("site.toml"),
        r#"schema = 1
extends = "./base.toml"
name = "site"
[kubelet]
extra_args = { "node-labels" = "site=a" }
[[artifact]]
name = "runc"
version = "1.4.2"
"#,
    )
    .unwrap();
    let p = Lookup {
        local_dir: dir.path().join("none"),
    }
    .load(dir.path().join("site.toml").to_str().unwrap())
    .unwrap();
    assert_eq!(p.name, "site");
    assert_eq!(p.kubernetes, KubeMinor(30));
    let a = &p.artifacts[0];
    assert_eq!(a.version, "1.4.2");
    assert_eq!(a.install[0].to, "/usr/local/sbin/runc");
    assert!(
        a.pins.any.is_none(),
        "a pin for 1.4.3 must not follow the move to 1.4.2"
    );
    assert_eq!(p.kubelet.extra_args["node-labels"], "site=a");
}

#[test]
fn extends_loop_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.toml"),
        "schema = 1\nextends = \"./b.toml\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.toml"),
        "schema = 1\nextends = \"./a.toml\"\n",
    )
    .unwrap();
    let e = Lookup {
        local_dir: dir.path().join("none"),
    }
    .load(dir.path().join("a.toml").to_str().unwrap())
    .unwrap_err();
    assert!(format!("{e:#}").contains("loop"), "{e:#}");
}

#[test]
fn the_pause_image_follows_kubeadm_unless_set_and_a_different_one_warns() {
    let p = load_text(&MINIMAL.replace("1.30", "1.36")).unwrap();
    assert_eq!(p.containerd.sandbox_image, "registry.k8s.io/pause:3.10.2");
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let p = load_text(&MINIMAL.replace("1.30", "1.33")).unwrap();
    assert_eq!(p.containerd.sandbox_image, "registry.k8s.io/pause:3.10");
    let set = MINIMAL.replace("1.30", "1.36").replace(
        "arch = [\"amd64\"]",
        "arch = [\"amd64\"]\n[containerd]\nsandbox_image = \"registry.k8s.io/pause:3.10.1\"",
    );
    let p = load_text(&set).unwrap();
    assert_eq!(p.containerd.sandbox_image, "registry.k8s.io/pause:3.10.1");
    assert!(
        p.warnings[0].contains("kubeadm uses for Kubernetes 1.36 (registry.k8s.io/pause:3.10.2)"),
        "{:?}",
        p.warnings
    );
    let p = load_text(&MINIMAL.replace("1.30", "1.37")).unwrap();
    assert!(p.warnings[0].contains("does not know kubeadm's pause image for Kubernetes 1.37"));
}

#[test]
fn sysext_table_defaults_and_checks() {
    assert_eq!(load_text(MINIMAL).unwrap().sysext, None);
    let with = |t: &str| MINIMAL.replace("[[artifact]]", &format!("{t}\n\n[[artifact]]"));
    let p = load_text(&with("[sysext]")).unwrap();
    assert_eq!(p.sysext, Some(crate::profile::SysextSettings::default()));
    let p = load_text(&with("[sysext]\nid = \"flatcar\"\nsysext_level = \"1.0\"")).unwrap();
    let s = p.sysext.unwrap();
    assert_eq!(
        (s.id.as_str(), s.sysext_level.as_deref()),
        ("flatcar", Some("1.0"))
    );
    let e = err_of(&with("[sysext]\nid = \"flatcar\""));
    assert!(
        e.contains("p.toml:7:1") && e.contains("without sysext_level"),
        "{e}"
    );
    let e = err_of(&with(
        "[sysext]\nsysext_level = \"1.0\"\nversion_id = \"12\"",
    ));
    assert!(e.contains("p.toml:9:14") && e.contains("keep one"), "{e}");
    let e = err_of(&with(
        "[sysext]\nid = \"Fedora Linux\"\nversion_id = \"40\"",
    ));
    assert!(
        e.contains("p.toml:8:6") && e.contains("bad [sysext] id"),
        "{e}"
    );
    let e = err_of(&with("[sysext]\narchitecture = \"x86-64\""));
    assert!(
        e.contains("p.toml:8:1") && e.contains("architecture"),
        "{e}"
    );
}
