"""What ``alkld publish`` reads and records, without a store: the release one graph at a
time (from the N-Quads dump or the embedded store), and the SQLite publish state.

The publishing itself, against real Oxigraph and Virtuoso servers, is in test_remote.py.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest

from alkld.errors import ConfigurationError
from alkld.store.remote import (
    STATE_FILE,
    PublishState,
    ReleaseGraph,
    count_release_graphs,
    graph_digest,
    iter_release_graphs,
    to_update_request,
)

E = "http://example.org/"


def quad(s: str, o: str, g: str | None) -> str:
    graph = f" <{E}{g}>" if g else ""
    return f'<{E}{s}> <{E}p> "{o}"{graph} .\n'


def canonical(graph: ReleaseGraph) -> set[ox.Triple]:
    """The graph's triples as a store keeps them (literals by value)."""
    store = ox.Store()
    store.extend(ox.Quad(t.subject, t.predicate, t.object) for t in graph.triples())
    return {q.triple for q in store}


def test_the_dump_and_the_store_give_the_same_graphs(release: tuple[object, Path],
                                                     tmp_path: Path) -> None:
    """Read from alkld.nq (preferred) or from store/ alone: the same graphs.

    The same triples, that is, as a store sees them: the embedded store keeps a decimal's
    value, not its lexical form ("1.60" reads back as "1.6"), so the two sources' digests
    differ for such graphs (switching source republishes them once).
    """
    out = release[1]
    from_dump = list(iter_release_graphs(out))
    only_store = tmp_path / "out"
    only_store.mkdir()
    shutil.copytree(out / "store", only_store / "store")
    from_store = list(iter_release_graphs(only_store))

    assert [g.iri for g in from_store] == sorted(g.iri for g in from_dump)
    dump = {g.iri: g for g in from_dump}
    lexical = 0
    for graph in from_store:
        assert canonical(graph) == canonical(dump[graph.iri]), graph.iri
        lexical += graph.digest != dump[graph.iri].digest
    assert 0 < lexical < len(from_store)  # the seed cases' lab values ("1.60")
    assert count_release_graphs(out) == len(from_dump) > 10
    assert count_release_graphs(tmp_path) is None  # no store: not known in advance
    store = ox.Store.read_only(str(out / "store"))
    assert sum(len(g) for g in from_dump) == len(store)
    # each digest is the one of the graph's triples, as the state has always kept it
    graph = next(g for g in from_store if "/case-" in g.iri)
    triples = [q.triple for q in store.quads_for_pattern(None, None, None,
                                                         ox.NamedNode(graph.iri))]
    assert graph.digest == graph_digest(triples)
    assert sorted(graph.triples(), key=str) == sorted(triples, key=str)


def test_the_dump_is_read_one_graph_at_a_time(tmp_path: Path) -> None:
    """A graph is handed over before the next one is read: a fault further on is reached
    only after it (memory holds one graph, not the release)."""
    (tmp_path / "alkld.nq").write_text(
        quad("a", "1", "g1") + quad("b", "2", "g1") + quad("a", "1", "g1")
        + quad("c", "3", "g2") + '<http://example.org/d> <http://example.org/p> oops .\n')
    graphs = iter_release_graphs(tmp_path)
    first = next(graphs)
    assert (first.iri, len(first), first.blank_nodes) == (E + "g1", 2, False)
    with pytest.raises(ConfigurationError) as caught:
        next(graphs)
    error = caught.value
    assert (error.path, error.line) == (str(tmp_path / "alkld.nq"), 5)
    assert str(error).startswith(f"{tmp_path / 'alkld.nq'}:5: not N-Quads: Parser error")


@pytest.mark.parametrize(("lines", "message"), [
    ([quad("a", "1", "g1"), quad("b", "2", "g2"), quad("c", "3", "g1")],
     f"quad 3: graph <{E}g1> again, after other graphs (expected the quads of each graph "
     "together, as alkld build writes them)"),
    ([quad("a", "1", "g1"), quad("b", "2", None)],
     "quad 2: a quad in the default graph (expected only named graphs)"),
])
def test_a_dump_that_alkld_does_not_write_is_an_error_naming_the_quad(
        tmp_path: Path, lines: list[str], message: str) -> None:
    (tmp_path / "alkld.nq").write_text("".join(lines))
    with pytest.raises(ConfigurationError) as caught:
        list(iter_release_graphs(tmp_path))
    assert str(caught.value) == f"{tmp_path / 'alkld.nq'}: {message}"


def test_no_release_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no release here"):
        next(iter_release_graphs(tmp_path))


def test_update_request_keeps_a_graph_with_blank_nodes_in_one_operation() -> None:
    p = ox.NamedNode(E + "p")
    named = [ox.Triple(ox.NamedNode(f"{E}s{i}"), p, ox.Literal(str(i))) for i in range(2500)]
    blank = [ox.Triple(ox.BlankNode(f"b{i}"), p, ox.Literal(str(i))) for i in range(2500)]
    text = to_update_request([ReleaseGraph.of(E + "g1", named),
                              ReleaseGraph.of(E + "g2", blank)])
    assert text.count(f"INSERT DATA {{ GRAPH <{E}g1>") == 3  # 1000 + 1000 + 500
    assert text.count(f"INSERT DATA {{ GRAPH <{E}g2>") == 1
    # the request, run on a store, holds exactly the graphs
    store = ox.Store()
    store.update(text)
    assert len(store) == 5000
    assert {q.triple for q in store.quads_for_pattern(None, None, None,
                                                      ox.NamedNode(E + "g1"))} == set(named)


def test_state_is_kept_per_store_across_runs(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    state = PublishState(path)
    state.remember("http://a", {"g1": "d1", "g2": "d2"})
    state.remember("http://b", {"g1": "x"})
    state.forget("http://a", ["g2", "g3"])
    state.remember("http://a", {"g1": "d1b"})
    state.close()

    state = PublishState(path)  # a new run
    assert state.graphs("http://a") == {"g1": "d1b"}
    assert state.graphs("http://b") == {"g1": "x"}
    state.clear("http://a")
    assert state.graphs("http://a") == {}
    assert state.graphs("http://b") == {"g1": "x"}
    state.close()


def test_an_unreadable_state_file_means_republishing_everything(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / STATE_FILE
    path.write_text('{"version": 1, "stores": {}}\n' * 200)  # not a database
    with caplog.at_level(logging.WARNING, logger="alkld.store.remote"):
        state = PublishState(path)
    assert f"publish state {path} is unreadable" in caplog.text
    assert "republishing every graph" in caplog.text
    assert state.graphs("http://a") == {}
    state.remember("http://a", {"g": "d"})
    state.close()
    assert PublishState(path).graphs("http://a") == {"g": "d"}


def test_a_large_graph_is_cut_into_pieces_that_end_with_it(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """The pieces of a graph over TRIPLES_PER_REQUEST cover it once, the last one ending at
    its last statement (no empty INSERT DATA after it), and applied in turn to a real
    SPARQL Update engine give the graph."""
    from alkld.store import remote

    monkeypatch.setattr(remote, "TRIPLES_PER_REQUEST", 2000)
    graph = ReleaseGraph.of(E + "g", (ox.Triple(ox.NamedNode(f"{E}s{i}"), ox.NamedNode(E + "p"),
                                                ox.Literal(str(i))) for i in range(2500)))
    assert remote._pieces(graph) == [(0, 2000), (2000, 2500)]
    store = ox.Store()
    iri = f"<{graph.iri}>"
    for start, stop in remote._pieces(graph):
        operations = remote._inserts(iri, graph, start, stop)
        assert len(operations) == -(-(stop - start) // remote._TRIPLES_PER_INSERT)
        store.update(" ;\n".join(operations))
    assert {q.triple for q in store} == canonical(graph)
