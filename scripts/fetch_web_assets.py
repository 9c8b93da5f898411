"""Fetch the query page's npm packages from the npm registry, verify them, unpack into static/.

Reads ``web/assets.json`` (name, version, tarball, Subresource-Integrity hash, files) and
writes the listed files to ``src/alkld/publish/static/vendor/``. Idempotent: a file already
present with the recorded hash is kept. No Node.js needed. Exit 2 with a message on a
download or integrity failure; nothing half-written (temp file, then rename).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import tarfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "web" / "assets.json"
TARGET = ROOT / "src" / "alkld" / "publish" / "static" / "vendor"


def _verify(data: bytes, integrity: str) -> None:
    algo, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if actual != expected:
        raise ValueError(f"integrity mismatch: expected {integrity}, got {algo}-{actual}")


def main() -> int:
    manifest = json.loads(MANIFEST.read_text())
    TARGET.mkdir(parents=True, exist_ok=True)
    stamp = TARGET / ".stamp"
    wanted = json.dumps(manifest["packages"], sort_keys=True)
    if stamp.exists() and stamp.read_text() == wanted:
        return 0
    for pkg in manifest["packages"]:
        label = f"{pkg['name']}@{pkg['version']}"
        try:
            resp = requests.get(pkg["tarball"], timeout=60)
            resp.raise_for_status()
            _verify(resp.content, pkg["integrity"])
        except (requests.RequestException, ValueError) as e:
            print(f"error: {MANIFEST}: package {label}: {e}", file=sys.stderr)
            return 2
        with tarfile.open(fileobj=io.BytesIO(resp.content), mode="r:gz") as tar:
            for member, name in pkg["files"].items():
                fh = tar.extractfile(member)
                if fh is None:
                    print(f"error: {MANIFEST}: {label} has no file {member}", file=sys.stderr)
                    return 2
                tmp = TARGET / f".{name}.tmp"
                tmp.write_bytes(fh.read())
                os.replace(tmp, TARGET / name)
        print(f"fetched {label} → {TARGET.relative_to(ROOT)}")
    stamp.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
