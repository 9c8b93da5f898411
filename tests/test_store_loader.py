"""The build's streaming store loader: one bulk load fed through a pipe, one finished store or none."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from alkld.store.embedded import StoreLoader, open_store

G = "https://w3id.org/alkld/graph/case-"


def _nquads(n: int) -> list[bytes]:
    return [f'<https://w3id.org/alkld/node/x{i}> <http://www.w3.org/2000/01/rdf-schema#label> '
            f'"x {i}" <{G}{i % 7}> .\n'.encode() for i in range(n)]


def test_many_chunks_give_exactly_the_quads_fed(tmp_path: Path) -> None:
    """Fed in chunks far smaller than the data, with at most two waiting (the build blocks
    on the pipe), the store holds each quad once, in its graph, and replaces the previous
    store at its path; the pipe is gone afterwards."""
    path = tmp_path / "store"
    path.mkdir()
    (path / "stale").write_text("the previous build's store")
    lines = _nquads(3000)
    loader = StoreLoader(path, chunk_bytes=1000, queued=2)
    for line in lines:
        loader.add(line)
    assert loader.close() == 3000
    assert not (path / "stale").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
    store = open_store(path)
    want = set(ox.parse(b"".join(lines), format=ox.RdfFormat.N_QUADS))
    assert set(store) == want
    assert {q.graph_name.value for q in store} == {f"{G}{i}" for i in range(7)}


def test_a_bad_batch_is_an_error_and_leaves_the_old_store(tmp_path: Path) -> None:
    path = tmp_path / "store"
    good = StoreLoader(path)
    good.add(_nquads(1)[0])
    assert good.close() == 1
    loader = StoreLoader(path, chunk_bytes=10)
    loader.add(b"<https://w3id.org/alkld/node/x> not-a-term . \n")
    with pytest.raises(SyntaxError):
        loader.close()
    loader.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
    assert len(open_store(path)) == 1


def test_input_after_the_store_failed_is_refused_not_blocked(tmp_path: Path) -> None:
    """A syntax error stops the bulk load; the build's later chunks are refused with that
    error (the feeding thread drains them), never left hanging on a pipe nobody reads."""
    loader = StoreLoader(tmp_path / "store", chunk_bytes=10, queued=1)
    loader.add(b"<https://w3id.org/alkld/node/x> not-a-term . \n")
    line = _nquads(1)[0]
    with pytest.raises(SyntaxError):
        for _ in range(100_000):
            loader.add(line)
    loader.abort()
    assert list(tmp_path.iterdir()) == []


def test_abort_drops_the_partial_store_and_stops_both_threads(tmp_path: Path) -> None:
    loader = StoreLoader(tmp_path / "store", chunk_bytes=100)
    for line in _nquads(500):
        loader.add(line)
    loader.abort()
    assert list(tmp_path.iterdir()) == []
    assert not loader._loader.is_alive() and not loader._writer.is_alive()  # noqa: SLF001
