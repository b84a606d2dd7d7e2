#!/usr/bin/env python3
"""Fake upstream release artifacts and loopback profiles for ci/compare/run.sh.

Usage:
  fake-upstream.py artifacts SRV_DIR
      Writes the fake artifacts under SRV_DIR/<upstream host>/<upstream path>, i.e. at the
      very paths the shipped profiles (profiles/containerd.toml, profiles/cri-dockerd.toml)
      download from, so that `http://127.0.0.1:PORT/<host>/...` serves each of them and
      `--mirror https://<host>/=http://127.0.0.1:PORT/<host>/` works too. Also writes
      SRV_DIR/pins.json: {"<host>/<path>": "<sha256>"}.
  fake-upstream.py profiles SRV_DIR BASE_URL OUT_DIR
      Writes the loopback profiles (they `extends` the shipped ones and change only urls and
      sha256 pins, plus what each says it changes) and join files into OUT_DIR.

Layouts (as upstream publishes them; small: 20 to 640 KB per member, so the containerd
rootfs of one arch is about 1.7 MB, still more than the packer's 1 MiB chunk):
  containerd-V-linux-ARCH.tar.gz  bin/{containerd,containerd-shim-runc-v2,containerd-stress,ctr}
                                  (+ .sha256sum beside it: "<hex>  <asset>")
  runc.ARCH                       the bare binary (+ runc.sha256sum: one line per asset)
  cni-plugins-linux-ARCH-vV.tgz   ./, ./LICENSE, ./README.md and the plugins under ./
                                  (+ .sha256 beside it: "<hex>  <asset>")
  crictl-vV-linux-ARCH.tar.gz     crictl (+ .sha256 beside it: the hex alone)
  docker-V.tgz (x86_64, aarch64)  docker/{docker,dockerd,containerd,ctr,containerd-shim-runc-v2,
                                  docker-init,docker-proxy,runc}
  cri-dockerd-V.ARCH.tgz          cri-dockerd/cri-dockerd
  unit files                      containerd.service (2.3.4 and 1.7.34), moby's docker.service
                                  and docker.socket, cri-dockerd's cri-docker.service/.socket
Every byte is derived from fixed seeds (sha256 in counter mode mixed with text), so the same
script writes the same files on every machine; tar members have uid/gid 0, mtime 0.
"""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

ARCHES = ["amd64", "arm64"]
UNAME = {"amd64": "x86_64", "arm64": "aarch64"}
# e_machine of an ELF header, so the fake binaries at least start like real ones.
EMACHINE = {"amd64": b"\x3e\x00", "arm64": b"\xb7\x00"}
KB = 1024

GH = "github.com"
RAW = "raw.githubusercontent.com"
DOCKER = "download.docker.com"

CTR_V, RUNC_V, CNI_V, CRICTL_V = "2.3.4", "1.4.3", "1.9.1", "1.36.0"
RUNC_BUMP_V = "1.4.4"          # for containerd-bumped.toml (builder diff)
DOCKER_V, CRID_V, CRID_UNITS_V, CTR17_V = "28.3.3", "0.3.26", "0.3.25", "1.7.34"
# Versions no catalog knows (builder pin).
PIN_CTR_V, PIN_RUNC_V, PIN_CRICTL_V, PIN_CRID_V = "9.9.1", "9.9.2", "9.9.3", "9.9.4"

CNI_PLUGINS = ["bandwidth", "bridge", "dhcp", "firewall", "host-local", "loopback", "macvlan",
               "portmap", "ptp", "tuning", "vlan"]


def blob(seed, size):
    """`size` deterministic bytes that compress roughly like a binary (about half)."""
    out = bytearray()
    text = (f"{seed}: some text that repeats, as strings tables do in real binaries\n" * 4).encode()
    n = 0
    while len(out) < size:
        h = hashlib.sha256(f"{seed}/{n}".encode()).digest()
        out += h * 1 + h[:16]          # pseudo-random run
        if n % 3 == 0:
            out += text[: 64 + (h[0] % 128)]  # compressible run
        n += 1
    return bytes(out[:size])


def fake_bin(name, arch, size):
    head = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00" + EMACHINE[arch]
    return head + blob(f"{name}-{arch}", size - len(head))


def targz(members):
    """members: [(name, bytes or None for a folder, mode)] -> deterministic .tar.gz bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, data, mode in members:
            ti = tarfile.TarInfo(name)
            ti.mtime = 0
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = "root"
            ti.mode = mode
            if data is None:
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
            else:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


CONTAINERD_UNIT = """\
# Copyright The containerd Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.

[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target dbus.service

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/containerd

Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5

# Having non-zero Limit*s causes performance problems due to accounting overhead
# in the kernel. We recommend using cgroups to do container-local accounting.
LimitNPROC=infinity
LimitCORE=infinity

# Comment TasksMax if your systemd version does not supports it.
# Only systemd 226 and above support this version.
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
"""

DOCKER_SERVICE = """\
[Unit]
Description=Docker Application Container Engine
Documentation=https://docs.docker.com
After=network-online.target nss-lookup.target docker.socket firewalld.service containerd.service time-set.target
Wants=network-online.target containerd.service
Requires=docker.socket
StartLimitBurst=3
StartLimitIntervalSec=60

[Service]
Type=notify
ExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock
ExecReload=/bin/kill -s HUP $MAINPID
TimeoutStartSec=0
RestartSec=2
Restart=always
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
Delegate=yes
KillMode=process
OOMScoreAdjust=-500

[Install]
WantedBy=multi-user.target
"""

DOCKER_SOCKET = """\
[Unit]
Description=Docker Socket for the API

[Socket]
ListenStream=/run/docker.sock
SocketMode=0660
SocketUser=root
SocketGroup=docker

[Install]
WantedBy=sockets.target
"""

CRI_DOCKER_SERVICE = """\
[Unit]
Description=CRI Interface for Docker Application Container Engine
Documentation=https://docs.mirantis.com
After=network-online.target firewalld.service docker.service
Wants=network-online.target
Requires=cri-docker.socket

[Service]
Type=notify
ExecStart=/usr/bin/cri-dockerd --container-runtime-endpoint fd://
ExecReload=/bin/kill -s HUP $MAINPID
TimeoutSec=0
RestartSec=2
Restart=always
StartLimitBurst=3
StartLimitInterval=60s
LimitNOFILE=infinity
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
Delegate=yes
KillMode=process

[Install]
WantedBy=multi-user.target
"""

CRI_DOCKER_SOCKET = """\
[Unit]
Description=CRI Docker Socket for the API
PartOf=cri-docker.service

[Socket]
ListenStream=%t/cri-dockerd.sock
SocketMode=0660
SocketUser=root
SocketGroup=docker

[Install]
WantedBy=sockets.target
"""


def sha(data):
    return hashlib.sha256(data).hexdigest()


def artifacts(srv):
    files = {}  # "<host>/<path>" -> bytes

    def put(rel, data):
        files[rel] = data

    def gh(repo, tag, asset):
        return f"{GH}/{repo}/releases/download/{tag}/{asset}"

    runc_sums = {RUNC_V: "", RUNC_BUMP_V: "", PIN_RUNC_V: ""}
    for arch in ARCHES:
        for v in (CTR_V, PIN_CTR_V):
            asset = f"containerd-{v}-linux-{arch}.tar.gz"
            data = targz([
                ("bin/", None, 0o755),
                ("bin/containerd", fake_bin(f"containerd{v}", arch, 640 * KB), 0o755),
                ("bin/containerd-shim-runc-v2", fake_bin(f"shim{v}", arch, 100 * KB), 0o755),
                ("bin/containerd-stress", fake_bin(f"stress{v}", arch, 60 * KB), 0o755),
                ("bin/ctr", fake_bin(f"ctr{v}", arch, 250 * KB), 0o755),
            ])
            put(gh("containerd/containerd", f"v{v}", asset), data)
            put(gh("containerd/containerd", f"v{v}", asset + ".sha256sum"),
                f"{sha(data)}  {asset}\n".encode())
        for v in runc_sums:
            data = fake_bin(f"runc{v}", arch, 200 * KB)
            put(gh("opencontainers/runc", f"v{v}", f"runc.{arch}"), data)
            runc_sums[v] += f"{sha(data)}  runc.{arch}\n"
        asset = f"cni-plugins-linux-{arch}-v{CNI_V}.tgz"
        members = [("./", None, 0o755),
                   ("./LICENSE", b"Apache License\nVersion 2.0, January 2004\n" * 40, 0o644),
                   ("./README.md", b"Some CNI network plugins, maintained by the "
                                   b"containernetworking team.\n" * 10, 0o644)]
        members += [(f"./{p}", fake_bin(f"cni-{p}", arch, 20 * KB + i * 2 * KB), 0o755)
                    for i, p in enumerate(CNI_PLUGINS)]
        data = targz(sorted(members, key=lambda m: m[0]))
        put(gh("containernetworking/plugins", f"v{CNI_V}", asset), data)
        put(gh("containernetworking/plugins", f"v{CNI_V}", asset + ".sha256"),
            f"{sha(data)}  {asset}\n".encode())
        for v in (CRICTL_V, PIN_CRICTL_V):
            asset = f"crictl-v{v}-linux-{arch}.tar.gz"
            data = targz([("crictl", fake_bin(f"crictl{v}", arch, 150 * KB), 0o755)])
            put(gh("kubernetes-sigs/cri-tools", f"v{v}", asset), data)
            put(gh("kubernetes-sigs/cri-tools", f"v{v}", asset + ".sha256"), sha(data).encode())
        names = ["docker", "dockerd", "containerd", "ctr", "containerd-shim-runc-v2",
                 "docker-init", "docker-proxy", "runc"]
        sizes = {"dockerd": 500 * KB, "containerd": 300 * KB, "docker": 200 * KB}
        data = targz([("docker/", None, 0o755)] +
                     [(f"docker/{n}", fake_bin(f"docker-{n}", arch, sizes.get(n, 50 * KB)), 0o755)
                      for n in names])
        put(f"{DOCKER}/linux/static/stable/{UNAME[arch]}/docker-{DOCKER_V}.tgz", data)
        for v in (CRID_V, PIN_CRID_V):
            data = targz([("cri-dockerd/", None, 0o755),
                          ("cri-dockerd/cri-dockerd", fake_bin(f"cri-dockerd{v}", arch, 150 * KB),
                           0o755)])
            put(gh("Mirantis/cri-dockerd", f"v{v}", f"cri-dockerd-{v}.{arch}.tgz"), data)
    for v, text in runc_sums.items():
        put(gh("opencontainers/runc", f"v{v}", "runc.sha256sum"), text.encode())
    for v in (CTR_V, CTR17_V, PIN_CTR_V):
        put(f"{RAW}/containerd/containerd/v{v}/containerd.service", CONTAINERD_UNIT.encode())
    put(f"{RAW}/moby/moby/v{DOCKER_V}/contrib/init/systemd/docker.service",
        DOCKER_SERVICE.encode())
    put(f"{RAW}/moby/moby/v{DOCKER_V}/contrib/init/systemd/docker.socket",
        DOCKER_SOCKET.encode())
    put(f"{RAW}/Mirantis/cri-dockerd/v{CRID_UNITS_V}/packaging/systemd/cri-docker.service",
        CRI_DOCKER_SERVICE.encode())
    put(f"{RAW}/Mirantis/cri-dockerd/v{CRID_UNITS_V}/packaging/systemd/cri-docker.socket",
        CRI_DOCKER_SOCKET.encode())

    pins = {}
    for rel, data in sorted(files.items()):
        path = os.path.join(srv, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        pins[rel] = sha(data)
    with open(os.path.join(srv, "pins.json"), "w") as fh:
        json.dump(pins, fh, indent=1, sort_keys=True)


def profiles(srv, base, out):
    with open(os.path.join(srv, "pins.json")) as fh:
        pins = json.load(fh)
    os.makedirs(out, exist_ok=True)

    def expand(tmpl, version, arch):
        return (tmpl.replace("{version}", version).replace("{arch}", arch)
                .replace("{uname_arch}", UNAME[arch]))

    def art(name, version, tmpl, arches, loopback=True, write_version=False, pin=True):
        """One [[artifact]] override: url on loopback (or upstream, for --mirror), pins."""
        rel = tmpl.split("://", 1)[1]
        lines = ["[[artifact]]", f'name = "{name}"']
        if write_version:
            lines.append(f'version = "{version}"')
        if loopback:
            lines.append(f'url = "{base}/{rel}"')
        if pin:
            if "{arch}" in tmpl or "{uname_arch}" in tmpl:
                for a in arches:
                    lines.append(f'sha256.{a} = "{pins[expand(rel, version, a)]}"')
            else:
                lines.append(f'sha256 = "{pins[expand(rel, version, arches[0])]}"')
        return "\n".join(lines) + "\n"

    gh_dl = "https://github.com/{repo}/releases/download/v{{version}}/{asset}"
    CTR_T = gh_dl.format(repo="containerd/containerd",
                         asset="containerd-{version}-linux-{arch}.tar.gz")
    RUNC_T = gh_dl.format(repo="opencontainers/runc", asset="runc.{arch}")
    CNI_T = gh_dl.format(repo="containernetworking/plugins",
                         asset="cni-plugins-linux-{arch}-v{version}.tgz")
    CRICTL_T = gh_dl.format(repo="kubernetes-sigs/cri-tools",
                            asset="crictl-v{version}-linux-{arch}.tar.gz")
    CRID_T = gh_dl.format(repo="Mirantis/cri-dockerd", asset="cri-dockerd-{version}.{arch}.tgz")
    UNIT_CTR = "https://raw.githubusercontent.com/containerd/containerd/v{version}/containerd.service"
    DOCKER_T = "https://download.docker.com/linux/static/stable/{uname_arch}/docker-{version}.tgz"
    MOBY = "https://raw.githubusercontent.com/moby/moby/v{version}/contrib/init/systemd/"
    MIR = "https://raw.githubusercontent.com/Mirantis/cri-dockerd/v{version}/packaging/systemd/"

    def containerd_arts(loopback=True):
        both = ARCHES
        return (art("containerd", CTR_V, CTR_T, both, loopback)
                + art("containerd-service", CTR_V, UNIT_CTR, both, loopback)
                + art("runc", RUNC_V, RUNC_T, both, loopback)
                + art("cni-plugins", CNI_V, CNI_T, both, loopback)
                + art("crictl", CRICTL_V, CRICTL_T, both, loopback))

    def criddockerd_arts(loopback=True):
        both = ARCHES
        return (art("docker-static", DOCKER_V, DOCKER_T, both, loopback)
                + art("docker-service", DOCKER_V, MOBY + "docker.service", both, loopback)
                + art("docker-socket", DOCKER_V, MOBY + "docker.socket", both, loopback)
                + art("containerd-service", CTR17_V, UNIT_CTR, both, loopback)
                + art("cri-dockerd", CRID_V, CRID_T, both, loopback)
                + art("cri-docker-service", CRID_UNITS_V, MIR + "cri-docker.service", both,
                      loopback)
                + art("cri-docker-socket", CRID_UNITS_V, MIR + "cri-docker.socket", both,
                      loopback)
                + art("cni-plugins", CNI_V, CNI_T, both, loopback)
                + art("crictl", CRICTL_V, CRICTL_T, both, loopback))

    head = ("# Generated by ci/compare/fake-upstream.py: the shipped {p} profile, fetching fake\n"
            "# artifacts from the loopback server (only urls and pins change{extra}).\n"
            "schema = 1\nextends = \"{p}\"\nname = \"{p}\"\narch = [\"amd64\", \"arm64\"]\n\n")
    files = {
        "containerd.toml": head.format(p="containerd", extra="") + containerd_arts(),
        "cri-dockerd.toml": head.format(
            p="cri-dockerd", extra="; arm64 added, with a pin for Docker's aarch64 bundle")
        + criddockerd_arts(),
        # Upstream urls kept (rendered with --mirror): only the pins change.
        "containerd-mirror.toml": (
            "# Generated by ci/compare/fake-upstream.py: the shipped containerd profile with only\n"
            "# its pins changed; the urls stay upstream's and --mirror points them at loopback.\n"
            "schema = 1\nextends = \"containerd\"\nname = \"containerd\"\n"
            "arch = [\"amd64\", \"arm64\"]\n\n")
        + containerd_arts(loopback=False),
        # A second render to diff against: runc bumped, a kubelet flag added.
        "containerd-bumped.toml": (
            "# Generated by ci/compare/fake-upstream.py: containerd.toml with runc bumped and a\n"
            "# kubelet flag added, for builder diff.\n"
            "schema = 1\nextends = \"./containerd.toml\"\n\n"
            "[kubelet]\nextra_args = { \"max-pods\" = \"60\" }\n\n"
            + art("runc", RUNC_BUMP_V, RUNC_T, ARCHES, write_version=True)),
        # builder pin: containerd, runc and crictl bumped to versions no catalog knows, unpinned.
        "pin-site.toml": (
            "# Generated by ci/compare/fake-upstream.py: bumped past the catalog, for builder pin.\n"
            "schema = 1\nextends = \"./containerd.toml\"\nname = \"site\"   # a comment to keep\n\n"
            + art("containerd", PIN_CTR_V, CTR_T, ARCHES, write_version=True, pin=False) + "\n"
            + art("runc", PIN_RUNC_V, RUNC_T, ARCHES, write_version=True, pin=False) + "\n"
            + "  # crictl, an indented comment\n"
            + art("crictl", PIN_CRICTL_V, CRICTL_T, ARCHES, write_version=True, pin=False)),
        # builder pin on cri-dockerd: upstream publishes no checksum file.
        "pin-crid.toml": (
            "# Generated by ci/compare/fake-upstream.py: cri-dockerd bumped, for builder pin.\n"
            "schema = 1\nextends = \"./cri-dockerd.toml\"\nname = \"site-crid\"\n\n"
            + art("cri-dockerd", PIN_CRID_V, CRID_T, ARCHES, write_version=True, pin=False)),
        # A wrong pin: render must fail naming both digests.
        "bad-pin.toml": (
            "# Generated by ci/compare/fake-upstream.py: runc's amd64 pin is wrong.\n"
            "schema = 1\nextends = \"./containerd.toml\"\nname = \"bad-pin\"\narch = [\"amd64\"]\n\n"
            "[[artifact]]\nname = \"runc\"\nsha256.amd64 = \"" + "0" * 64 + "\"\n"
            "sha256.arm64 = \"" + "0" * 64 + "\"\n"),
        "join.toml": (
            "# A fake join config (nothing listens at api_server; the token is made up).\n"
            "api_server = \"10.0.0.10:6443\"\n"
            "token = \"abcdef.0123456789abcdef\"\n"
            "ca_cert_hashes = [\"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"]\n"
            "discovery_timeout = \"90s\"\n"),
        "join-bad.toml": (
            "api_server = \"10.0.0.10:6443\"\ntoken = \"not-a-token-secret-value\"\n"
            "ca_cert_hash = \"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\n"),
    }
    for name, text in files.items():
        with open(os.path.join(out, name), "w") as fh:
            fh.write(text)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "artifacts":
        artifacts(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "profiles":
        profiles(sys.argv[2], sys.argv[3].rstrip("/"), sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
