#!/usr/bin/env bash
# Build the real consumers of builder's outputs from source, with the Go toolchain and the Go
# module proxy only, at pinned versions:
#
#   kubelet, kubeadm            k8s.io/kubernetes v1.36.3 (through the wrapper module in kubernetes/)
#   kubelet (set kubernetes-1.34) k8s.io/kubernetes v1.34.4 (wrapper module in kubernetes-v1.34.4/)
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (set control-plane)
#                               k8s.io/kubernetes v1.36.3 (the same wrapper module as the kubelet)
#   etcd (set control-plane)    go.etcd.io/etcd/server/v3 v3.6.8 (the version k8s.io/kubernetes
#                               v1.36.3 requires and kubeadm 1.36 pins; built in that wrapper)
#   kubelet (with dockershim), kubeadm, kube-apiserver, kube-controller-manager, kube-scheduler,
#   kubectl, etcd (set kubernetes-1.23, only when named)
#                               k8s.io/kubernetes v1.23.17 (wrapper module in kubernetes-v1.23.17/),
#                               etcd at go.etcd.io/etcd/server/v3 v3.5.0, what that release requires
#   containerd, ctr,            github.com/containerd/containerd/v2 v2.3.4
#     containerd-shim-runc-v2
#   crictl                      sigs.k8s.io/cri-tools v1.37.0
#   cri-dockerd                 github.com/Mirantis/cri-dockerd v0.4.3
#   butane                      github.com/coreos/butane v0.29.0
#   ignition, ignition-validate github.com/coreos/ignition/v2 v2.26.0
#   registry (set registry)     github.com/distribution/distribution/v3 v3.1.2 (the CNCF
#                               Distribution registry, for `builder push`/`pull`)
#   oras                        oras.land/oras v1.3.6
#   crane                       github.com/google/go-containerregistry v0.22.1
#
# All but ignition are static (CGO_ENABLED=0); ignition needs cgo and libblkid's headers (Debian
# libblkid-dev) and is built as upstream ships it (-buildmode=pie). All are built with -trimpath,
# stripped, and stamped with their version.
#
# cri-dockerd and Butane cannot be built with `go install MOD@VERSION`: the proxy refuses their
# version lists, and cri-dockerd's go.mod has replace directives, which count only in the main
# module. So `go mod download` fetches the release's module (checked against the checksum
# database like any other), a copy of it becomes the main module, and `go build` runs there.
#
# Usage:
#   ci/consumers/build.sh [--force] [kubernetes|kubernetes-1.34|kubernetes-1.23|control-plane|containerd|crictl|cri-dockerd|butane|ignition|registry|oras|crane ...]
#
#   With no names it builds all but kubernetes-1.23 (a long build, for the dockershim migration
#   test only: it is built only when named). --force rebuilds even when the cache holds working
#   binaries.
#   stdout: one NAME=PATH line per binary, for example
#       KUBELET=/root/.cache/builder-ci/consumers/kubernetes-v1.36.3/kubelet
#   so a caller can `eval "$(ci/consumers/build.sh)"`; everything else goes to stderr.
#   Exit status is non-zero when any of them could not be built (each failure is named).
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/builder-ci/consumers/<name>-<version>/, outside the
# checkout. A set found there is reused when its binaries run and report the pinned version. A
# build goes into a temporary folder beside it and is moved into place only when every binary in
# the set runs, so an interrupted build leaves no half-filled cache entry. Go's own module and
# build caches (GOMODCACHE, GOCACHE: by default ~/go/pkg/mod and ~/.cache/go-build) are used as
# they are, so a rebuild on the same machine is mostly linking.
#
# Timing on the project's 2-core machine: see ci/consumers/README.md.
set -euo pipefail

readonly K8S_VERSION=v1.36.3
# An older release whose kubelet still takes --pod-infra-container-image (removed in 1.35), to
# check builder's flags for that band: set "kubernetes-1.34".
readonly K8S_PREVIOUS=v1.34.4
# What k8s.io/kubernetes K8S_VERSION requires of go.etcd.io/etcd/server/v3 (the wrapper's go.mod).
readonly ETCD_VERSION=3.6.8
# The last release whose kubelet carries dockershim (--container-runtime=docker; removed in 1.24),
# with its control plane and etcd, for a migration test: set "kubernetes-1.23" (not in the default
# list: it takes long to build and only that test needs it).
readonly K8S_DOCKERSHIM=v1.23.17
# What k8s.io/kubernetes K8S_DOCKERSHIM requires of go.etcd.io/etcd/server/v3 (the wrapper's
# go.mod; kubeadm 1.23 itself pins the etcd image 3.5.6-0).
readonly ETCD_DOCKERSHIM_VERSION=3.5.0
readonly CONTAINERD_VERSION=v2.3.4
readonly CRICTL_VERSION=v1.37.0
readonly CRI_DOCKERD_VERSION=v0.4.3
readonly BUTANE_VERSION=v0.29.0
readonly IGNITION_VERSION=v2.26.0
readonly REGISTRY_VERSION=v3.1.2
readonly ORAS_VERSION=v1.3.6
readonly CRANE_VERSION=v0.22.1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/builder-ci/consumers

log() { printf 'consumers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- Go environment
command -v go >/dev/null || die "go is not on PATH"
# Modules come from the module proxy only: drop a 'direct' fallback, which would try version
# control hosts that this machine cannot reach (and that CI must not depend on).
GOPROXY=$(go env GOPROXY | sed -E 's/[,|]direct$//; s/^direct$/off/')
export GOPROXY
export GOWORK=off CGO_ENABLED=0
# GOFLAGS from the environment could carry -mod=mod or -tags; this script sets its own flags.
export GOFLAGS=-buildvcs=false

# ---------------------------------------------------------------- helpers
emit() { printf '%s=%q\n' "$1" "$2"; }   # the only thing written to stdout

# module_time MODULE@VERSION: the release's commit time as the proxy reports it (for build dates).
module_time() {
  go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "$1"
}

# check_set DIR: run the version check of the set in DIR (check_<set> must be defined).
# Prints nothing on stdout; returns non-zero when a binary is missing or reports another version.
expect_output() {  # expect_output WANT CMD...: CMD succeeds and its output contains WANT
  local want=$1 out
  shift
  out=$("$@" 2>&1) || { log "  '$*' failed: $out"; return 1; }
  [[ $out == *"$want"* ]] || { log "  '$*' printed '$out', not '$want'"; return 1; }
  log "  $(basename "$1") ${*:2}: $(head -n1 <<<"$out")"
}

# build_set NAME VERSION BUILD_FN CHECK_FN: reuse or build <NAME>-<VERSION> in the cache.
# BUILD_FN OUT_DIR builds the binaries into OUT_DIR; CHECK_FN DIR checks them.
build_set() {
  local name=$1 version=$2 build_fn=$3 check_fn=$4
  local dest="$cache_root/$name-$version"
  if [[ -z $force && -d $dest ]]; then
    log "$name $version: checking cached $dest"
    if "$check_fn" "$dest"; then
      return 0
    fi
    log "$name $version: cached binaries do not work; rebuilding"
  fi
  local tmp start
  tmp=$(mktemp -d "$cache_root/.build-$name-$version.XXXXXX")
  tmps+=("$tmp")
  chmod 755 "$tmp"   # mktemp makes it 0700; the cache entry is for every user
  start=$SECONDS
  log "$name $version: building into $tmp"
  if ! "$build_fn" "$tmp"; then
    log "$name $version: build FAILED after $((SECONDS - start)) s"
    rm -rf "$tmp"
    return 1
  fi
  log "$name $version: built in $((SECONDS - start)) s; checking"
  "$check_fn" "$tmp" || { rm -rf "$tmp"; log "$name $version: built binaries failed their check"; return 1; }
  {
    echo "name=$name"
    echo "version=$version"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "build_seconds=$((SECONDS - start))"
    echo "go=$(go env GOVERSION)"
  } > "$tmp/BUILD-INFO"
  rm -rf "$dest"
  mv -T "$tmp" "$dest" || return 1
  log "$name $version: ready in $dest"
}

# ---------------------------------------------------------------- kubernetes: kubelet, kubeadm
# The release being built ($k8s) and its wrapper module: kubernetes/ for K8S_VERSION,
# kubernetes-VERSION/ for the others (each made by kubernetes/regen.sh VERSION DIR).
k8s=$K8S_VERSION
build_kubernetes() {
  local out=$1 wrapper=$here/kubernetes
  [[ $k8s == "$K8S_VERSION" ]] || wrapper=$here/kubernetes-$k8s
  grep -Eq "^(require )?[[:space:]]*k8s\.io/kubernetes $k8s\$" "$wrapper/go.mod" ||
    die "$wrapper/go.mod is not for $k8s: run $here/kubernetes/regen.sh $k8s $wrapper"
  local major minor date ldflags=(-s -w) pkg
  [[ $k8s =~ ^v([0-9]+)\.([0-9]+)\. ]]
  major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
  date=$(cd "$wrapper" && module_time "k8s.io/kubernetes@$k8s") || return 1
  # What hack/lib/version.sh stamps; the module zip carries no git commit, so gitCommit is left empty.
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ldflags+=(-X "$pkg.gitVersion=$k8s" -X "$pkg.gitMajor=$major" -X "$pkg.gitMinor=$minor"
              -X "$pkg.gitTreeState=clean" -X "$pkg.gitCommit=" -X "$pkg.buildDate=$date")
  done
  # Tags as in hack/lib/golang.sh for a release (non-debug) build. k8s_src, when a caller sets
  # it, is the folder to build in instead of the wrapper (a copy of it: build_kubernetes_123).
  (cd "${k8s_src:-$wrapper}" && go build -mod=readonly -trimpath -tags selinux,notest,grpcnotrace \
      -ldflags "${ldflags[*]}" -o "$out/" "${k8s_packages[@]}")
}
k8s_packages=(k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubeadm)
check_kubernetes() {
  expect_output "Kubernetes $k8s" "$1/kubelet" --version &&
    expect_output "$k8s" "$1/kubeadm" version -o short
}

# ---------------------------------------------------------------- the control plane, etcd
# The control plane of K8S_VERSION and kubectl, from the same wrapper module and with the same
# stamps as the kubelet; etcd from the wrapper's etcd/ (its main is etcd's own, one call).
build_control_plane() {
  local k8s_packages=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
                      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl ./etcd)
  build_kubernetes "$1"
}
check_control_plane() {
  local c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    expect_output "Kubernetes $k8s" "$1/$c" --version || return 1
  done
  expect_output "\"gitVersion\": \"$k8s\"" "$1/kubectl" version --client -o json &&
    expect_output "etcd Version: $ETCD_VERSION" "$1/etcd" --version
}

# ---------------------------------------------------------------- kubernetes 1.23: all seven
# kubelet (dockershim compiled in: it is left out only with the dockerless tag), kubeadm, the
# control plane, kubectl and etcd 3.5 of K8S_DOCKERSHIM, with the same stamps and tags.
#
# The v1.23 module zip lacks one file a release build generates first:
# pkg/generated/openapi/zz_generated.openapi.go (made by `make generated_files`; the v1.34.4 and
# v1.36.3 zips carry it), so kube-apiserver fails with "undefined:
# generatedopenapi.GetOpenAPIDefinitions". It is generated here as
# build/root/Makefile.generated_files does (gen_openapi, target KUBE): openapi-gen of the
# k8s.io/kube-openapi version the release requires, over every package folder of k8s.io/kubernetes
# and its staging modules (less code-generator and sample-apiserver) with a file that has a
# `// +k8s:` line and a `+k8s:openapi-gen=` tag. As upstream's Makefile does, the build stops when the
# API rule violations it reports differ from the release's api/api-rules/violation_exceptions.list
# (they are identical: the same packages went in). Go's -overlay refuses to add a file beneath
# GOMODCACHE, so the set is built in a copy of the wrapper whose go.mod replaces k8s.io/kubernetes
# with a writable copy of its module (the same bytes, checked by the checksum database) that holds
# the generated file; all seven binaries come from that one source.
build_kubernetes_123() {
  local out=$1 wrapper=$here/kubernetes-$k8s
  local src=$out/src
  cp -r "$wrapper" "$src" && module_copy "k8s.io/kubernetes@$k8s" "$src/k8s" || return 1
  gen_openapi_123 "$src" || return 1
  (cd "$src" && go mod edit -replace k8s.io/kubernetes=./k8s) || return 1
  local k8s_src=$src
  local k8s_packages=(k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubeadm
                      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
                      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl ./etcd)
  build_kubernetes "$out" && rm -rf "$src"
}
# gen_openapi_123 SRC: writes SRC/k8s/pkg/generated/openapi/zz_generated.openapi.go.
gen_openapi_123() {
  local src=$1 gen=$1/.openapi-gen mod dir d inputs=() staging=()
  mkdir "$gen" || return 1
  # The staging modules are the ones the wrapper's go.mod replaces (k8s.io/X => k8s.io/X v0.Y.Z).
  mapfile -t staging < <(sed -nE 's/^\t(k8s\.io\/[^ ]+) => \1 v0\..*/\1/p' "$src/go.mod")
  (( ${#staging[@]} )) || { log "  no staging modules in $src/go.mod"; return 1; }
  # `go list -m` names a module's folder only once it is downloaded (a cold module cache).
  (cd "$src" && go mod download k8s.io/kubernetes "${staging[@]}") || return 1
  while read -r mod dir; do
    case $mod in k8s.io/code-generator|k8s.io/sample-apiserver) continue ;; esac
    [[ $mod != k8s.io/kubernetes ]] || dir=$src/k8s
    [[ -d $dir ]] || { log "  no module folder for $mod"; return 1; }
    # Folders as hack/make-rules/helpers/cache_go_dirs.sh finds them (not _*, .*, vendor).
    while IFS= read -r d; do inputs+=("$mod${d#.}"); done < <(cd "$dir" &&
      find . \( -name '_*' -o -name '.[^.]*' -o \( -name vendor -type d \) \) -prune -o \
        -type f -name '*.go' -print0 | xargs -0 -r grep -l '^// *+k8s:' |
        xargs -r grep -l '+k8s:openapi-gen=' | xargs -r -n1 dirname | LC_ALL=C sort -u)
  done < <(cd "$src" && go list -mod=readonly -m -f '{{.Path}} {{.Dir}}' k8s.io/kubernetes "${staging[@]}")
  (( ${#inputs[@]} )) || { log "  no packages for openapi-gen"; return 1; }
  log "  openapi-gen over ${#inputs[@]} packages"
  local IFS=,
  # openapi-gen (gengo) reads the packages through `go list`, so it runs in the wrapper copy.
  (cd "$src" && go build -mod=readonly -trimpath -o "$gen/openapi-gen" k8s.io/kube-openapi/cmd/openapi-gen &&
    GOFLAGS="$GOFLAGS -mod=readonly" "$gen/openapi-gen" --logtostderr -i "${inputs[*]}" \
      -p k8s.io/kubernetes/pkg/generated/openapi -O zz_generated.openapi \
      -h "$src/k8s/hack/boilerplate/boilerplate.generatego.txt" -o "$gen/out" -r "$gen/report") >&2 ||
    return 1
  diff -u "$src/k8s/api/api-rules/violation_exceptions.list" "$gen/report" >&2 ||
    { log "  openapi-gen's API rule violations differ from the release's known list"; return 1; }
  local file=$gen/out/k8s.io/kubernetes/pkg/generated/openapi/zz_generated.openapi.go
  log "  zz_generated.openapi.go: $(stat -c %s "$file") bytes, sha256 $(sha256sum <"$file" | cut -d' ' -f1)"
  mv "$file" "$src/k8s/pkg/generated/openapi/" && rm -rf "$gen"
}
check_kubernetes_123() {
  local c
  expect_output "Kubernetes $k8s" "$1/kubelet" --version &&
    expect_output "$k8s" "$1/kubeadm" version -o short || return 1
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    expect_output "Kubernetes $k8s" "$1/$c" --version || return 1
  done
  expect_output "\"gitVersion\": \"$k8s\"" "$1/kubectl" version --client -o json &&
    expect_output "etcd Version: $ETCD_DOCKERSHIM_VERSION" "$1/etcd" --version
}

# ---------------------------------------------------------------- containerd, ctr, shim
build_containerd() {
  local out=$1 mod=github.com/containerd/containerd/v2
  local x="-X $mod/version.Version=$CONTAINERD_VERSION -X $mod/version.Package=$mod"
  # Its go.mod has no replace directives, so `go install MOD@VERSION` works. With cgo off the
  # btrfs snapshotter drops out by its own build constraint (!no_btrfs && cgo); tags as in its
  # Makefile (the shim additionally no_grpc).
  (cd "$out" &&
    GOBIN=$out go install -trimpath -tags urfave_cli_no_docs -ldflags "-s -w $x" \
      "$mod/cmd/containerd@$CONTAINERD_VERSION" "$mod/cmd/ctr@$CONTAINERD_VERSION" &&
    GOBIN=$out go install -trimpath -tags urfave_cli_no_docs,no_grpc -ldflags "-s -w $x" \
      "$mod/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION")
}
check_containerd() {
  expect_output "$CONTAINERD_VERSION" "$1/containerd" --version &&
    expect_output "${CONTAINERD_VERSION#v}" "$1/ctr" --version &&
    expect_output "$CONTAINERD_VERSION" "$1/containerd-shim-runc-v2" -v
}

# ---------------------------------------------------------------- crictl
build_crictl() {
  local out=$1
  # Its Makefile stamps the version without the leading v.
  (cd "$out" &&
    GOBIN=$out go install -trimpath \
      -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=${CRICTL_VERSION#v}" \
      "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION")
}
check_crictl() {
  expect_output "${CRICTL_VERSION#v}" "$1/crictl" --version
}

# ---------------------------------------------------------------- module copies
# module_copy MODULE@VERSION DEST: the release's module source (from the proxy, verified against
# the checksum database as `go mod download` does), copied to DEST as a writable main module.
module_copy() {
  local dir
  dir=$(cd "$cache_root" && go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p') || return 1
  [[ -n $dir && -f $dir/go.mod ]] || { log "go mod download $1 gave no module folder"; return 1; }
  cp -r "$dir" "$2" && chmod -R u+w "$2"
}

# ---------------------------------------------------------------- cri-dockerd
build_cri_dockerd() {
  local out=$1 mod=github.com/Mirantis/cri-dockerd
  module_copy "$mod@$CRI_DOCKERD_VERSION" "$out/src" || return 1
  # Its Makefile stamps the version without the leading v.
  (cd "$out/src" && go build -mod=readonly -trimpath \
      -ldflags "-s -w -X $mod/cmd/version.Version=${CRI_DOCKERD_VERSION#v}" -o "$out/cri-dockerd" .) &&
    rm -rf "$out/src"
}
check_cri_dockerd() {
  expect_output "cri-dockerd ${CRI_DOCKERD_VERSION#v}" "$1/cri-dockerd" --version
}

# ---------------------------------------------------------------- butane
build_butane() {
  local out=$1
  module_copy "github.com/coreos/butane@$BUTANE_VERSION" "$out/src" || return 1
  (cd "$out/src" && go build -mod=readonly -trimpath \
      -ldflags "-s -w -X github.com/coreos/butane/internal/version.Raw=$BUTANE_VERSION" \
      -o "$out/butane" ./internal) &&
    rm -rf "$out/src"
}
check_butane() {
  expect_output "Butane $BUTANE_VERSION" "$1/butane" --version
}

# ---------------------------------------------------------------- ignition, ignition-validate
# Ignition itself needs cgo (libblkid, for its disks stage). Its SELinux relabelling is baked off
# (distro.selinuxRelabel): with it on, the files stage fails on a root with no
# /etc/selinux/config. Its ./build script is not used: it clears the shared Go build cache.
build_ignition() {
  local out=$1 mod=github.com/coreos/ignition/v2
  local x="-X $mod/internal/version.Raw=$IGNITION_VERSION"
  (cd "$out" &&
    GOBIN=$out CGO_ENABLED=1 go install -buildmode=pie -trimpath \
      -ldflags "-s -w $x -X $mod/internal/distro.selinuxRelabel=false" "$mod/internal@$IGNITION_VERSION" &&
    GOBIN=$out go install -trimpath -ldflags "-s -w $x" "$mod/validate@$IGNITION_VERSION" &&
    mv "$out/internal" "$out/ignition" && mv "$out/validate" "$out/ignition-validate")
}
check_ignition() {
  expect_output "Ignition $IGNITION_VERSION" "$1/ignition" -version &&
    expect_output "$IGNITION_VERSION" "$1/ignition-validate" -version
}

# ---------------------------------------------------------------- registry, oras, crane
# The OCI side of `builder push` / `pull`: the CNCF Distribution registry, oras and crane. None
# has replace directives, so `go install MOD@VERSION` works; each is stamped as its Makefile or
# release config does.
build_registry() {
  local out=$1 mod=github.com/distribution/distribution/v3
  (cd "$out" && GOBIN=$out go install -trimpath \
      -ldflags "-s -w -X $mod/version.version=$REGISTRY_VERSION -X $mod/version.mainpkg=$mod" \
      "$mod/cmd/registry@$REGISTRY_VERSION")
}
check_registry() {
  expect_output "$REGISTRY_VERSION" "$1/registry" --version
}
build_oras() {
  local out=$1
  (cd "$out" && GOBIN=$out go install -trimpath -ldflags "-s -w" "oras.land/oras/cmd/oras@$ORAS_VERSION")
}
check_oras() {
  expect_output "${ORAS_VERSION#v}" "$1/oras" version
}
build_crane() {
  local out=$1 mod=github.com/google/go-containerregistry
  (cd "$out" && GOBIN=$out go install -trimpath \
      -ldflags "-s -w -X $mod/cmd/crane/cmd.Version=$CRANE_VERSION" "$mod/cmd/crane@$CRANE_VERSION")
}
check_crane() {
  expect_output "$CRANE_VERSION" "$1/crane" version
}

# ---------------------------------------------------------------- main
force=
wanted=()
for arg; do
  case $arg in
    --force) force=1 ;;
    kubernetes|kubernetes-1.34|kubernetes-1.23|control-plane|containerd|crictl|cri-dockerd|butane|ignition|registry|oras|crane) wanted+=("$arg") ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 0 ;;
    *) die "unknown argument '$arg' (see --help)" ;;
  esac
done
(( ${#wanted[@]} )) || wanted=(kubernetes kubernetes-1.34 control-plane containerd crictl cri-dockerd butane ignition registry oras crane)

mkdir -p "$cache_root"
# One build at a time per cache (two CI jobs on one machine would otherwise race on a set).
exec 9>"$cache_root/.lock"
flock 9
# Holding the lock, any temporary build folder is a leftover of a run that was killed.
rm -rf "$cache_root"/.build-*
tmps=()
trap 'rm -rf "${tmps[@]}"' EXIT

failed=()
for want in "${wanted[@]}"; do
  case $want in
    kubernetes)
      k8s=$K8S_VERSION
      if build_set kubernetes "$k8s" build_kubernetes check_kubernetes; then
        emit KUBELET "$cache_root/kubernetes-$k8s/kubelet"
        emit KUBEADM "$cache_root/kubernetes-$k8s/kubeadm"
      else failed+=(kubernetes); fi ;;
    kubernetes-1.34)
      k8s=$K8S_PREVIOUS
      if build_set kubernetes "$k8s" build_kubernetes check_kubernetes; then
        emit KUBELET_134 "$cache_root/kubernetes-$k8s/kubelet"
      else failed+=(kubernetes-1.34); fi ;;
    kubernetes-1.23)
      k8s=$K8S_DOCKERSHIM
      if build_set kubernetes "$k8s" build_kubernetes_123 check_kubernetes_123; then
        d=$cache_root/kubernetes-$k8s
        for c in kubelet kubeadm kube-apiserver kube-controller-manager kube-scheduler kubectl etcd; do
          emit "$(tr a-z- A-Z_ <<<"$c")_123" "$d/$c"
        done
      else failed+=(kubernetes-1.23); fi ;;
    control-plane)
      k8s=$K8S_VERSION
      if build_set control-plane "$k8s" build_control_plane check_control_plane; then
        d=$cache_root/control-plane-$k8s
        for c in kube-apiserver kube-controller-manager kube-scheduler kubectl etcd; do
          emit "$(tr a-z- A-Z_ <<<"$c")" "$d/$c"
        done
      else failed+=(control-plane); fi ;;
    containerd)
      if build_set containerd "$CONTAINERD_VERSION" build_containerd check_containerd; then
        d=$cache_root/containerd-$CONTAINERD_VERSION
        emit CONTAINERD "$d/containerd"
        emit CTR "$d/ctr"
        emit CONTAINERD_SHIM_RUNC_V2 "$d/containerd-shim-runc-v2"
      else failed+=(containerd); fi ;;
    crictl)
      if build_set crictl "$CRICTL_VERSION" build_crictl check_crictl; then
        emit CRICTL "$cache_root/crictl-$CRICTL_VERSION/crictl"
      else failed+=(crictl); fi ;;
    cri-dockerd)
      if build_set cri-dockerd "$CRI_DOCKERD_VERSION" build_cri_dockerd check_cri_dockerd; then
        emit CRI_DOCKERD "$cache_root/cri-dockerd-$CRI_DOCKERD_VERSION/cri-dockerd"
      else failed+=(cri-dockerd); fi ;;
    butane)
      if build_set butane "$BUTANE_VERSION" build_butane check_butane; then
        emit BUTANE "$cache_root/butane-$BUTANE_VERSION/butane"
      else failed+=(butane); fi ;;
    ignition)
      if build_set ignition "$IGNITION_VERSION" build_ignition check_ignition; then
        emit IGNITION "$cache_root/ignition-$IGNITION_VERSION/ignition"
        emit IGNITION_VALIDATE "$cache_root/ignition-$IGNITION_VERSION/ignition-validate"
      else failed+=(ignition); fi ;;
    registry)
      if build_set registry "$REGISTRY_VERSION" build_registry check_registry; then
        emit REGISTRY "$cache_root/registry-$REGISTRY_VERSION/registry"
      else failed+=(registry); fi ;;
    oras)
      if build_set oras "$ORAS_VERSION" build_oras check_oras; then
        emit ORAS "$cache_root/oras-$ORAS_VERSION/oras"
      else failed+=(oras); fi ;;
    crane)
      if build_set crane "$CRANE_VERSION" build_crane check_crane; then
        emit CRANE "$cache_root/crane-$CRANE_VERSION/crane"
      else failed+=(crane); fi ;;
  esac
done

if (( ${#failed[@]} )); then
  die "could not build: ${failed[*]}"
fi
