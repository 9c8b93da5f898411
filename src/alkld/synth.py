"""``alkld synth``: synthetic case records for measuring scale — a benchmark input, never data.

The records follow the record format (docs/record-format.md) and draw every term from the
real records in ``cases/`` (diseases, 5′ partners, IHC markers and results, drugs with their
doses and frequencies, response categories, outcomes), so every term maps and every case
conforms to the shapes. Each file holds one synthetic publication with ``--per-file`` cases;
the keys say ``synth`` and the publication says it is synthetic.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from alkld.errors import ConfigurationError

__all__ = ["Pools", "synth_command", "synthesise", "write_synthetic"]

log = logging.getLogger(__name__)


@dataclass
class Pools:
    """Values seen in the real records, sampled by the generator."""

    diseases: list[str] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)
    ihc: list[tuple[str, str]] = field(default_factory=list)
    drugs: list[dict[str, Any]] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    outcomes: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def from_cases(cls, cases: Path) -> Pools:
        pools = cls()
        files = sorted(cases.glob("*.yaml"))
        if not files:
            raise ConfigurationError("no case records to learn from", path=cases,
                                     expected="the real records (*.yaml)")
        for path in files:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            for case in doc.get("cases") or []:
                for dx in case.get("diagnoses") or []:
                    if dx.get("status") not in ("misdiagnosis", "differential"):
                        pools.diseases.append(dx["disease"])
                for fusion in case.get("fusions") or []:
                    gene = (fusion.get("five_prime") or {}).get("gene")
                    if gene:
                        pools.partners.append(gene)
                for ihc in case.get("ihc") or []:
                    pools.ihc.append((ihc["target"], ihc["result"]))
                for tx in case.get("treatments") or []:
                    for dose in tx.get("doses") or []:
                        if dose.get("quantity") and dose.get("frequency"):
                            pools.drugs.append({"agent": tx["agent"],
                                                "quantity": dose["quantity"],
                                                "frequency": dose["frequency"]})
                for resp in case.get("responses") or []:
                    if resp.get("category"):
                        pools.responses.append(resp["category"])
                outcome = case.get("outcome") or {}
                if outcome.get("status") and outcome.get("vital_status"):
                    pools.outcomes.append((outcome["status"], outcome["vital_status"]))
        for name in ("diseases", "partners", "ihc", "drugs", "responses", "outcomes"):
            if not getattr(pools, name):
                raise ConfigurationError(f"the records in {cases} have no {name} to sample",
                                         path=cases)
        return pools


def _case(rng: random.Random, pools: Pools, key: str, year: int) -> dict[str, Any]:
    age = rng.randint(1, 80)
    sex = rng.choice(["female", "male"])
    disease = rng.choice(pools.diseases)
    partner = rng.choice(pools.partners)
    drug = rng.choice(pools.drugs)
    month = rng.randint(1, 12)
    start = f"{year}-{month:02d}"
    status, vital = rng.choice(pools.outcomes)
    markers = rng.sample(sorted(set(pools.ihc)), k=min(3, len(set(pools.ihc))))
    seen: set[str] = set()
    ihc = []
    for i, (target, result) in enumerate(markers):
        if target in seen:
            continue
        seen.add(target)
        ihc.append({"id": f"ihc{i}", "target": target, "reported_as": target,
                    "result": result,
                    "quote": f"{target} {result}"})
    return {
        "key": key,
        "title": f"Synthetic case {key}: {disease} with {partner}::ALK",
        "quote": f"synthetic case {key}",
        "patient": {"age": {"value": age, "unit": "year"}, "sex": sex,
                    "quote": f"a {age}-year-old {sex}"},
        "diagnoses": [{"id": "dx", "disease": disease, "reported_as": disease,
                       "quote": f"diagnosed with {disease}"}],
        "fusions": [{"id": "fusion", "five_prime": {"gene": partner},
                     "three_prime": {"gene": "ALK"}, "reported_as": f"{partner}::ALK",
                     "status": "observed",
                     "quote": f"{partner}::ALK fusion"}],
        "ihc": ihc,
        "treatments": [{"id": "tx", "agent": drug["agent"], "reported_as": drug["agent"],
                        "targeted": True, "start": start,
                        "doses": [{"id": "dose", "quantity": drug["quantity"],
                                   "frequency": drug["frequency"], "start": start,
                                   "quote": f"{drug['agent']} {drug['quantity']['value']}"}],
                        "quote": f"treated with {drug['agent']}"}],
        "responses": [{"id": "response", "treatments": ["tx"],
                       "category": (category := rng.choice(pools.responses)),
                       "reported_as": category,
                       "quote": "response assessed"}],
        "outcome": {"status": status, "vital_status": vital,
                    "description": f"synthetic outcome: {status}", "quote": f"{status}, {vital}"},
    }


def synthesise(pools: Pools, *, cases: int, seed: int, per_file: int = 100
               ) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(file name, record)`` pairs holding ``cases`` synthetic cases in all."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    made = 0
    index = 0
    while made < cases:
        n = min(per_file, cases - made)
        key = f"synth-{seed}-{index:06d}"
        year = rng.randint(2015, 2024)
        record = {
            "alkld_record": 1,
            "key": key,
            "source_file": f"{key}.txt",
            "curator": "alkld synth (synthetic benchmark input, not data)",
            "publication": {
                "article_type": "case report",
                "title": f"Synthetic case series {key} (benchmark input, not a real publication)",
                "authors": [{"name": "alkld synth"}],
                "journal": "Synthetic Journal of Benchmarks",
                "licence": "unknown",
                "quote": "synthetic",
            },
            "cases": [_case(rng, pools, f"{key}-c{i:03d}", year) for i in range(n)],
        }
        yield f"{key}.yaml", record
        made += n
        index += 1


def write_synthetic(out: Path, pools: Pools, *, cases: int, seed: int, per_file: int = 100
                    ) -> int:
    """Write the synthetic records into ``out`` (each file atomically); return the file count."""
    out.mkdir(parents=True, exist_ok=True)
    files = 0
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    for name, record in synthesise(pools, cases=cases, seed=seed, per_file=per_file):
        tmp = out / f".{name}.tmp"
        tmp.write_text("# synthetic benchmark input generated by `alkld synth`: not data\n"
                       + yaml.dump(record, Dumper=dumper, sort_keys=False, allow_unicode=True),
                       encoding="utf-8")
        os.replace(tmp, out / name)
        files += 1
    return files


@click.command("synth")
@click.option("--cases", "n_cases", type=click.IntRange(min=1), required=True,
              help="How many synthetic cases to write.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Directory for the synthetic records (not cases/).")
@click.option("--per-file", type=click.IntRange(min=1), default=100, show_default=True,
              help="Cases per record file.")
@click.option("--from", "source", type=click.Path(path_type=Path), default=Path("cases"),
              show_default=True, help="Real records whose vocabulary is sampled.")
def synth_command(n_cases: int, seed: int, out: Path, per_file: int, source: Path) -> None:
    """Write N synthetic case records (a benchmark input, never published as data)."""
    if out.resolve() == source.resolve():
        raise ConfigurationError("refusing to write synthetic records into the real cases",
                                 path=out, field="--out")
    pools = Pools.from_cases(source)
    files = write_synthetic(out, pools, cases=n_cases, seed=seed, per_file=per_file)
    click.echo(f"wrote {n_cases} synthetic cases in {files} files → {out}", err=True)
