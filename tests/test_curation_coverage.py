"""Curation coverage: every number, date and identifier token of each seed document is in its record.

For each seed document, every token holding a digit (``35``, ``15.9``, ``2019``, ``CD34``,
``L4``, ``NM_004304``, ``HA22C0052``) and every number word (``six cycles``, ``two months``)
must lie inside a span of the document that the record accounts for:

1. a span an **evidence quote** of the record matches (the quote found in the text), or
2. a span a **curated string value** matches (a title, a DOI, an author list, a venue), or
3. a **reference-list line** of a cited work the record lists (the line holds its title,
   authors or venue), when the token is one of that citation's values (number, year,
   volume, pages, DOI).

Matching is loose: case, punctuation, markdown emphasis, line breaks and words hyphenated
across lines are ignored, so ``5′-CARS1 (exon 1-18`` and ``5'-CARS1 (exon 1-18`` agree.
What is not a fact is listed in :data:`NOT_FACTS`, each pattern with its reason. A token
left over means a fact of the document is missing from its record: the failure lists
each with its context so a curator can add it.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from alkld.records import load_records
from alkld.records.loader import LoadedRecord
from alkld.records.model import Citation, Node

from .conftest import ROOT, seeds_dir

NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve half twice once".split())

#: Spans of the documents that hold digits but no fact, with why. Patterns apply to the text
#: with line breaks collapsed (words hyphenated across lines joined).
NOT_FACTS: dict[str, list[tuple[str, str]]] = {
    "*": [
        (r"\((?:see )?(?:Fig\.|[Ff]igure) ?\d+[A-H]?(?:[-–][A-H])?\)|(?:Fig\.|Figure) ?\d+\.?"
         r"(?= ?\(?[A-Z(])|\(figures? \d+[A-H]?\)",
         "figure numbers and panel letters point inside the document; they are not facts"),
        (r"\[\d+(?:[,–-] ?\d+)*\]",
         "bracketed citation markers point to the reference list, which the record lists "
         "by number under publication.cites"),
    ],
    "000_0b8bba5aecb765f8.txt": [
        (r"View all \d+ articles", "publisher page furniture (size of the research topic)"),
        (r"(?<=alectinib) 2(?= induced)",
         "a stray superscript marker after the drug name in the publisher's abstract: no unit, "
         "no dose, no reference list on the page"),
    ],
    "001_74c47267c81a2220.txt": [
        (r"\d+ figures with captions in the complete paper",
         "summary-site furniture: what the full paper (not this page) holds"),
        (r"\d+ references — full list in the complete paper",
         "summary-site furniture: what the full paper (not this page) holds"),
    ],
    "002_d79e52eabbff0b38.txt": [
        (r"(?<=[a-z]\.)\d(?: \d)*(?= )",
         "superscript citation markers set on the line after a sentence ('mortality.1'); the "
         "page prints no reference list to resolve them"),
    ],
    "003_6a742c1b54491be7.txt": [
        (r"ONCODAILY MEDICAL JOURNAL EPHOC \d{4} ABU DHABI UAE",
         "the running page header, repeated on every page (the conference itself is in "
         "publication.conference)"),
    ],
    "004_59f24adc079fb453.txt": [
        (r"\((?:H&E|ALK), ×\d+\)",
         "microscope magnification of a figure panel: it describes the image, not the patient"),
    ],
}


def loose(text: str) -> str:
    """Lower case, hyphenation across lines joined, every run of punctuation one space.

    A decimal point or comma between digits is kept as ``d`` so that ``15.9`` stays one
    token (and does not match ``15`` and ``9``).
    """
    text = re.sub(r"-\n\s*", "", text)
    text = re.sub(r"(?<=\d)[.,](?=\d)", "d", text)
    text = text.replace("′", "'").replace("’", "'").lower()
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


@dataclass
class Accounted:
    """What a record offers to account for tokens: quotes, string values, citations."""

    quotes: set[str] = field(default_factory=set)
    values: set[str] = field(default_factory=set)
    citations: list[tuple[set[str], set[str]]] = field(default_factory=list)


def _leaves(value: object) -> list[str]:
    """Every scalar under ``value`` as text (numbers included, booleans not)."""
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, Node):
        return [leaf for name in type(value).model_fields
                for leaf in _leaves(getattr(value, name))]
    if isinstance(value, str | int | Decimal) and not isinstance(value, bool):
        return [str(value)]
    return []


def accounted(loaded: LoadedRecord) -> Accounted:
    """The quotes, string values and citations of one record, loosely normalised."""
    acc = Accounted()

    def walk(obj: object) -> None:
        if isinstance(obj, list):
            for item in obj:
                walk(item)
            return
        if not isinstance(obj, Node):
            return
        if isinstance(obj, Citation):
            anchors = {loose(obj.title), loose(obj.authors)} | (
                {loose(obj.venue)} if obj.venue else set())
            tokens = {t for leaf in _leaves(obj) for t in loose(leaf).split()}
            acc.citations.append((anchors, tokens))
        for name in type(obj).model_fields:
            value = getattr(obj, name)
            if name == "quote" and isinstance(value, str):
                acc.quotes.add(loose(value))
            elif name == "also_quoted":
                acc.quotes.update(loose(q) for q in value)
            elif isinstance(value, str):
                acc.values.add(loose(value))
            elif isinstance(value, list) and value and isinstance(value[0], str):
                acc.values.update(loose(v) for v in value)
            else:
                walk(value)

    walk(loaded.record.publication)
    walk(loaded.record.cases)
    return acc


def _spans(haystack: str, needle: str) -> list[tuple[int, int]]:
    """Every occurrence of ``needle`` in ``haystack`` on token boundaries."""
    pattern = re.compile(r"(?<![0-9a-z])" + re.escape(needle) + r"(?![0-9a-z])")
    return [(m.start(), m.end()) for m in pattern.finditer(haystack)]


def _is_counted(token: str) -> bool:
    return bool(re.search(r"\d", token)) or token in NUMBER_WORDS


def uncovered(text: str, name: str, acc: Accounted) -> list[str]:
    """The tokens of ``text`` (document ``name``) that no part of the record accounts for."""
    joined = re.sub(r"-\n\s*", "", text).replace("**", "")
    collapsed = " ".join(joined.split())
    for pattern, _reason in NOT_FACTS["*"] + NOT_FACTS.get(name, []):
        collapsed = re.sub(pattern, lambda m: " " * len(m.group(0)), collapsed)
    doc = loose(collapsed)
    needles = acc.quotes | {v for v in acc.values if len(v.replace(" ", "")) >= 3}
    # Rule 3: a reference-list line is accounted for by the citation it names when each of
    # its counted tokens is one of that citation's values.
    for line in joined.split("\n"):
        lline = loose(line)
        for anchors, tokens in acc.citations:
            if any(a and a in lline for a in anchors) and all(
                    t in tokens for t in lline.split() if _is_counted(t)):
                needles.add(lline)
    covered = [False] * len(doc)
    for needle in needles:
        if needle:
            for start, end in _spans(doc, needle):
                covered[start:end] = [True] * (end - start)
    return [f"{m.group(0)!r} in …{doc[max(0, m.start() - 50):m.end() + 50]}…"
            for m in re.finditer(r"[0-9a-z]+", doc)
            if _is_counted(m.group(0)) and not all(covered[m.start():m.end()])]


RECORDS = {r.record.source_file: r for r in load_records(ROOT / "cases")}


@pytest.mark.parametrize("source", sorted(RECORDS))
def test_every_number_of_the_document_is_in_its_record(source: str) -> None:
    seed: Path = seeds_dir() / source
    text = seed.read_text(encoding="utf-8")
    missing = uncovered(text, source, accounted(RECORDS[source]))
    assert not missing, (f"{len(missing)} tokens of {source} are in no quote or value of "
                         f"its record:\n" + "\n".join(missing))


def test_the_check_fails_when_a_fact_is_missing() -> None:
    """Drop the quotes that hold the calcium value: the check names 15.9 as missing."""
    source = "004_59f24adc079fb453.txt"
    text = (seeds_dir() / source).read_text(encoding="utf-8")
    acc = accounted(RECORDS[source])
    acc.quotes = {q for q in acc.quotes if "15d9" not in q}
    acc.values = {v for v in acc.values if "15d9" not in v}
    missing = uncovered(text, source, acc)
    assert any(m.startswith("'15d9'") for m in missing), missing


def test_the_check_fails_when_a_reference_is_missing() -> None:
    """Drop reference 8 (N Engl J Med 2010;363:1727-33): its volume and pages are reported."""
    source = "004_59f24adc079fb453.txt"
    text = (seeds_dir() / source).read_text(encoding="utf-8")
    loaded = RECORDS[source]
    pub = loaded.record.publication
    pub = pub.model_copy(update={"cites": [c for c in pub.cites if c.number != 8]})
    record = loaded.record.model_copy(update={"publication": pub})
    acc = accounted(dataclasses.replace(loaded, record=record))
    missing = {m.split()[0] for m in uncovered(text, source, acc)}
    assert {"'363'", "'1727'"} <= missing, missing


def test_every_allow_list_pattern_matches_its_document() -> None:
    """An allow-list entry that matches nothing is stale: remove it."""
    for name, patterns in NOT_FACTS.items():
        sources = sorted(RECORDS) if name == "*" else [name]
        for pattern, reason in patterns:
            hits = 0
            for source in sources:
                text = (seeds_dir() / source).read_text(encoding="utf-8")
                collapsed = " ".join(re.sub(r"-\n\s*", "", text).replace("**", "").split())
                hits += len(re.findall(pattern, collapsed))
            assert hits, f"{name}: {pattern!r} ({reason}) matches nothing"
