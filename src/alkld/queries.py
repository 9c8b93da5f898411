"""Named competency queries (``queries/*.rq``) and running SPARQL on the release's store.

A query file's first comment lines carry its metadata::

    # title: Fusion partners by disease
    # description: Each disease with the 5' partners of its ALK fusions.

:data:`RESULT_FORMATS` is the registry of output formats of ``alkld query``.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from alkld.errors import ConfigurationError

__all__ = ["RESULT_FORMATS", "NamedQuery", "find_query", "format_results", "list_queries",
           "run_query"]


@dataclass(frozen=True)
class NamedQuery:
    """A competency query: its name (the file stem), title, description and text."""

    name: str
    title: str
    description: str
    text: str
    path: Path


def read_query(path: Path) -> NamedQuery:
    """Read one ``.rq`` file with its ``# title:`` / ``# description:`` header."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigurationError(f"cannot read query: {e.strerror}", path=path,
                                 expected="a SPARQL .rq file") from None
    meta = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        key, sep, value = line.lstrip("# ").partition(":")
        if sep:
            meta[key.strip().lower()] = value.strip()
    return NamedQuery(path.stem, meta.get("title", path.stem), meta.get("description", ""),
                      text, path)


def list_queries(directory: Path) -> list[NamedQuery]:
    """Every named query of ``directory``, sorted by name."""
    return [read_query(p) for p in sorted(directory.glob("*.rq"))]


def find_query(name_or_file: str, *, directory: Path) -> NamedQuery:
    """A query by name (``fusion-partners-by-disease``) or by path (``my.rq``)."""
    path = Path(name_or_file)
    if path.suffix == ".rq":
        return read_query(path)
    candidate = directory / f"{name_or_file}.rq"
    if candidate.exists():
        return read_query(candidate)
    names = ", ".join(q.name for q in list_queries(directory)) or "(none)"
    raise ConfigurationError(f"no query named {name_or_file!r}", field="NAME",
                             expected=f"a FILE.rq or one of: {names}")


def run_query(store: ox.Store, text: str, *, path: Path | None = None
              ) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples:
    """Run a SPARQL query over the union of the named graphs; syntax errors are located."""
    try:
        return store.query(text, use_default_graph_as_union=True)
    except SyntaxError as e:
        raise ConfigurationError(f"SPARQL syntax error: {e}", path=path,
                                 expected="a SPARQL 1.1 query") from None


def _cell(term: object) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.Literal):
        return term.value
    if isinstance(term, ox.NamedNode):
        return term.value
    return str(term)


def _table(results: ox.QuerySolutions) -> str:
    variables = [v.value for v in results.variables]
    rows = [[_cell(sol[v]) for v in variables] for sol in results]
    widths = [max([len(v)] + [len(r[i]) for r in rows]) for i, v in enumerate(variables)]
    lines = [" | ".join(v.ljust(w) for v, w in zip(variables, widths, strict=True)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines) + "\n"


#: Output format → pyoxigraph results format (None: the plain-text table).
RESULT_FORMATS: dict[str, ox.QueryResultsFormat | None] = {
    "table": None,
    "csv": ox.QueryResultsFormat.CSV,
    "tsv": ox.QueryResultsFormat.TSV,
    "json": ox.QueryResultsFormat.JSON,
}


def format_results(results: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples,
                   fmt: str) -> str:
    """Render query results as a table, CSV, TSV or SPARQL JSON."""
    if isinstance(results, ox.QueryBoolean):
        return json.dumps({"head": {}, "boolean": bool(results)}) + "\n" if fmt == "json" \
            else f"{bool(results)}\n".lower()
    if isinstance(results, ox.QueryTriples):
        return (ox.serialize(results, format=ox.RdfFormat.TURTLE) or b"").decode()
    target = RESULT_FORMATS[fmt]
    if target is None:
        return _table(results)
    buf = io.BytesIO()
    results.serialize(buf, format=target)
    return buf.getvalue().decode()
