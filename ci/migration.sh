#!/usr/bin/env bash
# The dockershim migration test on its own (ci/e2e/migration.sh): a Kubernetes v1.23.17 cluster
# whose two nodes run on the kubelet's built-in dockershim is migrated by builder's outputs, end
# to end. It builds the v1.23.17 set first (ci/consumers/build.sh kubernetes-1.23: about 20
# minutes the first time on 2 cores, cached in ~/.cache/builder-ci/consumers after), then runs
# ci/e2e/run.sh with E2E_ONLY=migration (the shared setup, then only this case).
# ci/test.sh runs it last when BUILDER_MIGRATION=1; it is not part of the default test command,
# which has no room for it within its time budget.
#   BUILDER_BIN: the builder binary to render with (default: a release build).
# Usage: bash ci/migration.sh   (as root; installs what it needs)
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "ci/migration.sh: FAIL: $*" >&2; exit 1; }
out=$(bash ci/consumers/build.sh kubernetes-1.23) || die "ci/consumers/build.sh kubernetes-1.23 failed (its error is above)"
for v in KUBELET KUBEADM KUBECTL KUBE_APISERVER KUBE_CONTROLLER_MANAGER KUBE_SCHEDULER ETCD; do
  path=$(sed -n "s/^${v}_123=//p" <<<"$out")
  [ -x "$path" ] || die "ci/consumers/build.sh kubernetes-1.23 printed no ${v}_123= executable (its output: $out)"
  export "BUILDER_${v}_123=$path"
done
E2E_ONLY=migration bash ci/e2e/run.sh
