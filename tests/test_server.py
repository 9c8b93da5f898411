"""The HTTP server, started for real on a loopback port: SPARQL protocol, linked data, pages."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import shutil
import time
import urllib.parse
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
import requests
from rdflib.query import Result
from SPARQLWrapper import CSV, JSON, TSV, XML, SPARQLWrapper

from tests.conftest import running_server

BASE = "https://w3id.org/alkld/"
CASE = BASE + "case/choi-imt-case1"
CASE_GRAPH = BASE + "graph/case-choi-imt-case1"
COUNT_IHC = """PREFIX alkld: <https://w3id.org/alkld/ontology#>
SELECT ?marker ?result WHERE { ?f a alkld:IHCFinding ; alkld:reportedLabel ?marker ;
  alkld:ihcResult ?result } ORDER BY ?marker ?result"""
CONSTRUCT = ("CONSTRUCT { ?s ?p ?o } WHERE { GRAPH <%s> { ?s a <%sontology#IHCFinding> ; ?p ?o } }"
             % (CASE_GRAPH, BASE))  # under the test server's row cap of 50


def _store_rows(release, query: str) -> int:
    _, out = release
    store = ox.Store.read_only(str(out / "store"))
    return len(list(store.query(query, use_default_graph_as_union=True)))


# --- SPARQL 1.1 Protocol -----------------------------------------------------------------------

@pytest.mark.parametrize("fmt", [JSON, XML, CSV, TSV])
def test_select_in_every_results_format_via_sparqlwrapper(server, release, fmt):
    client = SPARQLWrapper(server + "/sparql")
    client.setQuery(COUNT_IHC)
    client.setReturnFormat(fmt)
    raw = client.query().response.read()
    parsed = Result.parse(io.BytesIO(raw), format={JSON: "json", XML: "xml", CSV: "csv",
                                                   TSV: "tsv"}[fmt])
    rows = list(parsed)
    assert len(rows) == _store_rows(release, COUNT_IHC) > 20
    assert {str(r[0]) for r in rows} >= {"ALK", "CD34", "SMA", "desmin"} or \
        {str(r[0]) for r in rows} >= {"ALK", "CD34"}


def test_ask_results(server):
    for accept, expected in (("application/sparql-results+json", b'"boolean": true'),
                             ("application/sparql-results+xml", b"<boolean>true</boolean>")):
        r = requests.get(server + "/sparql", params={"query": f"ASK {{ <{CASE}> ?p ?o }}"},
                         headers={"Accept": accept}, timeout=10)
        assert r.status_code == 200 and expected in r.content


@pytest.mark.parametrize("media,rdflib_format", [
    ("text/turtle", "turtle"), ("application/n-triples", "nt"),
    ("application/n-quads", "nquads"), ("application/trig", "trig"),
    ("application/rdf+xml", "xml"), ("application/ld+json", "json-ld")])
def test_construct_in_every_rdf_format_parses_back(server, release, media, rdflib_format):
    r = requests.get(server + "/sparql", params={"query": CONSTRUCT},
                     headers={"Accept": media}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(media)
    assert "Accept" in r.headers["vary"]
    ds = rdflib.Dataset()
    ds.parse(data=r.content, format=rdflib_format)
    n = len(ds) if rdflib_format in ("nquads", "trig") else len(ds.default_graph) or len(ds)
    assert n == _store_rows(release, CONSTRUCT) > 20
    assert "X-Alkld-Truncated" not in r.headers
    if media == "application/ld+json":
        doc = r.json()
        assert isinstance(doc["@context"], dict) and "@graph" in doc  # compacted, not expanded
        assert any(k.startswith("alkld:") or k in doc["@context"]
                   for node in doc["@graph"] for k in node if not k.startswith("@"))


def test_get_post_form_and_post_direct_agree(server):
    headers = {"Accept": "application/sparql-results+json"}
    get = requests.get(server + "/sparql", params={"query": COUNT_IHC}, headers=headers,
                       timeout=10)
    form = requests.post(server + "/sparql", data={"query": COUNT_IHC}, headers=headers,
                         timeout=10)
    direct = requests.post(server + "/sparql", data=COUNT_IHC.encode(),
                           headers={**headers, "Content-Type": "application/sparql-query"},
                           timeout=10)
    assert get.status_code == form.status_code == direct.status_code == 200
    assert get.json() == form.json() == direct.json()


def test_accept_q_values_and_format_parameter(server):
    r = requests.get(server + "/sparql", params={"query": COUNT_IHC}, timeout=10, headers={
        "Accept": "application/sparql-results+json;q=0.4, text/csv;q=0.9, */*;q=0.1"})
    assert r.headers["content-type"].startswith("text/csv")
    assert next(csv.reader(io.StringIO(r.text))) == ["marker", "result"]
    r = requests.get(server + "/sparql", params={"query": COUNT_IHC, "format": "tsv"},
                     headers={"Accept": "text/csv"}, timeout=10)
    assert r.headers["content-type"].startswith("text/tab-separated-values")
    r = requests.get(server + "/sparql", params={"query": COUNT_IHC},
                     headers={"Accept": "image/png"}, timeout=10)
    assert r.status_code == 406


def test_syntax_error_is_400_with_position(server):
    r = requests.get(server + "/sparql", params={"query": "SELECT ?s WHERE { ?s ?p }"},
                     timeout=10)
    assert r.status_code == 400
    assert re.search(r"\b1:\d+", r.text), r.text


@pytest.mark.parametrize("how", ["direct", "form", "get", "load"])
def test_updates_are_forbidden(server, release, how):
    update = f'INSERT DATA {{ GRAPH <{CASE_GRAPH}> {{ <{CASE}> <urn:x> "pwned" }} }}'
    if how == "direct":
        r = requests.post(server + "/sparql", data=update,
                          headers={"Content-Type": "application/sparql-update"}, timeout=10)
    elif how == "form":
        r = requests.post(server + "/sparql", data={"update": update}, timeout=10)
    elif how == "get":
        r = requests.get(server + "/sparql", params={"query": update}, timeout=10)
    else:
        r = requests.post(server + "/sparql", data={"query": "LOAD <http://example.org/x.ttl>"},
                          timeout=10)
    assert r.status_code == 403
    ask = requests.get(server + "/sparql", params={"query": f"ASK {{ <{CASE}> <urn:x> ?o }}"},
                       headers={"Accept": "application/sparql-results+json"}, timeout=10)
    assert ask.json()["boolean"] is False


def test_service_to_an_outside_host_is_refused(server):
    q = "SELECT * WHERE { SERVICE <https://query.wikidata.org/sparql> { ?s ?p ?o } } LIMIT 1"
    r = requests.get(server + "/sparql", params={"query": q}, timeout=10)
    assert r.status_code == 403 and "query.wikidata.org" in r.text


def test_timeout_really_stops_the_query_and_the_server_recovers(server):
    expensive = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    started = time.monotonic()
    r = requests.get(server + "/sparql", params={"query": expensive}, timeout=60)
    elapsed = time.monotonic() - started
    assert r.status_code == 503 and "timeout" in r.text
    assert elapsed < 15
    for _ in range(3):  # the killed worker was replaced: queries still run on both workers
        ok = requests.get(server + "/sparql", params={"query": "ASK { ?s ?p ?o }"},
                          headers={"Accept": "application/sparql-results+json"}, timeout=30)
        assert ok.json()["boolean"] is True


def test_row_cap_is_never_silent(server):
    q = "SELECT ?s ?p ?o WHERE { ?s ?p ?o }"
    r = requests.get(server + "/sparql", params={"query": q},
                     headers={"Accept": "application/sparql-results+json"}, timeout=30)
    assert r.headers["X-Alkld-Truncated"] == "true" and r.headers["X-Alkld-Row-Cap"] == "50"
    doc = r.json()
    assert len(doc["results"]["bindings"]) == 50 and "row cap" in doc["alkld:note"]
    r = requests.get(server + "/sparql", params={"query": q},
                     headers={"Accept": "application/sparql-results+xml"}, timeout=30)
    assert b"row cap" in r.content and r.content.count(b"<result>") == 50
    small = requests.get(server + "/sparql", params={"query": q + " LIMIT 5"}, timeout=30)
    assert "X-Alkld-Truncated" not in small.headers
    for media, header_lines in (("text/csv", 1), ("text/tab-separated-values", 1)):
        r = requests.get(server + "/sparql", params={"query": q}, headers={"Accept": media},
                         timeout=30)
        assert r.headers["X-Alkld-Truncated"] == "true"
        assert "row cap" in r.headers["Warning"]
        assert len(r.text.splitlines()) == 50 + header_lines


def _raw_exchange(url: str, data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Send ``data`` as is on one connection; read every response until the server closes."""
    import socket

    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(data)
        buffer = b""
        while chunk := sock.recv(65536):
            buffer += chunk
    replies = []
    while buffer:
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size_line, _, buffer = buffer.partition(b"\r\n")
                size = int(size_line, 16)
                body, buffer = body + buffer[:size], buffer[size + 2:]
                if size == 0:
                    break
        else:
            length = int(headers.get("content-length", "0"))
            body, buffer = buffer[:length], buffer[length:]
        replies.append((int(status_line.split()[1]), headers, body))
    return replies


def test_pipelined_requests_are_answered_in_order(server):
    ask = urllib.parse.quote(f"ASK {{ <{CASE}> ?p ?o }}")
    data = (f"GET /sparql?query={ask} HTTP/1.1\r\nHost: x\r\n"
            "Accept: application/sparql-results+xml\r\n\r\n"
            "GET /.well-known/void HTTP/1.1\r\nHost: x\r\nAccept: text/turtle\r\n\r\n"
            f"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
            f"Accept: application/sparql-results+json\r\n"
            f"Content-Length: {len(COUNT_IHC.encode())}\r\n\r\n{COUNT_IHC}"
            "GET /sparql HTTP/1.1\r\nHost: x\r\nAccept: text/turtle\r\n"
            "Connection: close\r\n\r\n").encode()
    (a, b, c, d) = _raw_exchange(server, data)
    assert a[0] == 200 and b"<boolean>true</boolean>" in a[2]
    assert b[0] == 200 and b[1]["content-type"].startswith("text/turtle") and b"void:" in b[2]
    assert c[0] == 200 and len(json.loads(c[2])["results"]["bindings"]) > 20
    assert d[0] == 200 and b"sparql-service-description" in d[2]
    assert d[1]["connection"] == "close"


def test_chunked_request_bodies(server):
    body = COUNT_IHC.encode()
    chunks = b"".join(b"%x\r\n%b\r\n" % (len(body[i:i + 50]), body[i:i + 50])
                      for i in range(0, len(body), 50)) + b"0\r\n\r\n"
    head = (b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
            b"Accept: text/csv\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    ((status, headers, answer),) = _raw_exchange(server, head + chunks)
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert answer.startswith(b"marker,result")
    big = b"SELECT * WHERE { ?s ?p ?o } #" + b"x" * 30_000
    chunks = b"".join(b"%x\r\n%b\r\n" % (len(big[i:i + 4096]), big[i:i + 4096])
                      for i in range(0, len(big), 4096)) + b"0\r\n\r\n"
    ((status, _, _),) = _raw_exchange(server, head + chunks)
    assert status == 413


def test_results_are_gzipped_when_asked_and_cached_per_format(server):
    q = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 40"
    session = requests.Session()
    for _ in range(2):  # the second round comes from the caches
        for media, marker in (("application/sparql-results+json", b'"bindings"'),
                              ("application/sparql-results+xml", b"<results>"),
                              ("text/csv", b"s,p,o")):
            raw = session.get(server + "/sparql", params={"query": q}, stream=True,
                              headers={"Accept": media, "Accept-Encoding": "gzip"},
                              timeout=30)
            assert raw.headers["content-encoding"] == "gzip"
            assert raw.headers["content-type"].startswith(media)
            body = gzip.decompress(raw.raw.read())
            assert marker in body
            plain = session.get(server + "/sparql", params={"query": q}, timeout=30,
                                headers={"Accept": media, "Accept-Encoding": "identity"})
            assert "content-encoding" not in plain.headers and plain.content == body


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def test_a_timed_out_query_stops_with_its_worker_process(release):
    """The worker that ran the query is gone (the work stopped); a new one takes its place."""
    import subprocess
    import sys

    from tests.conftest import ROOT, free_port

    _, out = release
    expensive = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "alkld", "serve", "--out", str(out),
                             "--port", str(port), "--queries", str(ROOT / "queries"),
                             "--workers", "2", "--timeout", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(_children(proc.pid)) < 2 or not _answers(url):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        before = _children(proc.pid)
        assert len(before) == 2
        started = time.monotonic()
        r = requests.get(url + "/sparql", params={"query": expensive}, timeout=30)
        assert r.status_code == 503 and "1 s timeout" in r.text
        assert time.monotonic() - started < 5
        deadline = time.monotonic() + 10
        while not (before - _children(proc.pid)) or len(_children(proc.pid)) < 2:
            assert time.monotonic() < deadline, "the worker was not replaced"
            time.sleep(0.1)  # the worker exits after its 503, the supervisor forks another
        (gone,) = before - _children(proc.pid)
        assert not Path(f"/proc/{gone}").exists()  # exited and reaped: its query stopped
        for _ in range(4):
            ok = requests.get(url + "/sparql", params={"query": "ASK { ?s ?p ?o }"},
                              headers={"Accept": "application/sparql-results+json"}, timeout=30)
            assert ok.json()["boolean"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert not any(Path(f"/proc/{pid}").exists() for pid in before)


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/sparql?query=ASK%7B%7D", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_oversized_body_is_413(server):
    big = "SELECT * WHERE { ?s ?p ?o } #" + "x" * 30_000
    r = requests.post(server + "/sparql", data=big.encode(),
                      headers={"Content-Type": "application/sparql-query"}, timeout=10)
    assert r.status_code == 413


def test_cors_open_for_reads(server):
    r = requests.get(server + "/sparql", params={"query": "ASK {}"},
                     headers={"Origin": "https://example.org"}, timeout=10)
    assert r.headers["access-control-allow-origin"] == "*"


def test_service_description_lists_named_graphs(server, release):
    r = requests.get(server + "/sparql", headers={"Accept": "text/turtle"}, timeout=10)
    g = rdflib.Graph().parse(data=r.text, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    assert (None, rdflib.RDF.type, sd.Service) in g
    names = {str(o) for o in g.objects(None, sd.name)}
    _, out = release
    store = ox.Store.read_only(str(out / "store"))
    assert names == {g.value for g in store.named_graphs()}


# --- linked data ------------------------------------------------------------------------------

def _minted(release) -> set[str]:
    _, out = release
    store = ox.Store.read_only(str(out / "store"))
    return {q.subject.value for q in store
            if isinstance(q.subject, ox.NamedNode) and q.subject.value.startswith(BASE)
            and "#" not in q.subject.value[len(BASE):]}


def test_every_minted_iri_dereferences(server, release):
    session = requests.Session()
    minted = _minted(release)
    assert len(minted) > 1000
    for iri in sorted(minted):
        path = "/" + urllib.parse.quote(iri[len(BASE):])
        r = session.get(server + path, headers={"Accept": "text/turtle"},
                        allow_redirects=False, timeout=10)
        if iri.startswith((BASE + "graph/", BASE + "ontology")):
            assert r.status_code == 200, iri
        elif iri.startswith(BASE + "dataset"):
            assert r.status_code == 303, iri
        else:
            assert r.status_code == 303, (iri, r.status_code, r.text)
            assert r.headers["location"].startswith("/doc/")
            assert "Accept" in r.headers["vary"]


@pytest.mark.parametrize("media,fmt", [("text/turtle", "turtle"),
                                       ("application/ld+json", "json-ld"),
                                       ("application/n-triples", "nt"),
                                       ("application/rdf+xml", "xml")])
def test_case_iri_conneg_303_then_its_case_graph(server, release, media, fmt):
    r = requests.get(server + "/case/choi-imt-case1", headers={"Accept": media},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 303
    assert 'rel="alternate"' in r.headers["link"]
    doc = requests.get(server + r.headers["location"], headers={"Accept": media}, timeout=30)
    assert doc.status_code == 200 and doc.headers["content-type"].startswith(media)
    g = rdflib.Graph().parse(data=doc.content, format=fmt)
    _, out = release
    store = ox.Store.read_only(str(out / "store"))
    expected = {q.triple for q in store.quads_for_pattern(None, None, None,
                                                          ox.NamedNode(CASE_GRAPH))}
    assert len(g) == len(expected)
    assert (rdflib.URIRef(CASE), rdflib.RDF.type,
            rdflib.URIRef("https://w3id.org/alkld/ontology#Case")) in g


def test_fact_iri_gets_its_concise_bounded_description(server):
    r = requests.get(server + "/node/choi-imt-case1-ihc-cd34", timeout=10,
                     headers={"Accept": "text/turtle"})  # follows the 303
    assert r.status_code == 200 and r.history[0].status_code == 303
    g = rdflib.Graph().parse(data=r.text, format="turtle")
    node = rdflib.URIRef(BASE + "node/choi-imt-case1-ihc-cd34")
    assert (node, rdflib.URIRef("https://w3id.org/alkld/ontology#target"),
            rdflib.URIRef("http://identifiers.org/ncbigene/947")) in g
    assert len(g) < 40  # its description, not the whole case


def test_graph_iri_is_a_document(server):
    r = requests.get(server + "/graph/case-choi-imt-case1",
                     headers={"Accept": "application/n-quads"}, allow_redirects=False,
                     timeout=10)
    assert r.status_code == 200
    ds = rdflib.Dataset().parse(data=r.text, format="nquads")
    assert len(ds) > 1000


def test_etag_last_modified_and_304(server):
    url = server + "/doc/case/choi-imt-case1.ttl"
    first = requests.get(url, timeout=10)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = requests.get(url, headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304 and again.content == b""
    since = requests.get(url, headers={"If-Modified-Since": modified}, timeout=10)
    assert since.status_code == 304
    changed = requests.get(url, headers={"If-None-Match": 'W/"other"'}, timeout=10)
    assert changed.status_code == 200
    q = requests.get(server + "/sparql", params={"query": COUNT_IHC}, timeout=10)
    assert requests.get(server + "/sparql", params={"query": COUNT_IHC}, timeout=10,
                        headers={"If-None-Match": q.headers["etag"]}).status_code == 304


def test_gzip_when_asked(server):
    url = server + "/doc/case/choi-imt-case1.ttl"
    raw = requests.get(url, headers={"Accept-Encoding": "gzip"}, stream=True, timeout=10)
    assert raw.headers["content-encoding"] == "gzip"
    body = gzip.decompress(raw.raw.read())
    plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "content-encoding" not in plain.headers
    assert body == plain.content


def test_well_known_void_and_dumps(server, release):
    r = requests.get(server + "/.well-known/void", headers={"Accept": "text/turtle"},
                     timeout=10)
    g = rdflib.Graph().parse(data=r.text, format="turtle")
    assert (rdflib.URIRef(BASE + "dataset"), rdflib.RDF.type,
            rdflib.URIRef("http://rdfs.org/ns/void#Dataset")) in g
    jl = requests.get(server + "/.well-known/void", headers={"Accept": "application/ld+json"},
                      timeout=10)
    assert len(rdflib.Graph().parse(data=jl.text, format="json-ld")) == len(g)
    listing = requests.get(server + "/dumps/", timeout=10).text
    sums = requests.get(server + "/dumps/SHA256SUMS", timeout=10).text
    import hashlib
    for line in sums.splitlines():
        digest, name = line.split("  ")
        assert f'href="/dumps/{name}"' in listing
        body = requests.get(server + "/dumps/" + name, timeout=30).content
        assert hashlib.sha256(body).hexdigest() == digest
    assert requests.get(server + "/dumps/../pyproject.toml", timeout=10).status_code == 404


def test_unknown_iri_is_404(server):
    assert requests.get(server + "/case/no-such-case", timeout=10).status_code == 404


# --- pages ------------------------------------------------------------------------------------

def _jsonld_blocks(html: str) -> list[dict]:
    return [json.loads(m) for m in re.findall(
        r'<script type="application/ld\+json">(.*?)</script>', html, re.S)]


def test_index_lists_every_case_with_schema_org(server, release):
    result, _ = release
    html = requests.get(server + "/", headers={"Accept": "text/html"}, timeout=10).text
    for key in ("choi-imt-case1", "hao2026-case1", "gao-case1", "infant-histiocytosis-case1"):
        assert f'href="/doc/case/{key}"' in html
    assert "CARS1::ALK" in html and "alectinib" in html.lower()
    (block,) = _jsonld_blocks(html)
    assert block["@type"] == "Dataset" and block["license"]


def test_case_page_shows_facts_quotes_and_linked_identifiers(server):
    html = requests.get(server + "/doc/case/choi-imt-case1", headers={"Accept": "text/html"},
                        timeout=30).text
    assert '<section id="ihc">' in html and "<svg class=\"fusion\"" in html
    assert "https://pubchem.ncbi.nlm.nih.gov/compound/" in html  # drugs link to PubChem
    assert "https://www.ncbi.nlm.nih.gov/gene/238" in html  # ALK links to NCBI Gene
    assert "http://purl.obolibrary.org/obo/MONDO_" in html
    assert "with extensive metastases to the soft tissues, lungs, and bones" in html
    (block,) = _jsonld_blocks(html)
    assert block["@type"] == "MedicalWebPage" and block["about"]


def test_term_page_lists_the_cases_that_mention_it(server):
    iri = "http://identifiers.org/ncbigene/238"
    html = requests.get(server + "/about", params={"iri": iri}, timeout=10).text
    assert "choi-imt-case1" in html and "https://www.ncbi.nlm.nih.gov/gene/238" in html


def test_literals_are_escaped_and_encoded_iris_round_trip(release, tmp_path: Path):
    _, out = release
    copy = tmp_path / "release"
    shutil.copytree(out, copy)
    store = ox.Store(str(copy / "store"))
    g = ox.NamedNode(CASE_GRAPH)
    odd = ox.NamedNode(BASE + "node/café-(test)+1")
    store.add(ox.Quad(ox.NamedNode(CASE), ox.NamedNode(BASE + "ontology#hasEvent"), odd, g))
    store.add(ox.Quad(odd, ox.NamedNode("http://purl.org/dc/terms/description"),
                      ox.Literal("<script>alert('x')</script>"), g))
    store.flush()
    del store
    with running_server(copy, "--workers", "1") as url:
        page = requests.get(url + "/doc/case/choi-imt-case1", timeout=30).text
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(" in page
        path = "/" + urllib.parse.quote("node/café-(test)+1")
        r = requests.get(url + path, headers={"Accept": "text/turtle"}, timeout=10)
        assert r.status_code == 200, r.text
        assert r.history and r.history[0].status_code == 303
        parsed = rdflib.Graph().parse(data=r.text, format="turtle")
        assert (rdflib.URIRef(odd.value), None, None) in parsed
        html = requests.get(url + path, timeout=10).text
        assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_allow_listed_service_is_federated(release, server):
    """A SERVICE call to an allow-listed host runs (here: another alkld server)."""
    _, out = release
    host = urllib.parse.urlsplit(server).netloc
    q = (f"SELECT ?t WHERE {{ SERVICE <{server}/sparql> {{ <{CASE}> a ?t }} }}")
    with running_server(out, "--workers", "1", "--allow-service", host) as url:
        r = requests.get(url + "/sparql", params={"query": q},
                         headers={"Accept": "application/sparql-results+json"}, timeout=30)
        assert r.status_code == 200, r.text
        values = {b["t"]["value"] for b in r.json()["results"]["bindings"]}
        assert "https://w3id.org/alkld/ontology#Case" in values


def test_the_supervisor_kills_only_workers_past_the_timeout():
    """``overdue`` decides on one reading of the worker's busy-since slot (0 = idle)."""
    from alkld.publish.httpd import overdue

    forked = 100.0
    assert not overdue(0.0, forked, 10_000.0, 12.0), "an idle worker is never overdue"
    assert not overdue(105.0, forked, 110.0, 12.0), "a query 5 s old is within 10 + 2 s"
    assert overdue(105.0, forked, 118.0, 12.0), "a query 13 s old is past it"
    assert not overdue(50.0, forked, 118.0, 12.0), "a slot value older than the worker is stale"


async def _strict_client(host: str, port: int, bodies: list[bytes], seconds: float,
                         connections: int) -> dict[str, int]:
    """Keep-alive connections POSTing SPARQL; every response parsed by httptools."""
    import asyncio

    import httptools

    counts = {"ok": 0, "other": 0, "closed": 0, "malformed": 0}
    stop = time.monotonic() + seconds
    turn = iter(range(10**9))

    class Response:
        def __init__(self) -> None:
            self.done = False

        def on_message_complete(self) -> None:
            self.done = True

    async def one() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < stop:
                body = bodies[next(turn) % len(bodies)]
                writer.write(b"POST /sparql HTTP/1.1\r\nHost: %s:%d\r\n"
                             b"Accept: application/sparql-results+json\r\n"
                             b"Content-Type: application/x-www-form-urlencoded\r\n"
                             b"Content-Length: %d\r\n\r\n%s"
                             % (host.encode(), port, len(body), body))
                response = Response()
                parser = httptools.HttpResponseParser(response)
                while not response.done:
                    data = await reader.read(65536)
                    if not data:
                        counts["closed"] += 1
                        return
                    try:
                        parser.feed_data(data)
                    except httptools.HttpParserError:
                        counts["malformed"] += 1
                        return
                counts["ok" if parser.get_status_code() == 200 else "other"] += 1
        finally:
            writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return counts


def test_under_load_every_answer_is_whole_and_no_worker_is_lost(release):
    """Uncached lookups on 8 keep-alive connections for a few seconds: every response is a
    complete 200, no connection is dropped and both workers are the ones that started (a
    supervisor race once killed a worker whose query had just finished)."""
    import asyncio

    _, out = release
    store = ox.Store.read_only(str(out / "store"))
    subjects = sorted({q.subject.value for q in store.quads_for_pattern(None, None, None)
                       if isinstance(q.subject, ox.NamedNode)})
    bodies = [urllib.parse.urlencode({"query": f"SELECT ?p ?o WHERE {{ <{s}> ?p ?o }}"}
                                     ).encode() for s in subjects]
    del store
    with running_server(out, "--workers", "2", "--result-cache", "0") as url:
        host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
        (supervisor,) = _server_pids(port)
        before = _children(supervisor)
        counts = asyncio.run(_strict_client(host, port, bodies, 4.0, 8))
        after = _children(supervisor)
    assert counts["ok"] > 1000, counts
    assert counts == {"ok": counts["ok"], "other": 0, "closed": 0, "malformed": 0}
    assert len(before) == 2 and after == before, "a worker was replaced under load"


def _server_pids(port: int) -> list[int]:
    """The ``alkld serve`` process this test started on ``port`` (its workers share its
    command line but not its parent)."""
    import os

    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
                status = (entry / "status").read_text()
            except OSError:
                continue
            ppid = int(re.search(r"^PPid:\s*(\d+)", status, re.M).group(1))
            if b"serve" in cmd and str(port).encode() in cmd and ppid == os.getpid():
                found.append(int(entry.name))
    return found


def test_in_memory_and_on_disk_stores_answer_alike(release):
    """``--in-memory yes`` (a copy shared by the forked workers) and ``no`` (RocksDB) give the
    same answers; ``auto`` picks memory for a release this small."""
    from alkld.publish.server import ServerSettings, wants_memory

    _, out = release
    assert wants_memory(ServerSettings(out=out))
    assert not wants_memory(ServerSettings(out=out, in_memory="no"))
    queries = ["SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",
               "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g "
               "ORDER BY ?g",
               "SELECT ?case ?dx WHERE { ?case <https://w3id.org/alkld/ontology#hasDiagnosis> "
               "?dx } ORDER BY ?case ?dx"]
    answers = {}
    for mode in ("yes", "no"):
        with running_server(out, "--in-memory", mode, "--result-cache", "0") as url:
            got = []
            for q in queries:
                r = requests.post(url + "/sparql", data={"query": q}, timeout=30,
                                  headers={"Accept": "application/sparql-results+json"})
                assert r.status_code == 200
                got.append(r.json()["results"]["bindings"])
            case = got[2][0]["case"]["value"]
            r = requests.get(url + "/sparql", params={"query": f"DESCRIBE <{case}>"},
                             headers={"Accept": "application/n-triples"}, timeout=30)
            got.append(sorted(r.text.splitlines()))
            answers[mode] = got
    assert answers["yes"] == answers["no"]
    assert int(answers["yes"][0][0]["n"]["value"]) > 10_000 and len(answers["yes"][3]) > 10


def test_preloading_copies_the_store_not_the_dump(release, tmp_path):
    """The in-memory copy holds what the store holds, even when the store was changed after
    the build and ``alkld.nq`` beside it no longer matches."""
    from alkld.publish.server import _PRELOADED, ServerSettings, drop_preloaded, preload_store

    _, out = release
    copy = tmp_path / "release"
    shutil.copytree(out, copy)
    store = ox.Store(str(copy / "store"))
    extra = ox.Quad(ox.NamedNode(CASE), ox.NamedNode(BASE + "ontology#note"),
                    ox.Literal("added after the build"), ox.NamedNode(CASE_GRAPH))
    store.add(extra)
    store.flush()
    expected = set(store)
    del store
    try:
        assert preload_store(ServerSettings(out=copy)) == len(expected)
        assert set(_PRELOADED[copy / "store"]) == expected and extra in expected
    finally:
        drop_preloaded()
