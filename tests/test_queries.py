"""Every named competency query runs on the real release and returns the expected rows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from alkld.cli import cli
from alkld.pipeline import BuildResult
from alkld.queries import format_results, list_queries, run_query

from .conftest import ROOT

QUERIES = {q.name: q for q in list_queries(ROOT / "queries")}
G = "http://identifiers.org/ncbigene/"
CASE = "https://w3id.org/alkld/case/"


def rows(release: tuple[BuildResult, Path], name: str, *columns: str) -> set[tuple[str, ...]]:
    store = ox.Store.read_only(str(release[1] / "store"))
    text = format_results(run_query(store, QUERIES[name].text), "csv")
    return {tuple(r[c] for c in columns) for r in csv.DictReader(io.StringIO(text))}


def test_at_least_twelve_named_queries_with_titles() -> None:
    assert len(QUERIES) >= 12
    for q in QUERIES.values():
        assert q.title != q.name and q.description, q.name


def test_fusion_partners_by_disease(release) -> None:
    assert rows(release, "fusion-partners-by-disease", "diseaseLabel", "fusion") == {
        ("ALK+ histiocytosis", "KIF5B::ALK"), ("juvenile xanthogranuloma", "KIF5B::ALK"),
        ("non-Langerhans cell histiocytosis", "KIF5B::ALK"),
        ("ALK-positive anaplastic large cell lymphoma", "?::ALK"),
        ("central nervous system anaplastic large cell lymphoma", "?::ALK"),
        ("inflammatory myofibroblastic tumor", "CARS1::ALK"),
        ("mesenchymal cell neoplasm", "PLEKHH2::ALK"),
        ("metastatic malignant neoplasm in the brain", "PLEKHH2::ALK")}


def test_alectinib_patients_and_response(release) -> None:
    got = rows(release, "alectinib-response", "case", "response", "criteria", "percentChange")
    assert got == {
        (CASE + "choi-imt-case1", "partial response", "RECIST 1.1", "-77.4"),
        (CASE + "choi-imt-case1", "clinical improvement", "", ""),
        (CASE + "gao-case1", "favourable response", "", ""),
        (CASE + "hao2026-case1", "clinical improvement", "", "")}
    doses = {(case, frozenset(d.split("; "))) for case, d in
             rows(release, "alectinib-response", "case", "doses")}
    # GROUP_CONCAT's order is unspecified in SPARQL 1.1: compare the set of doses
    assert (CASE + "choi-imt-case1", frozenset({"600 mg twice daily", "450 mg once daily"})) \
        in doses


def test_pediatric_cases(release) -> None:
    got = rows(release, "pediatric-cases", "case", "age")
    assert got == {(CASE + "gao-case1", "P11Y"), (CASE + "infant-histiocytosis-case1", "P2M")}


def test_ihc_profile_per_disease(release) -> None:
    got = rows(release, "ihc-profile-by-disease", "diseaseLabel", "markerLabel", "result", "clone")
    assert ("inflammatory myofibroblastic tumor", "ALK", "strongly positive", "5A4") in got
    assert ("ALK+ histiocytosis", "CD68", "weakly positive", "") in got
    assert ("ALK+ histiocytosis", "CD207", "negative", "") in got
    assert ("mesenchymal cell neoplasm", "S100 Proteins", "positive", "") in got
    assert not any(r[0] == "hypercalcemia disease" for r in got)


def test_adverse_events_and_dose_changes(release) -> None:
    got = rows(release, "adverse-events-and-dose-changes", "drugLabel", "eventLabel", "change",
               "newDose")
    assert ("alectinib", "Eosinophilia", "Interruption", "") in got
    assert ("alectinib", "exfoliative dermatitis", "DoseReduction", "450 mg") in got
    assert ("alectinib", "Fever", "Interruption", "") in got
    assert ("alectinib", "", "Resumption", "450 mg") in got
    assert ("pazopanib", "Infections", "Discontinuation", "") in got


def test_cns_involvement(release) -> None:
    cases = {r[0] for r in rows(release, "cns-involvement", "case", "siteLabel")}
    assert cases == {CASE + "hao2026-case1", CASE + "gao-case1",
                     CASE + "infant-histiocytosis-case1"}


def test_time_from_diagnosis_to_targeted_therapy(release) -> None:
    assert rows(release, "time-to-targeted-therapy", "case", "months") == {
        (CASE + "choi-imt-case1", "45")}


def test_every_drug_with_pubchem_and_mesh(release) -> None:
    got = rows(release, "drugs-with-identifiers", "label", "drug", "mesh")
    assert ("alectinib", "http://rdf.ncbi.nlm.nih.gov/pubchem/compound/CID49806720",
            "http://id.nlm.nih.gov/mesh/C582670") in got
    assert ("carboplatin", "http://rdf.ncbi.nlm.nih.gov/pubchem/compound/CID426756",
            "http://id.nlm.nih.gov/mesh/D016190") in got
    assert {r[0] for r in got} >= {"alectinib", "carboplatin", "cladribine", "etoposide",
                                   "ifosfamide", "mercaptopurine", "methotrexate", "pazopanib"}


def test_all_lymphoma_cases_via_mondo(release) -> None:
    got = rows(release, "lymphoma-cases", "case", "label")
    assert got == {(CASE + "hao2026-case1", "ALK-positive anaplastic large cell lymphoma"),
                   (CASE + "hao2026-case1",
                    "central nervous system anaplastic large cell lymphoma")}


def test_all_histiocytic_disorder_cases_via_mondo(release) -> None:
    got = {r[1] for r in rows(release, "histiocytic-disorder-cases", "case", "label")}
    assert got == {"ALK+ histiocytosis", "juvenile xanthogranuloma",
                   "non-Langerhans cell histiocytosis"}


def test_lab_values_with_ranges(release) -> None:
    got = rows(release, "lab-values", "analyteLabel", "value", "unit", "low", "high",
               "interpretation")
    assert ("calcium", "15.9", "mg/dL", "8.8", "10.5", "high") in got
    assert ("creatinine", "1.6", "mg/dL", "0.7", "1.4", "high") in got
    assert ("MKI67", "60", "%", "", "", "high") in got


def test_responses_and_lesions(release) -> None:
    got = rows(release, "responses-and-lesions", "category", "siteLabel", "before", "after",
               "resolved")
    assert ("partial response", "lower lobe of left lung", "40 mm", "14 mm", "") in got
    assert ("partial response", "buttock", "", "", "true") in got
    assert ("near-complete response", "", "", "", "") in got
    assert ("stable disease", "", "", "", "") in got


def test_evidence_quotes(release) -> None:
    got = rows(release, "evidence-quotes", "case", "quote")
    assert (CASE + "choi-imt-case1", "CCND1 amplification (CN 11)") in got
    assert len(got) > 100


def test_publications(release) -> None:
    got = rows(release, "publications", "pub", "doi", "cases")
    assert ("https://w3id.org/alkld/pub/gao-thoracic-alk-mesenchymal", "10.1002/cnr2.70489",
            "1") in got
    assert ("https://w3id.org/alkld/pub/ahmed-pediatric-alcl-review",
            "10.69690/ODMJ-018-0425-2817", "0") in got
    assert len(got) == 5


def test_review_claims(release) -> None:
    got = rows(release, "review-claims", "kind", "drugLabel", "diseaseLabel", "population")
    assert ("Efficacy", "ceritinib", "ALK-positive anaplastic large cell lymphoma",
            "pediatric patients") in got
    assert ("Efficacy", "crizotinib", "ALK-positive anaplastic large cell lymphoma",
            "pediatric patients") in got


def test_negative_markers(release) -> None:
    got = rows(release, "negative-markers", "case", "reportedAs")
    assert {r[1] for r in got if r[0] == CASE + "choi-imt-case1"} == {
        "CD34", "desmin", "S-100", "MDM2"}
    assert len([r for r in got if r[0] == CASE + "infant-histiocytosis-case1"]) == 11


@pytest.mark.parametrize("fmt", ["table", "csv", "tsv", "json"])
def test_cli_query_formats(release, fmt: str) -> None:
    result = CliRunner().invoke(cli, ["query", "pediatric-cases", "--out", str(release[1]),
                                      "--format", fmt])
    assert result.exit_code == 0, result.output
    if fmt == "json":
        assert len(json.loads(result.output)["results"]["bindings"]) == 5
    elif fmt == "csv":
        assert len(list(csv.DictReader(io.StringIO(result.output)))) == 5
    elif fmt == "tsv":
        assert len(result.output.strip().splitlines()) == 6
    else:
        assert "(5 rows)" in result.output


def test_cli_query_unknown_name_lists_the_choices(release) -> None:
    result = CliRunner().invoke(cli, ["query", "no-such-query", "--out", str(release[1])])
    assert result.exit_code == 2
    assert "fusion-partners-by-disease" in result.stderr


def test_cli_query_syntax_error_is_located(release, tmp_path) -> None:
    bad = tmp_path / "bad.rq"
    bad.write_text("SELECT ?x WHERE { ?x ?y }")
    result = CliRunner().invoke(cli, ["query", str(bad), "--out", str(release[1])])
    assert result.exit_code == 2
    assert "bad.rq" in result.stderr and "SPARQL syntax error" in result.stderr


def test_fusion_drug_disease_claims(release) -> None:
    got = rows(release, "fusion-drug-disease-claims", "fusion", "drugLabel", "diseaseLabel",
               "significance", "level")
    assert ("CARS1::ALK", "alectinib", "inflammatory myofibroblastic tumor",
            "sensitivity/response", "C: case study") in got
    assert ("CARS1::ALK", "carboplatin", "inflammatory myofibroblastic tumor", "unclear",
            "C: case study") in got  # stable disease on ICE establishes nothing
    assert ("KIF5B::ALK", "cladribine", "ALK+ histiocytosis", "sensitivity/response",
            "C: case study") in got
    # pazopanib, the second line, is assessed by the 'two lines of systemic chemotherapy
    # failures' response: a failure establishes no sensitivity
    assert ("CARS1::ALK", "pazopanib", "inflammatory myofibroblastic tumor", "unclear",
            "C: case study") in got
    # one statement per fusion, drug and disease; complications are not claim diseases
    assert len(got) == len({r[:3] for r in got}) == 12
    assert not any("hypercalcemia" in r[2] for r in got)
    dois = rows(release, "fusion-drug-disease-claims", "fusion", "doi")
    assert ("PLEKHH2::ALK", "10.1002/cnr2.70489") in dois
