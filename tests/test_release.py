"""The release as a user gets it: files, parse-back, determinism, VoID/DCAT, provenance."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pyoxigraph as ox
import pytest
from pyld import jsonld
from rdflib import Dataset, Graph, URIRef
from rdflib.compare import isomorphic

from alkld.pipeline import BuildResult, build

from .conftest import repo_options, seeds_dir, tree_digest

FILES = ["alkld.trig", "alkld.nq", "alkld.ttl", "alkld.jsonld", "context.jsonld", "void.ttl",
         "dataset.jsonld", "SHA256SUMS"]


def _dataset(path: Path, fmt: str) -> Dataset:
    ds = Dataset()
    ds.parse(path, format=fmt)
    return ds


def _graphs(ds: Dataset) -> dict[str, Graph]:
    return {str(g.identifier): g for g in ds.graphs() if len(g)}


def test_every_file_is_written(release: tuple[BuildResult, Path]) -> None:
    _, out = release
    for name in FILES:
        assert (out / name).stat().st_size > 0, name
    assert (out / "store").is_dir()


def test_checksums_verify(release: tuple[BuildResult, Path]) -> None:
    _, out = release
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True,
                           text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(FILES) - 1


@pytest.mark.parametrize(("name", "fmt"), [("alkld.trig", "trig"), ("alkld.jsonld", "json-ld")])
def test_dumps_parse_back_isomorphic_with_rdflib(release: tuple[BuildResult, Path], name: str,
                                                 fmt: str) -> None:
    _, out = release
    reference = _graphs(_dataset(out / "alkld.nq", "nquads"))
    other = _graphs(_dataset(out / name, fmt))
    assert sorted(other) == sorted(reference)
    for graph_name, graph in reference.items():
        assert isomorphic(graph, other[graph_name]), graph_name


def test_dumps_parse_back_with_pyoxigraph(release: tuple[BuildResult, Path]) -> None:
    _, out = release
    nq = list(ox.parse(path=str(out / "alkld.nq"), format=ox.RdfFormat.N_QUADS))
    trig = list(ox.parse(path=str(out / "alkld.trig"), format=ox.RdfFormat.TRIG))
    jl = list(ox.parse(path=str(out / "alkld.jsonld"), format=ox.RdfFormat.JSON_LD))
    named = {q for q in nq if not any(isinstance(t, ox.BlankNode) for t in (q.subject, q.object))}
    assert len(nq) == len(trig) == len(jl) == result_quads(release)
    for other in (trig, jl):
        assert named <= set(other)
    store = ox.Store(path=None)
    store.extend(nq)
    assert len(store) == len(nq)


def result_quads(release: tuple[BuildResult, Path]) -> int:
    return release[0].quads


def test_turtle_is_the_union(release: tuple[BuildResult, Path]) -> None:
    _, out = release
    union = Graph()
    for g in _dataset(out / "alkld.nq", "nquads").graphs():
        union += g
    ttl = Graph().parse(out / "alkld.ttl", format="turtle")
    assert isomorphic(union, ttl)


def test_jsonld_is_compacted_with_the_published_context(release: tuple[BuildResult, Path]) -> None:
    _, out = release
    doc = json.loads((out / "alkld.jsonld").read_text())
    context = json.loads((out / "context.jsonld").read_text())
    assert doc["@context"] == context["@context"]
    assert doc["@context"]["@version"] == 1.1
    # A conforming processor expands it offline (no remote context) to the same quads.
    nquads = jsonld.to_rdf(doc, {"format": "application/n-quads"})
    expanded = Dataset().parse(data=nquads, format="nquads")
    reference = _dataset(out / "alkld.nq", "nquads")
    assert len(expanded) == len(reference)
    # Compact IRIs use the context: a case appears as "case:…", MONDO terms as "MONDO:…".
    text = (out / "alkld.jsonld").read_text()
    assert '"case:' in text and '"MONDO:' in text


def test_rebuild_is_byte_identical(release: tuple[BuildResult, Path], tmp_path: Path) -> None:
    _, out = release
    build(repo_options(tmp_path))
    first = {k: v for k, v in tree_digest(out).items() if not k.startswith("store")}
    second = {k: v for k, v in tree_digest(tmp_path).items() if not k.startswith("store")}
    assert first == second


def test_void_describes_every_distribution(release: tuple[BuildResult, Path]) -> None:
    _, out = release
    void = Graph().parse(out / "void.ttl", format="turtle")
    rows = void.query("""
        PREFIX dcat: <http://www.w3.org/ns/dcat#> PREFIX spdx: <http://spdx.org/rdf/terms#>
        SELECT ?url ?size ?sum ?media WHERE {
          ?ds dcat:distribution ?d . ?d dcat:downloadURL ?url ; dcat:byteSize ?size ;
             dcat:mediaType ?media ; spdx:checksum/spdx:checksumValue ?sum }""")
    seen = {}
    for url, size, checksum, media in rows:
        name = str(url).rsplit("/", 1)[1]
        seen[name] = True
        data = (out / name).read_bytes()
        assert int(size) == len(data), name
        assert str(checksum) == hashlib.sha256(data).hexdigest(), name
        assert str(media).startswith("https://www.iana.org/assignments/media-types/")
    assert set(seen) == {"alkld.trig", "alkld.nq", "alkld.ttl", "alkld.jsonld", "context.jsonld"}


def test_void_counts_and_linksets(release: tuple[BuildResult, Path]) -> None:
    result, out = release
    void = Graph().parse(out / "void.ttl", format="turtle")
    VOID = "http://rdfs.org/ns/void#"
    ds = URIRef("https://w3id.org/alkld/dataset")
    triples = int(void.value(ds, URIRef(VOID + "triples")))
    union = Graph().parse(out / "alkld.ttl", format="turtle")
    assert triples == len(union)
    targets = {str(o) for o in void.objects(None, URIRef(VOID + "objectsTarget"))}
    for expected in ("http://purl.obolibrary.org/obo/mondo.owl", "http://id.nlm.nih.gov/mesh/",
                     "https://www.ncbi.nlm.nih.gov/gene/", "https://pubchem.ncbi.nlm.nih.gov/"):
        assert expected in targets
    subsets = {str(o) for o in void.objects(ds, URIRef(VOID + "subset"))}
    assert result.case_graphs
    for graph in result.case_graphs:
        assert graph in subsets


def test_one_named_graph_per_case_and_publication(release: tuple[BuildResult, Path]) -> None:
    result, out = release
    graphs = _graphs(_dataset(out / "alkld.nq", "nquads"))
    assert len(result.records) == 5
    for keys in result.records:
        assert f"https://w3id.org/alkld/graph/pub-{keys.key}" in graphs
        for case_key in keys.case_keys:
            assert f"https://w3id.org/alkld/graph/case-{case_key}" in graphs
    assert "https://w3id.org/alkld/graph/vocabulary" in graphs
    assert "https://w3id.org/alkld/graph/mappings" in graphs


def _normalise(text: str) -> str:
    text = re.sub(r"-\n\s*", "", text)  # words hyphenated across lines in the seeds
    return " ".join(text.split())


def test_every_quote_is_verbatim_in_its_seed(release: tuple[BuildResult, Path]) -> None:
    """Each fact is traceable: its evidence quote occurs in the document it cites."""
    seeds = seeds_dir()
    result, out = release
    store = ox.Store.read_only(str(out / "store"))
    rows = store.query("""
        PREFIX oa: <http://www.w3.org/ns/oa#> PREFIX alkld: <https://w3id.org/alkld/ontology#>
        SELECT ?fact ?quote ?file WHERE {
          ?fact alkld:evidence/oa:hasTarget ?t . ?t oa:hasSelector/oa:exact ?quote ;
             oa:hasSource ?pub . ?pub alkld:sourceFile ?file }""", use_default_graph_as_union=True)
    checked = 0
    missing = []
    texts: dict[str, str] = {}
    for row in rows:
        name = row["file"].value
        if name not in texts:
            texts[name] = _normalise((seeds / name).read_text(encoding="utf-8"))
        if _normalise(row["quote"].value) not in texts[name]:
            missing.append((row["fact"].value, row["quote"].value))
        checked += 1
    assert checked > 100
    assert not missing, missing


def test_every_fact_node_has_evidence(release: tuple[BuildResult, Path]) -> None:
    _, out = release
    store = ox.Store.read_only(str(out / "store"))
    rows = list(store.query("""
        PREFIX alkld: <https://w3id.org/alkld/ontology#>
        SELECT ?n WHERE { GRAPH ?g { ?c a alkld:Case . ?n a ?type .
            FILTER NOT EXISTS { ?n alkld:evidence ?e } }
          FILTER(STRSTARTS(STR(?g), "https://w3id.org/alkld/graph/case-"))
          FILTER(?type IN (alkld:Diagnosis, alkld:IHCFinding, alkld:GeneFusion,
                 alkld:TreatmentCourse, alkld:Measurement, alkld:ResponseAssessment)) }"""))
    n_facts = len(list(store.query("""
        PREFIX alkld: <https://w3id.org/alkld/ontology#>
        SELECT ?n WHERE { GRAPH ?g { ?n alkld:evidence ?e } }""")))
    assert n_facts > 20
    assert rows == []


def test_case_graph_provenance(release: tuple[BuildResult, Path]) -> None:
    result, out = release
    store = ox.Store.read_only(str(out / "store"))
    for graph in result.case_graphs:
        ask = store.query(f"""
            PREFIX prov: <http://www.w3.org/ns/prov#>
            ASK {{ GRAPH <{graph}> {{ <{graph}> prov:wasDerivedFrom ?pub ;
                   prov:wasGeneratedBy ?build ; prov:wasAttributedTo ?curator .
                   ?build prov:wasAssociatedWith ?software . }} }}""")
        assert bool(ask), graph


def test_canonical_external_iris_and_alternate_forms(release: tuple[BuildResult, Path]) -> None:
    _, out = release
    store = ox.Store.read_only(str(out / "store"))
    ask = store.query("""
        PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
        ASK { <http://rdf.ncbi.nlm.nih.gov/pubchem/compound/CID49806720>
                skos:exactMatch <http://identifiers.org/pubchem.compound/49806720> .
              <http://identifiers.org/ncbigene/238>
                skos:exactMatch <http://rdf.ncbi.nlm.nih.gov/pubchem/gene/GID238> . }""",
                      use_default_graph_as_union=True)
    assert bool(ask)
    bad = list(store.query("""
        SELECT ?o WHERE { ?s ?p ?o . FILTER(isIRI(?o) && (
          STRSTARTS(STR(?o), "http://identifiers.org/mesh/") ||
          STRSTARTS(STR(?o), "https://identifiers.org/") ||
          STRSTARTS(STR(?o), "http://purl.obolibrary.org/obo/MONDO:"))) }""",
                           use_default_graph_as_union=True))
    assert bad == []
