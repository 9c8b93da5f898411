"""Interoperability: Phenopacket v2 export and import, KGX export (issue 6).

Every test runs the real command line (``alkld export …``, ``alkld import …``) on the
repository's cases or on fixture files, then parses what was written back: Phenopackets with
the GA4GH ``phenopackets`` package, records with the alkld loader, KGX TSV against the
Biolink Model 4 schema shipped in the ``biolink-model`` package.

Fixtures (``tests/fixtures/phenopackets``): ``good/`` and ``bad/`` are small files written for
these tests (the ALK case in ``good/`` is synthetic, DOI prefix 10.5555 is the Crossref test
prefix); ``real/`` holds four files of monarch-initiative/phenopacket-store (BSD 3-Clause, see
``real/LICENSE``). The full shared collection is used too when present
(``ALKLD_PHENOPACKETS_DIR``, default ``/work/shared/phenopackets``).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from importlib import metadata
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from google.protobuf import json_format
from phenopackets import Phenopacket

from alkld.cli import cli
from alkld.interop.kgx import prefixes as kgx_prefixes
from alkld.records import load_record

from .conftest import FIXTURES, ROOT

PHENOPACKETS = FIXTURES / "phenopackets"
# Real phenopackets written by others: the bundled sample (BSD-3, phenopacket-store) by
# default; `ALKLD_PHENOPACKETS_DIR=/path pytest` runs the same test on any directory.
SHARED = Path(os.environ.get("ALKLD_PHENOPACKETS_DIR",
                             Path(__file__).parent / "fixtures" / "phenopackets" / "real"))
EPOCH = "1767225600"  # 2026-01-01T00:00:00Z

ALECTINIB = "pubchem.compound:49806720"
CD34 = "NCBIGene:947"
ALK_HGNC = "HGNC:427"
CARS1_HGNC = "HGNC:1493"
IMT = "MONDO:0015798"
GENE_FUSION = "SO:0001565"
# exfoliative dermatitis, fever, eosinophilia
ADVERSE_EVENTS = ["MONDO:0043233", "HP:0001945", "HP:0001880"]


def run(*args: str) -> Any:
    """Run ``alkld`` in-process with a fixed SOURCE_DATE_EPOCH; stderr kept apart."""
    return CliRunner(env={"SOURCE_DATE_EPOCH": EPOCH}).invoke(
        cli, ["-q", *args], catch_exceptions=False)


def parse(path: Path) -> Any:
    """A Phenopacket file parsed by the GA4GH package (raises on any schema error)."""
    return json_format.Parse(path.read_text(encoding="utf-8"), Phenopacket())


# --- Phenopacket export ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("phenopackets")
    result = run("export", "phenopackets", "--cases", str(ROOT / "cases"), "--mappings",
                 str(ROOT / "mappings"), "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def _packet(out: Path, key: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / f"{key}.json").read_text(encoding="utf-8"))
    return data


def test_one_phenopacket_per_case_and_each_parses(exported: Path) -> None:
    names = sorted(p.name for p in exported.iterdir())
    # 003 is a review without a patient: no phenopacket; no temporary file left behind
    assert names == ["choi-imt-case1.json", "gao-case1.json", "hao2026-case1.json",
                     "infant-histiocytosis-case1.json"]
    for path in exported.iterdir():
        message = parse(path)
        assert message.id == path.stem
        assert message.meta_data.phenopacket_schema_version == "2.0"
        assert message.meta_data.created.ToJsonString() == "2026-01-01T00:00:00Z"


def test_cars1_alk_case_alectinib_doses(exported: Path) -> None:
    message = parse(exported / "choi-imt-case1.json")
    alectinib = [a.treatment for a in message.medical_actions
                 if a.treatment.agent.id == ALECTINIB]
    assert len(alectinib) == 1
    doses = [(d.quantity.value, d.quantity.unit.id, d.schedule_frequency.label)
             for d in alectinib[0].dose_intervals]
    assert doses == [(600.0, "UCUM:mg", "twice daily"), (450.0, "UCUM:mg", "once daily")]
    assert alectinib[0].dose_intervals[0].interval.start.ToJsonString() == "2023-02-09T00:00:00Z"
    action = next(a for a in message.medical_actions if a.treatment.agent.id == ALECTINIB)
    assert sorted(ae.id for ae in action.adverse_events) == sorted(ADVERSE_EVENTS)
    assert action.response_to_treatment.label == "partial response"
    assert action.treatment_target.id == IMT
    pazopanib = next(a for a in message.medical_actions if a.treatment.agent.label == "pazopanib")
    assert pazopanib.treatment_termination_reason.id == "MESH:D007239"  # infection
    procedures = [a.procedure.code.label for a in message.medical_actions if a.procedure.code.id]
    assert len(procedures) == 1


def test_negative_ihc_markers_are_excluded_features(exported: Path) -> None:
    data = _packet(exported, "choi-imt-case1")
    ihc = {f["type"]["id"]: f for f in data["phenotypicFeatures"]
           if f.get("description", "").startswith("immunohistochemistry")}
    assert ihc[CD34]["excluded"] is True
    assert ihc["NCBIGene:4193"]["excluded"] is True  # MDM2
    assert "excluded" not in ihc["NCBIGene:238"]  # ALK, strongly positive
    assert "clone 5A4" in ihc["NCBIGene:238"]["description"]
    quote = ihc[CD34]["evidence"][0]["reference"]["description"]
    assert quote == "Other markers, including CD34, desmin, S-100, and MDM2, were negative"
    assert ihc[CD34]["evidence"][0]["evidenceCode"]["id"] == "ECO:0006017"
    # the histology feature "no necrosis" is an excluded feature of the biosample
    necrosis = [f for b in data["biosamples"] for f in b.get("phenotypicFeatures", [])
                if f["type"]["id"] == "MESH:D009336"]
    assert necrosis and necrosis[0]["excluded"] is True


def test_subject_disease_fusion_and_measurements(exported: Path) -> None:
    data = _packet(exported, "choi-imt-case1")
    assert data["subject"]["sex"] == "FEMALE"
    assert data["subject"]["vitalStatus"]["status"] == "ALIVE"
    assert data["subject"]["taxonomy"]["id"] == "NCBITaxon:9606"
    primary = data["diseases"][0]
    assert primary["term"]["id"] == IMT
    assert primary["onset"] == {"age": {"iso8601duration": "P40Y"}}
    genomic = data["interpretations"][0]["diagnosis"]["genomicInterpretations"]
    fusion = genomic[0]["variantInterpretation"]["variationDescriptor"]
    assert fusion["label"] == "CARS1::ALK"
    assert fusion["structuralType"]["id"] == GENE_FUSION
    assert fusion["geneContext"]["valueId"] == ALK_HGNC
    assert "NM_001014437 exons 1-18" in fusion["description"]
    partners = [g["gene"]["valueId"] for g in genomic if "gene" in g]
    assert partners == [CARS1_HGNC, ALK_HGNC]
    calcium = next(m for m in data["measurements"] if "calcium" in m.get("description", ""))
    q = calcium["value"]["quantity"]
    assert (q["value"], q["unit"]["id"]) == (15.9, "UCUM:mg/dL")
    assert (q["referenceRange"]["low"], q["referenceRange"]["high"]) == (8.8, 10.5)
    assert "interpretation: high" in calcium["description"]


def test_ki67_misdiagnosis_and_publication_references(exported: Path) -> None:
    hao = _packet(exported, "hao2026-case1")
    ki67 = [m for m in hao["measurements"] if m["value"]["quantity"]["unit"]["id"] == "UCUM:%"]
    assert [m["value"]["quantity"]["value"] for m in ki67] == [60]
    excluded = [d["term"]["label"] for d in hao["diseases"] if d.get("excluded")]
    assert len(excluded) == 1  # the infectious encephalitis misdiagnosis
    gao = _packet(exported, "gao-case1")
    refs = [r["id"] for r in gao["metaData"]["externalReferences"]]
    assert refs == ["DOI:10.1002/cnr2.70489",
                    "https://w3id.org/alkld/pub/gao-thoracic-alk-mesenchymal"]


def _curies(obj: Any) -> set[str]:
    """Every ontology-class or gene identifier in a Phenopacket."""
    out: set[str] = set()
    if isinstance(obj, dict):
        if "label" in obj and re.match(r"^[A-Za-z][\w.]*:", str(obj.get("id", ""))):
            out.add(obj["id"])  # an OntologyClass
        if "valueId" in obj:  # a GeneDescriptor
            out |= {obj["valueId"], *obj.get("alternateIds", [])}
        for value in obj.values():
            out |= _curies(value)
    elif isinstance(obj, list):
        for item in obj:
            out |= _curies(item)
    return out


def test_every_prefix_has_a_resource(exported: Path) -> None:
    for path in exported.iterdir():
        data = json.loads(path.read_text(encoding="utf-8"))
        declared = {r["namespacePrefix"] for r in data["metaData"]["resources"]}
        terms = _curies({k: v for k, v in data.items() if k not in {"id", "metaData"}})
        used = {c.split(":", 1)[0] for c in terms}
        assert used <= declared, (path.name, used - declared)
        assert {"MONDO", "NCBITaxon", "ECO"} <= declared


def test_export_is_deterministic(exported: Path, tmp_path: Path) -> None:
    result = run("export", "phenopackets", "--cases", str(ROOT / "cases"), "--mappings",
                 str(ROOT / "mappings"), "--out", str(tmp_path))
    assert result.exit_code == 0
    for path in exported.iterdir():
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_export_unmapped_label_is_located(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    source = (ROOT / "cases" / "004-choi-imt-cars1-alk.yaml").read_text(encoding="utf-8")
    assert "        agent: pazopanib\n" in source
    (cases / "004.yaml").write_text(source.replace("        agent: pazopanib\n",
                                                   "        agent: notadrugatall\n"))
    out = tmp_path / "out"
    result = run("export", "phenopackets", "--cases", str(cases), "--mappings",
                 str(ROOT / "mappings"), "--out", str(out))
    assert result.exit_code == 2
    line = source.splitlines().index("        agent: pazopanib") + 1
    assert f"004.yaml:{line}: cases[0].treatments[3].agent" in result.stderr
    assert "notadrugatall" in result.stderr
    assert not out.exists()


# --- Phenopacket import ----------------------------------------------------------------------


def _import(directory: Path, out: Path) -> Any:
    return run("import", "phenopackets", str(directory), "--out", str(out))


def _load(path: Path) -> Any:
    loaded = load_record(path)  # raises on anything the loader refuses
    return loaded.record


def test_import_good_fixture(tmp_path: Path) -> None:
    result = _import(PHENOPACKETS / "good", tmp_path)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fixture-eml4-alk-nsclc.yaml", "fixture-minimal.yaml"]
    record = _load(tmp_path / "fixture-eml4-alk-nsclc.yaml")
    assert record.publication.doi == "10.5555/alkld-fixture"
    case = record.cases[0]
    assert (case.patient.sex.value, str(case.patient.age.value), case.patient.age.unit) == (
        "male", "58", "year")
    assert [(d.disease, d.sites) for d in case.diagnoses] == [("lung adenocarcinoma", ["lung"])]
    assert [(p.phenotype, p.excluded) for p in case.phenotypes] == [
        ("Cough", False), ("Fever", True)]
    assert case.phenotypes[0].quote == "presented with a persistent dry cough"
    fusion = case.fusions[0]
    assert (fusion.five_prime.gene, fusion.three_prime.gene, fusion.status.value) == (
        "EML4", "ALK", "observed")
    [tx] = case.treatments
    assert tx.agent == "crizotinib"
    [dose] = tx.doses
    assert (str(dose.quantity.value), dose.quantity.unit, dose.frequency) == (
        "250", "mg", "twice daily")
    assert (dose.start, dose.end) == ("2021-03-10", "2021-11-02")
    assert case.adverse_events[0].attributed_to == [tx.id]
    assert case.responses[0].category == "partial response"
    [meas] = case.measurements
    assert (str(meas.quantity.value), str(meas.reference_range.high), meas.date) == (
        "11.2", "10.5", "2021-03-04")
    assert case.procedures[0].date == "2021-03-01"
    assert "1 medicalActions.radiationTherapy" in (case.note or "")


BAD = [
    ("no-disease.json", "no disease"),
    ("not-json.json", "invalid JSON"),
    ("unknown-field.json", 'has no field named "phenotypicFeature"'),
    ("bad-enum.json", "Invalid enum value WOMAN"),
]


@pytest.mark.parametrize(("name", "reason"), BAD)
def test_import_bad_fixture(name: str, reason: str, tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy(PHENOPACKETS / "bad" / name, source / name)
    result = _import(source, tmp_path / "out")
    assert result.exit_code == 2
    assert f"{name}: " in result.stderr and reason in result.stderr


def test_bad_files_do_not_stop_the_others(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    for path in [*(PHENOPACKETS / "good").glob("*.json"), *(PHENOPACKETS / "bad").glob("*.json")]:
        shutil.copy(path, source / path.name)
    result = _import(source, tmp_path / "out")
    assert result.exit_code == 2
    written = sorted(p.name for p in (tmp_path / "out").glob("*.yaml"))
    assert written == ["fixture-eml4-alk-nsclc.yaml", "fixture-minimal.yaml"]
    for name, reason in BAD:
        assert re.search(rf"^error: .*{re.escape(name)}: .*{re.escape(reason)}", result.stderr,
                         re.MULTILINE), name
    assert "4 files not converted" in result.stderr


def test_import_real_phenopacket_store_files(tmp_path: Path) -> None:
    result = _import(PHENOPACKETS / "real", tmp_path)
    assert result.exit_code == 0, result.stderr
    records = {p.stem: _load(p) for p in tmp_path.glob("*.yaml")}
    assert len(records) == 4
    km05 = records["pmid-9621512-patient-km05"]
    assert km05.publication.pmid == "9621512"
    case = km05.cases[0]
    assert case.diagnoses[0].disease == "Maple syrup urine disease, type II"
    assert (str(case.patient.age.value), case.patient.age.unit) == ("2", "year")
    assert "variant interpretations" in case.note  # the SNV has no record slot: counted
    nf1 = records["pmid-26178382-uab-r9216-i2"].cases[0]
    assert sum(p.excluded for p in nf1.phenotypes) == 9
    pdh = records["pmid-9266390-patient"].cases[0]
    assert pdh.outcome.vital_status.value == "deceased"
    assert (str(pdh.patient.age.value), pdh.patient.age.unit) == ("4", "month")


def test_import_every_shared_phenopacket(tmp_path: Path) -> None:
    sources = sorted(SHARED.glob("*.json"))
    result = _import(SHARED, tmp_path)
    assert result.exit_code == 0, result.stderr
    written = sorted(tmp_path.glob("*.yaml"))
    assert len(written) == len(sources) > 0
    for path in written:
        _load(path)


def test_round_trip_keeps_the_clinical_core(exported: Path, tmp_path: Path) -> None:
    result = _import(exported, tmp_path)
    assert result.exit_code == 0, result.stderr
    case = _load(tmp_path / "choi-imt-case1.yaml").cases[0]
    assert case.diagnoses[0].disease == "inflammatory myofibroblastic tumor"
    assert (str(case.patient.age.value), case.patient.sex.value) == ("40", "female")
    assert [(f.five_prime.gene, f.three_prime.gene) for f in case.fusions] == [("CARS1", "ALK")]
    assert {a.gene: a.alteration.value for a in case.alterations} == {
        "MCL1": "amplification", "CCND1": "amplification", "FGF19": "amplification"}
    alectinib = next(t for t in case.treatments if t.agent == "alectinib")
    assert [(str(d.quantity.value), d.frequency) for d in alectinib.doses] == [
        ("600", "twice daily"), ("450", "once daily")]
    cd34 = next(p for p in case.phenotypes if p.phenotype == "CD34")
    assert cd34.excluded and cd34.quote.startswith("Other markers, including CD34")


# --- KGX export ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def biolink() -> dict[str, Any]:
    text = (files("biolink_model") / "schema" / "biolink_model.yaml").read_text(encoding="utf-8")
    schema: dict[str, Any] = yaml.safe_load(text)
    prefix_map = json.loads((files("biolink_model") / "prefixmaps" /
                             "biolink-model-prefix-map.json").read_text(encoding="utf-8"))
    schema["_prefixes"] = set(prefix_map)
    return schema


@pytest.fixture(scope="module")
def kgx_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kgx")
    result = run("export", "kgx", "--cases", str(ROOT / "cases"), "--mappings",
                 str(ROOT / "mappings"), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["edges.tsv", "nodes.tsv"]
    return out


@pytest.fixture(scope="module")
def kgx(kgx_out: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    out = kgx_out

    def read(name: str) -> list[dict[str, str]]:
        with (out / name).open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return read("nodes.tsv"), read("edges.tsv")


def _snake(name: str) -> str:
    return name.replace(" ", "_")


def _pascal(name: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in name.split(" "))


def _ancestors(slots: dict[str, Any], name: str) -> list[str]:
    out = []
    while name:
        out.append(name)
        name = (slots.get(name) or {}).get("is_a")
    return out


OWN_PREFIXES = {"alkld", "alkld.case", "alkld.pub"}


def test_kgx_categories_predicates_and_enums_are_biolink(
        kgx: tuple[list[dict[str, str]], list[dict[str, str]]], biolink: dict[str, Any]) -> None:
    nodes, edges = kgx
    classes = {"biolink:" + _pascal(n): c or {} for n, c in biolink["classes"].items()}
    slots = biolink["slots"]
    predicates = {"biolink:" + _snake(n): n for n in slots}
    enums = biolink["enums"]
    for node in nodes:
        assert re.match(r"^[^ <()>:]*:[^/ :]+$", node["id"]), node["id"]  # KGX's CURIE rule
        prefix = node["id"].split(":", 1)[0]
        assert prefix in biolink["_prefixes"] or prefix in OWN_PREFIXES, node["id"]
        for category in node["category"].split("|"):
            cls = classes[category]
            assert not cls.get("mixin") and not cls.get("abstract") and not cls.get(
                "deprecated"), category
        assert node["provided_by"] == "infores:alkld"
        assert node["name"]
    node_ids = {n["id"] for n in nodes}
    levels = set(enums["KnowledgeLevelEnum"]["permissible_values"])
    agents = set(enums["AgentTypeEnum"]["permissible_values"])
    for edge in edges:
        slot_name = predicates[edge["predicate"]]
        slot = slots[slot_name]
        assert "related to" in _ancestors(slots, slot_name), edge["predicate"]
        assert not slot.get("mixin") and not slot.get("deprecated"), edge["predicate"]
        assert edge["knowledge_level"] in levels and edge["agent_type"] in agents
        assert edge["primary_knowledge_source"] == "infores:alkld"
        assert edge["publications"]
        assert edge["subject"] in node_ids and edge["object"] in node_ids
        assert edge["negated"] in {"", "True"}
    assert len({e["id"] for e in edges}) == len(edges)


def test_kgx_content(kgx: tuple[list[dict[str, str]], list[dict[str, str]]]) -> None:
    nodes, edges = kgx
    category = {n["id"]: n["category"] for n in nodes}
    triples = {(e["subject"], e["predicate"], e["object"], e["negated"]) for e in edges}
    case = "alkld.case:choi-imt-case1"
    alectinib = "PUBCHEM.COMPOUND:49806720"
    assert category[case] == "biolink:Case"
    assert category[alectinib] == "biolink:ChemicalEntity"
    assert category[IMT] == "biolink:Disease"
    assert category["NCBIGene:833"] == "biolink:Gene"  # CARS1
    assert category["alkld.pub:choi-imt-cars1-alk"] == "biolink:Publication"
    assert (case, "biolink:related_to_at_instance_level", IMT, "") in triples
    assert ("NCBIGene:833", "biolink:gene_fusion_with", "NCBIGene:238", "") in triples
    assert (alectinib, "biolink:applied_to_treat", IMT, "") in triples
    assert (alectinib, "biolink:has_adverse_event", "HP:0001880", "") in triples  # eosinophilia
    assert (case, "biolink:has_phenotype", "MESH:D009336", "True") in triples  # no necrosis
    assert ("alkld.pub:choi-imt-cars1-alk", "biolink:mentions", case, "") in triples
    gao = [e for e in edges if e["subject"] == "alkld.case:gao-case1"]
    assert gao and all(e["publications"] == "doi:10.1002/cnr2.70489" for e in gao)
    levels = {e["knowledge_level"] for e in edges if e["predicate"] != "biolink:mentions"}
    assert levels == {"observation"}
    assert {e["agent_type"] for e in edges} == {"manual_agent"}


# --- the kgx library's validator ----------------------------------------------------------
# kgx runs in its own virtualenv (.venv-kgx, built by `make test` from tests/kgx-requirements.txt:
# its pins conflict with this venv's), offline: tests/kgx_validate.py points it at this venv's
# biolink-model schema and prefix map, blocks every socket, and reports any connection tried.

KGX_PYTHON = ROOT / ".venv-kgx" / "bin" / "python"


def kgx_validate(directory: Path, *, prefixes: dict[str, str]) -> dict[str, Any]:
    """kgx's report on ``directory``'s nodes.tsv and edges.tsv, run offline in .venv-kgx."""
    if not KGX_PYTHON.exists():  # an error, never a skip: the check is part of issue 6
        pytest.fail(f"{KGX_PYTHON} is missing: run `make kgx-venv` (`make test` builds it)")
    biolink_model = files("biolink_model")
    env = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[var] = "http://127.0.0.1:9"  # the discard port: any request that gets past fails
    cmd = [str(KGX_PYTHON), str(ROOT / "tests" / "kgx_validate.py"),
           "--schema", str(biolink_model / "schema" / "biolink_model.yaml"),
           "--prefix-map", str(biolink_model / "prefixmaps" / "biolink-model-prefix-map.json"),
           *(f"--prefix={name}={iri}" for name, iri in prefixes.items()),
           str(directory / "nodes.tsv"), str(directory / "edges.tsv")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    report: dict[str, Any] = json.loads(proc.stdout)
    assert report["network"] == [], report["network"]
    assert report["kgx"] == "2.7.0"
    assert report["biolink"] == metadata.version("biolink-model")  # the schema given, not bmt's
    assert proc.returncode == (1 if report["errors"] else 0), proc.stderr[-3000:]
    return report


def test_kgx_library_validates_the_export(kgx_out: Path) -> None:
    """kgx's Validator (what `kgx validate --input-format tsv` runs) reports nothing at all."""
    report = kgx_validate(kgx_out, prefixes=kgx_prefixes())
    assert report["errors"] == {}


def test_kgx_library_reports_unknown_prefixes_categories_and_predicates(
        kgx_out: Path, tmp_path: Path) -> None:
    """The same validator is not toothless offline: without alkld's prefixes in its context,
    and on a copy given a mixin category and a predicate not in Biolink, it says so."""
    nodes = (kgx_out / "nodes.tsv").read_text(encoding="utf-8")
    edges = (kgx_out / "edges.tsv").read_text(encoding="utf-8")
    assert "\tbiolink:Gene\t" in nodes and "\tbiolink:applied_to_treat\t" in edges
    (tmp_path / "nodes.tsv").write_text(
        nodes.replace("\tbiolink:Gene\t", "\tbiolink:GeneProduct\t"), encoding="utf-8")
    (tmp_path / "edges.tsv").write_text(
        edges.replace("\tbiolink:applied_to_treat\t", "\tbiolink:diagnosed_with\t"),
        encoding="utf-8")
    errors = kgx_validate(tmp_path, prefixes={})["errors"]
    assert set(errors) == {"ERROR"}
    errors = errors["ERROR"]
    assert set(errors) == {"INVALID_CATEGORY", "INVALID_EDGE_PREDICATE",
                           "INVALID_NODE_PROPERTY_VALUE", "INVALID_EDGE_PROPERTY_VALUE"}
    assert list(errors["INVALID_CATEGORY"]) == [
        "Category 'GeneProduct' is unknown in the current Biolink Model"]
    assert list(errors["INVALID_EDGE_PREDICATE"]) == [
        "Edge predicate 'diagnosed_with' is not in Biolink Model"]
    unknown = {re.search(r"CURIE prefix '([^']+)'", message)[1]  # type: ignore[index]
               for kind in ("INVALID_NODE_PROPERTY_VALUE", "INVALID_EDGE_PROPERTY_VALUE")
               for message in errors[kind]}
    assert unknown == set(kgx_prefixes()) == OWN_PREFIXES


def test_kgx_validate_guard_blocks_unpatched_kgx() -> None:
    """The socket guard bites: kgx imported without the local schema tries GitHub, is refused,
    and the attempt is recorded (so an empty ``network`` above means none was made)."""
    if not KGX_PYTHON.exists():
        pytest.fail(f"{KGX_PYTHON} is missing: run `make kgx-venv` (`make test` builds it)")
    code = ("import json, kgx_validate as k\n"
            "k._block_network()\n"
            "try:\n    import kgx.utils.kgx_utils\nexcept Exception:\n    pass\n"
            "print(json.dumps(k.ATTEMPTS))\n")
    proc = subprocess.run([str(KGX_PYTHON), "-c", code], cwd=ROOT / "tests", capture_output=True,
                          text=True, timeout=300, check=True)
    attempts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert attempts and "raw.githubusercontent.com" in attempts[0], attempts
