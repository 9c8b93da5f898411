"""Interoperability: export case records to GA4GH Phenopackets v2 and KGX, import Phenopackets.

Every exporter reads the typed records (:mod:`alkld.records`) and the curated mapping tables
(:mod:`alkld.mapping.tables`), never the RDF release, so an export does not need a build.
What each format cannot hold is listed field by field in ``docs/interop.md``.

The format libraries are an optional extra (``pip install alkld[interop]``): the
``phenopackets`` package is imported only when a Phenopacket is checked or read.
"""

from alkld.interop.kgx import to_kgx, write_kgx
from alkld.interop.phenopackets import (
    ImportReport,
    from_phenopacket,
    import_phenopackets,
    to_phenopacket,
    to_phenopackets,
    write_phenopackets,
)

__all__ = [
    "ImportReport",
    "from_phenopacket",
    "import_phenopackets",
    "to_kgx",
    "to_phenopacket",
    "to_phenopackets",
    "write_kgx",
    "write_phenopackets",
]
