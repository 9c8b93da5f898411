"""KGX TSV export: the cases as a Biolink Model 4 knowledge graph (``nodes.tsv``, ``edges.tsv``).

Implements the KGX TSV format (https://github.com/biolink/kgx/blob/master/specification/
kgx-format.md): one row per node and per edge, multivalued fields joined with ``|``, with
the categories, predicates and enumerations of Biolink Model 4.4 (checked against the
``biolink-model`` package in ``tests/test_interop.py``). Built from the typed records and the
mapping tables, never from the RDF.

Edges, all with ``knowledge_level`` ``observation`` (a fact observed in one patient and
reported by its publication), ``agent_type`` ``manual_agent`` (curated by hand),
``primary_knowledge_source`` ``infores:alkld`` and the publication in ``publications``:

=========================  ==========================================  ======================
subject                    predicate                                   object
=========================  ==========================================  ======================
``biolink:Case``           ``biolink:has_phenotype`` (``negated``       ``PhenotypicFeature``
                           for an absent finding)
``biolink:Case``           ``biolink:related_to_at_instance_level``     ``Disease``, ``Gene``
``biolink:Gene`` (5′)      ``biolink:gene_fusion_with``                 ``Gene`` (3′, ALK)
``ChemicalEntity``         ``biolink:applied_to_treat``                 ``Disease``
``ChemicalEntity``         ``biolink:has_adverse_event``                ``PhenotypicFeature``
``biolink:Publication``    ``biolink:mentions``                         ``Case``
=========================  ==========================================  ======================

Biolink 4 has no case-to-disease or case-to-gene predicate (``has_gene`` is a node property,
not a predicate), so those edges use ``related_to_at_instance_level``; their association
classes (``CaseToDiseaseAssociation``, ``CaseToGeneAssociation``) restrict no predicate.
Identifiers use Biolink's prefixes (``PUBCHEM.COMPOUND``, ``PMID``, ``doi``). A publication
node is its PMID, else ``alkld.pub:<document key>`` with the DOI as ``xref`` (KGX refuses a
``/`` in a CURIE's local part, so a DOI cannot be a node id; it stays in ``publications``).
alkld's own nodes use ``alkld.case:``, ``alkld.pub:`` and, for local concepts, ``alkld:``,
which expand under the release's base IRI (``<base>case/``, ``<base>pub/``) and the alkld
ontology (:func:`prefixes`). Biolink's prefix map does not know them: a KGX consumer adds
them to its JSON-LD context, as ``tests/test_interop.py`` does when it runs kgx's validator.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from alkld.errors import AlkldError
from alkld.interop.phenopackets import _write_atomic, locate
from alkld.mapping.tables import TermMapper
from alkld.records.loader import LoadedRecord
from alkld.records.model import Case, CaseRecord, DiagnosisStatus, FusionStatus
from alkld.vocab import ALKLD, DEFAULT_BASE

__all__ = [
    "EDGE_COLUMNS",
    "INFORES",
    "NODE_COLUMNS",
    "Edge",
    "KnowledgeGraph",
    "Node",
    "prefixes",
    "to_kgx",
    "write_kgx",
]

log = logging.getLogger(__name__)

#: The knowledge source of every edge (an Information Resource Registry identifier).
INFORES = "infores:alkld"
NODE_COLUMNS = ("id", "category", "name", "description", "xref", "iri", "provided_by")
EDGE_COLUMNS = ("id", "subject", "predicate", "object", "negated", "knowledge_level",
                "agent_type", "primary_knowledge_source", "publications", "description")


def prefixes(base: str = DEFAULT_BASE) -> dict[str, str]:
    """The CURIE prefixes of alkld's own nodes in the export, and the IRIs they expand to.

    None is in Biolink's prefix map; a consumer adds them to its JSON-LD context.

    >>> prefixes()["alkld.case"]
    'https://w3id.org/alkld/case/'
    """
    return {"alkld": str(ALKLD), "alkld.case": f"{base}case/", "alkld.pub": f"{base}pub/"}


#: alkld CURIE prefix → the Biolink Model's spelling of the same prefix.
_BIOLINK_PREFIX = {"pubchem.compound": "PUBCHEM.COMPOUND"}

#: Slot category of the records → Biolink category of the node.
CATEGORY = {
    "disease": "biolink:Disease",
    "phenotype": "biolink:PhenotypicFeature",
    "gene": "biolink:Gene",
    "chemical": "biolink:ChemicalEntity",
}


@dataclass
class Node:
    """A KGX node: a CURIE with its Biolink categories and name."""

    id: str
    category: set[str]
    name: str
    description: str = ""
    xref: set[str] = field(default_factory=set)
    iri: str = ""

    def row(self) -> dict[str, str]:
        return {"id": self.id, "category": "|".join(sorted(self.category)), "name": self.name,
                "description": self.description, "xref": "|".join(sorted(self.xref)),
                "iri": self.iri, "provided_by": INFORES}


@dataclass(frozen=True)
class Edge:
    """A KGX edge: an observation in one case, reported by ``publications``."""

    subject: str
    predicate: str
    object: str
    publications: tuple[str, ...]
    context: str
    negated: bool = False
    knowledge_level: str = "observation"
    agent_type: str = "manual_agent"
    description: str = ""

    @property
    def id(self) -> str:
        """A stable identifier: a UUID-shaped digest of the edge and the case it comes from."""
        key = "\t".join((self.context, self.subject, self.predicate, self.object,
                         str(self.negated)))
        h = hashlib.sha256(key.encode()).hexdigest()
        return f"urn:uuid:{h[:8]}-{h[8:12]}-5{h[13:16]}-8{h[17:20]}-{h[20:32]}"

    def row(self) -> dict[str, str]:
        return {"id": self.id, "subject": self.subject, "predicate": self.predicate,
                "object": self.object, "negated": "True" if self.negated else "",
                "knowledge_level": self.knowledge_level, "agent_type": self.agent_type,
                "primary_knowledge_source": INFORES,
                "publications": "|".join(self.publications), "description": self.description}


@dataclass
class KnowledgeGraph:
    """Nodes by id and edges, in the order they were added (written sorted)."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def node(self, curie: str, category: str, name: str, *, iri: str = "") -> str:
        existing = self.nodes.get(curie)
        if existing is None:
            self.nodes[curie] = Node(curie, {category}, name, iri=iri)
        else:
            existing.category.add(category)
        return curie


def _biolink_curie(curie: str) -> str:
    prefix, _, local = curie.partition(":")
    return f"{_BIOLINK_PREFIX.get(prefix, prefix)}:{local}"


def _publication_ids(record: CaseRecord) -> tuple[str, ...]:
    pub = record.publication
    ids = [f"PMID:{pub.pmid}"] if pub.pmid else []
    if pub.doi:
        ids.append(f"doi:{pub.doi}")
    return tuple(ids) or (f"alkld.pub:{record.key}",)


class _CaseGraph:
    def __init__(self, kg: KnowledgeGraph, mapper: TermMapper, record: CaseRecord,
                 case: Case, base: str) -> None:
        self.kg, self.mapper, self.record, self.case = kg, mapper, record, case
        self.base = base
        self.pubs = _publication_ids(record)
        self.case_id = kg.node(f"alkld.case:{case.key}", "biolink:Case", case.title,
                               iri=f"{base}case/{case.key}")

    def term(self, label: str, category: str) -> str:
        row = self.mapper.resolve(label, category)
        curie = self.kg.node(_biolink_curie(row.object_id), CATEGORY[category],
                             row.object_label or label)
        for other in self.mapper.candidates(label):
            if other.object_id != row.object_id:
                self.kg.nodes[curie].xref.add(_biolink_curie(other.object_id))
        return curie

    def edge(self, subject: str, predicate: str, obj: str, *, negated: bool = False,
             description: str = "") -> None:
        self.kg.edges.append(Edge(subject, predicate, obj, self.pubs, self.case.key,
                                  negated=negated, description=description))

    def build(self) -> None:
        case = self.case
        pub = self.pubs[0] if self.pubs[0].startswith("PMID:") else f"alkld.pub:{self.record.key}"
        self.kg.node(pub, "biolink:Publication", self.record.publication.title or self.record.key,
                     iri=f"{self.base}pub/{self.record.key}")
        self.kg.nodes[pub].xref.update(p for p in self.pubs if p != pub)
        self.kg.edges.append(Edge(pub, "biolink:mentions", self.case_id, self.pubs, case.key,
                                  knowledge_level="knowledge_assertion"))
        primary = None
        for dx in case.diagnoses:
            if dx.status != DiagnosisStatus.confirmed:
                continue
            disease = self.term(dx.disease, "disease")
            primary = primary or disease
            self.edge(self.case_id, "biolink:related_to_at_instance_level", disease,
                      description=f"diagnosis: {dx.reported_as}")
        features = [*case.phenotypes, *(f for h in case.histology for f in h.features)]
        for ph in features:
            self.edge(self.case_id, "biolink:has_phenotype", self.term(ph.phenotype, "phenotype"),
                      negated=ph.excluded, description=ph.reported_as)
        for study in case.imaging:
            for finding in study.findings:
                if finding.finding:
                    self.edge(self.case_id, "biolink:has_phenotype",
                              self.term(finding.finding, "phenotype"),
                              description=finding.description)
        for fusion in case.fusions:
            three = self.term(fusion.three_prime.gene or "", "gene")
            self.edge(self.case_id, "biolink:related_to_at_instance_level", three,
                      description=f"fusion {fusion.reported_as} ({fusion.status.value})")
            if fusion.five_prime.gene:
                five = self.term(fusion.five_prime.gene, "gene")
                self.edge(self.case_id, "biolink:related_to_at_instance_level", five,
                          description=f"fusion {fusion.reported_as} ({fusion.status.value})")
                if fusion.status == FusionStatus.observed:
                    self.edge(five, "biolink:gene_fusion_with", three,
                              description=f"5' partner of {fusion.reported_as}")
        for course in case.treatments:
            drug = self.term(course.agent, "chemical")
            if primary is not None:
                self.edge(drug, "biolink:applied_to_treat", primary,
                          description=f"given to the patient of {case.key}")
            for ae in case.adverse_events:
                if course.id and course.id in ae.attributed_to:
                    self.edge(drug, "biolink:has_adverse_event", self.term(ae.event, "phenotype"),
                              description=ae.reported_as)
        for ae in case.adverse_events:
            self.edge(self.case_id, "biolink:has_phenotype", self.term(ae.event, "phenotype"),
                      description=f"adverse event: {ae.reported_as}")


def to_kgx(records: Iterable[LoadedRecord], mapper: TermMapper, *,
           base: str = DEFAULT_BASE) -> KnowledgeGraph:
    """The cases of ``records`` as a Biolink knowledge graph (pure: no file is touched).

    Raises :class:`~alkld.errors.MappingError` naming the file, line and field of a label the
    tables cannot resolve.
    """
    kg = KnowledgeGraph()
    for loaded in records:
        for case in loaded.record.cases:
            try:
                _CaseGraph(kg, mapper, loaded.record, case, base).build()
            except AlkldError as e:
                raise locate(e, loaded) from None
    return kg


def _tsv(rows: Iterable[dict[str, str]], columns: tuple[str, ...]) -> str:
    def clean(value: str) -> str:
        return " ".join(value.replace("\t", " ").split())
    lines = ["\t".join(columns)]
    lines += ["\t".join(clean(row[c]) for c in columns) for row in rows]
    return "\n".join(lines) + "\n"


def write_kgx(records: Iterable[LoadedRecord], mapper: TermMapper, out: Path, *,
              created: dt.datetime | None = None, base: str = DEFAULT_BASE) -> list[Path]:
    """Write ``<out>/nodes.tsv`` and ``<out>/edges.tsv``, sorted, each atomically.

    ``created`` is accepted for the exporter registry's common signature; KGX TSV has no
    place for it.
    """
    kg = to_kgx(records, mapper, base=base)
    edges = {e.id: e for e in kg.edges}  # the same observation twice in a case is one edge
    nodes_path, edges_path = out / "nodes.tsv", out / "edges.tsv"
    _write_atomic(nodes_path, _tsv((n.row() for _, n in sorted(kg.nodes.items())), NODE_COLUMNS))
    _write_atomic(edges_path, _tsv((e.row() for _, e in sorted(edges.items())), EDGE_COLUMNS))
    log.info("wrote %d nodes and %d edges to %s", len(kg.nodes), len(edges), out)
    return [nodes_path, edges_path]
