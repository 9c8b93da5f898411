"""The static checks run with the tests: ruff's rules and mypy in strict mode (pyproject.toml).

Both tools are in the ``test`` extra, so ``make test`` (and CI, which runs it) fails on a new
lint finding or type error as it does on a failing test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _check(tool: str, *args: str) -> None:
    exe = BIN / tool
    assert exe.exists(), f"{tool} is not installed beside {sys.executable}: pip install -e '.[test]'"
    proc = subprocess.run([str(exe), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, (f"`{tool} {' '.join(args)}` exited {proc.returncode}:\n"
                                  f"{proc.stdout}{proc.stderr}")


def test_ruff_finds_nothing() -> None:
    _check("ruff", "check", "src", "tests", "benchmarks", "scripts")


def test_mypy_strict_finds_nothing_in_the_package() -> None:
    _check("mypy", "src/alkld")
