"""Synthetic records, the process pool and incremental rebuilds, on real builds."""

from __future__ import annotations

import dataclasses
import logging
import re
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest

from alkld.pipeline import VALIDATION_CHUNK, build
from alkld.synth import Pools, write_synthetic
from tests.conftest import ROOT, repo_options, tree_digest


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    cases = tmp_path_factory.mktemp("synth") / "cases"
    write_synthetic(cases, Pools.from_cases(ROOT / "cases"), cases=24, seed=7, per_file=6)
    return cases


def _dumps(out: Path) -> dict[str, str]:
    return {k: v for k, v in tree_digest(out).items() if not k.startswith("store")}


def test_synth_is_deterministic_and_draws_from_the_real_records(synthetic, tmp_path):
    again = tmp_path / "again"
    write_synthetic(again, Pools.from_cases(ROOT / "cases"), cases=24, seed=7, per_file=6)
    assert tree_digest(again) == tree_digest(synthetic)
    assert len(list(synthetic.glob("*.yaml"))) == 4
    pools = Pools.from_cases(ROOT / "cases")
    text = "".join(p.read_text() for p in synthetic.glob("*.yaml"))
    assert any(d in text for d in pools.diseases) and "ALK" in text
    other = tmp_path / "other"
    write_synthetic(other, pools, cases=24, seed=8, per_file=6)
    assert tree_digest(other) != tree_digest(synthetic)


def test_pool_build_conforms_and_equals_the_serial_build(synthetic, tmp_path):
    serial = build(repo_options(tmp_path / "serial", cases=synthetic), jobs=1)
    pooled = build(repo_options(tmp_path / "pooled", cases=synthetic), jobs=2)
    assert not serial.violations and not pooled.violations
    assert len(pooled.case_graphs) == 24
    assert _dumps(tmp_path / "serial") == _dumps(tmp_path / "pooled")


@pytest.mark.parametrize("validator", ["rudof", "pyshacl"])
def test_a_record_validated_in_several_chunks_reports_each_result_once(tmp_path, validator):
    # a synthetic record cites a publication without a DOI (a warning); it is validated
    # with each chunk of VALIDATION_CHUNK cases, and used to be reported once a chunk
    cases = tmp_path / "cases"
    n = VALIDATION_CHUNK + 1
    write_synthetic(cases, Pools.from_cases(ROOT / "cases"), cases=n, seed=3, per_file=n)
    result = build(repo_options(tmp_path / "out", cases=cases), validator=validator)
    assert len(result.case_graphs) == n
    doi = [r for r in result.warnings if r.path and r.path.endswith("doi")]
    assert len(doi) == 1, doi
    assert len(set(result.results)) == len(result.results)


def test_one_changed_record_rebuilds_one_record(synthetic, tmp_path, caplog):
    cases = tmp_path / "cases"
    cases.mkdir()
    for p in synthetic.glob("*.yaml"):
        (cases / p.name).write_bytes(p.read_bytes())
    options = dataclasses.replace(repo_options(tmp_path / "out", cases=cases),
                                  cache_dir=tmp_path / "cache")
    build(options, cache=True)
    first = sorted(cases.glob("*.yaml"))[0]
    first.write_text(first.read_text().replace("synthetic case", "synthetic case (edited)", 1))
    with caplog.at_level(logging.INFO):
        build(options, cache=True)
    assert "record cache: 3 unchanged, 1 to build" in caplog.text
    # the store was updated in place: of the 31 graphs, the edited case's replaced
    found = re.search(r"store \S+: \d+ quads; (\d+) graph\(s\) replaced, 0 dropped",
                      caplog.text)
    assert found and 1 <= int(found[1]) <= 7  # a record's 6 case graphs and its publication
    clean = repo_options(tmp_path / "clean", cases=cases)
    build(clean)
    assert _dumps(tmp_path / "out") == _dumps(tmp_path / "clean")
    assert _store(tmp_path / "out") == _store(tmp_path / "clean")


def _store(out: Path) -> set[ox.Quad]:
    return set(ox.Store.read_only(str(out / "store")))


@pytest.mark.parametrize("change", ["removed", "added", "two edited", "none"])
def test_the_store_updated_in_place_equals_a_fresh_one(synthetic, tmp_path, caplog, change):
    """A rebuild from the record cache updates the previous store graph by graph; whatever
    changed (a record gone, a new one, records edited, nothing), the store it leaves holds
    exactly the quads of a store loaded afresh from the same records; with most records
    changed, or no manifest from the previous build, the store is loaded afresh."""
    cases = tmp_path / "cases"
    write_synthetic(cases, Pools.from_cases(ROOT / "cases"), cases=30, seed=5, per_file=3)
    options = dataclasses.replace(repo_options(tmp_path / "out", cases=cases),
                                  cache_dir=tmp_path / "cache")
    build(options, cache=True)
    files = sorted(cases.glob("*.yaml"))
    if change == "removed":
        files[4].unlink()
    elif change == "added":
        write_synthetic(tmp_path / "more", Pools.from_cases(ROOT / "cases"), cases=3, seed=6,
                        per_file=3)
        (cases / "zz-more.yaml").write_bytes(next((tmp_path / "more").glob("*.yaml"))
                                             .read_bytes())
    elif change == "two edited":  # 2 of 10 records: more than one in ten, loaded afresh
        for path in files[:2]:
            path.write_text(path.read_text().replace("synthetic case", "edited case", 1))
    with caplog.at_level(logging.INFO):
        build(options, cache=True, jobs=2)
    updated = "graph by graph" in caplog.text
    assert updated == (change != "two edited")
    if change == "removed":
        # its 3 case graphs and its publication's; the claims graph without its claims
        assert re.search(r"1 graph\(s\) replaced, 4 dropped", caplog.text)
    if change == "none":
        assert re.search(r"0 graph\(s\) replaced, 0 dropped", caplog.text)
    build(repo_options(tmp_path / "clean", cases=cases))
    assert _dumps(tmp_path / "out") == _dumps(tmp_path / "clean")
    assert _store(tmp_path / "out") == _store(tmp_path / "clean")
    # the next rebuild has the manifest of this one; without it, a fresh load
    (tmp_path / "out" / ".store-graphs.json").unlink()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        build(options, cache=True)
    assert "graph by graph" not in caplog.text
    assert _store(tmp_path / "out") == _store(tmp_path / "clean")


def test_a_store_that_is_not_what_its_manifest_says_fails_once_then_loads_afresh(
        synthetic, tmp_path, caplog):
    """A graph dropped from the store behind the build's back: the updated store's count
    differs from the dumps', the build fails (nothing published) and removes the manifest;
    the next build loads every quad and succeeds."""
    options = dataclasses.replace(repo_options(tmp_path / "out", cases=synthetic),
                                  cache_dir=tmp_path / "cache")
    build(options, cache=True)
    store = ox.Store(str(tmp_path / "out" / "store"))
    case = next(g for g in store.named_graphs() if "/graph/case-" in g.value)
    store.remove_graph(case)
    store.flush()
    del store
    with pytest.raises(RuntimeError, match="the store holds"):
        build(options, cache=True)
    assert not (tmp_path / "out" / ".store-graphs.json").exists()
    caplog.clear()  # the failed build's lines, if this logger was already at INFO
    with caplog.at_level(logging.INFO):
        build(options, cache=True)
    assert "graph by graph" not in caplog.text
    build(repo_options(tmp_path / "clean", cases=synthetic))
    assert _store(tmp_path / "out") == _store(tmp_path / "clean")


def test_cached_records_are_read_one_at_a_time_and_a_bad_entry_is_rebuilt(
        tmp_path, monkeypatch, caplog):
    """A warm build holds one cached record's output at a time, not the whole release (at
    100k cases the cache is ~8 GB); an unreadable entry is built again, with a warning."""
    import gc
    import weakref

    from alkld.pipeline import RecordCache

    cases = tmp_path / "cases"
    write_synthetic(cases, Pools.from_cases(ROOT / "cases"), cases=16, seed=11, per_file=2)
    options = dataclasses.replace(repo_options(tmp_path / "out", cases=cases),
                                  cache_dir=tmp_path / "cache")
    build(options, cache=True)
    entries = sorted((tmp_path / "cache").rglob("*.pickle"))
    assert len(entries) == 8
    entries[3].write_bytes(b"not a pickle")

    alive: list[weakref.ref] = []
    most = 0
    read = RecordCache.get

    def get(self, record):
        nonlocal most
        gc.collect()
        most = max(most, sum(ref() is not None for ref in alive))
        output = read(self, record)
        if output is not None:
            alive.append(weakref.ref(output))
        return output

    monkeypatch.setattr(RecordCache, "get", get)
    with caplog.at_level(logging.INFO, logger="alkld.pipeline"):
        build(options, cache=True, jobs=2)
    assert "record cache: 8 unchanged, 0 to build" in caplog.text
    assert "is unreadable; building it" in caplog.text
    assert len(alive) == 7 and most <= 1
    build(repo_options(tmp_path / "clean", cases=cases))
    assert _dumps(tmp_path / "out") == _dumps(tmp_path / "clean")


def test_every_long_stage_reports_its_progress(synthetic, tmp_path):
    """The records (4 files), then the claims graph (one item a spooled claim line, the
    total known in advance); the store's finish beats once a second while it runs."""
    seen: dict[str, list[int | None]] = {}

    def progress(items, total, what):
        seen[what] = [total, 0]
        for item in items:
            seen[what][1] += 1
            yield item

    result = build(repo_options(tmp_path / "out", cases=synthetic), jobs=2, progress=progress)
    assert seen["records"] == [4, 4]
    total, counted = seen["claims"]
    claims = next(g for g in result.graphs if g.endswith("/graph/claims"))
    store = ox.Store.read_only(str(tmp_path / "out" / "store"))
    in_store = sum(1 for _ in store.quads_for_pattern(None, None, None, ox.NamedNode(claims)))
    assert total == counted >= in_store > 0  # one a line; a claim two records make is one

    import threading

    from alkld.pipeline import _while_alive

    # the heartbeat counts ticks while the thread runs, and ends once it has ended
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    beats = _while_alive(worker, tick=0.01)
    assert [next(beats) for _ in range(3)] == [1, 2, 3]
    release.set()
    worker.join()
    assert list(beats) == []


def test_synth_cli_refuses_the_real_cases_directory(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "alkld", "synth", "--cases", "3",
                           "--out", str(ROOT / "cases")], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert proc.returncode == 2 and "refusing" in proc.stderr


@pytest.mark.parametrize("jobs", [1, 2])
def test_an_iri_typed_in_two_case_graphs_stops_the_streaming_build(tmp_path, jobs):
    """The global check runs on the workers' digests of typed IRIs: a case keyed
    ``<key>-patient`` mints its evidence ``node/<key>-patient-ev``, which is also the
    evidence of case ``<key>``'s patient. The build stops on it and publishes nothing."""
    from alkld.errors import ValidationFailure

    base = (ROOT / "tests" / "fixtures" / "records" / "base.yaml").read_text(encoding="utf-8")
    head, case = base.split("\ncases:\n", 1)
    twin = case.replace("- key: hao2026-case1\n", "- key: hao2026-case1-patient\n", 1)
    assert twin != case
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "record.yaml").write_text(f"{head}\ncases:\n{case}{twin}", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(ValidationFailure) as failure:
        build(repo_options(out, cases=cases), jobs=jobs)
    message = str(failure.value)
    assert "node/hao2026-case1-patient-ev" in message
    assert "described in 2 case graphs" in message
    assert not out.exists()
    if jobs == 1:  # `alkld validate` (all graphs in memory, pySHACL) finds the same IRI
        from alkld.pipeline import validate_release

        _, results = validate_release(repo_options(out, cases=cases))
        shared = {r.focus for r in results if r.shape == "alkld:UniqueNodeIRIs"}
        assert "https://w3id.org/alkld/node/hao2026-case1-patient-ev" in shared
