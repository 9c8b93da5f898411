"""What the store's ``optimize()`` costs the build and gives the queries.

The build fills the store with one ``bulk_load`` and then calls ``flush()`` and
``optimize()`` (:class:`alkld.store.embedded.StoreLoader`); at 100k cases the optimisation
is most of the wait for the store after the dumps. This script loads one N-Quads file (a
dump of ``alkld build``) into a new on-disk store with and without ``optimize()``, each in
a fresh process, and prints the load's and the optimisation's wall and CPU time, the
store's size on disk and its number of SST files, and two queries on the store reopened
read-only: lookups of fact IRIs (``SELECT ?p ?o WHERE { <fact> ?p ?o }``, the server
benchmark's entity lookup) and the GROUP BY count of every class.

Usage: python benchmarks/store_optimize.py --nq OUT/alkld.nq [--work DIR] [--lookups 2000]
Run it under ``flock /tmp/alkld-bench.lock`` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from store_batches import cpu_seconds, disk_bytes  # this directory is on sys.path

_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_GROUP_BY = "SELECT ?type (COUNT(?x) AS ?n) WHERE { ?x a ?type } GROUP BY ?type"


def measure(nq: Path, store_dir: Path, optimize: bool, lookups: int) -> dict[str, float]:
    import pyoxigraph as ox

    wall, cpu = time.perf_counter(), cpu_seconds()
    store = ox.Store(str(store_dir))
    store.bulk_load(path=str(nq), format=ox.RdfFormat.N_QUADS, lenient=True)
    loaded, loaded_cpu = time.perf_counter(), cpu_seconds()
    store.flush()  # at 20 M quads it waits for RocksDB to compact the loaded files
    flushed = time.perf_counter()
    if optimize:
        store.optimize()
    done, done_cpu = time.perf_counter(), cpu_seconds()
    quads = len(store)
    del store
    out = {"quads": quads, "load_s": loaded - wall, "load_cpu": loaded_cpu - cpu,
           "flush_s": flushed - loaded,
           "optimize_s": done - loaded, "optimize_cpu": done_cpu - loaded_cpu,
           "disk_mb": disk_bytes(store_dir) / 1e6,
           "sst": sum(1 for _ in store_dir.rglob("*.sst"))}
    store = ox.Store.read_only(str(store_dir))
    facts = [q.subject.value for q in store.quads_for_pattern(None, ox.NamedNode(_TYPE), None)
             if "/node/" in q.subject.value]
    step = max(1, len(facts) // lookups)
    sample = facts[::step][:lookups]
    started = time.perf_counter()
    for iri in sample:
        list(store.query(f"SELECT ?p ?o WHERE {{ <{iri}> ?p ?o }}",
                         use_default_graph_as_union=True))
    out["lookup_us"] = (time.perf_counter() - started) / len(sample) * 1e6
    started = time.perf_counter()
    list(store.query(_GROUP_BY, use_default_graph_as_union=True))
    out["group_by_s"] = time.perf_counter() - started
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nq", type=Path, required=True, help="an N-Quads dump (alkld.nq)")
    ap.add_argument("--work", type=Path, help="directory for the stores (default: a temp dir)")
    ap.add_argument("--lookups", type=int, default=2000)
    ap.add_argument("--one", choices=["optimize", "plain"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.nq.is_file():
        print(f"error: {args.nq}: no such N-Quads file (expected the alkld.nq of a build)",
              file=sys.stderr)
        return 2
    if args.one:
        with tempfile.TemporaryDirectory(dir=args.work) as tmp:
            store_dir = Path(tmp) / "store"
            print(json.dumps(measure(args.nq, store_dir, args.one == "optimize", args.lookups)))
            shutil.rmtree(store_dir, ignore_errors=True)
        return 0
    print(f"## One bulk load of {args.nq} ({args.nq.stat().st_size / 1e6:,.0f} MB), "
          "with and without optimize(), each in a fresh process")
    print("| store | load: wall s / CPU s | flush + optimize: wall s / CPU s | of which flush "
          "(s) | on disk (MB) | SST files | fact lookup (µs) | GROUP BY (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for mode in ("optimize", "plain"):
        cmd = [sys.executable, __file__, "--nq", str(args.nq), "--one", mode,
               "--lookups", str(args.lookups)]
        if args.work:
            cmd += ["--work", str(args.work)]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                      text=True).stdout.splitlines()[-1])
        label = "flush() + optimize() (the build's)" if mode == "optimize" else "flush() only"
        print(f"| {label} | {r['load_s']:.1f} / {r['load_cpu']:.1f} | "
              f"{r['optimize_s']:.1f} / {r['optimize_cpu']:.1f} | {r['flush_s']:.1f} | "
              f"{r['disk_mb']:,.0f} | "
              f"{r['sst']} | {r['lookup_us']:.0f} | {r['group_by_s']:.2f} |")
    print(f"({r['quads']:,} quads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
