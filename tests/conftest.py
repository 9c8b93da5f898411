"""Shared fixtures: the repository's inputs, and a release built once per session."""

from __future__ import annotations

import hashlib
import shutil
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
