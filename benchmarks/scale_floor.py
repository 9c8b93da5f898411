"""Scale floor: what the parts a build cannot skip cost alone, and the wall time they imply.

Every release must be read from its records, turned into RDF, validated with SHACL and
loaded into the store; :mod:`benchmarks.scale` measures the whole build. This script
measures those four parts alone, one process, nothing else of the build running, on N
synthetic cases (``alkld synth``, seed 42), and prints their cost a case and what they
would take at 100,000 cases on this machine's cores if they were perfectly parallel:

- records: ``load_record`` (YAML with line numbers, pydantic, reference checks);
- RDF: the publication and case graphs (:mod:`alkld.rdf.build`);
- SHACL: the build's validation of each record (claims, class hierarchy, rudof), as
  :func:`alkld.pipeline._validate_cases` runs it in the pool;
- store: pyoxigraph's bulk load of those graphs' N-Quads into a new on-disk store, flushed
  and optimised, as the build's loader does it.

The projection is a lower bound: the store's cost a quad grows with the store (measured
in the build at 100k: ~21 µs a quad against ~16 µs at 10k), and a build also writes four
dump formats, VoID and the claims graph. If the bound is near the target, no trimming of
the rest of the build reaches it on this machine.

Usage: python benchmarks/scale_floor.py [--cases 2000] [--target-cases 100000]
(``ALKLD_MALLOC=system`` in front: with the C library's malloc, as an A/B of alkld.native)
Run it under ``flock /tmp/alkld-bench.lock`` on a shared machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(n: int, work: Path) -> dict[str, float]:
    """CPU seconds of each part over ``n`` synthetic cases, and their quad count."""
    import pyoxigraph as ox

    from alkld.pipeline import BuildOptions, _validate_cases, prepare
    from alkld.rdf.build import to_case_graphs, to_publication_graph
    from alkld.records.loader import iter_record_paths, load_record
    from alkld.store.embedded import to_ox_quads
    from alkld.synth import Pools, write_synthetic

    cases = work / "cases"
    write_synthetic(cases, Pools.from_cases(ROOT / "cases"), cases=n, seed=42)
    ctx = prepare(BuildOptions(cases=cases, mappings=ROOT / "mappings",
                               ontology=ROOT / "ontology/alkld.ttl",
                               shapes=ROOT / "shapes/alkld.shapes.ttl",
                               vocabulary=ROOT / "mappings/vocabulary.ttl", out=work / "out"))
    gc.collect()  # as the pool's workers do (alkld.pipeline._init_worker)
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    cost = {"records": 0.0, "RDF": 0.0, "SHACL": 0.0, "store": 0.0}
    nquads: list[bytes] = []
    quads = 0
    for path in iter_record_paths(cases):
        t = time.process_time()
        loaded = load_record(path)
        cost["records"] += time.process_time() - t
        t = time.process_time()
        pub = to_publication_graph(loaded, ctx.mapper, base=ctx.base)
        graphs = to_case_graphs(loaded, ctx.mapper, base=ctx.base)
        cost["RDF"] += time.process_time() - t
        t = time.process_time()
        results, _ = _validate_cases(pub, graphs, ctx, "rudof", details=False)
        cost["SHACL"] += time.process_time() - t
        assert not [r for r in results if r.severity == "Violation"], results[:3]
        for cg in [pub, *graphs]:
            batch = to_ox_quads(cg.graph, cg.triples)
            quads += len(batch)
            nquads.append(ox.serialize(batch, format=ox.RdfFormat.N_QUADS) or b"")
    data = b"".join(nquads)
    store_dir = work / "store"
    shutil.rmtree(store_dir, ignore_errors=True)
    t, wall = time.process_time(), time.perf_counter()
    store = ox.Store(str(store_dir))
    store.bulk_load(data, format=ox.RdfFormat.N_QUADS)
    store.flush()
    store.optimize()
    loaded_quads = len(store)
    del store
    # the bulk loader works in threads of this process: process_time counts them all
    cost["store"] = time.process_time() - t
    cost["store wall"] = time.perf_counter() - wall
    return {**cost, "quads": float(quads), "stored": float(loaded_quads)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--target-cases", type=int, default=100_000)
    ap.add_argument("--target-seconds", type=float, default=600.0)
    ap.add_argument("--work", type=Path, help="directory for the synthetic cases and the store")
    args = ap.parse_args()
    from alkld import native

    # as `alkld build` does: this process restarts with the allocator preloaded
    # (ALKLD_MALLOC=system measures with the C library's malloc)
    native.reexec([sys.executable, __file__, *sys.argv[1:]])
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        cost = measure(args.cases, Path(tmp))
    n, cores = args.cases, os.cpu_count() or 1
    scale = args.target_cases / n
    print(f"## Scale floor: {n:,} synthetic cases, {cost['quads']:,.0f} quads "
          f"({cost['quads'] / n:.0f} a case), one process; projected to "
          f"{args.target_cases:,} cases on {cores} cores")
    print("| part (CPU) | ms a case | CPU s at the target size |\n|---|---:|---:|")
    total = 0.0
    for part in ("records", "RDF", "SHACL", "store"):
        secs = cost[part]
        total += secs
        print(f"| {part} | {secs * 1000 / n:.2f} | {secs * scale:,.0f} |")
    print(f"| **sum** | **{total * 1000 / n:.2f}** | **{total * scale:,.0f}** |")
    print(f"store: {cost['store'] * 1e6 / cost['quads']:.1f} µs of CPU a quad "
          f"({cost['store wall']:.1f} s wall for {cost['stored']:,.0f} quads)")
    bound = total * scale / cores
    print(f"lower bound on the wall time at {args.target_cases:,} cases: {bound:,.0f} s "
          f"(the sum ÷ {cores} cores) against a target of {args.target_seconds:,.0f} s; "
          f"left for everything else (dumps, claims, VoID, spooling, pool): "
          f"{args.target_seconds - bound:,.0f} s")
    print(f"allocator: {native.loaded() or 'the C library malloc'}; "
          f"load average at the end: {os.getloadavg()[0]:.2f} (1 min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
