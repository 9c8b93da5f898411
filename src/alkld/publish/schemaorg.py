"""The release's description as schema.org ``Dataset`` JSON-LD, derived from its VoID/DCAT graph.

Dataset search engines read schema.org; DCAT harvesters read ``void.ttl``. Both come from
the same graph, so they cannot disagree: this module only reads the VoID/DCAT quads.
Written to ``output/dataset.jsonld`` by the build (site = the base) and served at the site
root for ``Accept: application/ld+json`` (site = the server's own address).
"""

from __future__ import annotations

from typing import Any

import pyoxigraph as ox

__all__ = ["dataset_jsonld"]

_DCT = "http://purl.org/dc/terms/"
_DCAT = "http://www.w3.org/ns/dcat#"
_VOID = "http://rdfs.org/ns/void#"
_SPDX = "http://spdx.org/rdf/terms#"
_FOAF = "http://xmlns.com/foaf/0.1/"


def _objects(store: ox.Store, subject: str, predicate: str) -> list[Any]:
    return [q.object for q in store.quads_for_pattern(ox.NamedNode(subject),
                                                      ox.NamedNode(predicate), None, None)]


def _one(store: ox.Store, subject: str, predicate: str) -> str | None:
    found = sorted(o.value for o in _objects(store, subject, predicate))
    return found[0] if found else None


def dataset_jsonld(void: ox.Store, *, base: str, site: str | None = None) -> dict[str, Any]:
    """schema.org ``Dataset`` for the release described by ``void`` (a VoID/DCAT graph).

    ``site`` is where the release is served; IRIs under ``base`` are rewritten to it.
    """
    site = (site or base).rstrip("/") + "/"

    def here(iri: str) -> str:
        return site + iri[len(base):] if iri.startswith(base) else iri

    ds = base + "dataset"
    publisher = _one(void, ds, _DCT + "publisher")
    creator_name = _one(void, publisher, _FOAF + "name") if publisher else None
    distributions = []
    for dist in sorted(o.value for o in _objects(void, ds, _DCAT + "distribution")):
        checksum = _one(void, dist, _SPDX + "checksum")
        size = _one(void, dist, _DCAT + "byteSize")
        entry: dict[str, Any] = {
            "@type": "DataDownload",
            "name": dist.rsplit("/", 1)[-1],
            "contentUrl": here(_one(void, dist, _DCAT + "downloadURL") or dist),
            "encodingFormat": _one(void, dist, _DCT + "format"),
        }
        if size:
            entry["contentSize"] = f"{size} B"
        if checksum:
            entry["sha256"] = _one(void, checksum, _SPDX + "checksumValue")
        distributions.append(entry)
    endpoint = _one(void, ds, _VOID + "sparqlEndpoint")
    doc: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Dataset",
        "@id": ds,
        "name": _one(void, ds, _DCT + "title"),
        "description": _one(void, ds, _DCT + "description"),
        "url": site,
        "identifier": ds,
        "license": _one(void, ds, _DCT + "license"),
        "version": _one(void, ds, _DCAT + "version"),
        "inLanguage": "en",
        "isAccessibleForFree": True,
        "keywords": sorted(o.value for o in _objects(void, ds, _DCAT + "keyword")),
        "creator": {"@type": "Organization", "name": creator_name or "alkld project",
                    "url": site},
        "publisher": {"@type": "Organization", "name": creator_name or "alkld project"},
        "distribution": distributions,
    }
    issued = _one(void, ds, _DCT + "issued")
    if issued:
        doc["datePublished"] = issued
    modified = _one(void, ds, _DCT + "modified")
    if modified:
        doc["dateModified"] = modified
    if endpoint:
        doc["potentialAction"] = {
            "@type": "SearchAction",
            "name": "SPARQL 1.1 endpoint",
            "target": {"@type": "EntryPoint",
                       "urlTemplate": here(endpoint) + "?query={sparql_query}",
                       "encodingType": "application/sparql-query",
                       "contentType": "application/sparql-results+json"},
            "query-input": "required name=sparql_query",
        }
    return doc
