"""Case records: the repository's records load; the format reference page is current."""

from __future__ import annotations

from pathlib import Path

from alkld.records import load_records
from alkld.records.reference import render

from .conftest import ROOT, seeds_dir


def test_reference_page_is_current() -> None:
    page = (ROOT / "docs" / "record-format.md").read_text(encoding="utf-8")
    assert page == render(), "run: python -m alkld.records.reference"


def test_repository_records_load() -> None:
    records = load_records(ROOT / "cases")
    sources = {r.record.source_file for r in records}
    seeds = {p.name for p in seeds_dir().glob("*.txt")}
    assert sources == seeds, "every seed document has exactly one record"
    assert sum(len(r.record.cases) for r in records) >= 4


def test_record_lines_are_tracked(tmp_path: Path) -> None:
    record = load_records(ROOT / "cases")[0]
    line = record.line_of(("cases", 0, "patient", "age"))
    text = record.path.read_text(encoding="utf-8").splitlines()
    assert line is not None and "age" in text[line - 1]
