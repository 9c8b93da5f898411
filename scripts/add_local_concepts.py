"""Declare in ontology/alkld.ttl every local concept listed in mappings/incoming/*-local-concepts.tsv.

A local concept (alkld:PartialResponse, ...) is what a mapping points to when no external
identifier could be verified; the ontology must declare it (label, definition) or the
coherence test fails. Concepts already declared are left alone. Usage:
python scripts/add_local_concepts.py
"""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# --- structure: object properties from a case"


def main() -> None:
    path = ROOT / "ontology" / "alkld.ttl"
    text = path.read_text(encoding="utf-8")
    added = ""
    for tsv in sorted((ROOT / "mappings" / "incoming").glob("*-local-concepts.tsv")):
        with tsv.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                local = row["id"].split(":", 1)[1]
                head = f"alkld:{local} a owl:NamedIndividual"
                if head in text or head in added:
                    continue
                label = row["label"].replace('"', '\\"')
                definition = row["definition"].replace('"', '\\"')
                added += (f'{head}, alkld:ClinicalConcept ; rdfs:label "{label}" ; '
                          f'skos:prefLabel "{label}" ;\n    skos:definition "{definition}" .\n')
    if added:
        path.write_text(text.replace(MARKER, added + "\n" + MARKER), encoding="utf-8")
    print(added or "nothing to add")


if __name__ == "__main__":
    main()
