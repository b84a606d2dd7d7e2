#!/usr/bin/env bash
# Build the cri-dockerd test stand-in (dockershim of k8s.io/kubernetes v1.23.17 served as CRI v1;
# see README.md) as a static binary, with the Go toolchain and the Go module proxy only.
#
#   ci/consumers/dockershim/build.sh [--force]
#
# stdout: exactly one line, CRI_DOCKERD=/path/to/cri-dockerd (so `eval "$(.../build.sh)"` works);
# logs go to stderr. Exit status non-zero when no working binary could be had.
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/builder-ci/consumers/dockershim-v1.23.17/cri-dockerd.
# A cached binary is reused when its --version prints the expected line and the SOURCES file beside
# it holds the hash of this folder's go.mod, go.sum and *.go (so an edited adapter is rebuilt);
# otherwise (or with --force) it is built in a temporary folder beside it, which is renamed into
# place only after the new binary's --version works. A lock file keeps two runs from building at
# once.
set -euo pipefail

readonly K8S_VERSION=v1.23.17
readonly EXPECTED_VERSION="cri-dockerd test stand-in: dockershim from k8s.io/kubernetes $K8S_VERSION served as CRI v1"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/builder-ci/consumers
dest=$cache_root/dockershim-$K8S_VERSION
bin=$dest/cri-dockerd

log() { printf 'dockershim: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

force=0
for arg in "$@"; do
  case $arg in
    --force) force=1 ;;
    *) die "unknown argument: $arg (usage: $0 [--force])" ;;
  esac
done

command -v go >/dev/null || die "go is not on PATH"
grep -Eq "^(require)?[[:space:]]*k8s.io/kubernetes $K8S_VERSION\$" "$here/go.mod" ||
  die "go.mod does not require k8s.io/kubernetes $K8S_VERSION; run regen.sh"
# The module proxy only: drop a 'direct' fallback (version control hosts are not reachable).
GOPROXY=$(go env GOPROXY | sed -E 's/[,|]direct$//; s/^direct$/off/')
export GOPROXY GOWORK=off CGO_ENABLED=0 GOFLAGS=-buildvcs=false

works() { [[ -x $1 ]] && [[ $("$1" --version 2>/dev/null) == "$EXPECTED_VERSION" ]]; }
sources=$(cd "$here" && sha256sum go.mod go.sum $(ls -- *.go | grep -v '_test\.go$') | sha256sum | cut -d' ' -f1)

mkdir -p "$cache_root"
exec 9>"$cache_root/.dockershim-$K8S_VERSION.lock"
flock 9

if (( ! force )) && works "$bin" && [[ $(cat "$dest/SOURCES" 2>/dev/null) == "$sources" ]]; then
  log "cached: $bin"
else
  tmp=$(mktemp -d "$cache_root/.build-dockershim-$K8S_VERSION.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  chmod 755 "$tmp"
  log "building into $tmp (go $(go env GOVERSION))"
  start=$SECONDS
  (cd "$here" && go build -mod=readonly -trimpath -ldflags "-s -w" -o "$tmp/cri-dockerd" .) >&2 ||
    die "go build failed"
  works "$tmp/cri-dockerd" || die "built binary does not print the expected --version"
  log "built in $((SECONDS - start)) s, $(stat -c %s "$tmp/cri-dockerd") bytes"
  echo "$sources" >"$tmp/SOURCES"
  rm -rf "$dest"
  mv -T "$tmp" "$dest"
  trap - EXIT
fi
works "$bin" || die "$bin does not work"
printf 'CRI_DOCKERD=%s\n' "$bin"
