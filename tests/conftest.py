"""Shared fixtures: the repository's inputs, and a release built once per session."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alkld.pipeline import BuildOptions, BuildResult, build

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def repo_options(out: Path, **kw: object) -> BuildOptions:
    """Build options pointing at the repository's cases, mappings, ontology and shapes."""
    defaults: dict[str, object] = dict(
        cases=ROOT / "cases", mappings=ROOT / "mappings", ontology=ROOT / "ontology/alkld.ttl",
        shapes=ROOT / "shapes/alkld.shapes.ttl", vocabulary=ROOT / "mappings/vocabulary.ttl",
        out=out)
    defaults.update(kw)
    return BuildOptions(**defaults)  # type: ignore[arg-type]


def tree_digest(directory: Path) -> dict[str, str]:
    """SHA-256 of every file under ``directory`` (the store's files included)."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[BuildResult, Path]:
    """The real release, built once from the repository's records into a temp directory."""
    out = tmp_path_factory.mktemp("release")
    result = build(repo_options(out))
    return result, out


@pytest.fixture()
def cases_copy(tmp_path: Path) -> Path:
    """A writable copy of the repository's cases directory."""
    target = tmp_path / "cases"
    shutil.copytree(ROOT / "cases", target)
    return target


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(out: Path, *args: str, port: int | None = None) -> Iterator[str]:
    """Run ``alkld serve`` on a loopback port over the release in ``out``; yield its URL."""
    import requests

    port = port or free_port()
    cmd = [sys.executable, "-m", "alkld", "serve", "--out", str(out), "--port", str(port),
           "--queries", str(ROOT / "queries"), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                output = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"alkld serve exited with {proc.returncode}:\n{output}")
            try:
                requests.get(url + "/sparql?query=ASK%7B%7D", timeout=2).raise_for_status()
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def server(release: tuple[BuildResult, Path]) -> Iterator[str]:
    """The real server over the session's release: 2 s timeout, 50-row cap, 20 kB bodies."""
    _, out = release
    with running_server(out, "--timeout", "2", "--row-cap", "50", "--max-body", "20000",
                        "--workers", "2") as url:
        yield url


def seeds_dir() -> Path:
    """The five source documents (never copied into the project: full texts stay outside).

    ``$ALKLD_SEEDS``, else ``../shared/seeds`` beside the checkout, else ``/work/shared/seeds``.
    Their absence is an error: the traceability tests cannot run without them.
    """
    import os

    candidates = [Path(os.environ["ALKLD_SEEDS"])] if os.environ.get("ALKLD_SEEDS") else []
    candidates += [ROOT.parent / "shared" / "seeds", Path("/work/shared/seeds")]
    for candidate in candidates:
        if candidate.is_dir() and any(candidate.glob("*.txt")):
            return candidate
    raise RuntimeError("seed documents not found in " + ", ".join(map(str, candidates))
                       + "; set ALKLD_SEEDS to their directory")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI (``ALKLD_FORBID_SKIPS=1``, set by ``.ci/run``) a skipped test is a failure."""
    import os

    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("ALKLD_FORBID_SKIPS") == "1" \
            and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every component is required: {report.longrepr}"
