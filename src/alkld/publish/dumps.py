"""Dump files of the release: TriG, N-Quads, Turtle (the union), JSON-LD 1.1, and checksums.

Stage 6 of the pipeline, streamed: each named graph is serialised once in every format by
:func:`to_graph_part` (in the pool worker that built it), and :class:`DumpWriter` assembles
the files from those pieces without holding the dataset. Output is canonical (see
:class:`DumpWriter`): graphs sorted by IRI, statements sorted within each graph (N-Triples
term forms); the data holds no blank nodes (every node has a minted IRI; the few blank nodes
of the ontology's OWL lists are relabelled canonically before they get here), so the same
input gives byte-identical files.

:data:`DUMPERS` is the registry of formats: a new format is one entry.

JSON-LD is compacted with the published context (``context.jsonld``), one named graph at a
time, by :class:`alkld.publish.compact.GraphCompactor` (which gives pyld's bytes, ~20× faster;
tests compare the two): the document is
``{"@context": …, "@graph": [ {"@id": <graph>, "@graph": [...]}, … ]}``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyoxigraph as ox
from xxhash import xxh3_64_intdigest

from alkld.publish.compact import GraphCompactor
from alkld.vocab import PREFIX_MAP

__all__ = ["DUMPERS", "DatasetStats", "Distribution", "DumpWriter", "GraphPart", "GraphStats",
           "context_document", "digests", "line_digest", "prefixes_for", "sort_quads",
           "to_graph_part", "write_checksums", "write_dumps"]

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


def _triple_key(t: ox.Triple) -> tuple[str, str, str]:
    return (str(t.subject), str(t.predicate), str(t.object))


def _atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        write(fh)
    os.replace(tmp, path)


#: Our own namespaces whose resources (the build and curation activities, the software and
#: curator agents) are described again in every named graph they concern. Their triples
#: are written once in the Turtle union (the other triples of a named graph are its own).
SHARED_NAMESPACES = ("activity/", "agent/")
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def digests(lines: Sequence[bytes]) -> bytes:
    """64-bit XXH3 digests of ``lines``, concatenated (a little-endian uint64 array).

    They find the triples and subjects two graphs may share, which are then confirmed on
    their text: a fast hash, not a cryptographic one (one call a line, ~5× BLAKE2b's speed).
    """
    return struct.pack(f"<{len(lines)}Q", *map(xxh3_64_intdigest, lines))


def line_digest(line: bytes) -> int:
    """The digest :func:`digests` gives ``line``."""
    return xxh3_64_intdigest(line)


def _strip_prefixes(text: bytes) -> bytes:
    """A Turtle/TriG serialisation without its ``@prefix`` lines (the dump writes them once)."""
    pos = 0
    while text.startswith(b"@prefix ", pos):
        pos = text.index(b"\n", pos) + 1
    return text[pos:]


def _body(data: Any, fmt: ox.RdfFormat, prefixes: dict[str, str]) -> bytes:
    """``data`` as Turtle or TriG (``fmt``) without its ``@prefix`` lines."""
    return _strip_prefixes(ox.serialize(data, format=fmt, prefixes=prefixes) or b"")


@cache
def _link_namespaces() -> tuple[tuple[str, str], ...]:
    """``(namespace, link target)`` of :data:`alkld.publish.void.LINK_TARGETS`."""
    from alkld.publish.void import LINK_TARGETS

    return tuple((ns, name) for name, (ns, _, _) in LINK_TARGETS.items())


@cache
def _link_starts() -> tuple[bytes, ...]:
    """How an N-Triples IRI in a link target's namespace begins (``b"<ns"``)."""
    return tuple(b"<" + ns.encode() for ns, _ in _link_namespaces())


def link_target(iri: str) -> str | None:
    """The link-set target (:data:`alkld.publish.void.LINK_TARGETS`) an object IRI is in."""
    return next((name for ns, name in _link_namespaces() if iri.startswith(ns)), None)


@dataclass
class GraphStats:
    """What VoID counts, for some triples: computed per named graph, summed by the writer."""

    classes: set[str] = field(default_factory=set)
    properties: set[str] = field(default_factory=set)
    links: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, triples: Iterable[ox.Triple], sign: int = 1) -> None:
        """Count ``triples`` (``sign`` -1: take back the links of triples counted twice)."""
        triples = list(triples)
        if triples:
            lines = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
            self.add_lines(lines.splitlines(), sign)

    def add_lines(self, lines: Iterable[bytes], sign: int = 1) -> None:
        """:meth:`add` for triples given as pyoxigraph's N-Triples lines (without newline)."""
        rdf_type = b"<" + _RDF_TYPE.encode() + b">"
        predicates: set[bytes] = set()
        classes: set[str] = set()
        links = self.links
        starts = _link_starts()
        for line in lines:
            _, predicate, obj = line.split(b" ", 2)
            predicates.add(predicate)
            if predicate == rdf_type:
                classes.add(obj[:-2].decode())
            elif obj.startswith(starts):  # only IRIs in a link target's namespace are decoded
                name = link_target(obj[1:-3].decode())
                if name is not None:
                    links[(name, predicate[1:-1].decode())] += sign
        if sign > 0:
            self.classes |= classes
            self.properties.update(p[1:-1].decode() for p in predicates)

    def update(self, other: GraphStats) -> None:
        self.classes |= other.classes
        self.properties |= other.properties
        self.links.update(other.links)


@dataclass
class GraphPart:
    """One named graph, serialised in every dump format: what a pool worker hands back.

    ``nquads``, ``trig`` (its ``GRAPH`` block) and ``jsonld`` (its graph object) hold all of
    the graph; ``turtle`` holds its triples but those about shared resources
    (:data:`SHARED_NAMESPACES`), which are in ``shared`` (N-Triples lines) instead. The
    digests (``triple_hashes``, of ``turtle``'s triples, and ``subject_hashes``) let the
    writer find triples and subjects that occur in more than one graph without keeping them.
    """

    graph: str
    quads: int
    nquads: bytes
    trig: bytes
    turtle: bytes
    jsonld: bytes
    shared: tuple[bytes, ...]
    triple_hashes: bytes
    subject_hashes: bytes
    stats: GraphStats


def to_graph_part(graph: str, triples: Iterable[ox.Triple], *, base: str,
                  compactor: GraphCompactor | None = None,
                  ntriples: bytes | None = None) -> GraphPart:
    """Serialise one named graph (its triples deduplicated and sorted) for the dumps.

    ``ntriples``, when given, is ``triples`` already serialised as N-Triples by pyoxigraph,
    in the same order (the build has it for the validator).
    """
    triples = list(triples)
    # One N-Triples line a triple, in input order: sorting the lines sorts the triples as
    # (subject, predicate, object) in their N-Triples forms (a term's form never has a
    # character below the space that ends it), and equal lines are equal triples.
    if ntriples is None:
        ntriples = (ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b"") if triples else b""
    lines = ntriples.splitlines()
    if len(lines) != len(triples):
        raise ValueError(f"graph {graph}: {len(lines)} N-Triples lines for "
                         f"{len(triples)} triples")
    index: list[int] = []
    for i in sorted(range(len(lines)), key=lines.__getitem__):
        if not index or lines[i] != lines[index[-1]]:
            index.append(i)
    ordered = [triples[i] for i in index]
    prefixes = _prefixes(base)
    shared_ns = tuple(f"<{base}{ns}".encode() for ns in SHARED_NAMESPACES)
    own: list[ox.Triple] = []
    own_lines: list[bytes] = []
    shared: list[ox.Triple] = []
    shared_lines: list[bytes] = []
    for i in index:
        if lines[i].startswith(shared_ns):
            shared.append(triples[i])
            shared_lines.append(lines[i])
        else:
            own.append(triples[i])
            own_lines.append(lines[i])
    # An N-Quads line is its N-Triples line with the graph name before the final " .".
    tail = b"<" + graph.encode() + b"> .\n"
    compactor = compactor or GraphCompactor(context_document(base)["@context"])
    stats = GraphStats()
    stats.add_lines(own_lines)
    subjects = sorted({line[:line.index(b" ")] for line in own_lines})
    trig, turtle = _trig_and_turtle(graph, ordered, own, shared, prefixes,
                                    blank=b"_:" in ntriples, shared_key=b"\n".join(shared_lines))
    return GraphPart(
        graph=graph, quads=len(ordered),
        nquads=b"".join(lines[i][:-1] + tail for i in index),
        trig=trig, turtle=turtle,
        # orjson's sorted, compact UTF-8 is byte for byte json.dumps(sort_keys=True,
        # ensure_ascii=False, separators=(",", ":")), at a seventh of the cost
        jsonld=orjson.dumps(
            compactor.sorted_graph_object(graph, ordered, [lines[i] for i in index]),
            option=orjson.OPT_SORT_KEYS),
        shared=tuple(shared_lines),
        triple_hashes=digests(own_lines), subject_hashes=digests(subjects), stats=stats)


#: :func:`prefixes_for` once a base, for the writers (which do not change it).
_prefixes = cache(prefixes_for)


def _subject_blocks(turtle: bytes) -> list[bytes]:
    """A Turtle body (no prefixes) of named nodes split into its subjects' blocks.

    pyoxigraph writes a block a subject: a first line at the margin, then lines indented
    with a tab, the last one ending in `` .``.
    """
    blocks: list[bytes] = []
    for line in turtle.splitlines(keepends=True):
        if line.startswith(b"\t") and blocks:
            blocks[-1] += line
        else:
            blocks.append(line)
    return blocks


def _trig_and_turtle(graph: str, ordered: list[ox.Triple], own: list[ox.Triple],
                     shared: list[ox.Triple], prefixes: dict[str, str], *, blank: bool,
                     shared_key: bytes | None = None) -> tuple[bytes, bytes]:
    """The graph's TriG block (all its triples) and the Turtle of its own triples.

    pyoxigraph's TriG block of a graph is its Turtle indented by one tab inside
    ``name {`` … ``}``, and a subject's Turtle block depends only on that subject's triples:
    so one Turtle serialisation of the graph gives both, the shared subjects' blocks (their
    own serialisation, a few triples) taken out of the Turtle. Graphs with blank nodes, or
    whose Turtle has a long string (neither occurs in a case graph), are serialised twice.
    ``shared_key`` (the shared triples' N-Triples lines) names the shared subjects' blocks in
    a memo: a record's graphs describe the same activities and agents.
    """
    if not ordered:
        return b"", b""
    body = _body(ordered, ox.RdfFormat.TURTLE, prefixes)
    if blank or b'"""' in body or b"'''" in body:
        name = ox.NamedNode(graph)
        quads = [ox.Quad(t.subject, t.predicate, t.object, name) for t in ordered]
        trig = _body(quads, ox.RdfFormat.TRIG, prefixes)
        turtle = _body(own, ox.RdfFormat.TURTLE, prefixes) if own else b""
        return trig, turtle
    head = _graph_head(graph, prefixes)
    trig = head + b"\t" + body[:-1].replace(b"\n", b"\n\t") + b"\n}\n"
    if not shared:
        return trig, body
    if not own:
        return trig, b""
    drop = _SHARED_BLOCKS.get(shared_key) if shared_key is not None else None
    if drop is None:
        drop = frozenset(_subject_blocks(_body(shared, ox.RdfFormat.TURTLE, prefixes)))
        if shared_key is not None:
            if len(_SHARED_BLOCKS) > 1024:
                _SHARED_BLOCKS.clear()
            _SHARED_BLOCKS[shared_key] = drop
    return trig, b"".join(b for b in _subject_blocks(body) if b not in drop)


#: The Turtle blocks of shared subjects, by their triples' N-Triples lines (see above).
_SHARED_BLOCKS: dict[bytes, frozenset[bytes]] = {}


def _graph_head(graph: str, prefixes: dict[str, str]) -> bytes:
    """``name {\n`` as pyoxigraph's TriG writer opens the graph (the name abbreviated)."""
    s = ox.NamedNode("urn:alkld:head")
    text = _body([ox.Quad(s, s, s, ox.NamedNode(graph))], ox.RdfFormat.TRIG, prefixes)
    return text[:text.index(b"{\n") + 2]


@dataclass
class DatasetStats:
    """The counts VoID publishes, for the whole dataset (the union of its named graphs)."""

    quads: int = 0
    triples: int = 0
    subjects: int = 0
    classes: int = 0
    properties: int = 0
    per_graph: dict[str, int] = field(default_factory=dict)
    links: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def of_quads(cls, quads: Sequence[ox.Quad]) -> DatasetStats:
        """The counts of quads held in memory (small releases, tests)."""
        triples = {q.triple for q in quads}
        stats = GraphStats()
        stats.add(triples)
        return cls(quads=len(set(quads)), triples=len(triples),
                   subjects=len({t.subject for t in triples}), classes=len(stats.classes),
                   properties=len(stats.properties),
                   per_graph=dict(Counter(q.graph_name.value for q in set(quads)
                                          if isinstance(q.graph_name, ox.NamedNode))),
                   links={k: v for k, v in stats.links.items() if v})


@dataclass(frozen=True)
class Dump:
    """One dump format: its file, media type, and the part of a :class:`GraphPart` it takes."""

    name: str
    media_type: str
    part: str


#: Format key → dump. The CLI's format choices come from here; a new format is one entry
#: (and one field of :class:`GraphPart`, filled by :func:`to_graph_part`).
DUMPERS: dict[str, Dump] = {
    "trig": Dump("alkld.trig", "application/trig", "trig"),
    "nq": Dump("alkld.nq", "application/n-quads", "nquads"),
    "ttl": Dump("alkld.ttl", "text/turtle", "turtle"),
    "jsonld": Dump("alkld.jsonld", "application/ld+json", "jsonld"),
}


class _HashingWriter:
    """A file written once, front to back, with its SHA-256 computed on the way.

    A spool passes ``digest=False``. The file is written under a temporary name
    (``.<name><suffix>``) and renamed by :meth:`close`; :meth:`pread` reads back what was
    written (its buffer flushed first).
    """

    def __init__(self, path: Path, suffix: str = ".tmp", *, digest: bool = True) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}{suffix}")
        self.fh = self.tmp.open("w+b")
        self.digest = hashlib.sha256()
        self._hash = digest
        self.size = 0

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        if self._hash:
            self.digest.update(data)
        self.size += len(data)

    def pread(self, offset: int, length: int) -> bytes:
        self.fh.flush()
        return os.pread(self.fh.fileno(), length, offset)

    def close(self, media_type: str, triples: int | None) -> Distribution:
        self.fh.close()
        os.replace(self.tmp, self.path)
        return Distribution(self.path.name, media_type, self.size, self.digest.hexdigest(),
                            triples)

    def discard(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


#: Where a graph's piece of one format is: (a file written by the writer, offset, length).
_Piece = tuple[_HashingWriter, int, int]


class DumpWriter:
    """Streams named graphs into the dump files without holding the dataset.

    Canonical order (the same input gives byte-identical files): named graphs sorted by IRI
    (in N-Triples form, ``<…>``), and within a graph statements sorted by subject, predicate
    and object. ``alkld.ttl``, the union, follows the graphs' order too, each graph
    contributing the triples no earlier graph had, and the shared provenance resources
    (:data:`SHARED_NAMESPACES`) come last, sorted, once. A triple found in two graphs is
    detected by its 64-bit digest and confirmed on its text before it is left out.

    :meth:`add` takes :class:`GraphPart` objects in any order and keeps only offsets, digests
    and counts. Case graphs (``<base>graph/case-…``), the bulk of a release, arrive in
    canonical order when the records do (a build reads them sorted): while they do, each
    format's bytes are written **straight into the dump file**. Every other graph (the
    publications', the claims, vocabulary and mappings graphs, which sort after the case
    graphs), and a case graph out of order, is written to a spool file instead.
    :meth:`finish` appends the spooled pieces in canonical order; only when a spooled graph
    sorts before the last one written straight (or the union drops a triple from one of
    those) does it write that file again, copying every piece in canonical order. Either
    way the bytes are the same; the straight path reads and writes the bulk once, not twice.
    """

    def __init__(self, directory: Path, *, base: str, formats: Iterable[str] = tuple(DUMPERS)
                 ) -> None:
        self.directory = directory
        self.base = base
        self.formats = list(formats)
        self.spool_dir = directory / ".spool"
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._files = {k: _HashingWriter(directory / DUMPERS[k].name) for k in self.formats}
        # the fields no chosen format takes but the writer reads (N-Quads, Turtle) are spooled
        self._straight = {DUMPERS[k].part: self._files[k] for k in self.formats}
        fields = set(self._straight) | {"nquads", "turtle"}
        self._spools = {f: _HashingWriter(self.spool_dir / f, digest=False)
                        for f in sorted(fields)}
        self._streamed = f"{base}graph/case-"
        self._last: str | None = None  # sort key of the last graph written straight
        self._direct: list[str] = []  # graphs written straight, in order
        self._index: dict[str, dict[str, _Piece]] = {}
        self._quads: dict[str, int] = {}
        self._triple_hashes: dict[str, np.ndarray] = {}
        self._subject_hashes: list[np.ndarray] = []
        self._shared: set[bytes] = set()
        self._stats = GraphStats()
        prefixes = prefixes_for(base)
        self._prefixes = prefixes
        self._header = "".join(f"@prefix {k}: <{v}> .\n"
                               for k, v in sorted(prefixes.items())).encode()
        self._context = context_document(base)
        for key, file in self._files.items():
            file.write(self._head(key))

    def __contains__(self, graph: object) -> bool:
        return graph in self._index

    def _head(self, key: str) -> bytes:
        if key in ("trig", "ttl"):
            return self._header
        if key == "jsonld":
            return (b'{"@context":' + json.dumps(self._context["@context"], sort_keys=True,
                                                 ensure_ascii=False).encode()
                    + b',\n"@graph":[')
        return b""

    def add(self, part: GraphPart) -> None:
        if part.graph in self._index:
            raise ValueError(f"graph {part.graph} added twice")
        if not part.quads:
            return
        key = f"<{part.graph}>"
        straight = part.graph.startswith(self._streamed) and (
            self._last is None or key > self._last)
        where: dict[str, _Piece] = {}
        for name, spool in self._spools.items():
            data: bytes = getattr(part, name)
            file = self._straight.get(name) if straight else None
            if file is None:
                file = spool
            elif name == "jsonld":  # no separator before the first graph object
                file.write(b",\n" if self._direct else b"\n")
            where[name] = (file, file.size, len(data))
            file.write(data)
        if straight:
            self._last = key
            self._direct.append(part.graph)
        self._index[part.graph] = where
        self._quads[part.graph] = part.quads
        self._triple_hashes[part.graph] = np.frombuffer(part.triple_hashes, dtype="<u8")
        self._subject_hashes.append(np.frombuffer(part.subject_hashes, dtype="<u8"))
        self._shared.update(part.shared)
        self._stats.update(part.stats)

    def _read(self, name: str, graph: str) -> bytes:
        file, offset, length = self._index[graph][name]
        return file.pread(offset, length)

    def _union_duplicates(self, order: list[str]) -> dict[str, list[ox.Triple]]:
        """Graphs whose Turtle piece repeats triples of an earlier graph → those triples."""
        arrays = [self._triple_hashes[g] for g in order]
        if not arrays:
            return {}
        everything = np.concatenate(arrays)
        values, counts = np.unique(everything, return_counts=True)
        repeated = values[counts > 1]
        if not len(repeated):
            return {}
        owners = np.repeat(np.arange(len(order)), [len(a) for a in arrays])
        suspects = sorted(set(owners[np.isin(everything, repeated)].tolist()))
        seen: set[str] = set()
        out: dict[str, list[ox.Triple]] = {}
        wanted = {int(h) for h in repeated}
        for i in suspects:
            graph = order[i]
            for q in ox.parse(self._read("nquads", graph), format=ox.RdfFormat.N_QUADS):
                t = q.triple
                line = (ox.serialize([t], format=ox.RdfFormat.N_TRIPLES) or b"").rstrip(b"\n")
                digest = line_digest(line)
                if digest not in wanted:
                    continue
                if line.decode() in seen:
                    out.setdefault(graph, []).append(t)
                else:
                    seen.add(line.decode())
        return out

    def finish(self) -> tuple[list[Distribution], DatasetStats]:
        """Write every dump and ``context.jsonld``; the distributions and the dataset's counts."""
        order = sorted(self._index, key=lambda g: f"<{g}>")
        dropped = self._union_duplicates(order)
        stats = GraphStats()
        stats.update(self._stats)
        shared = [next(iter(ox.parse(line, format=ox.RdfFormat.N_TRIPLES)))
                  for line in sorted(self._shared)]
        stats.add(shared)
        for triples in dropped.values():
            stats.add(triples, sign=-1)
        quads = sum(self._quads.values())
        union = (sum(len(a) for a in self._triple_hashes.values())
                 - sum(len(v) for v in dropped.values()) + len(shared))
        subjects = len(np.unique(np.concatenate(self._subject_hashes))) \
            if self._subject_hashes else 0
        subjects += len({t.subject for t in shared})
        # the graphs written straight are the first of the canonical order: append the rest
        in_order = order[:len(self._direct)] == self._direct
        out: list[Distribution] = []
        done: list[tuple[_HashingWriter, str]] = []
        for key in self.formats:
            dump = DUMPERS[key]
            log.info("writing %s", dump.name)
            file = self._files[key]
            start = len(self._direct)
            if not in_order or (key == "ttl" and not dropped.keys().isdisjoint(self._direct)):
                log.info("%s: graphs out of order, written again in canonical order", dump.name)
                file = _HashingWriter(self.directory / dump.name, ".tmp2")
                file.write(self._head(key))
                start = 0
            for i in range(start, len(order)):
                graph = order[i]
                if key == "jsonld":
                    file.write(b"\n" if i == 0 else b",\n")
                if key == "ttl" and graph in dropped:
                    file.write(self._turtle_without(graph, dropped[graph], self._prefixes))
                else:
                    file.write(self._read(dump.part, graph))
            if key == "jsonld":
                file.write(b"\n]}\n")
            if key == "ttl" and shared:
                file.write(_body(shared, ox.RdfFormat.TURTLE, self._prefixes))
            done.append((file, key))
        # closed (renamed into place) once all are written: a later one may read an earlier's
        for file, key in done:
            dump = DUMPERS[key]
            out.append(file.close(dump.media_type, union if key == "ttl" else quads))
            if file is not self._files[key]:
                self._files[key].discard()
        ctx_path = self.directory / "context.jsonld"
        _atomic_write(ctx_path, lambda fh: fh.write(
            (json.dumps(self._context, indent=2, sort_keys=True) + "\n").encode()))
        out.append(describe_file(ctx_path, "application/ld+json"))
        return out, DatasetStats(
            quads=quads, triples=union, subjects=subjects, classes=len(stats.classes),
            properties=len(stats.properties), per_graph=dict(self._quads),
            links={k: v for k, v in stats.links.items() if v})

    def _turtle_without(self, graph: str, drop: list[ox.Triple], prefixes: dict[str, str]
                        ) -> bytes:
        shared_ns = tuple(self.base + ns for ns in SHARED_NAMESPACES)
        gone = set(drop)
        keep = sorted((q.triple for q in ox.parse(self._read("nquads", graph),
                                                  format=ox.RdfFormat.N_QUADS)
                       if q.triple not in gone and not (
                           isinstance(q.subject, ox.NamedNode)
                           and q.subject.value.startswith(shared_ns))), key=_triple_key)
        if not keep:
            return b""
        return _body(keep, ox.RdfFormat.TURTLE, prefixes)

    def close(self) -> None:
        """Remove the spool files, and the dump files :meth:`finish` did not complete."""
        for file in [*self._spools.values(), *self._files.values()]:
            if not file.fh.closed:
                file.discard()
        shutil.rmtree(self.spool_dir, ignore_errors=True)


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
    """Write each dump format of ``quads`` (held in memory) into ``directory``.

    The same writer as the streaming build (:class:`DumpWriter`), fed one graph at a time.
    Also writes ``context.jsonld``. Returns the distributions, in registry order.
    """
    writer = DumpWriter(directory, base=base, formats=formats)
    compactor = GraphCompactor(context_document(base)["@context"])
    try:
        for graph, group in groupby(sorted(quads, key=lambda q: str(q.graph_name)),
                                    key=lambda q: q.graph_name):
            if not isinstance(graph, ox.NamedNode):
                raise ValueError("the dumps hold named graphs only")
            writer.add(to_graph_part(graph.value, [q.triple for q in group], base=base,
                                     compactor=compactor))
        return writer.finish()[0]
    finally:
        writer.close()


def write_checksums(directory: Path, distributions: Iterable[Distribution]) -> Path:
    """``SHA256SUMS`` in the format ``sha256sum -c`` reads.

    From the digests the files were written with: a dump is hashed once, as it is written,
    not read back.
    """
    lines = [f"{d.sha256}  {d.name}\n" for d in sorted(distributions, key=lambda d: d.name)]
    path = directory / "SHA256SUMS"
    _atomic_write(path, lambda fh: fh.write("".join(lines).encode()))
    return path
