"""``alkld build``, ``alkld validate`` and ``alkld query``: thin wrappers over the library."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from alkld.queries import RESULT_FORMATS
from alkld.vocab import DEFAULT_BASE

log = logging.getLogger(__name__)
T = TypeVar("T")

_DIR = click.Path(file_okay=False, path_type=Path)
_FILE = click.Path(dir_okay=False, path_type=Path)


def _inputs(f: Any) -> Any:
    """Options shared by build and validate."""
    for option in reversed([
        click.option("--cases", type=_DIR, default=Path("cases"), show_default=True,
                     help="Directory of case records (*.yaml)."),
        click.option("--mappings", type=_DIR, default=Path("mappings"), show_default=True,
                     help="Directory of SSSOM tables and the vocabulary extract."),
        click.option("--ontology", type=_FILE, default=Path("ontology/alkld.ttl"),
                     show_default=True, help="The alkld ontology (Turtle)."),
        click.option("--shapes", type=_FILE, default=Path("shapes/alkld.shapes.ttl"),
                     show_default=True, help="SHACL shapes (Turtle)."),
        click.option("--base", default=DEFAULT_BASE, show_default=True,
                     help="Base IRI of the IRIs the release mints."),
    ]):
        f = option(f)
    return f


def _progress(label: str) -> Any:
    """Progress bars on stderr for the long stages (silent when not a terminal).

    ``label`` names the first stage (``records`` or ``validating``); the build's later
    stages name themselves: the claims graph (count, rate, time left) and the store's
    finish (time so far: RocksDB tells nothing of how far its compaction is).
    """
    from tqdm import tqdm

    def wrap(items: Iterable[T], total: int | None = None, what: str = "records"
             ) -> Iterable[T]:
        bar: Iterable[T]
        if what == "store seconds":
            bar = tqdm(items, desc="store: last batches, compaction", disable=None,
                       leave=False, bar_format="{desc}: {elapsed}")
        else:
            unit = {"records": "record", "claims": "claim"}.get(what, what)
            bar = tqdm(items, desc=label if what == "records" else what, unit=unit,
                       total=total, disable=None, leave=False, smoothing=0.1)
        return bar
    return wrap


def _options(cases: Path, mappings: Path, ontology: Path, shapes: Path, base: str,
             out: Path = Path("output")) -> Any:
    from alkld.pipeline import BuildOptions

    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    issued = dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date() if epoch else None
    return BuildOptions(cases=cases, mappings=mappings, ontology=ontology, shapes=shapes,
                        vocabulary=mappings / "vocabulary.ttl", out=out, base=base,
                        issued=issued)


def _user_cache() -> Path:
    """The per-user cache alkld map uses too: ``$ALKLD_CACHE`` or ``~/.cache/alkld``."""
    from alkld.mapping.lexical import default_cache_dir

    return default_cache_dir(os.environ)


@click.command("build")
@_inputs
@click.option("--out", type=_DIR, default=Path("output"), show_default=True,
              help="Where the store and the dumps are written.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default=True, help="Processes that load, map, build and validate records.")
@click.option("--cache/--no-cache", default=True, show_default=True,
              help="Reuse the output of records unchanged since the last build "
                   "(kept in --cache-dir; keyed by record, tables, shapes and code).")
@click.option("--cache-dir", type=click.Path(path_type=Path), default=None,
              help="Where the record cache lives "
                   "[default: records/ in ~/.cache/alkld; env: ALKLD_CACHE].")
@click.option("--validator", type=click.Choice(["pyshacl", "rudof"]), default="rudof",
              show_default=True,
              help="SHACL engine: rudof (fast, Rust) or pySHACL (the reference, ~10x slower).")
def build_command(cases: Path, mappings: Path, ontology: Path, shapes: Path, base: str,
                  out: Path, jobs: int, cache: bool, cache_dir: Path | None,
                  validator: str) -> None:
    """Build, validate and write the release (store, dumps, VoID/DCAT, SHA256SUMS).

    \b
    Nothing is written unless every case conforms to the SHACL shapes.
    The release date in void.ttl comes from SOURCE_DATE_EPOCH (reproducible builds).
    Exit codes: 0 ok, 1 violations, 2 bad input or configuration.
    """
    from alkld.native import loaded
    from alkld.pipeline import build
    from alkld.validation.shacl import format_report

    allocator = loaded()
    log.info("allocator: %s", allocator or "the C library's malloc")
    options = dataclasses.replace(_options(cases, mappings, ontology, shapes, base, out),
                                  cache_dir=cache_dir or _user_cache() / "records")
    result = build(options, progress=_progress("records"), jobs=jobs, cache=cache,
                   validator=validator)
    if result.warnings:
        shown = result.warnings[:20]
        more = len(result.warnings) - len(shown)
        log.warning("%d SHACL warning(s):\n%s%s", len(result.warnings), format_report(shown),
                    f"\n… and {more} more (alkld validate lists them all)" if more else "")
    click.echo(f"built {len(result.case_graphs)} cases from "
               f"{len(result.records)} records: {result.quads} quads in "
               f"{len(result.graphs)} named graphs → {out}/")


@click.command("validate")
@_inputs
@click.option("--reasoner/--no-reasoner", default=False, show_default=True,
              help="Also run HermiT on the ontology (needs Java).")
def validate_command(cases: Path, mappings: Path, ontology: Path, shapes: Path, base: str,
                     reasoner: bool) -> None:
    """Check records, mappings and SHACL conformance without writing anything.

    Exit codes: 0 conforms, 1 violations, 2 bad input or configuration.
    """
    from alkld.errors import ValidationFailure
    from alkld.pipeline import validate_release
    from alkld.validation.shacl import format_report

    options = _options(cases, mappings, ontology, shapes, base)
    release, results = validate_release(options, _progress("validating"))
    if reasoner:
        from alkld.validation.ontology import check_ontology

        report = check_ontology(ontology)
        if not report.consistent or report.unsatisfiable:
            raise ValidationFailure(f"ontology: consistent={report.consistent}, "
                                    f"unsatisfiable={report.unsatisfiable}")
    if results:
        click.echo(format_report(results))
    violations = [r for r in results if r.severity == "Violation"]
    if violations:
        raise ValidationFailure(f"{len(violations)} violation(s)")
    click.echo(f"conforms: {len(release.case_graphs)} cases, {len(results)} warning(s)")


@click.command("query")
@click.argument("name_or_file")
@click.option("--out", type=_DIR, default=Path("output"), show_default=True,
              help="The release directory (its store/ is queried).")
@click.option("--queries", type=_DIR, default=Path("queries"), show_default=True,
              help="Directory of named queries.")
@click.option("--format", "fmt", type=click.Choice(sorted(RESULT_FORMATS)), default="table",
              show_default=True, help="Output format.")
def query_command(name_or_file: str, out: Path, queries: Path, fmt: str) -> None:
    """Run a named competency query (or a FILE.rq) on the release's store."""
    from alkld.queries import find_query, format_results, run_query
    from alkld.store.embedded import open_store

    query = find_query(name_or_file, directory=queries)
    store = open_store(out / "store")
    click.echo(format_results(run_query(store, query.text, path=query.path), fmt), nl=False)
