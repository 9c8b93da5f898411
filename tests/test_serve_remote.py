"""``alkld serve --store URL``: the pages and the endpoint over a real Oxigraph server that
``alkld publish`` filled, compared with the embedded store's answers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
import requests

from tests.conftest import running_server
from tests.test_remote import OxigraphServer, assert_ok, run_publish

CASE_GRAPH = "https://w3id.org/alkld/graph/case-choi-imt-case1"
Q = """PREFIX alkld: <https://w3id.org/alkld/ontology#>
SELECT ?case ?marker ?result WHERE { ?case alkld:hasIHCFinding ?f .
  ?f alkld:reportedLabel ?marker ; alkld:ihcResult ?result } ORDER BY ?case ?marker ?result"""


@pytest.fixture(scope="module")
def remote(release, tmp_path_factory) -> Iterator[tuple[OxigraphServer, Path]]:
    _, built = release
    out = tmp_path_factory.mktemp("remote-release")
    for name in ("alkld.nq", "void.ttl", "SHA256SUMS", "alkld.ttl", "context.jsonld"):
        shutil.copy2(built / name, out / name)  # no store/: the pages must use the remote one
    server = OxigraphServer(tmp_path_factory.mktemp("oxigraph-serve"))
    server.start()
    try:
        assert_ok(run_publish(out, server), server)
        yield server, out
    finally:
        server.stop()


@pytest.fixture(scope="module")
def remote_site(remote) -> Iterator[str]:
    server, out = remote
    with running_server(out, "--store", server.query_url, "--row-cap", "50") as url:
        yield url


def _rows(url: str, query: str) -> list[tuple[str, ...]]:
    r = requests.post(url + "/sparql", data={"query": query}, timeout=30,
                      headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200, r.text
    doc = r.json()
    names = doc["head"]["vars"]
    return [tuple(b.get(n, {}).get("value", "") for n in names)
            for b in doc["results"]["bindings"]]


def test_sparql_over_the_remote_store_equals_the_embedded_one(remote_site, server):
    assert _rows(remote_site, Q) == _rows(server, Q)
    assert len(_rows(remote_site, Q)) > 20


def test_index_and_case_page_from_the_remote_store(remote_site):
    html = requests.get(remote_site + "/", timeout=30).text
    for key in ("choi-imt-case1", "hao2026-case1", "gao-case1", "infant-histiocytosis-case1"):
        assert f'href="/doc/case/{key}"' in html
    page = requests.get(remote_site + "/doc/case/choi-imt-case1", timeout=60).text
    assert '<section id="ihc">' in page and "CARS1::ALK" in page


def test_case_iri_303_and_its_graph_from_the_remote_store(remote_site, release):
    r = requests.get(remote_site + "/case/choi-imt-case1", headers={"Accept": "text/turtle"},
                     allow_redirects=False, timeout=30)
    assert r.status_code == 303
    doc = requests.get(remote_site + r.headers["location"], timeout=60,
                       headers={"Accept": "text/turtle"})
    got = rdflib.Graph().parse(data=doc.text, format="turtle")
    store = ox.Store.read_only(str(release[1] / "store"))
    expected = {q.triple for q in store.quads_for_pattern(None, None, None,
                                                          ox.NamedNode(CASE_GRAPH))}
    assert len(got) == len(expected)


def test_row_cap_still_flags_truncation(remote_site):
    r = requests.get(remote_site + "/sparql", params={"query": "SELECT * { ?s ?p ?o }"},
                     headers={"Accept": "application/sparql-results+json"}, timeout=30)
    assert r.headers["X-Alkld-Truncated"] == "true"
    assert len(r.json()["results"]["bindings"]) == 50


def test_remote_syntax_error_is_400_and_unreachable_store_is_502(remote_site, release,
                                                                   tmp_path):
    bad = requests.get(remote_site + "/sparql", params={"query": "SELECT ?s WHERE { ?s }"},
                       timeout=30)
    assert bad.status_code == 400
    r = requests.get(remote_site + "/sparql", params={"query": "ASK { ?s ?p ?o }"},
                     headers={"Accept": "application/sparql-results+json"}, timeout=30)
    assert r.json()["boolean"] is True
