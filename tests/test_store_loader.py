"""The build's streaming store loader: batches in a thread, one finished store or none."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from alkld.store.embedded import StoreLoader, open_store

G = "https://w3id.org/alkld/graph/case-"


def _nquads(n: int) -> list[bytes]:
    return [f'<https://w3id.org/alkld/node/x{i}> <http://www.w3.org/2000/01/rdf-schema#label> '
            f'"x {i}" <{G}{i % 7}> .\n'.encode() for i in range(n)]


def test_many_batches_give_exactly_the_quads_fed(tmp_path: Path) -> None:
    """Fed in batches far smaller than the data (hundreds of bulk loads), the store holds
    each quad once, in its graph, and replaces the previous store at its path."""
    path = tmp_path / "store"
    path.mkdir()
    (path / "stale").write_text("the previous build's store")
    lines = _nquads(3000)
    loader = StoreLoader(path, batch_bytes=1000)
    for line in lines:
        loader.add(line)
    assert loader.close() == 3000
    assert not (tmp_path / "store.tmp").exists() and not (path / "stale").exists()
    store = open_store(path)
    want = set(ox.parse(b"".join(lines), format=ox.RdfFormat.N_QUADS))
    assert set(store) == want
    assert {q.graph_name.value for q in store} == {f"{G}{i}" for i in range(7)}


def test_a_bad_batch_is_an_error_and_leaves_the_old_store(tmp_path: Path) -> None:
    path = tmp_path / "store"
    good = StoreLoader(path)
    good.add(_nquads(1)[0])
    assert good.close() == 1
    loader = StoreLoader(path, batch_bytes=10)
    loader.add(b"<https://w3id.org/alkld/node/x> not-a-term . \n")
    with pytest.raises(SyntaxError):
        loader.close()
    loader.abort()
    assert not (tmp_path / "store.tmp").exists()
    assert len(open_store(path)) == 1
