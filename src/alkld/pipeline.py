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
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import pickle
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyoxigraph as ox
from rdflib import BNode, Graph, URIRef
from rdflib.compare import to_canonical_graph

from alkld.errors import ConfigurationError, ValidationFailure
from alkld.mapping.tables import TermMapper
from alkld.rdf.build import CaseGraph, Iris, Triple, to_case_graphs, to_publication_graph
from alkld.rdf.vocabulary import load_turtle, to_mappings_triples, to_vocabulary_triples
from alkld.records.loader import LoadedRecord
from alkld.store.embedded import to_ox_quads, write_store
from alkld.vocab import DEFAULT_BASE

if TYPE_CHECKING:
    from alkld.validation.shacl import ValidationResult

__all__ = ["BuildOptions", "BuildResult", "Context", "Release", "assemble", "build",
           "prepare", "process_record", "validate_release"]

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
class RecordOutput:
    """The named graphs one record produced, and their validation results."""

    record: LoadedRecord
    graphs: list[CaseGraph]
    results: list[ValidationResult] = field(default_factory=list)
    #: Triples of the claims graph this record's cases give (validated with their case).
    claims: list[Triple] = field(default_factory=list)
    #: Seconds spent per stage on this record ("load", "rdf", "shacl"): for benchmarks.
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
    """What a build produced: the release, validation results, counts, files."""

    release: Release
    results: list[ValidationResult] = field(default_factory=list)
    quads: int = 0
    files: list[str] = field(default_factory=list)

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
    todo = [x for t in triples for x in (t[0], t[2]) if isinstance(x, URIRef)]
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


def process_record(loaded: LoadedRecord, ctx: Context, *, validate: bool = True
                   ) -> RecordOutput:
    """Stages 2-4 for one record: map, build its graphs, validate its cases.

    Cases are validated in chunks of :data:`VALIDATION_CHUNK`, each chunk as one explicit
    graph (its cases ∪ the publication ∪ the class hierarchy they use); every result is
    attributed to the named graph that holds its focus node.
    """
    started = time.perf_counter()
    pub = to_publication_graph(loaded, ctx.mapper, base=ctx.base)
    cases = to_case_graphs(loaded, ctx.mapper, base=ctx.base)
    out = RecordOutput(loaded, [pub, *cases])
    out.timings["rdf"] = time.perf_counter() - started
    if not validate:
        out.claims = _claims_for(cases, pub, ctx) if cases else []
        return out
    started = time.perf_counter()
    from alkld.validation.shacl import validate_graph

    shapes = _shapes(ctx.shapes)
    claims_graph = str(Iris(ctx.base).graph("claims"))
    groups = [cases[i:i + VALIDATION_CHUNK] for i in range(0, len(cases), VALIDATION_CHUNK)]
    for group in groups or [[pub]]:
        data = Graph()
        owner: dict[str, str] = {}
        for cg in [pub, *group] if group != [pub] else [pub]:
            for t in cg.triples:
                data.add(t)
                owner.setdefault(str(t[0]), str(cg.graph))
        claims = _claims_for(group, pub, ctx) if group != [pub] else []
        out.claims.extend(claims)
        for t in claims:
            data.add(t)
            owner.setdefault(str(t[0]), claims_graph)
        for t in _tbox_for(data, ctx.vocabulary):
            data.add(t)
        default = str(group[0].graph)
        for result in validate_graph(data, shapes, graph=default):
            graph = owner.get(result.focus, default)
            if graph == str(pub.graph) and group != [pub]:
                graph = default if len(group) == 1 else graph
            out.results.append(dataclasses.replace(result, graph=graph))
    out.results.sort()
    out.timings["shacl"] = time.perf_counter() - started
    return out


_WORKER_CTX: Context | None = None


def _init_worker(ctx: Context) -> None:  # pragma: no cover - runs in pool processes
    global _WORKER_CTX
    _WORKER_CTX = ctx


def _load_and_process(path: Path, validate: bool) -> RecordOutput:  # pragma: no cover
    from alkld.records.loader import load_record

    assert _WORKER_CTX is not None
    started = time.perf_counter()
    loaded = load_record(path)
    elapsed = time.perf_counter() - started
    out = process_record(loaded, _WORKER_CTX, validate=validate)
    out.timings["load"] = elapsed
    return out


def _fingerprint(options: BuildOptions, validate: bool) -> str:
    """What every record's output depends on besides the record: code, tables, shapes."""
    from alkld import __version__

    digest = hashlib.sha256(f"{__version__}|{options.base}|{validate}".encode())
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

    Lives in ``<out>/.cache``; an unchanged record (same bytes, same mapping tables, shapes,
    ontology and code) is not rebuilt. Entries are written atomically.
    """

    def __init__(self, directory: Path, fingerprint: str) -> None:
        self.directory = directory / fingerprint[:16]
        self.hits = 0
        self.misses = 0

    def _path(self, record: Path) -> Path:
        return self.directory / (hashlib.sha256(record.read_bytes()).hexdigest() + ".pickle")

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
        if out.record.path != record:  # the same bytes may sit at a new path
            out.record = dataclasses.replace(out.record, path=record)
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
         progress: Callable[[Iterable[Any], int], Iterable[Any]] | None,
         jobs: int = 1, cache: bool = False) -> tuple[Release, list[ValidationResult]]:
    from alkld.records.loader import check_unique_keys, iter_record_paths, load_record

    paths = iter_record_paths(options.cases)
    ctx = prepare(options)
    store = RecordCache(options.cache_dir, _fingerprint(options, validate)) \
        if cache and options.cache_dir else None
    done: dict[Path, RecordOutput] = {}
    todo: list[Path] = []
    for path in paths:
        hit = store.get(path) if store else None
        if hit is not None:
            done[path] = hit
        else:
            todo.append(path)
    if store:
        log.info("record cache: %d unchanged, %d to build", store.hits, len(todo))
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                                 initargs=(ctx,)) as pool:
            results_iter = pool.map(_load_and_process, todo, [validate] * len(todo),
                                    chunksize=max(1, min(16, len(todo) // (jobs * 8) or 1)))
            for path, output in zip(todo, progress(results_iter, len(todo)) if progress
                                    else results_iter, strict=True):
                done[path] = output
    else:
        items = progress(todo, len(todo)) if progress else todo
        for path in items:
            started = time.perf_counter()
            loaded = load_record(path)
            elapsed = time.perf_counter() - started
            done[path] = process_record(loaded, ctx, validate=validate)
            done[path].timings["load"] = elapsed
    if store:
        for path in todo:
            store.put(path, done[path])
        store.prune(set(paths))
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

    labels = {s: str(o) for s, p, o in vocabulary if p == RDFS.label}
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

    cached = (labels, {t for t in parents if is_tumour(t)})
    _CLAIM_INPUTS.clear()
    _CLAIM_INPUTS[id(vocabulary)] = cached
    return cached


def _claims_for(cases: list[CaseGraph], pub: CaseGraph, ctx: Context) -> list[Triple]:
    """The evidence items (claims graph) the given cases of one record give."""
    from alkld.rdf.claims import claims_triples

    labels, tumours = _claim_inputs(ctx.vocabulary)
    return claims_triples({c.graph: c.triples for c in cases}, {pub.graph: pub.triples},
                          labels, base=ctx.base, tumours=tumours)


def assemble(options: BuildOptions) -> Release:
    """Stages 1-3 without validation: every named graph of the release."""
    return _run(options, validate=False, progress=None)[0]


def validate_release(options: BuildOptions, progress: Callable | None = None, *,
                     jobs: int = 1, cache: bool = False
                     ) -> tuple[Release, list[ValidationResult]]:
    """Stages 1-4: the release and its validation results (nothing is written)."""
    return _run(options, validate=True, progress=progress, jobs=jobs, cache=cache)


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


def write_release(release: Release, options: BuildOptions) -> tuple[int, list[str]]:
    """Stages 5-6: store, dumps, VoID/DCAT, checksums — staged, then moved into ``out``."""
    from alkld.publish.dumps import describe_file, write_checksums, write_dumps
    from alkld.publish.void import ReleaseInfo, to_void_quads, void_prefixes

    quads = to_quads(release)
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f".staging-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        distributions = write_dumps(quads, staging, base=options.base)
        info = ReleaseInfo(base=options.base, issued=options.issued)
        void = to_void_quads(quads, distributions, info)
        void_path = staging / "void.ttl"
        ox.serialize(void, str(void_path), format=ox.RdfFormat.TURTLE,
                     prefixes=void_prefixes(options.base))
        distributions.append(describe_file(void_path, "text/turtle", len(void)))
        # the same description as schema.org Dataset JSON-LD, for dataset search engines
        from alkld.publish.schemaorg import dataset_jsonld

        void_store = ox.Store()
        void_store.extend(ox.Quad(t.subject, t.predicate, t.object) for t in void)
        doc = dataset_jsonld(void_store, base=options.base)
        schema_path = staging / "dataset.jsonld"
        schema_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True)
                               + "\n", encoding="utf-8")
        distributions.append(describe_file(schema_path, "application/ld+json"))
        names = [d.name for d in distributions]
        write_checksums(staging, names)
        names.append("SHA256SUMS")
        count = write_store(quads, staging / "store")
        for name in names:
            os.replace(staging / name, out / name)
        if (out / "store").exists():
            shutil.rmtree(out / "store")
        (staging / "store").rename(out / "store")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return count, names


def build(options: BuildOptions, *, progress: Callable | None = None, jobs: int = 1,
          cache: bool = False) -> BuildResult:
    """Run the whole pipeline; raise :class:`ValidationFailure` (writing nothing) on violations.

    ``jobs`` > 1 loads, maps, builds and validates records in a process pool; ``cache``
    reuses the output of records unchanged since the last build into the same ``out``.
    """
    release, results = validate_release(options, progress, jobs=jobs, cache=cache)
    result = BuildResult(release, results)
    if result.violations:
        from alkld.validation.shacl import format_report

        raise ValidationFailure(
            f"{len(result.violations)} SHACL violation(s); nothing was published\n"
            + format_report(result.violations))
    result.quads, result.files = write_release(release, options)
    return result
