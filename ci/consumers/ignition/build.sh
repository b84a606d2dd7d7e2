#!/usr/bin/env bash
# Build ignition-validate (Ignition's own config validator, github.com/coreos/ignition/v2's
# validate command at v2.24.0, pinned by go.mod and go.sum here) with the Go module proxy only,
# cached outside the checkout (ci/consumers/go-build-cached.sh; about 10 s the first time).
#
#   ci/consumers/ignition/build.sh
#
# stdout: exactly one line, IGNITION_VALIDATE=/path/to/ignition-validate; logs go to stderr.
# Butane is not built: the proxy does not serve github.com/coreos/butane (403);
# tests/it/sysext.rs checks butane.yaml against ignition.json itself.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(bash "$here/../go-build-cached.sh" "$here" ignition-validate github.com/coreos/ignition/v2/validate)
echo "IGNITION_VALIDATE=$bin"
