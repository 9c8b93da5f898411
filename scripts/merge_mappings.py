"""Merge curators' mapping rows (mappings/incoming/*.tsv) into the published SSSOM tables.

Writes mappings/terms.sssom.tsv (reported label → identifier) and mappings/xrefs.sssom.tsv
(identifier ↔ identifier), each with its SSSOM metadata block, rows sorted and deduplicated.
Two rows for the same (subject, object) with different predicates are a conflict: the
script names both files and stops. Usage: python scripts/merge_mappings.py [--keep-incoming]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from alkld.vocab import PREFIX_MAP  # noqa: E402

COLUMNS = ["subject_id", "subject_label", "subject_category", "predicate_id", "object_id",
           "object_label", "mapping_justification", "confidence", "comment"]
EXTRA_PREFIXES = {
    "alkldterm": "https://w3id.org/alkld/term/",
    "semapv": "https://w3id.org/semapv/vocab/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
}
DESCRIPTIONS = {
    "terms": ("alkld reported-term mappings",
              "Each label as curated from a seed document, mapped to MONDO, UBERON, HP, MeSH, "
              "NCBI Gene, PubChem and other identifiers."),
    "xrefs": ("alkld cross-references",
              "Cross-references between the external identifiers alkld uses "
              "(MONDO, NCIT, MeSH, PubChem, NCBI Gene, HGNC)."),
}


def header(kind: str, prefixes: set[str]) -> str:
    title, description = DESCRIPTIONS[kind]
    all_prefixes = {**PREFIX_MAP, **EXTRA_PREFIXES}
    lines = ["curie_map:"]
    for p in sorted(prefixes | {"semapv", "skos"}, key=str.lower):
        lines.append(f"  {p}: {all_prefixes[p]}")
    lines += [
        f"mapping_set_id: https://w3id.org/alkld/mappings/{kind}.sssom.tsv",
        f"mapping_set_title: {title}",
        f"mapping_set_description: {description}",
        "license: https://creativecommons.org/publicdomain/zero/1.0/",
        "mapping_set_version: '1'",
        "creator_label:",
        "  - alkld curation team",
    ]
    return "".join(f"# {line}\n" for line in lines)


def read_rows(paths: list[Path]) -> list[dict[str, str]]:
    rows: dict[tuple[str, str, str], tuple[dict[str, str], Path]] = {}
    for path in paths:
        with path.open(encoding="utf-8", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh, delimiter="\t"), start=2):
                row = {c: (row.get(c) or "").strip() for c in COLUMNS}
                key = (row["subject_label"].casefold() if row["subject_id"].startswith(
                    "alkldterm:") else row["subject_id"], row["subject_id"], row["object_id"])
                if key in rows:
                    prev, prev_path = rows[key]
                    if prev["predicate_id"] != row["predicate_id"]:
                        sys.exit(f"{path}:{i}: {row['subject_label']} → {row['object_id']} is "
                                 f"{row['predicate_id']} here but {prev['predicate_id']} in "
                                 f"{prev_path}")
                    continue
                rows[key] = (row, path)
    return sorted((r for r, _ in rows.values()),
                  key=lambda r: (r["subject_label"].casefold(), r["subject_id"], r["object_id"]))


def write_table(kind: str, rows: list[dict[str, str]]) -> None:
    prefixes = {r[c].split(":", 1)[0] for r in rows for c in ("subject_id", "object_id")}
    out = ROOT / "mappings" / f"{kind}.sssom.tsv"
    tmp = out.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        fh.write(header(kind, prefixes))
        writer = csv.DictWriter(fh, COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(out)
    print(f"wrote {out.relative_to(ROOT)}: {len(rows)} rows")


def main() -> None:
    incoming = ROOT / "mappings" / "incoming"
    existing = {k: ROOT / "mappings" / f"{k}.sssom.tsv" for k in ("terms", "xrefs")}
    terms = sorted(p for p in incoming.glob("*.tsv")
                   if not p.stem.endswith(("-xrefs", "-local-concepts")))
    xrefs = sorted(incoming.glob("*-xrefs.tsv"))

    def strip_header(p: Path) -> list[Path]:
        if not p.exists():
            return []
        plain = p.with_suffix(".plain.tmp")
        plain.write_text("".join(line for line in p.read_text().splitlines(keepends=True)
                                 if not line.startswith("#")))
        return [plain]

    for kind, paths in (("terms", terms), ("xrefs", xrefs)):
        sources = strip_header(existing[kind]) + paths
        try:
            write_table(kind, read_rows(sources))
        finally:
            for s in sources:
                if s.suffix == ".tmp":
                    s.unlink()


if __name__ == "__main__":
    main()
