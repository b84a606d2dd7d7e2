#!/usr/bin/env bash
# Benchmark for `builder detect` (issue 5): a 5,000-node `kubectl get nodes -o json` and a
# 50,000-pod `kubectl get pods -A -o json`, generated with python3 into a temp dir, analysed a few
# times with --output json. Prints the input sizes, each run's wall time (and CPU time), the median
# and the peak RSS (when /usr/bin/time exists). Other load on the machine shows in the wall
# times, not in the CPU times. It only prints figures: it is not a pass/fail test.
#
# Run from anywhere: bash ci/bench/detect.sh (ci/bench/run.sh runs it at its end)
# Env: BUILDER_BIN (default: ${CARGO_TARGET_DIR:-target}/release/builder, built when missing),
#      NODES (5000), PODS (50000), RUNS (5), HTML (1: also time the HTML report; 0: not),
#      BENCH_FIGURES (a file: `detect_NODES_ms=` and `detect_NODES_rss_mib=` lines are appended,
#      for ci/bench.sh's table).
set -euo pipefail

cd "$(dirname "$0")/../.."
BIN=${BUILDER_BIN:-${CARGO_TARGET_DIR:-target}/release/builder}
NODES=${NODES:-5000}
PODS=${PODS:-50000}
RUNS=${RUNS:-5}
HTML=${HTML:-1}

if [ ! -x "$BIN" ]; then
    echo "building $BIN (cargo build --release)" >&2
    cargo build --release --quiet
fi
command -v python3 >/dev/null || { echo "bench-detect: python3 is required" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-detect.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

python3 - "$WORK" "$NODES" "$PODS" <<'PY'
import json, random, sys

work, n_nodes, n_pods = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(5)

def node(i):
    r = rng.random()
    if r < 0.30:
        kubelet, runtime, sock, os_ = "v1.23.17", "docker://20.10.24", "/var/run/dockershim.sock", "linux"
    elif r < 0.40:
        kubelet, runtime, sock, os_ = "v1.25.16", "docker://24.0.7", "unix:///var/run/cri-dockerd.sock", "linux"
    elif r < 0.90:
        kubelet, runtime, sock, os_ = "v1.25.16", "containerd://1.7.13", "unix:///run/containerd/containerd.sock", "linux"
    elif r < 0.95:
        kubelet, runtime, sock, os_ = "v1.25.16", "cri-o://1.25.4", "unix:///var/run/crio/crio.sock", "linux"
    else:
        kubelet, runtime, sock, os_ = "v1.23.17", "docker://20.10.9", "npipe:////./pipe/dockershim", "windows"
    arch = "arm64" if i % 4 == 0 else "amd64"
    name = "node-%05d" % i
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "annotations": {"kubeadm.alpha.kubernetes.io/cri-socket": sock, "node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
            "creationTimestamp": "2023-03-14T09:26:53Z",
            "labels": {"beta.kubernetes.io/arch": arch, "beta.kubernetes.io/os": os_, "kubernetes.io/arch": arch,
                       "kubernetes.io/hostname": name, "kubernetes.io/os": os_,
                       "topology.kubernetes.io/zone": "zone-%d" % (i % 3)},
            "name": name, "resourceVersion": str(48000000 + i), "uid": "5f0c1b7e-2d7a-4c39-9b0e-%012d" % i},
        "spec": {"podCIDR": "10.%d.%d.0/24" % (i // 256, i % 256), "providerID": "aws:///eu-west-1a/i-%017x" % i},
        "status": {
            "addresses": [{"address": "10.1.%d.%d" % (i // 256, i % 256), "type": "InternalIP"},
                          {"address": name, "type": "Hostname"}],
            "allocatable": {"cpu": "4", "ephemeral-storage": "93478772582", "memory": "16279052Ki", "pods": "110"},
            "capacity": {"cpu": "4", "ephemeral-storage": "101430960Ki", "memory": "16381452Ki", "pods": "110"},
            "conditions": [{"lastHeartbeatTime": "2024-05-02T11:02:41Z", "lastTransitionTime": "2023-03-14T09:27:30Z",
                            "message": "kubelet has %s" % t, "reason": "Kubelet%s" % t.replace(" ", ""),
                            "status": "False", "type": t}
                           for t in ("MemoryPressure", "DiskPressure", "PIDPressure")]
                          + [{"lastHeartbeatTime": "2024-05-02T11:02:41Z", "lastTransitionTime": "2023-03-14T09:27:30Z",
                              "message": "kubelet is posting ready status", "reason": "KubeletReady",
                              "status": "True", "type": "Ready"}],
            "images": [{"names": ["registry.example.com/app-%d@sha256:%064x" % (j, j), "registry.example.com/app-%d:1.%d" % (j, j)],
                        "sizeBytes": 1000000 * j} for j in range(8)],
            "nodeInfo": {"architecture": arch, "bootID": "b3f1d0a2-6a51-4d1e-9c57-%012d" % i,
                         "containerRuntimeVersion": runtime, "kernelVersion": "5.15.0-1051-aws",
                         "kubeProxyVersion": kubelet, "kubeletVersion": kubelet, "machineID": "%032x" % i,
                         "operatingSystem": os_, "osImage": "Ubuntu 22.04.3 LTS", "systemUUID": "ec2%029x" % i}}}

def pod(i):
    node = "node-%05d" % rng.randrange(n_nodes)
    ns = "team-%d" % (i % 40)
    app = "app-%d" % (i % 900)
    h = "%09x" % (i % 900 * 7919)
    vols = [{"name": "kube-api-access-%05d" % i, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"items": [{"key": "ca.crt", "path": "ca.crt"}], "name": "kube-root-ca.crt"}}]}}]
    if i % 50 == 0:
        vols.append({"name": "docker-sock", "hostPath": {"path": "/var/run/docker.sock", "type": "Socket"}})
    elif i % 7 == 0:
        vols.append({"name": "logs", "hostPath": {"path": "/var/log", "type": ""}})
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"creationTimestamp": "2024-04-30T08:12:05Z", "generateName": "%s-%s-" % (app, h),
                     "labels": {"app": app, "pod-template-hash": h, "team": ns},
                     "name": "%s-%s-%05d" % (app, h, i), "namespace": ns,
                     "ownerReferences": [{"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True,
                                          "kind": "ReplicaSet", "name": "%s-%s" % (app, h), "uid": "7e1f2a3b-%028x" % i}],
                     "resourceVersion": str(50000000 + i), "uid": "0d3c7a9e-%028x" % i},
        "spec": {"containers": [{"env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": "8080"}],
                                 "image": "registry.example.com/%s:1.%d" % (app, i % 13), "imagePullPolicy": "IfNotPresent",
                                 "name": "main", "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                 "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                                 "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                                 "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                                                   "name": "kube-api-access-%05d" % i, "readOnly": True}]}],
                 "dnsPolicy": "ClusterFirst", "enableServiceLinks": True, "nodeName": node, "priority": 0,
                 "restartPolicy": "Always", "schedulerName": "default-scheduler", "securityContext": {},
                 "serviceAccountName": "default", "terminationGracePeriodSeconds": 30,
                 "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                  "tolerationSeconds": 300}],
                 "volumes": vols},
        "status": {"conditions": [{"lastProbeTime": None, "lastTransitionTime": "2024-04-30T08:12:05Z", "status": "True", "type": t}
                                  for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                   "containerStatuses": [{"containerID": "containerd://%064x" % i, "image": "registry.example.com/%s:1.%d" % (app, i % 13),
                                          "imageID": "registry.example.com/%s@sha256:%064x" % (app, i), "lastState": {},
                                          "name": "main", "ready": True, "restartCount": 0, "started": True,
                                          "state": {"running": {"startedAt": "2024-04-30T08:12:09Z"}}}],
                   "hostIP": "10.1.0.1", "phase": "Running", "podIP": "10.2.%d.%d" % (i // 256 % 256, i % 256),
                   "qosClass": "Burstable", "startTime": "2024-04-30T08:12:05Z"}}

for fname, gen, n in (("nodes.json", node, n_nodes), ("pods.json", pod, n_pods)):
    with open("%s/%s" % (work, fname), "w") as f:
        json.dump({"apiVersion": "v1", "items": [gen(i) for i in range(n)], "kind": "List",
                   "metadata": {"resourceVersion": ""}}, f, indent=4)
PY

sync  # so that writing the inputs back to disk does not land in the timed runs
size() { du -h "$1" | cut -f1; }
echo "input: $NODES nodes ($(size "$WORK/nodes.json")), $PODS pods ($(size "$WORK/pods.json"))"

TIME=""
if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then TIME=/usr/bin/time; fi

# One untimed run to bring the inputs into the page cache.
"$BIN" detect --nodes "$WORK/nodes.json" --pods "$WORK/pods.json" --output json >/dev/null || true

times=()
peak=0
for i in $(seq 1 "$RUNS"); do
    start=$(date +%s%N)
    code=0
    if [ -n "$TIME" ]; then
        "$TIME" -f "%M %U %S" -o "$WORK/rss" "$BIN" detect --nodes "$WORK/nodes.json" --pods "$WORK/pods.json" \
            --output json >"$WORK/out.json" || code=$?
    else
        "$BIN" detect --nodes "$WORK/nodes.json" --pods "$WORK/pods.json" --output json >"$WORK/out.json" || code=$?
    fi
    end=$(date +%s%N)
    if [ "$code" -ne 0 ] && [ "$code" -ne 3 ]; then
        echo "bench-detect: builder detect exited $code" >&2
        exit 1
    fi
    ms=$(( (end - start) / 1000000 ))
    times+=("$ms")
    cpu=""
    if [ -n "$TIME" ]; then
        read -r rss user sys < <(tail -n1 "$WORK/rss")
        [ "$rss" -gt "$peak" ] && peak=$rss
        cpu=", cpu user ${user}s sys ${sys}s"
    fi
    echo "run $i: ${ms} ms (exit $code${cpu})"
done

median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median wall time: ${median} ms over $RUNS runs"
if [ -n "$TIME" ]; then
    echo "peak RSS: $((peak / 1024)) MiB (${peak} KiB)"
else
    echo "peak RSS: skipped (/usr/bin/time not available)"
fi
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print("summary:", json.dumps(s, separators=(",", ":")))' "$WORK/out.json"
if [ -n "${BENCH_FIGURES:-}" ]; then
    echo "detect_${NODES}_ms=$median" >>"$BENCH_FIGURES"
    [ -n "$TIME" ] && echo "detect_${NODES}_rss_mib=$((peak / 1024))" >>"$BENCH_FIGURES"
fi
[ "$HTML" = 1 ] || exit 0

# The HTML report of the same fleet (--output html --plan): how long builder takes to write it,
# its size, and how long headless Chromium takes to load it and run its script (when Debian's
# chromium is installed): the page's own figure from navigation start, and the whole command's,
# which includes Chromium's start and the DOM dump.
start=$(date +%s%N)
"$BIN" detect --nodes "$WORK/nodes.json" --pods "$WORK/pods.json" --plan --output html >"$WORK/report.html" || true
end=$(date +%s%N)
echo "html report: $(( (end - start) / 1000000 )) ms to write, $(size "$WORK/report.html")"
if command -v chromium >/dev/null; then
    start=$(date +%s%N)
    dom=$(chromium --headless --no-sandbox --disable-gpu --dump-dom "file://$WORK/report.html" 2>/dev/null)
    end=$(date +%s%N)
    grep -q 'data-ready="yes"' <<<"$dom" && ok=yes || ok=no
    # The page's script records when it is done (laid out, filter applied), from navigation start.
    ready=$(grep -o 'data-ready-ms="[0-9]*"' <<<"$dom" | head -n1 | tr -dc 0-9)
    echo "html report: ready ${ready:-?} ms after navigation start (parse, layout, script); $(( (end - start) / 1000000 )) ms with Chromium's start and the DOM dump (script ran: $ok)"
else
    echo "html report: Chromium not installed, open time not measured"
fi
