"""The release pipeline: records → mapping → RDF → validation → store → dumps.

Each stage is a function of the previous stage's output; :func:`build` composes them and
alone touches ``--out``. Nothing is written unless every case conforms: files are written
into a staging directory and moved into place at the end, so a failed build (bad input,
violations) leaves a previous ``output/`` byte-identical.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Graph, URIRef
from rdflib.compare import to_canonical_graph

from alkld.errors import ConfigurationError, ValidationFailure
from alkld.mapping.tables import TermMapper
from alkld.rdf.build import CaseGraph, Iris, Triple, to_case_graphs, to_publication_graph
from alkld.rdf.vocabulary import load_turtle, to_mappings_triples, to_vocabulary_triples
from alkld.records.loader import LoadedRecord, load_records
from alkld.store.embedded import to_ox_quads, write_store
from alkld.vocab import DEFAULT_BASE

__all__ = ["BuildOptions", "BuildResult", "Release", "assemble", "build", "validate_release"]

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

    def __post_init__(self) -> None:
        if not (self.base.startswith(("http://", "https://")) and self.base.endswith(("/", "#"))):
            raise ConfigurationError(f"base IRI {self.base!r}", field="--base",
                                     expected="an http(s) IRI ending in '/' or '#'")


@dataclass
class Release:
    """Every named graph of the release, before validation and writing."""

    records: list[LoadedRecord]
    graphs: list[CaseGraph]
    vocabulary: list[Triple]
    mappings: list[Triple]
    base: str
    extra: dict[URIRef, list[Triple]] = field(default_factory=dict)

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
    """What a build produced: counts, validation results, files."""

    release: Release
    results: list = field(default_factory=list)  # list[ValidationResult]
    quads: int = 0
    files: list[str] = field(default_factory=list)

    @property
    def violations(self) -> list:
        return [r for r in self.results if r.severity == "Violation"]

    @property
    def warnings(self) -> list:
        return [r for r in self.results if r.severity == "Warning"]


def _canonical_ontology(path: Path) -> list[Triple]:
    """The ontology's triples with blank nodes relabelled canonically (stable dumps)."""
    graph = to_canonical_graph(load_turtle(path))
    return list(graph)  # type: ignore[arg-type]


def assemble(options: BuildOptions) -> Release:
    """Stages 1-3: load and check records, map terms, build every named graph."""
    records = load_records(options.cases)
    mapper = TermMapper.from_directory(options.mappings)
    graphs: list[CaseGraph] = []
    for loaded in records:
        graphs.append(to_publication_graph(loaded, mapper, base=options.base))
        graphs.extend(to_case_graphs(loaded, mapper, base=options.base))
    used = sorted({curie for g in graphs for curie in g.terms})
    ontology = _canonical_ontology(options.ontology)
    onto_graph = Graph()
    for t in ontology:
        onto_graph.add(t)
    extract = load_turtle(options.vocabulary) if options.vocabulary.exists() else None
    vocabulary = to_vocabulary_triples(used, ontology=onto_graph, extract=extract, mapper=mapper)
    mappings = to_mappings_triples(mapper, base=options.base, used=used)
    log.info("built %d graphs from %d records (%d external terms)", len(graphs), len(records),
             len(used))
    return Release(records, graphs, vocabulary, mappings, options.base)


def validate_release(release: Release, shapes_path: Path,
                     progress: Callable[[Iterable[CaseGraph]], Iterable[CaseGraph]] | None = None
                     ) -> list:
    """Stage 4: SHACL per case (case ∪ its publication ∪ vocabulary), then global checks."""
    from alkld.validation.shacl import global_checks, load_shapes, validate_graph

    shapes = load_shapes(shapes_path)
    vocab = Graph()
    for t in release.vocabulary:
        vocab.add(t)
    pubs = {g.source: g for g in release.graphs if "/graph/pub-" in g.graph}
    results = []
    items: Iterable[CaseGraph] = release.graphs
    if progress is not None:
        items = progress(items)
    for cg in items:
        data = Graph()
        data += vocab
        for t in cg.triples:
            data.add(t)
        pub = pubs.get(cg.source)
        if pub is not None and pub is not cg:
            for t in pub.triples:
                data.add(t)
        results.extend(validate_graph(data, shapes, graph=str(cg.graph)))
    results.extend(global_checks({str(k): v for k, v in release.named_graphs().items()}))
    return results


def to_quads(release: Release) -> list[ox.Quad]:
    """All named graphs as sorted, deduplicated pyoxigraph quads."""
    from alkld.publish.dumps import sort_quads

    quads: list[ox.Quad] = []
    for graph, triples in release.named_graphs().items():
        if any(isinstance(x, BNode) for t in triples for x in t if "vocabulary" not in graph):
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


def build(options: BuildOptions, *, progress: Callable | None = None) -> BuildResult:
    """Run the whole pipeline; raise :class:`ValidationFailure` (writing nothing) on violations."""
    release = assemble(options)
    result = BuildResult(release)
    result.results = validate_release(release, options.shapes, progress)
    if result.violations:
        from alkld.validation.shacl import format_report

        raise ValidationFailure(
            f"{len(result.violations)} SHACL violation(s); nothing was published\n"
            + format_report(result.violations))
    result.quads, result.files = write_release(release, options)
    return result
