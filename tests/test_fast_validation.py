"""The build's validator (pyrudof) agrees with pySHACL, the reference, result for result.

Compared as sets of (focus node, path, severity, shape) — the report's own results
(``sh:result``), which is what both engines report — on the real release's cases, on a
synthetic release and on every mutated case of ``tests/test_shapes.py``.
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph

from alkld.pipeline import _tbox_for, _validate_cases, prepare
from alkld.rdf.build import to_case_graphs, to_publication_graph
from alkld.records.loader import load_record
from alkld.synth import Pools, write_synthetic
from alkld.validation.fast import RudofValidator
from alkld.validation.shacl import ValidationResult, validate_graph

from .conftest import ROOT, repo_options
from .test_shapes import MUTATIONS, PREFIXES, PUBS, B, _graph

SHAPES = ROOT / "shapes" / "alkld.shapes.ttl"


def _key(results: list[ValidationResult]) -> set[tuple[str, str | None, str, str]]:
    return {(r.focus, r.path, r.severity, r.shape) for r in results}


@pytest.fixture(scope="module")
def rudof() -> RudofValidator:
    return RudofValidator(SHAPES)


def _both(data: Graph, rudof: RudofValidator) -> tuple[set, set]:
    """pySHACL's results and rudof's, rudof given only what the shapes read (as the build
    does); rudof given every triple must agree with both."""
    reference = validate_graph(data, rudof.shapes, graph="g", details=False)
    text = ox.serialize(ox.parse(data.serialize(format="nt").encode(),
                                 format=ox.RdfFormat.N_TRIPLES), format=ox.RdfFormat.N_TRIPLES)
    fast = rudof.validate(rudof.readable(text).decode(), graph="g")
    assert _key(rudof.validate(text.decode(), graph="g")) == _key(fast)
    return _key(reference), _key(fast)


def _case_graph(release, case: str) -> Graph:
    store = ox.Store.read_only(str(release[1] / "store"))
    data = _graph(store, f"{B}graph/case-{case}", f"{B}graph/pub-{PUBS[case]}")
    vocabulary = tuple(_graph(store, f"{B}graph/vocabulary"))
    return data, vocabulary


@pytest.mark.parametrize("case", sorted(PUBS))
def test_agree_on_the_real_cases(release, rudof: RudofValidator, case: str) -> None:
    data, vocabulary = _case_graph(release, case)
    for t in _tbox_for(data, vocabulary):
        data.add(t)
    reference, fast = _both(data, rudof)
    assert reference == fast
    assert reference, "the real cases have warnings (no DOI), so results are compared"


@pytest.mark.parametrize(("name", "case", "update", "severity", "path", "focus"), MUTATIONS,
                         ids=[m[0] for m in MUTATIONS])
def test_agree_on_every_mutation(release, rudof: RudofValidator, name: str, case: str,
                                 update: str, severity: str, path: str | None,
                                 focus: str) -> None:
    data, vocabulary = _case_graph(release, case)
    data.update(PREFIXES + update)
    for t in _tbox_for(data, vocabulary):
        data.add(t)
    reference, fast = _both(data, rudof)
    assert reference == fast
    unmutated, _ = _case_graph(release, case)
    for t in _tbox_for(unmutated, vocabulary):
        unmutated.add(t)
    before = _both(unmutated, rudof)[1]
    assert any(s == severity for _, _, s, _ in fast - before), "the mutation is caught"


def test_agree_on_a_synthetic_release(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    write_synthetic(cases, Pools.from_cases(ROOT / "cases"), cases=60, seed=11, per_file=30)
    ctx = prepare(repo_options(tmp_path / "out", cases=cases))
    compared = 0
    for path in sorted(cases.glob("*.yaml")):
        loaded = load_record(path)
        pub = to_publication_graph(loaded, ctx.mapper, base=ctx.base)
        graphs = to_case_graphs(loaded, ctx.mapper, base=ctx.base)
        reference, _ = _validate_cases(pub, graphs, ctx, "pyshacl", details=False)
        fast, _ = _validate_cases(pub, graphs, ctx, "rudof", details=False)
        assert {(r.graph, *k) for r, k in zip(reference, map(_key_one, reference), strict=True)} \
            == {(r.graph, *k) for r, k in zip(fast, map(_key_one, fast), strict=True)}
        compared += len(reference)
    assert compared > 0


def _key_one(r: ValidationResult) -> tuple[str, str | None, str, str]:
    return (r.focus, r.path, r.severity, r.shape)


def test_property_shapes_have_stable_names(rudof: RudofValidator) -> None:
    """Results name blank property shapes the same way in every run and engine."""
    data, _ = Graph(), None
    data.parse(data=f"""@prefix alkld: <https://w3id.org/alkld/ontology#> .
        <{B}pub/x> alkld:articleType alkld:CaseReport ; alkld:sourceFile "x.txt" .""",
               format="turtle")
    reference, fast = _both(data, rudof)
    assert reference == fast
    assert ("https://w3id.org/alkld/pub/x", "http://prismstandard.org/namespaces/basic/2.0/doi",
            "Warning", "https://w3id.org/alkld/shapes#Publication-doi-2") in fast


def test_one_validator_keeps_no_data_between_graphs(release, rudof: RudofValidator) -> None:
    """Each graph is staged over an empty base and rolled back, even after a parse error."""
    data, vocabulary = _case_graph(release, sorted(PUBS)[0])
    for t in _tbox_for(data, vocabulary):
        data.add(t)
    text = data.serialize(format="nt")
    fresh = _key(RudofValidator(SHAPES).validate(text, graph="g"))
    with pytest.raises(Exception):  # noqa: B017 - pyrudof's DataError, not importable by name
        rudof.validate("<urn:a> <urn:b> this is not N-Triples .\n", graph="g")
    orphan = "<urn:orphan> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> " \
             "<https://w3id.org/alkld/ontology#Case> .\n"
    assert _key(rudof.validate(orphan, graph="g")), "a bare Case breaks its shape"
    assert _key(rudof.validate(text, graph="g")) == fresh


def test_readable_keeps_what_the_shapes_read(rudof: RudofValidator) -> None:
    """The build gives rudof only the lines a shape can read: a predicate no shape names goes,
    and an rdf:type triple stays only for a class the shapes target or require, or a
    subclass of one by the data's own rdfs:subClassOf triples (at any depth)."""
    alkld, oa = "https://w3id.org/alkld/ontology#", "http://www.w3.org/ns/oa#"
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    sub = "<http://www.w3.org/2000/01/rdf-schema#subClassOf>"
    lines = [
        f"<{B}node/a> {rdf_type} <{alkld}Deep> .",  # Deep ⊑ Middle ⊑ Fact (targeted)
        f"<{alkld}Deep> {sub} <{alkld}Middle> .",
        f"<{alkld}Middle> {sub} <{alkld}Fact> .",
        f"<{B}node/a> <{alkld}evidence> <{B}node/a-ev> .",
        f"<{B}node/a-ev> {rdf_type} <{oa}Annotation> .",  # required by sh:class
        f"<{B}node/a-ev> <{oa}motivatedBy> <{oa}describing> .",  # read by no shape
        f"<{B}node/a-ev-src> {rdf_type} <{oa}SpecificResource> .",  # a class no shape names
        f"<{B}node/a> <{alkld}evidence> <{B}node/a-ev> .",  # a duplicate
    ]
    text = "\n".join(lines).encode() + b"\n"
    kept = rudof.readable(text).decode().splitlines()
    assert kept == [lines[i] for i in (1, 2, 3, 0, 4)]
    # the results are the same as with every line (Deep's node lacks its evidence's quote)
    assert _key(rudof.validate(text.decode(), graph="g")) \
        == _key(rudof.validate("\n".join(kept) + "\n", graph="g")) != set()


@pytest.mark.parametrize("extra", [
    "shape:Fact sh:closed true .",
    """shape:Fact sh:sparql [ sh:select "SELECT $this WHERE { $this ?p ?o }" ] .""",
    "shape:Fact sh:target [ a sh:SPARQLTarget ] .",
])
def test_shapes_that_may_read_anything_turn_the_filter_off(tmp_path: Path, extra: str) -> None:
    """sh:closed, a SPARQL variable in a predicate's place or a SPARQL target may read any
    triple: then rudof is given every line."""
    from alkld.validation.fast import read_set
    from alkld.validation.shacl import load_shapes

    shapes = tmp_path / "shapes.ttl"
    shapes.write_text(SHAPES.read_text(encoding="utf-8") + "\n" + extra + "\n",
                      encoding="utf-8")
    assert read_set(load_shapes(shapes)).predicates is None
    assert read_set(load_shapes(SHAPES)).predicates is not None
