#!/usr/bin/env bash
# Bakes a rendered overlay into an image root folder (a debootstrap tree, a mounted image, or /
# inside a Packer build): verifies the overlay first, then unpacks it without touching the
# metadata of folders the image already has.
#
# RENDER_DIR needs only the public files: the overlay (overlay.tar.gz, or overlay.tar.zst from
# `render --compression zstd`) and its .sha256 (what a pipeline uploads; never user-data, which
# may hold the join token). A full render folder works too; one from a builder without the
# .sha256 file is checked through the overlay's line of its SHA256SUMS. Nothing is unpacked
# unless the digest matches. A zstd overlay needs zstd on the machine that runs this (GNU tar
# --zstd runs it), not in the image.
# Usage: ci/examples/bake-chroot.sh dist/containerd/amd64 /path/to/image-root
set -euo pipefail
out=${1:?usage: bake-chroot.sh RENDER_DIR IMAGE_ROOT}
root=${2:?usage: bake-chroot.sh RENDER_DIR IMAGE_ROOT}
if [ -f "$out/overlay.tar.gz" ] && [ -f "$out/overlay.tar.zst" ]; then
  echo "bake-chroot: $out holds both overlay.tar.gz and overlay.tar.zst; keep the one you rendered" >&2
  exit 1
elif [ -f "$out/overlay.tar.zst" ]; then
  overlay=overlay.tar.zst unpack=--zstd
  command -v zstd >/dev/null || { echo "bake-chroot: $out/overlay.tar.zst needs zstd (Debian/Ubuntu: apt-get install zstd)" >&2; exit 1; }
else
  overlay=overlay.tar.gz unpack=-z
fi
if [ -f "$out/$overlay.sha256" ]; then
  sums=$overlay.sha256
elif [ -f "$out/SHA256SUMS" ]; then
  sums=SHA256SUMS
else
  echo "bake-chroot: $out has neither $overlay.sha256 nor SHA256SUMS; copy $overlay.sha256 from the render beside $overlay" >&2
  exit 1
fi
# Exactly the overlay's line, whatever else the file lists.
line=$(grep -E "^[0-9a-f]{64}  ${overlay//./\\.}\$" "$out/$sums" || true)
if [ "$(printf '%s' "$line" | grep -c .)" != 1 ]; then
  echo "bake-chroot: $out/$sums has no single sha256 line for $overlay" >&2
  exit 1
fi
if ! (cd "$out" && printf '%s\n' "$line" | sha256sum --quiet --strict -c -); then
  echo "bake-chroot: $out/$overlay does not match its sha256 in $sums; nothing was unpacked into $root" >&2
  exit 1
fi
tar -x "$unpack" -f "$out/$overlay" -C "$root" --no-overwrite-dir --numeric-owner
echo "baked $out/$overlay into $root"
