"""A pool worker's loop in one process: CPU a case by stage, and variants compared side by side.

The build's pool worker runs ``load_record`` then ``stream_record`` (RDF, the four dump
serialisations, SHACL with rudof, the claims) for each record; this script does the same
over N synthetic cases, outside the pool, and prints milliseconds a case per stage (wall,
as the build's timings) and the process's CPU a case.

On a shared machine whose speed drifts by a quarter within minutes, two variants measured
one after the other differ by the drift. ``--compare`` runs them **at the same time**, one
process a core, for ``--rounds`` rounds, so that each pair sees the same machine; a variant
is a set of environment variables, e.g. the allocator (:mod:`alkld.native`)::

    python benchmarks/worker_loop.py --cases 600 --work /tmp/bench/wl \\
        --compare "ALKLD_MALLOC=system" "" --rounds 6

``PYTHON=…`` in a variant runs it on that interpreter (a virtual environment's ``python``
with alkld installed), e.g. ``--compare "PYTHON=/tmp/venv-deb/bin/python" ""``.

Each variant's process restarts itself with the build's allocator unless its environment
says ``ALKLD_MALLOC=system`` (as ``alkld build`` does).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def measure(cases: Path) -> dict[str, Any]:
    """Stage milliseconds a case (wall) and CPU milliseconds a case over ``cases``."""
    from alkld.pipeline import BuildOptions, _rudof, prepare, stream_record
    from alkld.publish.compact import GraphCompactor
    from alkld.publish.dumps import context_document
    from alkld.records.loader import iter_record_paths, load_record

    ctx = prepare(BuildOptions(cases=cases, mappings=ROOT / "mappings",
                               ontology=ROOT / "ontology/alkld.ttl",
                               shapes=ROOT / "shapes/alkld.shapes.ttl",
                               vocabulary=ROOT / "mappings/vocabulary.ttl",
                               out=cases.parent / "out"))
    compactor = GraphCompactor(context_document(ctx.base)["@context"])
    _rudof(ctx.shapes)
    gc.collect()  # as the pool's workers do (alkld.pipeline._init_worker)
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    totals: dict[str, float] = {}
    n = 0
    cpu = time.process_time()
    for path in iter_record_paths(cases):
        started = time.perf_counter()
        loaded = load_record(path)
        elapsed = time.perf_counter() - started
        out = stream_record(loaded, ctx, validator="rudof", compactor=compactor)
        out.timings["load"] = elapsed
        for stage, secs in out.timings.items():
            totals[stage] = totals.get(stage, 0.0) + secs
        n += len(loaded.record.cases)
    report: dict[str, Any] = {stage: 1000 * secs / n for stage, secs in totals.items()}
    report["cpu"] = 1000 * (time.process_time() - cpu) / n
    return report


def _variant(spec: str) -> tuple[str | None, dict[str, str]]:
    """A variant's interpreter (its ``PYTHON=…``, else None) and its process environment."""
    items = dict(item.partition("=")[::2] for item in spec.split())
    python = items.pop("PYTHON", None)
    return python, {**os.environ, **items}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=600)
    ap.add_argument("--work", type=Path, required=True, help="where the synthetic cases go")
    ap.add_argument("--compare", nargs="+", metavar="ENV",
                    help="variants run side by side: 'NAME=VALUE …' each ('' = as is)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # child mode
    args = ap.parse_args()
    for v in args.compare or []:
        python, _ = _variant(v)
        if python is not None and not os.access(python, os.X_OK):
            print(f"worker_loop.py: --compare {v!r}: {python} is not an executable "
                  "interpreter (expected a virtual environment's python with alkld installed)",
                  file=sys.stderr)
            return 2
    from alkld import native

    cases = args.work / f"cases-{args.cases}"
    if args.one:
        native.reexec([sys.executable, __file__, *sys.argv[1:]])
        report = measure(cases)
        report["allocator"] = str(native.loaded() or "C library malloc")
        print("RESULT " + json.dumps(report))
        return 0
    if not cases.is_dir():
        from alkld.synth import Pools, write_synthetic

        write_synthetic(cases, Pools.from_cases(ROOT / "cases"), cases=args.cases, seed=42)
    variants = args.compare or [""]
    child = [sys.executable, __file__, "--one", "--cases", str(args.cases),
             "--work", str(args.work)]
    print(f"## pool worker's loop, {args.cases:,} synthetic cases, ms a case; "
          + ("variants side by side, one process a core" if len(variants) > 1 else "one process"))
    print("| round | variant | allocator | load | RDF | serialise | SHACL | CPU |")
    print("|---:|---|---|---:|---:|---:|---:|---:|")
    for r in range(1, args.rounds + 1):
        procs = []
        for v in variants:
            python, env = _variant(v)
            procs.append(subprocess.Popen([python or child[0], *child[1:]], env=env,
                                          stdout=subprocess.PIPE, text=True))
        for variant, proc in zip(variants, procs, strict=True):
            stdout, _ = proc.communicate()
            if proc.returncode != 0:
                return proc.returncode
            rep = json.loads(next(x for x in stdout.splitlines() if x.startswith("RESULT "))[7:])
            print(f"| {r} | {variant or '(as is)'} | {Path(rep['allocator']).name} | "
                  f"{rep['load']:.2f} | {rep['rdf']:.2f} | {rep['serialise']:.2f} | "
                  f"{rep['shacl']:.2f} | {rep['cpu']:.2f} |")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
