#!/bin/bash
# Runs in the guest (from e2e-report) when the kernel command line has e2e.node=1: does kubeadm
# accept this node, and does the kubelet run pods through its runtime with builder's files?
# Prints report sections (--- title) that the host checks; never fails itself.
#
#   1. kubeadm join phase preflight --config /etc/kubernetes/builder-join.yaml, while the
#      kubelet is not running (kubeadm's Port-10250 check) and no static pod exists yet
#      (DirAvailable--etc-kubernetes-manifests). No check is ignored. The join target is
#      127.0.0.1:6443, where nothing listens, and the JoinConfiguration's discovery timeout is
#      10 s, so the phase fails at discovery right after the node checks.
#   2. Loads the pause and test images into the runtime (ctr for containerd, docker load for
#      Docker): nothing is pulled.
#   3. Writes only what `kubeadm join` would write and cannot without a cluster: a minimal
#      /var/lib/kubelet/config.yaml (standalone: no API server), and two static pods; plus a
#      bridge CNI conflist (a cluster's CNI add-on would write one) for the overlay's plugins,
#      and a drop-in that empties the kubeconfig arguments of kubeadm's 10-kubeadm.conf (a
#      standalone kubelet has no kubeconfig). kubeadm-flags.env is builder's, unchanged.
#   4. Restarts kubelet.service (the packages' unit and kubeadm's drop-in) and waits for both
#      pods to be Ready and both containers Running.
#   5. With e2e.negative=1: the negative controls. The old runbook's --container-runtime=remote
#      in kubeadm-flags.env (the kubelet must refuse to start), and kubeadm's preflight with the
#      kubelet running (it must report errors). The host's checks must fail on these.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
join=/etc/kubernetes/builder-join.yaml
flags=/var/lib/kubelet/kubeadm-flags.env
markers=/var/lib/e2e-markers
wait_s=${E2E_NODE_WAIT:-360}

if systemctl -q is-active cri-docker.socket; then runtime=docker; else runtime=containerd; fi
echo "--- node runtime $runtime"

preflight() { # title
  echo "--- $1"
  timeout 180 kubeadm join phase preflight --config "$join" 2>&1
  echo "exit=$?"
}

preflight "kubeadm join phase preflight"

echo "--- load images"
/usr/local/sbin/e2e-load-images

# What kubeadm join writes (a standalone variant): the kubelet's config file and static pods.
mkdir -p /etc/kubernetes/manifests "$markers" /etc/cni/net.d /etc/systemd/system/kubelet.service.d
cat >/var/lib/kubelet/config.yaml <<'EOF'
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
staticPodPath: /etc/kubernetes/manifests
# Standalone: no API server, so neither webhook authentication nor authorization.
authentication:
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
EOF
image=builder-e2e.local/busybox:1
# static_pod NAME HOST_NETWORK(true|false) SHELL_COMMAND: a pod whose container runs the command
# with the markers folder at /markers, then sleeps until SIGTERM (busybox's sleep as PID 1
# would ignore it, and poweroff would wait 90 s).
static_pod() {
  cat >"/etc/kubernetes/manifests/$1.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: default
spec:
  hostNetwork: $2
  containers:
  - name: marker
    image: $image
    imagePullPolicy: Never
    command: ["/bin/busybox", "sh", "-c", "$3; trap 'exit 0' TERM; /bin/busybox sleep 2147483647 & wait"]
    volumeMounts:
    - {name: markers, mountPath: /markers}
  volumes:
  - name: markers
    hostPath: {path: $markers, type: DirectoryOrCreate}
EOF
}
static_pod e2e-hostnet true "echo hostnet-ok > /markers/hostnet"
static_pod e2e-podnet false "/bin/busybox ip -4 -o addr show dev eth0 > /markers/podnet"
# Pod networking through the overlay's own plugins (/opt/cni/bin). CNI 0.4.0: read by every
# runtime here.
cat >/etc/cni/net.d/10-e2e-bridge.conflist <<'EOF'
{
  "cniVersion": "0.4.0",
  "name": "e2e",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
cat >/etc/systemd/system/kubelet.service.d/20-e2e-standalone.conf <<'EOF'
# e2e: a standalone kubelet has no kubeconfig; empty kubeadm's kubeconfig arguments, nothing else.
[Service]
Environment="KUBELET_KUBECONFIG_ARGS="
EOF

start_kubelet() {
  systemctl daemon-reload
  systemctl restart kubelet.service
  invocation=$(systemctl show -p InvocationID --value kubelet.service)
}

kubelet_report() { # prefix
  local p=$1 pid
  echo "--- ${p}kubelet state $(systemctl show -p ActiveState -p SubState --value kubelet.service | paste -sd/) invocation-same=$([ "$(systemctl show -p InvocationID --value kubelet.service)" = "$invocation" ] && echo yes || echo no)"
  pid=$(systemctl show -p MainPID --value kubelet.service)
  echo "--- ${p}kubelet command line"
  [ "$pid" != 0 ] && tr '\0' ' ' <"/proc/$pid/cmdline" && echo
  echo "--- ${p}kubelet journal errors"
  # klog's error and fatal lines, and what the flag parser prints (the host looks in them for
  # flag and cgroup-driver errors).
  journalctl --no-pager -o cat _SYSTEMD_INVOCATION_ID="$invocation" 2>&1 |
    grep -E '^[EF][0-9]{4} |^Error: |unknown flag|flag provided but not defined|failed to parse' | head -n 80
}

start_kubelet
start=$SECONDS
pods_ready() {
  [ "$(crictl pods --state ready -q 2>/dev/null | wc -l)" -ge 2 ] &&
    [ "$(crictl ps --state running -q 2>/dev/null | wc -l)" -ge 2 ] &&
    [ -s "$markers/hostnet" ] && [ -s "$markers/podnet" ]
}
until pods_ready || [ $((SECONDS - start)) -ge "$wait_s" ]; do sleep 3; done
echo "--- pods waited $((SECONDS - start))s"
echo "--- marker hostnet"
cat "$markers/hostnet" 2>&1
echo "--- marker podnet"
cat "$markers/podnet" 2>&1
echo "--- crictl pods"
crictl pods 2>&1
echo "--- crictl ps"
crictl ps 2>&1
echo "--- crictl pods json"
crictl pods -o json 2>&1
echo "--- crictl ps json"
crictl ps -o json 2>&1
echo "--- podnet sandbox ip"
crictl inspectp -o go-template --template '{{.status.network.ip}}' \
  "$(crictl pods --name e2e-podnet -q 2>/dev/null | head -n1)" 2>&1
echo
kubelet_report ""

if grep -qw e2e.negative=1 /proc/cmdline; then
  # kubeadm's preflight must now fail: the kubelet holds port 10250 and static pods exist.
  preflight "negative kubeadm join phase preflight"
  # The old runbook's flag, removed in Kubernetes 1.27: the kubelet must refuse to start.
  systemctl stop kubelet.service
  cp "$flags" /run/e2e-flags.orig
  sed -i 's/^KUBELET_KUBEADM_ARGS="/&--container-runtime=remote /' "$flags"
  echo "--- negative kubeadm-flags.env"
  cat "$flags"
  start_kubelet
  # Wait until it has died (it should at once), at most 60 s.
  for _ in $(seq 1 60); do
    [ "$(systemctl show -p ActiveState --value kubelet.service)" = active ] || break
    sleep 1
  done
  kubelet_report "negative "
  systemctl stop kubelet.service
  cp /run/e2e-flags.orig "$flags"
fi
