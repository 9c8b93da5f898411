"""Namespaces, the prefix map, and named terms used across alkld.

One place for every IRI the code writes, so that code and tests read as biology
rather than as strings. The canonical IRI forms follow ``docs/identifiers.md``:

* OBO ontologies (MONDO, UBERON, HP, NCIT, UO, ...): ``http://purl.obolibrary.org/obo/MONDO_0017602``
* MeSH: MeSH RDF's own ``http://id.nlm.nih.gov/mesh/D009362``
* PubChem compounds: PubChemRDF's own ``http://rdf.ncbi.nlm.nih.gov/pubchem/compound/CID49806720``
* NCBI Gene: Biolink/Monarch's ``http://identifiers.org/ncbigene/238``

The other forms in circulation are linked with ``skos:exactMatch`` (see :data:`ALTERNATE_FORMS`).

>>> CONVERTER.expand("MONDO:0017602")
'http://purl.obolibrary.org/obo/MONDO_0017602'
>>> CONVERTER.expand("pubchem.compound:49806720")
'http://rdf.ncbi.nlm.nih.gov/pubchem/compound/CID49806720'
>>> CONVERTER.compress("http://identifiers.org/ncbigene/238")
'NCBIGene:238'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import curies
from rdflib import Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, PROV, RDF, RDFS, SKOS, VOID, XSD

__all__ = [
    "ALKLD",
    "ALTERNATE_FORMS",
    "BIBO",
    "CITO",
    "CONVERTER",
    "DCAT",
    "DCTERMS",
    "DEFAULT_BASE",
    "expand_curie",
    "FABIO",
    "FOAF",
    "IDENTIFIER_PATTERNS",
    "OA",
    "OBO",
    "OWL",
    "PREFIX_MAP",
    "PRISM",
    "PROV",
    "RDF",
    "RDFS",
    "SCHEMA",
    "SD",
    "SEMAPV",
    "SKOS",
    "UNITS",
    "Unit",
    "VOID",
    "XSD",
    "alternate_iris",
]

#: The default base under which alkld mints the IRIs of its own resources.
DEFAULT_BASE = "https://w3id.org/alkld/"


class _Namespace(Namespace):
    """rdflib's ``Namespace`` giving one ``URIRef`` object a term.

    rdflib's makes a new, equal object at each ``ALKLD.disease``: a dict holding one then
    compares the other with ``URIRef.__eq__``, Python code, where the same object is found
    on identity (the claims and the build look terms up by the thousand a record).
    """

    def term(self, name: str) -> URIRef:
        terms = _TERMS.get(self)  # by the namespace itself: no copy of its string a call
        if terms is None:
            terms = _TERMS[self] = {}
        found = terms.get(name)
        if found is None:
            found = terms[name] = super().term(name)
        return found


_TERMS: dict[Namespace, dict[str, URIRef]] = {}

#: The alkld ontology (TBox); fixed, whatever base the data is published under.
ALKLD = _Namespace("https://w3id.org/alkld/ontology#")

OBO = _Namespace("http://purl.obolibrary.org/obo/")
OA = _Namespace("http://www.w3.org/ns/oa#")
FABIO = _Namespace("http://purl.org/spar/fabio/")
CITO = _Namespace("http://purl.org/spar/cito/")
PRISM = _Namespace("http://prismstandard.org/namespaces/basic/2.0/")
BIBO = _Namespace("http://purl.org/ontology/bibo/")
SCHEMA = _Namespace("http://schema.org/")
SEMAPV = _Namespace("https://w3id.org/semapv/vocab/")
SD = _Namespace("http://www.w3.org/ns/sparql-service-description#")
SSSOM = _Namespace("https://w3id.org/sssom/")

#: CURIE prefix → IRI prefix, the single written-down form of every identifier space.
#: Prefixes follow the Bioregistry's preferred capitalisation.
PREFIX_MAP: dict[str, str] = {
    "MONDO": "http://purl.obolibrary.org/obo/MONDO_",
    "UBERON": "http://purl.obolibrary.org/obo/UBERON_",
    "HP": "http://purl.obolibrary.org/obo/HP_",
    "NCIT": "http://purl.obolibrary.org/obo/NCIT_",
    "UO": "http://purl.obolibrary.org/obo/UO_",
    "OBI": "http://purl.obolibrary.org/obo/OBI_",
    "SO": "http://purl.obolibrary.org/obo/SO_",
    "PATO": "http://purl.obolibrary.org/obo/PATO_",
    "NCBITaxon": "http://purl.obolibrary.org/obo/NCBITaxon_",
    "MESH": "http://id.nlm.nih.gov/mesh/",
    "pubchem.compound": "http://rdf.ncbi.nlm.nih.gov/pubchem/compound/CID",
    "NCBIGene": "http://identifiers.org/ncbigene/",
    "HGNC": "http://identifiers.org/hgnc/",
    "refseq": "http://identifiers.org/refseq/",
    "alkld": str(ALKLD),
}

#: Every converter in alkld uses this one; CURIEs in records and tables use these prefixes.
CONVERTER = curies.Converter.from_prefix_map(PREFIX_MAP)


@lru_cache(maxsize=65_536)
def expand_curie(curie: str) -> str:
    """``CONVERTER.expand_strict(curie)``, once a CURIE (curies rebuilds a prefix map a call).

    >>> expand_curie("NCBIGene:238")
    'http://identifiers.org/ncbigene/238'
    """
    return CONVERTER.expand_strict(curie)


#: Other IRI forms in circulation for the same identifier, linked by ``skos:exactMatch``.
ALTERNATE_FORMS: dict[str, tuple[str, ...]] = {
    "pubchem.compound": ("http://identifiers.org/pubchem.compound/",),
    "NCBIGene": ("http://rdf.ncbi.nlm.nih.gov/pubchem/gene/GID",),
}

#: The local-identifier syntax of each identifier space; the SHACL shapes apply the same
#: patterns to full IRIs (``shapes/alkld.shapes.ttl``).
IDENTIFIER_PATTERNS: dict[str, str] = {
    "MONDO": r"^\d{7}$",
    "UBERON": r"^\d{7}$",
    "HP": r"^\d{7}$",
    "NCIT": r"^C\d+$",
    "UO": r"^\d{7}$",
    "OBI": r"^\d{7}$",
    "SO": r"^\d{7}$",
    "PATO": r"^\d{7}$",
    "NCBITaxon": r"^\d+$",
    "MESH": r"^[CD]\d{6}(\d{3})?$",
    "pubchem.compound": r"^[1-9]\d*$",
    "NCBIGene": r"^[1-9]\d*$",
    "HGNC": r"^\d+$",
    "refseq": r"^N[MRP]_\d+(\.\d+)?$",
    "alkld": r"^[A-Za-z][A-Za-z0-9]*$",
}
_COMPILED = {k: re.compile(v) for k, v in IDENTIFIER_PATTERNS.items()}


def alternate_iris(curie: str) -> list[str]:
    """Return the other IRI forms of ``curie`` in circulation (possibly none).

    >>> alternate_iris("NCBIGene:238")
    ['http://rdf.ncbi.nlm.nih.gov/pubchem/gene/GID238']
    >>> alternate_iris("MONDO:0017602")
    []
    """
    prefix, _, local = curie.partition(":")
    return [p + local for p in ALTERNATE_FORMS.get(prefix, ())]


def is_valid_curie(curie: str) -> bool:
    """Tell whether ``curie`` has a known prefix and a local part of that space's syntax.

    >>> is_valid_curie("MONDO:0017602"), is_valid_curie("MONDO:17602"), is_valid_curie("FOO:1")
    (True, False, False)
    """
    prefix, sep, local = curie.partition(":")
    pattern = _COMPILED.get(prefix)
    return bool(sep) and pattern is not None and bool(pattern.match(local))


@dataclass(frozen=True)
class Unit:
    """A unit of measure: its UCUM code (the identity), label, and UO / QUDT IRIs where known."""

    ucum: str
    label: str
    uo: str | None = None
    qudt: str | None = None


_QUDT = "http://qudt.org/vocab/unit/"

#: Units a record may use, keyed by the symbol written in records (UCUM codes, plus the
#: conventional spellings curators write). A unit outside this table is a record error.
UNITS: dict[str, Unit] = {
    "%": Unit("%", "percent", "UO:0000187", _QUDT + "PERCENT"),
    "mg": Unit("mg", "milligram", "UO:0000022", _QUDT + "MilliGM"),
    "mg/dL": Unit("mg/dL", "milligram per decilitre", None, _QUDT + "MilliGM-PER-DeciL"),
    "mm": Unit("mm", "millimetre", "UO:0000016", _QUDT + "MilliM"),
    "cm": Unit("cm", "centimetre", "UO:0000015", _QUDT + "CentiM"),
    "mitoses/10 HPF": Unit("{mitoses}/(10.{HPF})", "mitoses per 10 high-power fields"),
    "SUV": Unit("{SUV}", "standardized uptake value (g/mL, dimensionless as reported)"),
    "copies": Unit("{copies}", "copy number (copies per cell)"),
    "x": Unit("{fold}", "fold (sequencing depth)"),
    "genes": Unit("{genes}", "number of genes"),
    "cases": Unit("{cases}", "number of cases"),
    "day": Unit("d", "day", "UO:0000033", _QUDT + "DAY"),
    "week": Unit("wk", "week", "UO:0000034", _QUDT + "WK"),
    "month": Unit("mo", "month", "UO:0000035", _QUDT + "MO"),
    "year": Unit("a", "year", "UO:0000036", _QUDT + "YR"),
}
