"""SHACL validation of case graphs with pySHACL, results as data.

Stage 4 of the pipeline. DESIGN.md's rule: validate each case as ONE explicit rdflib Graph
(the case ∪ its publication ∪ the vocabulary) — not a Dataset, whose default union pySHACL
would use — so that every result names its case graph. Checks that need the whole dataset
(the same IRI in two case graphs) run once, in :func:`global_checks`.

Results are returned (data), never raised; the pipeline decides: any ``Violation`` stops
the build (exit 1), ``Warning`` and ``Info`` are reported.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from rdflib import BNode, Graph, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF
from rdflib.term import Node

from alkld.errors import ConfigurationError

__all__ = ["ValidationResult", "format_report", "global_checks", "load_shapes", "shape_names",
           "shared_iris", "validate_graph"]

SH = Namespace("http://www.w3.org/ns/shacl#")


@dataclass(frozen=True, order=True)
class ValidationResult:
    """One SHACL result: which graph, which node, which path, what is wrong, how bad."""

    graph: str
    focus: str
    path: str | None
    message: str
    severity: str  # "Violation" | "Warning" | "Info"
    shape: str
    value: str | None = None


def load_shapes(path: Path) -> Graph:
    """Parse a SHACL shapes graph; a syntax error names the file."""
    graph = Graph()
    try:
        graph.parse(path, format="turtle")
    except FileNotFoundError:
        raise ConfigurationError("shapes file not found", path=path,
                                 expected="a SHACL shapes graph in Turtle") from None
    except Exception as e:  # noqa: BLE001 - rdflib raises several parser errors
        raise ConfigurationError(f"unreadable shapes: {e}", path=path,
                                 expected="valid Turtle") from None
    return graph


def _local(iri: object) -> str:
    return str(iri).rstrip("/#").rsplit("#", 1)[-1].rsplit("/", 1)[-1]


_SHAPE_NAMES: dict[int, tuple[Graph, dict[object, str]]] = {}


def shape_names(shapes: Graph) -> dict[object, str]:
    """A stable IRI for each blank property shape of a named shape.

    ``shape:Diagnosis`` → ``shape:Diagnosis-disease-1``, ``shape:Diagnosis-disease-2``, … (the
    ``sh:path`` local names; the number orders shapes of one path by their ``sh:message``), so
    that results name the same shape in every run and with every validator (a blank node's
    label changes with each parse). Computed once per shapes graph.

    >>> g = Graph().parse(data='''@prefix sh: <http://www.w3.org/ns/shacl#> .
    ...   <http://x/S> sh:property [ sh:path <http://x/p> ; sh:message "m" ] .''', format="turtle")
    >>> sorted(shape_names(g).values())
    ['http://x/S-p-1']
    """
    cached = _SHAPE_NAMES.get(id(shapes))
    if cached is not None and cached[0] is shapes:
        return cached[1]
    names: dict[object, str] = {}
    for parent in sorted({s for s in shapes.subjects(SH.property, None) if isinstance(s, URIRef)},
                         key=str):
        groups: dict[str, list[tuple[str, Node]]] = defaultdict(list)
        for prop in shapes.objects(parent, SH.property):
            if not isinstance(prop, BNode):
                continue
            node = shapes.value(prop, SH.path)
            path = _path(shapes, node) or ""
            steps = list(Collection(shapes, node)) if isinstance(node, BNode) \
                and shapes.value(node, RDF.first) is not None else [node]
            local = "-".join(_local(p) for p in steps) if node is not None else "node"
            messages = sorted(str(m) for m in shapes.objects(prop, SH.message))
            groups[local].append(("|".join(messages) + "|" + path, prop))
        for local, props in groups.items():
            for i, (_, prop) in enumerate(sorted(props, key=lambda x: x[0]), start=1):
                names[prop] = f"{parent}-{local}-{i}"
    _SHAPE_NAMES[id(shapes)] = (shapes, names)
    return names


def _str(node: object) -> str | None:
    return None if node is None else str(node)


def _path(graph: Graph, node: object) -> str | None:
    """A result path as text: an IRI, or a sequence path as ``p1/p2`` (SHACL §2.3.1)."""
    if node is None:
        return None
    if isinstance(node, BNode):
        items = list(Collection(graph, node)) if graph.value(node, RDF.first) else []
        if items:
            return "/".join(_path(graph, item) or "" for item in items)
        inverse = graph.value(node, SH.inversePath)
        if inverse is not None:
            return f"^{_path(graph, inverse)}"
    return str(node)


@lru_cache(maxsize=512)
def _prepared(text: str, base: str | None, namespaces: tuple[tuple[str, str], ...]) -> Any:
    from rdflib.plugins.sparql.algebra import translateQuery
    from rdflib.plugins.sparql.parser import parseQuery

    return translateQuery(parseQuery(text), base, dict(namespaces) or None)


def _install_prepared_queries() -> None:
    """Let rdflib reuse the algebra of a SPARQL string it has already parsed.

    pySHACL sends each ``sh:sparql`` constraint to rdflib as a string on every run, and rdflib
    re-parses it (pyparsing) each time: 57 % of a case's validation time. A translated query
    is rdflib's prepared-query object, made to be evaluated many times with different
    bindings, so caching it by its text changes nothing but the time.
    """
    from rdflib.plugins.sparql import evaluate, processor

    if getattr(processor.SPARQLProcessor.query, "_alkld_prepared", False):
        return
    original = processor.SPARQLProcessor.query

    def query(self: Any, strOrQuery: Any, initBindings: Any = None,  # noqa: N803
              initNs: Any = None, base: str | None = None, DEBUG: bool = False) -> Any:  # noqa: N803
        if isinstance(strOrQuery, str):
            namespaces = tuple(sorted((k, str(v)) for k, v in (initNs or {}).items()))
            prepared = _prepared(strOrQuery, base, namespaces)
            return evaluate.evalQuery(self.graph, prepared, initBindings, base)
        return original(self, strOrQuery, initBindings, initNs, base, DEBUG)

    query._alkld_prepared = True  # type: ignore[attr-defined]
    processor.SPARQLProcessor.query = query  # type: ignore[method-assign]


def validate_graph(data: Graph, shapes: Graph, *, graph: str, details: bool = True
                   ) -> list[ValidationResult]:
    """Validate one explicit graph with pySHACL; return its results sorted (deterministic).

    ``details`` keeps the results pySHACL nests under a result with ``sh:detail`` (the
    failure inside an ``sh:node`` shape, at the inner focus node); without it, only the
    report's own results (``sh:result``), which is what other validators report.
    """
    from pyshacl import validate

    _install_prepared_queries()
    _, results_graph, _ = validate(data, shacl_graph=shapes, inference="none",
                                   advanced=True, allow_warnings=True, inplace=True)
    names = shape_names(shapes)
    out = []
    found = (results_graph.subjects(RDF.type, SH.ValidationResult) if details
             else results_graph.objects(None, SH.result))
    for result in found:
        severity = results_graph.value(result, SH.resultSeverity)
        messages = sorted(str(m) for m in results_graph.objects(result, SH.resultMessage))
        out.append(ValidationResult(
            graph=graph,
            focus=str(results_graph.value(result, SH.focusNode)),
            path=_path(results_graph, results_graph.value(result, SH.resultPath)),
            message="; ".join(messages) or "constraint not satisfied",
            severity=str(severity).rsplit("#", 1)[-1] if severity else "Violation",
            shape=_shape_name(results_graph.value(result, SH.sourceShape), names),
            value=_str(results_graph.value(result, SH.value)),
        ))
    return sorted(set(out))


def _shape_name(shape: object, names: dict[object, str]) -> str:
    return names.get(shape, str(shape))


_TYPE = RDF.type


def global_checks(graphs: Mapping[str, Iterable[tuple[Any, ...]]]) -> list[ValidationResult]:
    """Whole-dataset checks: a case or fact node typed in two case graphs is a shared IRI.

    Only IRIs minted per case (``…/case/…``, ``…/node/…``) are checked: provenance agents
    and activities are meant to be described in every graph.
    """
    return shared_iris({name: (str(s) for s, p, _ in triples
                               if p == _TYPE and isinstance(s, URIRef))
                        for name, triples in graphs.items()})


def shared_iris(typed: Mapping[str, Iterable[str]]) -> list[ValidationResult]:
    """:func:`global_checks` given, for each graph, the IRIs of the subjects it types."""
    typed_in: dict[str, set[str]] = defaultdict(set)
    for name, subjects in typed.items():
        if "/graph/case-" not in name:
            continue
        for s in subjects:
            if "/node/" in s or "/case/" in s:
                typed_in[s].add(name)
    out = [ValidationResult(graph=sorted(names)[0], focus=node, path=None,
                            message=f"the same IRI is described in {len(names)} case graphs: "
                                    + ", ".join(sorted(names)),
                            severity="Violation", shape="alkld:UniqueNodeIRIs")
           for node, names in typed_in.items() if len(names) > 1]
    return sorted(out)


def format_report(results: Iterable[ValidationResult]) -> str:
    """One line per result: ``<severity> <graph> <focus> <path>: <message>``."""
    return "\n".join(
        f"{r.severity} {r.graph} {r.focus} {r.path or '-'}: {r.message}"
        + (f" (value {r.value})" if r.value else "") for r in results)
