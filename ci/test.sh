#!/usr/bin/env bash
# The test command: installs every program the tests check outputs with, then runs every test.
#   - Debian 12 packages: containerd 1.6 (config version 2), systemd (systemd-analyze),
#     cloud-init (cloud-init schema), docker.io (dockerd 20.10), coreutils' sha256sum,
#     zsh and fish (completion scripts), groff-base (man pages), zstd (zstd -t, tar --zstd),
#     minisign and openssh-client
#     (ssh-keygen: they make the signing keys and check `render --sign-key`'s signatures),
#     squashfs-tools (unsquashfs, mksquashfs) and systemd-container (systemd-dissect) for the
#     system extension image;
#   - taplo (npm @taplo/cli) for the profile JSON Schema checks;
#   - the SBOM validators (PyPI spdx-tools: pyspdxtools; cyclonedx-python-lib's JSON schema
#     validator) in a venv;
#   - from Debian unstable, unpacked into target/consumers (nothing installed system-wide):
#     containerd 2.1 (config version 3) and dockerd 28 (dockerd --validate);
#   - built from source with Go (ci/consumers/build.sh, cached in ~/.cache/builder-ci): kubelet
#     and kubeadm v1.36.3, containerd v2.3.4 (config version 4), crictl v1.37.0; and the
#     cri-dockerd stand-in for the VM tests (ci/consumers/dockershim: Kubernetes 1.23's
#     dockershim behind a CRI v1 adapter), with its own tests and a self-test; intoto-check
#     (ci/consumers/intoto: in-toto's Go validators for Statement v1 and SLSA Provenance v1).
# BUILDER_REQUIRE_CONSUMERS=1 turns "consumer not found: skipped" into a failure.
# Then ci/e2e.sh boots whole nodes in qemu (it installs its own packages).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

export DEBIAN_FRONTEND=noninteractive
sudo_ apt-get update -qq
sudo_ apt-get install -y -qq --no-install-recommends \
  containerd systemd cloud-init docker.io coreutils ca-certificates curl time \
  zsh fish groff-base python3 python3-venv minisign openssh-client zstd squashfs-tools \
  systemd-container >/dev/null

# taplo (npm @taplo/cli), for tests/it/schema.rs: checks every profile against profiles/schema.json
# as editors do. Installed once into a cache outside the checkout (about 2 s), offline after.
command -v npm >/dev/null || sudo_ apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
taplo_dir="$HOME/.cache/builder-ci/taplo"
[ -x "$taplo_dir/node_modules/.bin/taplo" ] ||
  npm install --prefix "$taplo_dir" --no-audit --no-fund --silent @taplo/cli@0.7.0 >/dev/null
export BUILDER_TAPLO="$taplo_dir/node_modules/.bin/taplo"

# The SBOM validators, for tests/it/sbom.rs: pyspdxtools (SPDX 2.3) and cyclonedx-python-lib's
# strict CycloneDX 1.6 schema validator, in a venv outside the checkout (created once).
sbom_venv="$HOME/.cache/builder-ci/sbom-venv"
if ! "$sbom_venv/bin/python" -c 'import spdx_tools, cyclonedx.validation.json' 2>/dev/null; then
  python3 -m venv "$sbom_venv"
  "$sbom_venv/bin/pip" install -q spdx-tools==0.8.5 'cyclonedx-python-lib[json-validation]==11.12.0'
fi
export BUILDER_PYSPDXTOOLS="$sbom_venv/bin/pyspdxtools" BUILDER_CDX_PYTHON="$sbom_venv/bin/python"

consumers=$(bash ci/sid-consumers.sh "${BUILDER_CONSUMERS_DIR:-target/consumers}")
export BUILDER_CONTAINERD2="$consumers/usr/bin/containerd"
export BUILDER_DOCKERD28="$consumers/usr/sbin/dockerd"

# Built from source with Go, cached outside the checkout (about 10 minutes the first time on 2
# cores, under a second after): kubelet and kubeadm v1.36.3, kubelet v1.34.4, containerd
# v2.3.4, crictl v1.37.0.
built=$(bash ci/consumers/build.sh)
get() { sed -n "s/^$1=//p" <<<"$built"; }
export BUILDER_KUBELET=$(get KUBELET) BUILDER_KUBEADM=$(get KUBEADM) BUILDER_KUBELET_134=$(get KUBELET_134)
export BUILDER_CONTAINERD23=$(get CONTAINERD) BUILDER_CRICTL=$(get CRICTL)
# The in-toto attestation reference implementation's validators (Go, about 20 s once), for
# tests/it/provenance.rs.
export BUILDER_INTOTO_CHECK=$(bash ci/consumers/intoto/build.sh | sed -n 's/^INTOTO_CHECK=//p')
# Ignition's own validator (github.com/coreos/ignition/v2 v2.24.0, about 10 s once), for
# tests/it/sysext.rs.
export BUILDER_IGNITION_VALIDATE=$(bash ci/consumers/ignition/build.sh | sed -n 's/^IGNITION_VALIDATE=//p')
export BUILDER_REQUIRE_CONSUMERS=1

# The cri-dockerd stand-in (about 2 minutes to build the first time): the adapter's layout and
# encoding tests, the build, then a self-test against a private dockerd with the real crictl.
(
  cd ci/consumers/dockershim
  GOPROXY=$(go env GOPROXY | sed -E 's/[,|]direct$//; s/^direct$/off/') GOWORK=off \
    CGO_ENABLED=0 GOFLAGS='-buildvcs=false -mod=readonly' go test ./...
)
cri_dockerd=$(bash ci/consumers/dockershim/build.sh | sed -n 's/^CRI_DOCKERD=//p')
export BUILDER_CRI_DOCKERD=$cri_dockerd
CRI_DOCKERD=$BUILDER_CRI_DOCKERD CRICTL=$BUILDER_CRICTL bash ci/consumers/dockershim/selftest.sh

cargo build --locked --all-targets
cargo test --locked --all-targets

# Fuzzing: each cargo-fuzz target (profile parser, archive installer, detect's two JSON
# readers, kubelet inputs) for a bounded time; cargo-fuzz, the build and the corpus are
# cached outside the checkout (about 2 minutes to build once, then FUZZ_SECONDS per target).
bash ci/fuzz.sh "${FUZZ_SECONDS:-60}"

# Whole nodes: a Debian base image + the overlay boots under qemu with the user-data
# (about 10 minutes; BUILDER_SKIP_E2E=1 skips it, for a quick local run only).
if [ -z "${BUILDER_SKIP_E2E:-}" ]; then
  E2E_SKIP_APT_UPDATE=1 bash ci/e2e.sh
else
  echo "SKIP: ci/e2e.sh (BUILDER_SKIP_E2E is set)"
fi
