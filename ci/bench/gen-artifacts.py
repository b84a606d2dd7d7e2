#!/usr/bin/env python3
"""Writes the raw members of the benchmark's fake upstream artifacts (called by ci/bench/run.sh).

Usage: gen-artifacts.py SRC_DIR SCALE

The bytes are slices of real ELF files found on this machine (/usr/bin, /usr/lib/...), walked in
sorted order and deduplicated by inode, so they compress like real release binaries (gzip -6
keeps ~35-45%). Every member takes the next slice of that stream: no two members share bytes.
The output depends only on the files installed and SCALE; the same machine gives the same bytes.

Layout written under SRC_DIR (sizes in MB = 10^6 bytes, multiplied by SCALE):
  containerd/bin/{containerd 50, containerd-shim-runc-v2 10, ctr 25, containerd-stress 20}
  runc.amd64 12
  cni/{18 plugins of 3.0 to 5.0, LICENSE, README.md}
  crictl/crictl 40
"""

import os
import stat
import sys

ROOTS = ["/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/libexec", "/usr/lib", "/usr/local"]
MB = 1_000_000

CNI_PLUGINS = [
    "bandwidth", "bridge", "dhcp", "dummy", "firewall", "host-device", "host-local", "ipvlan",
    "loopback", "macvlan", "portmap", "ptp", "sbr", "static", "tap", "tuning", "vlan", "vrf",
]


def elf_files():
    seen = set()
    for root in ROOTS:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode) or st.st_size < 16384:
                    continue
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                try:
                    with open(path, "rb") as fh:
                        if fh.read(4) != b"\x7fELF":
                            continue
                except OSError:
                    continue
                yield path


class Pool:
    """An endless stream of ELF bytes (wraps around if the machine has too few)."""

    def __init__(self):
        self.files = None
        self.it = iter(())
        self.buf = b""

    def _next_file(self):
        while True:
            for path in self.it:
                try:
                    with open(path, "rb") as fh:
                        return fh.read()
                except OSError:
                    continue
            if self.files is None:
                self.files = list(elf_files())
                if not self.files:
                    sys.exit("gen-artifacts: no ELF files found under " + ", ".join(ROOTS))
            self.it = iter(self.files)

    def take(self, n):
        out = bytearray()
        while len(out) < n:
            if not self.buf:
                self.buf = self._next_file()
            k = min(n - len(out), len(self.buf))
            out += self.buf[:k]
            self.buf = self.buf[k:]
        return bytes(out)


def main():
    src, scale = sys.argv[1], float(sys.argv[2])
    pool = Pool()

    def member(rel, size_mb, mode=0o755):
        path = os.path.join(src, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        remaining = max(1, int(size_mb * scale * MB))
        with open(path, "wb") as fh:
            while remaining:
                k = min(remaining, 8 * MB)
                fh.write(pool.take(k))
                remaining -= k
        os.chmod(path, mode)

    for name, size in [("containerd", 50), ("containerd-shim-runc-v2", 10), ("ctr", 25),
                       ("containerd-stress", 20)]:
        member(f"containerd/bin/{name}", size)
    member("runc.amd64", 12)
    for i, name in enumerate(CNI_PLUGINS):
        member(f"cni/{name}", 3.0 + (i * 7 % 21) / 10.0)  # 3.0 .. 5.0 MB
    os.makedirs(os.path.join(src, "cni"), exist_ok=True)
    with open(os.path.join(src, "cni", "LICENSE"), "w") as fh:
        fh.write("Apache License\nVersion 2.0, January 2004\n" * 250)
    with open(os.path.join(src, "cni", "README.md"), "w") as fh:
        fh.write("Some CNI network plugins, maintained by the containernetworking team.\n" * 40)
    member("crictl/crictl", 40)


if __name__ == "__main__":
    main()
