"""The native allocator of the build's processes: jemalloc, preloaded, instead of glibc's.

The build's native engines allocate and free many small objects: rudof (the SHACL engine the
pool workers run) and pyoxigraph's bulk loader (the store). Under glibc's ``malloc``,
``perf`` puts ~40 % of rudof's time in ``malloc``, ``free``, ``malloc_consolidate`` and
``memmove``. jemalloc takes about a sixth off a pool worker's CPU a case (rudof ~14 %, the
rest of the worker a little); mimalloc 3.4 takes as much off rudof but gives it back in the
Python stages (benchmarks/RESULTS.md, "allocator"). The output does not change
(tests/test_native.py).

jemalloc is the system's (Debian: ``apt-get install libjemalloc2``; ``.ci/run`` installs
it), found through ``ldconfig``; no maintained wheel ships it. Without it the build runs
on the C library's malloc, only slower.

An allocator replaces ``malloc`` only if it is loaded before anything else:
:func:`preload_env` gives the environment that loads it into a new process.
:func:`start_forkserver` starts the build pool's forkserver with it, so every pool worker has
it whoever calls :func:`alkld.pipeline.build`; :func:`reexec` restarts a command (``alkld
build``, the benchmarks) with it, so that the store's loader thread in the build process
has it too.

``ALKLD_MALLOC`` chooses: unset, the system's jemalloc (or the C library's malloc where there
is none); ``system``, the C library's malloc; a path, that shared library (mimalloc, …).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from alkld.errors import ConfigurationError

__all__ = ["ENV", "SONAME", "library", "loaded", "preload_env", "reexec",
           "start_forkserver"]

log = logging.getLogger(__name__)

#: The environment variable that chooses the allocator.
ENV = "ALKLD_MALLOC"
#: Set in a process :func:`reexec` started, so that it never restarts twice.
_REEXECED = "ALKLD_MALLOC_REEXEC"


#: The library :func:`library` looks for by default (its soname).
SONAME = "libjemalloc.so.2"


@cache
def _system_jemalloc() -> Path | None:
    """The path of the system's ``libjemalloc.so.2`` from the loader's cache, if any."""
    import shutil
    import subprocess

    ldconfig = shutil.which("ldconfig") or next(
        (p for p in ("/sbin/ldconfig", "/usr/sbin/ldconfig") if Path(p).is_file()), None)
    if ldconfig is None:
        return None
    try:
        listing = subprocess.run([ldconfig, "-p"], capture_output=True, text=True,  # noqa: S603
                                 timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    # lines like "	libjemalloc.so.2 (libc6,x86-64) => /lib/x86_64-linux-gnu/libjemalloc.so.2"
    for line in listing.splitlines():
        name, _, target = line.strip().partition(" => ")
        if name.split(" (")[0] == SONAME and Path(target).is_file():
            return Path(target).resolve()  # as /proc/<pid>/maps names it
    return None


def library() -> Path | None:
    """The allocator library the build preloads, or None for glibc's malloc.

    Raises :class:`~alkld.errors.ConfigurationError` when ``ALKLD_MALLOC`` names no file.
    """
    choice = os.environ.get(ENV, "").strip()
    if choice == "system":
        return None
    if choice:
        path = Path(choice)
        if not path.is_file():
            raise ConfigurationError(f"{ENV}={choice!r}: no such file", field=ENV,
                                     expected="'system' or the path of a malloc shared "
                                              "library (e.g. libmimalloc.so.2)")
        return path.resolve()
    return _system_jemalloc()


def loaded(pid: int | str = "self") -> Path | None:
    """The preloaded allocator mapped in process ``pid`` (this one by default), if any.

    Read from ``/proc/<pid>/maps``: the first mapped file named like an allocator library
    (mimalloc, jemalloc, tcmalloc), or the library ``ALKLD_MALLOC`` names.
    """
    names = ("libmimalloc", "libjemalloc", "libtcmalloc")
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return None
    choice = os.environ.get(ENV, "").strip()
    chosen = Path(choice).resolve() if choice not in ("", "system") else None
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)  # address perms offset dev inode [path]
        if len(fields) < 6 or not fields[5].startswith("/"):
            continue
        path = Path(fields[5])
        if path.name.startswith(names) or (chosen is not None and path == chosen):
            return path
    return None


def preload_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with the allocator added to ``LD_PRELOAD``.

    jemalloc keeps its own defaults: with page purging off (``dirty_decay_ms:-1``) a pool
    worker spent ~5 % less CPU, but at 100k cases the build's processes grew to 7-9 GB each
    and filled the machine (benchmarks/RESULTS.md).
    """
    out = dict(os.environ if env is None else env)
    lib = library()
    if lib is None or sys.platform != "linux":
        return out
    current = out.get("LD_PRELOAD", "")
    if str(lib) not in current.split(":"):
        out["LD_PRELOAD"] = f"{lib}:{current}" if current else str(lib)
    return out


def start_forkserver() -> None:
    """Start multiprocessing's forkserver with the allocator preloaded.

    The forkserver is a new interpreter started with this process's environment; the pool's
    workers are forked from it and keep its allocator. ``LD_PRELOAD`` is set only while it
    starts: this process's environment is left as it was. If it is already running (started
    without one), it stays as it is.
    """
    from multiprocessing import forkserver

    saved = os.environ.get("LD_PRELOAD")
    wanted = preload_env().get("LD_PRELOAD")
    try:
        if wanted is not None:
            os.environ["LD_PRELOAD"] = wanted
        forkserver.ensure_running()
    finally:
        if saved is None:
            os.environ.pop("LD_PRELOAD", None)
        else:
            os.environ["LD_PRELOAD"] = saved


def reexec(command: Sequence[str]) -> None:
    """Replace this process by ``command`` (``argv[0]`` first) with the allocator preloaded.

    Returns, doing nothing, when there is no allocator to load, it is loaded already, or
    this process is itself such a restart (a library the dynamic loader refused does not
    loop).
    """
    if os.environ.get(_REEXECED) or sys.platform != "linux":
        return
    lib = library()
    if lib is None or loaded() is not None:
        return
    env = preload_env()
    env[_REEXECED] = "1"
    log.debug("restarting with %s preloaded", lib)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command[0], list(command), env)  # noqa: S606 - our own interpreter, no shell
