"""Reasoning over the alkld ontology with HermiT (through owlready2).

owlready2 reads RDF/XML, N-Triples and OWL/XML, not Turtle: the Turtle source is converted
with rdflib into a temporary RDF/XML file first. HermiT runs on Java; its absence is an error.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph

from alkld.errors import ConfigurationError

__all__ = ["OntologyReport", "check_ontology"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OntologyReport:
    """HermiT's verdict: consistency and the unsatisfiable classes (IRIs)."""

    consistent: bool
    unsatisfiable: list[str] = field(default_factory=list)
    reasoner: str = "HermiT"
    classes: int = 0


def check_ontology(path: Path) -> OntologyReport:
    """Load ``path`` (Turtle) with owlready2 and classify it with HermiT."""
    import owlready2

    if shutil.which("java") is None:
        raise ConfigurationError("java is not installed; HermiT needs it",
                                 expected="a Java runtime on PATH")
    graph = Graph().parse(path, format="turtle")
    with tempfile.TemporaryDirectory() as tmp:
        rdfxml = Path(tmp) / "alkld.owl"
        graph.serialize(rdfxml, format="xml")
        world = owlready2.World()
        onto = world.get_ontology(rdfxml.as_uri()).load()
        n_classes = len(list(onto.classes()))
        try:
            with onto:
                owlready2.sync_reasoner_hermit(world, infer_property_values=False,
                                               debug=0)
        except owlready2.OwlReadyInconsistentOntologyError:
            return OntologyReport(consistent=False, classes=n_classes)
        unsatisfiable = sorted(c.iri for c in world.inconsistent_classes()
                               if c.iri != "http://www.w3.org/2002/07/owl#Nothing")
    return OntologyReport(consistent=True, unsatisfiable=unsatisfiable, classes=n_classes)
