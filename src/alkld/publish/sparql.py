"""SPARQL execution for the HTTP server: query worker processes with a real timeout and a row cap.

pyoxigraph cannot interrupt a running query, so queries run in worker processes that each
open the store read-only; a query that outlives the timeout has its worker killed (the work
really stops) and a fresh worker takes its place. A worker returns the finished response
body, so serialisation counts against the timeout too.

Results are cut at a row cap, never silently: :class:`Outcome` says so, and the JSON and XML
result formats carry a note (the server adds a header for every format).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import multiprocessing as mp
import queue
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, NamedTuple
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

__all__ = [
    "GRAPH_FORMATS",
    "RESULT_FORMATS",
    "Outcome",
    "QueryError",
    "QueryPool",
    "RemotePool",
    "QueryRefused",
    "QueryTimeout",
    "execute",
    "query_form",
    "service_iris",
]

log = logging.getLogger(__name__)

#: Media type → format key for SELECT/ASK results (first is the default).
RESULT_FORMATS: dict[str, str] = {
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
}
#: Media type → format key for CONSTRUCT/DESCRIBE results (first is the default).
GRAPH_FORMATS: dict[str, str] = {
    "text/turtle": "ttl",
    "application/n-triples": "nt",
    "application/n-quads": "nq",
    "application/trig": "trig",
    "application/rdf+xml": "rdfxml",
    "application/ld+json": "jsonld",
}
_OX_FORMATS = {
    "ttl": ox.RdfFormat.TURTLE, "nt": ox.RdfFormat.N_TRIPLES, "nq": ox.RdfFormat.N_QUADS,
    "trig": ox.RdfFormat.TRIG, "rdfxml": ox.RdfFormat.RDF_XML,
}
FORMAT_MEDIA = {
    "json": "application/sparql-results+json", "xml": "application/sparql-results+xml",
    "csv": "text/csv; charset=utf-8", "tsv": "text/tab-separated-values; charset=utf-8",
    "ttl": "text/turtle", "nt": "application/n-triples", "nq": "application/n-quads",
    "trig": "application/trig", "rdfxml": "application/rdf+xml",
    "jsonld": "application/ld+json",
}


class QueryError(Exception):
    """The query is malformed (HTTP 400); the message says where."""


class QueryRefused(Exception):
    """The query asks for something this endpoint does not do (HTTP 403)."""


class QueryTimeout(Exception):
    """The query ran longer than the timeout and was stopped (HTTP 503)."""


@dataclass(frozen=True)
class Outcome:
    """A finished query: its body, media type and whether the row cap cut it."""

    body: bytes
    media_type: str
    form: str
    truncated: bool = False
    rows: int = 0

    @property
    def etag(self) -> str:
        """A weak validator for the body (computed once per outcome)."""
        cached = self.__dict__.get("_etag")
        if cached is None:
            import hashlib

            cached = 'W/"' + hashlib.sha256(self.body).hexdigest()[:32] + '"'
            object.__setattr__(self, "_etag", cached)
        return cached

    def gzipped(self) -> bytes:
        """The body gzipped (level 5), computed once per outcome."""
        cached = self.__dict__.get("_gzip")
        if cached is None:
            import gzip

            cached = gzip.compress(self.body, compresslevel=5, mtime=0)
            object.__setattr__(self, "_gzip", cached)
        return cached


# --- static checks on the query text -------------------------------------------------------

_STRIP = re.compile(
    r"""'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|<[^<>"{}|^`\\\s]*>|\#[^\n]*""",
    re.S,
)
_FORM = re.compile(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", re.I)
_UPDATE = re.compile(
    r"\b(INSERT|DELETE|LOAD|CLEAR|DROP|CREATE|ADD|MOVE|COPY|WITH)\b", re.I)
_SERVICE = re.compile(r"\bSERVICE\s+(?:SILENT\s+)?(<[^>]*>|\S+)", re.I)


def _blank_out(text: str) -> str:
    """The query with strings, IRIs and comments replaced by spaces (keywords left)."""
    return _STRIP.sub(lambda m: '""' if m.group(0)[0] in "'\"" else
                      ("<>" if m.group(0)[0] == "<" else " "), text)


def query_form(text: str) -> str:
    """The query form (``SELECT``, ``ASK``, ``CONSTRUCT``, ``DESCRIBE``).

    >>> query_form('PREFIX ex: <http://ex/select> # DESCRIBE\\nASK { ?s ?p "SELECT" }')
    'ASK'
    """
    match = _FORM.search(_blank_out(text))
    if match is None:
        raise QueryError("not a SPARQL query: expected SELECT, ASK, CONSTRUCT or DESCRIBE")
    return match.group(1).upper()


def is_update(text: str) -> bool:
    """Whether ``text`` is a SPARQL Update request rather than a query.

    >>> is_update('INSERT DATA { <a:b> <a:c> "DELETE" }')
    True
    >>> is_update('SELECT ?insert WHERE { ?s <http://ex/delete> ?insert }')
    False
    """
    blank = _blank_out(text)
    return bool(_UPDATE.search(re.sub(r"[?$]\w+", " ", blank))) and not _FORM.search(blank)


class QueryShape(NamedTuple):
    """What :func:`inspect_query` finds in a query text, before any parser runs."""

    #: ``SELECT``, ``ASK``, ``CONSTRUCT``, ``DESCRIBE``, or ``None`` (not a query).
    form: str | None
    #: A SPARQL Update request (:func:`is_update`).
    update: bool
    #: The endpoints its ``SERVICE`` clauses name (:func:`service_iris`).
    services: list[str]


def inspect_query(text: str) -> QueryShape:
    """:func:`query_form`, :func:`is_update` and :func:`service_iris` in one pass.

    >>> inspect_query('SELECT * { SERVICE <http://ex/sparql> { ?s ?p "INSERT" } }')
    QueryShape(form='SELECT', update=False, services=['http://ex/sparql'])
    >>> inspect_query('DROP ALL')
    QueryShape(form=None, update=True, services=[])
    """
    blank = _blank_out(text)
    match = _FORM.search(blank)
    update = match is None and bool(_UPDATE.search(re.sub(r"[?$]\w+", " ", blank)))
    services = service_iris(text) if "SERVICE" in text.upper() else []
    return QueryShape(match.group(1).upper() if match else None, update, services)


def service_iris(text: str) -> list[str]:
    """The endpoints named by ``SERVICE`` clauses in ``text``.

    >>> service_iris('SELECT * { SERVICE <https://query.wikidata.org/sparql> { ?s ?p ?o } }')
    ['https://query.wikidata.org/sparql']
    """
    found = []
    blank_iris = _STRIP.sub(lambda m: m.group(0) if m.group(0)[0] == "<" else " ", text)
    for match in _SERVICE.finditer(blank_iris):
        target = match.group(1)
        found.append(target[1:-1] if target.startswith("<") else target)
    return found


# --- serialisation --------------------------------------------------------------------------

def _json_term(term: Any) -> dict[str, str]:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            out["datatype"] = term.datatype.value
        return out
    return {"type": "triple", "value": str(term)}


def _xml_term(term: Any) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if term.language:
        return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
    if term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
        return f"<literal datatype={quoteattr(term.datatype.value)}>{escape(term.value)}</literal>"
    return f"<literal>{escape(term.value)}</literal>"


def _note(cap: int) -> str:
    return (f"result cut at the row cap of {cap} rows; "
            "page with LIMIT and OFFSET to read the rest")


def _solutions(results: Any, fmt: str, cap: int) -> tuple[bytes, bool, int]:
    names = [v.value for v in results.variables]
    rows: list[Any] = []
    truncated = False
    for solution in results:
        if len(rows) == cap:
            truncated = True
            break
        rows.append([solution[n] for n in names])
    if fmt == "json":
        doc: dict[str, Any] = {"head": {"vars": names}, "results": {"bindings": [
            {n: _json_term(t) for n, t in zip(names, row, strict=True) if t is not None}
            for row in rows]}}
        if truncated:
            doc["head"]["link"] = ["urn:alkld:truncated"]
            doc["alkld:note"] = _note(cap)
        return json.dumps(doc, ensure_ascii=False).encode(), truncated, len(rows)
    if fmt == "xml":
        out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">',
               "<head>"]
        out += [f"<variable name={quoteattr(n)}/>" for n in names]
        if truncated:
            out.append('<link href="urn:alkld:truncated"/>')
        out.append("</head>")
        if truncated:
            out.append(f"<!-- {_note(cap)} -->")
        out.append("<results>")
        for row in rows:
            out.append("<result>" + "".join(
                f"<binding name={quoteattr(n)}>{_xml_term(t)}</binding>"
                for n, t in zip(names, row, strict=True) if t is not None) + "</result>")
        out.append("</results></sparql>\n")
        return "\n".join(out).encode(), truncated, len(rows)
    buffer = io.StringIO()
    if fmt == "csv":
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow(["" if t is None else t.value for t in row])
    else:  # tsv: terms in their SPARQL/Turtle forms
        buffer.write("\t".join("?" + n for n in names) + "\n")
        for row in rows:
            buffer.write("\t".join("" if t is None else str(t) for t in row) + "\n")
    return buffer.getvalue().encode(), truncated, len(rows)


_NATIVE_RESULTS = {
    "json": ox.QueryResultsFormat.JSON, "xml": ox.QueryResultsFormat.XML,
    "csv": ox.QueryResultsFormat.CSV, "tsv": ox.QueryResultsFormat.TSV,
}
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


class _OverCap(Exception):
    """The native serialiser's output may hold more rows than the cap."""


class _CapSink:
    """Collects what oxigraph's results serialiser writes; stops it past a bound.

    ``mark`` occurs at least once per row (``{`` in JSON, ``<result>`` in XML, a newline in
    CSV and TSV), so more marks than ``limit`` means the result may be over the cap.
    """

    __slots__ = ("limit", "mark", "marks", "parts")

    def __init__(self, mark: bytes, limit: int) -> None:
        self.parts: list[bytes] = []
        self.mark = mark
        self.marks = 0
        self.limit = limit

    def write(self, data: bytes) -> int:
        self.parts.append(data)
        self.marks += data.count(self.mark)
        if self.marks > self.limit:
            raise _OverCap
        return len(data)

    def flush(self) -> None:
        """Nothing buffered here."""


def _native_solutions(results: ox.QuerySolutions, fmt: str, cap: int) -> tuple[bytes, int] | None:
    """The results serialised by oxigraph itself if they fit under ``cap``, else ``None``.

    Returns the body and its row count (-1: not counted, but certainly under the cap).
    ``None`` means the result is, or may be, over the cap: the caller runs the query again
    through :func:`_solutions`, which cuts it and says so.
    """
    width = len(results.variables)
    if fmt == "json":  # {"head":{…},"results":{"bindings":[ … ]}}: 3 braces, ≥ 1 a row
        sink = _CapSink(b"{", 3 + cap * (1 + width))
    elif fmt == "xml":  # markup only: literals escape "<"
        sink = _CapSink(b"<result>", cap)
    else:  # header line, then ≥ 1 line a row (exactly one in TSV)
        sink = _CapSink(b"\n", cap + 1)
    try:
        results.serialize(sink, format=_NATIVE_RESULTS[fmt])  # type: ignore[arg-type]
    except _OverCap:
        return None
    body = b"".join(sink.parts)
    if fmt == "json":
        if body.count(b"{") - 3 <= cap:
            return body, -1
        structure = _JSON_STRING.sub(b"", body)  # rows begin "[{" or ",{" once strings go
        rows = structure.count(b"[{") + structure.count(b",{")
    elif fmt == "xml":
        rows = body.count(b"<result>")
    elif fmt == "tsv":
        rows = body.count(b"\n") - 1
    else:
        rows = body.count(b"\n") - 1
        if rows > cap:  # a quoted field may hold newlines: count again the slow way
            return None
    return (body, rows) if rows <= cap else None


def _boolean(value: bool, fmt: str) -> bytes:
    word = "true" if value else "false"
    if fmt == "json":
        return json.dumps({"head": {}, "boolean": value}).encode()
    if fmt == "xml":
        return ('<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
                f"<head/><boolean>{word}</boolean></sparql>\n").encode()
    if fmt == "csv":
        return f"_askResult\r\n{word}\r\n".encode()
    return f"?_askResult\n{word}\n".encode()


def _dumps_sorted(doc: Any) -> bytes:
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson comes with the server extra
        return json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


#: id(context) → (context, its compactor or None when pyld must do it); contexts are few.
_COMPACTORS: dict[int, tuple[dict[str, Any], Any]] = {}


def _compactor(context: dict[str, Any]) -> Any:
    from alkld.publish.compact import GraphCompactor, Unsupported

    cached = _COMPACTORS.get(id(context))
    if cached is not None and cached[0] is context:
        return cached[1]
    try:
        compactor: Any = GraphCompactor(context)
    except Unsupported:
        compactor = None
    if len(_COMPACTORS) > 64:
        _COMPACTORS.clear()
    _COMPACTORS[id(context)] = (context, compactor)
    return compactor


def compact_jsonld(triples: Iterable[ox.Triple], context: dict[str, Any]) -> bytes:
    """Triples as JSON-LD 1.1 compacted with the published context.

    A prefix-only context (the published one) is compacted directly by
    :class:`alkld.publish.compact.GraphCompactor` (the same document as pyld's, ~25×
    faster); any other context, or data that writer does not model, goes through pyld.
    """
    from alkld.publish.compact import Unsupported

    triples = list(triples)
    compactor = _compactor(context)
    if compactor is not None:
        try:
            return _dumps_sorted(compactor.document(triples))
        except Unsupported:
            pass
    from pyld import jsonld

    expanded = json.loads(ox.serialize(triples, format=ox.RdfFormat.JSON_LD) or b"[]")
    compacted = jsonld.compact(expanded, context, {"processingMode": "json-ld-1.1"})
    return json.dumps(compacted, ensure_ascii=False, sort_keys=True).encode()


def graph_body(triples: list[ox.Triple], fmt: str, *, prefixes: dict[str, str],
               context: dict[str, Any]) -> bytes:
    """Serialise triples as ``fmt`` (a key of :data:`GRAPH_FORMATS`)."""
    if fmt == "jsonld":
        return compact_jsonld(triples, context)
    oxf = _OX_FORMATS[fmt]
    use_prefixes = prefixes if fmt in ("ttl", "trig", "rdfxml") else None
    return ox.serialize(triples, format=oxf, prefixes=use_prefixes) or b""


_UNION: dict[str, Any] = {"use_default_graph_as_union": True}


def execute(store: ox.Store, text: str, fmt: str | None, *, cap: int,
            prefixes: dict[str, str], context: dict[str, Any],
            default_graph_uris: list[str] | None = None,
            named_graph_uris: list[str] | None = None, form: str | None = None) -> Outcome:
    """Run a query on ``store``; return the serialised, capped result.

    ``form`` is the query's :func:`query_form` when the caller knows it already.
    """
    form = form or query_form(text)
    kwargs: dict[str, Any] = _UNION
    if default_graph_uris or named_graph_uris:
        kwargs = {}
        if default_graph_uris:
            kwargs["default_graph"] = [ox.NamedNode(u) for u in default_graph_uris]
        else:
            kwargs["use_default_graph_as_union"] = True
        if named_graph_uris:
            kwargs["named_graphs"] = [ox.NamedNode(u) for u in named_graph_uris]
    try:
        results = store.query(text, **kwargs)
    except (SyntaxError, OSError, ValueError) as e:
        raise QueryError(str(e)) from e
    except Exception as e:
        from alkld.store.remote_read import RemoteQueryError, RemoteTimeout

        if isinstance(e, RemoteTimeout):
            raise QueryTimeout(str(e)) from e
        if isinstance(e, RemoteQueryError):
            raise QueryError(str(e)) from e
        raise
    if isinstance(results, ox.QuerySolutions):
        fmt = fmt or "json"
        native = _native_solutions(results, fmt, cap)
        if native is not None:
            return Outcome(native[0], FORMAT_MEDIA[fmt], form, False, native[1])
        results = store.query(text, **kwargs)  # over the cap: again, cut by _solutions
    if isinstance(results, ox.QueryBoolean):
        fmt = fmt or "json"
        return Outcome(_boolean(bool(results), fmt), FORMAT_MEDIA[fmt], form)
    solutions = isinstance(results, ox.QuerySolutions)
    if not solutions and not isinstance(results, ox.QueryTriples):  # a remote store's
        from alkld.store.remote_read import RemoteBoolean, RemoteSolutions

        if isinstance(results, RemoteBoolean):
            fmt = fmt or "json"
            return Outcome(_boolean(bool(results), fmt), FORMAT_MEDIA[fmt], form)
        solutions = isinstance(results, RemoteSolutions)
    if solutions:
        fmt = fmt or "json"
        body, truncated, n = _solutions(results, fmt, cap)
        return Outcome(body, FORMAT_MEDIA[fmt], form, truncated, n)
    fmt = fmt or "ttl"
    triples: list[ox.Triple] = []
    truncated = False
    for triple in results:
        if len(triples) == cap:
            truncated = True
            break
        triples.append(triple)
    body = graph_body(triples, fmt, prefixes=prefixes, context=context)
    if truncated and fmt in ("ttl", "trig", "nt", "nq"):
        body += f"# {_note(cap)}\n".encode()
    return Outcome(body, FORMAT_MEDIA[fmt], form, truncated, len(triples))


# --- worker processes -----------------------------------------------------------------------

def _worker(conn: Connection, store_path: str, prefixes: dict[str, str],
            context: dict[str, Any]) -> None:  # pragma: no cover - runs in a child process
    store = ox.Store.read_only(store_path)
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        try:
            outcome: Any = execute(store, request["query"], request["format"],
                                   cap=request["cap"], prefixes=prefixes, context=context,
                                   default_graph_uris=request.get("default"),
                                   named_graph_uris=request.get("named"),
                                   form=request.get("form"))
        except QueryError as e:
            outcome = ("error", str(e))
        except Exception as e:  # noqa: BLE001 - reported to the client as a 500
            outcome = ("crash", f"{type(e).__name__}: {e}")
        conn.send(outcome)


class RemotePool:
    """Runs queries against a remote SPARQL store (``alkld serve --store``).

    The store does the work, the request's timeout bounds it, and the row cap and formats
    stay alkld's.
    """

    def __init__(self, store: Any, *, prefixes: dict[str, str],
                 context: dict[str, Any]) -> None:
        self.store = store
        self.prefixes = prefixes
        self.context = context

    def run(self, request: dict[str, Any], timeout: float,
            on_wait: Callable[[], None] | None = None) -> Outcome:
        self.store.timeout = timeout
        return execute(self.store, request["query"], request["format"], cap=request["cap"],
                       prefixes=self.prefixes, context=self.context,
                       default_graph_uris=request.get("default"),
                       named_graph_uris=request.get("named"),
                       form=request.get("form"))

    def close(self) -> None:
        """Nothing to stop."""


class QueryPool:
    """Worker processes that run queries against a read-only store, with a hard timeout."""

    def __init__(self, store_path: str, *, workers: int = 2, prefixes: dict[str, str],
                 context: dict[str, Any]) -> None:
        self._ctx = mp.get_context("spawn")
        self._args = (store_path, prefixes, context)
        self._idle: queue.Queue[tuple[Any, Connection]] = queue.Queue()
        self._lock = threading.Lock()
        self._all: list[Any] = []
        for _ in range(workers):
            self._idle.put(self._spawn())

    def _spawn(self) -> tuple[Any, Connection]:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_worker, args=(child, *self._args), daemon=True)
        proc.start()
        child.close()
        with self._lock:
            self._all.append(proc)
        return proc, parent

    def run(self, request: dict[str, Any], timeout: float,
            on_wait: Callable[[], None] | None = None) -> Outcome:
        """Run one query in a free worker; kill the worker if it exceeds ``timeout``."""
        proc, conn = self._idle.get()
        try:
            conn.send(request)
            if not conn.poll(timeout):
                proc.kill()
                proc.join()
                conn.close()
                log.warning("query stopped after %.1f s", timeout)
                proc, conn = self._spawn()
                raise QueryTimeout(f"query stopped: it ran longer than the {timeout:g} s timeout")
            result = conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            proc.kill()
            proc, conn = self._spawn()
            raise
        finally:
            self._idle.put((proc, conn))
        if isinstance(result, tuple):
            kind, message = result
            if kind == "error":
                raise QueryError(message)
            raise RuntimeError(message)
        assert isinstance(result, Outcome)
        return result

    def close(self) -> None:
        """Stop every worker."""
        with self._lock:
            for proc in self._all:
                if proc.is_alive():
                    proc.kill()
                    proc.join(timeout=5)
            self._all.clear()
