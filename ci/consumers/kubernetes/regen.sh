#!/usr/bin/env bash
# Regenerate a wrapper module (go.mod, go.sum) that builds kubelet and kubeadm of one
# k8s.io/kubernetes release (why a wrapper: ../regen-staging.sh, which does the work).
#
#   ci/consumers/kubernetes/regen.sh v1.36.3                      # this folder
#   ci/consumers/kubernetes/regen.sh v1.34.4 ci/consumers/kubernetes-v1.34.4
#
# The folder needs tools.go (copied from this one when missing). The go line and godebug line
# are the release's own.
set -euo pipefail

version=${1:?usage: $0 v1.Y.Z [DIR]}
self=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
here=${2:-$self}
mkdir -p "$here"
here=$(cd "$here" && pwd)
[[ -f $here/tools.go ]] || cp "$self/tools.go" "$here/tools.go"

exec bash "$self/../regen-staging.sh" --module builder-ci/consumers/kubernetes \
  --generated-by "regen.sh $version" \
  --about "Wrapper module that builds kubelet and kubeadm of k8s.io/kubernetes $version; see regen.sh." \
  "$here" "$version"
