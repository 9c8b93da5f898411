"""A build stopped by a signal, or killed outright, on the real command line and process pool.

Each build runs as ``python -m alkld build --jobs 2`` in a session of its own, so that its
process group holds the build, multiprocessing's forkserver and the pool's workers; the
tests read that group from /proc.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alkld.synth import Pools, write_synthetic
from tests.conftest import ROOT, tree_digest

#: How long the processes of a stopped build may take to go (a bound, not a measurement).
GONE_WITHIN = 30.0


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A few synthetic records (a quick build) and 1,000 cases (a build that takes a while)."""
    root = tmp_path_factory.mktemp("interrupt")
    pools = Pools.from_cases(ROOT / "cases")
    write_synthetic(root / "small", pools, cases=6, seed=1, per_file=3)
    write_synthetic(root / "large", pools, cases=1000, seed=2, per_file=50)
    return root / "small", root / "large"


class Build:
    """``alkld build --jobs 2`` in a session of its own; its output goes to files.

    Files, not pipes: workers that outlive the build would hold a pipe open, and reading it
    would wait for them.
    """

    def __init__(self, cases: Path, out: Path) -> None:
        def default_sigint() -> None:  # Python then turns it into KeyboardInterrupt
            signal.signal(signal.SIGINT, signal.SIG_DFL)

        self.log = out.parent / f"build-{time.monotonic_ns()}.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "alkld", "build", "--cases", str(cases),
                 "--out", str(out), "--no-cache", "--jobs", "2"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=default_sigint)  # noqa: PLW1509 - the test starts no threads
        self.pid = self.proc.pid

    def wait(self) -> tuple[int, str]:
        """The exit code and the output, once the build process has ended."""
        code = self.proc.wait(timeout=300)
        return code, self.log.read_text(encoding="utf-8")


def _group(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def _staging(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.staging-*"))


def _when_records_flow(build: Build, out: Path) -> None:
    """Wait until the pool's workers run and the staged dumps have grown past 1 MB."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert build.proc.poll() is None, f"the build ended first: {build.wait()}"
        staged = [p for d in _staging(out) for p in d.iterdir() if p.is_file()]
        if len(_group(build.pid)) >= 4 and any(p.stat().st_size > 1 << 20 for p in staged):
            return
        time.sleep(0.05)
    raise AssertionError("the build did not reach its records stage within 120 s")


def _gone(pgid: int) -> list[int]:
    """Wait (at most GONE_WITHIN) for group ``pgid`` to empty; return who is left."""
    deadline = time.monotonic() + GONE_WITHIN
    while (left := _group(pgid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
def test_a_build_stopped_by_a_signal_changes_nothing_and_leaves_nothing(
        records, tmp_path, sig, code):
    small, large = records
    out = tmp_path / "out"
    first, output = Build(small, out).wait()
    assert first == 0, output
    before = tree_digest(out)

    build = Build(large, out)
    _when_records_flow(build, out)
    assert _staging(out)
    build.proc.send_signal(sig)
    returncode, output = build.wait()

    assert returncode == code, output
    assert f"interrupted ({sig.name}): stopped" in output
    assert f"nothing in {out}/ was changed" in output
    assert "Traceback" not in output
    assert tree_digest(out) == before  # the previous release, byte for byte
    assert _staging(out) == []
    assert _gone(build.pid) == []  # the forkserver and the pool's workers too


def test_a_killed_build_takes_its_workers_along_and_the_next_build_clears_its_staging(
        records, tmp_path):
    small, large = records
    out = tmp_path / "out"
    build = Build(large, out)
    _when_records_flow(build, out)
    os.kill(build.pid, signal.SIGKILL)  # nothing of the build runs after this
    build.wait()

    assert _gone(build.pid) == [], "the pool's workers outlived the build"
    stale = _staging(out)
    assert [p.name for p in stale] == [f".out.staging-{build.pid}"]

    returncode, output = Build(small, out).wait()
    assert returncode == 0, output
    assert f"removing {stale[0]}, left by a build that did not finish" in output
    assert _staging(out) == []
    assert (out / "alkld.nq").stat().st_size > 0


def test_the_staging_of_a_build_still_running_is_left_alone(records, tmp_path):
    small, _ = records
    out = tmp_path / "out"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        other = tmp_path / f".out.staging-{sleeper.pid}"
        other.mkdir()
        (other / "alkld.nq").write_bytes(b"")
        returncode, output = Build(small, out).wait()
        assert returncode == 0, output
        assert other.is_dir() and "removing" not in output
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize(("sig", "code", "said"), [
    (signal.SIGHUP, 129, "interrupted (SIGHUP): stopped"),  # a terminal closed
    (signal.SIGTERM, 0, None),  # `kill` of the group, a container stopped: a normal stop
], ids=["SIGHUP", "SIGTERM"])
def test_a_signal_to_the_servers_group_stops_it_and_its_workers(release, tmp_path, sig,
                                                                code, said):
    """The supervisor stops the workers and exits; no worker is restarted on the way
    (the workers get the signal too, and may end before the supervisor has seen it)."""
    from tests.conftest import free_port

    _, out = release
    port = free_port()
    log = tmp_path / "serve.log"

    def default_hup() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_DFL)

    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "alkld", "serve", "--out", str(out), "--port", str(port),
             "--workers", "2"], cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=default_hup)  # noqa: PLW1509
    try:
        deadline = time.monotonic() + 120
        while "serving " not in log.read_text() or len(_group(proc.pid)) < 3:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        os.killpg(proc.pid, sig)
        returncode = proc.wait(timeout=60)
        output = log.read_text()
        assert returncode == code, output
        if said is not None:
            assert said in output.rpartition("Ctrl-C stops")[2]
        assert "starting another" not in output
        assert _gone(proc.pid) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
