"""Store loading: the CPU a quad and the memory of pyoxigraph's bulk loader, by batch size.

pyoxigraph's bulk loader sorts what one call reads into new files and adds them to the
store when the call ends; the store merges them with what it holds. The build used to
call it once per batch of N-Quads (128 MB, until 2026-12-02); it now makes one call for
the whole release, fed through a pipe (:class:`alkld.store.embedded.StoreLoader`). This
script loads one N-Quads file (a dump of ``alkld build``) into a new on-disk store once
per batch size, a ``bulk_load`` call a batch, and once through the build's loader
(``--stream``), each in a fresh process, and prints the wall time, the CPU (all
threads) a quad, the peak RSS and the store's size on disk.

Usage: python benchmarks/store_batches.py --nq OUT/alkld.nq [--batches 16 64 128 256] [--stream]
Run it under ``flock /tmp/alkld-bench.lock`` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def cpu_seconds() -> float:
    """This process's CPU seconds, all threads (user + system)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _chunks(nq: Path) -> Iterator[bytes]:
    """``nq`` a megabyte at a time, cut at line ends (as the build produces it)."""
    rest = b""
    with nq.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            rest = chunk[cut:]
            yield chunk[:cut]
    if rest.strip():
        raise SystemExit(f"{nq}: the file does not end with a newline")


def load_once(nq: Path, store_dir: Path, batch_mb: int) -> dict[str, float]:
    """Load ``nq`` into a new store at ``store_dir``: a ``bulk_load`` call per batch of
    ``batch_mb`` MB, or (0) one call fed through the build's :class:`StoreLoader`."""
    import pyoxigraph as ox

    from alkld.store.embedded import StoreLoader

    wall, cpu = time.perf_counter(), cpu_seconds()
    if batch_mb:
        store = ox.Store(str(store_dir))
        batch: list[bytes] = []
        size = 0
        for chunk in _chunks(nq):
            batch.append(chunk)
            size += len(chunk)
            if size >= batch_mb << 20:
                store.bulk_load(b"".join(batch), format=ox.RdfFormat.N_QUADS, lenient=True)
                batch, size = [], 0
        if batch:
            store.bulk_load(b"".join(batch), format=ox.RdfFormat.N_QUADS, lenient=True)
        store.flush()
        store.optimize()
        quads = len(store)
    else:
        loader = StoreLoader(store_dir)
        for chunk in _chunks(nq):
            loader.add(chunk)
        quads = loader.close()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    return {"quads": quads, "wall": wall, "cpu": cpu,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "disk_mb": disk_bytes(store_dir) / 1e6}


def disk_bytes(directory: Path) -> int:
    """What the store's files take on disk (allocated blocks, as ``du``)."""
    return sum(f.stat().st_blocks * 512 for f in directory.rglob("*") if f.is_file())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nq", type=Path, required=True, help="an N-Quads dump (alkld.nq)")
    ap.add_argument("--batches", type=int, nargs="+", default=[16, 64, 128, 256],
                    help="batch sizes in MB")
    ap.add_argument("--stream", action="store_true",
                    help="also load it as the build does: one call, fed through a pipe")
    ap.add_argument("--work", type=Path, help="directory for the stores (default: a temp dir)")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child mode: one batch size
    args = ap.parse_args()
    if not args.nq.is_file():
        print(f"error: {args.nq}: no such N-Quads file (expected the alkld.nq of a build)",
              file=sys.stderr)
        return 2
    if args.one is not None:
        with tempfile.TemporaryDirectory(dir=args.work) as tmp:
            print(json.dumps(load_once(args.nq, Path(tmp) / "store", args.one)))
        return 0
    sizes = [*args.batches, *([0] if args.stream else [])]
    print(f"## Store bulk load of {args.nq} ({args.nq.stat().st_size / 1e6:,.0f} MB), "
          "each in a fresh process")
    print("| batch | wall (s) | CPU (s, all threads) | CPU µs a quad | peak RSS (MB) "
          "| store on disk (MB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for mb in sizes:
        cmd = [sys.executable, __file__, "--nq", str(args.nq), "--one", str(mb)]
        if args.work:
            cmd += ["--work", str(args.work)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.splitlines()[-1])
        label = f"{mb} MB, a call a batch" if mb else "one call through a pipe (the build's)"
        print(f"| {label} | {r['wall']:.1f} | {r['cpu']:.1f} | "
              f"{r['cpu'] / r['quads'] * 1e6:.1f} | {r['rss_mb']:,.0f} | {r['disk_mb']:,.0f} |")
    print(f"({r['quads']:,} quads; load average at the end: {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
