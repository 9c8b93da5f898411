"""Release metadata for portals: DCAT 3 in void.ttl (what CKAN's DCAT harvester reads) and
schema.org Dataset JSON-LD (what dataset search engines read) — every field checked against
the files it describes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import rdflib
import requests
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF

SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
BASE = "https://w3id.org/alkld/"
DS = rdflib.URIRef(BASE + "dataset")
CC_BY = "https://creativecommons.org/licenses/by/4.0/"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_dcat_description_is_complete(release):
    _, out = release
    g = rdflib.Graph().parse(out / "void.ttl", format="turtle")
    assert (DS, RDF.type, DCAT.Dataset) in g and (DS, RDF.type, VOID.Dataset) in g
    for prop in (DCTERMS.title, DCTERMS.description):
        assert len(str(g.value(DS, prop))) > 20
    assert str(g.value(DS, DCTERMS.license)) == CC_BY
    publisher = g.value(DS, DCTERMS.publisher)
    assert str(g.value(publisher, FOAF.name)) == "alkld project"
    assert g.value(DS, DCAT.contactPoint) is not None
    assert len(list(g.objects(DS, DCAT.keyword))) >= 5
    service = g.value(DS, DCAT.accessService)
    assert str(g.value(service, DCAT.endpointURL)) == BASE + "sparql"
    assert (service, DCAT.servesDataset, DS) in g
    dists = list(g.objects(DS, DCAT.distribution))
    names = {str(d).rsplit("/", 1)[-1] for d in dists}
    assert {"alkld.trig", "alkld.nq", "alkld.ttl", "alkld.jsonld", "context.jsonld"} <= names
    for dist in dists:
        path = out / str(dist).rsplit("/", 1)[-1]
        assert int(g.value(dist, DCAT.byteSize)) == path.stat().st_size
        checksum = g.value(dist, SPDX.checksum)
        assert str(g.value(checksum, SPDX.checksumValue)) == _sha(path)
        assert g.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
        assert str(g.value(dist, DCAT.mediaType)).startswith(
            "https://www.iana.org/assignments/media-types/")
        assert str(g.value(dist, DCAT.downloadURL)).startswith(BASE + "dumps/")
        assert str(g.value(dist, DCTERMS.license)) == CC_BY


def test_schema_org_dataset_is_complete(release):
    _, out = release
    doc = json.loads((out / "dataset.jsonld").read_text())
    assert doc["@context"] == "https://schema.org" and doc["@type"] == "Dataset"
    assert doc["name"].startswith("alkld") and len(doc["description"]) > 100
    assert doc["license"] == CC_BY and doc["creator"]["name"] == "alkld project"
    assert doc["isAccessibleForFree"] is True and len(doc["keywords"]) >= 5
    by_name = {d["name"]: d for d in doc["distribution"]}
    assert {"alkld.trig", "alkld.nq", "alkld.ttl", "alkld.jsonld"} <= set(by_name)
    for name, dist in by_name.items():
        path = out / name
        assert dist["@type"] == "DataDownload"
        assert dist["contentSize"] == f"{path.stat().st_size} B"
        assert dist["sha256"] == _sha(path)
        assert dist["contentUrl"] == BASE + "dumps/" + name
        assert "/" in dist["encodingFormat"]
    target = doc["potentialAction"]["target"]
    assert target["urlTemplate"].startswith(BASE + "sparql?query=")
    listed = {line.split("  ")[1] for line in (out / "SHA256SUMS").read_text().splitlines()}
    assert "dataset.jsonld" in listed


def test_site_root_serves_schema_org_with_its_own_addresses(server, release):
    doc = requests.get(server + "/", headers={"Accept": "application/ld+json"}, timeout=10).json()
    assert doc["@type"] == "Dataset" and doc["url"] == server + "/"
    for dist in doc["distribution"]:
        assert dist["contentUrl"].startswith(server + "/dumps/")
        assert requests.head(dist["contentUrl"], timeout=10).status_code == 200
    assert doc["potentialAction"]["target"]["urlTemplate"].startswith(server + "/sparql?query=")
