"""Scale: synthetic cases from records to every dump and the store, per stage, beside a baseline.

For each size N (default 1k, 10k, 100k), in a fresh process: ``alkld synth`` writes N cases
(seed 42, 100 cases a file; not timed as part of the build), then :func:`alkld.pipeline.build`
runs with ``--jobs`` processes and no record cache, exactly as ``alkld build --no-cache``
does. Printed per stage: wall time, quads/s; the CPU seconds of each per-record sub-stage
summed over the pool's workers; and the peak RSS of the whole process tree (the build
process, its store thread, and its pool workers, summed, sampled every 0.2 s from /proc).

Right before and after each size, :func:`calibrate` prints the machine's speed: the CPU a
case of the pool worker's loop (``worker_loop.py``) on 300 synthetic cases in one process.
This machine's speed drifts by a quarter within the hour; that figure says which speed a
run had.

The naive baseline (``--baseline``, at sizes ≤ ``--baseline-max``) is the obvious approach:
all triples in one rdflib Dataset, one whole-graph pySHACL run, rdflib's serialisers.

Usage: python benchmarks/scale.py [--sizes 1000 10000 100000] [--jobs 2] [--baseline]
Run it under ``flock /tmp/alkld-bench.lock`` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _tree_rss_kb(root: int) -> int:
    """Resident memory of ``root`` and all its descendants (kB), from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields.get("PPid", "0").strip()), []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


class PeakRss:
    """Samples the process tree's summed RSS in a thread; ``peak_mb`` is the largest seen."""

    def __init__(self, interval: float = 0.2) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(os.getpid()))
            self._stop.wait(interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


def _cpu_seconds() -> float:
    """User + system CPU of this process (its threads: the store's bulk loader included).

    The pool's workers are children of the forkserver, not of this process: their CPU is
    the per-record ``cpu`` timing the build sums.
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def run_size(n: int, jobs: int, baseline: bool, work: Path) -> dict:
    from alkld import native
    from alkld.pipeline import BuildOptions, build
    from alkld.synth import Pools, write_synthetic

    cases = work / "cases"
    out = work / "out"
    t = time.perf_counter()
    write_synthetic(cases, Pools.from_cases(ROOT / "cases"), cases=n, seed=42)
    synth_s = time.perf_counter() - t
    options = BuildOptions(cases=cases, mappings=ROOT / "mappings",
                           ontology=ROOT / "ontology/alkld.ttl",
                           shapes=ROOT / "shapes/alkld.shapes.ttl",
                           vocabulary=ROOT / "mappings/vocabulary.ttl", out=out)
    before = _cpu_seconds()
    with PeakRss() as rss:
        t = time.perf_counter()
        result = build(options, jobs=jobs, cache=False)
        total = time.perf_counter() - t
    cpu_parent = _cpu_seconds() - before
    load = os.getloadavg()
    assert not result.violations
    sizes = {p.name: p.stat().st_size for p in out.iterdir() if p.is_file()}
    sizes["store/"] = sum(p.stat().st_size for p in (out / "store").rglob("*") if p.is_file())
    report = {"n": n, "quads": result.quads, "stages": result.timings, "total": total,
              "rss_mb": rss.peak_mb, "jobs": jobs, "cpu": result.cpu, "synth": synth_s,
              "sizes": sizes, "graphs": len(result.graphs), "cpu_parent": cpu_parent,
              "loadavg": load, "allocator": str(native.loaded() or "C library malloc"),
              "workers_preload": str(native.library() or "none")}
    if baseline:
        report["baseline"] = run_baseline(options, out)
    return report


def run_baseline(options, out: Path) -> list[tuple[str, float]]:
    import rdflib
    from pyshacl import validate

    from alkld.pipeline import assemble

    stages: list[tuple[str, float]] = []
    t = time.perf_counter()
    release = assemble(options)
    stages.append(("records → rdflib triples (serial)", time.perf_counter() - t))
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


STAGE_NAMES = [
    ("prepare", "prepare (mapping tables, vocabulary, shapes)"),
    ("records", "records: load + map + RDF + SHACL (rudof) + serialise, pool; written out"),
    ("global checks", "global checks (duplicate IRIs, on digests)"),
    ("claims", "claims graph"),
    ("dumps", "dumps: nq, trig, ttl, jsonld finished (spooled graphs placed)"),
    ("void", "VoID/DCAT, schema.org, SHA256SUMS"),
    ("store wait", "waiting for the store after the dumps"),
]


def calibrate(work: Path, cases: int = 300) -> float:
    """The machine's speed now: the pool worker's loop (``worker_loop.py``), CPU ms a case.

    This machine's speed drifts by a quarter within the hour, and a build's time follows it:
    measured right before and after each build, the same fixed work (``cases`` synthetic
    cases, seed 42, loaded, built, serialised and validated in one fresh process) says at
    what speed the machine ran.
    """
    from alkld.synth import Pools, write_synthetic

    directory = work / f"cases-{cases}"
    if not directory.is_dir():
        write_synthetic(directory, Pools.from_cases(ROOT / "cases"), cases=cases, seed=42)
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "worker_loop.py"), "--one",
                           "--cases", str(cases), "--work", str(work)],
                          capture_output=True, text=True, check=True)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return float(json.loads(line[7:])["cpu"])


def interpreter() -> str:
    """The Python the build and its workers run on: path, version, how libpython is linked.

    Its build matters to the Python stages (3–17 % of their CPU between Debian's
    statically linked, PGO-built 3.11 and pyenv's ``--enable-shared`` one without
    optimisation flags: benchmarks/RESULTS.md); the configure flags that say so are printed
    when declared.
    """
    import platform
    import sysconfig

    args = str(sysconfig.get_config_var("CONFIG_ARGS") or "")
    flags = [f for f in ("--enable-optimizations", "--with-lto") if f in args]
    # what this process mapped, not sysconfig (Debian's static binary reports Py_ENABLE_SHARED)
    maps = Path("/proc/self/maps")
    shared = "libpython" in maps.read_text() if maps.exists() else None
    linked = {True: "libpython.so", False: "libpython linked in", None: "libpython: unknown"}
    return (f"{sys.executable} (Python {platform.python_version()}, {linked[shared]}"
            f"{', configured ' + ' '.join(flags) if flags else ''})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--baseline", action="store_true")
    ap.add_argument("--baseline-max", type=int, default=1000)
    ap.add_argument("--work", type=Path, help="directory for the synthetic cases and output")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child mode
    args = ap.parse_args()
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
    if args.one:
        with tempfile.TemporaryDirectory(dir=args.work) as tmp:
            report = run_size(args.one, args.jobs, args.baseline, Path(tmp))
        print("RESULT " + json.dumps(report))
        return 0
    calibration = Path(tempfile.mkdtemp(prefix="alkld-calibration-", dir=args.work))
    try:
        return _run_sizes(args, calibration)
    finally:
        shutil.rmtree(calibration, ignore_errors=True)


def _run_sizes(args: argparse.Namespace, calibration: Path) -> int:
    """Each size in a fresh process, the machine's speed measured before and after it."""
    from alkld import native

    for n in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(n), "--jobs", str(args.jobs)]
        if args.work:
            cmd += ["--work", str(args.work)]
        if args.baseline and n <= args.baseline_max:
            cmd.append("--baseline")
        speed = [calibrate(calibration)]
        started = time.perf_counter()
        # the build's process runs with the allocator `alkld build` restarts with (and its
        # pool workers always do): ALKLD_MALLOC=system in front measures without it
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              env=native.preload_env())
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return proc.returncode
        line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
        report = json.loads(line[7:])
        wall = time.perf_counter() - started
        speed.append(calibrate(calibration))
        quads = report["quads"]
        print(f"\n## {n:,} cases — {quads:,} quads in {report['graphs']:,} graphs, "
              f"--jobs {report['jobs']}, peak RSS (process tree) {report['rss_mb']:,.0f} MB, "
              f"synth {report['synth']:.1f} s, process wall {wall:.1f} s")
        if report["cpu"]:
            print("Seconds inside the pool (wall time in the workers), summed over records: "
                  + ", ".join(f"{k} {v:.1f}" for k, v in sorted(report["cpu"].items())
                              if k != "cpu"))
        print("| stage | wall (s) | quads/s |\n|---|---:|---:|")
        stages = report["stages"]
        for key, label in STAGE_NAMES:
            if key in stages:
                secs = stages[key]
                print(f"| {label} | {secs:.2f} | {quads / secs:,.0f} |" if secs > 0.01
                      else f"| {label} | {secs:.2f} | |")
        if "store" in stages:
            print(f"| (store: one bulk load in a thread, from the first quad to the "
                  f"optimised store) | {stages['store']:.2f} | |")
            for key, secs in stages.items():
                if key.startswith("store: "):
                    print(f"| ({key}) | {secs:.2f} | |")
        print(f"| **records → all dumps and the store** | **{report['total']:.2f}** | "
              f"{quads / report['total']:,.0f} |")
        workers = report["cpu"].get("cpu", 0.0)
        busy = (report["cpu_parent"] + workers) / report["total"]
        print(f"CPU: build process (with the store's loader thread) {report['cpu_parent']:.1f} s, "
              f"pool workers {workers:.1f} s = {busy:.2f} cores busy on average; "
              f"load average at the end {report['loadavg'][0]:.2f} (1 min), "
              f"{report['loadavg'][1]:.2f} (5 min)")
        print(f"allocator: build process {report.get('allocator')} (mapped); "
              f"preloaded for the pool's workers: {report.get('workers_preload')}")
        print(f"interpreter: {interpreter()}")
        print("sizes: " + ", ".join(f"{k} {v / 1e6:,.1f} MB"
                                   for k, v in sorted(report["sizes"].items())))
        print(f"machine speed (benchmarks/worker_loop.py, 300 synthetic cases, one process): "
              f"{speed[0]:.2f} ms of CPU a case before the build, {speed[1]:.2f} after")
        if "baseline" in report:
            print("\nNaive baseline (one rdflib Dataset, whole-graph pySHACL, rdflib serialisers):")
            print("| stage | wall (s) |\n|---|---:|")
            for name, secs in report["baseline"]:
                print(f"| {name} | {secs:.2f} |")
            total = sum(s for _, s in report["baseline"])
            print(f"| **baseline total** | **{total:.2f}** |")
            print(f"The baseline took {total / report['total']:,.1f}× this build's "
                  f"{report['total']:.2f} s, in the same run on the same cases.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
