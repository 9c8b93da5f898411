"""Generate ``docs/record-format.md``, the reference page of the case-record format.

The field tables come from the models themselves (types, required fields, the RDF predicate
each field becomes), so the page cannot drift from the code; ``tests/test_records.py`` checks
the committed page is current. Regenerate with ``python -m alkld.records.reference``.
"""

from __future__ import annotations

import sys
import types
import typing
from enum import Enum
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from alkld.records import model as m

__all__ = ["render"]

INTRO = """# Case record format (version 1)

One YAML file per source document in `cases/`, named `NNN-<document key>.yaml`. The loader
(`alkld.records.loader`) validates it against the models of `src/alkld/records/model.py`;
every error names the file, the line and the field, and says what was expected
(`cases/x.yaml:12: cases[0].patient.age.value: ... (expected ...)`), and the build exits 2.

This page is generated from the models (`python -m alkld.records.reference`); a test keeps it
current.

## Conventions

- **Every fact carries `quote`**: a short verbatim fragment of the source (3–400 characters,
  a sentence fragment, never a paragraph). It becomes a W3C Web Annotation with a
  `TextQuoteSelector` on the publication. Where the document states the same fact again
  (abstract, discussion, figure legend), `also_quoted` lists those fragments: each becomes
  one more annotation of the same fact. `note` adds a curator's remark (`rdfs:comment`).
- **Terms** (type `Term(category)`) are labels as reported in the text. Each label must have
  a row in `mappings/terms.sssom.tsv`; the category picks the identifier space (a disease
  resolves to MONDO before NCIT before MeSH, a drug to PubChem before MeSH, an IHC target to
  NCBI Gene, or MeSH for protein-family stains). An unmapped label is an error naming the
  label, the file and the line.
- **`id` and references** (type `Ref`): any fact may have an `id` (lowercase words joined by
  hyphens, unique in its case); fields of type `Ref` name such an id (a diagnosis's `basis`,
  a dose change's `reasons`, a relative time's `anchor`). Ids also name the fact's IRI:
  `<base>node/<case key>-<id>`.
- **Dates** are `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (published as `xsd:gYear`,
  `xsd:gYearMonth`, `xsd:date`): real calendar dates, not in the future. **Relative times**
  use `when: {anchor: <id>, offset: P3M, direction: after}` (ISO 8601 durations).
- **Quantities** are `{value: 600, unit: mg}` with a unit of the table below (UCUM codes are
  published as `schema:unitCode`, with UO IRIs where UO has the unit); `comparator` is one of
  `=`, `>`, `<`, `>=`, `<=`, `~` (`> 30 cm`). Percentages must lie within 0–100.
- **Text** fields refuse markup (`<`, `>`), triple quotes and control characters.

## Units

| symbol in records | UCUM code | label | UO |
| --- | --- | --- | --- |
"""


def _type_name(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        for meta in args[1:]:
            if isinstance(meta, m.TermSlot):
                return f"Term({meta.category})"
            if isinstance(meta, m.RefSlot):
                return "Ref"
        base = args[0]
        name = _type_name(base)
        if annotation == m.PartialDate:
            return "date"
        if annotation == m.Duration:
            return "duration"
        if annotation == m.UnitSymbol:
            return "unit"
        return name
    if origin in (typing.Union, types.UnionType):
        parts = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(parts)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return " \\| ".join(f"`{e.value}`" for e in annotation)
        if issubclass(annotation, BaseModel):
            return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
        return {"str": "text", "Decimal": "number", "int": "integer", "bool": "boolean"}.get(
            annotation.__name__, annotation.__name__)
    return str(annotation)


def _predicate(model: type[BaseModel], name: str) -> str:
    if issubclass(model, m.Node):
        if name in model.unpublished:
            return "—"
        head, *rest = name.split("_")
        return model.rdf.get(name, "alkld:" + head + "".join(w.capitalize() for w in rest))
    return "—"


def _required(info: FieldInfo) -> str:
    return "yes" if info.is_required() else ""


def _section(model: type[BaseModel]) -> str:
    doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    rdf_type = getattr(model, "rdf_type", "")
    lines = [f"### {model.__name__}", ""]
    if doc and not doc.startswith("!!!"):
        lines += [doc, ""]
    if rdf_type:
        lines += [f"RDF class: `{rdf_type}`", ""]
    lines += ["| field | type | required | RDF predicate |", "| --- | --- | --- | --- |"]
    for name, info in model.model_fields.items():
        kind = _type_name(info.annotation)
        for meta in info.metadata:
            if isinstance(meta, m.TermSlot):
                kind = f"Term({meta.category})"
            elif isinstance(meta, m.RefSlot):
                kind = "Ref"
        lines.append(f"| `{name}` | {kind} | {_required(info)} | "
                     f"`{_predicate(model, name)}` |")
    return "\n".join(lines) + "\n"


ORDER: list[type[BaseModel]] = [
    m.CaseRecord, m.Publication, m.Author, m.Funding, m.Citation, m.Claim,
    m.TextMinedMention, m.Case, m.Patient, m.Age, m.Diagnosis, m.PhenotypicFeature,
    m.ImagingStudy, m.ImagingFinding, m.HistologyFinding, m.IHCFinding, m.Measurement,
    m.Assay, m.Fusion, m.FusionPartner, m.ExonRange, m.Alteration, m.Procedure, m.Regimen,
    m.TreatmentCourse, m.DoseInterval, m.DoseChange, m.AdverseEvent, m.Response,
    m.LesionMeasurement, m.ClinicalEvent, m.Trial, m.Outcome, m.Quantity,
    m.ReferenceRange, m.RelativeTime]


def render() -> str:
    """The whole reference page as Markdown."""
    from alkld.vocab import UNITS

    out = INTRO
    for symbol, unit in UNITS.items():
        out += f"| `{symbol}` | `{unit.ucum}` | {unit.label} | {unit.uo or ''} |\n"
    out += "\n## Sections and fields\n\n"
    out += "\n".join(_section(model) for model in ORDER)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/record-format.md")
    target.write_text(render(), encoding="utf-8")
