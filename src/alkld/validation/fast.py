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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rdflib import BNode, Graph, URIRef

from alkld.validation.shacl import ValidationResult, load_shapes, shape_names

__all__ = ["RudofValidator"]


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
