"""The build's native allocator (alkld.native): found, preloaded into the pool and the CLI.

Each check runs real processes and reads their ``/proc/<pid>/maps``: an allocator only
replaces malloc in a process started with it, so nothing here can be seen in-process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alkld import native
from alkld.errors import ConfigurationError

from .conftest import ROOT

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="LD_PRELOAD and /proc: Linux")

DUMPS = ("alkld.trig", "alkld.nq", "alkld.ttl", "alkld.jsonld", "void.ttl", "dataset.jsonld",
         "context.jsonld", "SHA256SUMS")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "MALLOC_CONF", native.ENV, "ALKLD_MALLOC_REEXEC")}
    env["SOURCE_DATE_EPOCH"] = "1700000000"
    env.update(extra)
    return env


def test_the_system_jemalloc_is_the_default(monkeypatch):
    monkeypatch.delenv(native.ENV, raising=False)
    lib = native.library()
    if lib is None:  # a failure in CI (.ci/run installs libjemalloc2)
        pytest.skip("libjemalloc.so.2 not installed (apt-get install libjemalloc2)")
    assert lib.is_file() and lib.name == native.SONAME and lib.is_absolute()
    assert native.loaded() in (None, lib)  # pytest itself: whatever it was started with


def test_system_and_a_named_library_and_a_missing_one(monkeypatch, tmp_path):
    monkeypatch.setenv(native.ENV, "system")
    assert native.library() is None
    assert "LD_PRELOAD" not in native.preload_env({"PATH": "/usr/bin"})
    named = tmp_path / "libmine.so"
    named.write_bytes(b"")  # library() checks the path; the loader never sees this one
    monkeypatch.setenv(native.ENV, str(named))
    assert native.library() == named
    env = native.preload_env({"LD_PRELOAD": "/x/libother.so"})
    assert env["LD_PRELOAD"] == f"{named}:/x/libother.so"
    monkeypatch.setenv(native.ENV, str(tmp_path / "libnothing.so"))
    with pytest.raises(ConfigurationError) as e:
        native.library()
    assert native.ENV in str(e.value) and "libnothing.so" in str(e.value)


def _require_jemalloc() -> Path:
    lib = native.library()
    if lib is None:  # a failure in CI (.ci/run installs libjemalloc2)
        pytest.skip("libjemalloc.so.2 not installed (apt-get install libjemalloc2)")
    return lib


def test_a_process_started_with_preload_env_has_the_allocator_mapped():
    lib = _require_jemalloc()
    probe = "from alkld import native; print(native.loaded() or '-')"
    base = _env()
    with_lib = subprocess.run([sys.executable, "-c", probe], env=native.preload_env(base),
                              capture_output=True, text=True, check=True)
    without = subprocess.run([sys.executable, "-c", probe], env=_env(ALKLD_MALLOC="system"),
                             capture_output=True, text=True, check=True)
    assert with_lib.stdout.strip() == str(lib)
    assert without.stdout.strip() == "-"


def test_pool_workers_run_with_the_allocator(tmp_path):
    lib = _require_jemalloc()
    # a fresh interpreter (the forkserver is started once a process, by the first pool), from
    # a file: the workers import __main__ to find probe()
    script = tmp_path / "probe.py"
    script.write_text(
        "import os\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from alkld import native\n"
        "from alkld.pipeline import _pool_context\n"
        "def probe(_):\n"
        "    return str(native.loaded())\n"
        "if __name__ == '__main__':\n"
        "    with ProcessPoolExecutor(2, mp_context=_pool_context()) as pool:\n"
        "        print(*sorted(set(pool.map(probe, range(4)))))\n"
        "    print('parent', native.loaded(), os.environ.get('LD_PRELOAD'))\n")
    done = subprocess.run([sys.executable, str(script)], env=_env(), capture_output=True,
                          text=True, check=True, timeout=120)
    workers, parent = done.stdout.strip().splitlines()
    assert workers == str(lib)
    # the pool's workers only: the caller's allocator and environment are left as they were
    assert parent == "parent None None"


def _cli_build(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "alkld", "build", "--cases", str(ROOT / "cases"),
         "--mappings", str(ROOT / "mappings"), "--ontology", str(ROOT / "ontology/alkld.ttl"),
         "--shapes", str(ROOT / "shapes/alkld.shapes.ttl"), "--out", str(out), "--no-cache"],
        env=_env(**env), capture_output=True, text=True, timeout=300, check=False)


def test_cli_build_restarts_with_the_allocator_and_writes_the_same_release(tmp_path):
    lib = _require_jemalloc()
    default = _cli_build(tmp_path / "jemalloc")
    system = _cli_build(tmp_path / "system", ALKLD_MALLOC="system")
    assert default.returncode == 0, default.stderr[-2000:]
    assert system.returncode == 0, system.stderr[-2000:]
    assert f"allocator: {lib}" in default.stderr
    assert "allocator: the C library's malloc" in system.stderr
    for name in DUMPS:
        assert (tmp_path / "jemalloc" / name).read_bytes() == \
            (tmp_path / "system" / name).read_bytes(), name


def test_cli_build_refuses_a_missing_allocator_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    done = _cli_build(out, ALKLD_MALLOC=str(tmp_path / "libmimalloc.so.2"))
    assert done.returncode == 2
    assert "ALKLD_MALLOC" in done.stderr and "libmimalloc.so.2" in done.stderr
    assert "expected" in done.stderr
    assert not out.exists()
