#!/usr/bin/env bash
# Regenerate go.mod and go.sum of this wrapper module (the dockershim CRI v1 stand-in), with
# ../regen-staging.sh (why a wrapper: there). What differs from kubernetes/regen.sh: the module
# name, a fixed go line (1.22: the adapter uses generics) and the BUMPS below.
#
#   ci/consumers/dockershim/regen.sh
set -euo pipefail

readonly K8S_VERSION=v1.23.17

# Newer versions than k8s.io/kubernetes v1.23.17 asks for ("MODULE VERSION"), each only because
# the old one does not build or run with the current Go toolchain; see README.md.
BUMPS=(
)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
requires=()
for b in "${BUMPS[@]}"; do requires+=(--require "$b"); done

exec bash "$here/../regen-staging.sh" --module builder-ci/consumers/dockershim --go 1.22 \
  --about "Wrapper module: dockershim of k8s.io/kubernetes $K8S_VERSION served as CRI v1; see regen.sh." \
  "${requires[@]}" "$here" "$K8S_VERSION"
