"""Incremental rebuilds: a build with the record cache, then one record edited, then again.

``alkld synth`` writes ``--cases`` cases (seed 42, 100 cases a file); then, each in this
process, :func:`alkld.pipeline.build` with ``cache=True`` (what ``alkld build`` runs):

1. cold: an empty cache (every record built, and cached);
2. one record edited (its first case's description): that record is built again, the other
   records' graphs come from the cache, and the store and the dumps are written anew;
3. nothing edited: every record from the cache.

Printed for each: wall time per stage, the records built / taken from the cache, and the
CPU of this process (with the store's threads; not the pool's workers, whose timings a
cached record carries from the build that made it).

Usage: python benchmarks/rebuild.py --cases 10000 [--jobs 2] [--work DIR]
Run it under ``flock /tmp/alkld-bench.lock`` on a shared machine.
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STAGES = ("prepare", "records", "global checks", "claims", "dumps", "void", "store wait")


class _Count(logging.Handler):
    """Keeps the record cache's log line ("record cache: H unchanged, M to build")."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.line = ""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("record cache:"):
            self.line = message


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def main() -> int:
    from alkld.pipeline import BuildOptions, build
    from alkld.synth import Pools, write_synthetic

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="alkld-rebuild-"))
    work.mkdir(parents=True, exist_ok=True)
    cases = work / "cases"
    shutil.rmtree(cases, ignore_errors=True)
    write_synthetic(cases, Pools.from_cases(ROOT / "cases"), cases=args.cases, seed=42)
    shutil.rmtree(work / "cache", ignore_errors=True)
    options = BuildOptions(cases=cases, mappings=ROOT / "mappings",
                           ontology=ROOT / "ontology/alkld.ttl",
                           shapes=ROOT / "shapes/alkld.shapes.ttl",
                           vocabulary=ROOT / "mappings/vocabulary.ttl", out=work / "out",
                           cache_dir=work / "cache")
    counter = _Count()
    logging.getLogger("alkld.pipeline").addHandler(counter)
    logging.getLogger("alkld.pipeline").setLevel(logging.INFO)

    print(f"\n## {args.cases:,} synthetic cases, --jobs {args.jobs}, with the record cache")
    print("| build | records built / cached | " + " | ".join(STAGES)
          + " | **total** | CPU of the build process (s) |")
    print("|---|---|" + "---:|" * (len(STAGES) + 2))
    for label in ("cold (empty cache)", "one record edited", "nothing edited"):
        if label == "one record edited":
            first = sorted(cases.glob("*.yaml"))[0]
            text = first.read_text(encoding="utf-8")
            edited = text.replace("synthetic case", "synthetic case (edited)", 1)
            if edited == text:
                raise SystemExit(f"{first}: nothing to edit")
            first.write_text(edited, encoding="utf-8")
        cpu = _cpu()
        started = time.perf_counter()
        result = build(options, jobs=args.jobs, cache=True)
        total = time.perf_counter() - started
        cached, built = (counter.line.split(": ", 1)[1].split(", ") + ["?", "?"])[:2]
        stages = " | ".join(f"{result.timings.get(s, 0.0):.1f}" for s in STAGES)
        print(f"| {label} | {built.split()[0]} / {cached.split()[0]} | {stages} | "
              f"**{total:.1f}** | {_cpu() - cpu:.0f} |")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
