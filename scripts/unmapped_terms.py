"""List the term labels of case records that have no row in the mapping tables.

Usage: python scripts/unmapped_terms.py cases/*.yaml
Prints one line per (label, category) missing, so a curator knows which rows to add.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from alkld.mapping.tables import TermMapper  # noqa: E402
from alkld.rdf.build import slot_of  # noqa: E402
from alkld.records.loader import load_record  # noqa: E402
from alkld.records.model import Node, TermSlot  # noqa: E402


def terms(obj: Node) -> list[tuple[str, str]]:
    out = []
    for name in type(obj).model_fields:
        value = getattr(obj, name)
        slot = slot_of(type(obj), name)
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(slot, TermSlot) and isinstance(v, str):
                out.append((v, slot.category))
            elif isinstance(v, Node):
                out.extend(terms(v))
    return out


def main() -> None:
    mapper = TermMapper.from_directory(ROOT / "mappings")
    missing: set[tuple[str, str]] = set()
    for arg in sys.argv[1:]:
        record = load_record(Path(arg)).record
        for label, category in terms(record.publication) + [
                t for case in record.cases for t in terms(case)]:
            if not mapper.candidates(label):
                missing.add((label, category))
    for label, category in sorted(missing, key=lambda t: (t[1], t[0].lower())):
        print(f"{category}\t{label}")


if __name__ == "__main__":
    main()
