"""Publishing a release into a remote store: ``alkld publish`` into an Oxigraph server.

Builds a synthetic release of ``--cases`` cases (``alkld synth`` + ``alkld build
--no-cache``; or takes ``--release DIR``), starts an Oxigraph server (the ``oxigraph``
wheel's binary) on a free loopback port with its data under ``--work``, and runs
``alkld publish`` into it as a child process, twice: the first run writes every graph, the
second finds every graph unchanged (what a rerun after a failure costs before it resumes).
With several ``--parallel`` values, each gets an empty server and no state, in turn.
Printed per run: wall time, graphs and triples a second, the CPU of the publisher and of
the server, and the publisher's peak RSS (from ``wait4``).

Usage: python benchmarks/publish.py --cases 10000 [--dialect oxigraph|oxigraph-update]
       [--batch 8] [--parallel 1 2 4] [--work DIR]
Run it under ``flock /tmp/alkld-bench.lock`` on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TICK = os.sysconf("SC_CLK_TCK")
#: alkld publish's last line: "published G graph(s) (T triples) to URL [dialect]; U unchanged"
SUMMARY = re.compile(r"published (\d+) graph\(s\) \((\d+) triples\) .*; (\d+) unchanged")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def release(cases: int, work: Path) -> Path:
    out = work / "release"
    if (out / "alkld.nq").exists():
        return out
    records = work / "cases"
    subprocess.run([BIN / "alkld", "-q", "synth", "--cases", str(cases), "--seed", "42",
                    "--out", str(records)], check=True)
    started = time.perf_counter()
    subprocess.run([BIN / "alkld", "-q", "build", "--cases", str(records), "--out", str(out),
                    "--no-cache"], check=True, cwd=ROOT)
    print(f"release: {cases:,} synthetic cases built in {time.perf_counter() - started:.1f} s")
    return out


def start_server(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    data = work / "server"
    shutil.rmtree(data, ignore_errors=True)
    proc = subprocess.Popen([BIN / "oxigraph", "serve", "--location", str(data),
                             "--bind", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the Oxigraph server did not start")


def run_publish(out: Path, url: str, dialect: str, batch: int, parallel: int, server: int,
                label: str) -> None:
    cmd = [str(BIN / "alkld"), "-q", "publish", "--store", url, "--dialect", dialect,
           "--batch", str(batch), "--parallel", str(parallel), "--out", str(out)]
    server_before = cpu_of(server)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    summary = proc.stderr.read().strip().splitlines() if proc.stderr else []
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("\n".join(summary[-20:]))
    found = SUMMARY.search(summary[-1] if summary else "")
    if found is None:
        raise SystemExit(f"no summary line from alkld publish: {summary[-3:]}")
    graphs, triples, unchanged = (int(x) for x in found.groups())
    print(f"| {label} | {graphs:,} / {unchanged:,} | {wall:.1f} | "
          f"{(graphs + unchanged) / wall:,.0f} | {triples / wall:,.0f} | "
          f"{usage.ru_utime + usage.ru_stime:.1f} | {cpu_of(server) - server_before:.1f} | "
          f"{usage.ru_maxrss / 1024:,.0f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--release", type=Path, help="an existing release (alkld build --out)")
    parser.add_argument("--dialect", default="oxigraph",
                        choices=["oxigraph", "oxigraph-update"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--parallel", type=int, nargs="+", default=[1],
                        help="requests in flight (each value a run on an empty server)")
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="alkld-publish-"))
    work.mkdir(parents=True, exist_ok=True)
    out = args.release or release(args.cases, work)
    print(f"\n## alkld publish --dialect {args.dialect} --batch {args.batch}: {out}")
    print("| run | graphs written / unchanged | wall (s) | graphs/s | triples/s | "
          "publisher CPU (s) | server CPU (s) | publisher peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    try:
        for parallel in args.parallel:
            for state in out.glob(".publish-state*"):
                state.unlink()
            server, url = start_server(work)
            try:
                for label in ("first (every graph)", "again (nothing to do)"):
                    run_publish(out, url, args.dialect, args.batch, parallel, server.pid,
                                f"--parallel {parallel}: {label}")
            finally:
                server.terminate()
                server.wait(timeout=60)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
