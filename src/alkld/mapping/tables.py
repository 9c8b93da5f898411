"""Curated mapping tables (SSSOM TSV) and the term mapper built from them.

Stage 2 of the pipeline: every :data:`~alkld.records.model.Term` of a record, a label as
curated from the text, is mapped to an ontology identifier through
``mappings/terms.sssom.tsv``; ``mappings/xrefs.sssom.tsv`` holds cross-references between
the external identifiers (MONDO ↔ MeSH ↔ NCIT, PubChem ↔ MeSH, NCBI Gene ↔ HGNC).
Tables are read with the ``sssom`` library (the SSSOM reference implementation).

The slot's *category* decides which identifier space a term resolves to when a label has
several rows: a disease resolves to MONDO before NCIT before MeSH, a drug to PubChem before
MeSH, and so on (:data:`PREFERENCE`). Exact matches are preferred over close, broad or
narrow ones. A label with no row is a :class:`~alkld.errors.MappingError`, never a silent drop.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from alkld.errors import MappingError
from alkld.vocab import expand_curie, is_valid_curie

__all__ = [
    "PREFERENCE",
    "PREDICATE_ORDER",
    "Mapping",
    "TermMapper",
    "read_sssom",
]

log = logging.getLogger(__name__)

#: Identifier spaces each slot category resolves to, most preferred first.
PREFERENCE: dict[str, tuple[str, ...]] = {
    "disease": ("MONDO", "NCIT", "MESH", "HP"),
    "phenotype": ("HP", "MONDO", "MESH", "NCIT", "alkld"),
    "anatomy": ("UBERON",),
    "gene": ("NCBIGene", "HGNC"),
    "marker": ("NCBIGene", "MESH"),
    "chemical": ("pubchem.compound", "MESH"),
    "analyte": ("pubchem.compound", "NCBIGene", "MESH", "NCIT"),
    "method": ("NCIT", "OBI", "MESH", "alkld"),
    "procedure": ("NCIT", "MESH", "alkld"),
    "assay": ("NCIT", "OBI", "NCBIGene", "MESH", "alkld"),
    "response": ("NCIT", "alkld"),
    "criteria": ("NCIT", "MESH", "alkld"),
    "event": ("NCIT", "MONDO", "HP", "MESH", "alkld"),
    "frequency": ("NCIT", "alkld"),
    "route": ("NCIT", "alkld"),
    "organism": ("NCBITaxon",),
    "any": ("MONDO", "HP", "UBERON", "NCBIGene", "pubchem.compound", "NCIT", "MESH", "NCBITaxon",
            "HGNC", "alkld"),
}

#: Mapping predicates, most specific first; a term resolves through the first available.
PREDICATE_ORDER: tuple[str, ...] = (
    "skos:exactMatch", "skos:closeMatch", "skos:narrowMatch", "skos:broadMatch",
    "skos:relatedMatch")

REQUIRED_COLUMNS = ("subject_id", "subject_label", "predicate_id", "object_id", "object_label",
                    "mapping_justification")


@dataclass(frozen=True, order=True)
class Mapping:
    """One SSSOM row: a reported label (subject) → an external identifier (object)."""

    subject_id: str
    subject_label: str
    predicate_id: str
    object_id: str
    object_label: str
    mapping_justification: str
    subject_category: str = ""
    confidence: float | None = None
    comment: str = ""

    @property
    def object_iri(self) -> str:
        """The canonical IRI of the object identifier."""
        return expand_curie(self.object_id)


def read_sssom(path: Path) -> list[Mapping]:
    """Read and check one SSSOM TSV table with the ``sssom`` library.

    Raises :class:`MappingError` naming the file (and the row's line, counting the metadata
    block) for a missing column, an unknown predicate, or a malformed CURIE.
    """
    from sssom.parsers import parse_sssom_table  # heavy import: pandas, linkml-runtime

    if not path.is_file():
        raise MappingError("mapping table not found", path=path,
                           expected="an SSSOM TSV file")
    text = path.read_text(encoding="utf-8")
    header_lines = sum(1 for line in text.splitlines() if line.startswith("#"))
    try:
        msdf = parse_sssom_table(path)
    except Exception as e:  # noqa: BLE001 - sssom raises many kinds; all mean a bad table
        raise MappingError(f"unreadable SSSOM table: {e}", path=path,
                           expected="SSSOM TSV with a YAML metadata block") from None
    df = msdf.df
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise MappingError(f"missing columns {missing}", path=path, line=header_lines + 1,
                           expected=f"columns {', '.join(REQUIRED_COLUMNS)}")
    rows: list[Mapping] = []
    for i, rec in enumerate(df.to_dict(orient="records")):
        line = header_lines + 2 + i
        values = {k: ("" if v is None or v != v else v) for k, v in rec.items()}  # NaN → ""
        for col in ("subject_id", "object_id"):
            if not is_valid_curie(str(values[col])) and not str(values[col]).startswith(
                    "alkldterm:"):
                raise MappingError(f"{col} {values[col]!r} is not a valid CURIE", path=path,
                                   line=line, field=col, curie=str(values[col]),
                                   expected="PREFIX:local with a prefix of docs/identifiers.md")
        if values["predicate_id"] not in PREDICATE_ORDER:
            raise MappingError(f"predicate {values['predicate_id']!r}", path=path, line=line,
                               field="predicate_id", expected=", ".join(PREDICATE_ORDER))
        conf = values.get("confidence")
        rows.append(Mapping(
            subject_id=str(values["subject_id"]), subject_label=str(values["subject_label"]),
            predicate_id=str(values["predicate_id"]), object_id=str(values["object_id"]),
            object_label=str(values["object_label"]),
            mapping_justification=str(values["mapping_justification"]),
            subject_category=str(values.get("subject_category", "")),
            confidence=float(conf) if conf not in ("", None) else None,
            comment=str(values.get("comment", ""))))
    return rows


def _norm(label: str) -> str:
    return " ".join(label.casefold().split())


class TermMapper:
    """Resolve curated labels to identifiers through the curated SSSOM tables.

    >>> m = Mapping("alkldterm:alectinib", "alectinib", "skos:exactMatch",
    ...             "pubchem.compound:49806720", "alectinib", "semapv:ManualMappingCuration")
    >>> mapper = TermMapper([m])
    >>> mapper.resolve("Alectinib", "chemical").object_iri
    'http://rdf.ncbi.nlm.nih.gov/pubchem/compound/CID49806720'
    >>> mapper.resolve("crizotinib", "chemical")
    Traceback (most recent call last):
    ...
    alkld.errors.MappingError: term: no mapping for 'crizotinib' (expected a row in mappings/terms.sssom.tsv with subject_label 'crizotinib')
    """

    def __init__(self, terms: Iterable[Mapping], xrefs: Iterable[Mapping] = ()) -> None:
        self.terms = sorted(set(terms))
        self.xrefs = sorted(set(xrefs))
        self._by_label: dict[str, list[Mapping]] = defaultdict(list)
        for row in self.terms:
            self._by_label[_norm(row.subject_label)].append(row)
        self._labels: dict[str, str] = {}
        for row in (*self.terms, *self.xrefs):
            self._labels.setdefault(row.object_id, row.object_label)
        for row in self.xrefs:
            self._labels.setdefault(row.subject_id, row.subject_label)

    @classmethod
    def from_directory(cls, directory: Path) -> TermMapper:
        """Load ``terms.sssom.tsv`` and ``xrefs.sssom.tsv`` from ``directory``."""
        terms = read_sssom(directory / "terms.sssom.tsv")
        xrefs_path = directory / "xrefs.sssom.tsv"
        xrefs = read_sssom(xrefs_path) if xrefs_path.exists() else []
        log.info("loaded %d term mappings and %d cross-references", len(terms), len(xrefs))
        return cls(terms, xrefs)

    def candidates(self, label: str) -> list[Mapping]:
        """Every row whose subject label is ``label`` (case and spacing folded)."""
        return list(self._by_label.get(_norm(label), ()))

    def resolve(self, label: str, category: str) -> Mapping:
        """The row a ``category`` slot resolves ``label`` through; see :data:`PREFERENCE`."""
        rows = self.candidates(label)
        if not rows:
            raise MappingError(
                f"no mapping for {label!r}", term=label, field="term",
                expected=f"a row in mappings/terms.sssom.tsv with subject_label {label!r}")
        prefixes = PREFERENCE.get(category, PREFERENCE["any"])

        def rank(row: Mapping) -> tuple[int, int]:
            prefix = row.object_id.split(":", 1)[0]
            p = prefixes.index(prefix) if prefix in prefixes else len(prefixes)
            return (PREDICATE_ORDER.index(row.predicate_id), p)

        usable = [r for r in rows if r.object_id.split(":", 1)[0] in prefixes]
        if not usable:
            have = ", ".join(sorted(r.object_id for r in rows))
            raise MappingError(
                f"{label!r} maps only to {have}, none usable for a {category} slot",
                term=label, field="term", expected=f"a mapping to {', '.join(prefixes)}")
        return min(usable, key=rank)

    def label_of(self, curie: str) -> str | None:
        """The label the tables give for an external identifier."""
        return self._labels.get(curie)
