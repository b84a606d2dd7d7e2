#!/usr/bin/env bash
# ci/bench/run.sh: the performance benchmark (issues 2 and 16). A benchmark that prints figures,
# not a timed test: a missed target is reported ("target missed"), never a failure. It exits
# non-zero only if something it runs fails (a render, the shell pipeline, the build).
#
# What it measures
#   Real-size fake upstream artifacts (containerd tar.gz ~105 MB of binaries in bin/, runc 12 MB
#   bare, cni-plugins .tgz with 18 plugins of 3-5 MB, crictl tar.gz with one 40 MB member, the
#   containerd.service unit) are generated once from real ELF files of this machine (so they
#   compress like release binaries) and served by `python3 -m http.server` on 127.0.0.1 only.
#   A profile modelled on profiles/containerd.toml points at them, with sha256 pins computed here.
#   Each round runs, alternating:
#     builder cold   `builder render` with a fresh, empty --cache-dir (downloads everything)
#     shell cold     the pipeline a CI job would write by hand for the same overlay: curl each
#                    artifact, `sha256sum -c`, `tar -x` / `install` into a rootfs, write the
#                    config files, `tar --sort=name ... | gzip -n > overlay.tar.gz`
#     builder warm   `builder render --no-output-cache` with the downloads cached: every
#                    artifact installed and the overlay packed again
#     shell warm     the same pipeline with the downloads already on disk
#     builder reuse  the output removed, the output cache warm: copied in, rootfs unpacked
#     builder no-op  the same render into the same, unchanged output: "up to date"
#     builder zstd   cold, `--compression zstd`
#   Then, per round, the registry cache (issue 29): a cold render with --output-cache-url that
#   builds and pushes to the real Distribution registry on loopback, and a second runner (its
#   own empty caches) that takes the output from there; reported against the shell pipeline.
#   Wall time of each run (output removed before, not timed, except for the no-op), its CPU
#   time (user+sys, children included: less sensitive than wall time to other load) and the
#   peak RSS of builder (`/usr/bin/time -f %M`). Then the pack step alone: the very tar builder
#   packs, compressed by `pigz -2 -p NPROC` and `zstd -2 -TNPROC`, against builder's own pack
#   times (its `packed` progress lines, which include reading the rootfs). Printed: medians,
#   ratios to the shell pipeline's cold time, the machine's load, and the overlay sizes.
#
# Targets (issue 28; ratios to the shell pipeline, cold)
#   cold render with zstd <= 0.07; cold render with gzip <= 0.13; warm render (no output
#   cache) <= 0.12; from the output cache <= 0.03; no-op render <= 0.01
#   pack step: gzip <= 0.85x pigz, zstd <= 1.2x zstd, at the same level and thread count
#   peak memory of builder <= 100 MiB, whatever the artifact size
#
# Usage (from anywhere):  bash ci/bench/run.sh
# Environment:
#   BENCH_ROUNDS     rounds (default 5)
#   BENCH_DIR        where the generated artifacts are kept between runs (default /tmp/builder-bench)
#   BENCH_SCALE      multiplies every artifact size (default 1; e.g. 3 to check memory stays flat)
#   CARGO_TARGET_DIR honoured for the release build (default target/)
#   BENCH_FIGURES    a file: `name=value` lines of the figures are appended (ci/bench.sh's table)
# ci/bench.sh runs this, then ci/bench/detect.sh and ci/bench/profile.sh, and prints the table.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO=$(pwd)

ROUNDS=${BENCH_ROUNDS:-5}
BENCH_DIR=${BENCH_DIR:-/tmp/builder-bench}
SCALE=${BENCH_SCALE:-1}
GEN_VERSION=1   # bump when gen-artifacts.py or the packing below changes

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer, got '$ROUNDS'"
[[ $SCALE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "BENCH_SCALE must be a number, got '$SCALE'"

# ---------------------------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------------------------
for t in python3 curl sha256sum tar gzip install awk zstd; do
    command -v "$t" >/dev/null || die "$t is required"
done
if [[ ! -x /usr/bin/time ]] || ! command -v pigz >/dev/null; then
    log "installing GNU time (for peak RSS) and pigz (the pack step's yardstick)"
    if [[ $(id -u) -eq 0 ]]; then
        apt-get install -y -qq time pigz >/dev/null || { apt-get update -qq && apt-get install -y -qq time pigz >/dev/null; }
    else
        sudo apt-get install -y -qq time pigz >/dev/null || { sudo apt-get update -qq && sudo apt-get install -y -qq time pigz >/dev/null; }
    fi
fi

log "building builder (cargo build --release)"
cargo build --release --quiet
TARGET_DIR=${CARGO_TARGET_DIR:-target}
BIN=$(cd "$TARGET_DIR/release" && pwd)/builder
[[ -x $BIN ]] || die "no binary at $BIN after the build"

# ---------------------------------------------------------------------------------------------
# Artifacts: generated once per (generator version, scale), then reused.
# ---------------------------------------------------------------------------------------------
ART=$BENCH_DIR/artifacts-v$GEN_VERSION-x$SCALE
FILES=(containerd-2.3.4-linux-amd64.tar.gz containerd.service runc.amd64
       cni-plugins-linux-amd64-v1.9.1.tgz crictl-v1.36.0-linux-amd64.tar.gz)

if [[ ! -f $ART/.complete ]]; then
    log "generating artifacts in $ART (once; reused by later runs)"
    rm -rf "$ART"
    mkdir -p "$ART"
    src=$ART/.src
    python3 "$REPO/ci/bench/gen-artifacts.py" "$src" "$SCALE"
    pack() {  # pack DIR MEMBER... > FILE: a deterministic tar.gz as upstream release scripts make
        local dir=$1; shift
        tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$dir" -cf - "$@" | gzip -n -6
    }
    pack "$src/containerd" bin >"$ART/containerd-2.3.4-linux-amd64.tar.gz"
    pack "$src/cni" . >"$ART/cni-plugins-linux-amd64-v1.9.1.tgz"
    pack "$src/crictl" crictl >"$ART/crictl-v1.36.0-linux-amd64.tar.gz"
    mv "$src/runc.amd64" "$ART/runc.amd64"
    cp "$REPO/ci/bench/containerd.service" "$ART/containerd.service"
    rm -rf "$src"
    touch "$ART/.complete"
fi

declare -A SHA
for f in "${FILES[@]}"; do
    SHA[$f]=$(sha256sum "$ART/$f" | cut -d' ' -f1)
done

# ---------------------------------------------------------------------------------------------
# Work dir, loopback server, profile
# ---------------------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/builder-bench-run.XXXXXX")
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        pkill -P "$SERVER_PID" 2>/dev/null || true   # in case python3 is a wrapper that forked
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Port 0: the kernel picks a free port; the server prints it ("... port N ...").
python3 -u -m http.server --bind 127.0.0.1 --directory "$ART" 0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=
for _ in $(seq 100); do
    PORT=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$WORK/server.log" | head -n1)
    [[ -n $PORT ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "http.server did not start"; }
    sleep 0.1
done
[[ -n $PORT ]] || die "http.server did not report its port"
BASE=http://127.0.0.1:$PORT
curl -fsS -o /dev/null "$BASE/containerd.service" || die "the loopback server does not answer at $BASE"

PROFILE=$WORK/bench.toml
cat >"$PROFILE" <<EOF
# Generated by ci/bench/run.sh: profiles/containerd.toml pointed at the loopback server.
schema = 1
name = "bench"
description = "ci/bench/run.sh: containerd on loopback artifacts"
kubernetes = "1.36"
runtime = "containerd"
arch = ["amd64"]
overlays = ["kubernetes-node"]

[containerd]
sandbox_image = "registry.k8s.io/pause:3.10.2"
systemd_cgroup = true
config_path = "/etc/containerd/certs.d"

[kubelet]
extra_args = { "node-labels" = "node.kubernetes.io/runtime=containerd" }

[[artifact]]
name = "containerd"
version = "2.3.4"
url = "$BASE/containerd-{version}-linux-{arch}.tar.gz"
sha256 = "${SHA[containerd-2.3.4-linux-amd64.tar.gz]}"
install = [{ from = "bin/*", to = "/usr/local/bin/", mode = "0755" }]

[[artifact]]
name = "containerd-service"
version = "2.3.4"
url = "$BASE/containerd.service"
sha256 = "${SHA[containerd.service]}"
install = [{ to = "/usr/local/lib/systemd/system/containerd.service", mode = "0644" }]

[[artifact]]
name = "runc"
version = "1.4.3"
url = "$BASE/runc.{arch}"
sha256 = "${SHA[runc.amd64]}"
install = [{ to = "/usr/local/sbin/runc", mode = "0755" }]

[[artifact]]
name = "cni-plugins"
version = "1.9.1"
url = "$BASE/cni-plugins-linux-{arch}-v{version}.tgz"
sha256 = "${SHA[cni-plugins-linux-amd64-v1.9.1.tgz]}"
install = [{ from = "*", to = "/opt/cni/bin/", mode = "0755" }]

[[artifact]]
name = "crictl"
version = "1.36.0"
url = "$BASE/crictl-v{version}-linux-{arch}.tar.gz"
sha256 = "${SHA[crictl-v1.36.0-linux-amd64.tar.gz]}"
install = [{ from = "crictl", to = "/usr/local/bin/", mode = "0755" }]
EOF

# ---------------------------------------------------------------------------------------------
# The runs
# ---------------------------------------------------------------------------------------------
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# builder_run LABEL CACHE OUT [keep] [RENDER ARGS...]: one render (OUT removed first unless
# `keep`); appends wall seconds to $WORK/LABEL.times, CPU seconds to $WORK/LABEL.cpu, peak RSS
# (KiB) to $WORK/rss, and the pack step's seconds (from the `packed` progress line) to
# $WORK/LABEL.pack.
builder_run() {
    local label=$1 cache=$2 out=$3 t0 t1
    shift 3
    if [[ ${1:-} == keep ]]; then shift; else rm -rf "$out"; fi
    t0=$(now)
    if ! /usr/bin/time -f '%U %S %M' -o "$WORK/time.last" \
        "$BIN" render --profile "$PROFILE" --out "$out" --arch amd64 --cache-dir "$cache" "$@" \
        >"$WORK/render.log" 2>&1; then
        t1=$(now)
        cat "$WORK/render.log" >&2
        die "builder render ($label) failed after $(elapsed "$t0" "$t1") s"
    fi
    t1=$(now)
    echo "$(elapsed "$t0" "$t1")" >>"$WORK/$label.times"
    tail -n1 "$WORK/time.last" | awk '{ printf "%.2f\n", $1 + $2 }' >>"$WORK/$label.cpu"
    tail -n1 "$WORK/time.last" | awk '{ print $3 }' >>"$WORK/rss"
    sed -n 's/^packed .* in \([0-9.]*\) s$/\1/p' "$WORK/render.log" >>"$WORK/$label.pack"
}

# The hand-written CI pipeline for the same overlay. $1 = downloads dir, $2 = output dir,
# $3 = fetch (cold: curl every artifact) or nofetch (warm: files already in $1).
shell_pipeline() {
    local dl=$1 out=$2 mode=$3
    local r=$out/rootfs
    mkdir -p "$dl" "$r"
    if [[ $mode == fetch ]]; then
        curl -fsSL -o "$dl/containerd.tar.gz" "$BASE/containerd-2.3.4-linux-amd64.tar.gz"
        curl -fsSL -o "$dl/containerd.service" "$BASE/containerd.service"
        curl -fsSL -o "$dl/runc.amd64" "$BASE/runc.amd64"
        curl -fsSL -o "$dl/cni-plugins.tgz" "$BASE/cni-plugins-linux-amd64-v1.9.1.tgz"
        curl -fsSL -o "$dl/crictl.tar.gz" "$BASE/crictl-v1.36.0-linux-amd64.tar.gz"
    fi
    cat >"$dl/SHA256SUMS" <<EOF
${SHA[containerd-2.3.4-linux-amd64.tar.gz]}  containerd.tar.gz
${SHA[containerd.service]}  containerd.service
${SHA[runc.amd64]}  runc.amd64
${SHA[cni-plugins-linux-amd64-v1.9.1.tgz]}  cni-plugins.tgz
${SHA[crictl-v1.36.0-linux-amd64.tar.gz]}  crictl.tar.gz
EOF
    (cd "$dl" && sha256sum --quiet -c SHA256SUMS)

    mkdir -p "$r/usr/local/bin" "$r/usr/local/sbin" "$r/opt/cni/bin" \
        "$r/usr/local/lib/systemd/system" "$r/etc/containerd" "$r/var/lib/kubelet"
    tar -xzf "$dl/containerd.tar.gz" -C "$r/usr/local"
    install -m 0755 "$dl/runc.amd64" "$r/usr/local/sbin/runc"
    tar -xzf "$dl/cni-plugins.tgz" -C "$r/opt/cni/bin"
    tar -xzf "$dl/crictl.tar.gz" -C "$r/usr/local/bin"
    install -m 0644 "$dl/containerd.service" "$r/usr/local/lib/systemd/system/containerd.service"
    cp -R "$REPO/overlays/kubernetes-node/." "$r/"
    cat >"$r/etc/containerd/config.toml" <<'EOF'
version = 4

[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = "registry.k8s.io/pause:3.10.2"

[plugins.'io.containerd.cri.v1.images'.registry]
  config_path = "/etc/containerd/certs.d"

[plugins.'io.containerd.cri.v1.runtime'.containerd]
  default_runtime_name = "runc"

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  SystemdCgroup = true
EOF
    local sock=unix:///var/run/containerd/containerd.sock
    printf '%s\n' "runtime-endpoint: $sock" "image-endpoint: $sock" 'timeout: 10' 'debug: false' \
        >"$r/etc/crictl.yaml"
    printf 'KUBELET_KUBEADM_ARGS="%s"\n' \
        "--container-runtime-endpoint=$sock --node-labels=node.kubernetes.io/runtime=containerd" \
        >"$r/var/lib/kubelet/kubeadm-flags.env"
    printf '%s\n' 'apiVersion: kubelet.config.k8s.io/v1beta1' 'kind: KubeletConfiguration' \
        "containerRuntimeEndpoint: $sock" >"$r/var/lib/kubelet/instance-config.yaml"
    mkdir -p "$r/etc/systemd/system/multi-user.target.wants"
    ln -s /usr/local/lib/systemd/system/containerd.service \
        "$r/etc/systemd/system/multi-user.target.wants/containerd.service"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$r" -cf - . \
        | gzip -n >"$out/overlay.tar.gz"
}

# shell_run LABEL DOWNLOADS OUT fetch|nofetch: one pipeline run, recorded as builder_run does.
shell_run() {
    local label=$1 dl=$2 out=$3 mode=$4 t0 t1
    rm -rf "$out"
    times >"$WORK/times.before"   # line 2: user and sys time of this shell's children so far
    t0=$(now)
    if ! (shell_pipeline "$dl" "$out" "$mode") 2>"$WORK/shell.log"; then
        cat "$WORK/shell.log" >&2
        die "shell pipeline ($label) failed"
    fi
    t1=$(now)
    times >"$WORK/times.after"
    echo "$(elapsed "$t0" "$t1")" >>"$WORK/$label.times"
    echo "$(children_cpu "$WORK/times.after") $(children_cpu "$WORK/times.before")" |
        awk '{ printf "%.2f\n", $1 - $2 }' >>"$WORK/$label.cpu"
}

# children_cpu FILE: user+sys seconds from the second line of `times` output ("0m1.5s 0m0.2s").
children_cpu() {
    awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); sub("s", "", p[2]); s += p[1] * 60 + p[2] }
         printf "%.3f", s }' "$1"
}

load=$(cut -d' ' -f1 /proc/loadavg)
log "artifacts: $(du -sh --apparent-size "$ART" | cut -f1) in $ART, served at $BASE"
log "$ROUNDS rounds of: builder cold, shell cold, builder warm, shell warm, builder reuse, builder no-op, builder cold zstd ($(nproc) cores, load $load)"
awk -v l="$load" 'BEGIN { exit !(l > 0.5) }' &&
    log "note: the machine is not idle (load $load); figures will be noisy"

for i in $(seq "$ROUNDS"); do
    cache=$WORK/cache-$i
    dl=$WORK/dl-$i
    # cold: empty caches. warm: the downloads cached, the output cache off (every artifact
    # installed and packed again). reuse: the output cache serves it (out removed first).
    # no-op: the same render again into the same out. zstd: cold, --compression zstd.
    builder_run builder-cold "$cache" "$WORK/out-builder"
    shell_run shell-cold "$dl" "$WORK/out-shell" fetch
    builder_run builder-warm "$cache" "$WORK/out-builder" --no-output-cache
    shell_run shell-warm "$dl" "$WORK/out-shell" nofetch
    builder_run builder-reuse "$cache" "$WORK/out-builder"
    builder_run builder-noop "$cache" "$WORK/out-builder" keep
    grep -q '^up to date: ' "$WORK/render.log" || die "the no-op render rebuilt: $(cat "$WORK/render.log")"
    builder_run builder-zstd "$WORK/cache-zstd-$i" "$WORK/out-zstd" --compression zstd
    log "round $i/$ROUNDS: builder cold $(tail -n1 "$WORK/builder-cold.times") s," \
        "shell cold $(tail -n1 "$WORK/shell-cold.times") s," \
        "builder warm $(tail -n1 "$WORK/builder-warm.times") s," \
        "shell warm $(tail -n1 "$WORK/shell-warm.times") s," \
        "reuse $(tail -n1 "$WORK/builder-reuse.times") s," \
        "no-op $(tail -n1 "$WORK/builder-noop.times") s," \
        "cold zstd $(tail -n1 "$WORK/builder-zstd.times") s"
    rm -rf "$cache" "$dl" "$WORK/cache-zstd-$i"
done

# ---------------------------------------------------------------------------------------------
# The registry cache (issue 29): a runner renders with --output-cache-url (cold: builds, then
# pushes to the real Distribution registry on loopback, plain HTTP); a second runner with its
# own empty caches renders the same inputs and takes the output from the registry.
# ---------------------------------------------------------------------------------------------
REGISTRY_BIN=$(bash "$REPO/ci/consumers/build.sh" registry | sed -n 's/^REGISTRY=//p')
[[ -x $REGISTRY_BIN ]] || die "no Distribution registry from ci/consumers/build.sh registry"
REG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: "127.0.0.1:%s"}\n' \
    "$WORK/registry" "$REG_PORT" >"$WORK/registry.yml"
OTEL_TRACES_EXPORTER=none "$REGISTRY_BIN" serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
trap 'kill "$REGISTRY_PID" 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$REG_PORT/v2/" && break; sleep 0.1; done
for i in $(seq "$ROUNDS"); do
    url=oci://127.0.0.1:$REG_PORT/bench-cache-$i
    builder_run registry-build "$WORK/cache-rb-$i" "$WORK/out-rb" --plain-http --output-cache-url "$url"
    builder_run registry-take "$WORK/cache-rt-$i" "$WORK/out-rt" --plain-http --output-cache-url "$url"
    grep -q 'from the registry cache' "$WORK/render.log" || die "the second runner did not take the registry cache: $(cat "$WORK/render.log")"
    log "round $i/$ROUNDS: registry cache: build + push $(tail -n1 "$WORK/registry-build.times") s, second runner $(tail -n1 "$WORK/registry-take.times") s"
    rm -rf "$WORK/cache-rb-$i" "$WORK/cache-rt-$i"
done
kill "$REGISTRY_PID" 2>/dev/null || true

# ---------------------------------------------------------------------------------------------
# The pack step against pigz and zstd: the very tar builder packs (unpacked from its overlay),
# compressed at builder's levels on every core, alternating with builder's own pack times
# (the `packed` lines of the warm and zstd runs: those include reading the rootfs).
# ---------------------------------------------------------------------------------------------
gzip -dc "$WORK/out-builder/bench/amd64/overlay.tar.gz" >"$WORK/overlay.tar"
for i in $(seq "$ROUNDS"); do
    t0=$(now); pigz -n -2 -p "$(nproc)" -c "$WORK/overlay.tar" >"$WORK/pigz.out"; t1=$(now)
    elapsed "$t0" "$t1" >>"$WORK/pigz.times"; echo >>"$WORK/pigz.times"
    t0=$(now); zstd -q -2 -T"$(nproc)" -c "$WORK/overlay.tar" >"$WORK/zstd.out"; t1=$(now)
    elapsed "$t0" "$t1" >>"$WORK/zstd.times"; echo >>"$WORK/zstd.times"
done

# ---------------------------------------------------------------------------------------------
# Sanity: both produced the same tree (paths, types, and sizes of files over 4 KiB: generated
# config files differ by builder's header comment); a difference is reported, since it would
# make the comparison unfair, but it is not a failure of the benchmark.
# ---------------------------------------------------------------------------------------------
B_OUT=$WORK/out-builder/bench/amd64
listing() {
    (cd "$1" && find . -mindepth 1 -printf '%P %y %s\n' | LC_ALL=C sort |
        awk '$2 == "f" && $3 > 4096 { print; next } { print $1, $2 }')
}
if ! diff <(listing "$B_OUT/rootfs") <(listing "$WORK/out-shell/rootfs") >"$WORK/tree.diff"; then
    log "note: builder's and the shell pipeline's trees differ (path type size; < builder, > shell):"
    sed 's/^/    /' "$WORK/tree.diff" | head -n 40 >&2
fi

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
median() { LC_ALL=C sort -g "$1" | awk '{ v[NR] = $1 } END {
    if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bc_=$(median "$WORK/builder-cold.times"); sc_=$(median "$WORK/shell-cold.times")
bw_=$(median "$WORK/builder-warm.times"); sw_=$(median "$WORK/shell-warm.times")
bcc=$(median "$WORK/builder-cold.cpu"); scc=$(median "$WORK/shell-cold.cpu")
bwc=$(median "$WORK/builder-warm.cpu"); swc=$(median "$WORK/shell-warm.cpu")
rss_kib=$(LC_ALL=C sort -n "$WORK/rss" | tail -n1)
b_size=$(stat -c %s "$B_OUT/overlay.tar.gz")
s_size=$(stat -c %s "$WORK/out-shell/overlay.tar.gz")
tree_mb=$(du -s --apparent-size --block-size=1 "$B_OUT/rootfs" | awk '{ printf "%.1f", $1 / 1e6 }')
art_mb=$(cd "$ART" && du -cb "${FILES[@]}" | tail -n1 | awk '{ printf "%.1f", $1 / 1e6 }')

verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t ? "target met" : "target missed") }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

br_=$(median "$WORK/builder-reuse.times"); bn_=$(median "$WORK/builder-noop.times")
bz_=$(median "$WORK/builder-zstd.times")
rss_mib=$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')
vs() { awk -v a="$1" -v b="$sc_" 'BEGIN { printf "%.3f", a / b }'; }

echo
echo "builder render vs the hand-written shell pipeline: containerd overlay, amd64"
echo "artifacts ${art_mb} MB downloaded, rootfs ${tree_mb} MB; ${ROUNDS} rounds on $(nproc) cores, load $load at the start; medians"
echo
fmt='%-26s %9s %16s %9s   %-13s %11s\n'
printf "$fmt" "" "wall s" "x shell cold" "target" "result" "cpu s"
printf "$fmt" "shell pipeline, cold" "$sc_" "1.000" "" "" "$scc"
printf "$fmt" "shell pipeline, warm" "$sw_" "$(vs "$sw_")" "" "" "$swc"
printf "$fmt" "builder cold (gzip)" "$bc_" "$(vs "$bc_")" "<= 0.13" "$(verdict "$(vs "$bc_")" 0.13)" "$bcc"
printf "$fmt" "builder cold (zstd)" "$bz_" "$(vs "$bz_")" "<= 0.07" "$(verdict "$(vs "$bz_")" 0.07)" "$(median "$WORK/builder-zstd.cpu")"
printf "$fmt" "builder warm (no out cache)" "$bw_" "$(vs "$bw_")" "<= 0.12" "$(verdict "$(vs "$bw_")" 0.12)" "$bwc"
printf "$fmt" "builder from output cache" "$br_" "$(vs "$br_")" "<= 0.03" "$(verdict "$(vs "$br_")" 0.03)" "$(median "$WORK/builder-reuse.cpu")"
printf "$fmt" "builder no-op (up to date)" "$bn_" "$(vs "$bn_")" "<= 0.01" "$(verdict "$(vs "$bn_")" 0.01)" "$(median "$WORK/builder-noop.cpu")"
printf "$fmt" "registry cache, 2nd runner" "$(median "$WORK/registry-take.times")" "$(vs "$(median "$WORK/registry-take.times")")" "" "" "$(median "$WORK/registry-take.cpu")"
printf "$fmt" "1st runner: build + push" "$(median "$WORK/registry-build.times")" "$(vs "$(median "$WORK/registry-build.times")")" "" "" "$(median "$WORK/registry-build.cpu")"
echo "(wall time is the targets' measure; cpu = user+sys seconds)"
echo
pg_=$(median "$WORK/builder-warm.pack"); pz_=$(median "$WORK/builder-zstd.pack")
pigz_=$(median "$WORK/pigz.times"); zstd_=$(median "$WORK/zstd.times")
echo "pack step, the same $(awk -v s="$(stat -c %s "$WORK/overlay.tar")" 'BEGIN { printf "%.1f", s / 1e6 }') MB tar, $(nproc) threads:"
printf '  gzip level 2: builder %s s, pigz -2 -p %s %s s: %sx   target <= 0.85x   %s\n' \
    "$pg_" "$(nproc)" "$pigz_" "$(ratio "$pg_" "$pigz_")" "$(verdict "$(ratio "$pg_" "$pigz_")" 0.85)"
printf '  zstd level 2: builder %s s, zstd -2 -T%s %s s: %sx   target <= 1.20x   %s\n' \
    "$pz_" "$(nproc)" "$zstd_" "$(ratio "$pz_" "$zstd_")" "$(verdict "$(ratio "$pz_" "$zstd_")" 1.20)"
echo
printf 'peak RSS of builder (max over %d runs): %s MiB   target <= 100 MiB   %s\n' \
    $((7 * ROUNDS)) "$rss_mib" "$(awk -v m="$rss_mib" 'BEGIN { print (m <= 100 ? "target met" : "target missed") }')"
printf 'overlay: builder gzip %.1f MB, zstd %.1f MB; shell (gzip -n -6) %.1f MB; pigz -2 %.1f MB, zstd -2 %.1f MB\n' \
    "$(awk -v s="$b_size" 'BEGIN { print s / 1e6 }')" \
    "$(awk -v s="$(stat -c %s "$WORK/out-zstd/bench/amd64/overlay.tar.zst")" 'BEGIN { print s / 1e6 }')" \
    "$(awk -v s="$s_size" 'BEGIN { print s / 1e6 }')" \
    "$(awk -v s="$(stat -c %s "$WORK/pigz.out")" 'BEGIN { print s / 1e6 }')" \
    "$(awk -v s="$(stat -c %s "$WORK/zstd.out")" 'BEGIN { print s / 1e6 }')"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "all runs (s): builder cold $(paste -sd' ' "$WORK/builder-cold.times"); shell cold $(paste -sd' ' "$WORK/shell-cold.times")"
echo "              builder warm $(paste -sd' ' "$WORK/builder-warm.times"); shell warm $(paste -sd' ' "$WORK/shell-warm.times")"
echo "              builder reuse $(paste -sd' ' "$WORK/builder-reuse.times"); no-op $(paste -sd' ' "$WORK/builder-noop.times"); cold zstd $(paste -sd' ' "$WORK/builder-zstd.times")"
echo "              pack: builder gzip $(paste -sd' ' "$WORK/builder-warm.pack"); pigz $(paste -sd' ' "$WORK/pigz.times")"
echo "                    builder zstd $(paste -sd' ' "$WORK/builder-zstd.pack"); zstd $(paste -sd' ' "$WORK/zstd.times")"


if [[ -n ${BENCH_FIGURES:-} ]]; then
    {
        echo "shell_cold_s=$sc_"
        echo "cold_gzip_x=$(vs "$bc_")"
        echo "cold_zstd_x=$(vs "$bz_")"
        echo "warm_x=$(vs "$bw_")"
        echo "reuse_x=$(vs "$br_")"
        echo "noop_x=$(vs "$bn_")"
        echo "pack_gzip_x=$(ratio "$pg_" "$pigz_")"
        echo "pack_zstd_x=$(ratio "$pz_" "$zstd_")"
        echo "render_rss_mib=$rss_mib"
        echo "registry_take_x=$(vs "$(median "$WORK/registry-take.times")")"
    } >>"$BENCH_FIGURES"
fi
