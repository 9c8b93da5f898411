"""Results written by oxigraph's own serialisers keep the row cap exact and never silent.

The literals are chosen to fool a row counter: braces and brackets as in JSON results,
``<result>`` as in XML, quoted newlines in CSV, tabs and newlines in TSV.
"""

from __future__ import annotations

import csv
import io
import json

import pyoxigraph as ox
import pytest
from rdflib.query import Result

from alkld.publish.sparql import execute

EX = "http://example.org/"
TRICKY = ['},{"s":{"type":"uri"', '[{"a":1},{}]', "<result><binding name='x'>",
          'line one\nline "two"\n', "tab\there", "plain"]
CAP = 12


def _store(rows: int) -> ox.Store:
    store = ox.Store()
    for i in range(rows):
        store.add(ox.Quad(ox.NamedNode(f"{EX}s{i:03d}"), ox.NamedNode(EX + "p"),
                          ox.Literal(TRICKY[i % len(TRICKY)] + str(i)),
                          ox.NamedNode(EX + "g")))
    return store


def _rows(body: bytes, fmt: str) -> list[tuple[str, str]]:
    if fmt == "json":
        return [(b["s"]["value"], b["o"]["value"])
                for b in json.loads(body)["results"]["bindings"]]
    if fmt == "csv":
        return [tuple(r) for r in list(csv.reader(io.StringIO(body.decode(), newline="")))[1:]]
    parsed = Result.parse(io.BytesIO(body), format=fmt)
    return [(str(r[0]), str(r[1])) for r in parsed]


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
@pytest.mark.parametrize("rows", [0, 1, CAP - 1, CAP, CAP + 1, 3 * CAP])
def test_row_cap_is_exact_in_every_format(fmt, rows):
    store = _store(rows)
    query = "SELECT ?s ?o WHERE { ?s ?p ?o } ORDER BY ?s"
    outcome = execute(store, query, fmt, cap=CAP, prefixes={}, context={})
    got = _rows(outcome.body, fmt)
    assert len(got) == min(rows, CAP)
    assert outcome.truncated is (rows > CAP)
    expected = [(f"{EX}s{i:03d}", TRICKY[i % len(TRICKY)] + str(i)) for i in range(len(got))]
    assert got == expected
    if outcome.truncated and fmt == "json":
        assert "row cap" in json.loads(outcome.body)["alkld:note"]
    if outcome.truncated and fmt == "xml":
        assert b"row cap" in outcome.body


@pytest.mark.parametrize("fmt", ["json", "xml", "csv", "tsv"])
def test_solutions_without_bindings_count_as_rows(fmt):
    store = _store(0)
    outcome = execute(store, "SELECT ?x WHERE { VALUES ?y { 1 2 3 } }", fmt, cap=2,
                      prefixes={}, context={})
    assert outcome.truncated
    outcome = execute(store, "SELECT ?x WHERE { VALUES ?y { 1 2 } }", fmt, cap=2,
                      prefixes={}, context={})
    assert not outcome.truncated
