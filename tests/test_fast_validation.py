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
    reference = validate_graph(data, rudof.shapes, graph="g", details=False)
    fast = rudof.validate(data.serialize(format="nt"), graph="g")
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
