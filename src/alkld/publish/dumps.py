"""Dump files of the release: TriG, N-Quads, Turtle (the union), JSON-LD 1.1, and checksums.

Stage 6 of the pipeline. Output is canonical: statements sorted by graph, subject, predicate
and object (N-Triples term forms); the data holds no blank nodes (every node has a minted
IRI; the few blank nodes of the ontology's OWL lists are relabelled canonically before they
get here), so the same input gives byte-identical files.

:data:`DUMPERS` is the registry of formats: a new format is one entry.

JSON-LD is compacted with the published context (``context.jsonld``) by pyld, a conforming
JSON-LD 1.1 processor, one named graph at a time: the document is
``{"@context": …, "@graph": [ {"@id": <graph>, "@graph": [...]}, … ]}``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from alkld.vocab import PREFIX_MAP

__all__ = ["DUMPERS", "Distribution", "context_document", "prefixes_for", "sort_quads",
           "write_checksums", "write_dumps"]

log = logging.getLogger(__name__)

_STANDARD_PREFIXES = {
    "bibo": "http://purl.org/ontology/bibo/",
    "cito": "http://purl.org/spar/cito/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dcterms": "http://purl.org/dc/terms/",
    "fabio": "http://purl.org/spar/fabio/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "oa": "http://www.w3.org/ns/oa#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "prism": "http://prismstandard.org/namespaces/basic/2.0/",
    "prov": "http://www.w3.org/ns/prov#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "schema": "http://schema.org/",
    "semapv": "https://w3id.org/semapv/vocab/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "spdx": "http://spdx.org/rdf/terms#",
    "sssom": "https://w3id.org/sssom/",
    "void": "http://rdfs.org/ns/void#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "meshv": "http://id.nlm.nih.gov/mesh/vocab#",
    "oboInOwl": "http://www.geneontology.org/formats/oboInOwl#",
}

_GEN_DELIMS = tuple(":/?#[]@")


def prefixes_for(base: str) -> dict[str, str]:
    """Every prefix the dumps use: standard vocabularies, identifier spaces, our own IRIs."""
    ours = {name: f"{base}{name}/" for name in ("case", "pub", "node", "graph", "term")}
    return {**_STANDARD_PREFIXES, **PREFIX_MAP, **ours}


def context_document(base: str) -> dict[str, Any]:
    """The published JSON-LD 1.1 ``@context`` (``context.jsonld``).

    Prefixes whose IRI does not end in a gen-delim (``…/obo/MONDO_``, ``…/compound/CID``)
    are declared with ``"@prefix": true`` so that JSON-LD 1.1 compaction may use them.

    >>> ctx = context_document("https://w3id.org/alkld/")["@context"]
    >>> ctx["MONDO"]
    {'@id': 'http://purl.obolibrary.org/obo/MONDO_', '@prefix': True}
    >>> ctx["case"]
    'https://w3id.org/alkld/case/'
    """
    ctx: dict[str, Any] = {"@version": 1.1}
    for name, iri in sorted(prefixes_for(base).items(), key=lambda kv: kv[0].lower()):
        ctx[name] = iri if iri.endswith(_GEN_DELIMS) else {"@id": iri, "@prefix": True}
    return {"@context": ctx}


def _key(q: ox.Quad) -> tuple[str, str, str, str]:
    return (str(q.graph_name), str(q.subject), str(q.predicate), str(q.object))


def sort_quads(quads: Iterable[ox.Quad]) -> list[ox.Quad]:
    """Deduplicate and sort quads by graph, subject, predicate, object (N-Triples forms)."""
    return sorted(set(quads), key=_key)


def _atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        write(fh)
    os.replace(tmp, path)


def _write_rdf(fmt: ox.RdfFormat, *, union: bool = False) -> Callable[..., None]:
    def dump(quads: Sequence[ox.Quad], path: Path, *, base: str) -> None:
        data: Iterable[ox.Quad] | Iterable[ox.Triple] = quads
        if union:
            data = sorted({q.triple for q in quads},
                          key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))
        prefixes = prefixes_for(base) if fmt in (ox.RdfFormat.TRIG, ox.RdfFormat.TURTLE) else None
        _atomic_write(path, lambda fh: ox.serialize(data, fh, format=fmt, prefixes=prefixes))
    return dump


def _compact_graph(nquads: bytes, context: dict[str, Any]) -> bytes:
    """One named graph (as N-Quads) compacted with the published context, as JSON bytes."""
    from pyld import jsonld  # a conforming JSON-LD 1.1 processor

    quads = list(ox.parse(nquads, format=ox.RdfFormat.N_QUADS))
    expanded = json.loads(ox.serialize(quads, format=ox.RdfFormat.JSON_LD))
    compacted = jsonld.compact(expanded, context, {"processingMode": "json-ld-1.1"})
    compacted.pop("@context", None)
    return json.dumps(compacted, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":")).encode()


#: Graphs above which the JSON-LD compaction (pyld, ~20 ms a graph) runs in a process pool.
PARALLEL_JSONLD_GRAPHS = 64


def _write_jsonld(quads: Sequence[ox.Quad], path: Path, *, base: str) -> None:
    context = context_document(base)
    graphs = [ox.serialize(list(group), format=ox.RdfFormat.N_QUADS) or b""
              for _, group in groupby(quads, key=lambda q: str(q.graph_name))]
    workers = min(os.cpu_count() or 1, 8)
    if len(graphs) > PARALLEL_JSONLD_GRAPHS and workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(_compact_graph, graphs, [context] * len(graphs),
                                  chunksize=16))
    else:
        parts = [_compact_graph(g, context) for g in graphs]

    def write(fh: Any) -> None:
        fh.write(b'{"@context":')
        fh.write(json.dumps(context["@context"], sort_keys=True, ensure_ascii=False).encode())
        fh.write(b',\n"@graph":[')
        for i, part in enumerate(parts):
            fh.write(b"\n" if i == 0 else b",\n")
            fh.write(part)
        fh.write(b"\n]}\n")

    _atomic_write(path, write)


#: Format key → (file name, media type, writer). The CLI's format choices come from here.
DUMPERS: dict[str, tuple[str, str, Callable[..., None]]] = {
    "trig": ("alkld.trig", "application/trig", _write_rdf(ox.RdfFormat.TRIG)),
    "nq": ("alkld.nq", "application/n-quads", _write_rdf(ox.RdfFormat.N_QUADS)),
    "ttl": ("alkld.ttl", "text/turtle", _write_rdf(ox.RdfFormat.TURTLE, union=True)),
    "jsonld": ("alkld.jsonld", "application/ld+json", _write_jsonld),
}


@dataclass(frozen=True)
class Distribution:
    """One file of the release, as VoID/DCAT describe it."""

    name: str
    media_type: str
    byte_size: int
    sha256: str
    triples: int | None = None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_file(path: Path, media_type: str, triples: int | None = None) -> Distribution:
    """Size and SHA-256 of a written file."""
    return Distribution(path.name, media_type, path.stat().st_size, _sha256(path), triples)


def write_dumps(quads: Sequence[ox.Quad], directory: Path, *, base: str,
                formats: Iterable[str] = tuple(DUMPERS)) -> list[Distribution]:
    """Write each dump format of ``quads`` (already sorted) into ``directory``.

    Also writes ``context.jsonld``. Returns the distributions, in registry order.
    """
    out = []
    n_triples = len({q.triple for q in quads})
    for key in formats:
        name, media, dump = DUMPERS[key]
        log.info("writing %s", name)
        dump(quads, directory / name, base=base)
        count = n_triples if key == "ttl" else len(quads)
        out.append(describe_file(directory / name, media, count))
    ctx_path = directory / "context.jsonld"
    _atomic_write(ctx_path, lambda fh: fh.write(
        (json.dumps(context_document(base), indent=2, sort_keys=True) + "\n").encode()))
    out.append(describe_file(ctx_path, "application/ld+json"))
    return out


def write_checksums(directory: Path, names: Iterable[str]) -> Path:
    """``SHA256SUMS`` in the format ``sha256sum -c`` reads."""
    lines = [f"{_sha256(directory / n)}  {n}\n" for n in sorted(names)]
    path = directory / "SHA256SUMS"
    _atomic_write(path, lambda fh: fh.write("".join(lines).encode()))
    return path
