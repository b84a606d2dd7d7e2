#!/usr/bin/env bash
# Upstream's systemd units, byte for byte, for the integration tests' loopback server
# (tests/it/common/upstream.rs serves them as the releases' units): fetched with the Go module
# proxy only (no VCS) from the release modules, never copied into the repository.
#
#   containerd.service           github.com/containerd/containerd/v2 v2.3.4     (module root)
#   containerd-1.7.service       github.com/containerd/containerd v1.7.34       (module root)
#   docker.service, .socket      github.com/docker/docker v28.3.3+incompatible  (contrib/init/systemd/)
#   cri-docker.service, .socket  github.com/Mirantis/cri-dockerd v0.4.3         (packaging/systemd/)
#
# Each is the very file the shipped profiles pin by sha256 (profiles/*.toml; checked by
# tests/it/consumers.rs upstream_units_are_the_files_the_shipped_profiles_pin). containerd
# v2.3.4, containerd v1.7.34 and moby v28.3.3 are the pinned releases; cri-dockerd's pins name
# v0.3.25, which the proxy does not serve (403), and v0.4.3's two units are the same bytes.
#
# Usage: ci/consumers/upstream-units.sh
#   stdout: UPSTREAM_UNITS=<dir>; everything else goes to stderr. Exit status 1 when a module
#   cannot be downloaded or lacks a unit.
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/builder-ci/upstream-units/<key>/, <key> a digest of the
# list below; filled in a temporary folder beside it, then renamed, so never half-written.
set -euo pipefail

# module@version  path-in-module  file-name-in-cache
readonly UNITS="\
github.com/containerd/containerd/v2@v2.3.4 containerd.service containerd.service
github.com/containerd/containerd@v1.7.34 containerd.service containerd-1.7.service
github.com/docker/docker@v28.3.3+incompatible contrib/init/systemd/docker.service docker.service
github.com/docker/docker@v28.3.3+incompatible contrib/init/systemd/docker.socket docker.socket
github.com/Mirantis/cri-dockerd@v0.4.3 packaging/systemd/cri-docker.service cri-docker.service
github.com/Mirantis/cri-dockerd@v0.4.3 packaging/systemd/cri-docker.socket cri-docker.socket"

log() { printf 'upstream-units: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

key=$(printf '%s\n' "$UNITS" | sha256sum | cut -c1-16)
root=${XDG_CACHE_HOME:-$HOME/.cache}/builder-ci/upstream-units
dir=$root/$key
if [ -d "$dir" ]; then
  while read -r _ _ name; do
    [ -f "$dir/$name" ] || die "$dir/$name is missing; remove $dir to fetch again"
  done <<<"$UNITS"
  echo "UPSTREAM_UNITS=$dir"
  exit 0
fi

command -v go >/dev/null || die "go is not on PATH"
# The module proxy only: drop a 'direct' fallback, which would clone from VCS.
GOPROXY=$(go env GOPROXY | sed -E 's/[,|]direct$//')
export GOPROXY GOFLAGS=-mod=mod

mkdir -p "$root"
tmp=$(mktemp -d "$root/.tmp-$key.XXXXXX")
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
while read -r mod path name; do
  json=$(go mod download -json "$mod") || die "go mod download $mod failed (GOPROXY=$GOPROXY): $json"
  mod_dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
  [ -n "$mod_dir" ] || die "go mod download -json $mod gave no Dir: $json"
  [ -f "$mod_dir/$path" ] || die "$mod has no $path (looked in $mod_dir)"
  cp "$mod_dir/$path" "$tmp/$name"
  chmod 0644 "$tmp/$name"
  log "$name from $mod $path"
done <<<"$UNITS"
# Another run may have got there first: keep theirs.
mv -T "$tmp" "$dir" 2>/dev/null || [ -d "$dir" ] || die "cannot move $tmp to $dir"
trap - EXIT
rm -rf "$tmp"
echo "UPSTREAM_UNITS=$dir"
