#!/usr/bin/env bash
# End to end: a VM built from a plain Debian base image plus builder's overlay boots with
# builder's user-data, runs the runtime from the overlay's own binaries and config, passes
# kubeadm's join preflight, and runs pods through the kubelet.
#
#   1. a minimal Debian 12 base image that plays a node base image (debootstrap minbase + kernel,
#      systemd, cloud-init, iptables, conntrack, ca-certificates, the libraries Debian's
#      dynamically linked dockerd needs; kubelet and kubeadm v1.36.3 built from source with the
#      packages' kubelet unit and kubeadm's 10-kubeadm.conf; no container runtime), cached
#      outside the checkout under a key made from its inputs (see build_base);
#   2. Debian's containerd (2.1, from unstable), runc, CNI plugins, dockerd 20.10 and containerd
#      1.6 repackaged into the upstream release layouts and served on loopback, with crictl
#      v1.37.0 and cri-dockerd v0.4.3 built from source (ci/consumers/build.sh, static), in the
#      release archives' layouts; units are upstream's (ci/e2e/units);
#   3. builder renders the shipped containerd and cri-dockerd profiles (extended to point at
#      loopback; join parameters for 127.0.0.1:6443, where nothing listens), the overlay is
#      baked into a copy of the base image, the user-data is attached as a NoCloud seed, and the
#      guest reports (second serial port) what the host then checks;
#   4. on the node VMs (kernel command line e2e.node=1; ci/e2e/node.sh): kubeadm join phase
#      preflight passes its node checks and fails only at discovery; the kubelet, started by
#      systemd with builder's kubeadm-flags.env unchanged, runs a host-network pod and a pod on
#      the overlay's CNI plugins; negative controls (e2e.negative=1) must fail the same checks;
#   5. also: fetch mode (user-data unpacks the overlay from a second disk at first boot), fetch
#      mode from an OCI registry (ci/e2e/registry.sh: `builder push` to the real Distribution
#      registry, the node fetches the blob by digest through a pull-through mirror over qemu's
#      user network), a tampered blob in the mirror's storage (must leave the runtime
#      uninstalled and say why on the console), and a deliberately broken render (containerd config version 4, which the 2.1 binary rejects),
#      which the checks must catch;
#   6. the system extension (render --format sysext; case `sysext`): the base image with no
#      overlay unpacked gets ignition.json applied by the real Ignition v2.26.0 (built from source
#      by ci/consumers/build.sh; the file platform, stages fetch-offline, fetch and files into the
#      VM's root before its first boot: it fetches the .raw from the loopback server and checks
#      the config's sha256), then `systemctl --root preset` for the units Ignition enabled (what
#      Flatcar's first boot does), plus a tampered extension whose extension-release says
#      ARCHITECTURE=arm64; systemd-sysext must merge builder's image and refuse the other, and
#      containerd must run from the merged /usr and answer the real crictl;
#   7. the cluster case (ci/e2e/cluster.sh, E2E_ONLY=cluster): a live v1.36.3 control plane
#      (built from source, set up by kubeadm's init phases, run as host processes in a private
#      network namespace) that the containerd node (containerd 2.3.4) and the cri-dockerd node
#      join through their user-data's own kubeadm join; the host checks the nodes, scheduled
#      pods, a docker.sock workload and `builder detect` on the live cluster, and a node with a
#      wrong criSocket must fail to join;
#   8. only with E2E_ONLY=migration (ci/migration.sh): a v1.23.17 cluster with two nodes on the
#      kubelet's built-in dockershim is migrated by builder detect's plan and builder's outputs,
#      end to end (ci/e2e/migration.sh).
# qemu runs under TCG (this machine's /dev/kvm cannot boot a stock kernel): about a minute a VM.
# Every VM has a time bound (E2E_VM_TIMEOUT, default 600 s); on failure the console's tail and
# cloud-init's result are printed. Usage: bash ci/e2e/run.sh   (as root; installs what it needs)
# Per-run state (images, VM disks, seeds, logs) is in target/e2e (BUILDER_E2E_DIR).
# BUILDER_BIN: the builder binary to render with (ci/test.sh passes its debug build); without
# it, a release build is made first.
# bash ci/e2e/run.sh --base | --base-key | --base-inputs: only build (or find) the base image and
# print its folder | print its cache key | print what the key is computed from.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
e2e=${BUILDER_E2E_DIR:-$repo/target/e2e}
vm_timeout=${E2E_VM_TIMEOUT:-600}
# E2E_ONLY="containerd fetch": boot only these VMs (for work on one case; CI boots all).
only=${E2E_ONLY:-}
builder=${BUILDER_BIN:-$repo/target/release/builder}
mkdir -p "$e2e"
e2e=$(cd "$e2e" && pwd)

say() { echo "e2e: $*" >&2; }
die() { echo "e2e: FAIL: $*" >&2; exit 1; }
sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# --- host tools -------------------------------------------------------------------------------
install_host_packages() {
  say "installing host packages"
  export DEBIAN_FRONTEND=noninteractive
  [ -n "${E2E_SKIP_APT_UPDATE:-}" ] || sudo_ apt-get update -qq
  # The machine's newer qemu-utils is too new for bookworm's qemu-system-x86: take bookworm's.
  sudo_ apt-get install -y -qq --no-install-recommends --allow-downgrades \
    debootstrap qemu-system-x86 'qemu-utils/bookworm' cloud-image-utils genisoimage e2fsprogs \
    containerd runc containernetworking-plugins docker.io python3 python3-yaml iproute2 busybox-static squashfs-tools \
    apache2-utils openssl curl >/dev/null
}

# --- 1. base image ----------------------------------------------------------------------------
# The base image (debootstrap, its configuration, kubelet and kubeadm) is cached outside the
# checkout, in base_cache/KEY/rootfs, KEY being the sha256 of everything that shapes it
# (base_inputs: the package list, the host's debootstrap, the text of the three functions that
# make it, the files they copy in, the kubelet's and kubeadm's digests). A fresh clone reuses it;
# any change to an input makes a new entry. Built in a temporary folder beside it and renamed
# into place only when complete, under a lock; the newest 4 entries (by last use) are kept.
# Everything per run (images, VM disks, seeds, logs) stays in $e2e.
base_cache=${XDG_CACHE_HOME:-$HOME/.cache}/builder-ci/e2e-base
base=""   # base_cache/KEY/rootfs, set by build_base
# The packages of the base image. apparmor: Debian's kernel enables AppArmor, and dockerd then
# needs apparmor_parser to load its docker-default profile, or no container starts (the
# cri-dockerd VM failed exactly so without it; Debian's standard install has it).
# The migration case (ci/e2e/migration.sh) builds its old nodes' image with more packages and an
# extra step (base_extra, a function whose text joins the key).
BASE_PACKAGES=linux-image-amd64,systemd-sysv,udev,kmod,ifupdown,cloud-init,python3-cffi-backend,iptables,conntrack,ca-certificates,curl,libdevmapper1.02.1,procps,apparmor

debootstrap_base() { # root
  debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$1"
}

# The image's configuration: fstab, cloud-init, the harness, host name.
configure_base() { # root
  local root=$1
  printf '/dev/vda / ext4 defaults 0 1\n/dev/vdc /mnt/overlay-src iso9660 ro,nofail,x-systemd.device-timeout=90s 0 0\n' >"$root/etc/fstab"
  mkdir -p "$root/mnt/overlay-src"
  cat >"$root/etc/cloud/cloud.cfg.d/99-e2e.cfg" <<'EOF'
datasource_list: [ NoCloud, None ]
network: {config: disabled}
locale: C.UTF-8
# The meta-data's local-hostname resolves to 127.0.1.1, as on Debian's own cloud images: kubeadm's
# hostname check finds it, and the kubelet skips that loopback address for the node's IP.
manage_etc_hosts: localhost
cloud_init_modules:
 - migrator
 - seed_random
 - bootcmd
 - write-files
 - set_hostname
 - update_hostname
 - update_etc_hosts
 - users-groups
EOF
  # The harness: report to the host once cloud-init's final stage is over, then power off.
  install -m 0755 ci/e2e/report.sh "$root/usr/local/sbin/e2e-report"
  cat >"$root/etc/systemd/system/e2e-report.service" <<'EOF'
[Unit]
Description=builder e2e: report to the host, then power off
After=cloud-final.service
Wants=cloud-final.service

[Service]
Type=oneshot
ExecStartPre=/bin/sleep 5
ExecStart=/usr/local/sbin/e2e-report
StandardOutput=journal+console

EOF
  # Wanted by cloud-final itself: Debian orders cloud-final after multi-user.target, so a
  # multi-user.target want would be an ordering cycle.
  rm -f "$root/etc/systemd/system/multi-user.target.wants/e2e-report.service"
  mkdir -p "$root/etc/systemd/system/cloud-final.service.wants"
  ln -sf /etc/systemd/system/e2e-report.service "$root/etc/systemd/system/cloud-final.service.wants/e2e-report.service"
  echo e2e-node >"$root/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 e2e-node\n' >"$root/etc/hosts"
  echo 'nameserver 192.0.2.53' >"$root/etc/resolv.conf"
  # The NIC of a cluster-case VM (qemu's user network): DHCP by systemd-networkd, which only
  # those VMs start (systemd.wants= on their kernel command line); the others have no NIC.
  mkdir -p "$root/etc/systemd/network"
  printf '[Match]\nName=en*\n\n[Network]\nDHCP=ipv4\n' >"$root/etc/systemd/network/50-e2e-dhcp.network"
}

# kubelet and kubeadm v1.36.3: BUILDER_KUBELET and BUILDER_KUBEADM (ci/test.sh passes them), else
# ci/consumers/build.sh kubernetes (cached outside the checkout).
kubelet="" kubeadm=""
resolve_kubernetes() {
  kubelet=${BUILDER_KUBELET:-} kubeadm=${BUILDER_KUBEADM:-}
  if [ -z "$kubelet" ] || [ -z "$kubeadm" ]; then
    local out
    out=$(bash ci/consumers/build.sh kubernetes) || die "ci/consumers/build.sh kubernetes failed"
    eval "$out"
    kubelet=${KUBELET:-} kubeadm=${KUBEADM:-}
  fi
  if [ ! -x "$kubelet" ] || [ ! -x "$kubeadm" ]; then
    die "no kubelet and kubeadm (BUILDER_KUBELET/BUILDER_KUBEADM, or ci/consumers/build.sh kubernetes)"
  fi
  "$kubelet" --version | grep -qx 'Kubernetes v1.36.3' || die "$kubelet is not kubelet v1.36.3"
  "$kubeadm" version -o short | grep -qx 'v1.36.3' || die "$kubeadm is not kubeadm v1.36.3"
}

# What a node base image carries for Kubernetes: the kubelet and kubeadm in /usr/bin, the
# kubelet unit as the packages install and enable it, and kubeadm's drop-in, which reads
# /var/lib/kubelet/kubeadm-flags.env. builder installs none of these. Until a config file exists
# the kubelet exits and systemd restarts it every 10 s, as on any freshly installed node.
# Plus the test's own part: the node script (ci/e2e/node.sh).
install_kubernetes() { # root
  local root=$1
  install -m 0755 "$kubelet" "$root/usr/bin/kubelet"
  install -m 0755 "$kubeadm" "$root/usr/bin/kubeadm"
  local units=$root/usr/lib/systemd/system
  install -D -m 0644 ci/e2e/kubelet/kubelet.service "$units/kubelet.service"
  install -D -m 0644 ci/e2e/kubelet/10-kubeadm.conf "$units/kubelet.service.d/10-kubeadm.conf"
  mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
  ln -sfn /usr/lib/systemd/system/kubelet.service "$root/etc/systemd/system/multi-user.target.wants/kubelet.service"
  install -m 0755 ci/e2e/node.sh "$root/usr/local/sbin/e2e-node"
  install -m 0755 ci/e2e/load-images.sh "$root/usr/local/sbin/e2e-load-images"
}

# Everything that shapes the base image, as text; its sha256 is the cache key. The functions'
# text comes from bash (declare -f), so a comment changes nothing and any code change counts.
base_inputs() {
  local f v
  echo "builder e2e base image, $(dpkg --print-architecture)"
  echo "packages $BASE_PACKAGES"
  v=$(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null) || true
  echo "debootstrap ${v:-not installed}"
  for f in ci/e2e/report.sh ci/e2e/node.sh ci/e2e/load-images.sh ci/e2e/kubelet/*; do echo "file $f $(sha "$f")"; done
  echo "kubelet $(sha "$kubelet")"
  echo "kubeadm $(sha "$kubeadm")"
  declare -f debootstrap_base configure_base install_kubernetes
  [ -z "${base_extra:-}" ] || declare -f "$base_extra"
}

# Removes a tree, first unmounting whatever a killed debootstrap left mounted in it (/proc,
# /sys); never crosses into another file system.
remove_tree() { # dir
  local m
  [ -e "$1" ] || return 0
  findmnt -rn -o TARGET | awk -v p="$1/" 'index($0, p) == 1' | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$1"
}

build_base() {
  local key inputs entry tmp
  inputs=$(base_inputs)
  key=$(sha256sum <<<"$inputs" | cut -d' ' -f1)
  entry=$base_cache/$key
  base=$entry/rootfs
  mkdir -p "$base_cache"
  exec 8>"$base_cache/.lock"
  flock 8
  if [ -d "$base" ]; then
    say "base image: cached in $entry"
  else
    # Under the lock, any temporary folder is one a killed build left behind.
    for tmp in "$base_cache"/.build-*; do remove_tree "$tmp"; done
    tmp=$(mktemp -d "$base_cache/.build-XXXXXX")
    chmod 755 "$tmp"
    say "building the base image (debootstrap minbase, ~2 min) into $tmp"
    debootstrap_base "$tmp/rootfs" >"$tmp/debootstrap.log" 2>&1 ||
      { tail -20 "$tmp/debootstrap.log"; remove_tree "$tmp"; die "debootstrap failed"; }
    configure_base "$tmp/rootfs"
    install_kubernetes "$tmp/rootfs"
    [ -z "${base_extra:-}" ] || "$base_extra" "$tmp/rootfs"
    printf '%s\n' "$inputs" >"$tmp/INPUTS"
    remove_tree "$entry"
    mv -T "$tmp" "$entry"
    say "base image: ready in $entry"
  fi
  touch "$entry"
  # Keep the newest 4 entries by last use (this one is the newest): the nodes' image, and the
  # migration case's two.
  find "$base_cache" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex '.*/[0-9a-f]{64}' \
    -printf '%T@ %f\n' | sort -rn | tail -n +5 | while read -r _ old; do
    say "base image: pruning $old"
    remove_tree "$base_cache/$old"
  done
  exec 8>&-
  # The in-checkout cache of earlier versions of this script.
  if [ -d "$e2e/base-rootfs" ]; then
    say "removing the old in-checkout base image $e2e/base-rootfs"
    remove_tree "$e2e/base-rootfs"
    rm -f "$e2e/debootstrap.done" "$e2e/debootstrap.log"
  fi
}

# The images the node test loads (ci/e2e/images): the pause image under each profile's sandbox
# image name, a tiny static Go program; and busybox-static from Debian as the workload. Made per
# run into $images; boot copies them into each VM's /var/lib/e2e/images.
images=$e2e/images
build_images() { # sandbox images...
  local w=$e2e/pause
  rm -rf "$images" "$w" && mkdir -p "$images" "$w"
  local prog
  for prog in pause dockerps; do
    (cd ci/e2e/images && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags='-s -w' -o "$w/$prog" "$prog.go") ||
      die "building the $prog program failed"
  done
  local i=0 img
  for img in $(printf '%s\n' "$@" | sort -u); do
    i=$((i + 1))
    python3 ci/e2e/images/mkimage.py "$images/pause-$i.tar" "$img" '["/pause"]' "$w/pause:/pause:0755"
  done
  python3 ci/e2e/images/mkimage.py "$images/busybox.tar" builder-e2e.local/busybox:1 '["/bin/busybox"]' \
    /bin/busybox:/bin/busybox:0755 /bin/sh=busybox
  python3 ci/e2e/images/mkimage.py "$images/dockerps.tar" builder-e2e.local/dockerps:1 '["/dockerps"]' \
    "$w/dockerps:/dockerps:0755"
}

# --- 2. upstream layouts from Debian's binaries ------------------------------------------------
up=$e2e/upstream
sid=""
package_upstream() {
  say "repackaging Debian's binaries into upstream release layouts"
  sid=$(bash ci/consumers/sid-consumers.sh "${BUILDER_CONSUMERS_DIR:-$repo/target/consumers}")
  rm -rf "$up" && mkdir -p "$up/stage"
  local s=$up/stage
  # containerd 2.1.9 (Debian unstable; links only libc): containerd-V-linux-amd64.tar.gz, bin/*
  mkdir -p "$s/ctr/bin"
  cp "$sid/usr/bin/containerd" "$sid/usr/bin/containerd-shim-runc-v2" "$sid/usr/bin/ctr" "$s/ctr/bin/"
  tar -C "$s/ctr" -czf "$up/containerd-2.1.9-linux-amd64.tar.gz" bin
  # containerd 2.3.4, built from source (static; ci/consumers/build.sh containerd): the same
  # layout, for the cluster case's containerd node (kubelet 1.36 wants containerd 2.2 or newer)
  local ctr23=${BUILDER_CONTAINERD23:-}
  [ -n "$ctr23" ] || ctr23=$(bash ci/consumers/build.sh containerd | sed -n 's/^CONTAINERD=//p')
  [ -x "$ctr23" ] || die "no containerd 2.3.4 (BUILDER_CONTAINERD23, or ci/consumers/build.sh containerd)"
  mkdir -p "$s/ctr23/bin"
  cp "$ctr23" "$(dirname "$ctr23")/containerd-shim-runc-v2" "$(dirname "$ctr23")/ctr" "$s/ctr23/bin/"
  tar -C "$s/ctr23" -czf "$up/containerd-2.3.4-linux-amd64.tar.gz" bin
  # runc (Debian 12): runc.amd64, bare
  cp /usr/sbin/runc "$up/runc.amd64"
  # CNI plugins (Debian 12): cni-plugins-linux-amd64-vV.tgz, flat ./members
  mkdir -p "$s/cni"
  cp /usr/lib/cni/* "$s/cni/"
  tar -C "$s/cni" -czf "$up/cni-plugins-linux-amd64-v1.1.1.tgz" .
  # crictl v1.37.0, built from source (static): crictl-vV-linux-amd64.tar.gz, crictl
  local crictl=${BUILDER_CRICTL:-}
  [ -n "$crictl" ] || crictl=$(bash ci/consumers/build.sh crictl | sed -n 's/^CRICTL=//p')
  [ -x "$crictl" ] || die "no crictl (BUILDER_CRICTL, or ci/consumers/build.sh crictl)"
  mkdir -p "$s/crictl" && cp "$crictl" "$s/crictl/crictl"
  tar -C "$s/crictl" -czf "$up/crictl-v1.37.0-linux-amd64.tar.gz" crictl
  # Docker Engine (Debian 12's dockerd 20.10 + containerd 1.6 + runc): docker-V.tgz, docker/*
  mkdir -p "$s/docker/docker"
  cp /usr/sbin/dockerd /usr/bin/docker /usr/sbin/docker-proxy /usr/bin/docker-init \
     /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 /usr/bin/ctr /usr/sbin/runc "$s/docker/docker/"
  tar -C "$s/docker" -czf "$up/docker-20.10.24.tgz" docker
  # cri-dockerd v0.4.3, built from source (static): cri-dockerd-V.ARCH.tgz, cri-dockerd/cri-dockerd
  local cri_dockerd=${BUILDER_CRI_DOCKERD:-}
  [ -n "$cri_dockerd" ] || cri_dockerd=$(bash ci/consumers/build.sh cri-dockerd | sed -n 's/^CRI_DOCKERD=//p')
  [ -x "$cri_dockerd" ] || die "no cri-dockerd (BUILDER_CRI_DOCKERD, or ci/consumers/build.sh cri-dockerd)"
  mkdir -p "$s/cri/cri-dockerd" && cp "$cri_dockerd" "$s/cri/cri-dockerd/cri-dockerd"
  tar -C "$s/cri" -czf "$up/cri-dockerd-0.4.3.amd64.tgz" cri-dockerd
  # cri-dockerd's own units, from its v0.4.3 module source (the bytes the shipped profile pins)
  local crd_src
  crd_src=$(cd "$e2e" && GOFLAGS=-mod=mod GOPROXY=$(go env GOPROXY | sed -E 's/[,|]direct$//') \
    go mod download -json github.com/Mirantis/cri-dockerd@v0.4.3 | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -f "$crd_src/packaging/systemd/cri-docker.service" ] || die "no cri-dockerd v0.4.3 module source"
  cp "$crd_src/packaging/systemd/cri-docker.service" "$crd_src/packaging/systemd/cri-docker.socket" "$up/"
  cp ci/e2e/units/* "$up/"
  rm -rf "$s"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

serve() {
  local port_file=$e2e/port
  rm -f "$port_file"
  python3 - "$up" "$port_file" <<'EOF' &
import http.server, socketserver, sys, os, functools
root, port_file = sys.argv[1], sys.argv[2]
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
handler = functools.partial(Quiet, directory=root)
with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as httpd:
    open(port_file, "w").write(str(httpd.server_address[1]))
    httpd.serve_forever()
EOF
  server_pid=$!
  for _ in $(seq 1 50); do [ -s "$port_file" ] && break; sleep 0.1; done
  [ -s "$port_file" ] || die "the loopback server did not start"
  base_url="http://127.0.0.1:$(cat "$port_file")"
}

# --- 3. profiles and renders ------------------------------------------------------------------
# One [[artifact]] override: name, served file (its digest is pinned), URL path with the
# profile's placeholders, and optionally a version.
art() {
  local name=$1 file=$2 path=$3 version=${4:-}
  printf '\n[[artifact]]\nname = "%s"\n' "$name"
  [ -z "$version" ] || printf 'version = "%s"\n' "$version"
  printf 'url = "%s"\nsha256 = "%s"\n' "$base_url/$path" "$(sha "$up/$file")"
}

# The overrides every profile here shares: containerd's unit, the CNI plugins, crictl.
shared_arts() {
  art containerd-service containerd.service containerd.service
  art cni-plugins cni-plugins-linux-amd64-v1.1.1.tgz 'cni-plugins-linux-{arch}-v{version}.tgz' 1.1.1
  art crictl crictl-v1.37.0-linux-amd64.tar.gz 'crictl-v{version}-linux-{arch}.tar.gz' 1.37.0
}

# The overrides of a cri-dockerd profile: Docker Engine 20.10, cri-dockerd 0.4.3, their units.
docker_arts() {
  art docker-static docker-20.10.24.tgz 'docker-{version}.tgz' 20.10.24
  art docker-service docker.service docker.service
  art docker-socket docker.socket docker.socket
  art cri-dockerd cri-dockerd-0.4.3.amd64.tgz 'cri-dockerd-{version}.{arch}.tgz' 0.4.3
  art cri-docker-service cri-docker.service cri-docker.service
  art cri-docker-socket cri-docker.socket cri-docker.socket
}

write_profiles() {
  local p=$e2e/profiles
  mkdir -p "$p"
  # The shipped profiles, extended to fetch from loopback; only versions, URLs and pins change.
  local shared
  shared=$(shared_arts)
  {
    printf 'schema = 1\nextends = "containerd"\nname = "e2e-containerd"\narch = ["amd64"]\n'
    art containerd containerd-2.1.9-linux-amd64.tar.gz 'containerd-{version}-linux-{arch}.tar.gz' 2.1.9
    art runc runc.amd64 'runc.{arch}'
    echo "$shared"
  } >"$p/e2e-containerd.toml"
  # The cluster case's containerd node: containerd 2.3.4 built from source.
  {
    printf 'schema = 1\nextends = "containerd"\nname = "e2e-cluster-containerd"\narch = ["amd64"]\n'
    art containerd containerd-2.3.4-linux-amd64.tar.gz 'containerd-{version}-linux-{arch}.tar.gz' 2.3.4
    art runc runc.amd64 'runc.{arch}'
    echo "$shared"
  } >"$p/e2e-cluster-containerd.toml"
  # Deliberately broken: containerd labelled 2.3.4, so builder writes config version 4, which
  # the 2.1 binary rejects. The checks below must catch it.
  {
    printf 'schema = 1\nextends = "containerd"\nname = "e2e-broken"\narch = ["amd64"]\n'
    art containerd containerd-2.1.9-linux-amd64.tar.gz 'containerd-2.1.9-linux-{arch}.tar.gz' 2.3.4
    art runc runc.amd64 'runc.{arch}'
    echo "$shared"
  } >"$p/e2e-broken.toml"
  {
    printf 'schema = 1\nextends = "cri-dockerd"\nname = "e2e-cri-dockerd"\narch = ["amd64"]\n'
    docker_arts
    echo "$shared"
  } >"$p/e2e-cri-dockerd.toml"
}

# Join parameters for the node VMs: nothing listens on 127.0.0.1:6443, so kubeadm join's
# discovery is refused at once, and its 10 s discovery timeout ends it right after the node
# checks. The user-data's join step therefore fails fast, at discovery: the checks below
# require exactly that failure and no other (no stalled boot, no hidden error).
write_join() {
  cat >"$e2e/join.toml" <<EOF
api_server = "127.0.0.1:6443"
token = "abcdef.0123456789abcdef"
ca_cert_hash = "sha256:$(printf e2e | sha256sum | cut -d' ' -f1)"
discovery_timeout = "10s"
EOF
}

# --allow-unsupported: the VMs run the real containerd 2.1.9 from Debian unstable under the
# base image's kubelet 1.36, a pairing containerd's release table does not list (2.2.0+ for
# 1.36), and cri-dockerd 0.4.3 (the newest release the module proxy serves; builder's table
# lists the 0.3 line); the kubelet minor must stay 1.36, so the render is let through with a
# warning.
sandbox_image() { # profile
  "$builder" show -q --allow-unsupported --profile "$e2e/profiles/$1.toml" 2>/dev/null | sed -n 's/^sandbox_image = "\(.*\)"$/\1/p'
}

render() { # profile out [extra args]
  local profile=$1 out=$2
  shift 2
  "$builder" render -q --allow-unsupported --profile "$e2e/profiles/$profile.toml" --out "$out" \
    --cache-dir "$e2e/cache" --cloud generic "$@" || die "builder render $profile failed"
}

# --- 4. VMs -----------------------------------------------------------------------------------
# ignition_apply WORK CONFIG: the real Ignition applies CONFIG to WORK/rootfs as on a first boot
# (the file platform: fetch-offline, then fetch if the config needs the network, then files),
# then `systemctl --root preset` for each unit it enabled whose file is in the root already
# (Ignition writes enable lines into 20-ignition.preset; Flatcar's first boot applies them).
# Units that arrive with the extension stay preset lines.
ignition_apply() {
  local w=$1 config=$2 ign=${BUILDER_IGNITION:-} stage
  [ -n "$ign" ] || ign=$(bash ci/consumers/build.sh ignition | sed -n 's/^IGNITION=//p')
  [ -x "$ign" ] || { echo "no Ignition (BUILDER_IGNITION, or ci/consumers/build.sh ignition)"; return 1; }
  local s=$w/ignition-state
  rm -rf "$s" && mkdir -p "$s"
  for stage in fetch-offline fetch files; do
    [ "$stage" != fetch ] || [ -e "$s/neednet" ] || continue
    echo "--- ignition -stage $stage"
    IGNITION_CONFIG_FILE=$(realpath "$config") "$ign" -platform file -stage "$stage" \
      -root "$w/rootfs" -config-cache "$s/config.json" -state-file "$s/state" \
      -neednet "$s/neednet" -log-to-stdout || return 1
  done
  local preset=$w/rootfs/etc/systemd/system-preset/20-ignition.preset unit
  [ -f "$preset" ] || { echo "Ignition wrote no $preset"; return 1; }
  echo "--- $preset"; cat "$preset"
  for unit in $(sed -n 's/^enable //p' "$preset"); do
    if [ -e "$w/rootfs/etc/systemd/system/$unit" ] || [ -e "$w/rootfs/usr/lib/systemd/system/$unit" ]; then
      systemctl --root="$w/rootfs" preset "$unit" || return 1
    else
      echo "$unit: not in the root yet (it comes with the extension): preset line only"
    fi
  done
}

# The disks of a VM in $e2e/vm-NAME: disk.img (the base image plus, by mode, the baked overlay,
# Ignition's work, or nothing: none, for a folder that holds only user-data and meta-data), seed.iso (NoCloud: the render's user-data, its meta-data plus META_EXTRA
# lines, which the cloud adds), and for fetch modes overlay.iso. Sets vm_drives (qemu -drive
# arguments).
vm_drives=()
prepare_vm() { # name render_dir mode(baked|fetch|registry|sysext|none) [meta_extra]
  local name=$1 dir=$2 mode=$3 meta_extra=${4:-}
  local w=$e2e/vm-$name
  rm -rf "$w" && mkdir -p "$w"
  say "[$name] preparing the disk ($mode)"
  # Hard links into the cached base: instant, and tar unlinks before it writes, so the base
  # stays pristine. A plain copy if the cache is on another file system, and for Ignition,
  # which may write into an existing file.
  if [ "$mode" = sysext ] || ! cp -al "$base" "$w/rootfs" 2>/dev/null; then
    rm -rf "$w/rootfs"
    cp -a "$base" "$w/rootfs"
  fi
  mkdir -p "$w/rootfs/var/lib/e2e"
  cp -a "$images" "$w/rootfs/var/lib/e2e/images"
  local ud=$dir/user-data md=$dir/meta-data
  if [ "$mode" = baked ]; then
    # What an image pipeline does (ci/examples/bake-chroot.sh).
    bash ci/examples/bake-chroot.sh "$dir" "$w/rootfs" >/dev/null
  elif [ "$mode" = sysext ]; then
    # What Ignition does on Flatcar or Fedora CoreOS, before the real root boots.
    ignition_apply "$w" "$dir/ignition.json" >"$w/ignition.log" 2>&1 ||
      { tail -n 40 "$w/ignition.log" >&2; failure "$name" "the real Ignition could not apply ignition.json"; return 1; }
    tampered_extension "$dir" "$w/rootfs/var/lib/extensions"
    # cloud-init has nothing to do: an empty user-data, so its final stage starts the report.
    ud=$w/user-data md=$w/meta-data
    printf '#cloud-config\n{}\n' >"$ud"
    printf 'instance-id: e2e-%s\n' "$name" >"$md"
  elif [ "$mode" = registry ]; then
    reg_trust "$w/rootfs"
  fi
  mkfs.ext4 -q -F -d "$w/rootfs" "$w/disk.img" 3G
  rm -rf "$w/rootfs"
  if [ -n "$meta_extra" ]; then
    { cat "$md"; printf '%s\n' "$meta_extra"; } >"$w/meta-data"
    md=$w/meta-data
  fi
  cloud-localds "$w/seed.iso" "$ud" "$md"
  vm_drives=(-drive "file=$w/disk.img,if=virtio,format=raw" -drive "file=$w/seed.iso,if=virtio,format=raw,readonly=on")
  if [ "$mode" = fetch ]; then
    mkdir -p "$w/ovl"
    cp "$dir/overlay.tar.gz" "$w/ovl/overlay.tar.gz"
    genisoimage -quiet -V OVERLAY -r -J -o "$w/overlay.iso" "$w/ovl"
    vm_drives+=(-drive "file=$w/overlay.iso,if=virtio,format=raw,readonly=on")
  fi
}

# The qemu command line (qemu_argv) of VM NAME (its disks from prepare_vm) under TCG: the base
# image's kernel, the console on the first serial port, the guest's report on the second. NIC:
# qemu arguments for one, or -nic none.
# vCPUs: vm_smp (2; the cluster case, three guests at once, gives each 1).
qemu_argv=()
vm_smp=2
qemu_vm() { # name cmdline nic...
  local w=$e2e/vm-$1 cmdline=$2
  shift 2
  qemu_argv=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp "$vm_smp" -m 2048 \
    -nodefaults -display none -monitor none -no-reboot \
    -kernel "$(ls "$base"/boot/vmlinuz-* | head -n1)" -initrd "$(ls "$base"/boot/initrd.img-* | head -n1)" \
    -append "root=/dev/vda rw console=ttyS0 panic=-1 $cmdline" \
    "${vm_drives[@]}" "$@" \
    -serial "file:$w/console.log" -serial "file:$w/report.log")
}

boot() { # name render_dir mode(baked|fetch|registry|sysext) [kernel command line words]
  local name=$1 dir=$2 mode=$3 cmdline=${4:-}
  if [ -n "$only" ] && [[ " $only " != *" $name "* ]]; then
    say "[$name] not booted (E2E_ONLY=$only)"
    not_booted=1
    return 1
  fi
  local w=$e2e/vm-$name
  prepare_vm "$name" "$dir" "$mode" || return 1
  say "[$name] booting (TCG, bound ${vm_timeout}s)"
  local start=$SECONDS rc=0 nic=(-nic none)
  # Registry mode: a NIC on qemu's user network (the host's loopback is 10.0.2.2), DHCP by
  # systemd-networkd.
  if [ "$mode" = registry ]; then
    nic=(-nic user,model=virtio-net-pci)
    cmdline="$cmdline systemd.wants=systemd-networkd.service"
  fi
  qemu_vm "$name" "$cmdline" "${nic[@]}"
  timeout "$vm_timeout" "${qemu_argv[@]}" || rc=$?
  say "[$name] VM stopped after $((SECONDS - start))s (rc $rc)"
  if [ "$rc" = 124 ]; then
    failure "$name" "the VM did not finish within ${vm_timeout}s"
    return 1
  fi
  # The serial line ends lines with CRLF.
  tr -d '\r' <"$w/report.log" >"$w/report.txt" && mv "$w/report.txt" "$w/report.log"
  grep -q '=== e2e-report end' "$w/report.log" || { failure "$name" "no report from the guest"; return 1; }
  rm -f "$w/disk.img"
}

# Two small extensions beside builder's, each a copy of builder's extension-release under its
# own name with a marker file: e2e-tampered says ARCHITECTURE=arm64, which systemd-sysext must
# refuse on this x86-64 guest; e2e-control is the same with the arch unchanged and must be
# merged, so the refusal is down to the architecture and nothing else.
tampered_extension() { # render_dir extensions_dir
  local t=$e2e/tampered image name ext arch
  image=$(ls "$1"/*.raw) && name=$(basename "$image" .raw)
  rm -rf "$t" && mkdir -p "$t"
  unsquashfs -q -d "$t/rel" "$image" usr/lib/extension-release.d >/dev/null
  for ext in e2e-tampered:arm64 e2e-control:x86-64; do
    arch=${ext#*:} ext=${ext%%:*}
    mkdir -p "$t/$ext/usr/lib/extension-release.d"
    sed "s/^ARCHITECTURE=x86-64\$/ARCHITECTURE=$arch/" "$t/rel/usr/lib/extension-release.d/extension-release.$name" \
      >"$t/$ext/usr/lib/extension-release.d/extension-release.$ext"
    grep -qx "ARCHITECTURE=$arch" "$t/$ext/usr/lib/extension-release.d/extension-release.$ext" ||
      die "could not make the $ext extension-release"
    echo "$ext" >"$t/$ext/usr/lib/builder-$ext"
    mksquashfs "$t/$ext" "$2/$ext.raw" -noappend -all-root -quiet >/dev/null
  done
  rm -rf "$t"
}

failure() { # name why
  local w=$e2e/vm-$1
  echo "e2e: [$1] FAIL: $2" >&2
  echo "----- console tail ($w/console.log)" >&2
  tail -n 60 "$w/console.log" >&2 2>/dev/null || true
  echo "----- guest report / cloud-init result" >&2
  sed -n '/--- cloud-init status/,/--- is-active/p' "$w/report.log" >&2 2>/dev/null || true
}

section() { # report section-title -> its lines
  awk -v t="--- $2" 'index($0,t)==1{on=1;next} /^--- |^=== /{on=0} on' "$1"
}

export -f section

expect() { # name description command...
  local name=$1 what=$2
  shift 2
  if "$@"; then say "[$name] ok: $what"; else failure "$name" "$what"; return 1; fi
}

not() { ! "$@"; }

# cloud-init's errors (result.json) as a count and the first.
cloud_init_errors() { # report
  section "$1" result.json | python3 -c 'import json,sys; e=json.load(sys.stdin)["v1"]["errors"]; print(len(e), e[0] if e else "")'
}

# kubeadm's output in a report section: it ran the node checks with no [ERROR ...] line, and its
# only failure is discovery (the join target refuses; no control plane exists).
preflight_ok() { # report section
  local out
  out=$(section "$1" "$2")
  grep -q '^\[preflight\] Running pre-flight checks' <<<"$out" &&
    not grep -q '\[ERROR' <<<"$out" &&
    not grep -q 'Some fatal errors occurred' <<<"$out" &&
    grep -q "couldn't validate the identity of the API Server" <<<"$out"
}

# The boot of a node VM with join parameters: cloud-init's one error is the runcmd script's,
# and that script got as far as kubeadm join, whose node checks passed and whose discovery
# failed. Any other failure (an earlier step, a preflight error) fails this.
join_boot_ok() { # report
  local errors
  errors=$(cloud_init_errors "$1")
  grep -q '^status: error' "$1" && [[ $errors == "1 "*scripts-user*"(runcmd)"* ]] &&
    preflight_ok "$1" "user-data kubeadm join"
}

check_common() { # name render_dir [join]
  local r=$e2e/vm-$1/report.log
  if [ "${3:-}" = join ]; then
    expect "$1" "cloud-init's only error is the user-data's kubeadm join: node checks passed, discovery refused" \
      join_boot_ok "$r"
  else
    expect "$1" "cloud-init finished with no errors" \
      bash -c "grep -q '^status: done' '$r' && [ \"\$(cloud_init_errors '$r')\" = '0 ' ]"
  fi &&
  expect "$1" "kubeadm-flags.env is the rendered one" \
    diff <(section "$r" kubeadm-flags.env) "$2/rootfs/var/lib/kubelet/kubeadm-flags.env"
}

# The kubelet (systemd, the packages' unit and kubeadm's drop-in) is running, has not restarted,
# was given every flag of the rendered kubeadm-flags.env, and logged no flag or cgroup-driver
# error.
kubelet_ok() { # report prefix render_dir
  local r=$1 p=$2 flags cmdline flag
  grep -q "^--- ${p}kubelet state active/running invocation-same=yes\$" "$r" || return 1
  cmdline=$(section "$r" "${p}kubelet command line")
  # shellcheck disable=SC1090
  flags=$(. "$3/rootfs/var/lib/kubelet/kubeadm-flags.env" && echo "$KUBELET_KUBEADM_ARGS")
  for flag in $flags; do
    [[ " $cmdline " == *" $flag "* ]] || { echo "kubelet command line lacks $flag" >&2; return 1; }
  done
  ! section "$r" "${p}kubelet journal errors" |
    grep -Ei 'unknown flag|flag provided but not defined|failed to parse kubelet flag|cgroup driver|cgroupsPath|failed to run Kubelet'
}

# Both static pods Ready and both containers Running (the real crictl, builder's crictl.yaml);
# the host-network pod wrote its marker through a hostPath volume, and the other pod wrote the
# IP the bridge plugin gave it, which is its sandbox's IP.
pods_ok() { # report
  local r=$1 ip
  [ "$(section "$r" 'marker hostnet')" = hostnet-ok ] || return 1
  ip=$(section "$r" 'marker podnet' | sed -nE 's/.* inet (10\.88\.[0-9]+\.[0-9]+)\/16 .*/\1/p')
  [ -n "$ip" ] && [ "$(section "$r" 'podnet sandbox ip')" = "$ip" ] || return 1
  python3 - <(section "$r" 'crictl pods json') <(section "$r" 'crictl ps json') <<'EOF'
import json, sys
pods = {p["metadata"]["name"]: p for p in json.load(open(sys.argv[1]))["items"]}
ctrs = json.load(open(sys.argv[2]))["containers"]
want = {"e2e-hostnet-e2e-node", "e2e-podnet-e2e-node"}
ready = {n for n, p in pods.items() if p["state"] == "SANDBOX_READY"}
running = {c["podSandboxId"] for c in ctrs if c["state"] == "CONTAINER_RUNNING" and c["metadata"]["name"] == "marker"}
ok = want <= ready and all(pods[n]["id"] in running for n in want)
if not ok:
    print("pods ready:", sorted(ready), "running containers' pods:", sorted(running), file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
}

export -f not cloud_init_errors preflight_ok join_boot_ok kubelet_ok pods_ok

# kubeadm and the kubelet on a node VM (kernel command line e2e.node=1, join parameters given).
check_node() { # name render_dir
  local r=$e2e/vm-$1/report.log
  expect "$1" "kubeadm join phase preflight: node checks pass (no [ERROR]), only discovery fails" \
    preflight_ok "$r" "kubeadm join phase preflight" &&
  expect "$1" "the kubelet runs from its unit with kubeadm-flags.env's flags, no flag or cgroup-driver error" \
    kubelet_ok "$r" "" "$2" &&
  expect "$1" "both static pods Ready, containers Running, markers written (pod IP from the overlay's bridge plugin)" \
    pods_ok "$r"
}

# The negative controls (e2e.negative=1): the same checks must fail.
check_negative() { # name render_dir
  local r=$e2e/vm-$1/report.log
  expect "$1" "negative control: kubeadm's preflight with the kubelet running fails the preflight check ([ERROR Port-10250])" \
    bash -c "not preflight_ok '$r' 'negative kubeadm join phase preflight' && section '$r' 'negative kubeadm join phase preflight' | grep -q 'ERROR Port-10250'" &&
  expect "$1" "negative control: --container-runtime=remote in kubeadm-flags.env fails the kubelet check (unknown flag)" \
    bash -c "not kubelet_ok '$r' 'negative ' '$2' 2>/dev/null && section '$r' 'negative kubelet journal errors' | grep -q 'unknown flag: --container-runtime'"
}

check_containerd() { # name render_dir [join]
  local r=$e2e/vm-$1/report.log
  check_common "$1" "$2" "${3:-}" &&
  expect "$1" "containerd.service is active" grep -q '^--- is-active containerd.service active$' "$r" &&
  expect "$1" "ctr plugins ls shows CRI ok" \
    bash -c "section '$r' 'ctr plugins ls' | grep -Eq '^io.containerd.cri.v1 +runtime .* ok *$'" &&
  expect "$1" "the running config has SystemdCgroup and the sandbox image" \
    bash -c "section '$r' 'containerd config dump' | grep -q 'SystemdCgroup = true' && section '$r' 'containerd config dump' | grep -q \"sandbox = 'registry.k8s.io/pause:3.10.2'\"" &&
  expect "$1" "crictl (real, through /etc/crictl.yaml) finds the runtime ready" \
    bash -c "section '$r' 'crictl info' | grep -q 'RuntimeReady=true' && section '$r' 'crictl version' | grep -q 'RuntimeName:  containerd'"
}

check_cri_dockerd() { # name render_dir [join]
  local r=$e2e/vm-$1/report.log
  check_common "$1" "$2" "${3:-}" &&
  for u in containerd.service docker.socket docker.service cri-docker.socket cri-docker.service; do
    expect "$1" "$u is active" grep -q "^--- is-active $u active\$" "$r" || return 1
  done &&
  expect "$1" "docker info shows the systemd cgroup driver" grep -q '^CgroupDriver=systemd Driver=overlay2$' "$r" &&
  expect "$1" "cri-docker.service runs the drop-in's ExecStart" \
    bash -c "section '$r' 'cri-docker ExecStart' | grep -q 'path=/usr/local/bin/cri-dockerd .*--network-plugin=cni'" &&
  expect "$1" "cri-dockerd's socket is where kubelet looks" grep -q '^--- cri-dockerd socket present$' "$r" &&
  expect "$1" "the node runs the real cri-dockerd 0.4.3" grep -q '^--- cri-dockerd version cri-dockerd 0\.4\.3 ' "$r"
}

# The system extension: merged by systemd-sysext (status lists it, /usr is its overlay), its
# units loaded by the config's builder-sysext-units.service, containerd running its binary from
# the merged /usr with the config's files (check_containerd: active, CRI ok, the real crictl
# answers), the config's join unit running kubeadm join after it; the tampered extension
# (ARCHITECTURE=arm64) refused.
# The extensions `systemd-sysext status` lists for /usr (one per line: the table continues a
# hierarchy's row on the next lines; colours stripped).
sysext_usr() { # report
  section "$1" 'systemd-sysext status' | sed 's/\x1b\[[0-9;]*m//g' |
    awk '/^\// { h = $1; if (h == "/usr") print $2; next } h == "/usr" { print $1 }'
}

export -f sysext_usr

check_sysext() { # name render_dir
  local r=$e2e/vm-$1/report.log name
  name=$(basename "$(ls "$2"/*.raw)" .raw)
  check_containerd "$1" "$2" &&
  expect "$1" "systemd-sysext.service is active" grep -q '^--- is-active systemd-sysext.service active$' "$r" &&
  expect "$1" "systemd-sysext status lists $name on /usr" \
    bash -c "sysext_usr '$r' | grep -qx '$name'" &&
  expect "$1" "/usr is the overlay systemd-sysext mounted" grep -q '^--- /usr mount overlay$' "$r" &&
  expect "$1" "builder-sysext-units.service loaded the extension's units" \
    grep -q '^--- is-active builder-sysext-units.service active$' "$r" &&
  expect "$1" "containerd runs /usr/local/bin/containerd from the merged /usr" \
    grep -q '^--- containerd exe /usr/local/bin/containerd$' "$r" &&
  expect "$1" "builder-kubeadm-join.service ran kubeadm join: node checks passed, discovery refused" \
    preflight_ok "$r" "builder-kubeadm-join journal" &&
  expect "$1" "control: the same small extension with ARCHITECTURE=x86-64 is merged, its file in /usr" \
    bash -c "sysext_usr '$r' | grep -qx e2e-control && grep -q '^--- control marker present\$' '$r'" &&
  expect "$1" "negative: the tampered extension (ARCHITECTURE=arm64) is refused, its file absent from /usr" \
    bash -c "! sysext_usr '$r' | grep -q e2e-tampered && ! section '$r' 'systemd-sysext status' | grep -q e2e-tampered && grep -q '^--- tampered marker absent\$' '$r' && ! section '$r' extension-release.d | grep -q e2e-tampered"
}

check_tampered() { # name
  local w=$e2e/vm-$1 r=$e2e/vm-$1/report.log
  expect "$1" "the runtime is not installed" bash -c "! section '$r' 'ls /usr/local/bin' | grep -qx containerd" &&
  expect "$1" "containerd.service is not active" bash -c "! grep -q '^--- is-active containerd.service active\$' '$r'" &&
  expect "$1" "the console says why (checksum mismatch)" grep -q 'builder-fetch-overlay: checksum mismatch' "$w/console.log" &&
  expect "$1" "cloud-init reports the failure" bash -c "! section '$r' result.json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(1 if d[\"v1\"][\"errors\"] else 0)'"
}

# The registry-fetch case: ci/e2e/registry.sh.
# shellcheck source=ci/e2e/registry.sh
. ci/e2e/registry.sh
# The cluster case: ci/e2e/cluster.sh.
# shellcheck source=ci/e2e/cluster.sh
. ci/e2e/cluster.sh
# The migration case (only with E2E_ONLY=migration: ci/migration.sh): ci/e2e/migration.sh.
# shellcheck source=ci/e2e/migration.sh
. ci/e2e/migration.sh

main() {
  case ${1:-} in
    # The cluster case inside its namespaces (cluster_case runs this).
    --cluster-inside) cluster_inside; return ;;
    --migration-inside) migration_inside; return ;;
    # The base image's cache key and what it is computed from, without building anything (the
    # key includes the host's debootstrap version: a full run installs debootstrap first).
    --base-key) resolve_kubernetes; base_inputs | sha256sum | cut -d' ' -f1; return ;;
    --base-inputs) resolve_kubernetes; base_inputs; return ;;
    # Only build (or find) the base image, and print its folder; needs debootstrap.
    --base)
      command -v debootstrap >/dev/null || die "--base needs debootstrap (apt-get install debootstrap)"
      resolve_kubernetes; build_base; echo "$base"; return ;;
    "") ;;
    *) die "usage: ci/e2e/run.sh [--base|--base-key|--base-inputs]" ;;
  esac
  install_host_packages
  if [ -z "${BUILDER_BIN:-}" ]; then
    say "building builder (release)"
    cargo build --release --locked -q
  fi
  [ -x "$builder" ] || die "no builder binary at $builder (BUILDER_BIN)"
  resolve_kubernetes
  resolve_control_plane
  build_base
  package_upstream
  serve
  reg_start
  trap 'kill $server_pid 2>/dev/null || true; reg_stop' EXIT
  write_profiles
  write_join
  build_images "$(sandbox_image e2e-containerd)" "$(sandbox_image e2e-cri-dockerd)"
  say "NOTE: kubelet, kubeadm, crictl, cri-dockerd and Ignition are built from source at their release tags; everything else is Debian's real binaries"
  local d=$e2e/dist
  rm -rf "$d"
  render e2e-containerd "$d/baked" --join-config "$e2e/join.toml"
  render e2e-cri-dockerd "$d/baked" --join-config "$e2e/join.toml"
  render e2e-broken "$d/baked"
  render e2e-containerd "$d/fetch" --overlay-url 'file:///mnt/overlay-src/overlay.tar.gz' --join-config "$e2e/join.toml"
  reg_render "$d"
  # The system extension, fetched by the config from the loopback server (path fixed here).
  render e2e-containerd "$d/sysext" --format sysext --sysext-url "$base_url/sysext/{arch}/image.raw" \
    --join-config "$e2e/join.toml"
  # The cluster case renders again in its own network namespace, where the loopback server is
  # not: this render fetches what only its profile needs into the cache those renders read.
  render e2e-cluster-containerd "$d/cluster-prefetch"
  local ds=$d/sysext/e2e-containerd/amd64
  mkdir -p "$up/sysext/amd64" && cp "$ds"/*.raw "$up/sysext/amd64/image.raw"
  local passed=0 failed=0 skipped=0 start=$SECONDS
  not_booted=
  # A case E2E_ONLY leaves out is counted as skipped, not failed.
  tally() {
    if [ "$1" = 0 ]; then passed=$((passed + 1))
    elif [ -n "$not_booted" ]; then skipped=$((skipped + 1))
    else failed=$((failed + 1)); fi
    not_booted=
  }
  local r
  local dc=$d/baked/e2e-containerd/amd64
  r=0
  boot containerd "$dc" baked "e2e.node=1 e2e.negative=1" && check_containerd containerd "$dc" join &&
    check_node containerd "$dc" && check_negative containerd "$dc" || r=1
  tally $r
  local dd=$d/baked/e2e-cri-dockerd/amd64
  r=0
  boot cri-dockerd "$dd" baked e2e.node=1 && check_cri_dockerd cri-dockerd "$dd" join && check_node cri-dockerd "$dd" || r=1
  tally $r
  local df=$d/fetch/e2e-containerd/amd64
  r=0
  boot fetch "$df" fetch e2e.node=1 && check_containerd fetch "$df" join && check_node fetch "$df" || r=1
  tally $r
  local dr=$d/registry/e2e-containerd/amd64
  r=0
  boot registry "$dr" registry && check_containerd registry "$dr" &&
    expect registry "the pull-through mirror served the overlay (its storage caches the blob)" \
      reg_mirror_served "$dr/overlay.tar.gz" || r=1
  tally $r
  r=0
  reg_tamper "$dr/overlay.tar.gz" && boot tampered "$dr" registry && check_tampered tampered || r=1
  tally $r
  r=0; boot sysext "$ds" sysext && check_sysext sysext "$ds" || r=1; tally $r
  # The broken render must be caught by the same checks that pass above.
  r=0
  if boot broken "$d/baked/e2e-broken/amd64" baked; then
    if check_containerd broken "$d/baked/e2e-broken/amd64" 2>/dev/null; then
      say "[broken] FAIL: a config containerd rejects passed the checks"; r=1
    else
      say "[broken] ok: the checks catch a render containerd rejects"
    fi
  else
    r=1
  fi
  tally $r
  # A live control plane that the containerd and cri-dockerd nodes join (ci/e2e/cluster.sh).
  r=0
  if [ -n "$only" ] && [[ " $only " != *" cluster "* ]]; then
    say "[cluster] not booted (E2E_ONLY=$only)"
    not_booted=1 r=1
  else
    cluster_case || r=1
  fi
  tally $r
  # The dockershim migration on a 1.23 cluster: only when named (it takes long; ci/migration.sh).
  if [[ " $only " == *" migration "* ]]; then
    r=0; migration_case || r=1; tally $r
  fi
  say "VMs took $((SECONDS - start))s"
  if [ "$failed" != 0 ]; then
    say "FAIL: end-to-end checks failed (logs in $e2e/vm-*)"
  elif [ "$skipped" != 0 ]; then
    say "PASS: the cases booted (E2E_ONLY=$only)"
  else
    say "PASS: containerd and cri-dockerd nodes (baked) and fetch mode pass kubeadm's join preflight and run pods through the kubelet; a node fetches its overlay from the registry through a mirror; the system extension merges and runs containerd; negative controls, tampered registry blob, tampered extension and broken render caught"
  fi
  echo "e2e: $passed passed, $failed failed$([ "$skipped" = 0 ] || echo ", $skipped not booted (E2E_ONLY)")"
  [ "$failed" = 0 ]
}

main "$@"
