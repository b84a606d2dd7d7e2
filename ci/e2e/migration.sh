# shellcheck shell=bash
# The migration case of ci/e2e/run.sh (which sources this file; E2E_ONLY=migration runs it, and
# ci/migration.sh runs that): the runbook builder replaces, run by machines on a Kubernetes
# v1.23.17 cluster whose nodes run their pods through the kubelet's built-in dockershim.
#
#   before   a v1.23.17 control plane (kube-apiserver, kube-controller-manager, kube-scheduler,
#            kubectl, kubeadm and etcd 3.5.0, built from source by ci/consumers/build.sh
#            kubernetes-1.23; set up as in the cluster case, ci/e2e/cluster.sh, whose functions
#            this reuses) and two old nodes: Debian 12 with Debian's docker.io (Docker Engine
#            20.10) and the v1.23.17 kubelet and kubeadm, joined by `kubeadm join` with
#            criSocket /var/run/dockershim.sock, as such nodes were. They run a Deployment (2
#            replicas, a PodDisruptionBudget) and, on mig-old-1 only, an agent DaemonSet that
#            mounts /var/run/docker.sock (migration/workloads.yaml);
#   detect   `kubectl get nodes/pods -A -o json` into `builder detect --plan` (exit 3: both nodes
#            on dockershim, cri-dockerd for mig-old-1, containerd for mig-old-2, at 1.23) and
#            `builder init --from-detect`, which writes the site's two profiles; the site then
#            points their artifacts at its mirror (this loopback server, Debian's binaries
#            repackaged as in the other cases), as an air-gapped site does, and detect --plan
#            names those profiles in its render lines;
#   replace  the plan's render lines run as printed (with the site's settings in the
#            environment: BUILDER_CACHE_DIR, BUILDER_JOIN_*), two replacement VMs boot from a
#            base image with only the v1.23.17 kubelet and kubeadm + the baked overlay + the
#            render's user-data, and join; then the plan's wait, cordon, drain and delete lines
#            run as printed, with `kubectl` and `builder` on PATH;
#   after    the Deployment's pods Running on the replacements (its available replicas sampled
#            every second while draining: never 0), the agent on the cri-dockerd replacement
#            listing that node's containers through the socket, and `builder detect` on the live
#            cluster exits 0 with nothing affected. The old nodes' VMs are powered off last.
#
# Four TCG guests run at once at the end (two old, two new; 1 vCPU and 2 GiB each).

readonly MIG_K8S=v1.23.17
mig_timeout=${E2E_MIGRATION_TIMEOUT:-1500}
mig_fail_reason=""

msay() {
  [[ $* != FAIL:* ]] || [ -n "$mig_fail_reason" ] || mig_fail_reason=$*
  echo "migration: $*" >&2
}

# The v1.23.17 set: BUILDER_KUBELET_123 ... (ci/migration.sh passes them), else
# ci/consumers/build.sh kubernetes-1.23.
resolve_migration() {
  local v out
  if [ -z "${BUILDER_KUBELET_123:-}" ] || [ -z "${BUILDER_KUBEADM_123:-}" ] || [ -z "${BUILDER_KUBECTL_123:-}" ] ||
     [ -z "${BUILDER_KUBE_APISERVER_123:-}" ] || [ -z "${BUILDER_KUBE_CONTROLLER_MANAGER_123:-}" ] ||
     [ -z "${BUILDER_KUBE_SCHEDULER_123:-}" ] || [ -z "${BUILDER_ETCD_123:-}" ]; then
    out=$(bash ci/consumers/build.sh kubernetes-1.23) || die "ci/consumers/build.sh kubernetes-1.23 failed"
    for v in KUBELET KUBEADM KUBECTL KUBE_APISERVER KUBE_CONTROLLER_MANAGER KUBE_SCHEDULER ETCD; do
      export "BUILDER_${v}_123=$(sed -n "s/^${v}_123=//p" <<<"$out")"
    done
  fi
  for v in KUBELET KUBEADM KUBECTL KUBE_APISERVER KUBE_CONTROLLER_MANAGER KUBE_SCHEDULER ETCD; do
    v=BUILDER_${v}_123
    [ -x "${!v}" ] || die "no $v binary '${!v}' (ci/consumers/build.sh kubernetes-1.23)"
  done
  "$BUILDER_KUBELET_123" --version | grep -qx "Kubernetes $MIG_K8S" || die "$BUILDER_KUBELET_123 is not kubelet $MIG_K8S"
}

# The old nodes' image: the base image's packages plus Debian's docker.io (dockerd 20.10 and
# containerd 1.6 under it), the CNI plugins where the kubernetes-cni package put them
# (/opt/cni/bin), and the tools kubeadm 1.23's preflight looks for (ip, ebtables, ethtool, socat).
readonly MIG_OLD_EXTRA_PACKAGES=docker.io,containernetworking-plugins,iproute2,ebtables,ethtool,socat
install_old_node() { # root
  mkdir -p "$1/opt/cni/bin"
  cp -a "$1/usr/lib/cni/." "$1/opt/cni/bin/"
}

# Builds (or finds) the two images of this case with run.sh's build_base, and prints
# "OLD_BASE NEW_BASE". The replacements' image differs from the nodes' image of the other cases
# only in its kubelet and kubeadm (v1.23.17) and in iproute2, whose `ip` kubeadm 1.23's join
# preflight requires.
migration_bases() {
  local old new
  (
    kubelet=$BUILDER_KUBELET_123 kubeadm=$BUILDER_KUBEADM_123
    BASE_PACKAGES=$BASE_PACKAGES,iproute2
    build_base >&2 && echo "$base"
    BASE_PACKAGES=$BASE_PACKAGES,$MIG_OLD_EXTRA_PACKAGES base_extra=install_old_node
    build_base >&2 && echo "$base"
  ) | { read -r new && read -r old && echo "$old $new"; }
}

# Debian's containerd 1.6 (the Docker Engine's, on this machine) in containerd's release layout,
# for the containerd replacement: kubelet 1.23 predates the containerd 2.x these other cases use.
package_containerd16() {
  local s=$up/stage-ctr16 v
  v=$(/usr/bin/containerd --version | sed -nE 's/^containerd [^ ]+ v?([0-9]+\.[0-9]+\.[0-9]+).*/\1/p')
  [[ $v == 1.6.* ]] || die "/usr/bin/containerd is not containerd 1.6 ($v)"
  rm -rf "$s" && mkdir -p "$s/bin"
  cp /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 /usr/bin/ctr "$s/bin/"
  tar -C "$s" -czf "$up/containerd-$v-linux-amd64.tar.gz" bin
  rm -rf "$s"
  echo "$v"
}

# From run.sh's main: the images and binaries on this side, then the case in its own namespaces
# (this script again, --migration-inside).
migration_case() {
  resolve_migration
  local bases
  bases=$(migration_bases) || die "the migration case's base images could not be built"
  read -r E2E_MIG_OLD_BASE E2E_MIG_NEW_BASE <<<"$bases"
  E2E_MIG_CONTAINERD=$(package_containerd16) || exit 1
  # The pause image under the name kubeadm 1.23 gives the old nodes and the names builder gives
  # the replacements at 1.23; busybox and dockerps.
  local old_pause
  old_pause=$("$BUILDER_KUBEADM_123" config images list --kubernetes-version "$MIG_K8S" 2>/dev/null | grep '/pause:') ||
    die "kubeadm $MIG_K8S names no pause image"
  build_images "$old_pause" \
    "$("$builder" show -q --profile containerd --kubernetes 1.23 2>/dev/null | sed -n 's/^sandbox_image = "\(.*\)"$/\1/p')" \
    "$("$builder" show -q --profile cri-dockerd --kubernetes 1.23 2>/dev/null | sed -n 's/^sandbox_image = "\(.*\)"$/\1/p')"
  export E2E_MIG_OLD_BASE E2E_MIG_NEW_BASE E2E_MIG_CONTAINERD BUILDER_BIN=$builder E2E_MIG_OLD_PAUSE=$old_pause
  unshare --net --mount --propagation private bash ci/e2e/run.sh --migration-inside
}

# kubeadm 1.23's upload-config phase, for a control plane without a kubelet: its kubelet part
# creates the kubelet-config-1.23 ConfigMap and the RBAC rules that let joining nodes read it,
# then annotates the control plane's own Node with its CRI socket, waiting up to 2 minutes for a
# Node that this control plane (no kubelet) never registers (kubeadm 1.24 dropped that step). So
# the part runs until the ConfigMap and its RoleBinding exist and is then stopped.
upload_config_123() { # dir
  local c=$1 pid i
  "$kubeadm" init phase upload-config kubeadm --config "$c/kubeadm.yaml" >>"$c/kubeadm.log" 2>&1 ||
    { tail -n 20 "$c/kubeadm.log" >&2; return 1; }
  "$kubeadm" init phase upload-config kubelet --config "$c/kubeadm.yaml" >>"$c/kubeadm.log" 2>&1 &
  pid=$!
  for i in $(seq 1 60); do
    kc -n kube-system get configmap kubelet-config-1.23 >/dev/null 2>&1 &&
      kc -n kube-system get rolebinding kubeadm:kubelet-config-1.23 >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  kc -n kube-system get rolebinding kubeadm:kubelet-config-1.23 >/dev/null 2>&1 ||
    { tail -n 20 "$c/kubeadm.log" >&2; msay "FAIL: kubeadm wrote no kubelet-config-1.23 ConfigMap and RoleBinding"; return 1; }
}

# --- before -------------------------------------------------------------------------------------
# The old nodes' user-data: what a node of 2021 ran to join (the runbook of the time): Docker
# with the systemd cgroup driver, br_netfilter and forwarding, the images loaded into Docker, then
# kubeadm join with the dockershim socket and the node's labels.
old_node_seed() { # dir name labels token hash
  local d=$1
  mkdir -p "$d"
  printf 'instance-id: e2e-%s\n' "$2" >"$d/meta-data"
  cat >"$d/user-data" <<EOF
#cloud-config
write_files:
- path: /etc/docker/daemon.json
  content: |
    {"exec-opts": ["native.cgroupdriver=systemd"], "log-driver": "json-file"}
- path: /etc/modules-load.d/k8s.conf
  content: |
    br_netfilter
- path: /etc/sysctl.d/k8s.conf
  content: |
    net.bridge.bridge-nf-call-iptables = 1
    net.ipv4.ip_forward = 1
- path: /root/join.yaml
  permissions: '0600'
  content: |
    apiVersion: kubeadm.k8s.io/v1beta3
    kind: JoinConfiguration
    discovery:
      bootstrapToken:
        apiServerEndpoint: $CLUSTER_API:6443
        token: $4
        caCertHashes: ["$5"]
      timeout: 5m0s
    nodeRegistration:
      name: $2
      criSocket: /var/run/dockershim.sock
      kubeletExtraArgs:
        node-labels: $3
runcmd:
- [modprobe, br_netfilter]
- [sysctl, --system]
- [systemctl, restart, docker]
- [sh, -c, 'for i in /var/lib/e2e/images/*.tar; do docker load -q -i "\$i"; done']
- [kubeadm, join, --config, /root/join.yaml]
EOF
}

# A node's facts: Ready, its runtime and kubelet versions.
node_facts() { # name -> "runtime kubelet"
  kc get node "$1" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion} {.status.nodeInfo.kubeletVersion}'
}

wait_ready() { # seconds names...
  local t=$1
  shift
  wait_for "$t" "node(s) $* to be Ready" bash -c '
    for n in "$@"; do
      [ "$("$BUILDER_KUBECTL" --kubeconfig /etc/kubernetes/admin.conf get node "$n" -o jsonpath="{.status.conditions[?(@.type==\"Ready\")].status}" 2>/dev/null)" = True ] || exit 1
    done' _ "$@"
}

# The old node on dockershim: Ready, docker://20.10, kubelet v1.23.17, and kubeadm's cri-socket
# annotation naming dockershim's socket.
check_old_node() { # name
  local facts annotation
  facts=$(node_facts "$1")
  annotation=$(kc get node "$1" -o jsonpath='{.metadata.annotations.kubeadm\.alpha\.kubernetes\.io/cri-socket}')
  [[ $facts == "docker://20.10."*" $MIG_K8S" ]] || { msay "FAIL: old node $1 runs $facts, not docker://20.10 with kubelet $MIG_K8S"; return 1; }
  [ "$annotation" = /var/run/dockershim.sock ] || { msay "FAIL: old node $1's cri-socket is '$annotation'"; return 1; }
  msay "old node $1 Ready: ${facts% *} kubelet=${facts#* } cri-socket=$annotation"
}

# Pods of the workloads, Running, as "name node" lines.
running_pods() { # selector
  kc get pods -l "$1" -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.metadata.name} {.spec.nodeName}{"\n"}{end}'
}

# The docker.sock agent on NODE lists that node's containers through the socket.
check_agent() { # node
  local pod logs
  pod=$(kc get pods -l app=mig-docker-agent --field-selector "spec.nodeName=$1,status.phase=Running" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null)
  [ -n "$pod" ] || { msay "FAIL: no docker.sock agent Running on $1"; return 1; }
  logs=$(kc logs "$pod") || { msay "FAIL: kubectl logs $pod"; return 1; }
  grep -q "^dockerps: [0-9]* containers through /var/run/docker.sock\$" <<<"$logs" && grep -Eq "k8s_(POD|dockerps)_${pod}_default_" <<<"$logs" ||
    { msay "FAIL: the docker.sock agent on $1 did not list its node's containers: $logs"; return 1; }
  msay "agent default/$pod Running on $1: docker.sock lists $(sed -n 's/^dockerps: \([0-9]*\) containers.*/\1/p' <<<"$logs") containers"
}

workloads_before() {
  kc apply -f ci/e2e/migration/workloads.yaml >/dev/null || return 1
  wait_for 600 "mig-app's 2 pods and the agent to run on the old nodes" bash -c '
    [ "$("$BUILDER_KUBECTL" --kubeconfig /etc/kubernetes/admin.conf get pods -l "app in (mig-app,mig-docker-agent)" -o jsonpath="{range .items[*]}{.status.phase}{\"\\n\"}{end}" | grep -cx Running)" = 3 ]' ||
    { kc get pods -o wide >&2; kc describe pods | tail -n 40 >&2; return 1; }
  local pods
  pods=$(running_pods app=mig-app | awk '{print $2}' | sort | tr '\n' ' ')
  [ "$pods" = "mig-old-1 mig-old-2 " ] || { msay "FAIL: mig-app runs on '$pods', not one pod per old node"; return 1; }
  check_agent mig-old-1
}

# --- detect -------------------------------------------------------------------------------------
# builder detect on the live cluster, in the site folder (where ./profiles is). Sets det_rc.
detect_live() { # out.json [more detect args]
  local out=$1
  shift
  kc get nodes -o json >"$site/nodes.json" && kc get pods -A -o json >"$site/pods.json" || return 1
  det_rc=0
  (cd "$site" && PATH=$site/bin:$PATH builder detect --nodes nodes.json --pods pods.json --plan "$@") >"$out" 2>"$out.err" ||
    det_rc=$?
}

# The report before: exit 3, both old nodes on dockershim at 1.23, cri-dockerd where the agent
# mounts the socket, containerd on the other. Prints the "before" lines.
check_before() { # detect.json
  python3 - "$1" "$MIG_K8S" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
nodes = {n["name"]: n for n in r["nodes"]}
want = {"mig-old-1": "cri-dockerd", "mig-old-2": "containerd"}
bad = []
for name, profile in want.items():
    n = nodes.get(name)
    if not n or n["verdict"] != "dockershim" or not n["affected"] or n["profile"] != profile or n["minor"] != "1.23":
        bad.append(f"{name}: {n}")
if nodes.get("mig-old-1", {}).get("docker_socket_workloads") != ["default/DaemonSet/mig-docker-agent"]:
    bad.append(f"mig-old-1 docker.sock workloads: {nodes.get('mig-old-1', {}).get('docker_socket_workloads')}")
if r["summary"]["affected"] != 2 or r["summary"]["exit_code"] != 3:
    bad.append(f"summary {r['summary']}")
if bad:
    sys.exit("builder detect before: " + "; ".join(bad))
for name in want:
    n = nodes[name]
    print(f"before: {name} {n['runtime']} {n['verdict']} (plan: {n['profile']}, {n['minor']})")
EOF
}

# The site's mirror: each profile init wrote gets its artifacts from this loopback server, with
# their pins, as write_profiles does for the other cases (run.sh's art).
site_mirror() {
  local p=$site/profiles
  [ -f "$p/containerd-1.23-amd64.toml" ] && [ -f "$p/cri-dockerd-1.23-amd64.toml" ] ||
    { msay "FAIL: builder init --from-detect did not write containerd-1.23-amd64 and cri-dockerd-1.23-amd64: $(ls "$p")"; return 1; }
  {
    printf '\n# The site mirror (ci/e2e/migration.sh): Debian 12 binaries in the release layouts.\n'
    art containerd "containerd-$E2E_MIG_CONTAINERD-linux-amd64.tar.gz" 'containerd-{version}-linux-{arch}.tar.gz' "$E2E_MIG_CONTAINERD"
    # With its version, so the SBOM and manifest name the bytes' release, not the catalog's.
    art runc runc.amd64 'runc.{arch}' "$(/usr/sbin/runc --version | sed -nE 's/^runc version ([0-9.]+).*/\1/p')"
    shared_arts
  } >>"$p/containerd-1.23-amd64.toml"
  {
    printf '\n# The site mirror (ci/e2e/migration.sh): Debian 12 binaries in the release layouts.\n'
    docker_arts
    shared_arts
  } >>"$p/cri-dockerd-1.23-amd64.toml"
}

# One field of the plan (detect.json): the lines of every pool's step STEP, or the render lines.
plan_lines() { # detect.json render|bring-up|cordon|drain|delete
  python3 - "$1" "$2" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
for pool in r["pools"]:
    for step in pool.get("plan", []):
        if step["step"] == sys.argv[2]:
            print(step["command"])
EOF
}

# Runs a line of the plan as printed, in the site folder, kubectl and builder on PATH (bounded:
# a drain that cannot evict retries for ever).
run_plan_line() { # line
  msay "\$ $1"
  (cd "$site" && PATH=$site/bin:$PATH timeout 900 bash -c "$1")
}

# --- replace ------------------------------------------------------------------------------------
# The replacements' names and render folders, from the plan's render lines (run before).
boot_replacements() { # render lines...
  local line profile n=4 dir
  for line in "$@"; do
    profile=$(sed -nE 's/^builder render --profile ([a-z0-9.-]+) .*/\1/p' <<<"$line")
    dir=$site/dist/$profile/amd64
    [ -f "$dir/overlay.tar.gz" ] || { msay "FAIL: '$line' wrote no $dir/overlay.tar.gz"; return 1; }
    local name=mig-new-${profile%%-1.23-amd64}
    base=$E2E_MIG_NEW_BASE start_node "$name" "$dir" "$n" || return 1
    new_nodes+=("$name")
    n=$((n + 1))
  done
}

check_replacement() { # name
  local facts want
  facts=$(node_facts "$1")
  case $1 in
    *cri-dockerd) want="docker://20.10." ;;
    *containerd) want="containerd://$E2E_MIG_CONTAINERD" ;;
  esac
  [[ $facts == "$want"*" $MIG_K8S" ]] || { msay "FAIL: replacement $1 runs $facts, not $want* with kubelet $MIG_K8S"; return 1; }
  msay "replacement $1 Ready runtime=${facts% *} kubelet=${facts#* }"
}

# Samples mig-app's available replicas every second into FILE until killed.
watch_available() { # file
  while :; do
    kc get deployment mig-app -o jsonpath='{.status.availableReplicas}{"\n"}' >>"$1" 2>/dev/null || echo error >>"$1"
    sleep 1
  done
}

# The drain: the plan's cordon and drain lines, with mig-app's availability sampled throughout;
# then the evicted pods must be Running elsewhere. Prints a "drained" line per old node.
drain_old() { # detect.json
  local before=$c/pods-before.json samples=$c/available.txt watcher line
  kc get pods -A -o json >"$before" || return 1
  while read -r line; do run_plan_line "$line" >&2 || return 1; done < <(plan_lines "$1" cordon)
  : >"$samples"
  watch_available "$samples" &
  watcher=$!
  local rc=0
  while read -r line; do run_plan_line "$line" >&2 || rc=1; done < <(plan_lines "$1" drain)
  kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null || true
  [ "$rc" = 0 ] || { msay "FAIL: the plan's drain line failed"; return 1; }
  local min
  min=$(sort -n "$samples" | head -n1)
  grep -qvx '[0-9]*' "$samples" && { msay "FAIL: mig-app's availability could not be read: $(grep -vx '[0-9]*' "$samples" | head -n1)"; return 1; }
  [ -n "$min" ] && [ "$min" -ge 1 ] ||
    { msay "FAIL: mig-app's available replicas fell to '${min:-none}' while draining"; return 1; }
  msay "mig-app's available replicas while draining: min $min over $(wc -l <"$samples") samples (PodDisruptionBudget minAvailable 1)"
  wait_for 600 "mig-app's 2 pods to run on the replacements" bash -c '
    [ "$("$BUILDER_KUBECTL" --kubeconfig /etc/kubernetes/admin.conf get pods -l app=mig-app -o jsonpath="{range .items[?(@.status.phase==\"Running\")]}{.spec.nodeName}{\"\\n\"}{end}" | grep -vc "^mig-old-")" = 2 ]' ||
    { kc get pods -o wide >&2; return 1; }
  local after=$c/pods-after.json node k n where
  kc get pods -A -o json >"$after" || return 1
  while read -r node k n where; do
    [ "$k" = "$n" ] || { msay "FAIL: $node's pods were not all rescheduled: $k/$n Running elsewhere"; return 1; }
    msay "drained $node; pods rescheduled: $k/$n Running ($where)"
  done < <(rescheduled "$before" "$after" mig-old-1 mig-old-2)
}

# Per old node: "NODE K N WHERE": of the N pods it ran (DaemonSet pods aside, which drain leaves),
# K belong to a workload that now has as many Running pods off the old nodes as the old nodes
# held, new ones (not the same pod); WHERE names those pods' nodes by workload.
rescheduled() { # before.json after.json old-nodes...
  python3 - "$@" <<'EOF2'
import json, sys
before, after = (json.load(open(p))["items"] for p in sys.argv[1:3])
old = sys.argv[3:]
def owner(p):
    refs = p["metadata"].get("ownerReferences") or [{"kind": "Pod", "name": p["metadata"]["name"]}]
    return (p["metadata"]["namespace"], refs[0]["kind"], refs[0]["name"])
held = {n: [owner(p) for p in before if p["spec"].get("nodeName") == n and owner(p)[1] != "DaemonSet"] for n in old}
need = {}
for owners in held.values():
    for o in owners:
        need[o] = need.get(o, 0) + 1
seen = {p["metadata"]["uid"] for p in before}
moved = {}
for p in after:
    node = p["spec"].get("nodeName")
    if p["status"].get("phase") == "Running" and node not in old and p["metadata"]["uid"] not in seen:
        moved.setdefault(owner(p), []).append(node)
for n in old:
    ok = [o for o in held[n] if len(moved.get(o, [])) >= need[o]]
    where = "; ".join(sorted({f"{o[0]}/{o[2]} on {', '.join(sorted(moved[o]))}" for o in ok})) or "nothing to move"
    print(n, len(ok), len(held[n]), where)
EOF2
}

# --- the case ------------------------------------------------------------------------------------
migration_failure() {
  msay "----- nodes, pods"
  kc get nodes -o wide >&2 2>&1 || true
  kc get pods -A -o wide >&2 2>&1 || true
  local w
  for w in "$e2e"/vm-mig-*; do
    [ -d "$w" ] || continue
    msay "----- $w: console tail"
    tr -d '\r' <"$w/console.log" | tail -n 30 >&2 || true
  done
  msay "----- control plane logs in $c/logs, site in $site"
  [ -z "$mig_fail_reason" ] || msay "the first failure (above): $mig_fail_reason"
}

migration_inside() {
  base=$E2E_MIG_OLD_BASE builder=${BUILDER_BIN:?} kubeadm=$BUILDER_KUBEADM_123
  export BUILDER_KUBE_APISERVER=$BUILDER_KUBE_APISERVER_123 BUILDER_KUBE_CONTROLLER_MANAGER=$BUILDER_KUBE_CONTROLLER_MANAGER_123 \
    BUILDER_KUBE_SCHEDULER=$BUILDER_KUBE_SCHEDULER_123 BUILDER_KUBECTL=$BUILDER_KUBECTL_123 BUILDER_ETCD=$BUILDER_ETCD_123
  cluster_k8s=$MIG_K8S cluster_kubeadm_api=kubeadm.k8s.io/v1beta3 cluster_cri_socket=unix:///var/run/containerd/containerd.sock cluster_upload=upload_config_123
  c=$e2e/migration site=$e2e/migration/site
  local start=$SECONDS
  rm -rf "$c" "$e2e"/vm-mig-* && mkdir -p "$c" "$site/bin"
  ln -s "$builder" "$site/bin/builder"
  printf '#!/bin/sh\nexec "%s" --kubeconfig /etc/kubernetes/admin.conf "$@"\n' "$BUILDER_KUBECTL" >"$site/bin/kubectl"
  chmod +x "$site/bin/kubectl"
  cluster_namespace "$c" 2 3 4 5
  serve
  trap 'kill $server_pid 2>/dev/null || true; cluster_stop' EXIT
  new_nodes=()
  local ok=0
  migration_steps || ok=1
  [ "$ok" = 0 ] || migration_failure
  msay "the migration case took $((SECONDS - start))s"
  return "$ok"
}

migration_steps() {
  control_plane_up "$c" || { msay "FAIL: the $MIG_K8S control plane did not come up (logs in $c)"; return 1; }
  kc apply -f ci/e2e/cluster/cni.yaml >/dev/null || return 1
  write_cluster_join "$c/join.toml" || return 1
  local token hash
  token=$(sed -n 's/^token = "\(.*\)"$/\1/p' "$c/join.toml") hash=$(sed -n 's/^ca_cert_hash = "\(.*\)"$/\1/p' "$c/join.toml")
  old_node_seed "$c/old-1" mig-old-1 builder-e2e/docker-agent=true "$token" "$hash"
  old_node_seed "$c/old-2" mig-old-2 builder-e2e/pool=legacy "$token" "$hash"
  start_node mig-old-1 "$c/old-1" 2 none && start_node mig-old-2 "$c/old-2" 3 none || return 1
  wait_ready "$mig_timeout" mig-old-1 mig-old-2 && check_old_node mig-old-1 && check_old_node mig-old-2 || return 1
  workloads_before || return 1
  # detect: the plan from the live cluster, init's profiles, the site's mirror, the plan again.
  detect_live "$c/detect-before.json" -o json || return 1
  [ "$det_rc" = 3 ] || { msay "FAIL: builder detect exited $det_rc before the migration, not 3: $(head -c 600 "$c/detect-before.json.err")"; return 1; }
  local line before
  before=$(check_before "$c/detect-before.json") || { msay "FAIL: the report of builder detect is wrong (above)"; return 1; }
  while read -r line; do msay "$line"; done <<<"$before"
  (cd "$site" && PATH=$site/bin:$PATH builder init --from-detect "$c/detect-before.json") >"$c/init.txt" 2>&1 ||
    { cat "$c/init.txt" >&2; msay "FAIL: builder init --from-detect failed"; return 1; }
  site_mirror || return 1
  detect_live "$c/plan.json" -o json && detect_live "$c/plan.txt" || return 1
  [ "$det_rc" = 3 ] || { msay "FAIL: builder detect --plan exited $det_rc"; return 1; }
  sed 's/^/  | /' "$c/plan.txt" >&2
  local renders=()
  mapfile -t renders < <(plan_lines "$c/plan.json" render)
  [ "${#renders[@]}" = 2 ] && [[ ${renders[*]} == *"--profile containerd-1.23-amd64 "* ]] && [[ ${renders[*]} == *"--profile cri-dockerd-1.23-amd64 "* ]] ||
    { msay "FAIL: the plan's render lines do not name the site's two profiles: ${renders[*]}"; return 1; }
  # replace: the site's settings, then the plan's lines as printed. BUILDER_ALLOW_UNSUPPORTED:
  # the mirror's cri-dockerd is 0.4.3 (the module proxy serves no 0.3.x), which builder's table
  # does not list for 1.23 (the 0.3 line); the render warns and goes on.
  export BUILDER_CACHE_DIR=$e2e/cache BUILDER_JOIN_API_SERVER=$CLUSTER_API:6443 BUILDER_JOIN_TOKEN=$token \
    BUILDER_JOIN_CA_CERT_HASH=$hash BUILDER_JOIN_DISCOVERY_TIMEOUT=5m BUILDER_ALLOW_UNSUPPORTED=1
  for line in "${renders[@]}"; do run_plan_line "$line" >&2 || { msay "FAIL: the plan's render line failed: $line"; return 1; }; done
  boot_replacements "${renders[@]}" || return 1
  local wait_line n
  wait_line=$(plan_lines "$c/plan.json" bring-up)
  for n in "${new_nodes[@]}"; do
    wait_for "$mig_timeout" "replacement $n to register" kc get node "$n" >/dev/null 2>&1 || return 1
    run_plan_line "${wait_line//NEW_NODE/$n}" >&2 || { msay "FAIL: replacement $n is not Ready"; return 1; }
    check_replacement "$n" || return 1
  done
  drain_old "$c/plan.json" || return 1
  check_agent mig-new-cri-dockerd || return 1
  while read -r line; do run_plan_line "$line" >&2 || return 1; done < <(plan_lines "$c/plan.json" delete)
  # after: the live cluster has no node on dockershim.
  detect_live "$c/detect-after.json" -o json || return 1
  local affected
  affected=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["affected"])' "$c/detect-after.json")
  [ "$det_rc" = 0 ] && [ "$affected" = 0 ] ||
    { msay "FAIL: builder detect after the migration exited $det_rc with $affected affected"; return 1; }
  msay "after: detect exit 0, $affected affected"
  # The old nodes' VMs are powered off last (their qemu processes are the first two).
  kill "${vm_pids[0]}" "${vm_pids[1]}" 2>/dev/null || true
  msay "old nodes mig-old-1, mig-old-2 powered off"
}
