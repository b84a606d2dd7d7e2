#!/usr/bin/env bash
# Bakes a rendered overlay into an image root folder (a debootstrap tree, a mounted image, or /
# inside a Packer build): verifies overlay.tar.gz first, then unpacks it without touching the
# metadata of folders the image already has.
#
# RENDER_DIR needs only the public files: overlay.tar.gz and overlay.tar.gz.sha256 (what a
# pipeline uploads; never user-data, which may hold the join token). A full render folder
# works too; one from a builder without overlay.tar.gz.sha256 is checked through the
# overlay.tar.gz line of its SHA256SUMS. Nothing is unpacked unless the digest matches.
# Usage: ci/examples/bake-chroot.sh dist/containerd/amd64 /path/to/image-root
set -euo pipefail
out=${1:?usage: bake-chroot.sh RENDER_DIR IMAGE_ROOT}
root=${2:?usage: bake-chroot.sh RENDER_DIR IMAGE_ROOT}
if [ -f "$out/overlay.tar.gz.sha256" ]; then
  sums=overlay.tar.gz.sha256
elif [ -f "$out/SHA256SUMS" ]; then
  sums=SHA256SUMS
else
  echo "bake-chroot: $out has neither overlay.tar.gz.sha256 nor SHA256SUMS; copy overlay.tar.gz.sha256 from the render beside overlay.tar.gz" >&2
  exit 1
fi
# Exactly the overlay's line, whatever else the file lists.
line=$(grep -E '^[0-9a-f]{64}  overlay\.tar\.gz$' "$out/$sums" || true)
if [ "$(printf '%s' "$line" | grep -c .)" != 1 ]; then
  echo "bake-chroot: $out/$sums has no single sha256 line for overlay.tar.gz" >&2
  exit 1
fi
if ! (cd "$out" && printf '%s\n' "$line" | sha256sum --quiet --strict -c -); then
  echo "bake-chroot: $out/overlay.tar.gz does not match its sha256 in $sums; nothing was unpacked into $root" >&2
  exit 1
fi
tar -xzf "$out/overlay.tar.gz" -C "$root" --no-overwrite-dir --numeric-owner
echo "baked $out/overlay.tar.gz into $root"
