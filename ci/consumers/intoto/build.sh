#!/usr/bin/env bash
# Build intoto-check (main.go: the in-toto attestation reference implementation's Go validators
# for Statement v1 and SLSA Provenance v1) with the Go module proxy only, cached outside the
# checkout (ci/consumers/go-build-cached.sh; about 20 s the first time).
#
#   ci/consumers/intoto/build.sh
#
# stdout: exactly one line, INTOTO_CHECK=/path/to/intoto-check; logs go to stderr.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(bash "$here/../go-build-cached.sh" "$here" intoto-check .)
echo "INTOTO_CHECK=$bin"
