"""Ontology, data and shapes stay coherent: every alkld term used anywhere is declared."""

from __future__ import annotations

import re
from pathlib import Path

import pyoxigraph as ox
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF

from alkld.pipeline import BuildResult
from alkld.rdf.build import enum_iri, predicate_of
from alkld.records import model

from .conftest import ROOT

ALKLD = "https://w3id.org/alkld/ontology#"
DECLARING = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty,
             OWL.NamedIndividual)


def declared() -> set[str]:
    graph = Graph().parse(ROOT / "ontology" / "alkld.ttl", format="turtle")
    return {str(s) for kind in DECLARING for s in graph.subjects(RDF.type, kind)}


def test_every_term_the_data_uses_is_declared(release: tuple[BuildResult, Path]) -> None:
    store = ox.Store.read_only(str(release[1] / "store"))
    used = set()
    for row in store.query("""SELECT DISTINCT ?t WHERE { GRAPH ?g {
            { ?s ?t ?o } UNION { ?s a ?t } UNION { ?s ?p ?t FILTER(isIRI(?t)) } } }"""):
        iri = row["t"].value
        if iri.startswith(ALKLD):
            used.add(iri)
    assert len(used) > 80
    assert used - declared() == set()


def test_every_term_the_models_can_emit_is_declared() -> None:
    terms = set()
    for name in dir(model):
        obj = getattr(model, name)
        if isinstance(obj, type) and issubclass(obj, model.Node) and obj is not model.Node:
            if obj.rdf_type.startswith("alkld:"):
                terms.add(ALKLD + obj.rdf_type.split(":", 1)[1])
            for field in obj.model_fields:
                if field not in obj.unpublished:
                    terms.add(str(predicate_of(obj, field)))
        if isinstance(obj, type) and issubclass(obj, model.Vocabulary) and obj is not model.Vocabulary:
            terms.update(str(enum_iri(member)) for member in obj)
    terms = {t for t in terms if t.startswith(ALKLD)} - {ALKLD + "Age", ALKLD + "value"}
    assert terms - declared() == set()


def test_every_alkld_term_in_the_shapes_is_declared() -> None:
    text = (ROOT / "shapes" / "alkld.shapes.ttl").read_text()
    shapes = Graph().parse(data=text, format="turtle")
    used = {str(t) for triple in shapes for t in triple
            if isinstance(t, URIRef) and str(t).startswith(ALKLD) and str(t) != ALKLD}
    used |= {ALKLD + m for m in re.findall(r"alkld:([A-Za-z]+)", text)}
    assert used - declared() == set()
