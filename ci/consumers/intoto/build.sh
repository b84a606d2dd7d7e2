#!/usr/bin/env bash
# Build intoto-check (main.go: the in-toto attestation reference implementation's Go validators
# for Statement v1 and SLSA Provenance v1) with the Go toolchain and the Go module proxy only.
#
#   ci/consumers/intoto/build.sh
#
# stdout: exactly one line, INTOTO_CHECK=/path/to/intoto-check; logs go to stderr.
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/builder-ci/consumers/intoto-check-<hash of go.mod,
# go.sum, main.go>/intoto-check, built in a temporary folder and renamed into place (about 20 s
# the first time, nothing after).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v go >/dev/null || { echo "intoto: go is not on PATH" >&2; exit 1; }
sources=$(cd "$here" && cat go.mod go.sum main.go | sha256sum | cut -c1-16)
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/builder-ci/consumers
dest=$cache_root/intoto-check-$sources
if [[ ! -x $dest/intoto-check ]]; then
  mkdir -p "$cache_root"
  tmp=$(mktemp -d "$cache_root/.build-intoto.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  GOPROXY=$(go env GOPROXY | sed -E 's/[,|]direct$//; s/^direct$/off/')
  (cd "$here" && GOPROXY=$GOPROXY GOWORK=off CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go build -mod=readonly -trimpath -o "$tmp/intoto-check" .) >&2
  chmod 755 "$tmp"
  mv -T "$tmp" "$dest" 2>/dev/null || [[ -x $dest/intoto-check ]]
  trap - EXIT
fi
echo "INTOTO_CHECK=$dest/intoto-check"
