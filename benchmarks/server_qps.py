"""Queries per second: alkld's server vs Oxigraph server vs rdflib-endpoint, same data, same client.

Five query shapes (entity lookup, SELECT by disease, 2-hop join gene → case → drug,
GROUP BY aggregate, DESCRIBE as JSON-LD) sent as SPARQL POST form requests over keep-alive
connections. Entity lookups and DESCRIBEs cycle through every fact IRI of the release, so
most requests differ.

The client is the same for every server and cheap enough not to be the bottleneck:
``wrk`` (Debian package ``wrk``; C, one thread, ``--connections`` keep-alive connections)
with ``benchmarks/wrk_sparql.lua``, which cycles through the request bodies of a shape.
``--client requests`` uses the old Python client (``requests.Session`` per thread), which
costs ~1 ms of CPU per request itself and caps every server near 1,000 q/s.

Every server is started and checked first, then each is measured alone while the
others sit idle: shape by shape, ``--rounds`` times (3 by default) in an order rotated
each round, warmed up for ``--warmup`` s before each measurement; the median round is
reported. The machine is shared and its speed drifts by a third within minutes: measured
in turn, every server meets the same drift. Every response must be a 2xx.

alkld runs three times: as configured by default (result cache; the store copied into memory
when it is at most 1 GiB), with ``--result-cache 0``, and with ``--result-cache 0
--in-memory no`` (RocksDB). Oxigraph runs twice: over the very store alkld built (``oxigraph
serve-read-only``, RocksDB) and in memory (``oxigraph serve`` without a location, the
N-Quads dump POSTed to ``/store``), the comparison of like with like for alkld's in-memory
default. rdflib-endpoint serves the N-Quads dump loaded into an rdflib Dataset. ``python
floor (in memory)`` (``benchmarks/server_floor.py``, not in the default set) is the least
any Python server over pyoxigraph must do a request: how close to Oxigraph's server Python
can get at all.

Usage: python benchmarks/server_qps.py [--out output] [--seconds 5] [--connections 4]
(needs ``pip install -e '.[bench]'`` and ``apt-get install wrk``; prints a Markdown table).
Run it under ``flock /tmp/alkld-bench.lock`` on a shared machine.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox
import requests

ROOT = Path(__file__).resolve().parent.parent
ALKLD = "https://w3id.org/alkld/ontology#"
LUA = Path(__file__).resolve().parent / "wrk_sparql.lua"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(url: str, proc: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.args}")
        try:
            r = requests.get(url, params={"query": "ASK {}"}, timeout=5,
                             headers={"Accept": "application/sparql-results+json"})
            if r.status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def shapes(store: ox.Store) -> dict[str, tuple[list[str], str]]:
    facts = sorted(q.subject.value for q in store.quads_for_pattern(
        None, ox.NamedNode(ALKLD + "evidence"), None, None))
    diseases = sorted({r["d"].value for r in store.query(
        f"SELECT DISTINCT ?d WHERE {{ ?x <{ALKLD}disease> ?d }}",
        use_default_graph_as_union=True)})
    lookup = [f"SELECT ?p ?o WHERE {{ <{f}> ?p ?o }}" for f in facts]
    by_disease = [f"""PREFIX alkld: <{ALKLD}>
SELECT ?case ?dx WHERE {{ ?case alkld:hasDiagnosis ?dx . ?dx alkld:disease <{d}> }}"""
                  for d in diseases]
    two_hop = [f"""PREFIX alkld: <{ALKLD}>
SELECT DISTINCT ?gene ?case ?drug WHERE {{
  ?case alkld:hasFusion/alkld:fivePrimePartner/alkld:gene ?gene ;
        alkld:hasTreatment/alkld:agent ?drug . }} ORDER BY ?gene ?case ?drug"""]
    group = [f"""PREFIX alkld: <{ALKLD}>
SELECT ?type (COUNT(?x) AS ?n) WHERE {{ ?x a ?type }} GROUP BY ?type ORDER BY DESC(?n)"""]
    describe = [f"DESCRIBE <{f}>" for f in facts]
    return {
        "entity lookup": (lookup, "application/sparql-results+json"),
        "SELECT by disease": (by_disease, "application/sparql-results+json"),
        "2-hop gene→case→drug": (two_hop, "application/sparql-results+json"),
        "GROUP BY aggregate": (group, "application/sparql-results+json"),
        "DESCRIBE as JSON-LD": (describe, "application/ld+json"),
    }


def _busy_jiffies() -> int:
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return fields[0] + fields[1] + fields[2]  # user, nice, system (as processes count them)


def _tree_jiffies(root: int) -> int:
    """CPU time (user + system, clock ticks) of ``root`` and all its descendants."""
    stats: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, total, grew = {root}, 0, True
    while grew:
        grew = False
        for pid, (ppid, _) in stats.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    for pid in tree:
        total += stats.get(pid, (0, 0))[1]
    return total


def foreign_cpu(seconds: float = 1.0) -> float:
    """Cores' worth of CPU used by other processes than this benchmark's, over ``seconds``."""
    ours0, all0 = _tree_jiffies(os.getpid()), _busy_jiffies()
    time.sleep(seconds)
    ours1, all1 = _tree_jiffies(os.getpid()), _busy_jiffies()
    return max(0.0, ((all1 - all0) - (ours1 - ours0)) / os.sysconf("SC_CLK_TCK") / seconds)


def wait_quiet(limit: float, patience: float) -> float:
    """Wait (up to ``patience`` s) until other processes use under ``limit`` cores."""
    deadline = time.monotonic() + patience
    while True:
        load = foreign_cpu()
        if load < limit or time.monotonic() > deadline:
            return load
        print(f"  (other processes use {load:.2f} cores; waiting)", file=sys.stderr,
              flush=True)
        time.sleep(4)


def check(url: str, queries: list[str], accept: str) -> None:
    """The first queries answer 200 with a body (a broken server must not look fast)."""
    for q in queries[:3]:
        r = requests.post(url, data={"query": q}, headers={"Accept": accept}, timeout=120)
        if r.status_code != 200 or not r.content:
            raise RuntimeError(f"{url}: {r.status_code} {r.text[:300]}")


def measure_wrk(url: str, bodies: Path, accept: str, seconds: float,
                connections: int) -> dict[str, float]:
    parts = urllib.parse.urlsplit(url)
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "60s",
           "-s", str(LUA), f"{parts.scheme}://{parts.netloc}", "--",
           str(bodies), accept, parts.path or "/"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    stats = json.loads(out.strip().splitlines()[-1])
    bad = {k: stats[k] for k in ("connect", "read", "write", "status", "timeout") if stats[k]}
    if bad:
        raise RuntimeError(f"{url}: wrk counted errors {bad}:\n{out}")
    return {"qps": stats["requests"] / (stats["duration_us"] / 1e6),
            "p50_ms": stats["p50_us"] / 1e3, "p99_ms": stats["p99_us"] / 1e3,
            "requests": stats["requests"]}


def measured(run: Callable[[], dict[str, float]], limit: float,
             tries: int = 3) -> dict[str, float]:
    """``run()`` with the CPU other processes used meanwhile (``foreign``, in cores);
    repeated up to ``tries`` times while that is over ``limit``; the quietest run is kept."""
    best: dict[str, float] | None = None
    for _ in range(tries):
        ours0, all0 = _tree_jiffies(os.getpid()), _busy_jiffies()
        start = time.monotonic()
        figures = run()
        elapsed = time.monotonic() - start
        ours1, all1 = _tree_jiffies(os.getpid()), _busy_jiffies()
        figures["foreign"] = max(0.0, ((all1 - all0) - (ours1 - ours0))
                                 / os.sysconf("SC_CLK_TCK") / elapsed)
        if best is None or figures["foreign"] < best["foreign"]:
            best = figures
        if figures["foreign"] < limit:
            break
        print(f"  (other processes used {figures['foreign']:.2f} cores; again)",
              file=sys.stderr, flush=True)
        wait_quiet(limit, 120)
    assert best is not None
    return best


def measure_requests(url: str, queries: list[str], accept: str, seconds: float,
                     clients: int) -> dict[str, float]:
    counter = itertools.count()
    done = [0] * clients
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        s = requests.Session()
        while time.monotonic() < stop:
            q = queries[next(counter) % len(queries)]
            r = s.post(url, data={"query": q}, headers={"Accept": accept}, timeout=60)
            if r.status_code != 200:
                errors.append(f"{r.status_code} {r.text[:200]}")
                return
            done[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{url}: {errors[0]}")
    return {"qps": sum(done) / (time.monotonic() - start), "requests": sum(done)}


RDFLIB_APP = textwrap.dedent("""
    import sys, uvicorn
    from rdflib import Dataset
    from rdflib_endpoint import SparqlEndpoint
    ds = Dataset(default_union=True)
    ds.parse(sys.argv[1], format="nquads")
    app = SparqlEndpoint(graph=ds, cors_enabled=True)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
""")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "output")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=3,
                    help="measurements of each server and shape, in rotating order; the "
                         "median is reported")
    ap.add_argument("--client", choices=["wrk", "requests"], default="wrk")
    ap.add_argument("--connections", type=int, default=4,
                    help="keep-alive connections (wrk) or threads (requests)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                    help="alkld serve --workers")
    ap.add_argument("--servers", default="alkld,alkld (no result cache),"
                    "alkld (no result cache; on disk),oxigraph server,"
                    "oxigraph server (in memory),rdflib-endpoint",
                    help="comma-separated subset to run")
    ap.add_argument("--shapes", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--server-log", type=Path, help="append the servers' output here")
    ap.add_argument("--quiet-below", type=float, default=0.15,
                    help="cores other processes may use during a measurement before it is "
                         "repeated (up to 3 times; the figure records it as 'foreign')")
    args = ap.parse_args()
    if args.client == "wrk" and shutil.which("wrk") is None:
        print("error: wrk is missing: apt-get install wrk (or --client requests)",
              file=sys.stderr)
        return 2
    store = ox.Store.read_only(str(args.out / "store"))
    work = shapes(store)
    del store
    if args.shapes:
        wanted = args.shapes.split(",")
        work = {k: v for k, v in work.items() if any(w.lower() in k.lower() for w in wanted)}
    bin_dir = Path(sys.executable).parent
    oxigraph = shutil.which("oxigraph", path=str(bin_dir)) or shutil.which("oxigraph")
    if oxigraph is None:
        print("error: the oxigraph binary is missing: pip install -e '.[bench]'",
              file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp())
    bodies: dict[str, Path] = {}
    for i, (shape, (queries, _)) in enumerate(work.items()):
        bodies[shape] = tmp / f"bodies-{i}.txt"
        bodies[shape].write_text("".join(urllib.parse.urlencode({"query": q}) + "\n"
                                         for q in queries))
    alkld = [sys.executable, "-m", "alkld", "serve", "--out", str(args.out),
             "--workers", str(args.workers)]
    servers: dict[str, tuple[list[str], str]] = {}
    p1, p2, p3, p4, p5, p6, p7 = (free_port() for _ in range(7))
    servers["alkld"] = ([*alkld, "--port", str(p1)], f"http://127.0.0.1:{p1}/sparql")
    servers["alkld (no result cache)"] = ([*alkld, "--port", str(p4), "--result-cache", "0"],
                                          f"http://127.0.0.1:{p4}/sparql")
    servers["alkld (no result cache; on disk)"] = (
        [*alkld, "--port", str(p5), "--result-cache", "0", "--in-memory", "no"],
        f"http://127.0.0.1:{p5}/sparql")
    servers["oxigraph server (in memory)"] = (
        [oxigraph, "serve", "--bind", f"127.0.0.1:{p6}", "--union-default-graph"],
        f"http://127.0.0.1:{p6}/query")
    servers["oxigraph server"] = ([oxigraph, "serve-read-only", "--location",
                                   str(args.out / "store"), "--bind", f"127.0.0.1:{p2}",
                                   "--union-default-graph"], f"http://127.0.0.1:{p2}/query")
    servers["python floor (in memory)"] = (
        [sys.executable, str(Path(__file__).resolve().parent / "server_floor.py"),
         str(args.out / "alkld.nq"), str(p7), str(args.workers)], f"http://127.0.0.1:{p7}/sparql")
    (tmp / "app.py").write_text(RDFLIB_APP)
    servers["rdflib-endpoint"] = ([sys.executable, str(tmp / "app.py"),
                                   str(args.out / "alkld.nq"), str(p3)],
                                  f"http://127.0.0.1:{p3}/")
    chosen = args.servers.split(",")
    servers = {k: v for k, v in servers.items() if k in chosen}
    results: dict[str, dict[str, dict[str, float]]] = {}
    rounds: dict[str, dict[str, list[dict[str, float]]]] = {name: {} for name in servers}
    procs: dict[str, subprocess.Popen] = {}
    logs = []
    try:
        # every server up first, each checked; then, shape by shape, each measured in turn
        # (one at a time, the others idle), the order rotated each round: a drift of the
        # machine's speed during the run falls on every server alike
        for name, (cmd, url) in servers.items():
            log = open(args.server_log, "a") if args.server_log else subprocess.DEVNULL
            if args.server_log:
                logs.append(log)
                print(f"--- {name}: {' '.join(cmd)}", file=log, flush=True)
            procs[name] = subprocess.Popen(cmd, stdout=log, stderr=log,
                                           env={**os.environ, "PYTHONWARNINGS": "ignore"})
            wait(url, procs[name])
            if name == "oxigraph server (in memory)":  # its data comes over HTTP
                with open(args.out / "alkld.nq", "rb") as fh:
                    r = requests.post(url.replace("/query", "/store"), data=fh, timeout=600,
                                      headers={"Content-Type": "application/n-quads"})
                r.raise_for_status()
            for queries, accept in work.values():
                check(url, queries, accept)
        names = list(servers)
        for shape, (queries, accept) in work.items():
            for turn in range(args.rounds):
                for name in names[turn % len(names):] + names[:turn % len(names)]:
                    url = servers[name][1]
                    if procs[name].poll() is not None:
                        raise RuntimeError(f"{name} exited during the run")
                    wait_quiet(args.quiet_below, 300)
                    if args.client == "wrk":
                        measure_wrk(url, bodies[shape], accept, args.warmup, args.connections)
                    else:
                        measure_requests(url, queries, accept, args.warmup, 1)
                    one = functools.partial(
                        measure_wrk if args.client == "wrk" else measure_requests, url,
                        bodies[shape] if args.client == "wrk" else queries, accept)
                    figures = measured(functools.partial(one, args.seconds, args.connections),
                                       args.quiet_below)
                    if figures["requests"] < 20:  # too slow to count in --seconds: longer
                        seconds = max(args.seconds,
                                      20 * args.seconds / max(1, figures["requests"]))
                        figures = measured(functools.partial(
                            one, min(seconds, 60.0), args.connections), args.quiet_below)
                    rounds[name].setdefault(shape, []).append(figures)
                    extra = "".join(f"  {k} {v:7.2f}" for k, v in figures.items()
                                    if k not in ("qps", "requests"))
                    print(f"{name:26} {shape:24} {figures['qps']:9.1f} q/s{extra}"
                          f"  (round {turn + 1})", flush=True)
                if args.rounds > 1:
                    print(flush=True)
        for name in names:
            results[name] = {}
            for shape, runs in rounds[name].items():
                middle = sorted(runs, key=lambda f: f["qps"])[len(runs) // 2]
                results[name][shape] = {**middle, "rounds": [f["qps"] for f in runs]}
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.wait(timeout=20)
        for log in logs:
            log.close()
    shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    names = list(results)
    ratios = [(a, b) for a in ("alkld", "alkld (no result cache)",
                               "alkld (no result cache; on disk)", "python floor (in memory)")
              for b in ("oxigraph server", "oxigraph server (in memory)", "rdflib-endpoint")
              if a in results and b in results]
    print()
    print("| shape | " + " | ".join(f"{n} (q/s)" for n in names) + " | "
          + " | ".join(f"{a} ÷ {b}" for a, b in ratios) + " |")
    print("|---" * (len(names) + len(ratios) + 1) + "|")
    for shape in work:
        row = [f"{results[n][shape]['qps']:.0f}" for n in names]
        row += [f"{results[a][shape]['qps'] / results[b][shape]['qps']:.2f}×"
                if results[b][shape]["qps"] else "–" for a, b in ratios]
        print(f"| {shape} | " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
