#!/usr/bin/env bash
# Builds one Go command from the module in DIR (its go.mod and go.sum pin every dependency)
# with the Go toolchain and the Go module proxy only (no `direct`), cached by the hash of
# DIR's go.mod, go.sum and *.go.
#
#   ci/consumers/go-build-cached.sh DIR NAME PACKAGE
#
# stdout: the path of the binary; logs go to stderr.
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/builder-ci/consumers/NAME-<hash>/NAME, built in a
# temporary folder and renamed into place, so a killed build leaves nothing half-written.
set -euo pipefail

dir=$(cd "${1:?usage: go-build-cached.sh DIR NAME PACKAGE}" && pwd)
name=${2:?usage: go-build-cached.sh DIR NAME PACKAGE}
package=${3:?usage: go-build-cached.sh DIR NAME PACKAGE}
command -v go >/dev/null || { echo "$name: go is not on PATH" >&2; exit 1; }
sources=$(cd "$dir" && cat go.mod go.sum $(ls -- *.go 2>/dev/null) | sha256sum | cut -c1-16)
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/builder-ci/consumers
dest=$cache_root/$name-$sources
if [[ ! -x $dest/$name ]]; then
  mkdir -p "$cache_root"
  tmp=$(mktemp -d "$cache_root/.build-$name.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  GOPROXY=$(go env GOPROXY | sed -E 's/[,|]direct$//; s/^direct$/off/')
  (cd "$dir" && GOPROXY=$GOPROXY GOWORK=off CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go build -mod=readonly -trimpath -o "$tmp/$name" "$package") >&2
  chmod 755 "$tmp"
  mv -T "$tmp" "$dest" 2>/dev/null || [[ -x $dest/$name ]]
  trap - EXIT
fi
echo "$dest/$name"
