"""The streaming dump writer: canonical order, the Turtle union without repeated triples."""

from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph

from alkld.publish.dumps import (
    DatasetStats,
    DumpWriter,
    GraphPart,
    prefixes_for,
    to_graph_part,
    write_dumps,
)

B = "https://w3id.org/alkld/"
LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
MONDO = ox.NamedNode("http://purl.obolibrary.org/obo/MONDO_0017602")
DISEASE = ox.NamedNode("https://w3id.org/alkld/ontology#disease")


def _quads() -> list[ox.Quad]:
    g1, g2 = ox.NamedNode(B + "graph/case-b"), ox.NamedNode(B + "graph/case-a")
    build = ox.NamedNode(B + "activity/build-alkld-0")
    shared = ox.NamedNode(B + "node/shared")
    out = []
    for g, n in ((g1, "b"), (g2, "a")):
        node = ox.NamedNode(B + f"node/{n}-dx")
        out += [ox.Quad(node, DISEASE, MONDO, g), ox.Quad(node, LABEL, ox.Literal(n), g),
                # provenance repeated in every graph, and one fact node described twice
                ox.Quad(build, TYPE, ox.NamedNode("http://www.w3.org/ns/prov#Activity"), g),
                ox.Quad(shared, LABEL, ox.Literal("the same triple"), g)]
    return out


def test_turtle_union_has_each_triple_once(tmp_path: Path) -> None:
    quads = _quads()
    dists = {d.name: d for d in write_dumps(quads, tmp_path, base=B)}
    union = {q.triple for q in quads}
    ttl = list(ox.parse(path=str(tmp_path / "alkld.ttl"), format=ox.RdfFormat.TURTLE))
    assert len(ttl) == len(union) == 6
    assert {q.triple for q in ttl} == union
    assert dists["alkld.ttl"].triples == 6 and dists["alkld.nq"].triples == 8
    # the graphs in IRI order, statements sorted within each
    nq = (tmp_path / "alkld.nq").read_text().splitlines()
    assert nq == sorted(nq, key=lambda line: (line.rsplit(" ", 2)[-2], line))
    assert Graph().parse(tmp_path / "alkld.ttl", format="turtle").isomorphic(
        Graph().parse(data="\n".join(ox.serialize([t], format=ox.RdfFormat.N_TRIPLES).decode()
                                     for t in union), format="nt"))


def test_streamed_counts_equal_counts_in_memory(tmp_path: Path) -> None:
    quads = _quads()
    writer = DumpWriter(tmp_path, base=B)
    try:
        by_graph: dict[str, list[ox.Triple]] = {}
        for q in quads:
            by_graph.setdefault(q.graph_name.value, []).append(q.triple)
        for g, triples in by_graph.items():
            writer.add(to_graph_part(g, triples, base=B))
        _, stats = writer.finish()
    finally:
        writer.close()
    assert stats == DatasetStats.of_quads(quads)
    assert not (tmp_path / ".spool").exists()


def test_same_input_same_bytes(tmp_path: Path) -> None:
    write_dumps(_quads(), tmp_path / "one", base=B)
    write_dumps(list(reversed(_quads())), tmp_path / "two", base=B)
    for name in ("alkld.nq", "alkld.trig", "alkld.ttl", "alkld.jsonld"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def _dump_bytes(directory: Path, parts: list[GraphPart]) -> dict[str, bytes]:
    writer = DumpWriter(directory, base=B)
    try:
        for part in parts:
            writer.add(part)
        writer.finish()
    finally:
        writer.close()
    assert not (directory / ".spool").exists()
    assert sorted(p.name for p in directory.iterdir()) == [
        "alkld.jsonld", "alkld.nq", "alkld.trig", "alkld.ttl", "context.jsonld"]
    return {name: (directory / name).read_bytes()
            for name in ("alkld.nq", "alkld.trig", "alkld.ttl", "alkld.jsonld")}


def test_graphs_written_straight_or_spooled_give_the_same_bytes(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Case graphs arriving in canonical order go straight into the dump files; the others
    (a publication graph before its cases, as a build hands them over, the vocabulary first)
    are spooled and appended. Any other order is written again in canonical order: the bytes
    are the same."""
    pub = ox.NamedNode(B + "graph/pub-a")
    parts = {B + "graph/vocabulary": [ox.Triple(MONDO, LABEL, ox.Literal("a disease"))]}
    for doc in ("a", "b"):
        parts[B + f"graph/pub-{doc}"] = [ox.Triple(pub, LABEL, ox.Literal(f"paper {doc}"))]
        for i in range(3):
            node = ox.NamedNode(B + f"node/{doc}{i}-dx")
            parts[B + f"graph/case-{doc}{i}"] = [ox.Triple(node, DISEASE, MONDO),
                                                 ox.Triple(node, LABEL, ox.Literal(f"{doc}{i}"))]
    built = {g: to_graph_part(g, triples, base=B) for g, triples in parts.items()}
    # as a build adds them: vocabulary, then each record's publication before its cases
    as_built = [built[g] for g in parts]
    with caplog.at_level("INFO", logger="alkld.publish.dumps"):
        straight = _dump_bytes(tmp_path / "straight", as_built)
    assert not [r for r in caplog.records if "written again" in r.getMessage()]
    caplog.clear()
    one_late = [p for p in as_built if p.graph != B + "graph/case-a1"] + [built[B + "graph/case-a1"]]
    with caplog.at_level("INFO", logger="alkld.publish.dumps"):
        late = _dump_bytes(tmp_path / "late", one_late)
    assert len([r for r in caplog.records if "written again" in r.getMessage()]) == 4
    assert late == straight == _dump_bytes(tmp_path / "reversed", as_built[::-1])
    nq = straight["alkld.nq"].decode().splitlines()
    assert [line.rsplit(" ", 2)[-2] for line in nq] == sorted(
        line.rsplit(" ", 2)[-2] for line in nq)
    doc = json.loads(straight["alkld.jsonld"])
    assert [g["@id"] for g in doc["@graph"]] == sorted(g["@id"] for g in doc["@graph"])


def test_a_triple_repeated_in_a_graph_written_straight_leaves_the_union(tmp_path: Path) -> None:
    """Two case graphs in order with one triple in common: the second was written straight,
    so the union (``alkld.ttl``) is written again without it; the other files are not."""
    by_graph: dict[str, list[ox.Triple]] = {}
    for q in _quads():
        by_graph.setdefault(q.graph_name.value, []).append(q.triple)
    parts = [to_graph_part(g, by_graph[g], base=B) for g in sorted(by_graph)]
    straight = _dump_bytes(tmp_path / "straight", parts)
    assert straight == _dump_bytes(tmp_path / "reversed", parts[::-1])
    ttl = list(ox.parse(straight["alkld.ttl"], format=ox.RdfFormat.TURTLE))
    assert len(ttl) == len({q.triple for q in ttl}) == 6


def test_graph_part_sorted_by_terms_and_deduplicated_whatever_the_characters() -> None:
    """Sorting a graph's N-Triples lines is sorting its triples as (s, p, o) N-Triples forms.

    Literals with quotes, backslashes, control characters, line separators and astral
    characters, language tags and datatypes whose forms extend one another, IRIs that are
    prefixes of one another: the part holds each triple once, in term order, and says the same
    in every format.
    """
    import random

    rnd = random.Random(7)
    chars = ["a", "b", " ", '"', "\\", "\n", "\r", "\t", "é", "😀", "<", "\x01", "\x7f", "@",
             "^", "\u2028", "\x00"]
    iris = [B + "node/x", B + "node/x-1", B + "node/xé", B + "term/y", "http://a/b",
            "http://a/b#c", "urn:x:ü"]
    for _ in range(200):
        triples = []
        for _ in range(rnd.randint(1, 30)):
            lexical = "".join(rnd.choice(chars) for _ in range(rnd.randint(0, 4)))
            obj = rnd.choice([
                ox.NamedNode(rnd.choice(iris)),
                ox.Literal(lexical, language=rnd.choice(["en", "en-gb"])),
                ox.Literal(lexical, datatype=ox.NamedNode(rnd.choice(["http://x/d", "http://x/dt"]))),
                ox.Literal(lexical)])
            triples.append(ox.Triple(ox.NamedNode(rnd.choice(iris)),
                                     rnd.choice([LABEL, DISEASE, TYPE]), obj))
        triples += rnd.sample(triples, min(3, len(triples)))
        part = to_graph_part(B + "graph/g", triples, base=B)
        want = sorted({(str(t.subject), str(t.predicate), str(t.object)): t
                       for t in triples}.items())
        got = list(ox.parse(part.nquads, format=ox.RdfFormat.N_QUADS))
        assert [q.triple for q in got] == [t for _, t in want]
        assert {q.graph_name for q in got} == {ox.NamedNode(B + "graph/g")}
        # The build hands over the N-Triples it made for the validator: the same part.
        given = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
        assert to_graph_part(B + "graph/g", triples, base=B, ntriples=given) == part
        assert part.quads == len(want)
        trig = b"".join(f"@prefix {p}: <{ns}> .\n".encode()
                        for p, ns in prefixes_for(B).items()) + part.trig
        assert {q.triple for q in ox.parse(trig, format=ox.RdfFormat.TRIG)} == \
            {t for _, t in want}


def test_graph_part_refuses_n_triples_that_are_not_its_triples() -> None:
    """N-Triples handed over for other triples than the graph's are an error, not a dump."""
    triples = [ox.Triple(ox.NamedNode(B + "node/x"), LABEL, ox.Literal("x"))]
    other = ox.serialize(triples * 2, format=ox.RdfFormat.N_TRIPLES)
    with pytest.raises(ValueError, match="graph/g: 2 N-Triples lines for 1 triples"):
        to_graph_part(B + "graph/g", triples, base=B, ntriples=other)


def test_trig_and_turtle_pieces_are_what_pyoxigraph_writes() -> None:
    """Each graph's TriG block and own Turtle, derived from one Turtle serialisation, are
    byte for byte what pyoxigraph's TriG and Turtle writers give for those triples: with
    shared subjects first, last and between own ones, literals with newlines and quotes,
    and with blank nodes (written by the writers themselves)."""
    import random

    from alkld.publish.dumps import _strip_prefixes

    rnd = random.Random(7)
    prefixes = prefixes_for(B)
    own_iris = [B + f"node/{x}" for x in ("a", "b-1", "c")] + ["http://x/y"]
    shared_iris = [B + "activity/build-alkld-0", B + "agent/curator-1", B + "agent/z"]
    lexicals = ["x", "two\nlines", 'a "quote"', "'''", '"""', "tab\there", "é"]
    for round_ in range(300):
        blank = round_ % 10 == 9
        subjects = [ox.NamedNode(i) for i in rnd.sample(own_iris + shared_iris, rnd.randint(1, 6))]
        if blank:
            subjects.append(ox.BlankNode("b0"))
        triples = []
        for _ in range(rnd.randint(1, 25)):
            obj = rnd.choice([ox.NamedNode(rnd.choice(own_iris + shared_iris)), MONDO,
                              ox.Literal(rnd.choice(lexicals)),
                              ox.Literal(rnd.choice(lexicals), language="en")])
            triples.append(ox.Triple(rnd.choice(subjects), rnd.choice([LABEL, DISEASE, TYPE]),
                                     obj))
        graph = B + f"graph/case-{round_}"
        part = to_graph_part(graph, triples, base=B)
        ordered = sorted(set(triples), key=lambda t: ox.serialize([t], format=ox.RdfFormat.N_TRIPLES))
        own = [t for t in ordered if not str(t.subject).startswith(
            (f"<{B}activity/", f"<{B}agent/"))]
        quads = [ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(graph)) for t in ordered]
        assert part.trig == _strip_prefixes(
            ox.serialize(quads, format=ox.RdfFormat.TRIG, prefixes=prefixes)), graph
        assert part.turtle == (_strip_prefixes(
            ox.serialize(own, format=ox.RdfFormat.TURTLE, prefixes=prefixes)) if own else b""), graph
