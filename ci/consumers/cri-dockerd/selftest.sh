#!/usr/bin/env bash
# The real cri-dockerd, started the way builder's render tells systemd to start it, against a
# private Docker Engine, checked with the real crictl (and optionally the real kubelet).
# Needs root. Everything it starts lives under one temporary folder and is stopped and removed at
# the end (also on failure); the host's own dockerd, if any, is not touched.
#
#   DROPIN=.../etc/systemd/system/cri-docker.service.d/10-builder.conf ci/consumers/cri-dockerd/selftest.sh
#
# Environment:
#   DROPIN       builder's cri-docker.service drop-in (required): the arguments of its last
#                ExecStart= line are used as they are; only the paths this test must keep private
#                are appended after them (pflag takes a flag's last value): --docker-endpoint,
#                --cri-dockerd-root-directory and the three CNI folders.
#   CRI_DOCKERD  the cri-dockerd binary (default: what ../build.sh cri-dockerd prints)
#   CRICTL       crictl (default: what ../build.sh crictl prints)
#   KUBELET      optional: also run this kubelet standalone against it
#   KEEP=1       leave the temporary folder (logs) in place
#
# Checks, in order (each prints "ok - ..." or stops the test with "not ok - ..."):
#   - negative controls: crictl against a socket nobody serves fails; an unknown flag fails
#   - cri-dockerd socket-activated as cri-docker.socket does (systemd-socket-activate hands it the
#     listening socket; builder's ExecStart says --container-runtime-endpoint fd://), and READY=1
#     on $NOTIFY_SOCKET (the upstream unit is Type=notify)
#   - crictl version: RuntimeName docker, RuntimeApiVersion v1
#   - crictl info: RuntimeReady and NetworkReady true (builder's --network-plugin=cni)
#   - the pause image named by builder's --pod-infra-container-image and a workload image, made
#     here (busybox-static) and loaded with docker load (no network)
#   - a hostNetwork sandbox and a CNI sandbox (its IP from the conflist's subnet: dockerd runs with
#     --bridge=none, so only CNI can give it one); in each a container created, started, listed,
#     exec'd into (ExecSync and streaming Exec), stopped and removed
#   - crictl runtime-config: the cgroup driver
#   - with KUBELET=/path/to/kubelet: a standalone kubelet runs a static pod through it
# Ends with "N passed, N failed". A host that refuses negative oom_score_adj even to root gets
# dockerd running runc through a wrapper (below), and the test says so.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly SUBNET_PREFIX=10.244.77 # the conflist's subnet is $SUBNET_PREFIX.0/24; nothing is routed to it
readonly BRIDGE=cni-crdself0
readonly WORK_IMAGE=builder.test/cri-dockerd-selftest/workload:1

log() { printf 'selftest: %s\n' "$*" >&2; }
ok() { printf 'ok - %s\n' "$*"; passed=$((passed + 1)); }
fail() { printf 'not ok - %s\n' "$*"; failed=$((failed + 1)); exit 1; }
passed=0 failed=0

[[ $(id -u) == 0 ]] || { log "needs root"; exit 1; }

# ---------------------------------------------------------------- packages
missing=()
for p in docker.io busybox-static containernetworking-plugins jq systemd; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if (( ${#missing[@]} )); then
  log "installing ${missing[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
command -v systemd-socket-activate >/dev/null || { log "systemd-socket-activate not found"; exit 1; }

CRI_DOCKERD=${CRI_DOCKERD:-$(bash "$here/../build.sh" cri-dockerd | sed -n 's/^CRI_DOCKERD=//p')}
CRICTL=${CRICTL:-$(bash "$here/../build.sh" crictl | sed -n 's/^CRICTL=//p')}
[[ -x $CRI_DOCKERD ]] || { log "no cri-dockerd binary: '$CRI_DOCKERD' (../build.sh cri-dockerd builds it)"; exit 1; }
[[ -x $CRICTL ]] || { log "no crictl: '$CRICTL' (../build.sh crictl builds it)"; exit 1; }

# ---------------------------------------------------------------- builder's drop-in
[[ -f ${DROPIN:-} ]] || { log "DROPIN must name builder's cri-docker.service drop-in (got '${DROPIN:-}')"; exit 1; }
exec_start=$(grep '^ExecStart=.' "$DROPIN" | tail -n1 | sed 's/^ExecStart=//')
[[ -n $exec_start ]] || { log "$DROPIN has no ExecStart= line with a command"; exit 1; }
read -r -a unit_args <<<"$exec_start"
unit_args=("${unit_args[@]:1}") # the program itself is CRI_DOCKERD
PAUSE_IMAGE=
for a in "${unit_args[@]}"; do
  case $a in --pod-infra-container-image=*) PAUSE_IMAGE=${a#*=} ;; esac
done
[[ -n $PAUSE_IMAGE ]] || { log "$DROPIN: its ExecStart has no --pod-infra-container-image=IMAGE"; exit 1; }
log "builder's ExecStart arguments: ${unit_args[*]}"

# ---------------------------------------------------------------- temp folder and cleanup
T=$(mktemp -d /tmp/cri-dockerd-selftest.XXXXXX)
pids=()
# Host paths that the programs below create outside T whatever they are told (containerd's shim
# sockets in /run/containerd/s; kubelet's /var/lib/kubelet/device-plugins and
# /var/log/containers); removed at the end if they did not exist before.
host_paths=()
for p in /run/containerd /var/lib/kubelet /var/log/containers; do [[ -e $p ]] || host_paths+=("$p"); done
cleanup() {
  local rc=$?
  set +e
  if [[ -S $T/cri.sock ]]; then
    # Remove whatever pods are left (their containers go with them).
    for p in $(crictl pods -q 2>/dev/null); do crictl stopp "$p" >/dev/null 2>&1; crictl rmp -f "$p" >/dev/null 2>&1; done
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null
  done
  [[ -f $T/p ]] && kill "$(cat "$T/p")" 2>/dev/null
  ip link del "$BRIDGE" 2>/dev/null
  for p in "${host_paths[@]}"; do rm -rf "$p"; done
  # Mounts dockerd may have left (overlay, netns, shm) under T, deepest first.
  findmnt -rn -o TARGET | grep "^$T/" | sort -r | while read -r m; do umount -l "$m"; done
  if [[ ${KEEP:-0} == 1 || $rc != 0 ]]; then
    log "logs kept in $T (cri.log, dockerd.log)"
    [[ $rc != 0 ]] && { tail -n 30 "$T/cri.log" >&2 2>/dev/null; }
  else
    rm -rf "$T"
  fi
  printf '%d passed, %d failed\n' "$passed" "$failed"
  exit "$rc"
}
trap cleanup EXIT
log "work folder $T"

crictl() { "$CRICTL" --config "$T/crictl.yaml" "$@"; }
docker() { command docker -H "unix://$T/docker.sock" "$@"; }
wait_for() { # seconds, description, command...
  local n=$1 what=$2; shift 2
  for _ in $(seq $((n * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  log "timed out waiting for $what"; return 1
}

cat >"$T/crictl.yaml" <<EOF
runtime-endpoint: unix://$T/cri.sock
image-endpoint: unix://$T/cri.sock
timeout: 60
EOF

# ---------------------------------------------------------------- private dockerd
# cri-dockerd gives every sandbox (pause) container oom_score_adj -998 (hard-coded, as
# dockershim did). Some sandboxed hosts refuse any negative oom_score_adj even to root; runc then fails
# with "can't get final child's PID from pipe: EOF". Only on such a host, dockerd runs runc through
# a wrapper that raises a negative oomScoreAdj in the OCI spec to 0. A real node (the VM test)
# needs no wrapper, and the selftest says which way it ran.
runtime_opts=()
if ! sh -c 'echo -998 >/proc/self/oom_score_adj' 2>/dev/null; then
  runc=$(command -v runc) || { log "runc not found"; exit 1; }
  cat >"$T/runc-clamp-oom" <<WRAPPER
#!/bin/sh
# selftest only: this host refuses negative oom_score_adj; raise it to 0, then run runc.
bundle= process= prev=
for a in "\$@"; do
  case \$prev in --bundle|-b) bundle=\$a ;; --process|-p) process=\$a ;; esac
  case \$a in --bundle=*) bundle=\${a#--bundle=} ;; --process=*) process=\${a#--process=} ;; esac
  prev=\$a
done
clamp() { [ -f "\$1" ] || return 0; jq "\$2" "\$1" >"\$1.clamp" && mv "\$1.clamp" "\$1"; }
[ -z "\$bundle" ] || clamp "\$bundle/config.json" 'if (.process.oomScoreAdj // 0) < 0 then .process.oomScoreAdj = 0 else . end'
[ -z "\$process" ] || clamp "\$process" 'if (.oomScoreAdj // 0) < 0 then .oomScoreAdj = 0 else . end'
exec $runc "\$@"
WRAPPER
  chmod 755 "$T/runc-clamp-oom"
  runtime_opts=(--add-runtime "runc-clamp-oom=$T/runc-clamp-oom" --default-runtime runc-clamp-oom)
  log "NOTE: this host refuses negative oom_score_adj; dockerd runs runc through $T/runc-clamp-oom"
fi
log "starting dockerd"
dockerd --data-root "$T/d" --exec-root "$T/e" --pidfile "$T/p" -H "unix://$T/docker.sock" \
  --bridge=none --iptables=false --ip-masq=false --exec-opt native.cgroupdriver=cgroupfs \
  "${runtime_opts[@]}" >"$T/dockerd.log" 2>&1 &
pids+=($!)
wait_for 60 dockerd docker info || { tail -n 30 "$T/dockerd.log" >&2; fail "private dockerd did not start"; }
ok "private dockerd $(docker version -f '{{.Server.Version}}') cgroup driver $(docker info -f '{{.CgroupDriver}}'), runtime $(docker info -f '{{.DefaultRuntime}}')"

# ---------------------------------------------------------------- CNI config
mkdir -p "$T/net.d" "$T/ipam" "$T/cni-cache"
cat >"$T/net.d/10-selftest.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "cri-dockerd-selftest",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "$T/ipam",
        "ranges": [[{ "subnet": "$SUBNET_PREFIX.0/24" }]]
      }
    }
  ]
}
EOF

# ---------------------------------------------------------------- negative controls
if crictl --runtime-endpoint "unix://$T/nobody.sock" --timeout 3s version >/dev/null 2>&1; then
  fail "crictl against a socket nobody serves succeeded"
fi
ok "crictl against a socket nobody serves fails"
set +e
"$CRI_DOCKERD" --no-such-flag >"$T/unknown-flag.log" 2>&1
rc=$?
set -e
[[ $rc != 0 ]] || fail "an unknown flag: exit 0"
ok "cri-dockerd refuses an unknown flag (exit $rc)"

# ---------------------------------------------------------------- cri-dockerd, as systemd starts it
# cri-docker.socket listens and passes the socket; the service runs builder's ExecStart. Here
# systemd-socket-activate plays the socket unit and a datagram socket plays systemd's
# NOTIFY_SOCKET (the unit is Type=notify, so systemd waits for READY=1).
python3 - "$T/notify.sock" >"$T/notify.out" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(300)
print(s.recv(4096).decode(), flush=True)
PY
pids+=($!)
wait_for 20 "notify socket" test -S "$T/notify.sock" || fail "no notify socket"
private=(--docker-endpoint "unix://$T/docker.sock" --cri-dockerd-root-directory "$T/root"
  --cni-conf-dir "$T/net.d" --cni-bin-dir /usr/lib/cni --cni-cache-dir "$T/cni-cache")
log "starting $CRI_DOCKERD ${unit_args[*]} ${private[*]}"
systemd-socket-activate -l "$T/cri.sock" -E "NOTIFY_SOCKET=$T/notify.sock" \
  "$CRI_DOCKERD" "${unit_args[@]}" "${private[@]}" >"$T/cri.log" 2>&1 &
pids+=($!)
wait_for 20 "the activation socket" test -S "$T/cri.sock" || fail "systemd-socket-activate did not listen"
wait_for 60 "cri-dockerd" crictl version || fail "cri-dockerd did not answer on the passed socket"
ok "$("$CRI_DOCKERD" --version 2>&1 | head -n1) answers on the socket passed by socket activation (fd://)"
wait_for 20 "READY=1" grep -q '^READY=1$' "$T/notify.out" || fail "no READY=1 on NOTIFY_SOCKET: $(cat "$T/notify.out")"
ok "READY=1 sent to NOTIFY_SOCKET"

out=$(crictl version)
grep -q '^RuntimeName: *docker$' <<<"$out" && grep -q '^RuntimeApiVersion: *v1$' <<<"$out" ||
  fail "crictl version: $out"
ok "crictl version: $(tr '\n' ' ' <<<"$out")"

wait_for 30 "NetworkReady" bash -c "'$CRICTL' --config '$T/crictl.yaml' info | jq -e '[.status.conditions[] | select(.status == true) | .type] | index(\"RuntimeReady\") and index(\"NetworkReady\")'" ||
  fail "crictl info: $(crictl info | jq -c .status)"
ok "crictl info: RuntimeReady and NetworkReady true"

# ---------------------------------------------------------------- images (no network)
img=$T/img
mkdir -p "$img/rootfs/bin"
cp /bin/busybox "$img/rootfs/bin/busybox"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$img/rootfs" -cf "$img/layer.tar" bin
diff_id=$(sha256sum "$img/layer.tar" | cut -d' ' -f1)
cat >"$img/config.json" <<EOF
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z",
 "config":{"Entrypoint":["/bin/busybox","sleep","2147483647"],"Env":["PATH=/bin"]},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},
 "history":[{"created":"1970-01-01T00:00:00Z","created_by":"cri-dockerd selftest: /bin/busybox from busybox-static"}]}
EOF
cfg=$(sha256sum "$img/config.json" | cut -d' ' -f1)
mkdir -p "$img/archive/$diff_id"
mv "$img/layer.tar" "$img/archive/$diff_id/layer.tar"
mv "$img/config.json" "$img/archive/$cfg.json"
printf '[{"Config":"%s.json","RepoTags":["%s","%s"],"Layers":["%s/layer.tar"]}]\n' \
  "$cfg" "$PAUSE_IMAGE" "$WORK_IMAGE" "$diff_id" >"$img/archive/manifest.json"
tar -C "$img/archive" -cf "$img/image.tar" .
docker load -i "$img/image.tar" >&2
crictl inspecti "$PAUSE_IMAGE" >/dev/null && crictl inspecti "$WORK_IMAGE" >/dev/null ||
  fail "images not visible through CRI"
ok "images $PAUSE_IMAGE and $WORK_IMAGE loaded and visible through CRI ImageStatus"

# ---------------------------------------------------------------- pods and containers
run_pod() { # name, network (host|cni)
  local name=$1 net=$2 ns=''
  [[ $net == host ]] && ns='"security_context": {"namespace_options": {"network": 2}},'
  mkdir -p "$T/logs/$name"
  cat >"$T/$name-pod.json" <<EOF
{"metadata": {"name": "$name", "namespace": "selftest", "uid": "$name-uid", "attempt": 0},
 "hostname": "$name", "log_directory": "$T/logs/$name",
 "linux": {$ns "cgroup_parent": ""}}
EOF
  cat >"$T/$name-ctr.json" <<EOF
{"metadata": {"name": "work"}, "image": {"image": "$WORK_IMAGE"},
 "command": ["/bin/busybox", "sleep", "3600"], "log_path": "work.log", "linux": {}}
EOF
  local pod ctr ip
  pod=$(crictl runp "$T/$name-pod.json") || fail "$name: crictl runp"
  ok "$name: crictl runp -> ${pod:0:13}"
  if [[ $net == cni ]]; then
    ip=$(crictl inspectp "$pod" | jq -r '.status.network.ip')
    [[ $ip == "$SUBNET_PREFIX".* ]] || fail "$name: sandbox IP '$ip' not in $SUBNET_PREFIX.0/24"
    ok "$name: sandbox IP $ip from the conflist's subnet"
  else
    [[ $(crictl inspectp "$pod" | jq -r '.status.linux.namespaces.options.network') == NODE ]] ||
      fail "$name: sandbox network namespace is not NODE"
    ok "$name: sandbox in the host network namespace"
  fi
  ctr=$(crictl create "$pod" "$T/$name-ctr.json" "$T/$name-pod.json") || fail "$name: crictl create"
  crictl start "$ctr" >/dev/null || fail "$name: crictl start"
  [[ $(crictl inspect "$ctr" | jq -r .status.state) == CONTAINER_RUNNING ]] || fail "$name: container not running"
  crictl ps -q | grep -q "^${ctr}" || fail "$name: crictl ps does not list the container"
  ok "$name: crictl create + start + ps"
  [[ $(crictl exec -s "$ctr" /bin/busybox echo sync-ok) == sync-ok ]] || fail "$name: crictl exec -s (ExecSync)"
  ok "$name: crictl exec -s (ExecSync)"
  local streamed
  if streamed=$(timeout 60 "$CRICTL" --config "$T/crictl.yaml" exec "$ctr" /bin/busybox echo stream-ok 2>"$T/$name-exec.err") &&
    [[ $streamed == stream-ok ]]; then
    ok "$name: crictl exec (streaming Exec through the 127.0.0.1 streaming server)"
  else
    fail "$name: crictl exec (streaming): $(head -c 500 "$T/$name-exec.err")"
  fi
  if [[ $net == cni ]]; then
    local inside
    inside=$(crictl exec -s "$ctr" /bin/busybox ip -4 addr show dev eth0) || true
    grep -q "$ip/24" <<<"$inside" || fail "$name: eth0 inside the pod does not have $ip: $inside"
    ok "$name: eth0 inside the pod has $ip/24"
  fi
  crictl stop "$ctr" >/dev/null && crictl rm "$ctr" >/dev/null || fail "$name: crictl stop/rm"
  crictl stopp "$pod" >/dev/null && crictl rmp "$pod" >/dev/null || fail "$name: crictl stopp/rmp"
  [[ -z $(crictl pods -q --name "$name") ]] || fail "$name: pod still listed"
  ok "$name: container and sandbox stopped and removed"
}
run_pod host-net host
run_pod cni-net cni

# ---------------------------------------------------------------- crictl runtime-config
out=$(crictl runtime-config)
grep -qi 'cgroup driver: *cgroupfs' <<<"$out" || fail "crictl runtime-config: $out"
ok "crictl runtime-config: $(tr -s ' ' <<<"$out")"

# ---------------------------------------------------------------- optional: a real kubelet
# KUBELET=/path/to/kubelet (1.36 tried): run it standalone (no API server) with a static
# hostNetwork pod, check that the pod's container runs (within 90 s), that kubelet took the cgroup
# driver from RuntimeConfig and can read the container's log, after letting it run KUBELET_DWELL
# seconds more (default 10) for its sync loops and periodic calls. It writes only under T, except
# the symlinks that kubelet always makes in /var/log/containers (removed afterwards). cgroupsPerQOS is off so it creates no kubepods
# cgroups on the host.
if [[ -n ${KUBELET:-} ]]; then
  mkdir -p "$T/kubelet/manifests"
  cat >"$T/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
address: 127.0.0.1
port: 20250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 20248
staticPodPath: $T/kubelet/manifests
podLogsDir: $T/kubelet/pod-logs
volumePluginDir: $T/kubelet/volume-plugins
containerRuntimeEndpoint: unix://$T/cri.sock
imageServiceEndpoint: unix://$T/cri.sock
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
  cat >"$T/kubelet/manifests/static.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: selftest-static, namespace: default}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 1
  containers:
  - name: static-work
    image: $WORK_IMAGE
    imagePullPolicy: Never
    command: ["/bin/busybox", "sh", "-c", "echo static-hello; exec /bin/busybox sleep 3600"]
EOF
  existing_links=$(ls /var/log/containers 2>/dev/null || true)
  "$KUBELET" --config "$T/kubelet/config.yaml" --root-dir "$T/kubelet/root" --cert-dir "$T/kubelet/pki" \
    --hostname-override cri-dockerd-selftest --v=2 >"$T/kubelet.log" 2>&1 &
  kubelet_pid=$!
  pids+=("$kubelet_pid")
  running=
  for _ in $(seq 90); do
    kill -0 "$kubelet_pid" 2>/dev/null || break
    running=$(crictl ps -q --name static-work --state running 2>/dev/null | head -1)
    [[ -n $running ]] && break
    sleep 1
  done
  logs=
  if [[ -n $running ]]; then
    # The container's log through kubelet's own log reader (docker json-file behind cri-dockerd's
    # symlink), from kubelet's API on the loopback address (anonymous, AlwaysAllow).
    for _ in $(seq 20); do
      logs=$(curl -sk "https://127.0.0.1:20250/containerLogs/default/selftest-static-cri-dockerd-selftest/static-work" || true)
      [[ $logs == *static-hello* ]] && break
      sleep 1
    done
  fi
  sleep "${KUBELET_DWELL:-10}" # sync loops and periodic calls with the container running
  kill "$kubelet_pid" 2>/dev/null
  wait "$kubelet_pid" 2>/dev/null || true
  for l in /var/log/containers/*; do
    [[ -e $l || -L $l ]] || continue
    grep -qxF "$(basename "$l")" <<<"$existing_links" || rm -f "$l"
  done
  rmdir /var/log/containers 2>/dev/null || true
  [[ -n $running ]] || { tail -n 40 "$T/kubelet.log" >&2; fail "kubelet: static pod container did not run"; }
  ok "kubelet $("$KUBELET" --version | cut -d' ' -f2): static pod's container running (${running:0:13})"
  grep -q 'Using cgroup driver setting received from the CRI runtime" cgroupDriver="cgroupfs"' "$T/kubelet.log" ||
    fail "kubelet did not take the cgroup driver from RuntimeConfig"
  ok "kubelet took cgroupDriver=cgroupfs from the CRI RuntimeConfig answer"
  [[ $logs == *static-hello* ]] || fail "kubelet containerLogs: '$logs'"
  ok "kubelet reads the container's log (containerLogs API): $logs"
fi
