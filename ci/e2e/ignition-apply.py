#!/usr/bin/env python3
"""Plays Ignition's files stage on a root folder, for the sysext VM (Debian has no Ignition).

    ignition-apply.py ROOT ignition.json

What Ignition does with the keys builder writes, and nothing else: any other key is refused,
so a config this cannot apply fails the test instead of being half applied.
  - storage.files: the contents from a data: URL (percent-encoded or ;base64, optionally
    compression "gzip") or an http(s) URL (fetched here, from the test's loopback server);
    verification.hash "sha256-<hex>" checked before anything is written (a mismatch exits 1,
    like Ignition failing the boot); the mode; parents made 0755. Existing files are unlinked
    first (the root is a hard-linked copy of the base image).
  - systemd.units: contents written to /etc/systemd/system/NAME; enabled: true becomes a
    line of /etc/systemd/system-preset/20-ignition.preset (as Ignition writes it), and, for a
    unit whose file is in the root already, the [Install] WantedBy= links (what the preset
    gives on first boot). Units that arrive later (from the system extension) stay preset only.
"""
import base64
import gzip
import hashlib
import json
import os
import sys
import urllib.parse
import urllib.request

FILE_KEYS = {"path", "mode", "overwrite", "contents"}
CONTENT_KEYS = {"source", "compression", "verification"}
UNIT_KEYS = {"name", "enabled", "contents"}
UNIT_DIRS = ["etc/systemd/system", "usr/lib/systemd/system", "lib/systemd/system"]


def die(msg):
    print(f"ignition-apply: {msg}", file=sys.stderr)
    sys.exit(1)


def fetch(source, compression):
    if source.startswith("data:"):
        head, _, body = source.partition(",")
        raw = base64.b64decode(body) if head.endswith(";base64") else urllib.parse.unquote_to_bytes(body)
    elif source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=60) as r:
            raw = r.read()
    else:
        die(f"unsupported source {source[:40]!r}")
    if compression == "gzip":
        return gzip.decompress(raw)
    if compression not in (None, ""):
        die(f"unsupported compression {compression!r}")
    return raw


def place(root, path, data, mode):
    if not path.startswith("/") or "/../" in path + "/":
        die(f"bad path {path!r}")
    dest = os.path.join(root, path.lstrip("/"))
    parent = os.path.dirname(dest)
    os.makedirs(parent, mode=0o755, exist_ok=True)
    if os.path.lexists(dest):
        os.unlink(dest)
    with open(dest, "wb") as f:
        f.write(data)
    os.chmod(dest, mode)


def wanted_by(text):
    targets, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Install]" and line.startswith("WantedBy="):
            targets += line.split("=", 1)[1].split()
    return targets


def main(root, config):
    cfg = json.load(open(config))
    if set(cfg) - {"ignition", "storage", "systemd"} or cfg["ignition"] != {"version": "3.4.0"}:
        die(f"unexpected top-level keys or version: {sorted(cfg)} {cfg.get('ignition')}")
    if set(cfg.get("storage", {})) - {"files"}:
        die(f"unexpected storage keys {sorted(cfg['storage'])}")
    for f in cfg.get("storage", {}).get("files", []):
        if set(f) - FILE_KEYS or set(f["contents"]) - CONTENT_KEYS:
            die(f"unexpected keys in {f['path']}: {sorted(f)} {sorted(f['contents'])}")
        c = f["contents"]
        data = fetch(c["source"], c.get("compression"))
        want = c.get("verification", {}).get("hash")
        if want:
            algo, _, hexd = want.partition("-")
            got = hashlib.new(algo, data).hexdigest()
            if got != hexd:
                die(f"{f['path']}: {algo} {got} does not match the config's verification.hash {hexd}; nothing written")
        place(root, f["path"], data, f.get("mode", 0o644))
        print(f"ignition-apply: wrote {f['path']} ({len(data)} bytes, mode {f.get('mode', 0o644):o})")
    presets = []
    for u in cfg.get("systemd", {}).get("units", []):
        if set(u) - UNIT_KEYS:
            die(f"unexpected unit keys {sorted(u)}")
        name = u["name"]
        if "contents" in u:
            place(root, f"/etc/systemd/system/{name}", u["contents"].encode(), 0o644)
        if not u.get("enabled"):
            continue
        presets.append(f"enable {name}\n")
        unit_dir = next((d for d in UNIT_DIRS if os.path.isfile(os.path.join(root, d, name))), None)
        if unit_dir is None:
            print(f"ignition-apply: {name} is not in the root yet: preset only")
            continue
        for target in wanted_by(open(os.path.join(root, unit_dir, name)).read()):
            link = os.path.join(root, "etc/systemd/system", f"{target}.wants", name)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(f"/{unit_dir}/{name}", link)
            print(f"ignition-apply: enabled {name} ({target})")
    place(root, "/etc/systemd/system-preset/20-ignition.preset", "".join(presets).encode(), 0o644)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        die("usage: ignition-apply.py ROOT ignition.json")
    main(sys.argv[1], sys.argv[2])
