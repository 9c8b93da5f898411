"""The vocabulary graph and the mappings graph of the release.

* vocabulary graph (``<base>graph/vocabulary``): the alkld ontology (TBox), plus the label
  and the ancestors (up to the root) of every external term the release uses, copied from
  ``mappings/vocabulary.ttl`` (an extract of offline ontology releases) so that labels,
  ``sh:class`` checks and "all lymphomas" queries (``rdfs:subClassOf*``) work offline.
* mappings graph (``<base>graph/mappings``): every SSSOM row as a ``skos:*Match`` triple,
  with an ``owl:Axiom`` carrying its justification, confidence and comment (SSSOM's own
  RDF shape), plus ``skos:exactMatch`` links from each canonical IRI to the other forms of
  the same identifier in circulation (PubChem and NCBI Gene).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef

from alkld.errors import ConfigurationError
from alkld.mapping.tables import Mapping, TermMapper
from alkld.rdf.build import Iris, Triple, canonical_forms
from alkld.vocab import CONVERTER, OWL, RDF, RDFS, SEMAPV, SKOS, SSSOM, XSD

__all__ = ["load_turtle", "to_mappings_triples", "to_vocabulary_triples"]

MESHV_BROADER = URIRef("http://id.nlm.nih.gov/mesh/vocab#broaderDescriptor")
_UP = (RDFS.subClassOf, MESHV_BROADER, SKOS.broader)
_SKOS_PREDICATES = {
    "skos:exactMatch": SKOS.exactMatch, "skos:closeMatch": SKOS.closeMatch,
    "skos:broadMatch": SKOS.broadMatch, "skos:narrowMatch": SKOS.narrowMatch,
    "skos:relatedMatch": SKOS.relatedMatch,
}


def load_turtle(path: Path) -> Graph:
    """Parse a Turtle file; a syntax error names the file and the line."""
    graph = Graph()
    try:
        graph.parse(path, format="turtle")
    except FileNotFoundError:
        raise ConfigurationError("file not found", path=path, expected="a Turtle file") from None
    except Exception as e:  # noqa: BLE001 - rdflib raises several parser errors
        raise ConfigurationError(f"unreadable Turtle: {e}", path=path,
                                 expected="valid Turtle 1.1") from None
    return graph


def _no_bnodes(graph: Graph, path: Path) -> None:
    for triple in graph:
        if any(isinstance(t, BNode) for t in triple):
            raise ConfigurationError(
                "blank nodes are not allowed here (dumps must be byte-identical on rebuild)",
                path=path, expected="named nodes only")


def to_vocabulary_triples(used: Iterable[str], *, ontology: Graph,
                          extract: Graph | None, mapper: TermMapper) -> list[Triple]:
    """The TBox, then labels and ancestor closures of the ``used`` external CURIEs."""
    triples: list[Triple] = [t for t in ontology]  # type: ignore[misc]
    seen: set[URIRef] = set()
    todo = [URIRef(CONVERTER.expand_strict(c)) for c in sorted(set(used))
            if not c.startswith("alkld:")]
    while todo:
        iri = todo.pop()
        if iri in seen:
            continue
        seen.add(iri)
        if extract is not None:
            for p, o in extract.predicate_objects(iri):
                triples.append((iri, p, o))  # type: ignore[arg-type]
                if p in _UP and isinstance(o, URIRef):
                    todo.append(o)
        if extract is None or (iri, RDFS.label, None) not in extract:
            curie = CONVERTER.compress(str(iri))
            label = mapper.label_of(curie) if curie else None
            if label:
                triples.append((iri, RDFS.label, Literal(label)))
    return triples


def _axiom(iris: Iris, s: URIRef, p: URIRef, o: URIRef, row: Mapping) -> list[Triple]:
    key = "\t".join((str(s), str(p), str(o)))
    ax = URIRef(f"{iris.base}mapping/{hashlib.sha256(key.encode()).hexdigest()[:16]}")
    out: list[Triple] = [
        (ax, RDF.type, OWL.Axiom),
        (ax, OWL.annotatedSource, s),
        (ax, OWL.annotatedProperty, p),
        (ax, OWL.annotatedTarget, o),
        (ax, SSSOM.mapping_justification,
         URIRef(str(SEMAPV) + row.mapping_justification.split(":", 1)[1])),
    ]
    if row.confidence is not None:
        out.append((ax, SSSOM.confidence, Literal(str(row.confidence), datatype=XSD.double)))
    if row.comment:
        out.append((ax, RDFS.comment, Literal(row.comment)))
    return out


def to_mappings_triples(mapper: TermMapper, *, base: str, used: Iterable[str]) -> list[Triple]:
    """The SSSOM tables as SKOS triples with their justifications, plus alternate IRI forms."""
    iris = Iris(base)
    out: list[Triple] = []
    for row in mapper.terms:
        term = iris.term(row.subject_id)
        obj = URIRef(row.object_iri)
        pred = _SKOS_PREDICATES[row.predicate_id]
        out += [(term, RDF.type, SKOS.Concept), (term, SKOS.prefLabel, Literal(row.subject_label)),
                (term, pred, obj)]
        if row.subject_category:
            out.append((term, SSSOM.subject_category, Literal(row.subject_category)))
        out += _axiom(iris, term, pred, obj, row)
    for row in mapper.xrefs:
        s = URIRef(CONVERTER.expand_strict(row.subject_id))
        o = URIRef(row.object_iri)
        pred = _SKOS_PREDICATES[row.predicate_id]
        out.append((s, pred, o))
        out += _axiom(iris, s, pred, o, row)
    curies = set(used) | {r.object_id for r in mapper.terms} | {r.subject_id for r in mapper.xrefs}
    for curie in sorted(curies):
        if ":" in curie and not curie.startswith("alkld"):
            for canonical, alt in canonical_forms(curie):
                out.append((canonical, SKOS.exactMatch, alt))
    return out
