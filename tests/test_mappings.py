"""The curated mapping tables: valid SSSOM, sorted, consistent, and as the design requires."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sssom.parsers import parse_sssom_table
from sssom.validators import validate

from alkld.errors import MappingError
from alkld.mapping.tables import Mapping, TermMapper, read_sssom
from alkld.vocab import is_valid_curie

from .conftest import ROOT

TABLES = [ROOT / "mappings" / "terms.sssom.tsv", ROOT / "mappings" / "xrefs.sssom.tsv"]


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.name)
def test_sssom_library_validates(path: Path) -> None:
    msdf = parse_sssom_table(path)
    reports = validate(msdf, fail_on_error=False)
    problems = {kind.value: report.results for kind, report in reports.items() if report.results}
    assert problems == {}
    assert msdf.metadata["license"]
    assert msdf.metadata["mapping_set_id"].startswith("https://w3id.org/alkld/")


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.name)
def test_rows_sorted_and_justified(path: Path) -> None:
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader((line for line in fh if not line.startswith("#")),
                                   delimiter="\t"))
    keys = [(r["subject_label"].casefold(), r["subject_id"], r["object_id"]) for r in rows]
    assert keys == sorted(keys), "keep tables sorted: python scripts/merge_mappings.py"
    assert len(set(keys)) == len(keys)
    for r in rows:
        assert r["mapping_justification"] == "semapv:ManualMappingCuration"
        assert r["object_label"].strip(), r
        assert is_valid_curie(r["object_id"]), r["object_id"]


def test_every_label_resolves_for_its_category() -> None:
    mapper = TermMapper.from_directory(ROOT / "mappings")
    for row in mapper.terms:
        if row.subject_category:
            resolved = mapper.resolve(row.subject_label, row.subject_category)
            assert resolved.subject_label == row.subject_label


def test_text_mined_imprecision_is_not_curated() -> None:
    """Seed 001's text-mined IMT → MeSH D009369 ('Neoplasms') is far too broad."""
    mapper = TermMapper.from_directory(ROOT / "mappings")
    for row in mapper.terms:
        if "myofibroblastic" in row.subject_label.lower():
            assert row.object_id != "MESH:D009369", row
    for row in mapper.terms:
        if row.subject_label.lower().replace("-", "") == "s100":
            assert mapper.resolve(row.subject_label, "marker").object_id == "MESH:D009418"


def test_resolution_prefers_exact_then_the_slot_space() -> None:
    rows = [
        Mapping("alkldterm:x", "x", "skos:broadMatch", "MONDO:0000001", "a", "semapv:ManualMappingCuration"),
        Mapping("alkldterm:x", "x", "skos:exactMatch", "MESH:D000001", "b", "semapv:ManualMappingCuration"),
        Mapping("alkldterm:x", "x", "skos:exactMatch", "NCIT:C1", "c", "semapv:ManualMappingCuration"),
    ]
    mapper = TermMapper(rows)
    assert mapper.resolve("x", "disease").object_id == "NCIT:C1"
    assert mapper.resolve("X ", "disease").object_id == "NCIT:C1"
    with pytest.raises(MappingError) as info:
        mapper.resolve("x", "anatomy")
    assert "none usable for a anatomy slot" in str(info.value)


def test_malformed_table_is_located(tmp_path: Path) -> None:
    text = TABLES[0].read_text(encoding="utf-8").splitlines(keepends=True)
    header = sum(1 for line in text if line.startswith("#"))
    bad = text[: header + 2] + [text[header + 2].replace("skos:exactMatch", "skos:sameAs")
                                if "skos:exactMatch" in text[header + 2] else text[header + 2]]
    if "skos:sameAs" not in bad[-1]:
        bad[-1] = bad[-1].replace("skos:broadMatch", "skos:sameAs").replace(
            "skos:closeMatch", "skos:sameAs")
    path = tmp_path / "terms.sssom.tsv"
    path.write_text("".join(bad), encoding="utf-8")
    with pytest.raises(MappingError) as info:
        read_sssom(path)
    assert info.value.line == header + 3
    assert info.value.field == "predicate_id"
    assert "skos:exactMatch" in str(info.value)
