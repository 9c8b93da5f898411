"""GA4GH Phenopacket Schema v2 export and import.

Implements the JSON form of the GA4GH Phenopacket Schema v2.0
(https://phenopacket-schema.readthedocs.io/en/2.0.0/), as parsed by the PyPI ``phenopackets``
package (``google.protobuf.json_format``). Both directions work on the typed records of
:mod:`alkld.records.model`, never on the RDF release:

* :func:`to_phenopacket` turns one :class:`~alkld.records.model.Case` into one Phenopacket
  (a ``dict`` ready for ``json.dumps``), resolving every curated label to an identifier with
  the mapping tables (:class:`~alkld.mapping.tables.TermMapper`);
  :func:`write_phenopackets` writes one file per case, atomically.
* :func:`from_phenopacket` turns a Phenopacket into the data of a case record (version 1,
  ``docs/record-format.md``); :func:`import_phenopackets` converts a directory, writes one
  YAML record per file that converts, and reports by name and reason the ones that do not.

What each direction cannot carry is listed field by field in ``docs/interop.md``; an import
never drops a clinical fact silently: every element without a place in the record format is
counted in :attr:`ImportReport.dropped` and named in the record's ``note``.

Identifiers written by the exporter that are not curated terms of the mapping tables, each
checked against a public source before being written here:

* ``SO:0001565`` gene_fusion, ``SO:0001880`` feature_amplification, ``SO:0000159`` deletion
  (Sequence Ontology);
* ``ECO:0006017`` author statement from published clinical study used in manual assertion
  (Evidence and Conclusion Ontology), the evidence code of every quoted fact.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from alkld import __version__
from alkld.errors import AlkldError, CaseRecordError
from alkld.mapping.tables import TermMapper
from alkld.records.loader import LoadedRecord, format_loc, parse_record
from alkld.records.model import (
    Case,
    CaseRecord,
    DiagnosisStatus,
    DoseInterval,
    Fusion,
    FusionStatus,
    IHCResult,
    Node,
    Quantity,
    ReferenceRange,
    Timed,
    TreatmentCourse,
)
from alkld.vocab import DEFAULT_BASE, PREFIX_MAP, UNITS

__all__ = [
    "ECO_AUTHOR_STATEMENT",
    "RESOURCES",
    "SCHEMA_VERSION",
    "ImportReport",
    "PhenopacketError",
    "check_phenopacket",
    "from_phenopacket",
    "import_phenopackets",
    "locate",
    "read_phenopacket",
    "to_phenopacket",
    "to_phenopackets",
    "write_phenopackets",
]

log = logging.getLogger(__name__)

#: The Phenopacket Schema version the exporter writes.
SCHEMA_VERSION = "2.0"

#: The evidence code of a fact quoted from its publication.
ECO_AUTHOR_STATEMENT = {
    "id": "ECO:0006017",
    "label": "author statement from published clinical study used in manual assertion",
}
SO_GENE_FUSION = {"id": "SO:0001565", "label": "gene_fusion"}
SO_ALTERATION = {
    "amplification": {"id": "SO:0001880", "label": "feature_amplification"},
    "deletion": {"id": "SO:0000159", "label": "deletion"},
}

_OBO = "http://purl.obolibrary.org/obo/"


@dataclass(frozen=True)
class Resource:
    """A ``metaData.resources`` entry: an ontology or identifier space used by a Phenopacket.

    ``version`` is the release the curated mappings were checked against where alkld knows it
    (``mappings/vocabulary.ttl`` names MONDO and UBERON releases), else ``"unspecified"``.
    """

    id: str
    name: str
    url: str
    version: str
    namespace_prefix: str
    iri_prefix: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "url": self.url, "version": self.version,
                "namespacePrefix": self.namespace_prefix, "iriPrefix": self.iri_prefix}


def _obo(prefix: str, name: str, version: str = "unspecified") -> Resource:
    return Resource(prefix.lower(), name, f"{_OBO}{prefix.lower()}.owl", version, prefix,
                    f"{_OBO}{prefix}_")


#: CURIE prefix → the resource a Phenopacket declares for it.
RESOURCES: dict[str, Resource] = {
    "MONDO": _obo("MONDO", "Mondo Disease Ontology", "2026-05-05"),
    "HP": _obo("HP", "human phenotype ontology"),
    "NCIT": _obo("NCIT", "NCI Thesaurus OBO Edition"),
    "UBERON": _obo("UBERON", "Uber-anatomy ontology", "2026-04-01"),
    "UO": _obo("UO", "Units of measurement ontology"),
    "OBI": _obo("OBI", "Ontology for Biomedical Investigations"),
    "PATO": _obo("PATO", "Phenotype And Trait Ontology"),
    "SO": _obo("SO", "Sequence types and features ontology"),
    "ECO": _obo("ECO", "Evidence and Conclusion Ontology"),
    "NCBITaxon": _obo("NCBITaxon", "NCBI organismal classification"),
    "MESH": Resource("mesh", "Medical Subject Headings", "https://id.nlm.nih.gov/mesh/",
                     "unspecified", "MESH", PREFIX_MAP["MESH"]),
    "pubchem.compound": Resource("pubchem.compound", "PubChem Compound",
                                 "https://pubchem.ncbi.nlm.nih.gov/", "unspecified",
                                 "pubchem.compound", PREFIX_MAP["pubchem.compound"]),
    "NCBIGene": Resource("ncbigene", "NCBI Gene", "https://www.ncbi.nlm.nih.gov/gene/",
                         "unspecified", "NCBIGene", PREFIX_MAP["NCBIGene"]),
    "HGNC": Resource("hgnc", "HUGO Gene Nomenclature Committee", "https://www.genenames.org",
                     "unspecified", "HGNC", PREFIX_MAP["HGNC"]),
    "UCUM": Resource("ucum", "Unified Code for Units of Measure", "https://ucum.org",
                     "2.1", "UCUM", "https://ucum.org/"),
    "alkld": Resource("alkld", "alkld ontology (local concepts)",
                      "https://w3id.org/alkld/ontology", __version__, "alkld",
                      PREFIX_MAP["alkld"]),
}

_SEX = {"female": "FEMALE", "male": "MALE", "unknown": "UNKNOWN_SEX"}
_VITAL = {"alive": "ALIVE", "deceased": "DECEASED", "unknown status": "UNKNOWN_STATUS"}


class PhenopacketError(AlkldError):
    """A Phenopacket does not parse against the schema, or cannot become a case record."""


# --- export ----------------------------------------------------------------------------------


class _Terms:
    """Resolves labels to ``OntologyClass`` objects and remembers the prefixes used."""

    def __init__(self, mapper: TermMapper) -> None:
        self.mapper = mapper
        self.prefixes: set[str] = set()

    def use(self, curie: str) -> str:
        self.prefixes.add(curie.split(":", 1)[0])
        return curie

    def cls(self, label: str, category: str) -> dict[str, str]:
        row = self.mapper.resolve(label, category)
        return {"id": self.use(row.object_id), "label": row.object_label or label}

    def fixed(self, term: dict[str, str]) -> dict[str, str]:
        self.use(term["id"])
        return dict(term)

    def unit(self, symbol: str) -> dict[str, str]:
        info = UNITS[symbol]
        return {"id": self.use(f"UCUM:{info.ucum}"), "label": info.label}

    def gene(self, label: str) -> dict[str, Any]:
        """A ``GeneDescriptor``: HGNC identifier where curated (the Phenopacket convention)."""
        best = self.mapper.resolve(label, "gene")
        rows = [r for r in self.mapper.candidates(label)
                if r.object_id.split(":", 1)[0] in {"HGNC", "NCBIGene"}]
        hgnc = [r for r in rows if r.object_id.startswith("HGNC:")]
        main = hgnc[0] if hgnc else best
        others = sorted({r.object_id for r in rows} - {main.object_id})
        out: dict[str, Any] = {"valueId": self.use(main.object_id),
                               "symbol": main.object_label or label}
        if others:
            out["alternateIds"] = [self.use(o) for o in others]
        return out


def _number(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


def _timestamp(date: str | None) -> str | None:
    """A full date as a Phenopacket timestamp; partial dates have no exact timestamp."""
    return f"{date}T00:00:00Z" if date and len(date) == 10 else None


def _time(fact: Timed) -> dict[str, Any] | None:
    """The ``TimeElement`` of a fact with a full calendar date (or interval), else None."""
    start, end = _timestamp(fact.start), _timestamp(fact.end)
    if start and end:
        return {"interval": {"start": start, "end": end}}
    stamp = _timestamp(fact.date) or start
    return {"timestamp": stamp} if stamp else None


def _publication_refs(record: CaseRecord, base: str) -> list[dict[str, str]]:
    pub = record.publication
    title = pub.title or record.key
    refs: list[dict[str, str]] = []
    if pub.pmid:
        refs.append({"id": f"PMID:{pub.pmid}",
                     "reference": f"https://pubmed.ncbi.nlm.nih.gov/{pub.pmid}",
                     "description": title})
    if pub.doi:
        refs.append({"id": f"DOI:{pub.doi}", "reference": f"https://doi.org/{pub.doi}",
                     "description": title})
    refs.append({"id": f"{base}pub/{record.key}", "reference": f"{base}pub/{record.key}",
                 "description": title})
    return refs


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for name in type(node).model_fields:
        value = getattr(node, name)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, Node):
                yield from _walk(item)


class _CaseExport:
    """The state of one case's export: terms used, facts by id, the evidence reference."""

    def __init__(self, record: CaseRecord, case: Case, terms: _Terms, base: str) -> None:
        self.record = record
        self.case = case
        self.terms = terms
        self.refs = _publication_refs(record, base)
        self.by_id = {getattr(n, "id", None): n for n in _walk(case) if getattr(n, "id", None)}
        self.subject_id = f"{case.key}-patient"
        confirmed = [d for d in case.diagnoses if d.status == DiagnosisStatus.confirmed]
        self.primary = confirmed[0] if confirmed else None

    def evidence(self, quote: str) -> list[dict[str, Any]]:
        return [{"evidenceCode": self.terms.fixed(ECO_AUTHOR_STATEMENT),
                 "reference": {"id": self.refs[0]["id"], "description": quote}}]

    def quantity(self, q: Quantity, rr: ReferenceRange | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"unit": self.terms.unit(q.unit), "value": _number(q.value)}
        if rr is not None:
            out["referenceRange"] = {"unit": self.terms.unit(rr.unit), "low": _number(rr.low),
                                     "high": _number(rr.high)}
        return out

    # -- sections --

    def subject(self) -> dict[str, Any]:
        patient = self.case.patient
        out: dict[str, Any] = {"id": self.subject_id, "sex": _SEX[patient.sex.value]}
        if self.case.outcome is not None:
            out["vitalStatus"] = {"status": _VITAL[self.case.outcome.vital_status.value]}
        out["taxonomy"] = self.terms.cls(patient.taxon, "organism")
        return out

    def diseases(self) -> list[dict[str, Any]]:
        out = []
        for dx in self.case.diagnoses:
            if dx.status not in (DiagnosisStatus.confirmed, DiagnosisStatus.misdiagnosis):
                continue
            item: dict[str, Any] = {"term": self.terms.cls(dx.disease, "disease")}
            if dx.status == DiagnosisStatus.misdiagnosis:
                item["excluded"] = True
            if dx is self.primary and self.case.patient.age is not None:
                item["onset"] = {"age": {"iso8601duration": self.case.patient.age.iso8601()}}
            elif (when := _time(dx)) is not None:
                item["onset"] = when
            if len(dx.sites) == 1 and dx.metastatic is not True:
                item["primarySite"] = self.terms.cls(dx.sites[0], "anatomy")
            out.append(item)
        return out

    def phenotypic_features(self) -> list[dict[str, Any]]:
        out = []
        for ph in self.case.phenotypes:
            item: dict[str, Any] = {"type": self.terms.cls(ph.phenotype, "phenotype")}
            if ph.reported_as.casefold() != item["type"]["label"].casefold() or ph.modifiers:
                item["description"] = "; ".join([ph.reported_as, *ph.modifiers])
            if ph.excluded:
                item["excluded"] = True
            if (when := _time(ph)) is not None:
                item["onset"] = when
            item["evidence"] = self.evidence(ph.quote)
            out.append(item)
        for ihc in self.case.ihc:
            detail = [f"immunohistochemistry: {ihc.reported_as} {ihc.result.value}"]
            detail += [f"{k} {v}" for k, v in (("clone", ihc.clone), ("vendor", ihc.vendor),
                                                ("pattern", ihc.pattern)) if v]
            item = {"type": self.terms.cls(ihc.target, "marker"), "description": "; ".join(detail)}
            if ihc.result == IHCResult.negative:
                item["excluded"] = True
            item["evidence"] = self.evidence(ihc.quote)
            out.append(item)
        for study in self.case.imaging:
            for finding in study.findings:
                if finding.finding is None:
                    continue
                item = {"type": self.terms.cls(finding.finding, "phenotype"),
                        "description": finding.description}
                if (when := _time(study)) is not None:
                    item["onset"] = when
                item["evidence"] = self.evidence(finding.quote)
                out.append(item)
        return out

    def measurements(self) -> list[dict[str, Any]]:
        out = []
        for m in self.case.measurements:
            item: dict[str, Any] = {"assay": self.terms.cls(m.assay, "assay"),
                                    "value": {"quantity": self.quantity(m.quantity,
                                                                        m.reference_range)}}
            notes = []
            if m.analyte:
                notes.append(f"analyte: {m.analyte}")
            if m.quantity.comparator != "=":
                notes.append(f"value {m.quantity.comparator} {m.quantity.value}")
            if m.interpretation:
                notes.append(f"interpretation: {m.interpretation}")
            if notes:
                item["description"] = "; ".join(notes)
            if (when := _time(m)) is not None:
                item["timeObserved"] = when
            out.append(item)
        return out

    def biosamples(self) -> list[dict[str, Any]]:
        out = []
        for i, histo in enumerate(self.case.histology, start=1):
            item: dict[str, Any] = {"id": f"{self.case.key}-{histo.id or f'biosample-{i}'}",
                                    "individualId": self.subject_id,
                                    "description": histo.description}
            if histo.features:
                item["phenotypicFeatures"] = [
                    {"type": self.terms.cls(f.phenotype, "phenotype"),
                     **({"excluded": True} if f.excluded else {}),
                     "evidence": self.evidence(f.quote)} for f in histo.features]
            item["taxonomy"] = self.terms.cls(self.case.patient.taxon, "organism")
            if (when := _time(histo)) is not None:
                item["timeOfCollection"] = when
            if histo.specimen:
                item["procedure"] = {"code": self.terms.cls(histo.specimen, "procedure")}
            out.append(item)
        return out

    def interpretations(self) -> list[dict[str, Any]]:
        if not self.case.fusions and not self.case.alterations:
            return []
        genomic: list[dict[str, Any]] = []
        for i, fusion in enumerate(self.case.fusions, start=1):
            genomic.extend(self._fusion(fusion, i))
        for i, alt in enumerate(self.case.alterations, start=1):
            desc = f"{alt.gene} {alt.alteration.value}"
            if alt.copy_number is not None:
                desc += f" (copy number {alt.copy_number})"
            genomic.append({
                "subjectOrBiosampleId": self.subject_id,
                "interpretationStatus": "UNKNOWN_STATUS",
                "variantInterpretation": {"variationDescriptor": {
                    "id": f"{self.case.key}-{alt.id or f'alteration-{i}'}",
                    "label": f"{alt.gene} {alt.alteration.value}",
                    "description": desc,
                    "geneContext": self.terms.gene(alt.gene),
                    "structuralType": self.terms.fixed(SO_ALTERATION[alt.alteration.value]),
                    "moleculeContext": "genomic"}}})
        diagnosis: dict[str, Any] = {"genomicInterpretations": genomic}
        if self.primary is not None:
            diagnosis = {"disease": self.terms.cls(self.primary.disease, "disease"), **diagnosis}
        return [{"id": f"{self.case.key}-interpretation", "progressStatus": "UNKNOWN_PROGRESS",
                 "diagnosis": diagnosis}]

    def _fusion(self, fusion: Fusion, i: int) -> list[dict[str, Any]]:
        status = "CONTRIBUTORY" if fusion.status == FusionStatus.observed else "CANDIDATE"
        five, three = fusion.five_prime, fusion.three_prime
        three_gene = self.terms.gene(three.gene or "")
        five_symbol = self.terms.gene(five.gene)["symbol"] if five.gene else "?"
        label = f"{five_symbol}::{three_gene['symbol']}"
        parts = [f"reported as {fusion.reported_as}", f"status {fusion.status.value}"]
        for side, partner in (("5'", five), ("3'", three)):
            bits = [b for b in (partner.gene, partner.transcript,
                                partner.exons and f"exons {partner.exons.first}-"
                                                  f"{partner.exons.last}") if b]
            if bits:
                parts.append(f"{side} partner " + " ".join(str(b) for b in bits))
        out: list[dict[str, Any]] = [{
            "subjectOrBiosampleId": self.subject_id,
            "interpretationStatus": status,
            "variantInterpretation": {"variationDescriptor": {
                "id": f"{self.case.key}-{fusion.id or f'fusion-{i}'}",
                "label": label,
                "description": "; ".join(parts),
                "geneContext": three_gene,
                "structuralType": self.terms.fixed(SO_GENE_FUSION),
                "moleculeContext": "genomic"}}}]
        for partner in (five, three):
            if partner.gene:
                out.append({"subjectOrBiosampleId": self.subject_id,
                            "interpretationStatus": status,
                            "gene": self.terms.gene(partner.gene)})
        return out

    def medical_actions(self) -> list[dict[str, Any]]:
        out = [self._treatment(t) for t in self.case.treatments]
        for proc in self.case.procedures:
            p: dict[str, Any] = {"code": self.terms.cls(proc.procedure, "procedure")}
            if proc.sites:
                p["bodySite"] = self.terms.cls(proc.sites[0], "anatomy")
            if (when := _time(proc)) is not None:
                p["performed"] = when
            out.append({"procedure": p})
        return out

    def _dose(self, dose: DoseInterval, course: TreatmentCourse) -> dict[str, Any]:
        item: dict[str, Any] = {}
        if dose.quantity is not None:
            item["quantity"] = self.quantity(dose.quantity)
        if dose.frequency:
            item["scheduleFrequency"] = self.terms.cls(dose.frequency, "frequency")
        start = _timestamp(dose.start or dose.date)
        end = _timestamp(dose.end)
        if start or end:
            item["interval"] = {k: v for k, v in (("start", start), ("end", end)) if v}
        return item

    def _treatment(self, course: TreatmentCourse) -> dict[str, Any]:
        treatment: dict[str, Any] = {"agent": self.terms.cls(course.agent, "chemical")}
        routes = [d.route for d in course.doses if d.route]
        if routes:
            treatment["routeOfAdministration"] = self.terms.cls(routes[0], "route")
        doses = [self._dose(d, course) for d in course.doses]
        if doses:
            treatment["doseIntervals"] = doses
        action: dict[str, Any] = {"treatment": treatment}
        if self.primary is not None:
            action["treatmentTarget"] = self.terms.cls(self.primary.disease, "disease")
        aes = [ae for ae in self.case.adverse_events if course.id and course.id in ae.attributed_to]
        if aes:
            action["adverseEvents"] = [self.terms.cls(ae.event, "phenotype") for ae in aes]
        for ref in course.stop_reasons:
            reason = self.by_id.get(ref)
            label = getattr(reason, "event", None) or getattr(reason, "phenotype", None)
            if label:
                category = "phenotype" if hasattr(reason, "attributed_to") or hasattr(
                    reason, "phenotype") else "event"
                action["treatmentTerminationReason"] = self.terms.cls(label, category)
                break
        responses = [r for r in self.case.responses if course.id and course.id in r.treatments]
        if responses:
            action["responseToTreatment"] = self.terms.cls(responses[0].category, "response")
        return action


def to_phenopacket(record: CaseRecord, case: Case, mapper: TermMapper, *,
                   created: dt.datetime, base: str = DEFAULT_BASE) -> dict[str, Any]:
    """One case as a Phenopacket v2 (JSON-ready ``dict``); pure, the record is not changed.

    Raises :class:`~alkld.errors.MappingError` for a label the tables cannot resolve.
    """
    ex = _CaseExport(record, case, _Terms(mapper), base)
    packet: dict[str, Any] = {"id": case.key, "subject": ex.subject()}
    sections: list[tuple[str, Callable[[], list[dict[str, Any]]]]] = [
        ("phenotypicFeatures", ex.phenotypic_features), ("measurements", ex.measurements),
        ("biosamples", ex.biosamples), ("interpretations", ex.interpretations),
        ("diseases", ex.diseases), ("medicalActions", ex.medical_actions)]
    for key, build in sections:
        items = build()
        if items:
            packet[key] = items
    prefixes = sorted(ex.terms.prefixes, key=str.casefold)
    unknown = [p for p in prefixes if p not in RESOURCES]
    if unknown:
        raise PhenopacketError(f"no resource declared for prefixes {unknown}",
                               expected=f"one of {', '.join(sorted(RESOURCES))}")
    packet["metaData"] = {
        "created": created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "createdBy": record.curator,
        "resources": [RESOURCES[p].to_json() for p in prefixes],
        "phenopacketSchemaVersion": SCHEMA_VERSION,
        "externalReferences": ex.refs,
    }
    return packet


_Loc = tuple[str | int, ...]


def _values(node: Node, loc: _Loc) -> Iterator[tuple[_Loc, Any]]:
    for name in type(node).model_fields:
        value = getattr(node, name)
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for i, item in items:
            where = (*loc, name) if i is None else (*loc, name, i)
            if isinstance(item, Node):
                yield from _values(item, where)
            else:
                yield where, item


def locate(error: AlkldError, loaded: LoadedRecord) -> AlkldError:
    """Give a :class:`~alkld.errors.MappingError` raised while exporting ``loaded`` its place.

    The file, and the line and field of the first occurrence of the unmapped label.
    """
    error.path = error.path or str(loaded.path)
    term = getattr(error, "term", None)
    if term and error.line is None:
        for i, case in enumerate(loaded.record.cases):
            for loc, value in _values(case, ("cases", i)):
                if value == term:
                    error.field, error.line = format_loc(loc), loaded.line_of(loc)
                    return error
    return error


def to_phenopackets(records: Iterable[LoadedRecord], mapper: TermMapper, *,
                    created: dt.datetime, base: str = DEFAULT_BASE) -> dict[str, dict[str, Any]]:
    """Every case of ``records`` as a Phenopacket, keyed by case key (a review gives none).

    A label without a mapping is a :class:`~alkld.errors.MappingError` naming the file, line
    and field where it is used.
    """
    out: dict[str, dict[str, Any]] = {}
    for loaded in records:
        for case in loaded.record.cases:
            try:
                out[case.key] = to_phenopacket(loaded.record, case, mapper, created=created,
                                               base=base)
            except AlkldError as e:
                raise locate(e, loaded) from None
    return out


def check_phenopacket(data: dict[str, Any], *, path: str | Path | None = None) -> Any:
    """Parse ``data`` with the ``phenopackets`` package; return the message.

    Raises :class:`PhenopacketError` naming the problem when the schema refuses it.
    """
    from google.protobuf import json_format
    from phenopackets import Phenopacket

    try:
        return json_format.ParseDict(data, Phenopacket())
    except json_format.ParseError as e:
        raise PhenopacketError(f"not a Phenopacket v2: {e}", path=path,
                               expected="JSON of the GA4GH Phenopacket Schema v2") from None


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_phenopackets(records: Iterable[LoadedRecord], mapper: TermMapper, out: Path, *,
                       created: dt.datetime, base: str = DEFAULT_BASE) -> list[Path]:
    """Write ``<out>/<case key>.json`` for every case, each checked against the schema first.

    Each file is written to a temporary name and renamed, so a reader never sees half a file.
    """
    packets = to_phenopackets(records, mapper, created=created, base=base)
    written = []
    for key, packet in sorted(packets.items()):
        path = out / f"{key}.json"
        check_phenopacket(packet, path=path)
        _write_atomic(path, json.dumps(packet, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    log.info("wrote %d phenopackets to %s", len(written), out)
    return written


# --- import ----------------------------------------------------------------------------------

_SLUG_BAD = re.compile(r"[^a-z0-9]+")
_AGE = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
_SEX_IN = {"FEMALE": "female", "MALE": "male"}
_VITAL_IN = {"ALIVE": "alive", "DECEASED": "deceased"}
_UNIT_IN: dict[str, str] = {}
for _symbol, _unit in UNITS.items():
    _UNIT_IN.setdefault(f"UCUM:{_unit.ucum}", _symbol)
    if _unit.uo:
        _UNIT_IN.setdefault(_unit.uo, _symbol)


def _slug(text: str) -> str:
    """A record key from any identifier.

    >>> _slug("PMID_9621512_Patient_KM05")
    'pmid-9621512-patient-km05'
    """
    return _SLUG_BAD.sub("-", text.casefold()).strip("-")[:60].rstrip("-")


def _plain(text: str) -> str:
    """Text the record format accepts: no angle brackets, triple quotes or control characters.

    >>> _plain("NM_001918.5:c.1448G>T")
    'NM_001918.5:c.1448G to T'
    """
    text = text.replace("<", " less than ").replace(">", " to ")
    text = text.replace('"""', '"').replace("'''", "'")
    text = re.sub(r"[\x00-\x1f]", " ", text)
    return " ".join(text.split())


def _decimal(value: Any) -> str:
    """A JSON number as the record's decimal string.

    >>> _decimal(250.0), _decimal(15.9), _decimal(0.70)
    ('250', '15.9', '0.7')
    """
    return format(Decimal(str(value)).normalize(), "f")


def _label(term: dict[str, Any] | None) -> str | None:
    if not term:
        return None
    return _plain(term.get("label") or term.get("id") or "")[:200] or None


def _date(time: dict[str, Any] | None) -> str | None:
    if not time:
        return None
    stamp = time.get("timestamp") or (time.get("interval") or {}).get("start")
    return str(stamp)[:10] if stamp else None


def _age(duration: str) -> dict[str, Any] | None:
    """An ISO 8601 age as the record's ``{value, unit}``, where one unit can hold it exactly.

    >>> _age("P1Y6M"), _age("P35Y")
    ({'value': 18, 'unit': 'month'}, {'value': 35, 'unit': 'year'})
    >>> _age("P3W"), _age("P1Y2D")
    ({'value': 3, 'unit': 'week'}, None)
    """
    m = _AGE.match(duration)
    if not m or not any(m.groups()):
        return None
    y, mo, w, d = (int(g) if g else 0 for g in m.groups())
    parts = [n for n in (y, mo, w, d) if n]
    if d and (y or mo or w) or w and (y or mo):
        return None
    if w:
        return {"value": w, "unit": "week"}
    if d:
        return {"value": d, "unit": "day"}
    if mo:
        return {"value": 12 * y + mo, "unit": "month"}
    return {"value": parts[0] if parts else 0, "unit": "year"}


@dataclass
class ImportReport:
    """What :func:`import_phenopackets` did: files written, files refused, elements dropped.

    ``exit_code`` is 0 when every file converted, else 2 (bad input).
    """

    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 2 if self.failed else 0


class _Import:
    """The conversion of one Phenopacket (as protobuf-normalised JSON) into record data."""

    def __init__(self, packet: dict[str, Any], name: str) -> None:
        self.p = packet
        self.name = name
        self.dropped: dict[str, int] = {}
        refs = (packet.get("metaData") or {}).get("externalReferences") or []
        self.refs = refs
        self.ids: set[str] = set()

    def drop(self, what: str, n: int = 1) -> None:
        if n:
            self.dropped[what] = self.dropped.get(what, 0) + n

    def pointer(self, where: str) -> str:
        return _plain(f"phenopacket {self.name} {where}")[:400]

    def quote(self, item: dict[str, Any], where: str) -> str:
        """The evidence description (a quote of the publication) where there is one."""
        for ev in item.get("evidence") or []:
            desc = _plain((ev.get("reference") or {}).get("description") or "")
            if len(desc) >= 3:
                return desc[:400]
        return self.pointer(where)

    def new_id(self, base: str) -> str:
        candidate, n = _slug(base)[:50] or "fact", 2
        while candidate in self.ids:
            candidate, n = f"{_slug(base)[:50]}-{n}", n + 1
        self.ids.add(candidate)
        return candidate

    def quantity(self, q: dict[str, Any], what: str) -> dict[str, Any] | None:
        unit = _UNIT_IN.get((q.get("unit") or {}).get("id", ""))
        if unit is None or "value" not in q:
            self.drop(f"{what} (unit not in the record format)")
            return None
        return {"value": _decimal(q["value"]), "unit": unit}

    def patient(self, diagnoses: list[dict[str, Any]]) -> dict[str, Any]:
        subject = self.p.get("subject") or {}
        out: dict[str, Any] = {"quote": self.pointer("subject")}
        onsets = [str(((d.get("onset") or {}).get("age") or {}).get("iso8601duration") or "")
                  for d in self.p.get("diseases") or [] if not d.get("excluded")]
        onsets = [o for o in onsets if o]
        if onsets and (age := _age(onsets[0])) is not None:
            out["age"] = age
            out["note"] = "Age is the onset age of the first disease in the phenopacket."
        elif subject.get("timeAtLastEncounter"):
            self.drop("subject.timeAtLastEncounter")
        out["sex"] = _SEX_IN.get(subject.get("sex", ""), "unknown")
        if subject.get("sex") == "OTHER_SEX":
            self.drop("subject.sex OTHER_SEX")
        if (taxon := _label(subject.get("taxonomy"))) is not None:
            out["taxon"] = taxon
        for key in ("dateOfBirth", "karyotypicSex", "gender", "alternateIds"):
            if subject.get(key):
                self.drop(f"subject.{key}")
        return out

    def diagnoses(self) -> list[dict[str, Any]]:
        out = []
        diseases = self.p.get("diseases") or []
        for i, d in enumerate(diseases):
            label = _label(d.get("term"))
            if label is None:
                self.drop("diseases without a term")
                continue
            item: dict[str, Any] = {"disease": label, "reported_as": label}
            if d.get("excluded"):
                item["status"] = "differential"
                item["note"] = "Excluded in the phenopacket."
            if (date := _date(d.get("onset"))) is not None:
                item["date"] = date
            if (site := _label(d.get("primarySite"))) is not None:
                item["sites"] = [site]
            for key in ("resolution", "diseaseStage", "clinicalTnmFinding", "laterality"):
                if d.get(key):
                    self.drop(f"diseases.{key}")
            item["quote"] = self.pointer(f"diseases[{i}] {d['term'].get('id', '')} {label}")
            out.append(item)
        if not out:
            for i, interp in enumerate(self.p.get("interpretations") or []):
                term = (interp.get("diagnosis") or {}).get("disease") or {}
                if (label := _label(term)) is not None:
                    out.append({"disease": label, "reported_as": label,
                                "quote": self.pointer(f"interpretations[{i}].diagnosis "
                                                      f"{term.get('id', '')} {label}")})
        return out

    def phenotypes(self, features: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
        out = []
        for i, f in enumerate(features):
            label = _label(f.get("type"))
            if label is None:
                self.drop("phenotypic features without a type")
                continue
            item: dict[str, Any] = {"phenotype": label, "reported_as": label}
            if f.get("excluded"):
                item["excluded"] = True
            mods = [m for m in (_label(x) for x in f.get("modifiers") or []) if m]
            if f.get("severity"):
                mods.insert(0, _label(f["severity"]) or "")
            if mods:
                item["modifiers"] = mods
            if (date := _date(f.get("onset"))) is not None:
                item["date"] = date
            elif f.get("onset"):
                self.drop("phenotypicFeatures.onset (not a date)")
            if f.get("description"):
                item["note"] = _plain(f["description"])
            for key in ("resolution",):
                if f.get(key):
                    self.drop(f"phenotypicFeatures.{key}")
            item["quote"] = self.quote(f, f"{where}[{i}] {f['type'].get('id', '')} {label}")
            out.append(item)
        return out

    def measurements(self) -> list[dict[str, Any]]:
        out = []
        for i, m in enumerate(self.p.get("measurements") or []):
            assay = _label(m.get("assay"))
            q = (m.get("value") or {}).get("quantity")
            if assay is None or q is None:
                self.drop("measurements without an assay and a quantity")
                continue
            quantity = self.quantity(q, "measurements")
            if quantity is None:
                continue
            item: dict[str, Any] = {"assay": assay, "quantity": quantity}
            rr = q.get("referenceRange")
            if rr:
                unit = _UNIT_IN.get((rr.get("unit") or {}).get("id", ""))
                if unit and "low" in rr and "high" in rr:
                    item["reference_range"] = {"low": _decimal(rr["low"]),
                                               "high": _decimal(rr["high"]), "unit": unit}
                else:
                    self.drop("measurements.referenceRange (unit not in the record format)")
            if (date := _date(m.get("timeObserved"))) is not None:
                item["date"] = date
            if m.get("description"):
                item["note"] = _plain(m["description"])
            item["quote"] = self.pointer(f"measurements[{i}] {assay}")
            out.append(item)
        return out

    def histology(self) -> list[dict[str, Any]]:
        out = []
        for i, b in enumerate(self.p.get("biosamples") or []):
            desc = _plain(b.get("description") or "") or _label(b.get("sampledTissue"))
            if not desc:
                self.drop("biosamples without a description or sampled tissue")
                continue
            item: dict[str, Any] = {"description": desc}
            code = _label((b.get("procedure") or {}).get("code"))
            if code:
                item["specimen"] = code
            if (date := _date(b.get("timeOfCollection"))) is not None:
                item["date"] = date
            feats = self.phenotypes(b.get("phenotypicFeatures") or [],
                                    f"biosamples[{i}].phenotypicFeatures")
            if feats:
                item["features"] = feats
            for key in ("histologicalDiagnosis", "tumorProgression", "tumorGrade",
                        "pathologicalStage", "diagnosticMarkers", "measurements", "files"):
                if b.get(key):
                    self.drop(f"biosamples.{key}")
            item["quote"] = self.pointer(f"biosamples[{i}] {b.get('id', '')}")
            out.append(item)
        return out

    def genomics(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        fusions: list[dict[str, Any]] = []
        alterations: list[dict[str, Any]] = []
        kinds = {v["id"]: k for k, v in SO_ALTERATION.items()}
        for i, interp in enumerate(self.p.get("interpretations") or []):
            gis = (interp.get("diagnosis") or {}).get("genomicInterpretations") or []
            fused: set[str] = set()
            for j, gi in enumerate(gis):
                vd = (gi.get("variantInterpretation") or {}).get("variationDescriptor")
                if not vd:
                    continue
                where = f"interpretations[{i}].genomicInterpretations[{j}]"
                stype = (vd.get("structuralType") or {}).get("id")
                label = vd.get("label") or ""
                if stype == SO_GENE_FUSION["id"] and "::" in label:
                    five, _, three = label.partition("::")
                    fused |= {five, three}
                    fusions.append({
                        "five_prime": {"gene": _plain(five)} if five != "?" else {},
                        "three_prime": {"gene": _plain(three)},
                        "reported_as": _plain(label),
                        "status": "inferred" if five == "?" else "observed",
                        "quote": self.pointer(f"{where} {label}")})
                elif stype in kinds and (vd.get("geneContext") or {}).get("symbol"):
                    alterations.append({
                        "gene": _plain(vd["geneContext"]["symbol"]),
                        "alteration": kinds[stype],
                        "quote": self.pointer(f"{where} {label}")})
                else:
                    self.drop("variant interpretations (only ALK fusions and copy-number "
                              "changes have a record slot)")
            for gi in gis:
                symbol = (gi.get("gene") or {}).get("symbol")
                if gi.get("gene") and symbol not in fused:
                    self.drop("gene descriptors outside a fusion")
        return fusions, alterations

    def actions(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {
            "treatments": [], "procedures": [], "adverse_events": [], "responses": []}
        for i, action in enumerate(self.p.get("medicalActions") or []):
            if "treatment" in action:
                self._treatment(action, i, out)
            elif "procedure" in action:
                proc = action["procedure"]
                label = _label(proc.get("code"))
                if label is None:
                    self.drop("procedures without a code")
                    continue
                item: dict[str, Any] = {"procedure": label, "reported_as": label}
                if (site := _label(proc.get("bodySite"))) is not None:
                    item["sites"] = [site]
                if (date := _date(proc.get("performed"))) is not None:
                    item["date"] = date
                item["quote"] = self.pointer(f"medicalActions[{i}].procedure {label}")
                out["procedures"].append(item)
            else:
                kind = next(iter(k for k in action if k in {"radiationTherapy",
                                                            "therapeuticRegimen"}), "other")
                self.drop(f"medicalActions.{kind}")
        return out

    def _treatment(self, action: dict[str, Any], i: int,
                   out: dict[str, list[dict[str, Any]]]) -> None:
        t = action["treatment"]
        agent = _label(t.get("agent"))
        if agent is None:
            self.drop("treatments without an agent")
            return
        tx_id = self.new_id(f"tx-{agent}")
        where = f"medicalActions[{i}].treatment"
        item: dict[str, Any] = {"id": tx_id, "agent": agent, "reported_as": agent}
        doses = []
        for k, d in enumerate(t.get("doseIntervals") or []):
            dose: dict[str, Any] = {}
            if d.get("quantity") and (q := self.quantity(d["quantity"], "doses")) is not None:
                dose["quantity"] = q
            if (freq := _label(d.get("scheduleFrequency"))) is not None:
                dose["frequency"] = freq
            if (route := _label(t.get("routeOfAdministration"))) is not None:
                dose["route"] = route
            interval = d.get("interval") or {}
            if interval.get("start"):
                dose["start"] = str(interval["start"])[:10]
            if interval.get("end"):
                dose["end"] = str(interval["end"])[:10]
            if "quantity" not in dose:
                if not (freq or interval):
                    self.drop("dose intervals without a usable quantity")
                    continue
                dose["descriptor"] = "dose not stated in a record unit"
            dose["quote"] = self.pointer(f"{where}.doseIntervals[{k}] {agent}")
            doses.append(dose)
        if doses:
            item["doses"] = doses
            starts = sorted(d["start"] for d in doses if "start" in d)
            if starts:
                item["start"] = starts[0]
        for key in ("drugType", "cumulativeDose"):
            if t.get(key):
                self.drop(f"treatment.{key}")
        for key in ("treatmentIntent", "treatmentTerminationReason"):
            if action.get(key):
                self.drop(f"medicalActions.{key}")
        item["quote"] = self.pointer(f"{where} {agent}")
        out["treatments"].append(item)
        for k, ae in enumerate(action.get("adverseEvents") or []):
            if (label := _label(ae)) is not None:
                out["adverse_events"].append({
                    "event": label, "reported_as": label, "attributed_to": [tx_id],
                    "quote": self.pointer(f"medicalActions[{i}].adverseEvents[{k}] {label}")})
        if (resp := _label(action.get("responseToTreatment"))) is not None:
            out["responses"].append({
                "treatments": [tx_id], "category": resp, "reported_as": resp,
                "quote": self.pointer(f"medicalActions[{i}].responseToTreatment {resp}")})

    def publication(self) -> dict[str, Any]:
        pub: dict[str, Any] = {"article_type": "case report"}
        for ref in self.refs:
            rid = str(ref.get("id", ""))
            prefix, _, local = rid.partition(":")
            if prefix.upper() == "PMID" and local.isdigit() and "pmid" not in pub:
                pub["pmid"] = local
                if ref.get("description"):
                    pub["title"] = _plain(ref["description"])
            elif prefix.upper() == "DOI" and local.startswith("10.") and "doi" not in pub:
                pub["doi"] = local
                if ref.get("description") and "title" not in pub:
                    pub["title"] = _plain(ref["description"])
        return pub

    def record(self) -> dict[str, Any]:
        pid = str(self.p.get("id") or self.name)
        key = _slug(pid)
        if not key:
            raise PhenopacketError("the phenopacket id gives no usable record key",
                                   field="id", expected="an id with letters or digits")
        diagnoses = self.diagnoses()
        if not diagnoses:
            raise PhenopacketError(
                "no disease: neither diseases nor interpretations name one",
                field="diseases", expected="a case record has at least one diagnosis")
        subject_id = (self.p.get("subject") or {}).get("id", "?")
        case: dict[str, Any] = {
            "key": key,
            "title": _plain(f"Phenopacket {pid}, subject {subject_id}"),
            "patient": self.patient(diagnoses),
            "diagnoses": diagnoses,
        }
        phenotypes = self.phenotypes(self.p.get("phenotypicFeatures") or [], "phenotypicFeatures")
        histology = self.histology()
        measurements = self.measurements()
        fusions, alterations = self.genomics()
        actions = self.actions()
        for name, items in (("phenotypes", phenotypes), ("histology", histology),
                            ("measurements", measurements), ("fusions", fusions),
                            ("alterations", alterations), ("procedures", actions["procedures"]),
                            ("treatments", actions["treatments"]),
                            ("adverse_events", actions["adverse_events"]),
                            ("responses", actions["responses"])):
            if items:
                case[name] = items
        vital = ((self.p.get("subject") or {}).get("vitalStatus") or {}).get("status")
        if vital in _VITAL_IN:
            case["outcome"] = {"status": "last follow-up", "vital_status": _VITAL_IN[vital],
                               "description": f"Vital status {vital} in the phenopacket.",
                               "quote": self.pointer("subject.vitalStatus")}
        if self.p.get("files"):
            self.drop("files")
        note = "Imported from a GA4GH Phenopacket; quotes are pointers into the file, " \
               "not text of the publication, unless the phenopacket gave evidence text."
        if self.dropped:
            note += " Not imported: " + "; ".join(
                f"{n} {what}" for what, n in sorted(self.dropped.items())) + "."
        case["note"] = _plain(note)
        case["quote"] = self.pointer("id")
        meta = self.p.get("metaData") or {}
        return {
            "alkld_record": 1,
            "key": key,
            "source_file": f"{key}.txt",
            "curator": _plain(str(meta.get("createdBy") or "phenopacket import")),
            "review_status": "curated",
            "publication": self.publication(),
            "cases": [case],
        }


def read_phenopacket(path: Path) -> dict[str, Any]:
    """Read and schema-check one Phenopacket JSON file; return it normalised (camelCase keys).

    Raises :class:`PhenopacketError` naming the file for unreadable JSON or a schema error.
    """
    from google.protobuf import json_format

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise PhenopacketError(f"cannot read: {e}", path=path) from None
    except json.JSONDecodeError as e:
        raise PhenopacketError(f"invalid JSON: {e.msg}", path=path, line=e.lineno,
                               expected="a JSON object") from None
    if not isinstance(data, dict):
        raise PhenopacketError("not a JSON object", path=path, line=1,
                               expected="a Phenopacket v2 JSON object")
    message = check_phenopacket(data, path=path)
    normalised: dict[str, Any] = json_format.MessageToDict(message)
    return normalised


def from_phenopacket(packet: dict[str, Any], *,
                     name: str) -> tuple[dict[str, Any], dict[str, int]]:
    """A Phenopacket (normalised by :func:`read_phenopacket`) as case-record data.

    Returns the record (``dict`` ready for YAML) and the counts of elements with no place in
    the record format. Raises :class:`PhenopacketError` when no record can be made (no
    disease, no usable id). ``name`` names the source in quotes and errors.

    >>> rec, dropped = from_phenopacket({"id": "p1", "subject": {"id": "s", "sex": "MALE"},
    ...     "diseases": [{"term": {"id": "MONDO:0005061", "label": "lung adenocarcinoma"}}]},
    ...     name="p1.json")
    >>> rec["cases"][0]["diagnoses"][0]["disease"], rec["cases"][0]["patient"]["sex"]
    ('lung adenocarcinoma', 'male')
    """
    conv = _Import(packet, name)
    return conv.record(), dict(sorted(conv.dropped.items()))


def _record_yaml(data: dict[str, Any], source: Path) -> str:
    header = (f"# Imported by `alkld import phenopackets` from {source.name}.\n"
              "# Labels are the phenopacket's term labels; each needs a row in\n"
              "# mappings/terms.sssom.tsv before the record can be built.\n")
    body: str = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return header + body


def import_phenopackets(paths: Iterable[Path], out: Path) -> ImportReport:
    """Convert each Phenopacket file to ``<out>/<key>.yaml``; a failure does not stop the rest.

    Every written record is re-read with :func:`alkld.records.loader.parse_record`, so what is
    written loads. A file that cannot be converted is listed in :attr:`ImportReport.failed`
    with the reason; elements without a record slot are counted in
    :attr:`ImportReport.dropped`.
    """
    report = ImportReport()
    seen: dict[str, Path] = {}
    for path in sorted(paths):
        try:
            conv = _Import(read_phenopacket(path), path.name)
            data = conv.record()
            key = data["key"]
            if key in seen:
                raise PhenopacketError(f"record key {key!r} already made from {seen[key].name}",
                                       field="id", expected="phenopacket ids unique in DIR")
            target = out / f"{key}.yaml"
            text = _record_yaml(data, path)
            try:
                parse_record(text, path=target)
            except CaseRecordError as e:
                raise PhenopacketError(f"the converted record does not load: {e.field}: "
                                       f"{e.message}", expected=e.expected) from None
            _write_atomic(target, text)
        except (PhenopacketError, InvalidOperation) as e:
            reason = e.message if isinstance(e, AlkldError) else f"bad number ({e})"
            if isinstance(e, AlkldError) and e.field:
                reason = f"{e.field}: {reason}"
            if isinstance(e, AlkldError) and e.line:
                reason = f"line {e.line}: {reason}"
            if isinstance(e, AlkldError) and e.expected:
                reason += f" (expected {e.expected})"
            report.failed.append((path, reason))
            log.warning("%s: not imported: %s", path, reason)
            continue
        seen[key] = path
        report.written.append(target)
        if conv.dropped:
            report.dropped[path.name] = dict(sorted(conv.dropped.items()))
    return report
