"""Compacted JSON-LD 1.1 from RDF triples for a prefix-only context, without a JSON-LD processor.

Compacting with pyld costs about a millisecond for a twenty-triple description, ten times
the query that found the triples. The published context (:func:`alkld.publish.dumps.
context_document`) only declares prefixes, and for such a context compaction
(`JSON-LD 1.1 API §6 <https://www.w3.org/TR/json-ld11-api/#compaction-algorithms>`_) comes
down to three rules, applied here directly:

- IRIs become compact IRIs ``prefix:suffix`` (`IRI Compaction
  <https://www.w3.org/TR/json-ld11-api/#iri-compaction>`_): the shortest candidate, ties to
  the lexicographically least; a property or datatype IRI equal to a term becomes the term;
- a ``xsd:string`` literal becomes a JSON string; other literals keep ``@value`` with
  ``@type`` (compacted) or ``@language``; a resource object stays ``{"@id": …}``;
- a property with one value loses its array; one node object is merged into the top level,
  several go into ``@graph``.

Node objects are grouped as oxigraph's JSON-LD serialiser groups them (the expanded input pyld
used to compact): consecutive triples with one subject make one node object, and a predicate
already closed in that node starts a new one. ``tests/test_jsonld_fast.py`` checks that the
result equals pyld's on every description and case graph of a release.

Contexts with anything but prefixes (``@vocab``, ``@base``, ``@language``, typed or container
terms) and triples this writer does not model (RDF-star terms, ``rdf:JSON`` literals, base
directions) raise :class:`Unsupported`; :func:`alkld.publish.sparql.compact_jsonld` then uses
pyld.

>>> w = PrefixCompactor({"ex": "http://example.org/", "@version": 1.1})
>>> import pyoxigraph as ox
>>> a, p = ox.NamedNode("http://example.org/a"), ox.NamedNode("http://example.org/p")
>>> w.document([ox.Triple(a, p, ox.Literal("x"))]) == {
...     "@context": {"ex": "http://example.org/", "@version": 1.1}, "@id": "ex:a", "ex:p": "x"}
True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyoxigraph as ox

__all__ = ["PrefixCompactor", "Unsupported"]

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_RDF_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"
_GEN_DELIMS = ":/?#[]@"
_MEMO_LIMIT = 200_000


class Unsupported(ValueError):
    """The context or the data needs a full JSON-LD processor (use pyld)."""


def _authority(iri: str) -> str:
    """``scheme://host`` of an IRI (the bucket its candidate prefixes are kept in)."""
    start = iri.find("//")
    if start < 0:
        return iri.split(":", 1)[0]
    end = iri.find("/", start + 2)
    return iri if end < 0 else iri[:end]


class PrefixCompactor:
    """Compacts triples with one prefix-only JSON-LD context (reusable, memo bounded)."""

    def __init__(self, context: dict[str, Any]) -> None:
        if set(context) == {"@context"}:  # a context document: its ``@context`` entry
            context = context["@context"]
        if not isinstance(context, dict):
            raise Unsupported("expected one context object")
        self.context = context
        self._terms: dict[str, str] = {}
        exact: dict[str, str] = {}
        self._buckets: dict[str, list[tuple[str, str]]] = {}
        for term, value in context.items():
            if term == "@version":
                continue
            if term.startswith("@") or ":" in term or "/" in term or not term:
                raise Unsupported(f"context entry {term!r}: only prefixes are supported")
            if isinstance(value, str):
                iri, prefix = value, value[-1:] in _GEN_DELIMS
            elif isinstance(value, dict) and set(value) <= {"@id", "@prefix"} \
                    and isinstance(value.get("@id"), str):
                iri, prefix = value["@id"], value.get("@prefix") is True
            else:
                raise Unsupported(f"context entry {term!r}: only prefixes are supported")
            self._terms[term] = iri
            old = exact.get(iri)
            if old is None or (len(term), term) < (len(old), old):
                exact[iri] = term
            if prefix:
                self._buckets.setdefault(_authority(iri), []).append((iri, term))
        self._exact = exact
        self._memo: tuple[dict[str, str], dict[str, str]] = ({}, {})

    def iri(self, iri: str, *, vocab: bool) -> str:
        """The compact form of ``iri`` (``vocab``: as a property or type, else as an ``@id``)."""
        memo = self._memo[vocab]
        found = memo.get(iri)
        if found is not None:
            return found
        if vocab and iri in self._exact:
            found = self._exact[iri]
        else:
            found = None
            for prefix_iri, term in self._buckets.get(_authority(iri), ()):
                if len(iri) > len(prefix_iri) and iri.startswith(prefix_iri):
                    candidate = term + ":" + iri[len(prefix_iri):]
                    if candidate in self._terms:
                        continue
                    if found is None or (len(candidate), candidate) < (len(found), found):
                        found = candidate
            if found is None:
                scheme, colon, rest = iri.partition(":")
                if colon and scheme in self._terms and not rest.startswith("//"):
                    raise Unsupported(f"<{iri}> could be confused with a compact IRI")
                found = iri
        if len(memo) > _MEMO_LIMIT:
            memo.clear()
        memo[iri] = found
        return found

    def _id(self, term: Any) -> str:
        if isinstance(term, ox.NamedNode):
            return self.iri(term.value, vocab=False)
        if isinstance(term, ox.BlankNode):
            return "_:" + term.value
        raise Unsupported(f"{term}: RDF-star terms need a JSON-LD processor")

    def _object(self, term: Any) -> Any:
        if isinstance(term, ox.Literal):
            if getattr(term, "direction", None):
                raise Unsupported("literals with a base direction need a JSON-LD processor")
            if term.language:
                return {"@language": term.language, "@value": term.value}
            datatype = term.datatype.value
            if datatype == _XSD_STRING:
                return term.value
            if datatype == _RDF_JSON:
                raise Unsupported("rdf:JSON literals need a JSON-LD processor")
            return {"@type": self.iri(datatype, vocab=True), "@value": term.value}
        return {"@id": self._id(term)}

    def nodes(self, triples: Iterable[ox.Triple]) -> list[dict[str, Any]]:
        """The compacted node objects of ``triples``, grouped as oxigraph groups them."""
        nodes: list[dict[str, Any]] = []
        subject: Any = None
        node: dict[str, Any] = {}
        predicate: str | None = None
        values: list[Any] = []
        seen: set[str] = set()
        for triple in triples:
            s, p = triple.subject, triple.predicate.value
            if s != subject or (p != predicate and p in seen):
                subject, predicate, seen = s, None, set()
                node = {"@id": self._id(s)}
                nodes.append(node)
            if p != predicate:
                predicate = p
                seen.add(p)
                values = node.setdefault(self.iri(p, vocab=True), [])
            values.append(self._object(triple.object))
        for node in nodes:
            for key, value in node.items():
                if key != "@id" and len(value) == 1:
                    node[key] = value[0]
        return nodes

    def document(self, triples: Iterable[ox.Triple]) -> dict[str, Any]:
        """The compacted document: ``@context``, then one node merged in or an ``@graph``."""
        nodes = self.nodes(triples)
        doc: dict[str, Any] = {"@context": self.context}
        if len(nodes) == 1:
            doc.update(nodes[0])
        elif nodes:
            doc["@graph"] = nodes
        return doc
