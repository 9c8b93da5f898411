"""The build's SHACL validator: rudof's Rust engine (pyrudof), checked against pySHACL.

pySHACL stays the reference (``alkld validate``, every shape's test in
``tests/test_shapes.py``); the build validates with pyrudof, ~10× faster a case
(benchmarks/RESULTS.md). It runs the same shapes file, ``sh:sparql`` constraints included.
What it reports is the report's own results (``sh:result``), not the nested ``sh:detail``
results pySHACL adds for a failing ``sh:node`` shape; the result names the outer focus node
and the property shape, so the build still stops on it, and ``alkld validate`` shows the
details. ``tests/test_fast_validation.py`` checks that both give the same set of (focus node,
path, severity, shape) on the real release, a synthetic one and every mutation of
``tests/test_shapes.py``.

Blank property shapes are given the stable names of
:func:`alkld.validation.shacl.shape_names` before rudof reads them, so that a result names
the same shape whichever validator found it.

rudof's time grows with the triples it reads, whether a shape looks at them or not. The
build hands it only the triples the shapes can read (:meth:`RudofValidator.readable`): those
whose predicate a path, a target, a property pair or a SPARQL constraint names, the class
hierarchy, and the ``rdf:type`` triples of the classes the shapes target or require (with
their subclasses). A chunk of cases loses ~29 % of its lines (the annotations' motivation,
the types of their targets and selectors, the PROV activities, the lines each case graph
repeats): rudof's time ~15 % less, the build's SHACL step ~8 % with the filter's own cost.
A shape that could read any triple (``sh:closed``, a SPARQL variable in a predicate's place,
a SPARQL target) turns this off.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import OWL, RDF, RDFS, SH

from alkld.validation.shacl import ValidationResult, load_shapes, shape_names

__all__ = ["ReadSet", "RudofValidator", "read_set"]


def _named_shapes(shapes: Graph) -> Graph:
    """``shapes`` with each named blank property shape replaced by its IRI."""
    names = shape_names(shapes)
    out = Graph()
    for prefix, ns in shapes.namespaces():
        out.bind(prefix, ns)

    def rename(node: Any) -> Any:
        return URIRef(names[node]) if isinstance(node, BNode) and node in names else node

    for s, p, o in shapes:
        out.add((rename(s), p, rename(o)))
    return out


def _path(text: str | None) -> str | None:
    """Rudof writes a sequence path ``(p1 / p2)``; alkld's reports write ``p1/p2``."""
    if text and text.startswith("(") and text.endswith(")") and " / " in text:
        return text[1:-1].replace(" / ", "/")
    return text


@dataclass(frozen=True)
class ReadSet:
    """What shapes can read of a data graph, as N-Triples terms (``b"<iri>"``).

    ``predicates`` None means anything (nothing may be left out).
    """

    predicates: frozenset[bytes] | None
    classes: frozenset[bytes]


def _nt(iri: URIRef) -> bytes:
    return f"<{iri}>".encode()


def _path_iris(shapes: Graph, path: Any) -> Iterator[URIRef]:
    """The predicates a SHACL property path names (sequences, alternatives, inverses, …)."""
    if isinstance(path, URIRef):
        yield path
    elif isinstance(path, BNode):
        if shapes.value(path, RDF.first) is not None:  # a sequence path
            for step in Collection(shapes, path):
                yield from _path_iris(shapes, step)
        for key in (SH.alternativePath, SH.inversePath, SH.zeroOrMorePath, SH.oneOrMorePath,
                    SH.zeroOrOnePath):
            for inner in shapes.objects(path, key):
                yield from _path_iris(shapes, inner)


def _sparql_predicates(shapes: Graph, constraint: Any, text: str) -> set[URIRef] | None:
    """The predicates a SPARQL constraint's query matches; None if it may match any."""
    from rdflib.paths import AlternativePath, InvPath, MulPath, SequencePath
    from rdflib.plugins.sparql import prepareQuery
    from rdflib.plugins.sparql.parserutils import CompValue

    namespaces: dict[str, str] = {}
    for ontology in shapes.objects(constraint, SH.prefixes):
        for declaration in shapes.objects(ontology, SH.declare):
            prefix = shapes.value(declaration, SH.prefix)
            namespace = shapes.value(declaration, SH.namespace)
            if prefix is not None and namespace is not None:
                namespaces[str(prefix)] = str(namespace)
    try:
        query = prepareQuery(text, initNs=namespaces)
    except Exception:  # noqa: BLE001 - a query rdflib cannot read: assume it reads anything
        return None
    found: set[URIRef] = set()

    def predicate(p: Any) -> bool:
        if isinstance(p, URIRef):
            found.add(p)
            return True
        if isinstance(p, SequencePath | AlternativePath):
            return all(predicate(x) for x in p.args)
        if isinstance(p, InvPath):
            return predicate(p.arg)
        if isinstance(p, MulPath):
            return predicate(p.path)
        return False  # a variable, a negated path: any predicate

    def walk(node: Any) -> bool:
        if isinstance(node, CompValue):
            if node.name == "BGP":
                if not all(predicate(t[1]) for t in node["triples"] or ()):
                    return False
            return all(walk(v) for v in node.values())
        if isinstance(node, list | tuple):
            return all(walk(v) for v in node)
        return True

    return found if walk(query.algebra) else None


def read_set(shapes: Graph) -> ReadSet:
    """The predicates and classes ``shapes`` can read of a data graph.

    SHACL Core reads a data graph through paths, targets, property pairs and ``sh:class``;
    SPARQL constraints through their queries' triple patterns. See the module's docstring.
    """
    classes = {_nt(c) for key in (SH.targetClass, SH["class"])
               for c in shapes.objects(None, key) if isinstance(c, URIRef)}
    classes |= {_nt(s) for s in shapes.subjects(RDF.type, SH.NodeShape) if isinstance(s, URIRef)
                and ((s, RDF.type, RDFS.Class) in shapes or (s, RDF.type, OWL.Class) in shapes)}
    anything = ReadSet(None, frozenset(classes))
    if any(o == Literal(True) for o in shapes.objects(None, SH.closed)) \
            or any(True for _ in shapes.triples((None, SH.target, None))):
        return anything
    predicates: set[URIRef] = {RDFS.subClassOf}
    for path in shapes.objects(None, SH.path):
        predicates.update(_path_iris(shapes, path))
    for key in (SH.targetSubjectsOf, SH.targetObjectsOf, SH.equals, SH.disjoint, SH.lessThan,
                SH.lessThanOrEquals):
        predicates.update(o for o in shapes.objects(None, key) if isinstance(o, URIRef))
    for key in (SH.select, SH.ask):
        for constraint, text in shapes.subject_objects(key):
            found = _sparql_predicates(shapes, constraint, str(text))
            if found is None:
                return anything
            predicates |= found
    return ReadSet(frozenset(_nt(p) for p in predicates), frozenset(classes))


_TYPE, _SUBCLASS = _nt(RDF.type), _nt(RDFS.subClassOf)


# The base graph every validated graph is staged over: one triple no shape targets or reads.
_BASE = "<urn:alkld:rudof-base> <urn:alkld:rudof-base> <urn:alkld:rudof-base> .\n"


class RudofValidator:
    """Validate N-Triples graphs with pyrudof against one shapes file (one per process)."""

    def __init__(self, shapes: Path) -> None:
        import pyrudof

        self._pyrudof = pyrudof
        self.shapes = load_shapes(shapes)
        self._rudof = pyrudof.Rudof(pyrudof.RudofConfig())
        self._rudof.read_shacl(_named_shapes(self.shapes).serialize(format="turtle"),
                               format=pyrudof.ShaclFormat.Turtle)
        self._rudof.read_data(_BASE, format=pyrudof.RDFFormat.NTriples)
        #: what the shapes can read (:meth:`readable`)
        self.reads = read_set(self.shapes)

    def readable(self, ntriples: bytes) -> bytes:
        """The lines of ``ntriples`` (pyoxigraph's N-Triples) the shapes can read, once each.

        A line is kept if its predicate is one the shapes read, or it is an ``rdf:type``
        triple of a class a shape targets or requires, or of a subclass of one by the
        ``rdfs:subClassOf`` triples of ``ntriples`` itself. Validating the result gives the
        same results as validating ``ntriples`` (``tests/test_fast_validation.py``).
        """
        predicates = self.reads.predicates
        if predicates is None:
            return ntriples
        reads_types = _TYPE in predicates
        keep: dict[bytes, None] = {}
        typed: list[tuple[bytes, bytes]] = []
        supers: dict[bytes, list[bytes]] = {}
        for line in ntriples.split(b"\n"):
            parts = line.split(b" ", 2)
            if len(parts) < 3:
                continue  # the empty string after the last newline (no other line is short)
            p = parts[1]
            if p == _TYPE and not reads_types:
                typed.append((line, parts[2][:-2]))
            elif p in predicates:
                keep[line] = None
                if p == _SUBCLASS:
                    supers.setdefault(parts[2][:-2], []).append(parts[0])
        relevant = set(self.reads.classes)
        todo = [c for c in relevant if c in supers]
        while todo:  # the classes below a targeted or required one
            for sub in supers.get(todo.pop(), ()):
                if sub not in relevant:
                    relevant.add(sub)
                    todo.append(sub)
        for line, cls in typed:
            if cls in relevant or not cls.startswith(b"<"):
                keep[line] = None
        return b"\n".join(keep) + b"\n" if keep else b""

    def validate(self, ntriples: str, *, graph: str) -> list[ValidationResult]:
        """The results of one explicit graph given as N-Triples; sorted, deduplicated.

        The graph is read into a staging frame over a one-triple base graph and rolled back
        afterwards: replacing rudof's data (``reset_data`` or ``merge=False``) costs ~70 ms
        a call whatever the data's size, a staged read ~0.5 ms for a case.
        """
        rudof = self._rudof
        rudof.begin_staging()
        try:
            rudof.read_data(ntriples, format=self._pyrudof.RDFFormat.NTriples,
                            reader_mode=self._pyrudof.ReaderMode.Strict, merge=True)
            entries = list(rudof.validate_shacl())
        finally:
            rudof.rollback_staging()
        out = set()
        for entry in entries:
            message = entry.message or "constraint not satisfied"
            if len(message) > 1 and message[0] == '"' and message[-1] == '"':
                message = message[1:-1]
            out.add(ValidationResult(
                graph=graph, focus=str(entry.focus_node), path=_path(entry.path),
                message=message, severity=str(entry.severity), shape=str(entry.source_shape),
                value=None if entry.value is None else str(entry.value)))
        return sorted(out)
