"""The alkld ontology: HermiT finds it consistent, with every class satisfiable; every term is
labelled and defined."""

from __future__ import annotations

import shutil

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from alkld.validation.ontology import check_ontology

from .conftest import ROOT

ONTOLOGY = ROOT / "ontology" / "alkld.ttl"
ALKLD = "https://w3id.org/alkld/ontology#"


def test_java_is_available() -> None:
    assert shutil.which("java"), "HermiT needs Java: install a JRE (apt-get install default-jre-headless)"


def test_hermit_consistent_no_unsatisfiable_class() -> None:
    report = check_ontology(ONTOLOGY)
    assert report.reasoner == "HermiT"
    assert report.consistent
    assert report.unsatisfiable == []
    assert report.classes >= 30


@pytest.mark.parametrize("kind", [OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty,
                                  OWL.NamedIndividual])
def test_every_term_has_label_and_definition(kind: URIRef) -> None:
    graph = Graph().parse(ONTOLOGY, format="turtle")
    terms = [s for s in graph.subjects(RDF.type, kind) if str(s).startswith(ALKLD)]
    assert terms
    for term in terms:
        assert graph.value(term, RDFS.label), term
        assert graph.value(term, SKOS.definition), term


def test_an_inconsistent_ontology_is_reported(tmp_path) -> None:
    """The check can fail: an individual in two disjoint classes is inconsistent."""
    bad = tmp_path / "bad.ttl"
    bad.write_text(ONTOLOGY.read_text() + f"""
<{ALKLD}A> a owl:Class . <{ALKLD}B> a owl:Class ; owl:disjointWith <{ALKLD}A> .
<{ALKLD}x> a owl:NamedIndividual, <{ALKLD}A>, <{ALKLD}B> .
""")
    assert not check_ontology(bad).consistent


def test_an_unsatisfiable_class_is_reported(tmp_path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text(ONTOLOGY.read_text() + f"""
<{ALKLD}A> a owl:Class . <{ALKLD}B> a owl:Class ; owl:disjointWith <{ALKLD}A> .
<{ALKLD}C> a owl:Class ; rdfs:subClassOf <{ALKLD}A>, <{ALKLD}B> .
""")
    assert check_ontology(bad).unsatisfiable == [f"{ALKLD}C"]
