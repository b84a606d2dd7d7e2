//! `builder render` for the cri-dockerd runtime: Docker Engine's static bundle, the upstream
//! units byte for byte with drop-ins beside them, daemon.json, and the kubelet pointed at
//! cri-dockerd's socket.

use std::fs;
use std::path::Path;

use crate::common::*;

#[test]
fn renders_the_docker_and_cri_dockerd_overlay() {
    let (up, ws) = dock_setup("1.30");
    let o = ws.render("dock", &[]);
    assert_ok(&o);
    let dir = ws.out().join("dock/amd64");
    let root = dir.join("rootfs");
    for bin in DOCKER_STATIC_BINARIES
        .into_iter()
        .chain(["cri-dockerd", "crictl"])
    {
        assert!(root.join("usr/local/bin").join(bin).is_file(), "{bin}");
    }
    assert!(root.join("opt/cni/bin/bridge").is_file());
    // The served units byte for byte (upstream's under ci/test.sh); what differs goes into
    // drop-ins.
    let units = root.join("usr/local/lib/systemd/system");
    for (unit, served) in [
        ("docker.service", "docker.service"),
        ("docker.socket", "docker.socket"),
        ("cri-docker.service", "cri-docker.service"),
        ("cri-docker.socket", "cri-docker.socket"),
        ("containerd.service", "containerd-1.7.service"),
    ] {
        assert_eq!(
            fs::read(units.join(unit)).unwrap(),
            up.units.get(served),
            "{unit}"
        );
    }
    let dropin = read(root.join("etc/systemd/system/docker.service.d/10-builder.conf"));
    assert!(
        dropin.contains("ExecStart=\nExecStart=/usr/local/bin/dockerd -H fd://"),
        "{dropin}"
    );
    let dropin = read(root.join("etc/systemd/system/cri-docker.service.d/10-builder.conf"));
    assert!(
        dropin.contains(
            "ExecStart=\nExecStart=/usr/local/bin/cri-dockerd --container-runtime-endpoint fd://"
        ),
        "{dropin}"
    );
    assert!(dropin.contains("--network-plugin=cni"), "{dropin}");
    assert!(
        dropin.contains("--pod-infra-container-image=registry.k8s.io/pause:3.9"),
        "{dropin}"
    );
    assert!(read(root.join("etc/sysusers.d/docker.conf")).contains("g docker -"));
    let daemon = read_json(root.join("etc/docker/daemon.json"));
    assert_eq!(daemon["exec-opts"][0], "native.cgroupdriver=systemd");
    assert_eq!(daemon["storage-driver"], "overlay2");
    assert_eq!(daemon["log-driver"], "json-file");
    assert!(read(root.join("etc/crictl.yaml"))
        .contains("runtime-endpoint: unix:///var/run/cri-dockerd.sock"));
    let flags = read(root.join("var/lib/kubelet/kubeadm-flags.env"));
    assert!(
        flags.contains("--container-runtime-endpoint=unix:///var/run/cri-dockerd.sock"),
        "{flags}"
    );
    assert!(
        flags.contains("--pod-infra-container-image=registry.k8s.io/pause:3.9"),
        "{flags}"
    );
    assert!(!flags.contains("--container-runtime=remote"), "{flags}");
    assert!(read(root.join("etc/containerd/config.toml"))
        .contains("disabled_plugins = [\"io.containerd.grpc.v1.cri\"]"));
    for (unit, target) in [
        ("docker.socket", "sockets.target"),
        ("cri-docker.socket", "sockets.target"),
        ("docker.service", "multi-user.target"),
        ("cri-docker.service", "multi-user.target"),
        ("containerd.service", "multi-user.target"),
    ] {
        let link = root.join(format!("etc/systemd/system/{target}.wants/{unit}"));
        assert_eq!(
            fs::read_link(&link).unwrap(),
            Path::new("/usr/local/lib/systemd/system").join(unit)
        );
    }
    assert_sha256sum_c(&dir, "SHA256SUMS");
    let m = read_json(dir.join("manifest.json"));
    assert_eq!(m["runtime"], "cri-dockerd");
    assert_eq!(m["artifacts"].as_array().unwrap().len(), 9);
}

#[test]
fn renders_are_deterministic() {
    let (_up, ws) = dock_setup("1.36");
    assert_ok(&ws.run(&["render", "-p", "dock", "--out", "a"]));
    assert_ok(&ws.run(&["render", "-p", "dock", "--out", "b"]));
    assert_eq!(
        fs::read(ws.path().join("a/dock/amd64/overlay.tar.gz")).unwrap(),
        fs::read(ws.path().join("b/dock/amd64/overlay.tar.gz")).unwrap()
    );
    let flags = read(
        ws.path()
            .join("a/dock/amd64/rootfs/var/lib/kubelet/kubeadm-flags.env"),
    );
    assert!(
        !flags.contains("pod-infra-container-image"),
        "removed from the kubelet in 1.35: {flags}"
    );
    // Byte for byte what kubeadm writes (WriteInstanceConfigToDisk).
    assert_eq!(
        read(
            ws.path()
                .join("a/dock/amd64/rootfs/var/lib/kubelet/instance-config.yaml")
        ),
        "containerRuntimeEndpoint: \"unix:///var/run/cri-dockerd.sock\"\n"
    );
}

#[test]
fn below_124_it_renders_with_a_warning() {
    let (_up, ws) = dock_setup("1.23");
    let o = ws.render("dock", &[]);
    assert_ok(&o);
    assert!(
        stderr(&o)
            .contains("warning: profile dock: on Kubernetes 1.23 the kubelet still has dockershim; this node reaches Docker through cri-dockerd"),
        "{}",
        stderr(&o)
    );
    let flags = read(
        ws.out()
            .join("dock/amd64/rootfs/var/lib/kubelet/kubeadm-flags.env"),
    );
    assert!(flags.contains("--container-runtime=remote"), "{flags}");
    // Said once, with the render it concerns: not again when every arch is up to date, not by
    // `hosts`; `show` says it any time.
    let warning = "the kubelet still has dockershim";
    let again = ws.render("dock", &[]);
    assert_ok(&again);
    assert!(stderr(&again).contains("up to date"), "{}", stderr(&again));
    assert!(!stderr(&again).contains(warning), "{}", stderr(&again));
    let hosts = ws.run(&["hosts", "--profile", "dock"]);
    assert_ok(&hosts);
    assert!(!stderr(&hosts).contains(warning), "{}", stderr(&hosts));
    let show = ws.run(&["show", "--profile", "dock"]);
    assert!(stderr(&show).contains(warning), "{}", stderr(&show));
}

#[test]
fn dockershim_is_refused_with_the_two_ways_off() {
    let up = Upstream::start();
    let ws = Workspace::new();
    let text = up
        .cri_dockerd_profile("dock", "1.25")
        .replace("runtime = \"cri-dockerd\"", "runtime = \"dockershim\"");
    ws.write_profile("dock", &text);
    let o = ws.render("dock", &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("dock.toml:5:11"), "{err}");
    assert!(err.contains("removed from the kubelet in 1.24"), "{err}");
    assert!(
        err.contains("runtime = \\\"containerd\\\"") || err.contains("runtime = \"containerd\""),
        "{err}"
    );
    assert!(err.contains("cri-dockerd"), "{err}");
}

#[test]
fn an_arch_without_a_docker_pin_is_refused_with_the_way_to_pin_it() {
    let up = Upstream::start();
    let ws = Workspace::new();
    // docker-static 28.3.3 is in the catalog for amd64 only.
    let text = up
        .cri_dockerd_profile("dock", "1.36")
        .replace("arch = [\"amd64\"]", "arch = [\"amd64\", \"arm64\"]");
    ws.write_profile("dock", &text);
    let o = ws.render("dock", &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("artifact docker-static 28.3.3 has no sha256 pin for arm64"),
        "{err}"
    );
    assert!(err.contains("sha256.arm64 = \"<hex>\""), "{err}");
    assert_eq!(up.server.total_hits(), 0);
}

#[test]
fn the_shipped_profile_pins_everything_for_amd64() {
    let ws = Workspace::new();
    let o = ws.run(&["show", "--profile", "cri-dockerd"]);
    assert_ok(&o);
    let out = stdout(&o);
    // Docker 28.3.3's static bundle, from the catalog.
    assert!(
        out.contains("40c16bcf324f354b382d07e845e6a79e3493fc0c09b252dff9e1a46125589bff"),
        "{out}"
    );
    assert!(out.contains("runtime = \"cri-dockerd\""));
}

#[test]
fn a_missing_cri_dockerd_binary_is_a_profile_error() {
    let up = Upstream::start();
    let ws = Workspace::new();
    let text = up.cri_dockerd_profile("dock", "1.36").replace(
        "to = \"/usr/local/bin/\", mode = \"0755\" }]\n\n[[artifact]]\nname = \"cni-plugins\"",
        "to = \"/opt/bin/\", mode = \"0755\" }]\n\n[[artifact]]\nname = \"cni-plugins\"",
    );
    ws.write_profile("dock", &text);
    let o = ws.render("dock", &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no artifact installs /usr/local/bin/cri-dockerd"),
        "{}",
        stderr(&o)
    );
}
