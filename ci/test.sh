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
#     and kubeadm v1.36.3 (and kubelet v1.34.4), containerd v2.3.4 (config version 4), crictl
#     v1.37.0, cri-dockerd v0.4.3, Butane v0.29.0, Ignition and ignition-validate v2.26.0
#     (Ignition with cgo: libblkid-dev), the CNCF Distribution registry v3.1.2, oras v1.3.6 and
#     crane v0.22.1 (tests/it/registry.rs: push, pull, referrers; htpasswd from apache2-utils,
#     TLS certificates from openssl); intoto-check (ci/consumers/intoto: in-toto's Go
#     validators for Statement v1 and SLSA Provenance v1).
# BUILDER_REQUIRE_CONSUMERS=1 turns "consumer not found: skipped" into a failure.
# Then ci/e2e/run.sh boots whole nodes in qemu (it installs its own packages).
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

export DEBIAN_FRONTEND=noninteractive
sudo_ apt-get update -qq
sudo_ apt-get install -y -qq --no-install-recommends \
  containerd systemd cloud-init docker.io coreutils ca-certificates curl time \
  zsh fish groff-base python3 python3-venv minisign openssh-client zstd squashfs-tools \
  systemd-container libblkid-dev busybox-static containernetworking-plugins jq chromium \
  apache2-utils openssl >/dev/null

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

# The consumers: each build runs on its own with its stdout kept in a variable, so one that fails
# stops the test command here with its own error (`export X=$(build)` would hide its exit status
# and leave the failure to show up much later as a test that cannot find its program); then each
# path it must print is checked.
die() { echo "ci/test.sh: FAIL: $*" >&2; exit 1; }
# build SCRIPT [ARGS...]: runs `bash SCRIPT ARGS...`; its stdout is left in $built.
build() {
  build_name=$1
  built=$(bash "$@") || die "$build_name failed (exit $?); its error is above"
}
# exe VAR PATH: export VAR=PATH, PATH being an executable file.
exe() {
  if [ ! -f "$2" ] || [ ! -x "$2" ]; then die "$build_name: $2 is not an executable file"; fi
  export "$1=$2"
}
# take VAR KEY: the path on the KEY= line the last build printed, exported as VAR.
take() {
  local path
  path=$(sed -n "s/^$2=//p" <<<"$built")
  [ -n "$path" ] || die "$build_name printed no $2= line (its output: ${built:-nothing})"
  exe "$1" "$path"
}

# Debian unstable's containerd 2.1 and dockerd 28, unpacked into target/consumers.
build ci/consumers/sid-consumers.sh "${BUILDER_CONSUMERS_DIR:-target/consumers}"
exe BUILDER_CONTAINERD2 "$built/usr/bin/containerd"
exe BUILDER_DOCKERD28 "$built/usr/sbin/dockerd"

# Built from source with Go, cached outside the checkout (about 15 minutes the first time on 2
# cores, under a second after): kubelet and kubeadm v1.36.3, kubelet v1.34.4, the v1.36.3
# control plane, kubectl and etcd 3.6.8 (for the e2e cluster case), containerd v2.3.4, crictl
# v1.37.0, cri-dockerd v0.4.3, Butane v0.29.0, Ignition v2.26.0, the Distribution registry
# v3.1.2, oras v1.3.6, crane v0.22.1.
build ci/consumers/build.sh
take BUILDER_KUBELET KUBELET
take BUILDER_KUBEADM KUBEADM
take BUILDER_KUBELET_134 KUBELET_134
take BUILDER_CONTAINERD23 CONTAINERD
take BUILDER_CRICTL CRICTL
take BUILDER_CRI_DOCKERD CRI_DOCKERD
take BUILDER_BUTANE BUTANE
take BUILDER_IGNITION IGNITION
take BUILDER_IGNITION_VALIDATE IGNITION_VALIDATE
take BUILDER_KUBE_APISERVER KUBE_APISERVER
take BUILDER_KUBE_CONTROLLER_MANAGER KUBE_CONTROLLER_MANAGER
take BUILDER_KUBE_SCHEDULER KUBE_SCHEDULER
take BUILDER_KUBECTL KUBECTL
take BUILDER_ETCD ETCD
take BUILDER_DISTRIBUTION REGISTRY
take BUILDER_ORAS ORAS
take BUILDER_CRANE CRANE
# The in-toto attestation reference implementation's validators (Go, about 20 s once), for
# tests/it/provenance.rs.
build ci/consumers/intoto/build.sh
take BUILDER_INTOTO_CHECK INTOTO_CHECK
# Upstream's systemd units (containerd, moby, cri-dockerd), byte for byte from the release
# modules on the Go module proxy, for the loopback server in tests/it/common/upstream.rs.
build ci/consumers/upstream-units.sh
units=$(sed -n 's/^UPSTREAM_UNITS=//p' <<<"$built")
[ -d "$units" ] || die "$build_name printed no UPSTREAM_UNITS= folder (its output: ${built:-nothing})"
export BUILDER_UPSTREAM_UNITS=$units
export BUILDER_REQUIRE_CONSUMERS=1

cargo build --locked --all-targets
cargo test --locked --all-targets

# The book (docs/, mdBook 0.5.4 from the crates registry, built once per version into
# ~/.cache/builder-ci/mdbook-VERSION: about 3 minutes the first time): it must build without a
# warning; tests/it/docs.rs has checked its links, anchors and flags above.
bash ci/docs/book.sh >/dev/null

# Fuzzing: each cargo-fuzz target (profile parser, archive installer, detect's two JSON
# readers, kubelet inputs) for a bounded time; cargo-fuzz, the build and the corpus are
# cached outside the checkout (about 2 minutes to build once, then FUZZ_SECONDS per target).
bash ci/fuzz/run.sh "${FUZZ_SECONDS:-60}"

# Whole nodes: a Debian base image + the overlay boots under qemu with the user-data
# (about 10 minutes; BUILDER_SKIP_E2E=1 skips it, for a quick local run only).
# With the debug binary built above (its gzip is optimised, see Cargo.toml): a release build
# only for the VMs would add minutes to a cold run.
if [ -z "${BUILDER_SKIP_E2E:-}" ]; then
  E2E_SKIP_APT_UPDATE=1 BUILDER_BIN="$PWD/target/debug/builder" bash ci/e2e/run.sh
else
  echo "SKIP: ci/e2e/run.sh (BUILDER_SKIP_E2E is set)"
fi

# The dockershim migration on a live 1.23 cluster (ci/migration.sh: about 20 minutes to build the
# v1.23.17 set once, then about 25 minutes of VMs): only with BUILDER_MIGRATION=1.
if [ "${BUILDER_MIGRATION:-}" = 1 ]; then
  E2E_SKIP_APT_UPDATE=1 BUILDER_BIN="$PWD/target/debug/builder" bash ci/migration.sh
fi
