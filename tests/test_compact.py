"""The JSON-LD dump's compactor gives pyld's compaction, byte for byte, and expands back.

pyld (a conforming JSON-LD 1.1 processor) is the reference: each named graph of the real
release and of a synthetic one is compacted by both, from the same sorted quads.
"""

from __future__ import annotations

import json
from itertools import groupby
from pathlib import Path

import pyoxigraph as ox
import pytest
from pyld import jsonld
from rdflib import Dataset
from rdflib.compare import isomorphic

from alkld.pipeline import build
from alkld.publish.compact import GraphCompactor, Unsupported
from alkld.publish.dumps import context_document
from alkld.synth import Pools, write_synthetic

from .conftest import ROOT, repo_options

BASE = "https://w3id.org/alkld/"


def _pyld(quads: list[ox.Quad], context: dict) -> bytes:
    """What the dump held before: pyld's compaction of pyoxigraph's JSON-LD."""
    expanded = json.loads(ox.serialize(quads, format=ox.RdfFormat.JSON_LD))
    compacted = jsonld.compact(expanded, context, {"processingMode": "json-ld-1.1"})
    compacted.pop("@context", None)
    return json.dumps(compacted, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode()


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _compare(out: Path) -> int:
    """Each graph of ``out``'s N-Quads dump: its object in the JSON-LD dump (written by
    ``sorted_graph_object``) and ``graph_object``'s are pyld's compaction."""
    context = context_document(BASE)
    compactor = GraphCompactor(context["@context"])
    quads = list(ox.parse(path=str(out / "alkld.nq"), format=ox.RdfFormat.N_QUADS))
    dumped = json.loads((out / "alkld.jsonld").read_text(encoding="utf-8"))["@graph"]
    n = 0
    for (graph, group), in_dump in zip(groupby(quads, key=lambda q: q.graph_name), dumped,
                                       strict=True):
        group = list(group)
        reference = _pyld(group, context)
        assert _dumps(in_dump) == reference, graph
        assert _dumps(compactor.graph_object(graph.value, [q.triple for q in group])) \
            == reference, graph
        n += 1
    return n


def test_same_as_pyld_on_the_real_release(release) -> None:
    assert _compare(release[1]) == 12


@pytest.fixture(scope="module")
def synthetic_release(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("synthjsonld")
    write_synthetic(tmp / "cases", Pools.from_cases(ROOT / "cases"), cases=40, seed=3,
                    per_file=20)
    build(repo_options(tmp / "out", cases=tmp / "cases"))
    return tmp / "out"


def test_same_as_pyld_on_a_synthetic_release(synthetic_release: Path) -> None:
    assert _compare(synthetic_release) == 40 + 2 + 3


def test_dump_expands_to_the_dataset(synthetic_release: Path) -> None:
    """pyld's toRDF of the whole dump gives back every graph of the N-Quads dump."""
    doc = json.loads((synthetic_release / "alkld.jsonld").read_text())
    nquads = jsonld.to_rdf(doc, {"format": "application/n-quads"})
    expanded = Dataset().parse(data=nquads, format="nquads")
    reference = Dataset().parse(synthetic_release / "alkld.nq", format="nquads")
    ours = {str(g.identifier): g for g in expanded.graphs() if len(g)}
    theirs = {str(g.identifier): g for g in reference.graphs() if len(g)}
    assert sorted(ours) == sorted(theirs)
    for name, graph in theirs.items():
        assert isomorphic(graph, ours[name]), name


def test_compact_iri_rules() -> None:
    c = GraphCompactor({"@version": 1.1, "obo": "http://purl.obolibrary.org/obo/",
                        "MONDO": {"@id": "http://purl.obolibrary.org/obo/MONDO_",
                                  "@prefix": True},
                        "ex": "http://example.org/"})
    # the shortest candidate wins; a term equal to the IRI is used for properties only
    assert c.iri("http://purl.obolibrary.org/obo/MONDO_0017602", vocab=False) == \
        "MONDO:0017602"
    assert c.iri("http://example.org/", vocab=True) == "ex"
    assert c.iri("http://example.org/", vocab=False) == "http://example.org/"
    assert c.iri("https://elsewhere.org/x", vocab=False) == "https://elsewhere.org/x"


def test_contexts_beyond_prefixes_are_refused() -> None:
    with pytest.raises(Unsupported):
        GraphCompactor({"@vocab": "http://example.org/"})
    with pytest.raises(Unsupported):
        GraphCompactor({"name": {"@id": "http://schema.org/name", "@type": "@id"}})
