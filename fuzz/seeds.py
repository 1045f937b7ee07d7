#!/usr/bin/env python3
"""Writes the generated seeds of the fuzz corpora (fuzz/corpus/TARGET/seed-*): small tars
for `unpack` (ordinary entries and the hostile shapes of tests/src/corpus.rs), small image
archives for `archive_load`, documents for `documents`, framed requests for
`helper_request`. The other seeds (Dockerfiles, templates, references) are copied from
real inputs by scripts/fuzz.sh --seed. Deterministic: run it again, get the same files."""

import gzip
import hashlib
import io
import json
import os
import struct
import sys
import tarfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def tar(entries, fmt=tarfile.PAX_FORMAT):
    """entries: (name, kind, extra) with kind file/dir/sym/link/chr/fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, kind, extra in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            info.mode = 0o644
            data = None
            if kind == "file":
                data = extra if isinstance(extra, bytes) else extra.encode()
                info.size = len(data)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "sym":
                info.type = tarfile.SYMTYPE
                info.linkname = extra
            elif kind == "link":
                info.type = tarfile.LNKTYPE
                info.linkname = extra
            elif kind == "chr":
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = extra
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            elif kind == "setuid":
                data = b"x"
                info.size = 1
                info.mode = 0o4755
            if kind == "pax":
                data = b"p"
                info.size = 1
                info.pax_headers = extra
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def unpack_seeds():
    put("unpack", "plain", tar([("etc", "dir", None), ("etc/hosts", "file", "127.0.0.1 localhost\n"),
                                 ("bin", "dir", None), ("bin/sh", "file", "#!\n"),
                                 ("bin/ash", "link", "bin/sh"), ("bin/busybox", "sym", "sh")]))
    put("unpack", "whiteouts", tar([("a", "dir", None), ("a/.wh..wh..opq", "file", ""),
                                     ("a/.wh.gone", "file", ""), ("b", "dir", None)]))
    put("unpack", "special", tar([("dev", "dir", None), ("dev/null", "chr", (1, 3)),
                                   ("fifo", "fifo", None), ("suid", "setuid", None)]))
    put("unpack", "pax", tar([("f", "pax", {"path": "long/" + "n" * 200, "SCHILY.xattr.user.x": "v",
                                            "mtime": "1700000000.5"})]))
    put("unpack", "gnu-longname", tar([("d/" + "x" * 150, "file", "long"),
                                        ("l", "sym", "t" * 150)], fmt=tarfile.GNU_FORMAT))
    put("unpack", "ustar", tar([("u/v/w", "file", "ustar")], fmt=tarfile.USTAR_FORMAT))
    put("unpack", "dotdot", tar([("../escape", "file", "x")]))
    put("unpack", "absolute", tar([("/abs", "file", "x")]))
    put("unpack", "symlink-escape", tar([("s", "sym", "/"), ("s/etc-file", "file", "x"),
                                          ("r", "sym", "../.."), ("r/x", "file", "y")]))
    put("unpack", "chained-symlinks", tar([("a", "sym", "b"), ("b", "sym", "../"), ("a/x", "file", "z")]))
    put("unpack", "hardlink-out", tar([("h", "link", "../sentinel"), ("h2", "link", "/etc/passwd")]))
    put("unpack", "hardlink-symlink", tar([("s", "sym", "/etc/passwd"), ("h", "link", "s")]))
    put("unpack", "whiteout-odd", tar([(".wh..", "file", ""), (".wh...", "file", ""),
                                        ("s", "sym", ".."), ("s/.wh.x", "file", "")]))
    put("unpack", "replace", tar([("x", "dir", None), ("x/y", "file", "1"), ("x", "file", "2"),
                                   ("x", "sym", "y"), ("x", "dir", None)]))
    full = tar([("f", "file", "hello world\n" * 20)])
    put("unpack", "truncated", full[:700])


def layer_blob():
    return tar([("hello", "file", "hello from a fuzz seed\n"), ("d", "dir", None), ("d/s", "sym", "../hello")],
               fmt=tarfile.USTAR_FORMAT)


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def image_archive(compress_layer):
    layer = layer_blob()
    diff_id = sha(layer)
    blob = gzip.compress(layer, mtime=0) if compress_layer else layer
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/hello"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "fuzz seed"}],
    }, separators=(",", ":")).encode()
    lmt = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress_layer else "")
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config),
                   "size": len(config)},
        "layers": [{"mediaType": lmt, "digest": sha(blob), "size": len(blob)}],
    }, separators=(",", ":")).encode()
    index = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest),
                       "size": len(manifest),
                       "annotations": {"io.containerd.image.name": "docker.io/fuzz/seed:1",
                                       "org.opencontainers.image.ref.name": "1"}}],
    }, separators=(",", ":")).encode()
    docker = json.dumps([{"Config": "blobs/sha256/" + sha(config)[7:], "RepoTags": ["fuzz/seed:1"],
                          "Layers": ["blobs/sha256/" + sha(blob)[7:]]}]).encode()
    entries = [("blobs", "dir", None), ("blobs/sha256", "dir", None)]
    for b in (blob, config, manifest):
        entries.append(("blobs/sha256/" + sha(b)[7:], "file", b))
    entries += [("index.json", "file", index), ("manifest.json", "file", docker),
                ("oci-layout", "file", '{"imageLayoutVersion":"1.0.0"}'),
                ("repositories", "file", '{"fuzz/seed":{"1":"' + sha(blob)[7:] + '"}}')]
    return tar(entries, fmt=tarfile.USTAR_FORMAT), config, manifest, index, docker


def archive_seeds():
    plain, config, manifest, index, docker = image_archive(False)
    put("archive_load", "oci-docker", plain)
    gz, *_ = image_archive(True)
    put("archive_load", "gzip-layer", gz)
    put("archive_load", "gzip-archive", gzip.compress(plain, mtime=0))
    put("documents", "config", config)
    put("documents", "manifest", manifest)
    put("documents", "index", index)
    put("documents", "manifest-json", docker)
    put("documents", "manifest-list", json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            {"digest": "sha256:" + "a" * 64, "size": 1,
             "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
             "digest": "sha256:" + "b" * 64, "size": 2,
             "platform": {"os": "linux", "architecture": "amd64", "os.version": "x", "os.features": ["f"]}},
            {"digest": "sha256:" + "c" * 64, "size": 3, "platform": {"os": "unknown", "architecture": "unknown"}},
        ]}))
    put("documents", "docker-manifest", json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7, "digest": "sha256:" + "d" * 64},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 9,
                    "digest": "sha256:" + "e" * 64, "urls": ["http://x"]}]}))
    put("documents", "schema1", '{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}')


def helper_seeds():
    def msg(body, fds=0):
        return bytes([fds, len(body)]) + body
    header = b"STRH" + struct.pack("<HHII", 1, 1, 0, 8)
    payload = struct.pack("<II", 1, 0)
    put("helper_request", "valid", msg(header) + msg(payload) + msg(struct.pack("<I", 3), 3))
    put("helper_request", "two-chunks", msg(header) + msg(payload) + msg(struct.pack("<I", 2), 2)
        + msg(struct.pack("<I", 1), 1))
    put("helper_request", "bad-magic", msg(b"XXXX" + header[4:]))
    put("helper_request", "trailing", msg(header + payload) + msg(struct.pack("<I", 3) + b"junk", 3))


def main():
    unpack_seeds()
    archive_seeds()
    helper_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
