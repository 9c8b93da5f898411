"""The claims graph: one CIViC-shaped evidence item per fusion, drug and disease seen together.

Derived from the case graphs (stage 3, after every record is built): for each case, each
ALK fusion × each drug whose course a response assessment judged × each confirmed diagnosis
gives one ``alkld:EvidenceItem`` — "CARS1::ALK — sensitivity/response to alectinib —
inflammatory myofibroblastic tumour, case study, reported in DOI …" — with CIViC's evidence
level (C, case study), type (predictive), direction (supports) and significance (from the
response category), the supporting response, the source publication and the case it was
derived from. Its evidence is the response's own quote.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping

from rdflib import Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS
from rdflib.term import Node

from alkld.rdf.build import Triple
from alkld.vocab import ALKLD

__all__ = ["FAVOURABLE", "claims_triples"]

PRISM_DOI = URIRef("http://prismstandard.org/namespaces/basic/2.0/doi")
#: Response categories that establish sensitivity (CIViC "Sensitivity/Response").
FAVOURABLE = {ALKLD[n] for n in (
    "PartialResponse", "CompleteResponse", "NearCompleteResponse", "ClinicalImprovement",
    "FavourableResponse", "DurableResponse", "Remission")}
_NOT_CONFIRMED = {ALKLD.Misdiagnosis, ALKLD.Differential}
_TYPE, _CASE = RDF.type, ALKLD.Case


def _index(triples: Iterable[Triple]) -> dict[Node, dict[Node, list[Node]]]:
    index: dict[Node, dict[Node, list[Node]]] = defaultdict(lambda: defaultdict(list))
    for s, p, o in triples:
        index[s][p].append(o)
    return index


#: The diseases a predictive claim is about: neoplasms and histiocytoses (MONDO), not the
#: complications a case also reports (paraneoplastic hypercalcaemia, infections).
TUMOUR_ROOTS = {URIRef("http://purl.obolibrary.org/obo/MONDO_0005070"),
                URIRef("http://purl.obolibrary.org/obo/MONDO_0002637")}


def claims_triples(case_graphs: Mapping[URIRef, list[Triple]],
                   publications: Mapping[URIRef, list[Triple]],
                   labels: Mapping[object, str], *, base: str,
                   tumours: set[object] | None = None) -> list[Triple]:
    """Evidence items for every case graph; ``labels`` names external terms.

    ``tumours`` (when given) is the set of disease terms a claim may name.
    """
    pub_index = _index(t for triples in publications.values() for t in triples)
    out: list[Triple] = []
    for triples in case_graphs.values():
        idx = _index(triples)
        # the index's lists, not a pass comparing every triple with rdflib's Python __eq__
        for case in [s for s, po in idx.items() if _CASE in po.get(_TYPE, ())]:
            po = idx[case]
            pub = po.get(ALKLD.reportedIn, [None])[0]
            doi = pub_index.get(pub, {}).get(PRISM_DOI, [None])[0] if pub else None
            diseases = sorted({d for dx in po.get(ALKLD.hasDiagnosis, [])
                               if not set(idx[dx].get(ALKLD.diagnosisStatus, [])) & _NOT_CONFIRMED
                               for d in idx[dx].get(ALKLD.disease, [])}, key=str)
            if tumours is not None:
                diseases = [d for d in diseases if d in tumours]
            # drug → the responses that assessed a course of it
            by_drug: dict[Node, list[Node]] = defaultdict(list)
            for response in sorted(po.get(ALKLD.hasResponse, []), key=str):
                for tx in idx[response].get(ALKLD.assessesTreatment, []):
                    for drug in idx[tx].get(ALKLD.agent, []):
                        if response not in by_drug[drug]:
                            by_drug[drug].append(response)
            for fusion in sorted(po.get(ALKLD.hasFusion, []), key=str):
                name = str(idx[fusion].get(ALKLD.fusionName, ["ALK fusion"])[0])
                for drug in sorted(by_drug, key=str):
                    responses = by_drug[drug]
                    categories = {c for r in responses
                                  for c in idx[r].get(ALKLD.responseCategory, [])}
                    favourable = bool(categories & FAVOURABLE)
                    significance = (ALKLD.SensitivityResponse if favourable
                                    else ALKLD.UnclearSignificance)
                    sig = "sensitivity/response" if favourable else "unclear significance"
                    for disease in diseases:
                        key = "|".join(map(str, (case, fusion, drug, disease)))
                        item = URIRef(f"{base}claim/"
                                      + hashlib.sha256(key.encode()).hexdigest()[:16])
                        label = (f"{name} — {sig} to {labels.get(drug, str(drug))} — "
                                 f"{labels.get(disease, str(disease))} (case study"
                                 + (f", doi:{doi}" if doi else "") + ")")
                        out += [
                            (item, RDF.type, ALKLD.EvidenceItem),
                            (item, RDFS.label, Literal(label)),
                            (item, ALKLD.fusion, fusion),
                            (item, ALKLD.drug, drug),
                            (item, ALKLD.disease, disease),
                            (item, ALKLD.evidenceLevel, ALKLD.CaseStudyLevel),
                            (item, ALKLD.evidenceType, ALKLD.Predictive),
                            (item, ALKLD.evidenceDirection, ALKLD.Supports),
                            (item, ALKLD.significance, significance),
                            (item, PROV.wasDerivedFrom, case),
                        ]
                        if pub is not None:
                            out.append((item, DCTERMS.source, pub))
                        for response in responses:
                            out.append((item, ALKLD.supportedBy, response))
                            out += [(item, ALKLD.evidence, ev)
                                    for ev in idx[response].get(ALKLD.evidence, [])]
    return sorted(set(out), key=lambda t: tuple(map(str, t)))
