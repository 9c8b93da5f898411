"""Queries per second: alkld's server vs Oxigraph server vs rdflib-endpoint, same data, same client.

Five query shapes (entity lookup, SELECT by disease, 2-hop join gene → case → drug,
GROUP BY aggregate, DESCRIBE as JSON-LD), each sent for ``--seconds`` by one client
(``requests.Session``, sequential, keep-alive) with ``--clients`` threads. Entity lookups and
DESCRIBEs cycle through every fact IRI of the release, so most requests differ.

alkld runs twice: with its result cache (default) and with ``--result-cache 0``.
Oxigraph serves the very store alkld built (``oxigraph serve-read-only``); rdflib-endpoint
serves the N-Quads dump loaded into an rdflib Dataset.

Usage: python benchmarks/server_qps.py [--out output] [--seconds 5] [--clients 2]
(needs ``pip install -e '.[bench]'``; prints a Markdown table).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pyoxigraph as ox
import requests

ROOT = Path(__file__).resolve().parent.parent
ALKLD = "https://w3id.org/alkld/ontology#"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
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


def measure(url: str, queries: list[str], accept: str, seconds: float, clients: int) -> float:
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
    return sum(done) / (time.monotonic() - start)


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
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--skip-rdflib", action="store_true")
    args = ap.parse_args()
    store = ox.Store.read_only(str(args.out / "store"))
    work = shapes(store)
    del store
    bin_dir = Path(sys.executable).parent
    oxigraph = shutil.which("oxigraph", path=str(bin_dir)) or shutil.which("oxigraph")
    if oxigraph is None:
        print("error: the oxigraph binary is missing: pip install -e '.[bench]'",
              file=sys.stderr)
        return 2
    servers: dict[str, tuple[list[str], str]] = {}
    p1, p2, p3, p4 = (free_port() for _ in range(4))
    servers["alkld"] = ([sys.executable, "-m", "alkld", "serve", "--out", str(args.out),
                         "--port", str(p1), "--workers", "2"], f"http://127.0.0.1:{p1}/sparql")
    servers["alkld (no result cache)"] = (
        [sys.executable, "-m", "alkld", "serve", "--out", str(args.out), "--port", str(p4),
         "--workers", "2", "--result-cache", "0"], f"http://127.0.0.1:{p4}/sparql")
    servers["oxigraph server"] = ([oxigraph, "serve-read-only", "--location",
                                   str(args.out / "store"), "--bind", f"127.0.0.1:{p2}",
                                   "--union-default-graph"], f"http://127.0.0.1:{p2}/query")
    tmp = Path(tempfile.mkdtemp())
    if not args.skip_rdflib:
        (tmp / "app.py").write_text(RDFLIB_APP)
        servers["rdflib-endpoint"] = ([sys.executable, str(tmp / "app.py"),
                                       str(args.out / "alkld.nq"), str(p3)],
                                      f"http://127.0.0.1:{p3}/")
    results: dict[str, dict[str, float]] = {}
    for name, (cmd, url) in servers.items():
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONWARNINGS": "ignore"})
        try:
            wait(url, proc)
            results[name] = {}
            for shape, (queries, accept) in work.items():
                seconds = args.seconds if name != "rdflib-endpoint" else min(args.seconds, 5)
                measure(url, queries[:3], accept, 0.5, 1)  # warm-up
                results[name][shape] = measure(url, queries, accept, seconds, args.clients)
                print(f"{name:26} {shape:24} {results[name][shape]:9.1f} q/s", flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    shutil.rmtree(tmp, ignore_errors=True)
    names = list(results)
    print()
    print("| shape | " + " | ".join(f"{n} (q/s)" for n in names)
          + " | alkld ÷ oxigraph | alkld (no cache) ÷ oxigraph | alkld ÷ rdflib-endpoint |")
    print("|---" * (len(names) + 4) + "|")
    for shape in work:
        row = [f"{results[n][shape]:.1f}" for n in names]
        a, nc = results["alkld"][shape], results["alkld (no result cache)"][shape]
        o = results["oxigraph server"][shape]
        r = results.get("rdflib-endpoint", {}).get(shape)
        print(f"| {shape} | " + " | ".join(row) + f" | {a / o:.2f}× | {nc / o:.2f}× | "
              + (f"{a / r:.1f}× |" if r else "– |"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
