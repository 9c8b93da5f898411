"""``alkld export <format>`` and ``alkld import <format>``: thin wrappers over :mod:`alkld.interop`.

Exit codes: 0 ok; 2 bad input (a record that does not load, a label without a mapping, a
Phenopacket that cannot be converted — the others are still converted, and each failure is
named with its reason before the command exits 2).

``metaData.created`` of exported Phenopackets is the current time, or ``SOURCE_DATE_EPOCH``
when set (reproducible builds).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from alkld.vocab import DEFAULT_BASE

__all__ = ["EXPORTERS", "IMPORTERS", "export_group", "import_group"]

log = logging.getLogger(__name__)

_DIR = click.Path(file_okay=False, path_type=Path)
_IN_DIR = click.Path(file_okay=False, exists=True, path_type=Path)


@dataclass(frozen=True)
class Exporter:
    """A format: the module and function that write it, and its default output directory."""

    target: str
    default_out: Path
    help: str

    def load(self) -> Callable[..., list[Path]]:
        import importlib

        module, _, attr = self.target.partition(":")
        writer: Callable[..., list[Path]] = getattr(importlib.import_module(module), attr)
        return writer


#: Export format → its writer (``write(records, mapper, out, *, created, base)``).
EXPORTERS: dict[str, Exporter] = {
    "kgx": Exporter("alkld.interop.kgx:write_kgx", Path("output/kgx"),
                    "KGX TSV (nodes.tsv, edges.tsv) with Biolink categories and predicates."),
    "phenopackets": Exporter("alkld.interop.phenopackets:write_phenopackets",
                             Path("output/phenopackets"),
                             "One GA4GH Phenopacket v2 JSON file per case."),
}

#: Import format → the module:function converting a directory (``(paths, out) → report``).
IMPORTERS: dict[str, tuple[str, str, Path]] = {
    "phenopackets": ("alkld.interop.phenopackets:import_phenopackets", "*.json",
                     Path("output/imported")),
}


def _created() -> dt.datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
    return dt.datetime.now(tz=dt.UTC).replace(microsecond=0)


@click.group("export")
def export_group() -> None:
    """Export the case records to another format (built from the records, not the RDF)."""


@click.group("import")
def import_group() -> None:
    """Convert files of another format into case records (YAML)."""


def _export_command(name: str, exporter: Exporter) -> click.Command:
    @click.command(name, help=exporter.help)
    @click.option("--cases", type=_DIR, default=Path("cases"), show_default=True,
                  help="Directory of case records (*.yaml).")
    @click.option("--mappings", type=_DIR, default=Path("mappings"), show_default=True,
                  help="Directory of the SSSOM mapping tables.")
    @click.option("--base", default=DEFAULT_BASE, show_default=True,
                  help="Base IRI of alkld's own identifiers.")
    @click.option("--out", type=_DIR, default=exporter.default_out, show_default=True,
                  help="Output directory.")
    def command(cases: Path, mappings: Path, base: str, out: Path) -> None:
        from alkld.mapping.tables import TermMapper
        from alkld.records import load_records

        written = exporter.load()(load_records(cases), TermMapper.from_directory(mappings), out,
                                  created=_created(), base=base)
        click.echo(f"wrote {len(written)} files to {out}")

    return command


def _import_command(name: str, target: str, pattern: str, default_out: Path) -> click.Command:
    @click.command(name)
    @click.argument("directory", type=_IN_DIR)
    @click.option("--out", type=_DIR, default=default_out, show_default=True,
                  help="Directory the case records (*.yaml) are written to.")
    @click.pass_context
    def command(ctx: click.Context, directory: Path, out: Path) -> None:
        import importlib

        module, _, attr = target.partition(":")
        convert = getattr(importlib.import_module(module), attr)
        report: Any = convert(sorted(directory.glob(pattern)), out)
        for source, counts in report.dropped.items():
            log.info("%s: not imported: %s", source,
                     ", ".join(f"{n} {what}" for what, n in counts.items()))
        click.echo(f"wrote {len(report.written)} case records to {out}")
        for path, reason in report.failed:
            click.echo(f"error: {path}: {reason}", err=True)
        if report.failed:
            click.echo(f"{len(report.failed)} files not converted", err=True)
        ctx.exit(report.exit_code)

    command.help = f"Convert the {name} files ({pattern}) of DIRECTORY into case records."
    return command


for _name, _exporter in sorted(EXPORTERS.items()):
    export_group.add_command(_export_command(_name, _exporter))
for _name, (_target, _pattern, _out) in sorted(IMPORTERS.items()):
    import_group.add_command(_import_command(_name, _target, _pattern, _out))
