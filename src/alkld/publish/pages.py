"""Pages for people: the data behind the index, case, term and resource pages.

Everything here reads the release's store and returns plain Python structures; the
templates in ``templates/`` render them with autoescaping on, so a literal holding
``<script>`` shows as text. Each page also gets schema.org JSON-LD (:func:`schema_org`).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

__all__ = ["CaseView", "Labels", "external_page", "schema_org_json"]

ALKLD = "https://w3id.org/alkld/ontology#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
SKOS_PREF = "http://www.w3.org/2004/02/skos/core#prefLabel"
OA = "http://www.w3.org/ns/oa#"

#: External identifier spaces: IRI prefix → (source name, page URL template).
SOURCES: list[tuple[str, str, str]] = [
    ("http://purl.obolibrary.org/obo/MONDO_", "MONDO", "http://purl.obolibrary.org/obo/MONDO_{}"),
    ("http://purl.obolibrary.org/obo/UBERON_", "UBERON",
     "http://purl.obolibrary.org/obo/UBERON_{}"),
    ("http://purl.obolibrary.org/obo/HP_", "HP", "http://purl.obolibrary.org/obo/HP_{}"),
    ("http://purl.obolibrary.org/obo/NCIT_", "NCIT", "http://purl.obolibrary.org/obo/NCIT_{}"),
    ("http://purl.obolibrary.org/obo/UO_", "UO", "http://purl.obolibrary.org/obo/UO_{}"),
    ("http://purl.obolibrary.org/obo/PATO_", "PATO", "http://purl.obolibrary.org/obo/PATO_{}"),
    ("http://purl.obolibrary.org/obo/NCBITaxon_", "NCBITaxon",
     "http://purl.obolibrary.org/obo/NCBITaxon_{}"),
    ("http://purl.obolibrary.org/obo/", "OBO", "http://purl.obolibrary.org/obo/{}"),
    ("http://id.nlm.nih.gov/mesh/", "MeSH", "https://meshb.nlm.nih.gov/record/ui?ui={}"),
    ("http://identifiers.org/ncbigene/", "NCBI Gene", "https://www.ncbi.nlm.nih.gov/gene/{}"),
    ("http://rdf.ncbi.nlm.nih.gov/pubchem/compound/CID", "PubChem",
     "https://pubchem.ncbi.nlm.nih.gov/compound/{}"),
    ("http://identifiers.org/hgnc/", "HGNC",
     "https://www.genenames.org/data/gene-symbol-report/#!/hgnc_id/HGNC:{}"),
    ("http://identifiers.org/refseq/", "RefSeq", "https://www.ncbi.nlm.nih.gov/nuccore/{}"),
    ("https://doi.org/", "DOI", "https://doi.org/{}"),
]


def external_page(iri: str) -> tuple[str, str, str] | None:
    """(source, local id, page URL) for an external identifier IRI, else ``None``.

    >>> external_page("http://rdf.ncbi.nlm.nih.gov/pubchem/compound/CID49806720")
    ('PubChem', '49806720', 'https://pubchem.ncbi.nlm.nih.gov/compound/49806720')
    >>> external_page("https://w3id.org/alkld/case/x") is None
    True
    """
    for prefix, name, template in SOURCES:
        if iri.startswith(prefix):
            local = iri[len(prefix):]
            return name, local, template.format(local)
    return None


def _local(iri: str) -> str:
    return re.split(r"[#/]", iri)[-1]


class Labels:
    """Labels of every term the vocabulary graph names (ontology and external terms)."""

    def __init__(self, store: ox.Store, base: str) -> None:
        self.base = base
        self._labels: dict[str, str] = {}
        graph = ox.NamedNode(base + "graph/vocabulary")
        for pred in (RDFS_LABEL, SKOS_PREF):  # prefLabel wins
            for quad in store.quads_for_pattern(None, ox.NamedNode(pred), None, graph):
                if isinstance(quad.subject, ox.NamedNode) \
                        and not isinstance(quad.object, ox.Triple):
                    self._labels[quad.subject.value] = quad.object.value

    def __call__(self, iri: str) -> str:
        return self._labels.get(iri) or _local(iri)

    def has(self, iri: str) -> bool:
        return iri in self._labels


@dataclass
class Value:
    """One rendered value: a literal, a link to a local page, or an external identifier."""

    text: str
    href: str | None = None
    source: str | None = None
    ident: str | None = None
    datatype: str | None = None
    nested: Node | None = None


@dataclass
class Node:
    """A fact or part of a fact: its types, properties and evidence quotes."""

    iri: str
    types: list[str] = field(default_factory=list)
    props: list[tuple[str, list[Value]]] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)


@dataclass
class Section:
    """A relation of the case (e.g. "has treatment") and the facts it points to."""

    title: str
    predicate: str
    nodes: list[Node]


_SKIP = {RDF_TYPE, ALKLD + "evidence"}
_PLUMBING = ("-ev", "-ev-src", "-ev-sel")


class CaseView:
    """A case graph, indexed for rendering."""

    def __init__(self, store: ox.Store, graph: str, labels: Labels, local_href: Any) -> None:
        self.graph = graph
        self.labels = labels
        self.href = local_href
        self.index: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        for quad in store.quads_for_pattern(None, None, None, ox.NamedNode(graph)):
            self.index[_key(quad.subject)].append((quad.predicate.value, quad.object))
        self.case_iri = next((s for s, po in self.index.items()
                              if (RDF_TYPE, ox.NamedNode(ALKLD + "Case")) in po), None)

    def first(self, subject: str, predicate: str) -> Any:
        return next((o for p, o in self.index.get(subject, []) if p == predicate), None)

    def all(self, subject: str, predicate: str) -> list[Any]:
        return [o for p, o in self.index.get(subject, []) if p == predicate]

    def label_of(self, term: Any) -> str:
        if isinstance(term, ox.Literal):
            return term.value
        iri = _key(term)
        for pred in (ALKLD + "reportedLabel", RDFS_LABEL, ALKLD + "fusionName",
                     "http://purl.org/dc/terms/title"):
            found = self.first(iri, pred)
            if found is not None:
                return str(found.value)
        return self.labels(iri)

    def quotes(self, iri: str) -> list[str]:
        out = []
        for ev in self.all(iri, ALKLD + "evidence"):
            target = self.first(_key(ev), OA + "hasTarget")
            selector = target and self.first(_key(target), OA + "hasSelector")
            exact = selector and self.first(_key(selector), OA + "exact")
            if exact is not None:
                out.append(exact.value)
        return out

    def value(self, term: Any, depth: int, seen: frozenset[str]) -> Value:
        if isinstance(term, ox.Literal):
            dt = term.datatype.value.rsplit("#", 1)[-1] if term.datatype else None
            return Value(term.value, datatype=None if dt in ("string", "langString") else dt)
        iri = _key(term)
        ext = external_page(iri)
        if ext is not None:
            return Value(self.labels(iri), href=ext[2], source=ext[0], ident=ext[1])
        if iri in self.index and iri not in seen and depth < 4 and iri != self.case_iri:
            node = self.node(iri, depth + 1, seen | {iri})
            return Value(self.label_of(term), href=self.href(iri), nested=node)
        return Value(self.label_of(term), href=self.href(iri))

    def node(self, iri: str, depth: int = 0, seen: frozenset[str] = frozenset()) -> Node:
        node = Node(iri, [self.labels(o.value) for p, o in self.index.get(iri, [])
                          if p == RDF_TYPE])
        grouped: dict[str, list[Value]] = defaultdict(list)
        for pred, obj in self.index.get(iri, []):
            if pred in _SKIP:
                continue
            grouped[pred].append(self.value(obj, depth, seen | {iri}))
        node.props = [(self.labels(p), vals) for p, vals in sorted(grouped.items())]
        node.quotes = self.quotes(iri)
        return node

    def sections(self) -> list[Section]:
        if self.case_iri is None:
            return []
        grouped: dict[str, list[Node]] = defaultdict(list)
        for pred, obj in self.index[self.case_iri]:
            if pred in _SKIP or isinstance(obj, ox.Literal) or _key(obj) not in self.index:
                continue
            grouped[pred].append(self.node(_key(obj), 0, frozenset({self.case_iri})))
        return [Section(self.labels(p), p, sorted(nodes, key=lambda n: n.iri))
                for p, nodes in sorted(grouped.items())]

    # --- dedicated views ---------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        case = self.case_iri or ""
        patient = self.first(case, ALKLD + "subject")
        age = patient and self.first(_key(patient), ALKLD + "ageAtPresentation")
        sex = patient and self.first(_key(patient), ALKLD + "sex")
        diseases = [self.labels(_key(d)) for dx in self.all(case, ALKLD + "hasDiagnosis")
                    for d in self.all(_key(dx), ALKLD + "disease")]
        fusions = [self.label_of(f) for f in self.all(case, ALKLD + "hasFusion")]
        fusions = [str(self.first(_key(f), ALKLD + "fusionName").value)
                   if self.first(_key(f), ALKLD + "fusionName") else self.label_of(f)
                   for f in self.all(case, ALKLD + "hasFusion")] or fusions
        drugs = sorted({self.labels(_key(a)) for t in self.all(case, ALKLD + "hasTreatment")
                        for a in self.all(_key(t), ALKLD + "agent")})
        outcome = self.first(case, ALKLD + "hasOutcome")
        status = []
        if outcome is not None:
            for pred in ("outcomeStatus", "vitalStatus"):
                value = self.first(_key(outcome), ALKLD + pred)
                if value is not None:
                    status.append(self.labels(_key(value)))
        pub = self.first(case, ALKLD + "reportedIn")
        return {
            "iri": case, "title": self.label_of(ox.NamedNode(case)) if case else "",
            "age": age.value if age is not None else None,
            "sex": self.labels(sex.value) if sex is not None else None,
            "diseases": diseases, "fusions": fusions, "drugs": drugs,
            "outcome": ", ".join(status), "publication": _key(pub) if pub else None,
        }

    def fusion_diagrams(self) -> list[dict[str, Any]]:
        out = []
        for fusion in self.all(self.case_iri or "", ALKLD + "hasFusion"):
            parts = []
            for role in ("fivePrimePartner", "threePrimePartner"):
                partner = self.first(_key(fusion), ALKLD + role)
                if partner is None:
                    continue
                p = _key(partner)
                gene = self.first(p, ALKLD + "gene")
                exons: list[Any] = [None, None]
                retained = self.first(p, ALKLD + "retainedExons")
                if retained is not None and not isinstance(retained, ox.Literal):
                    for i, pred in enumerate(("firstExon", "lastExon")):
                        v = self.first(_key(retained), ALKLD + pred)
                        exons[i] = v.value if v is not None else None
                transcript = self.first(p, ALKLD + "transcript")
                page = external_page(_key(gene)) if gene is not None else None
                parts.append({
                    "role": "5′" if role.startswith("five") else "3′",
                    "gene": self.labels(_key(gene)) if gene is not None else "?",
                    "href": page[2] if page else None,
                    "first": exons[0], "last": exons[1],
                    "transcript": transcript.value if transcript is not None else None,
                })
            name = self.first(_key(fusion), ALKLD + "fusionName")
            out.append({"name": name.value if name else self.label_of(fusion), "parts": parts})
        return out

    def ihc(self) -> list[dict[str, Any]]:
        rows = []
        for finding in self.all(self.case_iri or "", ALKLD + "hasIHCFinding"):
            f = _key(finding)
            target = self.first(f, ALKLD + "target")
            result = self.first(f, ALKLD + "ihcResult")
            clone = self.first(f, ALKLD + "antibodyClone")
            pattern = self.first(f, ALKLD + "stainingPattern")
            rows.append({
                "marker": self.label_of(finding),
                "target": self.value(target, 9, frozenset()) if target is not None else None,
                "result": self.labels(_key(result)) if result is not None else "",
                "clone": clone.value if clone is not None else "",
                "pattern": pattern.value if pattern is not None else "",
                "quotes": self.quotes(f),
            })
        return sorted(rows, key=lambda r: (r["result"], r["marker"].lower()))

    def timeline(self) -> list[dict[str, Any]]:
        rows = []
        dated = ("date", "startDate", "endDate")
        for subject, po in self.index.items():
            for pred, obj in po:
                if pred.startswith(ALKLD) and pred[len(ALKLD):] in dated:
                    rows.append({"date": obj.value, "what": self.label_of(ox.NamedNode(subject)),
                                 "kind": pred[len(ALKLD):],
                                 "types": [self.labels(o.value) for p, o in po if p == RDF_TYPE],
                                 "href": self.href(subject)})
        return sorted(rows, key=lambda r: (r["date"], r["what"]))


def _key(term: Any) -> str:
    return term.value if isinstance(term, ox.NamedNode) else f"_:{term.value}"


def schema_org_json(doc: dict[str, Any]) -> str:
    """A schema.org JSON-LD block, safe to embed in ``<script type="application/ld+json">``.

    >>> schema_org_json({"name": "</script><b>"})
    '{"@context": "https://schema.org", "name": "\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e"}'
    """
    body = {"@context": "https://schema.org", **doc}
    text = json.dumps(body, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
