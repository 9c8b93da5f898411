"""SHACL shapes: the real release conforms; each constraint family catches its violation.

Each case mutates a real case graph (case ∪ publication ∪ vocabulary, exactly as the build
validates it) with one SPARQL Update and expects one result: severity, path and focus.
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph

from alkld.pipeline import BuildResult, _tbox_for
from alkld.validation.shacl import load_shapes, validate_graph

from .conftest import ROOT

B = "https://w3id.org/alkld/"
PREFIXES = f"""PREFIX alkld: <https://w3id.org/alkld/ontology#>
PREFIX schema: <http://schema.org/> PREFIX oa: <http://www.w3.org/ns/oa#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> PREFIX node: <{B}node/>
PREFIX prism: <http://prismstandard.org/namespaces/basic/2.0/>
"""
CHOI, HAO = "choi-imt-case1", "hao2026-case1"
PUBS = {CHOI: "choi-imt-cars1-alk", HAO: "hao2026-cerebellar-alcl"}

# (id, case, SPARQL update, severity, path local name, focus IRI suffix)
MUTATIONS = [
    ("disease-iri-form", CHOI, """DELETE { node:choi-imt-case1-dx alkld:disease ?d }
        INSERT { node:choi-imt-case1-dx alkld:disease <http://identifiers.org/mondo/MONDO:0015798> }
        WHERE { node:choi-imt-case1-dx alkld:disease ?d }""", "Violation", "disease", "node/choi-imt-case1-dx"),
    ("not-grounded-in-mondo", CHOI, """DELETE { node:choi-imt-case1-dx alkld:disease ?d }
        INSERT { node:choi-imt-case1-dx alkld:disease <http://purl.obolibrary.org/obo/NCIT_C6481> }
        WHERE { node:choi-imt-case1-dx alkld:disease ?d }""", "Warning", "disease", "node/choi-imt-case1-dx"),
    ("percent-over-100", HAO, """DELETE { ?q schema:value ?v } INSERT { ?q schema:value "120"^^xsd:decimal }
        WHERE { node:hao2026-case1-ki67 alkld:quantity ?q . ?q schema:value ?v }""",
     "Violation", None, "node/hao2026-case1-ki67-quantity"),
    ("three-prime-not-alk", CHOI, """DELETE { ?p alkld:gene ?g } INSERT { ?p alkld:gene <http://identifiers.org/ncbigene/833> }
        WHERE { node:choi-imt-case1-cars1-alk alkld:threePrimePartner ?p . ?p alkld:gene ?g }""",
     "Violation", "gene", "node/choi-imt-case1-cars1-alk"),
    ("gene-iri-form", CHOI, """DELETE { ?p alkld:gene ?g } INSERT { ?p alkld:gene <http://rdf.ncbi.nlm.nih.gov/pubchem/gene/GID833> }
        WHERE { node:choi-imt-case1-cars1-alk alkld:fivePrimePartner ?p . ?p alkld:gene ?g }""",
     "Violation", "gene", "node/choi-imt-case1-cars1-alk-fiveprime"),
    ("drug-iri-form", CHOI, """DELETE { node:choi-imt-case1-alectinib alkld:agent ?a }
        INSERT { node:choi-imt-case1-alectinib alkld:agent <http://identifiers.org/pubchem.compound/49806720> }
        WHERE { node:choi-imt-case1-alectinib alkld:agent ?a }""", "Violation", "agent", "node/choi-imt-case1-alectinib"),
    ("missing-evidence", CHOI, """DELETE { node:choi-imt-case1-ihc-cd34 alkld:evidence ?e }
        WHERE { node:choi-imt-case1-ihc-cd34 alkld:evidence ?e }""", "Violation", "evidence", "node/choi-imt-case1-ihc-cd34"),
    ("empty-quote", CHOI, """DELETE { ?s oa:exact ?q } INSERT { ?s oa:exact "" }
        WHERE { node:choi-imt-case1-ihc-cd34-ev-sel oa:exact ?q . BIND(node:choi-imt-case1-ihc-cd34-ev-sel AS ?s) }""",
     "Violation", "evidence", "node/choi-imt-case1-ihc-cd34"),
    ("end-before-start", CHOI, """DELETE { node:choi-imt-case1-ice alkld:endDate ?e }
        INSERT { node:choi-imt-case1-ice alkld:endDate "2018-01"^^xsd:gYearMonth }
        WHERE { node:choi-imt-case1-ice alkld:endDate ?e }""", "Violation", None, "node/choi-imt-case1-ice"),
    ("dose-before-course", CHOI, """DELETE { node:choi-imt-case1-alectinib-600-bid alkld:startDate ?d }
        INSERT { node:choi-imt-case1-alectinib-600-bid alkld:startDate "2022-12-01"^^xsd:date }
        WHERE { node:choi-imt-case1-alectinib-600-bid alkld:startDate ?d }""", "Violation", None, "node/choi-imt-case1-alectinib"),
    ("missing-subject", CHOI, f"""DELETE {{ <{B}case/choi-imt-case1> alkld:subject ?p }}
        WHERE {{ <{B}case/choi-imt-case1> alkld:subject ?p }}""", "Violation", "subject", "case/choi-imt-case1"),
    ("ihc-result-value", CHOI, """DELETE { node:choi-imt-case1-ihc-mdm2 alkld:ihcResult ?r }
        INSERT { node:choi-imt-case1-ihc-mdm2 alkld:ihcResult alkld:Maybe }
        WHERE { node:choi-imt-case1-ihc-mdm2 alkld:ihcResult ?r }""", "Violation", "ihcResult", "node/choi-imt-case1-ihc-mdm2"),
    ("exons-reversed", CHOI, """DELETE { ?x alkld:firstExon ?f } INSERT { ?x alkld:firstExon 30 }
        WHERE { node:choi-imt-case1-cars1-alk alkld:threePrimePartner/alkld:retainedExons ?x . ?x alkld:firstExon ?f }""",
     "Violation", "firstExon", "node/choi-imt-case1-cars1-alk-threeprime-exons"),
    ("copy-number-negative", CHOI, """DELETE { node:choi-imt-case1-mcl1-amp alkld:copyNumber ?c }
        INSERT { node:choi-imt-case1-mcl1-amp alkld:copyNumber -3 }
        WHERE { node:choi-imt-case1-mcl1-amp alkld:copyNumber ?c }""", "Violation", "copyNumber", "node/choi-imt-case1-mcl1-amp"),
    ("fusion-name", CHOI, """DELETE { node:choi-imt-case1-cars1-alk alkld:fusionName ?n }
        INSERT { node:choi-imt-case1-cars1-alk alkld:fusionName "ALK-CARS1" }
        WHERE { node:choi-imt-case1-cars1-alk alkld:fusionName ?n }""", "Violation", "fusionName", "node/choi-imt-case1-cars1-alk"),
    ("observed-without-five-prime", CHOI, """DELETE { ?p alkld:gene ?g }
        WHERE { node:choi-imt-case1-cars1-alk alkld:fivePrimePartner ?p . ?p alkld:gene ?g }""",
     "Violation", None, "node/choi-imt-case1-cars1-alk"),
    ("dose-without-frequency", CHOI, """DELETE { node:choi-imt-case1-alectinib-450-qd alkld:frequency ?f }
        WHERE { node:choi-imt-case1-alectinib-450-qd alkld:frequency ?f }""",
     "Warning", "frequency", "node/choi-imt-case1-alectinib-450-qd"),
    ("bad-age", CHOI, """DELETE { ?p alkld:ageAtPresentation ?a } INSERT { ?p alkld:ageAtPresentation "forty" }
        WHERE { ?p alkld:ageAtPresentation ?a }""", "Violation", "ageAtPresentation", "node/choi-imt-case1-patient"),
    ("bad-doi", CHOI, f"""INSERT DATA {{ <{B}pub/choi-imt-cars1-alk> prism:doi "doi:10.1000/x" }}""",
     "Violation", "doi", "pub/choi-imt-cars1-alk"),
]


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return load_shapes(ROOT / "shapes" / "alkld.shapes.ttl")


def _graph(store: ox.Store, *names: str) -> Graph:
    graph = Graph()
    for name in names:
        triples = [q.triple for q in store.quads_for_pattern(None, None, None, ox.NamedNode(name))]
        graph.parse(data=ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES).decode(),
                    format="nt")
    return graph


def case_graph(release: tuple[BuildResult, Path], case: str) -> Graph:
    store = ox.Store.read_only(str(release[1] / "store"))
    return _graph(store, f"{B}graph/case-{case}", f"{B}graph/pub-{PUBS[case]}",
                  f"{B}graph/vocabulary")


@pytest.mark.parametrize("case", [CHOI, HAO])
def test_real_case_conforms(release, shapes: Graph, case: str) -> None:
    results = validate_graph(case_graph(release, case), shapes, graph=case)
    assert [r for r in results if r.severity == "Violation"] == []


@pytest.mark.parametrize(("name", "case", "update", "severity", "path", "focus"), MUTATIONS,
                         ids=[m[0] for m in MUTATIONS])
def test_constraint_catches(release, shapes: Graph, name: str, case: str, update: str,
                            severity: str, path: str | None, focus: str) -> None:
    data = case_graph(release, case)
    before = len(data)
    assert before > 1000
    probe = Graph()
    for t in data:
        probe.add(t)
    data.update(PREFIXES + update)
    assert set(data) != set(probe), "the mutation changed nothing"
    results = validate_graph(data, shapes, graph=case)
    # the build's faster path (case ∪ publication ∪ only the class hierarchy they use)
    # must agree with pySHACL on the full graph, result for result
    store = ox.Store.read_only(str(release[1] / "store"))
    core = _graph(store, f"{B}graph/case-{case}", f"{B}graph/pub-{PUBS[case]}")
    core.update(PREFIXES + update)
    vocabulary = tuple(_graph(store, f"{B}graph/vocabulary"))
    for t in _tbox_for(core, vocabulary):
        core.add(t)
    assert set(validate_graph(core, shapes, graph=case)) == set(results)
    matching = [r for r in results if r.severity == severity and r.focus == B + focus
                and (path is None or (r.path or "").endswith(path))]
    assert matching, "\n".join(f"{r.severity} {r.focus} {r.path}: {r.message}" for r in results)
    assert all(r.message for r in matching)
