"""The release's self-description: VoID 2011 and DCAT 3 in one graph (``void.ttl``).

It describes the dataset (title, description, licence, creator, publisher, contact point,
dates, version), each distribution (download URL, media type, byte size, SHA-256 checksum
as SPDX), the SPARQL endpoint (a ``dcat:DataService`` and ``void:sparqlEndpoint``), the
statistics (triples, entities, classes, properties, one ``void:subset`` per named graph)
and the link sets to MONDO, MeSH, NCBI Gene, PubChem, UBERON and HP, counted per linking
predicate. No blank nodes: every node has an IRI under the base, so the file is canonical.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pyoxigraph as ox

from alkld import __version__
from alkld.publish.dumps import DatasetStats, Distribution, prefixes_for

__all__ = ["LINK_TARGETS", "ReleaseInfo", "to_void_quads"]

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XSD = "http://www.w3.org/2001/XMLSchema#"
_DCT = "http://purl.org/dc/terms/"
_DCAT = "http://www.w3.org/ns/dcat#"
_VOID = "http://rdfs.org/ns/void#"
_SPDX = "http://spdx.org/rdf/terms#"
_FOAF = "http://xmlns.com/foaf/0.1/"
_VCARD = "http://www.w3.org/2006/vcard/ns#"
_SD = "http://www.w3.org/ns/sparql-service-description#"

#: Link-set targets: name → (IRI namespace, the target dataset's IRI, title).
LINK_TARGETS: dict[str, tuple[str, str, str]] = {
    "mondo": ("http://purl.obolibrary.org/obo/MONDO_", "http://purl.obolibrary.org/obo/mondo.owl",
              "Mondo Disease Ontology"),
    "mesh": ("http://id.nlm.nih.gov/mesh/", "http://id.nlm.nih.gov/mesh/", "MeSH RDF"),
    "ncbigene": ("http://identifiers.org/ncbigene/", "https://www.ncbi.nlm.nih.gov/gene/",
                 "NCBI Gene"),
    "pubchem": ("http://rdf.ncbi.nlm.nih.gov/pubchem/compound/",
                "https://pubchem.ncbi.nlm.nih.gov/", "PubChem (PubChemRDF)"),
    "uberon": ("http://purl.obolibrary.org/obo/UBERON_", "http://purl.obolibrary.org/obo/uberon.owl",
               "Uberon"),
    "hp": ("http://purl.obolibrary.org/obo/HP_", "http://purl.obolibrary.org/obo/hp.owl",
           "Human Phenotype Ontology"),
}


@dataclass(frozen=True)
class ReleaseInfo:
    """What the release says about itself; the CLI fills it from options."""

    base: str
    title: str = "alkld: clinical case reports of ALK-positive tumours as linked data"
    description: str = (
        "Curated facts of published case reports of ALK-positive tumours (ALK-positive "
        "anaplastic large cell lymphoma, inflammatory myofibroblastic tumour, ALK-rearranged "
        "mesenchymal neoplasms, ALK-positive histiocytosis): patients, diagnoses, ALK fusions, "
        "immunohistochemistry, treatments with doses, adverse events and responses, each with "
        "its evidence quote and provenance, linked to MONDO, MeSH, NCBI Gene and PubChem.")
    licence: str = "https://creativecommons.org/licenses/by/4.0/"
    publisher: str = "alkld project"
    issued: dt.date | None = None
    version: str = __version__
    keywords: tuple[str, ...] = (
        "ALK", "anaplastic lymphoma kinase", "case reports", "gene fusion", "linked data",
        "inflammatory myofibroblastic tumour", "anaplastic large cell lymphoma", "oncology")


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def _lit(value: object, datatype: str | None = None) -> ox.Literal:
    if datatype:
        return ox.Literal(str(value), datatype=_n(_XSD + datatype))
    return ox.Literal(str(value))


def to_void_quads(data: Sequence[ox.Quad] | DatasetStats,
                  distributions: Sequence[Distribution], info: ReleaseInfo) -> list[ox.Triple]:
    """The VoID/DCAT description of a dataset and its dump files.

    ``data`` is the dataset's counts (:class:`~alkld.publish.dumps.DatasetStats`, what the
    streaming build gathers), or its quads, counted here.
    """
    stats = data if isinstance(data, DatasetStats) else DatasetStats.of_quads(data)
    base = info.base
    ds = _n(f"{base}dataset")
    endpoint = _n(f"{base}sparql")
    out: list[ox.Triple] = []

    def add(s: ox.NamedNode, p: str, o: ox.NamedNode | ox.Literal) -> None:
        out.append(ox.Triple(s, _n(p), o))

    for cls in (_VOID + "Dataset", _DCAT + "Dataset"):
        add(ds, _RDF + "type", _n(cls))
    add(ds, _DCT + "title", _lit(info.title))
    add(ds, _DCT + "description", _lit(info.description))
    add(ds, _DCT + "license", _n(info.licence))
    add(ds, _DCT + "identifier", _lit(f"{base}dataset"))
    add(ds, _DCT + "language", _n("http://id.loc.gov/vocabulary/iso639-1/en"))
    add(ds, _DCAT + "version", _lit(info.version))
    add(ds, _DCAT + "landingPage", _n(base))
    for kw in info.keywords:
        add(ds, _DCAT + "keyword", _lit(kw))
    if info.issued:
        add(ds, _DCT + "issued", _lit(info.issued.isoformat(), "date"))
        add(ds, _DCT + "modified", _lit(info.issued.isoformat(), "date"))
    publisher = _n(f"{base}agent/publisher")
    add(ds, _DCT + "publisher", publisher)
    add(ds, _DCT + "creator", publisher)
    add(publisher, _RDF + "type", _n(_FOAF + "Organization"))
    add(publisher, _FOAF + "name", _lit(info.publisher))
    add(publisher, _FOAF + "homepage", _n(base))
    contact = _n(f"{base}agent/contact")
    add(ds, _DCAT + "contactPoint", contact)
    add(contact, _RDF + "type", _n(_VCARD + "Organization"))
    add(contact, _VCARD + "fn", _lit(info.publisher))
    add(contact, _VCARD + "hasURL", _n(base))
    add(ds, _VOID + "uriSpace", _lit(base))
    add(ds, _VOID + "triples", _lit(stats.triples, "integer"))
    add(ds, _VOID + "entities", _lit(stats.subjects, "integer"))
    add(ds, _VOID + "distinctSubjects", _lit(stats.subjects, "integer"))
    add(ds, _VOID + "classes", _lit(stats.classes, "integer"))
    add(ds, _VOID + "properties", _lit(stats.properties, "integer"))
    add(ds, _VOID + "vocabulary", _n("https://w3id.org/alkld/ontology#"))
    add(ds, _VOID + "sparqlEndpoint", endpoint)
    add(ds, _VOID + "rootResource", _n(f"{base}dataset"))

    add(endpoint, _RDF + "type", _n(_DCAT + "DataService"))
    add(endpoint, _RDF + "type", _n(_SD + "Service"))
    add(endpoint, _DCT + "title", _lit("alkld SPARQL 1.1 endpoint"))
    add(endpoint, _DCAT + "endpointURL", endpoint)
    add(endpoint, _DCAT + "servesDataset", ds)
    add(endpoint, _SD + "endpoint", endpoint)
    add(endpoint, _DCT + "conformsTo", _n("https://www.w3.org/TR/sparql11-protocol/"))
    add(ds, _DCAT + "accessService", endpoint)

    for d in distributions:
        dist = _n(f"{base}dumps/{d.name}")
        checksum = _n(f"{base}dumps/{d.name}#sha256")
        add(ds, _DCAT + "distribution", dist)
        add(dist, _RDF + "type", _n(_DCAT + "Distribution"))
        add(dist, _DCT + "title", _lit(f"{d.name} ({d.media_type})"))
        add(dist, _DCAT + "downloadURL", dist)
        add(dist, _DCAT + "accessURL", dist)
        add(dist, _DCAT + "mediaType",
            _n(f"https://www.iana.org/assignments/media-types/{d.media_type}"))
        add(dist, _DCT + "format", _lit(d.media_type))
        add(dist, _DCAT + "byteSize", _lit(d.byte_size, "nonNegativeInteger"))
        add(dist, _DCT + "license", _n(info.licence))
        add(dist, _SPDX + "checksum", checksum)
        add(checksum, _RDF + "type", _n(_SPDX + "Checksum"))
        add(checksum, _SPDX + "algorithm", _n(_SPDX + "checksumAlgorithm_sha256"))
        add(checksum, _SPDX + "checksumValue", _lit(d.sha256, "hexBinary"))
        if d.name.endswith((".nq", ".trig", ".ttl", ".jsonld")) and d.name != "context.jsonld":
            add(ds, _VOID + "dataDump", dist)
        if d.triples is not None:
            add(dist, _VOID + "triples", _lit(d.triples, "integer"))

    for iri, count in sorted(stats.per_graph.items(), key=lambda kv: f"<{kv[0]}>"):
        subset = _n(iri)
        add(ds, _VOID + "subset", subset)
        add(subset, _RDF + "type", _n(_VOID + "Dataset"))
        add(subset, _SD + "name", subset)
        add(subset, _VOID + "triples", _lit(count, "integer"))

    for (name, pred), count in sorted(stats.links.items()):
        _, target, title = LINK_TARGETS[name]
        local = pred.rsplit("#", 1)[-1].rsplit("/", 1)[-1]
        ls = _n(f"{base}dataset/linkset-{name}-{local}")
        add(ds, _VOID + "subset", ls)
        add(ls, _RDF + "type", _n(_VOID + "Linkset"))
        add(ls, _VOID + "subjectsTarget", ds)
        add(ls, _VOID + "objectsTarget", _n(target))
        add(ls, _VOID + "linkPredicate", _n(pred))
        add(ls, _VOID + "triples", _lit(count, "integer"))
        add(ls, _DCT + "title", _lit(f"links to {title} by {local}"))
        add(_n(target), _RDF + "type", _n(_VOID + "Dataset"))
        add(_n(target), _DCT + "title", _lit(title))
    return sorted(set(out), key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))


def void_prefixes(base: str) -> dict[str, str]:
    """Prefixes for ``void.ttl``."""
    return {**prefixes_for(base), "vcard": _VCARD, "sd": _SD}
