"""DESCRIBE results as JSON-LD: the compactor gives pyld's document for the published context."""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest
from pyld import jsonld

from alkld.publish.compact import GraphCompactor, Unsupported
from alkld.publish.dumps import context_document
from alkld.publish.sparql import compact_jsonld

BASE = "https://w3id.org/alkld/"
CONTEXT = context_document(BASE)
XSD = "http://www.w3.org/2001/XMLSchema#"


def _pyld(triples: list[ox.Triple], context: dict = CONTEXT) -> dict:
    expanded = json.loads(ox.serialize(triples, format=ox.RdfFormat.JSON_LD) or b"[]")
    return jsonld.compact(expanded, context, {"processingMode": "json-ld-1.1"})


def test_every_description_and_graph_of_the_release_compacts_as_pyld(release):
    _, out = release
    store = ox.Store.read_only(str(out / "store"))
    compactor = GraphCompactor(CONTEXT)
    subjects = sorted({q.subject.value for q in store if isinstance(q.subject, ox.NamedNode)})
    assert len(subjects) > 1000
    for iri in subjects:
        triples = list(store.query(f"DESCRIBE <{iri}>", use_default_graph_as_union=True))
        assert compactor.document(triples) == _pyld(triples), iri
    for graph in store.named_graphs():
        triples = [q.triple for q in store.quads_for_pattern(None, None, None, graph)]
        assert compactor.document(triples) == _pyld(triples), graph


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


EDGES = {
    "no triples": [],
    "literals": [
        ox.Triple(_n(BASE + "node/x"), _n("http://purl.org/dc/terms/title"),
                  ox.Literal("Titre", language="fr")),
        ox.Triple(_n(BASE + "node/x"), _n("http://schema.org/position"),
                  ox.Literal("3", datatype=_n(XSD + "integer"))),
        ox.Triple(_n(BASE + "node/x"), _n("http://example.org/unprefixed"),
                  ox.Literal("v", datatype=_n("http://example.org/datatype"))),
        ox.Triple(_n(BASE + "node/x"), _n("http://example.org/unprefixed"),
                  ox.Literal("{\"a\": [1]}")),
    ],
    "blank nodes and unprefixed IRIs": [
        ox.Triple(ox.BlankNode("b0"), _n(BASE + "ontology#agent"), _n("urn:x:1")),
        ox.Triple(_n("http://example.org/s"), _n(BASE + "ontology#subject"), ox.BlankNode("b0")),
    ],
    "IRIs equal to a prefix": [
        ox.Triple(_n(BASE + "case/"), _n("http://identifiers.org/hgnc/"),
                  _n("http://identifiers.org/hgnc/")),
        ox.Triple(_n(BASE + "case/a"), _n("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                  _n("http://purl.obolibrary.org/obo/MONDO_")),
        ox.Triple(_n(BASE + "case/a"), _n(BASE + "ontology#about"),
                  _n("http://purl.obolibrary.org/obo/MONDO_0005170")),
    ],
    "a subject or predicate coming back": [
        ox.Triple(_n(BASE + "case/a"), _n(BASE + "ontology#p"), _n(BASE + "case/b")),
        ox.Triple(_n(BASE + "case/a"), _n(BASE + "ontology#q"), _n(BASE + "case/c")),
        ox.Triple(_n(BASE + "case/a"), _n(BASE + "ontology#p"), _n(BASE + "case/d")),
        ox.Triple(_n(BASE + "case/b"), _n(BASE + "ontology#p"), _n(BASE + "case/a")),
        ox.Triple(_n(BASE + "case/a"), _n(BASE + "ontology#p"), _n(BASE + "case/b")),
        ox.Triple(_n(BASE + "case/a"), _n(BASE + "ontology#p"), _n(BASE + "case/b")),
    ],
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edge_cases_compact_as_pyld(name):
    triples = EDGES[name]
    assert GraphCompactor(CONTEXT).document(triples) == _pyld(triples)
    assert json.loads(compact_jsonld(triples, CONTEXT)) == _pyld(triples)


@pytest.mark.parametrize("context", [
    {"@vocab": "http://example.org/"},
    {"@base": "http://example.org/"},
    {"ex": {"@id": "http://example.org/p", "@type": "@id"}},
    {"@language": "en", "ex": "http://example.org/"},
])
def test_other_contexts_are_left_to_pyld(context):
    with pytest.raises(Unsupported):
        GraphCompactor(context)
    triples = [ox.Triple(_n("http://example.org/a"), _n("http://example.org/p"),
                         _n("http://example.org/b"))]
    assert json.loads(compact_jsonld(triples, context)) == _pyld(triples, context)


def test_triple_terms_are_left_to_pyld():
    inner = ox.Triple(_n(BASE + "case/a"), _n(BASE + "ontology#p"), _n(BASE + "case/b"))
    triples = [ox.Triple(_n(BASE + "pub/x"), _n(BASE + "ontology#states"), inner)]
    with pytest.raises(Unsupported):
        GraphCompactor(CONTEXT).document(triples)
