#!/usr/bin/env bash
# Bakes a rendered overlay into an image root folder (a debootstrap tree, a mounted image, or /
# inside a Packer build): verifies SHA256SUMS first, then unpacks without touching the metadata
# of folders the image already has.
# Usage: ci/examples/bake-chroot.sh dist/containerd/amd64 /path/to/image-root
set -euo pipefail
out=${1:?usage: bake-chroot.sh RENDER_DIR IMAGE_ROOT}
root=${2:?usage: bake-chroot.sh RENDER_DIR IMAGE_ROOT}
(cd "$out" && sha256sum --quiet -c SHA256SUMS)
tar -xzf "$out/overlay.tar.gz" -C "$root" --no-overwrite-dir --numeric-owner
echo "baked $(basename "$(dirname "$out")")/$(basename "$out") into $root"
