"""Malformed records: each gets a located error, exit code 2, and output/ stays as it was.

Each case mutates a frozen valid record (fixtures/records/base.yaml) by replacing one
snippet; the error must name the file, the line where the mutation sits, and the field.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from alkld.cli import cli

from .conftest import FIXTURES, ROOT, tree_digest

BASE = (FIXTURES / "records" / "base.yaml").read_text(encoding="utf-8")

# (id, old snippet, new snippet, expected field (substring), expected message (substring));
# the error must name the line of the first changed line, or of ANCHORS[id] where the error
# is about an enclosing object (a missing field, a cross-field rule).
ANCHORS = {
    "dose-without-unit": "- quantity: {value: 600}",
    "observed-fusion-without-partner": "- id: alk-fusion",
}
MUTATIONS = [
    ("yaml-syntax", 'reported_as: "cerebellar ALK+ ALCL"', 'reported_as: "cerebellar ALK+ ALCL',
     None, "YAML syntax error"),
    ("unknown-field", "      sex: male\n", "      sex: male\n      height: 180\n",
     "patient.height", "unknown field"),
    ("wrong-type", "age: {value: 35, unit: year}", "age: {value: thirty-five, unit: year}",
     "patient.age.value", "decimal"),
    ("negative-age", "age: {value: 35, unit: year}", "age: {value: -35, unit: year}",
     "patient.age.value", "greater than or equal to 0"),
    ("age-unit", "age: {value: 35, unit: year}", "age: {value: 35, unit: decade}",
     "patient.age.unit", "'day', 'week', 'month' or 'year'"),
    ("unknown-unit", 'quantity: {value: 60, unit: "%"}', 'quantity: {value: 60, unit: "furlong"}',
     "measurements[0].quantity.unit", "unknown unit 'furlong'"),
    ("future-date", 'received: "2025-04-30"', 'received: "2999-04-30"',
     "publication.received", "in the future"),
    ("impossible-date", 'received: "2025-04-30"', 'received: "2025-02-30"',
     "publication.received", "not a calendar date"),
    ("percent-over-100", 'quantity: {value: 60, unit: "%"}', 'quantity: {value: 160, unit: "%"}',
     "measurements[0].quantity", "within 0-100"),
    ("unmapped-term", "disease: infectious encephalitis", "disease: martian influenza",
     "diagnoses[2].disease", "no mapping for 'martian influenza'"),
    ("three-prime-not-alk", "three_prime: {gene: ALK}", "three_prime: {gene: Ki-67}",
     "fusions[0].three_prime.gene", "3' partner"),
    ("dose-without-unit", "        quote: \"Targeted therapy with",
     "        doses:\n          - quantity: {value: 600}\n            quote: \"600 mg\"\n"
     "        quote: \"Targeted therapy with", "doses[0].quantity.unit", "missing"),
    ("triple-quote-injection", "title: Cerebellar ALK-positive", 'title: Cerebellar """ ALK-positive',
     "cases[0].title", "triple quote"),
    ("script-injection", "country: China", "country: <script>alert(1)</script>",
     "patient.country", "markup"),
    ("turtle-injection", "country: China", "country: 'China> . <x> <y> <z'",
     "patient.country", "markup"),
    ("duplicate-yaml-key", "      sex: male\n", "      sex: male\n      sex: female\n",
     "patient.sex", "duplicate key"),
    ("unknown-reference", "basis: [biopsy, ki67]", "basis: [biopsy, pet-scan]",
     "diagnoses[0].basis[1]", "names no fact"),
    ("duplicate-id", "      - id: dx-alk-alcl", "      - id: dx", "id", "duplicate id 'dx'"),
    ("unknown-enum", "status: misdiagnosis", "status: maybe", "diagnoses[2].status",
     "'confirmed', 'misdiagnosis'"),
    ("record-version", "alkld_record: 1", "alkld_record: 7", "alkld_record", "1"),
    ("bad-doi", "  status: provisionally accepted", "  doi: not-a-doi\n  status: provisionally accepted",
     "publication.doi", "10"),
    ("bad-case-key", "  - key: hao2026-case1", "  - key: Hao 2026 Case", "cases[0].key",
     "pattern"),
    ("no-diagnosis", "    diagnoses:\n      - id: dx\n", "    diagnoses: []\n    old:\n      - id: dx\n",
     "cases[0]", ""),
    ("quote-too-short", 'quote: "a 35-year-old male"', 'quote: "a"', "patient.quote", "at least 3"),
    ("observed-fusion-without-partner", "status: inferred", "status: observed", "fusions[0]",
     "5' partner"),
]


def _line_of(text: str, snippet: str) -> int:
    return text[: text.index(snippet)].count("\n") + 1


@pytest.fixture(scope="module")
def previous_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A valid release already in the output directory, and its digests."""
    out = tmp_path_factory.mktemp("prev") / "output"
    result = CliRunner().invoke(cli, ["build", "--cases", str(ROOT / "cases"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, tree_digest(out)


def test_there_are_at_least_20_malformed_records() -> None:
    assert len(MUTATIONS) >= 20


@pytest.mark.parametrize(("name", "old", "new", "field", "message"), MUTATIONS,
                         ids=[m[0] for m in MUTATIONS])
def test_malformed_record(name: str, old: str, new: str, field: str | None, message: str,
                          tmp_path: Path, previous_output: tuple[Path, dict[str, str]]) -> None:
    out, before = previous_output
    assert old in BASE, f"fixture snippet for {name} not found"
    text = BASE.replace(old, new, 1)
    cases = tmp_path / "cases"
    cases.mkdir()
    path = cases / "bad.yaml"
    path.write_text(text, encoding="utf-8")

    result = CliRunner().invoke(cli, ["build", "--cases", str(cases), "--out", str(out)])

    assert result.exit_code == 2, result.output
    err = result.stderr
    assert str(path) in err
    assert re.search(re.escape(str(path)) + r":\d+: ", err), "the error names a line"
    if field:
        assert field in err, err
        old_lines = [line.strip() for line in old.strip().splitlines()]
        changed = ANCHORS.get(name) or next(line.strip() for line in new.strip().splitlines()
                                            if line.strip() not in old_lines)
        if name not in {"no-diagnosis", "duplicate-id", "record-version"}:
            assert f":{_line_of(text, changed)}:" in err, (err, _line_of(text, changed))
    assert message in err, err
    assert tree_digest(out) == before


def test_duplicate_case_key_across_files(tmp_path: Path,
                                         previous_output: tuple[Path, dict[str, str]]) -> None:
    out, before = previous_output
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "a.yaml").write_text(BASE)
    (cases / "b.yaml").write_text(BASE.replace("key: hao2026-cerebellar-alcl", "key: other-doc"))
    result = CliRunner().invoke(cli, ["build", "--cases", str(cases), "--out", str(out)])
    assert result.exit_code == 2
    assert "duplicate case key 'hao2026-case1'" in result.stderr
    assert "b.yaml:" in result.stderr and "cases[0].key" in result.stderr
    assert tree_digest(out) == before


def test_not_utf8(tmp_path: Path, previous_output: tuple[Path, dict[str, str]]) -> None:
    out, before = previous_output
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "latin1.yaml").write_bytes(BASE.replace("©", "\xa9").encode("latin-1"))
    result = CliRunner().invoke(cli, ["build", "--cases", str(cases), "--out", str(out)])
    assert result.exit_code == 2
    assert "latin1.yaml" in result.stderr and "UTF-8" in result.stderr
    assert tree_digest(out) == before


def test_empty_cases_directory(tmp_path: Path) -> None:
    (tmp_path / "cases").mkdir()
    result = CliRunner().invoke(cli, ["build", "--cases", str(tmp_path / "cases"),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "no case records here" in result.stderr
    assert not (tmp_path / "out").exists()


def test_bad_base_iri(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["build", "--base", "ftp://x", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "--base" in result.stderr


def test_loader_error_attributes(tmp_path: Path) -> None:
    """Errors carry what failed as attributes, not only in the message."""
    from alkld.errors import CaseRecordError
    from alkld.records import load_record

    path = tmp_path / "x.yaml"
    path.write_text(BASE.replace("value: 35", "value: -35"))
    with pytest.raises(CaseRecordError) as info:
        load_record(path)
    assert info.value.path == str(path)
    assert info.value.field == "cases[0].patient.age.value"
    assert info.value.line == _line_of(path.read_text(), "value: -35")


def test_unmapped_term_error_names_term_file_line(tmp_path: Path) -> None:
    from alkld.errors import MappingError
    from alkld.mapping.tables import TermMapper
    from alkld.rdf.build import to_case_graphs
    from alkld.records import load_record

    path = tmp_path / "x.yaml"
    path.write_text(BASE.replace("sites: [cerebellum]", "sites: [cerebelum]", 1))
    mapper = TermMapper.from_directory(ROOT / "mappings")
    with pytest.raises(MappingError) as info:
        to_case_graphs(load_record(path), mapper, base="https://w3id.org/alkld/")
    assert info.value.term == "cerebelum"
    assert info.value.path == str(path)
    assert info.value.line == _line_of(path.read_text(), "sites: [cerebelum]")
    assert info.value.field == "cases[0].diagnoses[0].sites[0]"



DOSE_BEFORE_COURSE = ('''        targeted: true
        when: {anchor: dx}
        quote: "Targeted therapy with the CNS-penetrant ALK inhibitor alectinib"''',
                      '''        targeted: true
        start: "2023-02-09"
        doses:
          - id: alectinib-dose
            start: "2022-12-01"
            descriptor: standard dose
            quote: "Targeted therapy with the CNS-penetrant ALK inhibitor alectinib"
        quote: "Targeted therapy with the CNS-penetrant ALK inhibitor alectinib"''')


@pytest.mark.parametrize("validator", ["rudof", "pyshacl"])
def test_shacl_violation_exits_1_and_writes_nothing(
        validator: str, tmp_path: Path, previous_output: tuple[Path, dict[str, str]]) -> None:
    """A record the loader accepts but the shapes reject (a dose before its course)."""
    out, before = previous_output
    old, new = DOSE_BEFORE_COURSE
    assert old in BASE
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "late.yaml").write_text(BASE.replace(old, new, 1), encoding="utf-8")
    result = CliRunner().invoke(cli, ["build", "--cases", str(cases), "--out", str(out),
                                      "--validator", validator, "--no-cache"])
    assert result.exit_code == 1, result.output
    assert "1 SHACL violation(s); nothing was published" in result.stderr
    assert ("Violation https://w3id.org/alkld/graph/case-hao2026-case1 "
            "https://w3id.org/alkld/node/hao2026-case1-alectinib") in result.stderr
    assert "before its treatment course starts (2023-02-09)" in result.stderr
    assert tree_digest(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name], "no staging left"
