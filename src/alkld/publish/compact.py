"""JSON-LD 1.1 compaction of sorted named graphs with the published, prefix-only context.

The release's ``context.jsonld`` (:func:`alkld.publish.dumps.context_document`) declares
prefixes only: no ``@vocab``, ``@base``, ``@language``, typed or container terms. For such a
context the JSON-LD 1.1 compaction algorithm (`JSON-LD 1.1 API §6
<https://www.w3.org/TR/json-ld11-api/#compaction-algorithms>`_) applied to what pyoxigraph's
JSON-LD serialiser emits for a sorted graph (the expanded input pyld was given before) comes
down to:

- an IRI becomes the shortest compact IRI ``prefix:suffix`` over the prefixes whose IRI
  starts it (ties to the lexicographically least; `IRI Compaction
  <https://www.w3.org/TR/json-ld11-api/#iri-compaction>`_); a property or datatype IRI equal
  to a term's IRI becomes that term; otherwise the IRI stays absolute;
- ``rdf:type`` stays a property with ``{"@id": …}`` values (the serialiser does not use
  ``@type`` for it); resources are ``{"@id": …}``; an ``xsd:string`` literal is a JSON
  string; a language-tagged one ``{"@language", "@value"}``; any other ``{"@type", "@value"}``;
- a property with one value loses its array; the nodes of a graph stay in an ``@graph``
  array, one node object per subject, subjects and values in the graph's sorted order.

It replaces pyld (~11 ms a graph) for the dumps and for the server's JSON-LD responses, and
gives the same documents: ``tests/test_compact.py`` compares it with pyld's compaction on every
graph of the real release and of a synthetic one, and expands its output with pyld to the same
quads; ``tests/test_describe_jsonld.py`` does the same for every DESCRIBE of the release.
Unsorted triples (a DESCRIBE's) are grouped into node objects as oxigraph's serialiser groups
them: consecutive triples with one subject make one node object, and a predicate already closed
in that node starts a new one. Contexts with anything but prefixes, and data this compactor does
not model (RDF-star terms, ``rdf:JSON`` literals, base directions), raise :class:`Unsupported`:
the caller then uses pyld.

>>> import pyoxigraph as ox
>>> c = GraphCompactor({"ex": "http://example.org/", "@version": 1.1})
>>> s, p = ox.NamedNode("http://example.org/a"), ox.NamedNode("http://example.org/p")
>>> c.graph_object("http://example.org/g", [ox.Triple(s, p, ox.Literal("x"))])
{'@id': 'ex:g', '@graph': [{'@id': 'ex:a', 'ex:p': 'x'}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pyoxigraph as ox

__all__ = ["GraphCompactor", "Unsupported"]

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_RDF_JSON = "http://www.w3.org/1999/02/22-rdf-syntax-ns#JSON"
_GEN_DELIMS = tuple(":/?#[]@")
_MEMO_LIMIT = 100_000
_LINE_MEMO_LIMIT = 20_000


def _authority(iri: str) -> str:
    """``scheme://host/`` of an IRI (or its scheme and colon when it has no authority)."""
    start = iri.find("//")
    if start < 0:
        return iri[: iri.find(":") + 1]
    end = iri.find("/", start + 2)
    return iri if end < 0 else iri[: end + 1]


def _put(node: dict[str, Any], key: str, value: Any) -> None:
    """Add ``value`` under ``key``: a single value stays bare, a second makes a list."""
    have = node.get(key)
    if have is None:
        node[key] = value
    elif isinstance(have, list):
        have.append(value)
    else:
        node[key] = [have, value]


class Unsupported(ValueError):
    """The context or the data is outside what this compactor implements (use pyld)."""


class GraphCompactor:
    """Compacts named graphs with one prefix-only JSON-LD 1.1 context."""

    def __init__(self, context: Mapping[str, Any]) -> None:
        if set(context) == {"@context"}:  # a context document: its ``@context`` entry
            context = context["@context"]
        if not isinstance(context, Mapping):
            raise Unsupported("expected one context object")
        self.context = context
        self.prefixes: list[tuple[str, str]] = []
        self.terms: dict[str, str] = {}
        for name, value in context.items():
            if name == "@version":
                continue
            if not name or name.startswith("@") or ":" in name or "/" in name:
                raise Unsupported(f"context key {name!r}: only prefix definitions are supported")
            if isinstance(value, str):
                iri, prefix = value, value.endswith(_GEN_DELIMS)
            elif isinstance(value, dict) and set(value) <= {"@id", "@prefix"} \
                    and isinstance(value.get("@id"), str):
                iri, prefix = value["@id"], value.get("@prefix") is True
            else:
                raise Unsupported(f"context term {name!r}: only prefix definitions are supported")
            old = self.terms.get(iri)  # term selection: the shortest, then the least
            if old is None or (len(name), name) < (len(old), old):
                self.terms[iri] = name
            if prefix:
                self.prefixes.append((name, iri))
        self._names = {name for name, _ in self.prefixes} | set(self.terms.values())
        self._memo: tuple[dict[str, str], dict[str, str]] = ({}, {})
        self._values: dict[ox.NamedNode, dict[str, str]] = {}
        self._by_authority: dict[str, list[tuple[str, str]]] = {}
        # sorted_graph_object's memos, by N-Triples form: predicate → key, object → value
        self._line_keys: dict[bytes, str] = {}
        self._line_values: dict[bytes, Any] = {}

    def iri(self, iri: str, *, vocab: bool) -> str:
        """The compacted form of ``iri`` (``vocab``: as a property or datatype)."""
        memo = self._memo[vocab]
        found = memo.get(iri)
        if found is not None:
            return found
        if vocab and iri in self.terms:
            out = self.terms[iri]
        else:
            out = iri
            best: str | None = None
            for name, prefix in self._candidates(iri):
                if len(iri) > len(prefix) and iri.startswith(prefix):
                    candidate = f"{name}:{iri[len(prefix):]}"
                    if candidate in self._names:
                        continue
                    if best is None or (len(candidate), candidate) < (len(best), best):
                        best = candidate
            if best is not None:
                out = best
            elif iri.split(":", 1)[0] in self._names and "://" not in iri:
                raise Unsupported(f"{iri!r} would read as a compact IRI")
        if len(memo) > _MEMO_LIMIT:
            memo.clear()
        memo[iri] = out
        return out

    def _candidates(self, iri: str) -> list[tuple[str, str]]:
        """The prefixes that may start ``iri``: those of its scheme and authority."""
        key = _authority(iri)
        found = self._by_authority.get(key)
        if found is None:
            found = self._by_authority[key] = [
                (name, prefix) for name, prefix in self.prefixes
                if prefix.startswith(key) or key.startswith(prefix)]
        return found

    def value(self, term: ox.NamedNode | ox.BlankNode | ox.Literal) -> Any:
        if isinstance(term, ox.NamedNode):
            found = self._values.get(term)
            if found is None:  # shared between nodes: the documents are only serialised
                if len(self._values) > _MEMO_LIMIT:
                    self._values.clear()
                found = self._values[term] = {"@id": self.iri(term.value, vocab=False)}
            return found
        if isinstance(term, ox.BlankNode):
            return {"@id": f"_:{term.value}"}
        if isinstance(term, ox.Literal):
            if term.language:
                if getattr(term, "direction", None):
                    raise Unsupported("literals with a base direction")
                return {"@language": term.language, "@value": term.value}
            datatype = term.datatype.value
            if datatype == _XSD_STRING:
                return term.value
            if datatype == _RDF_JSON:
                raise Unsupported("rdf:JSON literals need a JSON-LD processor")
            return {"@type": self.iri(datatype, vocab=True), "@value": term.value}
        raise Unsupported(f"term {term!r}")

    def node_id(self, term: object) -> str:
        if isinstance(term, ox.NamedNode):
            return self.iri(term.value, vocab=False)
        if isinstance(term, ox.BlankNode):
            return f"_:{term.value}"
        raise Unsupported(f"subject {term!r}")

    def nodes(self, triples: Iterable[ox.Triple]) -> list[dict[str, Any]]:
        """The node objects of ``triples``, grouped as oxigraph's serialiser groups them.

        For triples sorted by (s, p, o) that is one node object per subject.
        """
        nodes: list[dict[str, Any]] = []
        node: dict[str, Any] = {}
        subject: object = None
        predicate: str | None = None
        seen: set[str] = set()
        for t in triples:
            p = t.predicate.value
            if t.subject != subject or (p != predicate and p in seen):
                subject, predicate, seen = t.subject, None, set()
                node = {"@id": self.node_id(subject)}
                nodes.append(node)
            predicate = p
            seen.add(p)
            key = self.iri(p, vocab=True)
            value = self.value(t.object)  # type: ignore[arg-type]
            _put(node, key, value)
        return nodes

    def graph_object(self, graph: str, triples: Iterable[ox.Triple]) -> dict[str, Any]:
        """``{"@id": graph, "@graph": [...]}`` for ``triples`` sorted by (s, p, o)."""
        return {"@id": self.iri(graph, vocab=False), "@graph": self.nodes(triples)}

    def sorted_graph_object(self, graph: str, triples: Sequence[ox.Triple],
                            lines: Sequence[bytes]) -> dict[str, Any]:
        """:meth:`graph_object` for deduplicated triples sorted by their N-Triples ``lines``.

        ``lines[i]`` is pyoxigraph's N-Triples line of ``triples[i]`` (without its newline),
        as the dumps have them. The grouping and the values are :meth:`nodes`'s, but read
        from the lines' bytes: a term is looked up by its N-Triples form and converted from
        the pyoxigraph term only the first time (a fifth of the cost a triple).
        """
        keys, values = self._line_keys, self._line_values
        if len(values) > _LINE_MEMO_LIMIT:  # most objects are a case's own nodes: kept small
            values.clear()
        nodes: list[dict[str, Any]] = []
        node: dict[str, Any] = {}
        subject = b""
        for t, line in zip(triples, lines, strict=True):
            s, p, o = line.split(b" ", 2)  # o keeps the line's final " ."
            if s != subject:
                subject = s
                node = {"@id": self.node_id(t.subject)}
                nodes.append(node)
            key = keys.get(p)
            if key is None:
                key = keys[p] = self.iri(t.predicate.value, vocab=True)
            value = values.get(o)
            if value is None:
                value = self.value(t.object)  # type: ignore[arg-type]
                # not blank nodes (their labels are local to a graph), nor long literals
                # (quotes, labels: seldom repeated)
                if len(o) < 120 and o[:2] != b"_:":
                    values[o] = value
            _put(node, key, value)
        return {"@id": self.iri(graph, vocab=False), "@graph": nodes}

    def document(self, triples: Iterable[ox.Triple]) -> dict[str, Any]:
        """The compacted document: ``@context``, then one node merged in or an ``@graph``."""
        nodes = self.nodes(triples)
        doc: dict[str, Any] = {"@context": self.context}
        if len(nodes) == 1:
            doc.update(nodes[0])
        elif nodes:
            doc["@graph"] = nodes
        return doc
