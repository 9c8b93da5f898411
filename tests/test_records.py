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


def _safe_loader_view(text: str, path: Path) -> tuple[object, dict[tuple[str | int, ...], int]]:
    """What the loader did in two passes before: PyYAML's own constructor, then the lines."""
    import yaml

    from alkld.records.loader import _index_lines, _Loader

    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root)
        lines: dict[tuple[str | int, ...], int] = {}
        _index_lines(root, (), lines, path)
    finally:
        loader.dispose()
    assert isinstance(root, yaml.Node)
    return data, lines


EDGE_YAML = """\
plain: text
number: 12
float: 1.5e3
flags: [yes, no, on, false, ~, null]
date: 2019-05-01
quoted: "2019-05-01"
explicit: !!str 42
octal: 0o17
anchored: &a {x: 1, y: [a, b]}
alias: *a
merged:
  <<: *a
  z: 3
ints_as_keys: {1: one, 2: two}
set: !!set {a, b}
nested:
  - {k: v, list: [1, 2.5, "3"]}
  - - deep
    - 2020-01-02T03:04:05Z
"""


def test_one_pass_loader_gives_the_safe_loaders_data_and_lines(tmp_path: Path) -> None:
    """The records are read in one pass (data and lines); the result is PyYAML's safe
    constructor's data and the lines the two-pass reading recorded, on every record of the
    repository, a synthetic corpus and a document of YAML's edge cases (merge keys, aliases,
    explicit tags, YAML 1.1 booleans, dates, non-string keys, sets)."""
    from alkld.records.loader import _construct, _Loader
    from alkld.synth import Pools, write_synthetic

    write_synthetic(tmp_path / "synth", Pools.from_cases(ROOT / "cases"), cases=300, seed=3)
    texts = [(p, p.read_text(encoding="utf-8"))
             for p in [*sorted((ROOT / "cases").glob("*.yaml")),
                       *sorted((tmp_path / "synth").glob("*.yaml"))]]
    texts.append((tmp_path / "edge.yaml", EDGE_YAML))
    for path, text in texts:
        want_data, want_lines = _safe_loader_view(text, path)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            lines: dict[tuple[str | int, ...], int] = {}
            data = _construct(loader, root, (), lines, path)
        finally:
            loader.dispose()
        assert data == want_data, path
        assert lines == want_lines, path
