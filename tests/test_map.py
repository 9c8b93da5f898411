"""Term mapping: the normaliser, the offline lexical matcher, online resolvers, `alkld map`.

Ontology and resource inputs are tiny files written under ``tmp_path``; the online resolvers
talk to a real HTTP server on 127.0.0.1 that replays responses recorded in each service's
documented JSON format (``tests/fixtures/resolvers``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from alkld.cli import cli
from alkld.errors import AlkldError, ConfigurationError
from alkld.mapping.lexical import (
    Entry,
    LexicalIndex,
    Matcher,
    MatchType,
    OntologyFormat,
    cached_index,
    cellxgene_entries,
    cellxgene_files,
    curated_entries,
    load_matcher,
    offline_sources,
    ontology_entries,
    resource_entries,
)
from alkld.mapping.map_cli import map_terms, to_sssom, write_sssom
from alkld.mapping.normalize import bag_key, expand_abbreviations, normalize, variants
from alkld.mapping.resolvers import (
    SERVICES,
    HttpClient,
    MeshResolver,
    NcbiGeneResolver,
    OlsResolver,
    PubChemResolver,
    ServiceError,
    make_resolvers,
    resolve_online,
)
from alkld.mapping.tables import read_sssom

ROOT = Path(__file__).resolve().parent.parent
RECORDED = Path(__file__).resolve().parent / "fixtures" / "resolvers"

# ------------------------------------------------------------------------------ normaliser


@pytest.mark.parametrize(("a", "b"), [
    ("tachypnoea", "Tachypnea"),
    ("Tumours", "tumor"),
    ("oesophagus", "esophagus"),
    ("oedema", "edema"),
    ("haematological", "hematological"),
    ("leukaemia", "leukemia"),
    ("paediatric", "pediatric"),
    ("ALK+", "ALK-positive"),
    ("ALK positive", "ALK+"),
    ("ALK-negative", "ALK (-)"),
    ("TGF-β", "TGF-beta"),
    ("IL-1β", "IL1 beta"),
    ("metastases", "metastasis"),
    ("vertebrae", "vertebra"),
    ("lymph nodes", "Lymph-node"),
    ("telangiectasias", "telangiectasia"),
    ("S-100", "S100"),
    ("Ki-67", "KI67"),
    ("Hodgkin's lymphoma", "Hodgkin lymphoma"),
    ("  juvenile   xanthogranulomas ", "Juvenile xanthogranuloma"),
])
def test_normalize_makes_spelling_variants_equal(a: str, b: str) -> None:
    assert normalize(a) == normalize(b)


@pytest.mark.parametrize(("a", "b"), [
    ("ALK+", "ALK-"),
    ("pelvis", "pelvi"),
    ("virus", "viru"),
    ("four", "for"),
    ("CD3", "CD30"),
])
def test_normalize_keeps_different_terms_apart(a: str, b: str) -> None:
    assert normalize(a) != normalize(b)


@pytest.mark.parametrize(("abbreviation", "expansion"), [
    ("IMT", "inflammatory myofibroblastic tumor"),
    ("IMTs", "inflammatory myofibroblastic tumor"),
    ("JXG", "juvenile xanthogranuloma"),
    ("ALK+ ALCL", "alk positive anaplastic large cell lymphoma"),
    ("LCH", "langerhans cell histiocytosis"),
    ("2-CDA", "cladribine"),
    ("6-MP", "mercaptopurine"),
    ("primary CNS lymphoma", "primary central nervous system lymphoma"),
])
def test_abbreviations_are_spelled_out(abbreviation: str, expansion: str) -> None:
    assert expand_abbreviations(abbreviation) == expansion


def test_bag_key_meets_mesh_inverted_headings() -> None:
    assert bag_key("Histiocytosis, Langerhans-Cell") == bag_key("Langerhans cell histiocytosis")
    assert bag_key("Dermatitis, Exfoliative") == bag_key("exfoliative dermatitis")
    assert bag_key("lymphoma") != bag_key("lymphoma kinase")


def test_variants_split_alternatives_parentheses_and_qualifiers() -> None:
    v = variants("juvenile xanthogranulomatosis (JXG) / juvenile xanthogranulomas")
    assert v[0] == "juvenile xanthogranulomatosis (JXG) / juvenile xanthogranulomas"
    assert {"juvenile xanthogranulomatosis", "JXG", "juvenile xanthogranulomas"} <= set(v)
    assert "MCL1" in variants("MCL1 amplification")
    assert "mediastinal lymph nodes" in variants("mediastinal (lymph nodes)")
    # a slash inside parentheses is a unit, not an alternative
    assert "mg" not in variants("calcium (15.9 mg/dL)")


# ----------------------------------------------------------------------- tiny offline inputs

OBO = """format-version: 1.2
ontology: mini

[Term]
id: MONDO:0015798
name: inflammatory myofibroblastic tumor
synonym: "IMT" EXACT []
synonym: "plasma cell granuloma" RELATED []

[Term]
id: MONDO:0017602
name: ALK-positive anaplastic large cell lymphoma
synonym: "ALK+ ALCL" EXACT []

[Term]
id: MONDO:0020325
name: anaplastic large cell lymphoma
synonym: "ALCL" EXACT []

[Term]
id: MONDO:0000001
name: obsolete tumour of nowhere
synonym: "nowhere tumour" EXACT []
is_obsolete: true

[Term]
id: MONDO:0011111
name: pseudotumor alpha
synonym: "shared synonym" EXACT []

[Term]
id: MONDO:0022222
name: pseudotumor beta
synonym: "shared synonym" EXACT []

[Typedef]
id: part_of
name: part of
"""

OBOGRAPH = {
    "graphs": [{
        "id": "http://purl.obolibrary.org/obo/hp.json",
        "nodes": [
            {"id": "http://purl.obolibrary.org/obo/HP_0002789", "lbl": "Tachypnea",
             "type": "CLASS",
             "meta": {"synonyms": [{"pred": "hasExactSynonym", "val": "Rapid breathing"}]}},
            {"id": "http://purl.obolibrary.org/obo/HP_0001945", "lbl": "Fever", "type": "CLASS"},
            {"id": "http://purl.obolibrary.org/obo/HP_9999999", "lbl": "Old fever",
             "type": "CLASS", "meta": {"deprecated": True}},
            {"id": "http://purl.obolibrary.org/obo/RO_0000050", "lbl": "has part",
             "type": "PROPERTY"},
        ],
        "edges": [],
    }],
}

HGNC = ("HGNC ID\tApproved symbol\tApproved name\tStatus\tAlias symbols\t"
        "NCBI Gene ID(supplied by NCBI)\tUniProt ID(supplied by UniProt)\t"
        "Mouse genome database ID(supplied by MGI)\tRat genome database ID(supplied by RGD)\t"
        "Previous symbols\tEnsembl gene ID\tLocus type\tEnzyme IDs\n"
        "HGNC:427\tALK\tALK receptor tyrosine kinase\tApproved\tCD246, ALK1\t238\t\t\t\t\t\t"
        "gene with protein product\t\n"
        "HGNC:1493\tCARS1\tcysteinyl-tRNA synthetase 1\tApproved\t\t833\t\t\t\t"
        "CARS\t\tgene with protein product\t\n"
        "HGNC:17935\tCD207\tCD207 molecule\tApproved\tLangerin, CLEC4K\t50489\t\t\t\t\t\t"
        "gene with protein product\t\n"
        "HGNC:99999\tOLD1\twithdrawn thing\tEntry Withdrawn\t\t\t\t\t\t\t\t\t\n")

MESH = ("D000077547\tCrizotinib\tPF-02341066\tD02.065\t\n"
        "D001336\tAutomobiles\tCars|Automobile\tJ01.937\t\n"
        "D017728\tLymphoma, Large-Cell, Anaplastic\tAnaplastic Large-Cell Lymphoma\tC04.557\t\n"
        "D015122\tMercaptopurine\t6-Mercaptopurine|Purinethol\tD03.633\t\n")
MESH_SUPP = "C582670\talectinib\tAF-802|CH5424802\tD000970\n"
PUBCHEM_MESH = "11626560\tD000077547\n49806720\tC582670\n"
MONDO_JSON = [{"id": "0017602", "name": "ALK-positive anaplastic large cell lymphoma",
               "namespace": "mondo", "synonyms": ["ALK+ ALCL"],
               "xrefs": [{"id": "C37193", "namespace": "NCIT"}, {"id": "0", "namespace": "DOID"}]}]


@pytest.fixture()
def inputs(tmp_path: Path) -> dict[str, Path]:
    obo = tmp_path / "mini.obo"
    obo.write_text(OBO, encoding="utf-8")
    graph = tmp_path / "hp-mini.json"
    graph.write_text(json.dumps(OBOGRAPH), encoding="utf-8")
    res = tmp_path / "resources"
    res.mkdir()
    (res / "hgnc_entries.tsv").write_text(HGNC, encoding="utf-8")
    (res / "mesh_id_label_mappings.tsv").write_text(MESH, encoding="utf-8")
    (res / "mesh_supp_id_label_mappings.tsv").write_text(MESH_SUPP, encoding="utf-8")
    (res / "pubchem_mesh_map.tsv").write_text(PUBCHEM_MESH, encoding="utf-8")
    (res / "mondo.json").write_text(json.dumps(MONDO_JSON), encoding="utf-8")
    return {"obo": obo, "graph": graph, "resources": res, "cache": tmp_path / "cache"}


@pytest.fixture()
def matcher(inputs: dict[str, Path]) -> Matcher:
    return load_matcher(mappings=ROOT / "mappings", resources=inputs["resources"],
                        ontologies=[inputs["obo"], inputs["graph"]], cellxgene=False,
                        cache_dir=inputs["cache"])


@pytest.fixture()
def offline_only(inputs: dict[str, Path]) -> Matcher:
    return load_matcher(resources=inputs["resources"], ontologies=[inputs["obo"], inputs["graph"]],
                        cellxgene=False, cache_dir=None)


# ------------------------------------------------------------------------- offline matching


def test_obo_reader_skips_obsolete_terms_and_weighs_synonym_scopes(inputs: dict[str, Path]) -> None:
    entries = list(ontology_entries(inputs["obo"]))
    curies = {e.curie for e in entries}
    assert "MONDO:0000001" not in curies
    assert {"MONDO:0015798", "MONDO:0017602", "MONDO:0020325"} <= curies
    by_text = {e.text: e for e in entries}
    assert by_text["IMT"].weight > by_text["plasma cell granuloma"].weight
    assert by_text["inflammatory myofibroblastic tumor"].kind == "label"


def test_obograph_reader_compresses_iris_and_skips_deprecated(inputs: dict[str, Path]) -> None:
    entries = list(ontology_entries(inputs["graph"]))
    assert {e.curie for e in entries} == {"HP:0002789", "HP:0001945"}
    assert ("HP:0002789", "Rapid breathing", "synonym") in {(e.curie, e.text, e.kind)
                                                             for e in entries}


OWL_XML = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"
         xmlns:owl="http://www.w3.org/2002/07/owl#"
         xmlns:oboInOwl="http://www.geneontology.org/formats/oboInOwl#">
  <owl:Class rdf:about="http://purl.obolibrary.org/obo/MONDO_0015798">
    <rdfs:label xml:lang="en">inflammatory myofibroblastic tumor</rdfs:label>
    <oboInOwl:hasExactSynonym>IMT</oboInOwl:hasExactSynonym>
    <oboInOwl:hasRelatedSynonym>plasma cell granuloma</oboInOwl:hasRelatedSynonym>
  </owl:Class>
  <owl:Class rdf:about="http://purl.obolibrary.org/obo/MONDO_0000001">
    <rdfs:label>obsolete thing</rdfs:label>
    <owl:deprecated rdf:datatype="http://www.w3.org/2001/XMLSchema#boolean">true</owl:deprecated>
  </owl:Class>
</rdf:RDF>
"""


@pytest.mark.parametrize("suffix", [".owl", ".ttl"])
def test_owl_reader_reads_labels_and_oboinowl_synonyms(tmp_path: Path, suffix: str) -> None:
    import pyoxigraph as ox

    path = tmp_path / f"mondo-mini{suffix}"
    if suffix == ".owl":
        path.write_text(OWL_XML, encoding="utf-8")
    else:
        triples = list(ox.parse(OWL_XML.encode(), format=ox.RdfFormat.RDF_XML))
        path.write_bytes(ox.serialize(triples, format=ox.RdfFormat.TURTLE))
    entries = list(ontology_entries(path))
    assert {e.curie for e in entries} == {"MONDO:0015798"}  # the deprecated class is left out
    by_text = {e.text: e for e in entries}
    assert by_text["inflammatory myofibroblastic tumor"].kind == "label"
    assert by_text["IMT"].weight > by_text["plasma cell granuloma"].weight
    broken = tmp_path / f"broken{suffix}"
    broken.write_text("<rdf:RDF" if suffix == ".owl" else "<a> <b> .", encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        list(ontology_entries(broken))
    assert info.value.path == str(broken)


def test_resource_reader_gives_hgnc_genes_under_both_identifiers(inputs: dict[str, Path]) -> None:
    entries = list(resource_entries(inputs["resources"]))
    langerin = {e.curie for e in entries if e.text == "Langerin"}
    assert langerin == {"HGNC:17935", "NCBIGene:50489"}
    assert not any(e.curie == "HGNC:99999" for e in entries)  # withdrawn
    xref = [e for e in entries if e.curie == "NCIT:C37193"]
    assert xref and all(e.source == "MONDO:0017602 xref" and e.weight < 0.99 for e in xref)
    assert {e.curie for e in entries if e.text == "alectinib"} == {
        "MESH:C582670", "pubchem.compound:49806720"}


@pytest.mark.parametrize(("term", "curie", "match_type"), [
    ("inflammatory myofibroblastic tumor", "MONDO:0015798", MatchType.EXACT),
    ("IMT", "MONDO:0015798", MatchType.SYNONYM),
    ("Inflammatory myofibroblastic tumours", "MONDO:0015798", MatchType.NORMALISED),
    ("inflammatory myofibroblastic tumors (IMTs)", "MONDO:0015798", MatchType.NORMALISED),
    ("tachypnoea", "HP:0002789", MatchType.NORMALISED),
    ("Lymphoma, anaplastic large cell", "MONDO:0020325", MatchType.NORMALISED),
    ("inflamatory myofibroblastic tumor", "MONDO:0015798", MatchType.FUZZY),
    ("Langerin", "HGNC:17935", MatchType.SYNONYM),
])
def test_offline_match_types(offline_only: Matcher, term: str, curie: str,
                             match_type: MatchType) -> None:
    best = offline_only.resolve(term, prefixes=[curie.split(":")[0]]).best()
    assert best is not None
    assert (best.curie, best.match_type) == (curie, match_type)


def test_scores_rank_exact_over_synonym_over_normalised_over_fuzzy(offline_only: Matcher) -> None:
    def score(term: str) -> float:
        best = offline_only.resolve(term, prefixes=["MONDO"]).best()
        assert best is not None and best.curie == "MONDO:0015798"
        return best.score

    assert score("inflammatory myofibroblastic tumor") > score("IMT") > \
        score("inflammatory myofibroblastic tumours") > score("inflamatory myofibroblastic tumor")


def test_ambiguous_term_returns_all_tied_candidates_and_picks_none(offline_only: Matcher) -> None:
    resolution = offline_only.resolve("shared synonym")
    tied = [c for c in resolution.candidates if c.ambiguous]
    assert {c.curie for c in tied} == {"MONDO:0011111", "MONDO:0022222"}
    assert tied[0].score == tied[1].score
    assert resolution.ambiguous
    assert resolution.best() is None
    assert resolution.best("MONDO") is None


def test_same_score_in_two_identifier_spaces_is_not_ambiguous(offline_only: Matcher) -> None:
    resolution = offline_only.resolve("ALK+ ALCL")
    assert not resolution.ambiguous
    assert resolution.best("MONDO").curie == "MONDO:0017602"  # type: ignore[union-attr]
    assert resolution.best("NCIT").curie == "NCIT:C37193"  # type: ignore[union-attr]


def test_acronym_does_not_match_an_ordinary_word(offline_only: Matcher) -> None:
    # MeSH lists "Cars" as an entry term of Automobiles; CARS is a gene's previous symbol
    candidates = offline_only.resolve("CARS").candidates
    assert "MESH:D001336" not in {c.curie for c in candidates}
    assert offline_only.resolve("CARS", prefixes=["HGNC"]).best().curie == "HGNC:1493"  # type: ignore[union-attr]
    assert offline_only.resolve("cars").best().curie == "MESH:D001336"  # type: ignore[union-attr]


def test_spelled_out_abbreviation_meets_an_ordinary_word() -> None:
    # 2-CDA is an acronym, "cladribine" an ordinary word: the acronym guard must not drop it
    index = LexicalIndex.build([Entry("pubchem.compound:20279", "cladribine", "cladribine",
                                      "curated", "curated", 1.0)])
    best = Matcher([index]).resolve("2-CDA").best()
    assert best is not None
    assert (best.curie, best.match_type) == ("pubchem.compound:20279", MatchType.NORMALISED)


def test_prefix_filter_and_unknown_term(offline_only: Matcher) -> None:
    assert offline_only.resolve("alectinib", prefixes=["pubchem.compound"]).best().curie == \
        "pubchem.compound:49806720"  # type: ignore[union-attr]
    assert offline_only.resolve("alectinib", prefixes=["HP"]).candidates == ()
    assert offline_only.resolve("zzzz qqqq").candidates == ()


def test_curated_row_outranks_an_ontology_entry_at_equal_match() -> None:
    curated = LexicalIndex.build([Entry("MONDO:0000002", "curated answer", "shared name",
                                        "curated", "curated", 1.0)])
    ontology = LexicalIndex.build([Entry("MONDO:0000003", "ontology answer", "shared name",
                                         "label", "MONDO", 0.99)])
    resolution = Matcher([ontology, curated]).resolve("shared name")
    assert resolution.best().curie == "MONDO:0000002"  # type: ignore[union-attr]
    assert not resolution.ambiguous


def test_repository_curated_tables_resolve_their_own_mentions(matcher: Matcher) -> None:
    rows = read_sssom(ROOT / "mappings" / "terms.sssom.tsv")
    exact = [r for r in rows if r.predicate_id == "skos:exactMatch"][:40]
    for row in exact:
        prefix = row.object_id.split(":")[0]
        resolution = matcher.resolve(row.subject_label, prefixes=[prefix])
        assert row.object_id in {c.curie for c in resolution.candidates}, row


def test_curated_entries_carry_predicate_weights() -> None:
    entries = curated_entries(ROOT / "mappings")
    weights = {e.weight for e in entries if e.kind == "curated"}
    assert 1.0 in weights and min(weights) < 1.0


def test_index_is_cached_and_rebuilt_when_a_source_changes(inputs: dict[str, Path]) -> None:
    sources = offline_sources(ontologies=[inputs["obo"]], cellxgene=False)
    first = cached_index(sources, cache_dir=inputs["cache"])
    files = sorted(inputs["cache"].glob("lexical-*.sqlite"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    second = cached_index(sources, cache_dir=inputs["cache"])
    assert files[0].stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert len(first) == len(second) > 0
    time.sleep(0.01)
    inputs["obo"].write_text(OBO.replace("pseudotumor beta", "pseudotumor gamma"), encoding="utf-8")
    third = cached_index(offline_sources(ontologies=[inputs["obo"]], cellxgene=False),
                         cache_dir=inputs["cache"])
    assert sorted(inputs["cache"].glob("lexical-*.sqlite")) == files  # rebuilt in place
    assert files[0].stat().st_mtime_ns != stamp
    assert third.fingerprint != first.fingerprint
    assert Matcher([third]).resolve("pseudotumor gamma").best() is not None
    assert Matcher([third]).resolve("pseudotumor beta").best() is None


def test_unknown_ontology_format_is_a_located_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "terms.xlsx"
    path.write_text("not an ontology", encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        OntologyFormat.from_path(path)
    assert info.value.path == str(path)
    assert ".obo" in str(info.value) and ".owl" in str(info.value)


def test_malformed_obograph_reports_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"graphs": [\n  {"nodes": [}\n]}', encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        list(ontology_entries(path))
    assert info.value.path == str(path)
    assert info.value.line == 2


def test_no_source_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        load_matcher(cellxgene=False)


@pytest.mark.skipif(not cellxgene_files(), reason="cellxgene-ontology-guide not installed")
def test_cellxgene_release_gives_mondo_and_uberon_labels() -> None:
    files = {p.name.split("-ontology-")[0]: p for p in cellxgene_files()}
    assert set(files) == {"MONDO", "UBERON"}
    labels = {e.curie: e.label for e in cellxgene_entries(files["MONDO"]) if e.kind == "label"}
    assert labels["MONDO:0017602"] == "ALK-positive anaplastic large cell lymphoma"
    assert not any(v.startswith("obsolete ") for v in labels.values())


# ---------------------------------------------------------------------- the `map` command


def run_map(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["map", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def offline_args(inputs: dict[str, Path]) -> list[str]:
    return ["--no-cellxgene", "--mappings", str(inputs["cache"] / "none"),
            "--resources", str(inputs["resources"]), "--ontology", str(inputs["obo"]),
            "--ontology", str(inputs["graph"]), "--cache-dir", str(inputs["cache"])]


def test_map_prints_ranked_candidates(inputs: dict[str, Path]) -> None:
    code, out, _ = run_map("tachypnoea", "IMT", *offline_args(inputs))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "tachypnoea"
    assert "HP:0002789" in lines[1] and "Tachypnea" in lines[1] and "normalised" in lines[1]
    imt = lines.index("IMT")
    assert "MONDO:0015798" in lines[imt + 1] and "synonym" in lines[imt + 1]


def test_map_exit_code_one_for_unresolved_or_ambiguous(inputs: dict[str, Path]) -> None:
    code, out, _ = run_map("zzzz qqqq", *offline_args(inputs))
    assert code == 1 and "(no candidate)" in out
    code, out, _ = run_map("shared synonym", *offline_args(inputs))
    assert code == 1 and out.count("ambiguous") == 2


def test_map_reads_terms_from_a_file_and_filters_by_category(inputs: dict[str, Path],
                                                              tmp_path: Path) -> None:
    terms = tmp_path / "terms.txt"
    terms.write_text("# diseases\nALK+ ALCL\n\nalectinib\n", encoding="utf-8")
    code, out, _ = run_map("--file", str(terms), "--category", "chemical", "--format", "tsv",
                           *offline_args(inputs))
    rows = [line.split("\t") for line in out.splitlines()[1:]]
    assert {r[0] for r in rows} == {"alectinib"}  # nothing chemical for ALK+ ALCL
    assert {r[2] for r in rows} == {"pubchem.compound:49806720", "MESH:C582670"}
    assert code == 1


def test_map_writes_sssom_that_the_sssom_library_parses(inputs: dict[str, Path],
                                                         tmp_path: Path) -> None:
    from sssom.parsers import parse_sssom_table

    out = tmp_path / "candidates.sssom.tsv"
    code, _, _ = run_map("IMT", "tachypnoea", "shared synonym", "--write", str(out),
                         *offline_args(inputs))
    assert code == 1  # "shared synonym" is ambiguous
    df = parse_sssom_table(out).df
    assert set(df["mapping_justification"]) == {"semapv:LexicalMatching"}
    assert set(df["subject_id"]) == {"alkldterm:imt", "alkldterm:tachypnoea",
                                     "alkldterm:shared-synonym"}
    row = df[df["object_id"] == "MONDO:0015798"].iloc[0]
    assert row["predicate_id"] == "skos:exactMatch"
    assert 0.9 < float(row["confidence"]) <= 1.0
    ambiguous = df[df["subject_label"] == "shared synonym"]
    assert all("ambiguous" in c for c in ambiguous["comment"])
    # alkld's own reader accepts it too (the curated tables' format)
    assert {m.object_id for m in read_sssom(out)} >= {"MONDO:0015798", "HP:0002789"}


def test_fuzzy_rows_are_close_matches(offline_only: Matcher, tmp_path: Path) -> None:
    resolutions = map_terms(["inflamatory myofibroblastic tumor"], offline_only, top=1)
    out = tmp_path / "fuzzy.sssom.tsv"
    write_sssom(resolutions, out)
    text = out.read_text(encoding="utf-8")
    assert "\tskos:closeMatch\tMONDO:0015798\t" in text
    assert to_sssom(resolutions).count("\n") == text.count("\n")


def test_map_unknown_ontology_format_exits_2(inputs: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "x.xlsx"
    bad.write_text("", encoding="utf-8")
    code, _, err = run_map("fever", "--ontology", str(bad), *offline_args(inputs))
    assert code == 2 and "unknown ontology format" in err


# ------------------------------------------------------------------- online: a local server


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def recorded(name: str, status: int = 200, **kw: object) -> Reply:
    return Reply(status, (RECORDED / name).read_bytes(),
                 {"Content-Type": "application/json"}, **kw)  # type: ignore[arg-type]


class Replay:
    """Route → queue of replies (the last one repeats); every request is logged."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.log: list[tuple[float, str, dict[str, list[str]]]] = []
        self.lock = threading.Lock()

    def add(self, path: str, *replies: Reply) -> None:
        self.routes[path] = list(replies)

    def next(self, path: str) -> Reply:
        with self.lock:
            queue = self.routes.get(path)
            if not queue:
                return Reply(599, b"no route " + path.encode())
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def hits(self, path: str) -> int:
        return sum(1 for _, p, _ in self.log if p == path)


@pytest.fixture()
def server() -> Iterator[tuple[str, Replay]]:
    replay = Replay()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            with replay.lock:
                replay.log.append((time.monotonic(), parts.path, parse_qs(parts.query)))
            reply = replay.next(parts.path)
            if reply.delay:
                time.sleep(reply.delay)
            try:
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", replay
    finally:
        httpd.shutdown()
        httpd.server_close()


def client(name: str, base: str, **kw: object) -> HttpClient:
    options: dict[str, object] = {"retries": 2, "backoff": 0.01, "timeout": 2.0, "rate": 1000.0}
    options.update(kw)
    return HttpClient(SERVICES[name], base_url=base, **options)  # type: ignore[arg-type]


PUBCHEM_PATH = "/rest/pug/compound/name/alectinib/property/Title/JSON"


def test_pubchem_name_to_cid(server: tuple[str, Replay]) -> None:
    base, replay = server
    replay.add(PUBCHEM_PATH, recorded("pubchem_alectinib.json"))
    [c] = PubChemResolver(client("pubchem", base + "/rest/pug")).resolve("alectinib")
    assert (c.curie, c.label, c.source, c.match_type) == (
        "pubchem.compound:49806720", "Alectinib", "PubChem", MatchType.EXACT)


def test_pubchem_unknown_name_is_no_candidate(server: tuple[str, Replay]) -> None:
    base, replay = server
    replay.add("/rest/pug/compound/name/nosuchdrug/property/Title/JSON",
               recorded("pubchem_notfound.json", 404))
    assert PubChemResolver(client("pubchem", base + "/rest/pug")).resolve("nosuchdrug") == []


def test_ncbi_gene_symbol_to_gene_id(server: tuple[str, Replay]) -> None:
    base, replay = server
    replay.add("/entrez/eutils/esearch.fcgi", recorded("eutils_esearch_alk.json"))
    replay.add("/entrez/eutils/esummary.fcgi", recorded("eutils_esummary_238.json"))
    resolver = NcbiGeneResolver(client("ncbi", base + "/entrez/eutils"), email="dev@example.org")
    [c] = resolver.resolve("ALK")
    assert (c.curie, c.label, c.match_type) == ("NCBIGene:238", "ALK", MatchType.EXACT)
    _, _, query = replay.log[0]
    assert query["term"] == ["ALK[sym] AND 9606[taxid]"]
    assert query["db"] == ["gene"] and query["tool"] == ["alkld"]
    assert query["email"] == ["dev@example.org"]
    assert replay.log[1][2]["id"] == ["238"]


def test_ncbi_alias_is_a_synonym_match_and_no_hit_is_empty(server: tuple[str, Replay]) -> None:
    base, replay = server
    replay.add("/entrez/eutils/esearch.fcgi", recorded("eutils_esearch_alk.json"))
    replay.add("/entrez/eutils/esummary.fcgi", recorded("eutils_esummary_238.json"))
    resolver = NcbiGeneResolver(client("ncbi", base + "/entrez/eutils"))
    [c] = resolver.resolve("CD246")
    assert (c.curie, c.match_type) == ("NCBIGene:238", MatchType.SYNONYM)
    replay.add("/entrez/eutils/esearch.fcgi", recorded("eutils_esearch_none.json"))
    assert resolver.resolve("NOSUCHGENE1") == []


def test_ols_search_ranks_label_then_synonym(server: tuple[str, Replay]) -> None:
    base, replay = server
    replay.add("/ols4/api/search", recorded("ols_search_alcl.json"))
    candidates = resolve_online("ALK-positive anaplastic large cell lymphoma",
                                [OlsResolver(client("ols", base + "/ols4"))])
    assert [c.curie for c in candidates][:2] == ["MONDO:0017602", "NCIT:C37193"]
    assert candidates[0].match_type is MatchType.EXACT
    assert candidates[1].match_type is MatchType.SYNONYM
    assert all(c.curie.startswith(("MONDO:", "NCIT:")) for c in candidates)  # no obo_id: skipped
    only_mondo = resolve_online("ALK+ ALCL", [OlsResolver(client("ols", base + "/ols4"))],
                                prefixes=["MONDO"])
    assert {c.prefix for c in only_mondo} == {"MONDO"}


def test_mesh_lookup_exact_then_contains(server: tuple[str, Replay]) -> None:
    base, replay = server
    replay.add("/mesh/lookup/descriptor", recorded("mesh_lookup_crizotinib.json"))
    [c] = MeshResolver(client("mesh", base + "/mesh")).resolve("crizotinib")
    assert (c.curie, c.label, c.match_type) == ("MESH:D000077547", "Crizotinib", MatchType.EXACT)
    replay.add("/mesh/lookup/descriptor", recorded("mesh_lookup_empty.json"),
               recorded("mesh_lookup_contains_lymphoma_kinase.json"))
    [c] = MeshResolver(client("mesh", base + "/mesh")).resolve("lymphoma kinase")
    assert (c.curie, c.match_type) == ("MESH:D000077548", MatchType.FUZZY)
    matches = [q["match"][0] for _, p, q in replay.log if p == "/mesh/lookup/descriptor"]
    assert matches == ["exact", "exact", "contains"]


def test_429_then_success_honours_retry_after(server: tuple[str, Replay]) -> None:
    base, replay = server
    replay.add(PUBCHEM_PATH, Reply(429, b'{"Fault": {"Code": "PUGREST.ServerBusy"}}',
                                   {"Retry-After": "1"}),
               recorded("pubchem_alectinib.json"))
    start = time.monotonic()
    [c] = PubChemResolver(client("pubchem", base + "/rest/pug")).resolve("alectinib")
    assert c.curie == "pubchem.compound:49806720"
    assert replay.hits(PUBCHEM_PATH) == 2
    (t1, _, _), (t2, _, _) = replay.log
    assert t2 - t1 >= 0.95  # waited what Retry-After asked, not the 0.01 s backoff
    assert time.monotonic() - start < 5


def test_5xx_is_retried_with_backoff_then_succeeds(server: tuple[str, Replay]) -> None:
    base, replay = server
    replay.add(PUBCHEM_PATH, Reply(503, b"busy"), Reply(502, b"bad gateway"),
               recorded("pubchem_alectinib.json"))
    [c] = PubChemResolver(client("pubchem", base + "/rest/pug", backoff=0.1)).resolve("alectinib")
    assert c.curie == "pubchem.compound:49806720"
    times = [t for t, p, _ in replay.log if p == PUBCHEM_PATH]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.09 and times[2] - times[1] >= 0.19  # 0.1 s, then 0.2 s


def test_persistent_500_is_a_clear_service_error(server: tuple[str, Replay]) -> None:
    base, replay = server
    replay.add(PUBCHEM_PATH, Reply(500, b"internal error"))
    with pytest.raises(ServiceError) as info:
        PubChemResolver(client("pubchem", base + "/rest/pug")).resolve("alectinib")
    error = info.value
    assert isinstance(error, AlkldError)
    assert error.status == 500 and error.service == "PubChem"
    assert PUBCHEM_PATH in error.url
    assert "unavailable: HTTP 500 after 3 attempts" in str(error)
    assert replay.hits(PUBCHEM_PATH) == 3


def test_timeout_is_retried_then_reported(server: tuple[str, Replay]) -> None:
    base, replay = server
    replay.add(PUBCHEM_PATH, Reply(200, b"{}", delay=1.0))
    with pytest.raises(ServiceError, match=r"no answer within 0.2 s after 2 attempts"):
        PubChemResolver(client("pubchem", base + "/rest/pug", timeout=0.2, retries=1)
                        ).resolve("alectinib")
    assert replay.hits(PUBCHEM_PATH) == 2


def test_malformed_json_is_an_error_without_retry(server: tuple[str, Replay]) -> None:
    base, replay = server
    replay.add(PUBCHEM_PATH, recorded("pubchem_truncated.txt"))
    with pytest.raises(ServiceError, match="malformed JSON") as info:
        PubChemResolver(client("pubchem", base + "/rest/pug")).resolve("alectinib")
    assert "pug-rest" in str(info.value)  # links the documented format
    assert replay.hits(PUBCHEM_PATH) == 1


def test_unexpected_json_shape_is_an_error(server: tuple[str, Replay]) -> None:
    base, replay = server
    replay.add("/ols4/api/search", recorded("mesh_lookup_crizotinib.json"))  # a list, not Solr
    with pytest.raises(ServiceError, match="response.docs"):
        OlsResolver(client("ols", base + "/ols4")).resolve("x")


def test_service_down_is_a_clear_error(server: tuple[str, Replay]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # nothing listens on `port` now
    with pytest.raises(ServiceError, match="cannot connect") as info:
        MeshResolver(client("mesh", f"http://127.0.0.1:{port}/mesh", retries=1)).resolve("x")
    assert info.value.status is None
    assert "--offline" in str(info.value)


def test_rate_limit_spaces_requests(server: tuple[str, Replay]) -> None:
    base, replay = server
    replay.add("/mesh/lookup/descriptor", recorded("mesh_lookup_crizotinib.json"))
    resolver = MeshResolver(client("mesh", base + "/mesh", rate=10.0))
    for i in range(5):
        resolver.resolve(f"term {i}")
    times = [t for t, _, _ in replay.log]
    assert len(times) == 5
    assert times[-1] - times[0] >= 0.38  # 4 gaps of 0.1 s
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.08


def test_default_rates_follow_the_services_policies() -> None:
    assert SERVICES["pubchem"].rate == 5.0
    assert SERVICES["ncbi"].rate == 3.0


def test_answers_are_cached_on_disk(server: tuple[str, Replay], tmp_path: Path) -> None:
    base, replay = server
    replay.add(PUBCHEM_PATH, recorded("pubchem_alectinib.json"))
    cache = tmp_path / "http"
    first = PubChemResolver(client("pubchem", base + "/rest/pug", cache_dir=cache))
    assert first.resolve("alectinib")[0].curie == "pubchem.compound:49806720"
    assert first.resolve("alectinib")[0].curie == "pubchem.compound:49806720"
    again = PubChemResolver(client("pubchem", base + "/rest/pug", cache_dir=cache))
    assert again.resolve("alectinib")[0].curie == "pubchem.compound:49806720"
    assert replay.hits(PUBCHEM_PATH) == 1
    assert len(list(cache.rglob("*.json"))) == 1


def test_make_resolvers_rejects_unknown_service() -> None:
    with pytest.raises(ConfigurationError, match="unknown service chembl"):
        make_resolvers(["pubchem"], base_urls={"chembl": "http://x"})


def test_map_online_merges_service_candidates(server: tuple[str, Replay],
                                              inputs: dict[str, Path]) -> None:
    base, replay = server
    replay.add(PUBCHEM_PATH, recorded("pubchem_alectinib.json"))
    code, out, _ = run_map("alectinib", "--online", "--service", "pubchem",
                           "--service-url", f"pubchem={base}/rest/pug",
                           "--prefix", "pubchem.compound", *offline_args(inputs))
    assert code == 0
    first = out.splitlines()[1]
    # the offline xref (MeSH → PubChem) and PubChem agree; the best score is kept
    assert "pubchem.compound:49806720" in first
    assert replay.hits(PUBCHEM_PATH) == 1


def test_map_online_with_service_down_exits_2(inputs: dict[str, Path]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = run_map("alectinib", "--online", "--service", "mesh",
                           "--service-url", f"mesh=http://127.0.0.1:{port}/mesh",
                           *offline_args(inputs))
    assert code == 2
    assert "NLM MeSH: unavailable" in err
