#!/usr/bin/env bash
# Build ignition-validate (Ignition's own config validator, github.com/coreos/ignition/v2's
# validate command at v2.24.0, pinned by go.mod and go.sum here) with the Go toolchain and the Go
# module proxy only (no `direct`).
#
#   ci/consumers/ignition/build.sh
#
# stdout: exactly one line, IGNITION_VALIDATE=/path/to/ignition-validate; logs go to stderr.
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/builder-ci/consumers/ignition-validate-<hash of go.mod
# and go.sum>/ignition-validate, built in a temporary folder and renamed into place (about 10 s
# the first time, nothing after). Butane is not built: the proxy does not serve
# github.com/coreos/butane (403); tests/sysext.rs checks butane.yaml against ignition.json itself.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v go >/dev/null || { echo "ignition: go is not on PATH" >&2; exit 1; }
sources=$(cd "$here" && cat go.mod go.sum | sha256sum | cut -c1-16)
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/builder-ci/consumers
dest=$cache_root/ignition-validate-$sources
if [[ ! -x $dest/ignition-validate ]]; then
  mkdir -p "$cache_root"
  tmp=$(mktemp -d "$cache_root/.build-ignition.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  GOPROXY=$(go env GOPROXY | sed -E 's/[,|]direct$//; s/^direct$/off/')
  (cd "$here" && GOPROXY=$GOPROXY GOWORK=off CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go build -mod=readonly -trimpath -o "$tmp/ignition-validate" github.com/coreos/ignition/v2/validate) >&2
  chmod 755 "$tmp"
  mv -T "$tmp" "$dest" 2>/dev/null || [[ -x $dest/ignition-validate ]]
  trap - EXIT
fi
echo "IGNITION_VALIDATE=$dest/ignition-validate"
