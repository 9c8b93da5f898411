"""Scale: synthetic cases from records to every dump, per stage, beside a naive baseline.

For each size N (default 1k, 10k), in a fresh process (so peak RSS is per size):
``alkld synth`` writes N cases; then the pipeline runs stage by stage with ``--jobs``
processes — records (load + map + RDF + SHACL per record, in the pool; the CPU seconds of
each sub-stage summed over workers are printed too), quads (to pyoxigraph, sorted), store,
each dump — printing wall time, quads/s and peak RSS (this process + its children).

The naive baseline (``--baseline``, at sizes ≤ ``--baseline-max``) is the obvious approach:
all triples in one rdflib Dataset, one whole-graph pySHACL run, rdflib's serialisers.

Usage: python benchmarks/scale.py [--sizes 1000 10000 100000] [--jobs 2] [--baseline]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(self_kb, child_kb) / 1024


def run_size(n: int, jobs: int, baseline: bool, work: Path) -> dict:
    from alkld.pipeline import BuildOptions, _run, to_quads
    from alkld.publish.dumps import DUMPERS
    from alkld.store.embedded import write_store
    from alkld.synth import Pools, write_synthetic

    cases = work / "cases"
    out = work / "out"
    out.mkdir(parents=True, exist_ok=True)
    write_synthetic(cases, Pools.from_cases(ROOT / "cases"), cases=n, seed=42)
    options = BuildOptions(cases=cases, mappings=ROOT / "mappings",
                           ontology=ROOT / "ontology/alkld.ttl",
                           shapes=ROOT / "shapes/alkld.shapes.ttl",
                           vocabulary=ROOT / "mappings/vocabulary.ttl", out=out)
    stages: list[tuple[str, float, int]] = []
    t = time.perf_counter()
    release, results = _run(options, validate=True, progress=None, jobs=jobs)
    records_s = time.perf_counter() - t
    violations = [r for r in results if r.severity == "Violation"]
    assert not violations, violations[:3]
    t = time.perf_counter()
    quads = to_quads(release)
    stages.append(("records (load+map+RDF+SHACL, pool)", records_s, len(quads)))
    stages.append(("quads (to pyoxigraph, sorted)", time.perf_counter() - t, len(quads)))
    t = time.perf_counter()
    write_store(quads, out / "store")
    stages.append(("store (pyoxigraph bulk load)", time.perf_counter() - t, len(quads)))
    for name, _, dump in DUMPERS.values():
        t = time.perf_counter()
        dump(quads, out / name, base=options.base)
        stages.append((f"dump {name}", time.perf_counter() - t, len(quads)))
    total = sum(s[1] for s in stages)
    cpu: dict[str, float] = {}
    for output_timing in getattr(release, "timings", []):
        for stage, secs in output_timing.items():
            cpu[stage] = cpu.get(stage, 0.0) + secs
    report = {"n": n, "quads": len(quads), "stages": stages, "total": total,
              "rss_mb": rss_mb(), "jobs": jobs, "cpu": cpu}
    if baseline:
        report["baseline"] = run_baseline(release, options, out)
    return report


def run_baseline(release, options, out: Path) -> list[tuple[str, float]]:
    import rdflib
    from pyshacl import validate

    stages: list[tuple[str, float]] = []
    t = time.perf_counter()
    ds = rdflib.Dataset()
    for graph, triples in release.named_graphs().items():
        g = ds.graph(graph)
        for triple in triples:
            g.add(triple)
    stages.append(("rdflib Dataset build", time.perf_counter() - t))
    t = time.perf_counter()
    union = rdflib.Graph()
    for s, p, o, _ in ds.quads((None, None, None, None)):
        union.add((s, p, o))
    shapes = rdflib.Graph().parse(options.shapes, format="turtle")
    validate(union, shacl_graph=shapes, inference="none", advanced=True, allow_warnings=True)
    stages.append(("pySHACL whole graph", time.perf_counter() - t))
    for fmt, name in (("nquads", "base.nq"), ("trig", "base.trig"), ("turtle", "base.ttl"),
                      ("json-ld", "base.jsonld")):
        t = time.perf_counter()
        target = union if fmt == "turtle" else ds
        target.serialize(out / name, format=fmt)
        stages.append((f"rdflib {fmt}", time.perf_counter() - t))
    return stages


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--baseline", action="store_true")
    ap.add_argument("--baseline-max", type=int, default=1000)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child mode
    args = ap.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            report = run_size(args.one, args.jobs, args.baseline, Path(tmp))
        print("RESULT " + json.dumps(report))
        return 0
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(n), "--jobs", str(args.jobs)]
        if args.baseline and n <= args.baseline_max:
            cmd.append("--baseline")
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return proc.returncode
        line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
        report = json.loads(line[7:])
        wall = time.perf_counter() - started
        print(f"\n## {n} cases — {report['quads']:,} quads, --jobs {report['jobs']}, "
              f"peak RSS {report['rss_mb']:.0f} MB, process wall {wall:.1f} s")
        if report["cpu"]:
            print("CPU seconds inside the pool: " + ", ".join(
                f"{k} {v:.1f}" for k, v in sorted(report["cpu"].items())))
        print("| stage | wall (s) | quads/s |\n|---|---|---|")
        for name, secs, quads in report["stages"]:
            print(f"| {name} | {secs:.2f} | {quads / secs:,.0f} |")
        print(f"| **records → all dumps** | **{report['total']:.2f}** | "
              f"{report['quads'] / report['total']:,.0f} |")
        if "baseline" in report:
            print("\nNaive baseline (one rdflib Dataset, whole-graph pySHACL, rdflib serialisers):")
            print("| stage | wall (s) |\n|---|---|")
            for name, secs in report["baseline"]:
                print(f"| {name} | {secs:.2f} |")
            total = sum(s for _, s in report["baseline"])
            print(f"| **baseline total (after records are parsed and mapped)** | **{total:.2f}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
