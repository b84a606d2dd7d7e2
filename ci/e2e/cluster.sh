# shellcheck shell=bash
# The cluster case of ci/e2e/run.sh (which sources this file; E2E_ONLY=cluster runs it alone):
# nodes made only from the base image and builder's outputs join a live Kubernetes v1.36.3
# control plane, take scheduled pods, and `builder detect` reads the live cluster.
#
# Where it runs: in a private network and mount namespace (unshare), so that nothing it starts
# is reachable from, or changes, the machine:
#   - its loopback carries 10.0.2.2, the address every node VM reaches the host at through
#     qemu's user network (each VM has its own: 10.0.2.0/24, 10.0.3.0/24, ...; a connection to
#     10.0.2.2 from any of them ends on this loopback). kubeadm advertises the API server there,
#     so its certificates, kubeconfigs and static pod command lines are used as written;
#   - /etc is an overlay whose writes land in $e2e/cluster/etc (kubeadm writes /etc/kubernetes);
#   - each node's guest address (10.0.N.15, its InternalIP) is on the loopback too, forwarded by
#     its qemu to the guest's port 10250: the API server reaches each kubelet (logs, configz).
# The control plane runs as host processes, each with the command line kubeadm wrote into its
# static pod manifest (etcd 3.6.8, kube-apiserver, kube-controller-manager, kube-scheduler, all
# built from source by ci/consumers/build.sh control-plane): no kubelet or container images on
# the host, which a 2-core machine running three TCG guests cannot spare. kubeadm's init phases
# set it up: certs, kubeconfig, etcd, control-plane, then upload-config and bootstrap-token;
# `kubeadm token create` makes the nodes' fresh token. Skipped add-ons: kube-proxy and CoreDNS
# (no check needs a Service or cluster DNS). The pod network is a minimal CNI add-on of the
# test's own (cluster/cni.yaml: a DaemonSet that writes a bridge conflist for the overlay's
# plugins, as a CNI add-on's installer does); without one no node becomes Ready.
#
# Nodes: the containerd node (containerd 2.3.4 built from source), the cri-dockerd node (Docker
# Engine 20.10 + cri-dockerd 0.4.3), and a negative control: the containerd render with its
# user-data's criSocket pointed at cri-dockerd's socket, whose `kubeadm join` must fail and which
# must never register. Each boots the base image + the baked overlay + the render's user-data
# (rendered here with --join-config for the live API server), nothing else; the cloud's
# meta-data adds only local-hostname.

readonly CLUSTER_API=10.0.2.2
readonly CLUSTER_K8S=v1.36.3
# The release control_plane_up sets up, and its kubeadm config API; the migration case
# (ci/e2e/migration.sh) sets v1.23.17 and v1beta3, and a criSocket for the control plane's own
# registration (kubeadm 1.23 would otherwise look for one on this machine).
cluster_k8s=$CLUSTER_K8S
cluster_kubeadm_api=kubeadm.k8s.io/v1beta4
cluster_cri_socket=""
cluster_upload=""
cluster_timeout=${E2E_CLUSTER_TIMEOUT:-900}

# The first FAIL line is repeated after the logs cluster_failure prints, so that it is the
# last thing a truncated CI log shows.
cluster_fail_reason=""
csay() {
  [[ $* != FAIL:* ]] || [ -n "$cluster_fail_reason" ] || cluster_fail_reason=$*
  echo "cluster: $*" >&2
}

# The control plane's binaries: BUILDER_KUBE_APISERVER ... (ci/test.sh passes them), else
# ci/consumers/build.sh control-plane.
resolve_control_plane() {
  if [ -z "${BUILDER_KUBE_APISERVER:-}" ] || [ -z "${BUILDER_KUBECTL:-}" ] || [ -z "${BUILDER_ETCD:-}" ] ||
     [ -z "${BUILDER_KUBE_CONTROLLER_MANAGER:-}" ] || [ -z "${BUILDER_KUBE_SCHEDULER:-}" ]; then
    local out
    out=$(bash ci/consumers/build.sh control-plane) || die "ci/consumers/build.sh control-plane failed"
    eval "$out"
    export BUILDER_KUBE_APISERVER=$KUBE_APISERVER BUILDER_KUBE_CONTROLLER_MANAGER=$KUBE_CONTROLLER_MANAGER \
      BUILDER_KUBE_SCHEDULER=$KUBE_SCHEDULER BUILDER_KUBECTL=$KUBECTL BUILDER_ETCD=$ETCD
  fi
  local b
  for b in "$BUILDER_KUBE_APISERVER" "$BUILDER_KUBE_CONTROLLER_MANAGER" "$BUILDER_KUBE_SCHEDULER" \
           "$BUILDER_KUBECTL" "$BUILDER_ETCD"; do
    [ -x "$b" ] || die "no control plane binary $b (ci/consumers/build.sh control-plane)"
  done
  "$BUILDER_KUBE_APISERVER" --version | grep -qx "Kubernetes $CLUSTER_K8S" ||
    die "$BUILDER_KUBE_APISERVER is not kube-apiserver $CLUSTER_K8S"
}

# From run.sh's main: the case in its own namespaces (this script again, --cluster-inside).
cluster_case() {
  export E2E_BASE=$base BUILDER_KUBEADM=$kubeadm BUILDER_BIN=$builder
  unshare --net --mount --propagation private bash ci/e2e/run.sh --cluster-inside
}

kc() { "$BUILDER_KUBECTL" --kubeconfig /etc/kubernetes/admin.conf "$@"; }

# --- the control plane --------------------------------------------------------------------------
cluster_namespace() { # dir [net indices; default 2 3 4]
  local c=$1 n nets=("${@:2}")
  (( ${#nets[@]} )) || nets=(2 3 4)
  ip link set lo up
  ip addr add "$CLUSTER_API/32" dev lo
  # A connection to a node's address leaves from 127.0.0.1, not from that address (the kernel's
  # default for a local destination): qemu's user network passes a forwarded connection's source
  # on to the guest unless it is a loopback address, and a SYN from the guest's own address gets
  # no answer.
  for n in "${nets[@]}"; do
    ip addr add "10.0.$n.15/32" dev lo
    ip route change local "10.0.$n.15" dev lo table local proto kernel scope host src 127.0.0.1
  done
  mkdir -p "$c/etc" "$c/etc-work"
  mount -t overlay overlay -o "lowerdir=/etc,upperdir=$c/etc,workdir=$c/etc-work" /etc
}

control_plane_up() { # dir
  local c=$1 phase n
  cat >"$c/kubeadm.yaml" <<EOF
apiVersion: $cluster_kubeadm_api
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: $CLUSTER_API
  bindPort: 6443
nodeRegistration:
  name: e2e-control-plane${cluster_cri_socket:+
  criSocket: $cluster_cri_socket}
---
apiVersion: $cluster_kubeadm_api
kind: ClusterConfiguration
kubernetesVersion: $cluster_k8s
clusterName: builder-e2e
etcd:
  local:
    dataDir: $c/etcd
EOF
  for phase in "certs all" "kubeconfig all" "etcd local" "control-plane all"; do
    # shellcheck disable=SC2086
    "$kubeadm" init phase $phase --config "$c/kubeadm.yaml" >>"$c/kubeadm.log" 2>&1 ||
      { tail -n 20 "$c/kubeadm.log" >&2; return 1; }
  done
  for n in etcd kube-apiserver kube-controller-manager kube-scheduler; do
    static_pod_process "$c" "$n" || return 1
  done
  local i
  for i in $(seq 1 120); do
    kc get --raw=/readyz >/dev/null 2>&1 && break
    sleep 1
  done
  kc get --raw=/readyz >/dev/null 2>&1 || { tail -n 20 "$c/logs/kube-apiserver.log" >&2; return 1; }
  csay "control plane $cluster_k8s up after ${i}s (etcd $("$BUILDER_ETCD" --version | sed -n 's/^etcd Version: //p'), API server at https://$CLUSTER_API:6443)"
  # The migration case replaces the upload-config phase (cluster_upload: a function).
  local phases=("upload-config all" bootstrap-token)
  if [ -n "$cluster_upload" ]; then
    "$cluster_upload" "$c" || return 1
    phases=(bootstrap-token)
  fi
  for phase in "${phases[@]}"; do
    # shellcheck disable=SC2086
    "$kubeadm" init phase $phase --config "$c/kubeadm.yaml" >>"$c/kubeadm.log" 2>&1 ||
      { tail -n 20 "$c/kubeadm.log" >&2; return 1; }
  done
}

# Starts the command line of kubeadm's static pod manifest NAME as a host process, its binary
# the one built from source; logs in DIR/logs/NAME.log.
control_plane_pids=()
static_pod_process() { # dir name
  local c=$1 name=$2 bin cmd=()
  readarray -d '' cmd < <(python3 -c '
import sys, yaml
m = yaml.safe_load(open(sys.argv[1]))
sys.stdout.write("".join(a + "\0" for a in m["spec"]["containers"][0]["command"]))' "/etc/kubernetes/manifests/$name.yaml")
  [ "${cmd[0]:-}" = "$name" ] || { echo "kubeadm's $name manifest runs '${cmd[0]:-}', not $name" >&2; return 1; }
  case $name in
    etcd) bin=$BUILDER_ETCD ;;
    kube-apiserver) bin=$BUILDER_KUBE_APISERVER ;;
    kube-controller-manager) bin=$BUILDER_KUBE_CONTROLLER_MANAGER ;;
    kube-scheduler) bin=$BUILDER_KUBE_SCHEDULER ;;
  esac
  mkdir -p "$c/logs"
  "$bin" "${cmd[@]:1}" >"$c/logs/$name.log" 2>&1 &
  control_plane_pids+=($!)
}

# --- the nodes ----------------------------------------------------------------------------------
# A fresh bootstrap token and the CA's hash, from kubeadm, as builder's --join-config.
write_cluster_join() { # file
  local line token hash
  line=$("$kubeadm" token create --print-join-command 2>/dev/null) || return 1
  token=$(sed -nE 's/.*--token ([a-z0-9]{6}\.[a-z0-9]{16}).*/\1/p' <<<"$line")
  hash=$(sed -nE 's/.*--discovery-token-ca-cert-hash (sha256:[0-9a-f]{64}).*/\1/p' <<<"$line")
  [ -n "$token" ] && [ -n "$hash" ] || { echo "kubeadm token create printed no token and hash" >&2; return 1; }
  printf 'api_server = "%s:6443"\ntoken = "%s"\nca_cert_hash = "%s"\ndiscovery_timeout = "5m"\n' \
    "$CLUSTER_API" "$token" "$hash" >"$1"
}

# The negative control's render: a copy of RENDER with the user-data's criSocket replaced.
wrong_socket_render() { # render out socket
  rm -rf "$2" && cp -a "$1" "$2"
  python3 - "$2/user-data" "$3" <<'EOF'
import re, sys
path, socket = sys.argv[1], sys.argv[2]
text = open(path).read()
new, n = re.subn(r"criSocket: '[^']*'", "criSocket: '%s'" % socket, text)
if n != 1:
    sys.exit("expected one criSocket line in %s, found %d" % (path, n))
open(path, "w").write(new)
EOF
}

vm_pids=()
start_node() { # name render_dir net_index [mode: baked, or none for a folder with user-data only]
  local name=$1 n=$3 vm_smp=${E2E_CLUSTER_SMP:-1}
  prepare_vm "$name" "$2" "${4:-baked}" "local-hostname: $name" >/dev/null || return 1
  qemu_vm "$name" "e2e.cluster=1 systemd.wants=systemd-networkd.service" \
    -nic "user,model=virtio-net-pci,net=10.0.$n.0/24,hostfwd=tcp:10.0.$n.15:10250-:10250"
  "${qemu_argv[@]}" &
  vm_pids+=($!)
  csay "[$name] booting (TCG; guest 10.0.$n.15, API server $CLUSTER_API:6443)"
}

node_ready() { # name
  [ "$(kc get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

wait_for() { # seconds what command...
  local until=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    [ "$SECONDS" -lt "$until" ] || { csay "FAIL: timed out waiting for $what"; return 1; }
    sleep 5
  done
}

# One node's facts from the API server: Ready, runtime and kubelet versions, the labels of the
# render's --node-labels, and the CRI endpoint the kubelet runs with (its configz, through the API
# server: kubeadm 1.36 keeps the socket in the kubelet's instance config, not in the
# kubeadm.alpha.kubernetes.io/cri-socket annotation, which it no longer writes; one, if present,
# must agree).
check_cluster_node() { # name render_dir runtime_prefix
  local name=$1 flags runtime kubelet socket labels got annotation
  flags=$(. "$2/rootfs/var/lib/kubelet/kubeadm-flags.env" && echo "$KUBELET_KUBEADM_ARGS")
  socket=$(sed -nE 's/.*--container-runtime-endpoint=([^ ]+).*/\1/p' <<<"$flags")
  labels=$(sed -nE 's/.*--node-labels=([^ ]+).*/\1/p' <<<"$flags")
  runtime=$(kc get node "$name" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}')
  kubelet=$(kc get node "$name" -o jsonpath='{.status.nodeInfo.kubeletVersion}')
  node_ready "$name" || { csay "FAIL: node $name is not Ready"; return 1; }
  [[ $runtime == "$3"* ]] || { csay "FAIL: node $name runs $runtime, not $3*"; return 1; }
  [ "$kubelet" = "$CLUSTER_K8S" ] || { csay "FAIL: node $name has kubelet $kubelet"; return 1; }
  [ -n "$labels" ] || { csay "FAIL: the render of $name has no --node-labels"; return 1; }
  local kv
  for kv in ${labels//,/ }; do
    got=$(kc get node "$name" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["labels"].get(sys.argv[1], "<none>"))' "${kv%%=*}")
    [ "$got" = "${kv#*=}" ] || { csay "FAIL: node $name label ${kv%%=*}=$got, the profile asks for ${kv#*=}"; return 1; }
  done
  got=$(kc get --raw "/api/v1/nodes/$name/proxy/configz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kubeletconfig"].get("containerRuntimeEndpoint", ""))') ||
    { csay "FAIL: the API server could not read node $name's kubelet configz"; return 1; }
  [ "$got" = "$socket" ] || { csay "FAIL: node $name's kubelet uses $got, the profile's socket is $socket"; return 1; }
  annotation=$(kc get node "$name" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"].get("annotations", {}).get("kubeadm.alpha.kubernetes.io/cri-socket", ""))')
  [ -z "$annotation" ] || [ "$annotation" = "$socket" ] ||
    { csay "FAIL: node $name's cri-socket annotation is $annotation, not $socket"; return 1; }
  csay "node $name Ready runtime=$runtime kubelet=$kubelet labels=ok cri-socket=ok"
}

# The workloads (cluster/workloads.yaml): one hello pod per node by anti-affinity, and the
# docker.sock pod on the cri-dockerd node (chosen by the profile's node label).
check_workloads() { # containerd_node cri_dockerd_node
  local pods pod node logs
  kc apply -f ci/e2e/cluster/workloads.yaml >/dev/null || return 1
  wait_for "$cluster_timeout" "the workload pods to run" \
    bash -c "[ \"\$(\"$BUILDER_KUBECTL\" --kubeconfig /etc/kubernetes/admin.conf get pods -l e2e=workload -o jsonpath='{range .items[*]}{.status.phase}{\"\\n\"}{end}' | grep -cx Running)\" = 3 ]" ||
    { kc get pods -o wide >&2; kc describe pods -l e2e=workload | tail -n 30 >&2; return 1; }
  pods=$(kc get pods -l app=e2e-hello -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName}{"\n"}{end}')
  [ "$(awk '{print $2}' <<<"$pods" | sort | tr '\n' ' ')" = "$(printf '%s\n' "$1" "$2" | sort | tr '\n' ' ')" ] ||
    { csay "FAIL: the hello pods are not one per node: $pods"; return 1; }
  while read -r pod node; do
    logs=$(kc logs "$pod") || { csay "FAIL: kubectl logs $pod"; return 1; }
    [ "$logs" = "hello from $node" ] || { csay "FAIL: pod $pod on $node logged '$logs'"; return 1; }
    csay "pod default/$pod Running on $node logs=ok"
  done <<<"$pods"
  read -r pod node < <(kc get pods -l app=e2e-docker-sock -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName}{"\n"}{end}')
  [ "$node" = "$2" ] || { csay "FAIL: the docker.sock pod runs on '$node', not $2"; return 1; }
  logs=$(kc logs "$pod") || { csay "FAIL: kubectl logs $pod"; return 1; }
  # cri-dockerd names the containers it makes k8s_CONTAINER_POD_NAMESPACE_...: the pod sees them.
  # Its own sandbox (k8s_POD_...) runs before its container starts; the container itself may
  # not be listed yet when dockerps asks (Docker marks it running after the process starts).
  grep -q "^dockerps: [0-9]* containers through /var/run/docker.sock\$" <<<"$logs" &&
    grep -Eq "k8s_(POD|dockerps)_${pod}_default_" <<<"$logs" ||
    { csay "FAIL: the docker.sock pod did not list the node's containers: $logs"; return 1; }
  csay "pod default/$pod Running on $node logs=ok docker.sock=ok ($(sed -n 's/^dockerps: \([0-9]*\) containers.*/\1/p' <<<"$logs") containers listed)"
}

# builder detect on the live cluster's nodes and pods: exit 0, both nodes not affected, the
# cri-dockerd node holding the docker.sock workload.
check_detect() { # dir containerd_node cri_dockerd_node
  local c=$1 rc=0
  kc get nodes -o json >"$c/nodes.json" && kc get pods -A -o json >"$c/pods.json" || return 1
  "$builder" detect --nodes "$c/nodes.json" --pods "$c/pods.json" -o json >"$c/detect.json" 2>"$c/detect.err" || rc=$?
  [ "$rc" = 0 ] || { csay "FAIL: builder detect exited $rc: $(head -c 600 "$c/detect.err")"; return 1; }
  local summary
  summary=$(python3 - "$c/detect.json" "$2" "$3" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
nodes = {n["name"]: n for n in r["nodes"]}
want = {sys.argv[2]: "containerd", sys.argv[3]: "cri-dockerd"}
bad = [f"{n}: {nodes.get(n)}" for n, v in want.items()
       if n not in nodes or nodes[n]["affected"] or nodes[n]["verdict"] != v]
pinned = nodes.get(sys.argv[3], {}).get("docker_socket_workloads")
if pinned != ["default/Deployment/e2e-docker-sock"]:
    bad.append(f"docker.sock workloads on {sys.argv[3]}: {pinned}")
if bad:
    sys.exit("builder detect: " + "; ".join(bad))
s = r["summary"]
print(f"{s['nodes']} node(s), {s['affected']} affected, {s['docker_socket_pods']} docker.sock pod(s) pinning {sys.argv[3]}")
EOF
  ) || { csay "FAIL: the report of builder detect is wrong (above)"; return 1; }
  csay "detect exit 0: $summary"
}

# The negative control: its user-data's kubeadm join must fail on the CRI socket, and the node
# must not exist.
check_wrong_socket() { # name socket
  local r=$e2e/vm-$1/report.log
  wait_for "$cluster_timeout" "the $1 VM's report" grep -q '=== e2e-report end' "$r" || return 1
  tr -d '\r' <"$r" >"$r.txt"
  section "$r.txt" 'user-data kubeadm join' | grep -q '\[ERROR CRI\]' && grep -q '^status: error' "$r.txt" ||
    { csay "FAIL: the $1 node's kubeadm join did not fail on the CRI socket"; section "$r.txt" 'user-data kubeadm join' | tail -n 15 >&2; return 1; }
  ! kc get node "$1" >/dev/null 2>&1 || { csay "FAIL: node $1 registered"; return 1; }
  csay "negative control: criSocket $2 on a containerd node: kubeadm join [ERROR CRI], node $1 never registered: failed as expected"
}

# Stops the VMs, then the control plane in reverse order (etcd last). kube-apiserver's graceful
# shutdown can hang on its first SIGTERM (a CI run waited minutes for it, etcd stopping beside
# it), so whatever still runs after 10 s is killed.
cluster_stop() {
  local p alive reversed=()
  for p in "${control_plane_pids[@]}"; do reversed=("$p" "${reversed[@]}"); done
  for p in "${vm_pids[@]}" "${reversed[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 1 20); do
    alive=0
    for p in "${vm_pids[@]}" "${reversed[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.5
  done
  for p in "${vm_pids[@]}" "${reversed[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # The guests' disks (1.3 GB each), as boot() removes a finished VM's; logs and reports stay.
  rm -f "$e2e"/vm-cluster-*/disk.img "$e2e"/vm-mig-*/disk.img
}

cluster_failure() { # dir
  local c=$1 w
  csay "----- nodes, pods"
  kc get nodes -o wide >&2 2>&1 || true
  kc get pods -A -o wide >&2 2>&1 || true
  for w in "$e2e"/vm-cluster-*; do
    [ -d "$w" ] || continue
    csay "----- $w: console tail"
    tr -d '\r' <"$w/console.log" | tail -n 25 >&2 || true
    csay "----- $w: report"
    tr -d '\r' <"$w/report.log" | sed -n '/--- cloud-init status/,/--- is-active kubelet/p;/--- user-data kubeadm join/,/--- failed units/p' | tail -n 40 >&2 || true
  done
  csay "----- control plane logs in $c/logs"
  [ -z "$cluster_fail_reason" ] || csay "the first failure (above): ${cluster_fail_reason}"
}

cluster_inside() {
  base=${E2E_BASE:?} kubeadm=${BUILDER_KUBEADM:?}
  local c=$e2e/cluster d=$e2e/dist/cluster start=$SECONDS
  rm -rf "$c" "$d" "$e2e"/vm-cluster-* && mkdir -p "$c" "$d"
  cluster_namespace "$c"
  trap cluster_stop EXIT
  control_plane_up "$c" || { csay "FAIL: the control plane did not come up (logs in $c)"; return 1; }
  kc apply -f ci/e2e/cluster/cni.yaml >/dev/null || return 1
  write_cluster_join "$c/join.toml" || return 1
  local containerd=vm-cluster-containerd cri=vm-cluster-cri-dockerd wrong=vm-cluster-wrong-socket
  render e2e-cluster-containerd "$d" --join-config "$c/join.toml"
  render e2e-cri-dockerd "$d" --join-config "$c/join.toml"
  local dc=$d/e2e-cluster-containerd/amd64 dd=$d/e2e-cri-dockerd/amd64 wrong_socket=unix:///var/run/cri-dockerd.sock
  wrong_socket_render "$dc" "$d/wrong-socket" "$wrong_socket" || return 1
  start_node "${containerd#vm-}" "$dc" 2 && start_node "${cri#vm-}" "$dd" 3 && start_node "${wrong#vm-}" "$d/wrong-socket" 4 ||
    return 1
  local ok=0
  wait_for "$cluster_timeout" "both nodes to be Ready" bash -c "
    for n in ${containerd#vm-} ${cri#vm-}; do
      [ \"\$(\"$BUILDER_KUBECTL\" --kubeconfig /etc/kubernetes/admin.conf get node \$n -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' 2>/dev/null)\" = True ] || exit 1
    done" &&
    csay "both nodes Ready $((SECONDS - start))s after the control plane started" &&
    check_cluster_node "${containerd#vm-}" "$dc" containerd://2.3.4 &&
    check_cluster_node "${cri#vm-}" "$dd" docker:// &&
    check_workloads "${containerd#vm-}" "${cri#vm-}" &&
    check_detect "$c" "${containerd#vm-}" "${cri#vm-}" &&
    check_wrong_socket "${wrong#vm-}" "$wrong_socket" || ok=1
  [ "$ok" = 0 ] || cluster_failure "$c"
  csay "the cluster case took $((SECONDS - start))s"
  return "$ok"
}
