"""Typed models of a case record: one YAML file per source document (``cases/*.yaml``).

The reference page is ``docs/record-format.md``. Each model that becomes an RDF node
declares its class (``rdf_type``) and, where a field does not map to the default
``alkld:<fieldInCamelCase>``, its predicate (``rdf``); the RDF stage
(:mod:`alkld.rdf.build`) walks these declarations, so the record format, the RDF and the
ontology cannot drift apart unnoticed (``tests/test_coherence.py``).

Field annotations say what a string is:

* :data:`Term` — a label as curated from the text, mapped to an ontology identifier by the
  mapping stage (``mappings/terms.sssom.tsv``); the slot's *category* picks the target space.
* :data:`Ref` — the ``id`` of another fact in the same case (an anchor, a cause, a course).
* :data:`PartialDate` — ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, a real calendar date, not in
  the future.
* :data:`Duration` — an ISO 8601 duration such as ``P3M``.

>>> Age(value=35, unit="year").iso8601()
'P35Y'
>>> Quantity(value="600", unit="mg").unit_info.ucum
'mg'
"""

from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from alkld.vocab import UNITS, Unit

__all__ = [
    "AdverseEvent",
    "Age",
    "Alteration",
    "Assay",
    "Author",
    "CaseRecord",
    "Case",
    "Citation",
    "Claim",
    "ClinicalEvent",
    "Diagnosis",
    "DoseChange",
    "DoseInterval",
    "Duration",
    "ExonRange",
    "Fact",
    "Funding",
    "Fusion",
    "FusionPartner",
    "HistologyFinding",
    "IHCFinding",
    "ImagingFinding",
    "ImagingStudy",
    "LesionMeasurement",
    "Measurement",
    "Node",
    "Outcome",
    "PartialDate",
    "Patient",
    "PhenotypicFeature",
    "Procedure",
    "Publication",
    "Quantity",
    "Ref",
    "ReferenceRange",
    "Regimen",
    "RelativeTime",
    "Response",
    "Term",
    "TextMinedMention",
    "TreatmentCourse",
    "Trial",
]

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
_ISO_DURATION = re.compile(
    r"^P(?!$)(\d+(\.\d+)?Y)?(\d+(\.\d+)?M)?(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?"
    r"(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$"
)
_FORBIDDEN = re.compile(r"[<>\x00-\x08\x0b\x0c\x0e-\x1f]|\"\"\"|'''")


class TermSlot:
    """Marks a string field as a term to map; ``category`` selects the target space."""

    def __init__(self, category: str) -> None:
        self.category = category

    def __repr__(self) -> str:
        return f"TermSlot({self.category!r})"


class RefSlot:
    """Marks a string field as the ``id`` of another fact in the same case."""

    def __repr__(self) -> str:
        return "RefSlot()"


def _clean_text(value: str) -> str:
    """Refuse markup and control characters in curated text (quotes, labels, notes)."""
    if _FORBIDDEN.search(value):
        raise ValueError(
            "text holds markup, a triple quote or a control character; curated text is plain "
            "prose (write 'less than' rather than '<')"
        )
    if not value.strip():
        raise ValueError("text is empty")
    return value


def _check_date(value: str) -> str:
    m = re.fullmatch(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", value)
    if not m:
        raise ValueError("a date is YYYY, YYYY-MM or YYYY-MM-DD")
    year, month, day = int(m[1]), int(m[2] or 1), int(m[3] or 1)
    try:
        date = _dt.date(year, month, day)
    except ValueError as e:
        raise ValueError(f"{value!r} is not a calendar date ({e})") from None
    if date > _dt.date.today():
        raise ValueError(f"{value!r} is in the future")
    if year < 1900:
        raise ValueError(f"{value!r} is before 1900")
    return value


def _check_duration(value: str) -> str:
    if not _ISO_DURATION.match(value):
        raise ValueError("a duration is ISO 8601, such as P3M, P19M, P2W or P1Y6M")
    return value


def _check_unit(value: str) -> str:
    if value not in UNITS:
        raise ValueError(f"unknown unit {value!r}; allowed: {', '.join(sorted(UNITS))}")
    return value


Text = Annotated[str, AfterValidator(_clean_text)]
Quote = Annotated[str, Field(min_length=3, max_length=400), AfterValidator(_clean_text)]
PartialDate = Annotated[str, AfterValidator(_check_date)]
Duration = Annotated[str, AfterValidator(_check_duration)]
UnitSymbol = Annotated[str, AfterValidator(_check_unit)]
LocalId = Annotated[str, Field(pattern=SLUG, max_length=60)]
Ref = Annotated[str, Field(pattern=SLUG), RefSlot()]


def Term(category: str) -> Any:  # noqa: N802 - reads as a type in annotations
    """Annotate a field as a term of ``category`` (disease, gene, chemical, ...)."""
    return Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_clean_text),
                     TermSlot(category)]


class Vocabulary(str, Enum):  # noqa: UP042 - str values in YAML and JSON
    """An enumeration whose members become named individuals of the alkld ontology.

    Members map to ``alkld:<PascalCaseValue>`` unless the enum gives ``iris``.
    """


class Sex(Vocabulary):
    female = "female"
    male = "male"
    unknown = "unknown"


class IHCResult(Vocabulary):
    positive = "positive"
    strongly_positive = "strongly positive"
    weakly_positive = "weakly positive"
    negative = "negative"


class FusionStatus(Vocabulary):
    observed = "observed"
    inferred = "inferred"


class DiagnosisStatus(Vocabulary):
    confirmed = "confirmed"
    misdiagnosis = "misdiagnosis"
    differential = "differential"
    mentioned = "mentioned"


class DoseChangeKind(Vocabulary):
    interruption = "interruption"
    resumption = "resumption"
    dose_reduction = "dose reduction"
    discontinuation = "discontinuation"


class VitalStatus(Vocabulary):
    alive = "alive"
    deceased = "deceased"
    unknown_status = "unknown status"


class Direction(Vocabulary):
    after = "after"
    before = "before"


class AlterationKind(Vocabulary):
    amplification = "amplification"
    deletion = "deletion"


class ClaimKind(Vocabulary):
    efficacy = "efficacy"
    frequency = "frequency"
    association = "association"
    recommendation = "recommendation"
    regulatory = "regulatory"
    safety = "safety"


class ArticleType(Vocabulary):
    case_report = "case report"
    review = "review"
    conference_abstract = "conference abstract"
    clinical_image = "clinical image"


class ReviewStatus(Vocabulary):
    curated = "curated"
    reviewed = "reviewed"


class Node(BaseModel):
    """A record object that becomes one RDF node of class ``rdf_type``."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    #: The node's class: a CURIE (``alkld:Case``, ``fabio:CaseReport``).
    rdf_type: ClassVar[str] = ""
    #: A short word used in the node's IRI (``…/node/<case>-<kind>-<slug>``).
    kind: ClassVar[str] = "node"
    #: Field → predicate CURIE, where the default ``alkld:<fieldInCamelCase>`` is not right.
    rdf: ClassVar[dict[str, str]] = {}
    #: Fields kept in the record but not published as triples.
    unpublished: ClassVar[frozenset[str]] = frozenset()


class Fact(Node):
    """A node that states something the source says: it carries its evidence quote."""

    id: LocalId | None = None
    quote: Quote
    #: Further places where the document states the same fact (abstract, discussion, a
    #: figure legend): each is one more evidence annotation of the fact.
    also_quoted: list[Quote] = []
    note: Text | None = None
    unpublished: ClassVar[frozenset[str]] = frozenset({"id", "quote", "also_quoted"})
    rdf: ClassVar[dict[str, str]] = {"note": "rdfs:comment"}


# --- values --------------------------------------------------------------------------------


class Quantity(Node):
    """A number with a unit from :data:`alkld.vocab.UNITS`."""

    rdf_type: ClassVar[str] = "schema:QuantitativeValue"
    kind: ClassVar[str] = "qty"
    value: Decimal
    unit: UnitSymbol
    comparator: Literal["=", ">", "<", ">=", "<=", "~"] = "="
    rdf: ClassVar[dict[str, str]] = {"value": "schema:value", "unit": "schema:unitCode"}

    @property
    def unit_info(self) -> Unit:
        """The unit's entry in :data:`alkld.vocab.UNITS`."""
        return UNITS[self.unit]

    @field_validator("value")
    @classmethod
    def _finite(cls, v: Decimal) -> Decimal:
        if not v.is_finite():
            raise ValueError("a quantity is a finite number")
        return v


class ReferenceRange(Node):
    """A normal range of a lab value, ``low`` to ``high`` in ``unit``."""

    rdf_type: ClassVar[str] = "schema:QuantitativeValue"
    kind: ClassVar[str] = "range"
    low: Decimal
    high: Decimal
    unit: UnitSymbol
    rdf: ClassVar[dict[str, str]] = {
        "low": "schema:minValue", "high": "schema:maxValue", "unit": "schema:unitCode"}

    @model_validator(mode="after")
    def _ordered(self) -> ReferenceRange:
        if self.low > self.high:
            raise ValueError(f"reference range low {self.low} is above high {self.high}")
        return self


class Age(Node):
    """An age as reported (``35 year``); published as an ISO 8601 duration (``P35Y``)."""

    rdf_type: ClassVar[str] = "alkld:Age"
    kind: ClassVar[str] = "age"
    value: Annotated[Decimal, Field(ge=0, le=130)]
    unit: Literal["day", "week", "month", "year"]
    rdf: ClassVar[dict[str, str]] = {"unit": "schema:unitCode"}

    def iso8601(self) -> str:
        """The age as an ISO 8601 duration."""
        letter = {"day": "D", "week": "W", "month": "M", "year": "Y"}[self.unit]
        return f"P{self.value.normalize():f}{letter}"


class RelativeTime(Node):
    """A time given relative to another fact: ``offset`` ``direction`` ``anchor``."""

    rdf_type: ClassVar[str] = "alkld:RelativeTime"
    kind: ClassVar[str] = "when"
    anchor: Ref
    offset: Duration | None = None
    direction: Direction = Direction.after
    at_least: bool = False
    approximate: bool = False


class Timed(Fact):
    """A fact placed in time: a date, an interval, or an offset from an anchor fact."""

    date: PartialDate | None = None
    start: PartialDate | None = None
    end: PartialDate | None = None
    when: RelativeTime | None = None
    rdf: ClassVar[dict[str, str]] = {
        **Fact.rdf, "start": "alkld:startDate", "end": "alkld:endDate"}

    @model_validator(mode="after")
    def _interval(self) -> Timed:
        if self.start and self.end and _sortable(self.end) < _sortable(self.start):
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


def _sortable(d: str) -> str:
    return d + "-12-31"[len(d) - 4:] if len(d) < 10 else d


# --- bibliographic -------------------------------------------------------------------------


class Author(Node):
    """An author of the publication, in order, with affiliation."""

    rdf_type: ClassVar[str] = "foaf:Person"
    kind: ClassVar[str] = "author"
    name: Text
    affiliation: Text | None = None
    corresponding: bool = False
    contributions: list[Text] = []
    rdf: ClassVar[dict[str, str]] = {"name": "foaf:name", "affiliation": "schema:affiliation",
                                     "contributions": "alkld:contribution"}


class Funding(Node):
    """A funder and its grant number."""

    rdf_type: ClassVar[str] = "schema:Grant"
    kind: ClassVar[str] = "grant"
    funder: Text
    grant: Text | None = None
    rdf: ClassVar[dict[str, str]] = {"funder": "schema:funder", "grant": "schema:identifier"}


class Citation(Node):
    """A work the document cites or is cited by (bibliographic facts only)."""

    rdf_type: ClassVar[str] = "fabio:Work"
    kind: ClassVar[str] = "ref"
    number: int | None = None
    authors: Text
    title: Text
    venue: Text | None = None
    year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    volume: Text | None = None
    pages: Text | None = None
    doi: Annotated[str, Field(pattern=r"^10\.\d{4,9}/\S+$")] | None = None
    rdf: ClassVar[dict[str, str]] = {
        "number": "alkld:referenceNumber", "authors": "dcterms:bibliographicCitation",
        "title": "dcterms:title", "venue": "prism:publicationName",
        "year": "fabio:hasPublicationYear", "volume": "prism:volume",
        "pages": "prism:pageRange", "doi": "prism:doi"}


class TextMinedMention(Fact):
    """An identifier a text-mining tool attached to a mention, with the curator's verdict."""

    rdf_type: ClassVar[str] = "alkld:TextMinedMention"
    kind: ClassVar[str] = "mention"
    text: Text
    asserted_id: Annotated[str, Field(pattern=r"^[A-Za-z][\w.]*:[\w.]+$")]
    accepted: bool
    curated: Term("any") | None = None  # type: ignore[valid-type]
    rdf: ClassVar[dict[str, str]] = {**Fact.rdf, "curated": "alkld:curatedTerm"}


class Claim(Fact):
    """A general statement of the document (not about its patient): drug, disease, population."""

    rdf_type: ClassVar[str] = "alkld:Claim"
    kind: ClassVar[str] = "claim"
    claim_type: ClaimKind
    statement: Text
    drugs: list[Term("chemical")] = []  # type: ignore[valid-type]
    diseases: list[Term("disease")] = []  # type: ignore[valid-type]
    genes: list[Term("gene")] = []  # type: ignore[valid-type]
    population: Text | None = None
    value: Quantity | None = None
    rdf: ClassVar[dict[str, str]] = {
        **Fact.rdf, "drugs": "alkld:drug", "diseases": "alkld:disease", "genes": "alkld:gene",
        "value": "alkld:quantity", "statement": "rdf:value"}


class Trial(Fact):
    """A clinical trial or access programme the patient was treated in."""

    rdf_type: ClassVar[str] = "alkld:ClinicalTrial"
    kind: ClassVar[str] = "trial"
    name: Text
    title: Text | None = None
    protocol: Text | None = None
    country: Text | None = None
    rdf: ClassVar[dict[str, str]] = {
        **Fact.rdf, "name": "rdfs:label", "title": "dcterms:title",
        "protocol": "dcterms:identifier"}


class Publication(Node):
    """The source document's bibliographic facts (FaBiO / DCTERMS / PRISM)."""

    kind: ClassVar[str] = "pub"
    article_type: ArticleType
    title: Text | None = None
    authors: list[Author] = []
    journal: Text | None = None
    section: Text | None = None
    conference: Text | None = None
    doi: Annotated[str, Field(pattern=r"^10\.\d{4,9}/\S+$")] | None = None
    pmcid: Annotated[str, Field(pattern=r"^PMC\d+$")] | None = None
    pmid: Annotated[str, Field(pattern=r"^\d+$")] | None = None
    received: PartialDate | None = None
    accepted: PartialDate | None = None
    published: PartialDate | None = None
    year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    status: Text | None = None
    licence: Literal["CC-BY-4.0", "CC-BY-NC-4.0", "CC-BY-NC-ND-4.0", "unknown"] = "unknown"
    copyright: Text | None = None
    keywords: list[Text] = []
    language: Literal["en"] = "en"
    ethics_approval: Text | None = None
    competing_interests: Text | None = None
    funding: list[Funding] = []
    research_topic: Text | None = None
    cites: list[Citation] = []
    cited_by: list[Citation] = []
    claims: list[Claim] = []
    mentions: list[TextMinedMention] = []
    quote: Quote | None = None
    unpublished: ClassVar[frozenset[str]] = frozenset({"quote", "licence", "article_type"})
    rdf: ClassVar[dict[str, str]] = {
        "title": "dcterms:title", "authors": "dcterms:creator",
        "journal": "prism:publicationName", "section": "prism:section",
        "conference": "bibo:presentedAt", "doi": "prism:doi",
        "pmcid": "fabio:hasPubMedCentralId", "pmid": "fabio:hasPubMedId",
        "received": "dcterms:dateSubmitted", "accepted": "dcterms:dateAccepted",
        "published": "dcterms:issued", "year": "fabio:hasPublicationYear",
        "status": "prism:versionIdentifier", "copyright": "dcterms:rights",
        "keywords": "prism:keyword", "language": "dcterms:language",
        "ethics_approval": "alkld:ethicsApproval",
        "competing_interests": "alkld:competingInterests", "funding": "schema:funding",
        "research_topic": "dcterms:isPartOf",
        "cites": "cito:cites", "cited_by": "cito:isCitedBy", "claims": "alkld:claim",
        "mentions": "alkld:textMinedMention"}

    ARTICLE_CLASSES: ClassVar[dict[ArticleType, str]] = {
        ArticleType.case_report: "fabio:CaseReport",
        ArticleType.review: "fabio:ReviewArticle",
        ArticleType.conference_abstract: "fabio:ConferencePaper",
        ArticleType.clinical_image: "fabio:CaseReport",
    }
    LICENCES: ClassVar[dict[str, str]] = {
        "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
        "CC-BY-NC-4.0": "https://creativecommons.org/licenses/by-nc/4.0/",
        "CC-BY-NC-ND-4.0": "https://creativecommons.org/licenses/by-nc-nd/4.0/",
    }


# --- the case -------------------------------------------------------------------------------


class Patient(Fact):
    """The patient: age at presentation, sex, country, gestation."""

    rdf_type: ClassVar[str] = "alkld:Patient"
    kind: ClassVar[str] = "patient"
    age: Age | None = None
    sex: Sex = Sex.unknown
    taxon: Term("organism") = "Homo sapiens"  # type: ignore[valid-type]
    country: Text | None = None
    gestation: Text | None = None
    rdf: ClassVar[dict[str, str]] = {**Fact.rdf, "age": "alkld:ageAtPresentation"}


class Diagnosis(Timed):
    """A disease diagnosed (or misdiagnosed, or considered) in the patient."""

    rdf_type: ClassVar[str] = "alkld:Diagnosis"
    kind: ClassVar[str] = "dx"
    disease: Term("disease")  # type: ignore[valid-type]
    reported_as: Text
    status: DiagnosisStatus = DiagnosisStatus.confirmed
    sites: list[Term("anatomy")] = []  # type: ignore[valid-type]
    metastatic: bool | None = None
    reason: Text | None = None
    basis: list[Ref] = []
    rdf: ClassVar[dict[str, str]] = {
        **Timed.rdf, "reported_as": "alkld:reportedLabel", "sites": "alkld:site",
        "status": "alkld:diagnosisStatus", "basis": "alkld:basedOn",
        "reason": "alkld:reasonText"}


class PhenotypicFeature(Timed):
    """A sign, symptom or finding, present or explicitly absent (``excluded``)."""

    rdf_type: ClassVar[str] = "alkld:PhenotypicFeature"
    kind: ClassVar[str] = "pheno"
    phenotype: Term("phenotype")  # type: ignore[valid-type]
    reported_as: Text
    excluded: bool = False
    sites: list[Term("anatomy")] = []  # type: ignore[valid-type]
    modifiers: list[Text] = []
    rdf: ClassVar[dict[str, str]] = {
        **Timed.rdf, "reported_as": "alkld:reportedLabel", "sites": "alkld:site",
        "modifiers": "alkld:modifier"}


class ImagingFinding(Fact):
    """One finding of an imaging study: description, sites, size, FDG avidity."""

    rdf_type: ClassVar[str] = "alkld:ImagingFinding"
    kind: ClassVar[str] = "imgfinding"
    description: Text
    finding: Term("phenotype") | None = None  # type: ignore[valid-type]
    sites: list[Term("anatomy")] = []  # type: ignore[valid-type]
    size: Quantity | None = None
    fdg_avid: bool | None = None
    rdf: ClassVar[dict[str, str]] = {
        **Fact.rdf, "sites": "alkld:site", "description": "dcterms:description",
        "fdg_avid": "alkld:fdgAvid"}


class ImagingStudy(Timed):
    """An imaging study (CT, MRI, PET/CT, ...) with its findings."""

    rdf_type: ClassVar[str] = "alkld:ImagingStudy"
    kind: ClassVar[str] = "imaging"
    modalities: list[Term("method")]  # type: ignore[valid-type]
    findings: list[ImagingFinding] = []
    rdf: ClassVar[dict[str, str]] = {
        **Timed.rdf, "modalities": "alkld:modality", "findings": "alkld:hasFinding"}


class HistologyFinding(Timed):
    """What histology showed, with features present or absent."""

    rdf_type: ClassVar[str] = "alkld:HistologyFinding"
    kind: ClassVar[str] = "histo"
    description: Text
    specimen: Term("procedure") | None = None  # type: ignore[valid-type]
    stain: Term("chemical") | None = None  # type: ignore[valid-type]
    features: list[PhenotypicFeature] = []
    rdf: ClassVar[dict[str, str]] = {
        **Timed.rdf, "description": "dcterms:description", "features": "alkld:hasFeature"}


class IHCFinding(Fact):
    """One immunohistochemistry marker with its result (and clone, where stated)."""

    rdf_type: ClassVar[str] = "alkld:IHCFinding"
    kind: ClassVar[str] = "ihc"
    target: Term("marker")  # type: ignore[valid-type]
    reported_as: Text
    result: IHCResult
    clone: Text | None = None
    vendor: Text | None = None
    pattern: Text | None = None
    specimens: list[Term("anatomy")] = []  # type: ignore[valid-type]
    rdf: ClassVar[dict[str, str]] = {
        **Fact.rdf, "reported_as": "alkld:reportedLabel", "result": "alkld:ihcResult",
        "clone": "alkld:antibodyClone", "vendor": "alkld:antibodyVendor",
        "pattern": "alkld:stainingPattern", "specimens": "alkld:specimenSite"}


class Measurement(Timed):
    """A measured value: Ki-67 index, mitotic count, a lab value, SUVmax, depth."""

    rdf_type: ClassVar[str] = "alkld:Measurement"
    kind: ClassVar[str] = "meas"
    assay: Term("assay")  # type: ignore[valid-type]
    analyte: Term("analyte") | None = None  # type: ignore[valid-type]
    quantity: Quantity
    reference_range: ReferenceRange | None = None
    interpretation: Literal["high", "low", "normal"] | None = None
    sites: list[Term("anatomy")] = []  # type: ignore[valid-type]
    rdf: ClassVar[dict[str, str]] = {**Timed.rdf, "sites": "alkld:site"}

    @field_validator("quantity")
    @classmethod
    def _percent(cls, q: Quantity) -> Quantity:
        if q.unit == "%" and not (0 <= q.value <= 100):
            raise ValueError(f"a percentage is within 0-100, got {q.value}")
        return q


class ExonRange(Node):
    """The exons of a fusion partner retained in the fusion transcript."""

    rdf_type: ClassVar[str] = "alkld:ExonRange"
    kind: ClassVar[str] = "exons"
    first: Annotated[int, Field(ge=1, le=500)]
    last: Annotated[int, Field(ge=1, le=500)]
    rdf: ClassVar[dict[str, str]] = {"first": "alkld:firstExon", "last": "alkld:lastExon"}

    @model_validator(mode="after")
    def _ordered(self) -> ExonRange:
        if self.first > self.last:
            raise ValueError(f"exon range {self.first}-{self.last} is reversed")
        return self


class FusionPartner(Node):
    """One side of a fusion: gene, transcript and retained exons (all optional)."""

    rdf_type: ClassVar[str] = "alkld:FusionPartner"
    kind: ClassVar[str] = "partner"
    gene: Term("gene") | None = None  # type: ignore[valid-type]
    transcript: Annotated[str, Field(pattern=r"^N[MR]_\d+(\.\d+)?$")] | None = None
    exons: ExonRange | None = None
    rdf: ClassVar[dict[str, str]] = {"exons": "alkld:retainedExons"}


class Assay(Timed):
    """A molecular test: FISH, DNA or RNA sequencing (panel, genes, depth), IHC."""

    rdf_type: ClassVar[str] = "alkld:Assay"
    kind: ClassVar[str] = "assay"
    method: Term("method")  # type: ignore[valid-type]
    panel: Text | None = None
    genes_in_panel: Annotated[int, Field(ge=1)] | None = None
    mean_depth: Quantity | None = None
    specimen: Text | None = None
    rdf: ClassVar[dict[str, str]] = {**Timed.rdf, "panel": "alkld:sequencingPanel",
                                     "genes_in_panel": "alkld:genesInPanel",
                                     "specimen": "alkld:specimenDescription"}


class Fusion(Fact):
    """A gene fusion, 5′ partner first (VICC/HGNC ``5′::3′`` naming)."""

    rdf_type: ClassVar[str] = "alkld:GeneFusion"
    kind: ClassVar[str] = "fusion"
    five_prime: FusionPartner
    three_prime: FusionPartner
    reported_as: Text
    status: FusionStatus
    detected_by: list[Ref] = []
    rdf: ClassVar[dict[str, str]] = {
        **Fact.rdf, "five_prime": "alkld:fivePrimePartner",
        "three_prime": "alkld:threePrimePartner", "reported_as": "alkld:reportedLabel",
        "status": "alkld:fusionStatus", "detected_by": "alkld:detectedBy"}

    @model_validator(mode="after")
    def _partners(self) -> Fusion:
        if self.three_prime.gene is None:
            raise ValueError("three_prime.gene is required (ALK is the 3' partner)")
        if self.status == FusionStatus.observed and self.five_prime.gene is None:
            raise ValueError("an observed fusion names its 5' partner; use status: inferred")
        return self


class Alteration(Fact):
    """Another genomic alteration: an amplification or deletion with its copy number."""

    rdf_type: ClassVar[str] = "alkld:CopyNumberAlteration"
    kind: ClassVar[str] = "cna"
    gene: Term("gene")  # type: ignore[valid-type]
    alteration: AlterationKind
    copy_number: Annotated[int, Field(ge=0, le=1000)] | None = None
    detected_by: list[Ref] = []
    rdf: ClassVar[dict[str, str]] = {**Fact.rdf, "alteration": "alkld:alterationType"}


class Procedure(Timed):
    """A procedure: biopsy, resection, amputation, with sites and reasons."""

    rdf_type: ClassVar[str] = "alkld:Procedure"
    kind: ClassVar[str] = "proc"
    procedure: Term("procedure")  # type: ignore[valid-type]
    reported_as: Text
    sites: list[Term("anatomy")] = []  # type: ignore[valid-type]
    reasons: list[Ref] = []
    rdf: ClassVar[dict[str, str]] = {
        **Timed.rdf, "reported_as": "alkld:reportedLabel", "sites": "alkld:site",
        "reasons": "alkld:reason"}


class DoseInterval(Timed):
    """A dose given over a period: quantity, frequency, route."""

    rdf_type: ClassVar[str] = "alkld:DoseInterval"
    kind: ClassVar[str] = "dose"
    quantity: Quantity | None = None
    frequency: Term("frequency") | None = None  # type: ignore[valid-type]
    route: Term("route") | None = None  # type: ignore[valid-type]
    descriptor: Text | None = None
    rdf: ClassVar[dict[str, str]] = {**Timed.rdf, "descriptor": "alkld:doseDescriptor"}

    @model_validator(mode="after")
    def _some_dose(self) -> DoseInterval:
        if self.quantity is None and self.descriptor is None:
            raise ValueError("a dose gives a quantity (value and unit) or a descriptor")
        return self


class DoseChange(Timed):
    """An interruption, reduction, resumption or discontinuation, with its reasons."""

    rdf_type: ClassVar[str] = "alkld:DoseChange"
    kind: ClassVar[str] = "change"
    change: DoseChangeKind
    reasons: list[Ref] = []
    reason_text: Text | None = None
    new_dose: Ref | None = None
    rdf: ClassVar[dict[str, str]] = {
        **Timed.rdf, "change": "alkld:changeType", "reasons": "alkld:reason",
        "reason_text": "alkld:reasonText"}


class TreatmentCourse(Timed):
    """One agent given to the patient, with its doses, changes and context."""

    rdf_type: ClassVar[str] = "alkld:TreatmentCourse"
    kind: ClassVar[str] = "tx"
    agent: Term("chemical")  # type: ignore[valid-type]
    reported_as: Text
    regimen: Ref | None = None
    line: Annotated[int, Field(ge=1, le=20)] | None = None
    intent: Text | None = None
    cycles: Annotated[int, Field(ge=1, le=100)] | None = None
    doses: list[DoseInterval] = []
    changes: list[DoseChange] = []
    stop_reasons: list[Ref] = []
    trial: Ref | None = None
    targeted: bool = False
    rdf: ClassVar[dict[str, str]] = {
        **Timed.rdf, "reported_as": "alkld:reportedLabel", "regimen": "alkld:partOfRegimen",
        "line": "alkld:lineOfTherapy", "intent": "alkld:treatmentIntent",
        "doses": "alkld:doseInterval", "changes": "alkld:doseChange",
        "stop_reasons": "alkld:stopReason", "trial": "alkld:trialContext",
        "targeted": "alkld:targetedTherapy"}


class Regimen(Timed):
    """A combination given together (ICE): its courses point to it with ``regimen``."""

    rdf_type: ClassVar[str] = "alkld:Regimen"
    kind: ClassVar[str] = "regimen"
    name: Text
    cycles: Annotated[int, Field(ge=1, le=100)] | None = None
    line: Annotated[int, Field(ge=1, le=20)] | None = None
    rdf: ClassVar[dict[str, str]] = {**Timed.rdf, "name": "rdfs:label",
                                     "line": "alkld:lineOfTherapy"}


class AdverseEvent(Timed):
    """An adverse event, attributed to treatment courses, with its grade if stated."""

    rdf_type: ClassVar[str] = "alkld:AdverseEvent"
    kind: ClassVar[str] = "ae"
    event: Term("phenotype")  # type: ignore[valid-type]
    reported_as: Text
    attributed_to: list[Ref] = []
    grade: Annotated[int, Field(ge=1, le=5)] | None = None
    rdf: ClassVar[dict[str, str]] = {
        **Timed.rdf, "reported_as": "alkld:reportedLabel", "attributed_to": "alkld:attributedTo",
        "grade": "alkld:ctcaeGrade"}


class LesionMeasurement(Fact):
    """A lesion's size before and after treatment, or its resolution."""

    rdf_type: ClassVar[str] = "alkld:LesionMeasurement"
    kind: ClassVar[str] = "lesion"
    site: Term("anatomy")  # type: ignore[valid-type]
    target_lesion: bool | None = None
    before: Quantity | None = None
    after: Quantity | None = None
    resolved: bool = False
    rdf: ClassVar[dict[str, str]] = {
        **Fact.rdf, "before": "alkld:baselineSize", "after": "alkld:followUpSize"}


class Response(Timed):
    """A response assessment: criteria, category, % change, lesions, SUVmax, duration."""

    rdf_type: ClassVar[str] = "alkld:ResponseAssessment"
    kind: ClassVar[str] = "resp"
    treatments: list[Ref]
    category: Term("response")  # type: ignore[valid-type]
    reported_as: Text
    criteria: Term("criteria") | None = None  # type: ignore[valid-type]
    modalities: list[Term("method")] = []  # type: ignore[valid-type]
    percent_change: Annotated[Decimal, Field(ge=-100, le=1000)] | None = None
    lesions: list[LesionMeasurement] = []
    measurements: list[Ref] = []
    duration: Duration | None = None
    duration_at_least: bool = False
    rdf: ClassVar[dict[str, str]] = {
        **Timed.rdf, "treatments": "alkld:assessesTreatment", "category": "alkld:responseCategory",
        "reported_as": "alkld:reportedLabel", "criteria": "alkld:responseCriteria",
        "modalities": "alkld:modality", "lesions": "alkld:lesionMeasurement",
        "measurements": "alkld:measurement", "duration": "alkld:responseDuration"}


class ClinicalEvent(Timed):
    """Any other dated event of the timeline: progression, referral, admission, remission."""

    rdf_type: ClassVar[str] = "alkld:ClinicalEvent"
    kind: ClassVar[str] = "event"
    event: Term("event")  # type: ignore[valid-type]
    reported_as: Text
    sites: list[Term("anatomy")] = []  # type: ignore[valid-type]
    reasons: list[Ref] = []
    rdf: ClassVar[dict[str, str]] = {
        **Timed.rdf, "reported_as": "alkld:reportedLabel", "sites": "alkld:site",
        "reasons": "alkld:reason"}


class Outcome(Timed):
    """The last reported status of the patient."""

    rdf_type: ClassVar[str] = "alkld:Outcome"
    kind: ClassVar[str] = "outcome"
    status: Term("event")  # type: ignore[valid-type]
    vital_status: VitalStatus = VitalStatus.unknown_status
    description: Text
    rdf: ClassVar[dict[str, str]] = {
        **Timed.rdf, "status": "alkld:outcomeStatus", "description": "dcterms:description"}


class Case(Fact):
    """One patient's case: a named graph of its own in the release."""

    rdf_type: ClassVar[str] = "alkld:Case"
    kind: ClassVar[str] = "case"
    key: Annotated[str, Field(pattern=SLUG, max_length=60)]
    title: Text
    patient: Patient
    diagnoses: list[Diagnosis] = Field(min_length=1)
    phenotypes: list[PhenotypicFeature] = []
    imaging: list[ImagingStudy] = []
    histology: list[HistologyFinding] = []
    ihc: list[IHCFinding] = []
    measurements: list[Measurement] = []
    assays: list[Assay] = []
    fusions: list[Fusion] = []
    alterations: list[Alteration] = []
    procedures: list[Procedure] = []
    regimens: list[Regimen] = []
    treatments: list[TreatmentCourse] = []
    adverse_events: list[AdverseEvent] = []
    responses: list[Response] = []
    events: list[ClinicalEvent] = []
    trials: list[Trial] = []
    outcome: Outcome | None = None
    unpublished: ClassVar[frozenset[str]] = frozenset({"id", "quote", "also_quoted", "key"})
    rdf: ClassVar[dict[str, str]] = {
        **Fact.rdf, "title": "rdfs:label", "patient": "alkld:subject",
        "diagnoses": "alkld:hasDiagnosis", "phenotypes": "alkld:hasPhenotypicFeature",
        "imaging": "alkld:hasImagingStudy", "histology": "alkld:hasHistologyFinding",
        "ihc": "alkld:hasIHCFinding", "measurements": "alkld:hasMeasurement",
        "assays": "alkld:hasAssay", "fusions": "alkld:hasFusion",
        "alterations": "alkld:hasAlteration", "procedures": "alkld:hasProcedure",
        "regimens": "alkld:hasRegimen", "treatments": "alkld:hasTreatment",
        "adverse_events": "alkld:hasAdverseEvent", "responses": "alkld:hasResponse",
        "events": "alkld:hasEvent", "trials": "alkld:enrolledIn",
        "outcome": "alkld:hasOutcome"}


class CaseRecord(BaseModel):
    """The whole file: format version, document key, source, publication and its cases."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    alkld_record: Literal[1]
    key: Annotated[str, Field(pattern=SLUG, max_length=60)]
    source_file: Annotated[str, Field(pattern=r"^[\w.-]+\.txt$")]
    curator: Text
    review_status: ReviewStatus = ReviewStatus.curated
    publication: Publication
    cases: list[Case] = []
