"""The release pipeline: records → mapping → RDF → validation → store → dumps.

Each stage is a function of the previous stage's output; :func:`build` composes them and
alone touches ``--out``. Nothing is written unless every case conforms: files are written
into a staging directory and moved into place at the end, so a failed build (bad input,
violations) leaves a previous ``output/`` byte-identical.

The unit of work is one record (:func:`process_record`): it builds the publication graph and
the case graphs of one file and validates each case as one explicit graph (the case ∪ its
publication ∪ the vocabulary). It depends only on the record and the shared, read-only
:class:`Context` (mapper, vocabulary, shapes), so records can be processed in any order or in
parallel; the vocabulary is derived up-front from the mapping tables (every mapped external
term, with its labels and ancestors), not from the cases.

:func:`build` streams: each pool worker hands back its record's graphs already serialised in
every dump format (:class:`~alkld.publish.dumps.GraphPart`), its validation results and its
claims; the parent writes them to disk as they arrive (case graphs straight into the dump
files while they come in canonical order, the rest spooled:
:class:`~alkld.publish.dumps.DumpWriter`) and never holds the dataset; each graph's N-Quads
also go, as they arrive, to the store's one bulk load (in a thread, fed through a pipe:
:class:`~alkld.store.embedded.StoreLoader`). After the last record: the global checks; then
the store finishes (it has had every quad) while the claims graph and the dumps are
finished.
:func:`validate_release` and :func:`assemble` keep every graph in memory (rdflib triples),
for ``alkld validate`` and small releases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import hashlib
import json
import logging
import os
import pickle
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox
from rdflib import BNode, Graph, URIRef
from rdflib.compare import to_canonical_graph
from xxhash import xxh3_128, xxh3_128_hexdigest

from alkld.errors import ConfigurationError, ValidationFailure
from alkld.mapping.tables import TermMapper
from alkld.rdf.build import CaseGraph, Iris, Triple, to_case_graphs, to_publication_graph
from alkld.rdf.vocabulary import load_turtle, to_mappings_triples, to_vocabulary_triples
from alkld.records.loader import LoadedRecord, RecordKeys
from alkld.store.embedded import (
    StoreLoader,
    StoreUpdater,
    move_into_place,
    to_ox_quads,
    to_ox_term,
)
from alkld.vocab import DEFAULT_BASE

if TYPE_CHECKING:
    from alkld.publish.dumps import GraphPart
    from alkld.validation.shacl import ValidationResult

__all__ = ["VALIDATORS", "BuildOptions", "BuildResult", "Context", "Release", "assemble",
           "build", "prepare", "process_record", "stream_record", "validate_release"]

#: SHACL validators a build can use: pyrudof (the default, fast) or pySHACL (the reference).
VALIDATORS = ("pyshacl", "rudof")

#: A progress display: wraps an iterable of ``total`` items (None: not known) and yields
#: them; the third argument names what is counted ("records", "claims", "store seconds").
Progress = Callable[[Iterable[Any], int | None, str], Iterable[Any]]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildOptions:
    """Where the inputs are and where the release goes; defaults are the repository layout."""

    cases: Path = Path("cases")
    mappings: Path = Path("mappings")
    ontology: Path = Path("ontology/alkld.ttl")
    shapes: Path = Path("shapes/alkld.shapes.ttl")
    vocabulary: Path = Path("mappings/vocabulary.ttl")
    out: Path = Path("output")
    base: str = DEFAULT_BASE
    issued: dt.date | None = None
    #: Where unchanged records' outputs are kept between builds (outside ``out``).
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if not (self.base.startswith(("http://", "https://")) and self.base.endswith(("/", "#"))):
            raise ConfigurationError(f"base IRI {self.base!r}", field="--base",
                                     expected="an http(s) IRI ending in '/' or '#'")


@dataclass(frozen=True)
class Context:
    """What every record's processing shares: read-only, picklable."""

    base: str
    mapper: TermMapper
    vocabulary: tuple[Triple, ...]
    mappings: tuple[Triple, ...]
    shapes: Path


@dataclass
class RecordGraphs:
    """The named graphs one record produced, and their validation results (in memory)."""

    record: LoadedRecord
    graphs: list[CaseGraph]
    results: list[ValidationResult] = field(default_factory=list)
    #: Triples of the claims graph this record's cases give (validated with their case).
    claims: list[Triple] = field(default_factory=list)
    #: Seconds spent per stage on this record ("load", "rdf", "shacl"): for benchmarks.
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class RecordOutput:
    """What one record gives the streaming build: its graphs serialised, results, claims."""

    keys: RecordKeys
    parts: list[GraphPart]
    results: list[ValidationResult] = field(default_factory=list)
    #: The record's triples of the claims graph, as N-Triples.
    claims: bytes = b""
    #: Per case graph: 64-bit digests of the case and fact IRIs typed in it (global checks).
    typed: dict[str, bytes] = field(default_factory=dict)
    #: Seconds spent per stage on this record ("load", "rdf", "shacl", "serialise": wall
    #: time in the worker; "cpu": the worker's CPU time for the whole record).
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Release:
    """Every named graph of the release."""

    records: list[LoadedRecord]
    graphs: list[CaseGraph]
    vocabulary: list[Triple]
    mappings: list[Triple]
    base: str
    extra: dict[URIRef, list[Triple]] = field(default_factory=dict)
    #: Per-record stage timings (seconds), in record order: for benchmarks.
    timings: list[dict[str, float]] = field(default_factory=list)

    def named_graphs(self) -> dict[URIRef, list[Triple]]:
        iris = Iris(self.base)
        out = {g.graph: g.triples for g in self.graphs}
        out[iris.graph("vocabulary")] = self.vocabulary
        out[iris.graph("mappings")] = self.mappings
        out.update(self.extra)
        return out

    @property
    def case_graphs(self) -> list[CaseGraph]:
        return [g for g in self.graphs if "/graph/case-" in g.graph]


@dataclass
class BuildResult:
    """What a build produced: validation results, counts, files, stage timings."""

    results: list[ValidationResult] = field(default_factory=list)
    quads: int = 0
    files: list[str] = field(default_factory=list)
    #: Every named graph's IRI, sorted.
    graphs: list[str] = field(default_factory=list)
    records: list[RecordKeys] = field(default_factory=list)
    #: Wall seconds per stage of the parent ("records", "claims", "store", each dump, …).
    timings: dict[str, float] = field(default_factory=dict)
    #: Seconds per stage summed over every record (CPU inside the pool).
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def case_graphs(self) -> list[str]:
        return [g for g in self.graphs if "/graph/case-" in g]

    @property
    def violations(self) -> list[ValidationResult]:
        return [r for r in self.results if r.severity == "Violation"]

    @property
    def warnings(self) -> list[ValidationResult]:
        return [r for r in self.results if r.severity == "Warning"]


def prepare(options: BuildOptions) -> Context:
    """Load the mapping tables, the ontology and the vocabulary extract once."""
    mapper = TermMapper.from_directory(options.mappings)
    ontology = Graph()
    for t in to_canonical_graph(load_turtle(options.ontology)):
        ontology.add(t)  # blank nodes of OWL lists relabelled canonically: stable dumps
    extract = load_turtle(options.vocabulary) if options.vocabulary.exists() else None
    mapped = {r.object_id for r in mapper.terms} | {r.subject_id for r in mapper.xrefs} \
        | {r.object_id for r in mapper.xrefs}
    vocabulary = to_vocabulary_triples(mapped, ontology=ontology, extract=extract, mapper=mapper)
    mappings = to_mappings_triples(mapper, base=options.base, used=mapped)
    if not options.shapes.is_file():
        raise ConfigurationError("shapes file not found", path=options.shapes,
                                 expected="a SHACL shapes graph in Turtle")
    return Context(options.base, mapper, tuple(vocabulary), tuple(mappings), options.shapes)


_VOCABULARY_INDEX: dict[int, dict[object, list[Triple]]] = {}
_SUBCLASS = URIRef("http://www.w3.org/2000/01/rdf-schema#subClassOf")
#: Cases validated together in one pySHACL run (results still name each case's graph).
VALIDATION_CHUNK = 50


def _subclass_index(vocabulary: tuple[Triple, ...]) -> dict[object, list[Triple]]:
    """``rdfs:subClassOf`` triples of the vocabulary by subject, built once per process."""
    index = _VOCABULARY_INDEX.get(id(vocabulary))
    if index is None:
        index = {}
        for t in vocabulary:
            if t[1] == _SUBCLASS:
                index.setdefault(t[0], []).append(t)
        _VOCABULARY_INDEX.clear()
        _VOCABULARY_INDEX[id(vocabulary)] = index
    return index


def _tbox_for(triples: Iterable[Triple], vocabulary: tuple[Triple, ...]) -> list[Triple]:
    """The ``rdfs:subClassOf`` closure of every IRI in ``triples``.

    What the shapes read from the vocabulary is its class hierarchy (``sh:targetClass`` and
    ``sh:class`` follow ``rdfs:subClassOf``); validating a case with this closure instead of
    the whole vocabulary graph gives the same results, in a graph 20× smaller.
    """
    index = _subclass_index(vocabulary)
    out: list[Triple] = []
    seen: set[object] = set()
    todo: list[object] = [x for t in triples for x in (t[0], t[2]) if isinstance(x, URIRef)]
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        for t in index.get(node, ()):
            out.append(t)
            todo.append(t[2])
    return out


@lru_cache(maxsize=4)
def _shapes(path: Path) -> Graph:
    from alkld.validation.shacl import load_shapes

    return load_shapes(path)


_OX_TERMS: dict[object, Any] = {}


def _ox_triples(triples: Iterable[Triple], *, blank_nodes: bool = False) -> list[ox.Triple]:
    """Rdflib triples as pyoxigraph triples (IRIs converted once a process)."""
    memo = _OX_TERMS
    if len(memo) > 200_000:
        memo.clear()
    get, named, triple = memo.get, ox.NamedNode, ox.Triple

    def term(x: Any) -> Any:
        if type(x) is URIRef:
            y = memo[x] = named(x)
            return y
        if isinstance(x, BNode) and not blank_nodes:
            raise ConfigurationError(f"blank node {x.n3()}", expected="named nodes only")
        return to_ox_term(x)

    # The memo answers most IRIs without a call; literals are converted each time (their
    # rdflib hash is a Python function, dearer than the conversion).
    return [triple(get(s) or term(s), get(p) or term(p),
                   (get(o) or term(o)) if type(o) is URIRef else term(o))
            for s, p, o in triples]


@lru_cache(maxsize=2)
def _rudof(path: Path) -> Any:
    from alkld.validation.fast import RudofValidator

    return RudofValidator(path)


def _validate_cases(pub: CaseGraph, cases: list[CaseGraph], ctx: Context, validator: str,
                    *, details: bool = True, ntriples: dict[str, bytes] | None = None
                    ) -> tuple[list[ValidationResult], list[Triple]]:
    """Validate a record's cases; return the results and the record's claims triples.

    Cases are validated in chunks of :data:`VALIDATION_CHUNK`, each chunk as one explicit
    graph (its cases ∪ the publication ∪ their claims ∪ the class hierarchy they use); every
    result is attributed to the named graph that holds its focus node, and reported once
    (the publication is validated with every chunk). ``details`` keeps
    pySHACL's nested ``sh:detail`` results (rudof reports only the report's own results).
    ``ntriples`` may give the graphs already serialised as N-Triples (for rudof).
    """
    if validator not in VALIDATORS:
        raise ConfigurationError(f"validator {validator!r}", field="--validator",
                                 expected=", ".join(VALIDATORS))
    claims_graph = str(Iris(ctx.base).graph("claims"))
    results: list[ValidationResult] = []
    all_claims: list[Triple] = []
    groups = [cases[i:i + VALIDATION_CHUNK] for i in range(0, len(cases), VALIDATION_CHUNK)]
    for group in groups or [[pub]]:
        triples: list[Triple] = []
        owner: dict[str, str] = {}
        members = [pub, *group] if group != [pub] else [pub]
        for cg in members:
            triples.extend(cg.triples)
            for t in cg.triples:
                owner.setdefault(str(t[0]), str(cg.graph))
        claims = _claims_for(group, pub, ctx) if group != [pub] else []
        all_claims.extend(claims)
        for t in claims:
            owner.setdefault(str(t[0]), claims_graph)
        tbox = _tbox_for([*triples, *claims], ctx.vocabulary)
        extra = [*claims, *tbox]
        default = str(group[0].graph)
        if validator == "pyshacl":
            from alkld.validation.shacl import validate_graph

            data = Graph()
            for t in [*triples, *extra]:
                data.add(t)
            found = validate_graph(data, _shapes(ctx.shapes), graph=default, details=details)
        else:
            if ntriples is not None:
                pieces = [ntriples[str(cg.graph)] for cg in members]
            else:
                pieces = [ox.serialize(_ox_triples(triples, blank_nodes=True),
                                       format=ox.RdfFormat.N_TRIPLES) or b""]
            if extra:
                pieces.append(ox.serialize(_ox_triples(extra, blank_nodes=True),
                                           format=ox.RdfFormat.N_TRIPLES) or b"")
            rudof = _rudof(ctx.shapes)
            found = rudof.validate(rudof.readable(b"".join(pieces)).decode(), graph=default)
        results.extend(dataclasses.replace(r, graph=owner.get(r.focus, default)) for r in found)
    return sorted(set(results)), all_claims


def process_record(loaded: LoadedRecord, ctx: Context, *, validate: bool = True,
                   validator: str = "pyshacl") -> RecordGraphs:
    """Stages 2-4 for one record, in memory: map, build its graphs, validate its cases."""
    started = time.perf_counter()
    pub = to_publication_graph(loaded, ctx.mapper, base=ctx.base)
    cases = to_case_graphs(loaded, ctx.mapper, base=ctx.base)
    out = RecordGraphs(loaded, [pub, *cases])
    out.timings["rdf"] = time.perf_counter() - started
    if not validate:
        out.claims = _claims_for(cases, pub, ctx) if cases else []
        return out
    started = time.perf_counter()
    out.results, out.claims = _validate_cases(pub, cases, ctx, validator)
    out.timings["shacl"] = time.perf_counter() - started
    return out


_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _typed_digests(cg: CaseGraph) -> bytes:
    """Digests of the case and fact IRIs a case graph types (see ``global_checks``)."""
    # str.__eq__, not ==: rdflib's Python-level __eq__ on every triple costs ~0.2 ms a case
    same = str.__eq__
    iris = sorted({str(s) for s, p, _ in cg.triples if same(p, _TYPE) and isinstance(s, URIRef)
                   and ("/node/" in s or "/case/" in s)})
    from alkld.publish.dumps import digests

    return digests([i.encode() for i in iris])


def stream_record(loaded: LoadedRecord, ctx: Context, *, validator: str = "rudof",
                  compactor: Any = None) -> RecordOutput:
    """Stages 2-4 for one record, for the streaming build: its graphs come back serialised."""
    from alkld.publish.dumps import to_graph_part

    started = time.perf_counter()
    pub = to_publication_graph(loaded, ctx.mapper, base=ctx.base)
    cases = to_case_graphs(loaded, ctx.mapper, base=ctx.base)
    out = RecordOutput(loaded.keys(), [])
    out.timings["rdf"] = time.perf_counter() - started
    started = time.perf_counter()
    ntriples: dict[str, bytes] = {}
    for cg in [pub, *cases]:
        triples = _ox_triples(cg.triples)
        lines = ntriples[str(cg.graph)] = \
            ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
        out.parts.append(to_graph_part(str(cg.graph), triples, base=ctx.base,
                                       compactor=compactor, ntriples=lines))
        if "/graph/case-" in cg.graph:
            out.typed[str(cg.graph)] = _typed_digests(cg)
    out.timings["serialise"] = time.perf_counter() - started
    started = time.perf_counter()
    out.results, claims = _validate_cases(pub, cases, ctx, validator, details=False,
                                          ntriples=ntriples)
    if claims:
        out.claims = ox.serialize(_ox_triples(claims), format=ox.RdfFormat.N_TRIPLES) or b""
    out.timings["shacl"] = time.perf_counter() - started
    return out


def _pool_context() -> Any:
    """Workers start from a fresh forkserver, never from a fork of this process.

    The parent may hold threads of native libraries (pyoxigraph's bulk loader, rudof): a
    fork taken while one of them holds a lock deadlocks the child (seen in the test suite).
    The forkserver starts with the build's allocator preloaded (:mod:`alkld.native`).
    """
    import multiprocessing

    from alkld.native import start_forkserver

    start_forkserver()
    return multiprocessing.get_context("forkserver")


_WORKER_CTX: Context | None = None
_WORKER_COMPACTOR: Any = None


def _init_worker(ctx: Context) -> None:  # pragma: no cover - runs in pool processes
    global _WORKER_CTX, _WORKER_COMPACTOR
    from alkld.publish.compact import GraphCompactor
    from alkld.publish.dumps import context_document

    _WORKER_CTX = ctx
    _WORKER_COMPACTOR = GraphCompactor(context_document(ctx.base)["@context"])
    threading.Thread(target=_exit_with_the_build, name="alkld-watch-build", daemon=True).start()
    # Long-lived inputs (tables, vocabulary, shapes) out of the collector's way, and fewer
    # collections: a record allocates ~100k objects, most of them freed with it.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _exit_with_the_build() -> None:  # pragma: no cover - runs in pool processes
    """Exit this worker when the build process is gone, however it ended.

    A worker waits for its next record on a pipe it holds both ends of, so it would wait
    for ever after a build killed outright (SIGKILL, the OOM killer). multiprocessing gives
    each worker a sentinel that becomes readable when the process that started it exits.
    """
    import multiprocessing
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:  # not a child process
        return
    wait([parent.sentinel])
    os._exit(1)


def _load_and_process(path: Path, validate: bool) -> RecordGraphs:  # pragma: no cover
    from alkld.records.loader import load_record

    assert _WORKER_CTX is not None
    started = time.perf_counter()
    loaded = load_record(path)
    elapsed = time.perf_counter() - started
    out = process_record(loaded, _WORKER_CTX, validate=validate)
    out.timings["load"] = elapsed
    return out


def _load_and_stream(path: Path, validator: str) -> RecordOutput:  # pragma: no cover
    from alkld.records.loader import load_record

    assert _WORKER_CTX is not None
    cpu = time.process_time()
    started = time.perf_counter()
    loaded = load_record(path)
    elapsed = time.perf_counter() - started
    out = stream_record(loaded, _WORKER_CTX, validator=validator, compactor=_WORKER_COMPACTOR)
    out.timings["load"] = elapsed
    out.timings["cpu"] = time.process_time() - cpu  # this process's CPU, not wall
    return out


def _fingerprint(options: BuildOptions, validator: str) -> str:
    """What every record's output depends on besides the record: code, tables, shapes."""
    from alkld import __version__

    digest = hashlib.sha256(f"{__version__}|{options.base}|{validator}".encode())
    for path in sorted(options.mappings.glob("*.tsv")) + [options.shapes, options.ontology,
                                                           options.vocabulary]:
        if path.exists():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    package = Path(__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


class RecordCache:
    """Outputs of records already built, keyed by the record's bytes and the fingerprint.

    Lives in ``--cache-dir`` (by default the user cache, ``~/.cache/alkld/records``); an
    unchanged record (same bytes, same mapping tables, shapes, ontology and code) is not
    rebuilt. Entries are written atomically.
    """

    def __init__(self, directory: Path, fingerprint: str) -> None:
        self.directory = directory / fingerprint[:16]
        self._entries: dict[Path, Path] = {}  # record → its entry: each record hashed once
        self.hits = 0
        self.misses = 0

    def _path(self, record: Path) -> Path:
        entry = self._entries.get(record)
        if entry is None:
            digest = hashlib.sha256(record.read_bytes()).hexdigest()
            entry = self._entries[record] = self.directory / (digest + ".pickle")
        return entry

    def has(self, record: Path) -> bool:
        """Whether an entry exists for ``record`` (:meth:`get` may still find it unreadable)."""
        return self._path(record).exists()

    def get(self, record: Path) -> RecordOutput | None:
        path = self._path(record)
        if not path.exists():
            self.misses += 1
            return None
        try:
            with path.open("rb") as fh:
                out: RecordOutput = pickle.load(fh)  # noqa: S301 - our own cache files
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            self.misses += 1
            return None
        if out.keys.path != record:  # the same bytes may sit at a new path
            out.keys = dataclasses.replace(out.keys, path=record)
        self.hits += 1
        return out

    def put(self, record: Path, output: RecordOutput) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(record)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(output, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)

    def prune(self, keep: set[Path]) -> None:
        """Drop entries of older fingerprints (other subdirectories of the cache)."""
        for sub in self.directory.parent.glob("*"):
            if sub.is_dir() and sub != self.directory:
                shutil.rmtree(sub, ignore_errors=True)


def _run(options: BuildOptions, *, validate: bool,
         progress: Progress | None,
         jobs: int = 1) -> tuple[Release, list[ValidationResult]]:
    """Stages 1-4 in memory (``alkld validate``, :func:`assemble`), validated by pySHACL."""
    from alkld.records.loader import check_unique_keys, iter_record_paths, load_record

    paths = iter_record_paths(options.cases)
    ctx = prepare(options)
    done: dict[Path, RecordGraphs] = {}
    if jobs > 1 and len(paths) > 1:
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                                 initargs=(ctx,), mp_context=_pool_context()) as pool:
            results_iter = pool.map(_load_and_process, paths, [validate] * len(paths),
                                    chunksize=max(1, min(16, len(paths) // (jobs * 8) or 1)))
            for path, output in zip(paths, progress(results_iter, len(paths), "records")
                                    if progress else results_iter, strict=True):
                done[path] = output
    else:
        for path in progress(paths, len(paths), "records") if progress else paths:
            started = time.perf_counter()
            loaded = load_record(path)
            elapsed = time.perf_counter() - started
            done[path] = process_record(loaded, ctx, validate=validate)
            done[path].timings["load"] = elapsed
    outputs = [done[p] for p in paths]
    records = [o.record for o in outputs]
    check_unique_keys(records)
    graphs = [g for o in outputs for g in o.graphs]
    release = Release(records, graphs, list(ctx.vocabulary), list(ctx.mappings), options.base,
                      timings=[o.timings for o in outputs])
    results = [r for o in outputs for r in o.results]
    release.extra[Iris(options.base).graph("claims")] = sorted(
        {t for o in outputs for t in o.claims}, key=lambda t: tuple(map(str, t)))
    if validate:
        from alkld.validation.shacl import global_checks

        results.extend(global_checks({str(k): v for k, v in release.named_graphs().items()}))
    log.info("built %d graphs from %d records", len(graphs), len(records))
    return release, results


_CLAIM_INPUTS: dict[int, tuple[dict[object, str], set[object]]] = {}


def _claim_inputs(vocabulary: tuple[Triple, ...]) -> tuple[dict[object, str], set[object]]:
    """Labels and tumour terms (neoplasms, histiocytoses) of the vocabulary, once a process."""
    cached = _CLAIM_INPUTS.get(id(vocabulary))
    if cached is not None:
        return cached
    from rdflib.namespace import RDFS

    from alkld.rdf.claims import TUMOUR_ROOTS

    labels: dict[object, str] = {s: str(o) for s, p, o in vocabulary if p == RDFS.label}
    parents: dict[object, set[object]] = {}
    for s, p, o in vocabulary:
        if p == RDFS.subClassOf:
            parents.setdefault(s, set()).add(o)

    def is_tumour(term: object) -> bool:
        seen, todo = set(), [term]
        while todo:
            node = todo.pop()
            if node in TUMOUR_ROOTS:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(parents.get(node, ()))
        return False

    found = (labels, {t for t in parents if is_tumour(t)})
    _CLAIM_INPUTS.clear()
    _CLAIM_INPUTS[id(vocabulary)] = found
    return found


def _claims_for(cases: list[CaseGraph], pub: CaseGraph, ctx: Context) -> list[Triple]:
    """The evidence items (claims graph) the given cases of one record give."""
    from alkld.rdf.claims import claims_triples

    labels, tumours = _claim_inputs(ctx.vocabulary)
    return claims_triples({c.graph: c.triples for c in cases}, {pub.graph: pub.triples},
                          labels, base=ctx.base, tumours=tumours)


def assemble(options: BuildOptions) -> Release:
    """Stages 1-3 without validation: every named graph of the release."""
    return _run(options, validate=False, progress=None)[0]


def validate_release(options: BuildOptions, progress: Progress | None = None, *,
                     jobs: int = 1) -> tuple[Release, list[ValidationResult]]:
    """Stages 1-4 with pySHACL, the reference validator: the release and its results."""
    return _run(options, validate=True, progress=progress, jobs=jobs)


def to_quads(release: Release) -> list[ox.Quad]:
    """All named graphs as sorted, deduplicated pyoxigraph quads."""
    from alkld.publish.dumps import sort_quads

    iris = Iris(release.base)
    quads: list[ox.Quad] = []
    for graph, triples in release.named_graphs().items():
        if graph != iris.graph("vocabulary") and any(
                isinstance(x, BNode) for t in triples for x in t):
            raise ConfigurationError(f"blank node in {graph}", expected="named nodes only")
        quads.extend(to_ox_quads(graph, triples))
    return sort_quads(quads)


def _stream_outputs(paths: list[Path], ctx: Context, *, jobs: int,
                    store: RecordCache | None, validator: str,
                    progress: Progress | None
                    ) -> Iterable[RecordOutput]:
    """Every record's output, in path order, from the cache or the pool as they finish."""
    from alkld.records.loader import load_record

    # which records are cached is known up front; each cached output is read only when its
    # turn comes (all at once they would hold the whole release: ~8 GB at 100k cases)
    cached = {path for path in paths if store.has(path)} if store else set()
    todo = [path for path in paths if path not in cached]
    if store:
        log.info("record cache: %d unchanged, %d to build", len(cached), len(todo))

    def build_here(path: Path, compactor: Any) -> RecordOutput:
        started = time.perf_counter()
        loaded = load_record(path)
        elapsed = time.perf_counter() - started
        out = stream_record(loaded, ctx, validator=validator, compactor=compactor)
        out.timings["load"] = elapsed
        return out

    def compactor() -> Any:
        from alkld.publish.compact import GraphCompactor
        from alkld.publish.dumps import context_document

        return GraphCompactor(context_document(ctx.base)["@context"])

    def built() -> Iterable[RecordOutput]:
        if jobs > 1 and len(todo) > 1:
            with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                                     initargs=(ctx,), mp_context=_pool_context()) as pool:
                yield from pool.map(_load_and_stream, todo, [validator] * len(todo),
                                    chunksize=1)
        else:
            shared = compactor()
            for path in todo:
                yield build_here(path, shared)

    fresh = iter(progress(built(), len(todo), "records") if progress else built())
    for path in paths:
        if path in cached:
            assert store is not None
            hit = store.get(path)
            if hit is not None:
                yield hit
                continue
            log.warning("record cache: the entry of %s is unreadable; building it", path)
            output = build_here(path, compactor())
        else:
            output = next(fresh)
        if store:
            store.put(path, output)
        yield output
    if store:
        store.prune(set(paths))


#: Beside the store in ``--out``: each named graph's digest (XXH3-128 of its N-Quads), so
#: the next build can update that store graph by graph (:class:`StoreUpdater`).
STORE_MANIFEST = ".store-graphs.json"


def _write_manifest(path: Path, digests: dict[str, str]) -> None:
    path.write_text(json.dumps({"version": 1, "graphs": dict(sorted(digests.items()))},
                               indent=0) + "\n", encoding="utf-8")


def _store_to_update(paths: list[Path], options: BuildOptions,
                     records: RecordCache | None) -> dict[str, str] | None:
    """The previous store's graph digests, if this build should update that store.

    It should when the record cache will give nine records in ten or more (so few graphs
    change: replacing them costs less than loading every quad again) and the previous build
    left its store with a readable manifest.
    """
    out = options.out
    if records is None or not (out / "store").is_dir():
        return None
    to_build = sum(1 for path in paths if not records.has(path))
    if to_build > max(1, len(paths) // 10):
        return None
    try:
        data = json.loads((out / STORE_MANIFEST).read_text(encoding="utf-8"))
        graphs = data["graphs"]
        if data.get("version") != 1 or not isinstance(graphs, dict):
            return None
        return {str(g): str(d) for g, d in graphs.items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _while_alive(thread: threading.Thread, tick: float = 1.0) -> Iterator[int]:
    """Yield once a ``tick`` while ``thread`` runs (a progress display's heartbeat)."""
    seconds = 0
    while True:
        thread.join(tick)
        if not thread.is_alive():
            return
        seconds += 1
        yield seconds


def _duplicate_iris(typed: dict[str, bytes], read: Callable[[str], bytes]
                    ) -> list[ValidationResult]:
    """The global check (:func:`~alkld.validation.shacl.shared_iris`), on digests.

    A digest seen in two case graphs makes those graphs suspects; their typed IRIs are then
    read back (``read`` gives a graph's N-Quads) and compared as text.
    """
    import numpy as np

    from alkld.validation.shacl import shared_iris

    names = list(typed)
    arrays = [np.frombuffer(typed[n], dtype="<u8") for n in names]
    if not arrays:
        return []
    everything = np.concatenate(arrays)
    values, counts = np.unique(everything, return_counts=True)
    repeated = values[counts > 1]
    if not len(repeated):
        return []
    owners = np.repeat(np.arange(len(names)), [len(a) for a in arrays])
    suspects = sorted(set(owners[np.isin(everything, repeated)].tolist()))
    typed_iris: dict[str, list[str]] = {
        names[i]: [q.subject.value
                   for q in ox.parse(read(names[i]), format=ox.RdfFormat.N_QUADS)
                   if q.predicate.value == _TYPE and isinstance(q.subject, ox.NamedNode)]
        for i in suspects}
    return shared_iris(typed_iris)


def _timed(timings: dict[str, float], name: str) -> Any:
    class _Timer:
        def __enter__(self) -> None:
            self.started = time.perf_counter()

        def __exit__(self, *exc: object) -> None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - self.started
    return _Timer()


def build(options: BuildOptions, *, progress: Progress | None = None, jobs: int = 1,
          cache: bool = False, validator: str = "rudof") -> BuildResult:
    """Run the whole pipeline, streaming; raise :class:`ValidationFailure` on violations.

    ``jobs`` > 1 loads, maps, builds, validates and serialises records in a process pool;
    ``cache`` reuses the output of records unchanged since the last build (in
    ``options.cache_dir``); ``validator`` is one of :data:`VALIDATORS`. Everything is
    written into a staging directory beside ``options.out`` and moved into place only when
    complete: on violations (exit 1) or bad input (exit 2) nothing in ``out`` changes.
    """
    from alkld.publish.dumps import DumpWriter, to_graph_part, write_checksums
    from alkld.records.loader import check_unique_keys, iter_record_paths

    if validator not in VALIDATORS:
        raise ConfigurationError(f"validator {validator!r}", field="--validator",
                                 expected=", ".join(VALIDATORS))
    result = BuildResult()
    timings = result.timings
    with _timed(timings, "prepare"):
        paths = iter_record_paths(options.cases)
        ctx = prepare(options)
    out = options.out
    _remove_stale_staging(out)
    staging = out.parent / f"{_staging_prefix(out)}{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    writer = DumpWriter(staging, base=options.base)
    iris = Iris(options.base)
    typed: dict[str, bytes] = {}
    duplicated: list[str] = []
    loader: StoreLoader | StoreUpdater | None = None
    store_thread: threading.Thread | None = None
    graph_digests: dict[str, str] = {}  # for the next build's store (STORE_MANIFEST)
    placing = False
    records = RecordCache(options.cache_dir, _fingerprint(options, validator)) \
        if cache and options.cache_dir else None
    previous = _store_to_update(paths, options, records)

    def add(part: GraphPart) -> None:
        writer.add(part)
        digest = graph_digests[part.graph] = xxh3_128_hexdigest(part.nquads)
        assert loader is not None
        loader.add_graph(part.graph, part.nquads, digest)

    try:
        if previous is not None:
            log.info("store: updating the previous build's (%d graphs), graph by graph",
                     len(previous))
            try:
                loader = StoreUpdater(staging / "store", out / "store", previous)
            except OSError as e:  # e.g. a store that cannot be opened or copied
                log.warning("store: cannot copy %s (%s); loading every quad instead",
                            out / "store", e)
        if loader is None:
            loader = StoreLoader(staging / "store")
        for name, triples in ((iris.graph("vocabulary"), ctx.vocabulary),
                              (iris.graph("mappings"), ctx.mappings)):
            add(to_graph_part(str(name), _ox_triples(triples, blank_nodes=True),
                              base=options.base))
        claims_path = staging / ".claims.nt"
        # N-Triples lines end in " .\n" (pyoxigraph escapes newlines in literals)
        claims_tail = b" <" + str(iris.graph("claims")).encode() + b"> .\n"
        claim_lines = 0
        claims_digest = xxh3_128()
        with _timed(timings, "records"), claims_path.open("wb") as claims_spool:
            for output in _stream_outputs(paths, ctx, jobs=jobs, store=records,
                                          validator=validator, progress=progress):
                result.records.append(output.keys)
                result.results.extend(output.results)
                for part in output.parts:
                    if part.graph in writer:
                        duplicated.append(part.graph)  # reported by check_unique_keys
                    else:
                        add(part)
                claims_spool.write(output.claims)
                claims_digest.update(output.claims)
                claim_lines += output.claims.count(b"\n")
                # a new store takes the claims as they come: its load ends with the pool's
                loader.add_claims(output.claims.replace(b" .\n", claims_tail))
                typed.update(output.typed)
                for stage, secs in output.timings.items():
                    result.cpu[stage] = result.cpu.get(stage, 0.0) + secs
        check_unique_keys(result.records)
        if duplicated:
            raise ConfigurationError(f"named graph {duplicated[0]} made by two records",
                                     expected="unique document and case keys")
        with _timed(timings, "global checks"):
            result.results.extend(_duplicate_iris(
                typed, lambda g: writer._read("nquads", g)))  # noqa: SLF001
        result.results.sort()
        if result.violations:
            from alkld.validation.shacl import format_report

            raise ValidationFailure(
                f"{len(result.violations)} SHACL violation(s); nothing was published\n"
                + format_report(result.violations))
        # the store has had every quad (the claims' as they came): it finishes (its last
        # quads, its merge) while the claims graph and the dumps are written
        counted: list[int] = []
        errors: list[BaseException] = []

        claims_iri = str(iris.graph("claims"))
        graph_digests[claims_iri] = claims_digest.hexdigest()

        def finish_store() -> None:
            try:
                assert loader is not None
                counted.append(loader.close(
                    (claims_iri, claims_path, graph_digests[claims_iri])))
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(e)

        store_thread = threading.Thread(target=finish_store, name="alkld-store-close")
        store_thread.start()
        with _timed(timings, "claims"):
            parsed = ox.parse(path=str(claims_path), format=ox.RdfFormat.N_TRIPLES)
            claims = set(progress(parsed, claim_lines, "claims") if progress else parsed)
            # the dumps only: the store has had these quads (its duplicates are one quad)
            writer.add(to_graph_part(str(iris.graph("claims")), claims, base=options.base))
            del claims
        with _timed(timings, "dumps"):
            distributions, stats = writer.finish()
        with _timed(timings, "void"):
            from alkld.publish.dumps import describe_file
            from alkld.publish.schemaorg import dataset_jsonld
            from alkld.publish.void import ReleaseInfo, to_void_quads, void_prefixes

            info = ReleaseInfo(base=options.base, issued=options.issued)
            void = to_void_quads(stats, distributions, info)
            void_path = staging / "void.ttl"
            ox.serialize(void, str(void_path), format=ox.RdfFormat.TURTLE,
                         prefixes=void_prefixes(options.base))
            distributions.append(describe_file(void_path, "text/turtle", len(void)))
            void_store = ox.Store()
            void_store.extend(ox.Quad(t.subject, t.predicate, t.object) for t in void)
            doc = dataset_jsonld(void_store, base=options.base)
            schema_path = staging / "dataset.jsonld"
            schema_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True)
                                   + "\n", encoding="utf-8")
            distributions.append(describe_file(schema_path, "application/ld+json"))
            names = [d.name for d in distributions]
            write_checksums(staging, distributions)
            names.append("SHA256SUMS")
        with _timed(timings, "store wait"):
            if progress and store_thread.is_alive():
                log.info("store: finishing (its last batches, then RocksDB's compaction)")
                for _ in progress(_while_alive(store_thread), None, "store seconds"):
                    pass
            store_thread.join()
        timings["store"] = loader.seconds
        timings.update({f"store: {name}": secs for name, secs in loader.phases.items()})
        updated = isinstance(loader, StoreUpdater)
        loader = None
        if updated and (errors or counted[0] != stats.quads):
            # the previous store is not what its manifest says (or cannot be updated): the
            # next build loads the store afresh instead of failing the same way
            (out / STORE_MANIFEST).unlink(missing_ok=True)
            log.error("store: updating the previous store failed; its manifest is removed, "
                      "so the next build loads every quad")
        if errors:
            raise errors[0]
        if counted[0] != stats.quads:
            raise RuntimeError(f"the store holds {counted[0]} quads, the dumps {stats.quads}")
        placing = True  # from here on ``out`` changes
        out.mkdir(parents=True, exist_ok=True)
        for file_name in names:
            os.replace(staging / file_name, out / file_name)
        manifest = staging / STORE_MANIFEST
        _write_manifest(manifest, graph_digests)
        # the old store's manifest goes first: a crash before the new one is in place leaves
        # none, and the next build loads its store afresh
        (out / STORE_MANIFEST).unlink(missing_ok=True)
        move_into_place(staging / "store", out / "store")
        os.replace(manifest, out / STORE_MANIFEST)
        result.quads, result.files = stats.quads, names
        result.graphs = sorted(stats.per_graph, key=lambda g: f"<{g}>")
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM through alkld.cli
        if placing:
            log.warning("build stopped while moving its files into %s/: build again", out)
        else:
            log.warning("build stopped: nothing in %s/ was changed", out)
        raise
    finally:
        if store_thread is not None:
            if store_thread.is_alive():
                log.warning("stopping: waiting for the store to finish writing %s before "
                            "it is removed (RocksDB's compaction cannot be cut short)", staging)
            store_thread.join()
        if loader is not None:
            loader.abort()
        writer.close()
        shutil.rmtree(staging, ignore_errors=True)
    log.info("built %d graphs from %d records", len(result.graphs), len(result.records))
    return result


def _staging_prefix(out: Path) -> str:
    """A build's staging directory is ``.<out's name>.staging-<its process id>`` beside it."""
    return f".{out.name}.staging-"


def _remove_stale_staging(out: Path) -> None:
    """Remove the staging directories of builds into ``out`` whose process is gone.

    A build stopped by a signal removes its own; one killed outright (SIGKILL, the OOM
    killer, a power cut) cannot, and at 100k cases it holds ~11 GB. A directory whose
    process still runs (another build into ``out``) is left alone.
    """
    prefix = _staging_prefix(out)
    if not out.parent.is_dir():
        return
    for entry in out.parent.iterdir():
        pid_text = entry.name.removeprefix(prefix)
        if entry.name == pid_text or not pid_text.isdigit() or not entry.is_dir():
            continue
        pid = int(pid_text)
        if pid == os.getpid():
            continue  # this process's own, replaced by the caller
        try:
            os.kill(pid, 0)
            continue  # alive: maybe another build into ``out``
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # alive, another user's
        log.warning("removing %s, left by a build that did not finish (process %d)",
                    entry, pid)
        shutil.rmtree(entry, ignore_errors=True)
