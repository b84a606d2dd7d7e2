#!/usr/bin/env python3
"""Writes a one-layer container image as a Docker image archive (the `docker save` layout:
manifest.json, the config JSON and the layer tar), which both `docker load` (Docker 20.10 and
later) and `ctr images import` read. Deterministic: sorted members, mtime 0, root owner.

    mkimage.py OUT.tar TAG ENTRYPOINT_JSON HOST_FILE:IMAGE_PATH[:MODE] ... [LINK=TARGET ...]

Example: mkimage.py pause.tar registry.k8s.io/pause:3.10.2 '["/pause"]' /tmp/pause:/pause:0755
"""
import hashlib
import io
import json
import sys
import tarfile


def member(name, kind, mode=0o755, data=b"", target=""):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = kind, mode, 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.size = len(data)
    info.linkname = target
    return info, data


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    out, tag, entrypoint, specs = argv[0], argv[1], json.loads(argv[2]), argv[3:]
    entries = {}
    for spec in specs:
        if "=" in spec:
            path, target = spec.split("=", 1)
            entries[path.lstrip("/")] = member(path.lstrip("/"), tarfile.SYMTYPE, 0o777, target=target)
            continue
        host, path, *mode = spec.split(":")
        with open(host, "rb") as f:
            data = f.read()
        name = path.lstrip("/")
        entries[name] = member(name, tarfile.REGTYPE, int(mode[0], 8) if mode else 0o644, data)
    # Parent folders of every entry, so the layer stands on its own.
    for name in list(entries):
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            entries.setdefault(d, member(d, tarfile.DIRTYPE, 0o755))

    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in sorted(entries):
            info, data = entries[name]
            t.addfile(info, io.BytesIO(data) if info.isreg() else None)
    layer = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Entrypoint": entrypoint, "Env": ["PATH=/bin"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "ci/e2e/images/mkimage.py"}],
    }, sort_keys=True, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_name = diff_id[len("sha256:"):] + "/layer.tar"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": [layer_name]}]).encode()

    with tarfile.open(out, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in [(config_name, config), (layer_name, layer), ("manifest.json", manifest)]:
            if "/" in name:
                t.addfile(member(name.split("/")[0], tarfile.DIRTYPE)[0])
            info, data = member(name, tarfile.REGTYPE, 0o644, data)
            t.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main(sys.argv[1:])
