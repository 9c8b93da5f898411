"""The SPARQL 1.1 Protocol at ``/sparql`` over plain request data, without a web framework.

`SPARQL 1.1 Protocol <https://www.w3.org/TR/sparql11-protocol/>`_: a query by GET, POST
urlencoded or POST direct; results in the format the ``Accept`` header (or ``format=``)
prefers; the `Service Description <https://www.w3.org/TR/sparql11-service-description/>`_
on a request without a query. What makes the endpoint safe to expose is decided here,
before any query runs: Update → 403, ``SERVICE`` only to allow-listed hosts, a body limit
(413); the row cap is flagged by headers on every format; every answer carries an ``ETag``
and ``Last-Modified`` (304 on conditional GETs), ``Vary`` and open CORS, and is gzipped when
the client asks for it.

:class:`SparqlEndpoint` turns (method, query string, headers, body) into a :class:`Reply`.
The pre-fork HTTP server (:mod:`alkld.publish.httpd`) calls it inline for every ``/sparql``
request, the Starlette route (:func:`alkld.publish.server.sparql`) for remote stores; the
query itself runs through the ``run`` callable each gives it, which owns the timeout.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from alkld.publish.negotiate import negotiate
from alkld.publish.sparql import (
    FORMAT_MEDIA,
    GRAPH_FORMATS,
    RESULT_FORMATS,
    Outcome,
    QueryError,
    QueryTimeout,
    graph_body,
    inspect_query,
)

__all__ = ["Lru", "Reply", "SparqlEndpoint", "not_modified"]

log = logging.getLogger(__name__)

_FORMAT_PARAM = {
    "json": "json", "xml": "xml", "csv": "csv", "tsv": "tsv", "ttl": "ttl", "turtle": "ttl",
    "nt": "nt", "ntriples": "nt", "nq": "nq", "nquads": "nq", "trig": "trig",
    "rdfxml": "rdfxml", "xml-rdf": "rdfxml", "jsonld": "jsonld", "json-ld": "jsonld",
}
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_SD = "http://www.w3.org/ns/sparql-service-description#"
_FORM = "application/x-www-form-urlencoded"
#: Bodies at least this long are gzipped for clients that accept it.
GZIP_MIN = 1024
_CORS = [("Access-Control-Allow-Origin", "*"),
         ("Access-Control-Expose-Headers",
          "ETag, Link, Content-Location, X-Alkld-Truncated, X-Alkld-Row-Cap")]
_READ_ONLY = "SPARQL Update is not allowed: this endpoint is read-only"


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: status, headers (``Content-Length`` left to the server) and body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class _NotCached(Reply):
    """A reply that depends on more than the request's cache key (the service description)."""

    __slots__ = ()


class Lru(OrderedDict[Any, Any]):
    """A least-recently-used cache bounded by entries and by the bytes of its values."""

    def __init__(self, size: int, max_bytes: int = 128 << 20) -> None:
        super().__init__()
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0

    @staticmethod
    def _weight(value: Any) -> int:
        body = getattr(value, "body", value)
        return len(body) if isinstance(body, bytes | str) else 0

    def get_or(self, key: Any) -> Any:
        """The cached value (now the most recent), or ``None``."""
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        """Keep ``value`` unless it is over 1/16 of the byte budget; evict the oldest."""
        weight = self._weight(value)
        if self.size <= 0 or weight > self.max_bytes // 16:
            return
        if key in self:
            self.bytes -= self._weight(self.pop(key))
        self[key] = value
        self.bytes += weight
        while len(self) > self.size or self.bytes > self.max_bytes:
            _, old = self.popitem(last=False)
            self.bytes -= self._weight(old)


def not_modified(headers: Mapping[str, str], etag: str, modified_ts: int) -> bool:
    """Whether a conditional request's validators match (RFC 9110 §13.1.2, §13.1.3)."""
    inm = headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip() for t in inm.split(",")}
        return "*" in tags or etag in tags or etag.removeprefix("W/") in tags
    ims = headers.get("if-modified-since")
    if ims:
        try:
            when = email.utils.parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False
        return modified_ts <= when
    return False


def _gzip_ok(headers: Mapping[str, str]) -> bool:
    accept = headers.get("accept-encoding")
    return accept is not None and "gzip" in accept.lower()


def _allowed_service(iri: str, allow: tuple[str, ...]) -> bool:
    host = urllib.parse.urlsplit(iri).netloc.lower()
    return bool(host) and any(host == a.lower() or iri.startswith(a) for a in allow)


_CHOSEN: dict[tuple[str | None, bool, str | None], str | None] = {}


def _choose_format(accept: str | None, form: str, param: str | None) -> str | None:
    results = form in ("SELECT", "ASK")
    key = (accept, results, param)
    if key in _CHOSEN:
        return _CHOSEN[key]
    offers = RESULT_FORMATS if results else GRAPH_FORMATS
    if param:
        found = _FORMAT_PARAM.get(param.lower()) or offers.get(param.lower())
        chosen = found if found in offers.values() else None
    else:
        media = negotiate(accept, list(offers))
        chosen = offers[media] if media else None
    if len(_CHOSEN) > 4096:
        _CHOSEN.clear()
    _CHOSEN[key] = chosen
    return chosen


def _last(params: dict[str, list[str]], key: str) -> str | None:
    values = params.get(key)
    return values[-1] if values else None


class SparqlEndpoint:
    """``/sparql`` of one release: checks, negotiation, result cache, headers.

    ``run(request, timeout)`` executes a checked query (``request`` has ``query``,
    ``format``, ``cap``, ``default``, ``named``) and returns its :class:`Outcome`, raising
    :class:`QueryError` (400), :class:`QueryTimeout` (503) or
    :class:`alkld.store.remote_read.RemoteError` (502). Finished outcomes are kept in
    ``cache`` (a served release never changes).
    """

    def __init__(self, release: Any, settings: Any, *,
                 run: Callable[[dict[str, Any], float], Outcome], cache: Lru) -> None:
        self.release = release
        self.settings = settings
        self.run = run
        self.cache = cache
        #: Whole replies by request (bodies shared with ``cache``'s outcomes).
        self.replies = Lru(cache.size, cache.max_bytes)
        self._descriptions: Lru = Lru(64)
        self._validators = [("Last-Modified", release.last_modified),
                            ("Cache-Control", "public, max-age=300")]

    # -- replies ---------------------------------------------------------------------------

    def problem(self, status: int, message: str) -> Reply:
        """A plain-text error answer."""
        return Reply(status, [("Content-Type", "text/plain; charset=utf-8"), *_CORS],
                     (message + "\n").encode())

    def _reply(self, method: str, headers: Mapping[str, str], outcome: Outcome,
               extra: list[tuple[str, str]], compress: bool) -> Reply:
        etag = outcome.etag
        out = [("ETag", etag), *self._validators, *_CORS, *extra]
        if method in ("GET", "HEAD") and not_modified(headers, etag,
                                                      self.release.modified_ts):
            out.append(("Vary", "Accept, Accept-Encoding" if compress else "Accept"))
            return Reply(304, out, b"")
        media = outcome.media_type
        if media.startswith(("text/", "application/sparql-results+xml")) \
                and "charset" not in media:
            media += "; charset=utf-8"
        out.append(("Content-Type", media))
        body = outcome.body
        if compress:
            out.append(("Vary", "Accept, Accept-Encoding"))
            if len(body) >= GZIP_MIN and _gzip_ok(headers):
                body = outcome.gzipped()
                out.append(("Content-Encoding", "gzip"))
        else:
            out.append(("Vary", "Accept"))
        return Reply(200, out, body)

    # -- the protocol ----------------------------------------------------------------------

    def handle(self, method: str, query_string: str, headers: Mapping[str, str], body: bytes,
               *, endpoint: str, compress: bool = True) -> Reply:
        """Answer one request to ``/sparql`` (``headers`` looked up by lower-case name).

        ``endpoint`` is the endpoint's own URL (the service description's subject);
        ``compress=False`` leaves gzip to a middleware. A request identical to an earlier
        answered one (same query string, body, ``Content-Type``, ``Accept``, gzip or not,
        and no validators) gets the same reply back without being looked at again.
        """
        if self.replies.size <= 0 or "if-none-match" in headers \
                or "if-modified-since" in headers:
            return self._handle(method, query_string, headers, body, endpoint, compress)[0]
        key = (query_string, body, headers.get("content-type"), headers.get("accept"),
               compress and _gzip_ok(headers))
        reply: Reply | None = self.replies.get_or(key)
        if reply is None:
            reply, answered = self._handle(method, query_string, headers, body, endpoint,
                                           compress)
            if answered:
                self.replies.put(key, reply)
        return reply

    def _handle(self, method: str, query_string: str, headers: Mapping[str, str],
                body: bytes, endpoint: str, compress: bool) -> tuple[Reply, bool]:
        """The reply, and whether it is a query's result (the same for the same request)."""
        reply = self._answer(method, query_string, headers, body, endpoint, compress)
        return (reply, False) if isinstance(reply, _NotCached) else (reply, reply.status == 200)

    def _answer(self, method: str, query_string: str, headers: Mapping[str, str],
                body: bytes, endpoint: str, compress: bool) -> Reply:
        settings = self.settings
        params = urllib.parse.parse_qs(query_string, keep_blank_values=True) \
            if query_string else {}
        text = _last(params, "query")
        fmt_param = _last(params, "format")
        default_graphs = params.get("default-graph-uri", [])
        named_graphs = params.get("named-graph-uri", [])
        if len(body) > settings.max_body:
            return self.problem(413, f"request body over the limit of {settings.max_body} "
                                     "bytes")
        if method == "POST":
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype == "application/sparql-update":
                return self.problem(403, _READ_ONLY)
            if ctype == "application/sparql-query":
                text = body.decode("utf-8", errors="replace")
            elif ctype == _FORM and body.startswith(b"query=") and b"&" not in body:
                text = urllib.parse.unquote_plus(body[6:].decode("utf-8", errors="replace"))
            elif ctype == _FORM:
                form = urllib.parse.parse_qs(body.decode("utf-8", errors="replace"),
                                             keep_blank_values=True)
                if "update" in form:
                    return self.problem(403, _READ_ONLY)
                text = _last(form, "query")
                default_graphs = default_graphs + form.get("default-graph-uri", [])
                named_graphs = named_graphs + form.get("named-graph-uri", [])
                fmt_param = _last(form, "format") or fmt_param
            else:
                return self.problem(415, f"expected application/sparql-query or {_FORM}")
        elif "update" in params:
            return self.problem(403, _READ_ONLY)
        if text is None:
            description = self.service_description(method, headers, endpoint, compress)
            return _NotCached(description.status, description.headers, description.body)
        if len(text.encode()) > settings.max_body:
            return self.problem(413, f"query over the limit of {settings.max_body} bytes")
        shape = inspect_query(text)
        if shape.update:
            return self.problem(403, _READ_ONLY)
        for iri in shape.services:
            if not _allowed_service(iri, settings.allow_service):
                return self.problem(403, f"SERVICE <{iri}> is not allowed: the server's "
                                         "allow-list does not name that host "
                                         "(alkld serve --allow-service)")
        form_name = shape.form
        if form_name is None:
            return self.problem(400, "query syntax error: not a SPARQL query: expected "
                                     "SELECT, ASK, CONSTRUCT or DESCRIBE")
        fmt = _choose_format(headers.get("accept"), form_name, fmt_param)
        if fmt is None:
            offers = RESULT_FORMATS if form_name in ("SELECT", "ASK") else GRAPH_FORMATS
            return self.problem(406, "no acceptable format; offered: " + ", ".join(offers))
        key = (text, fmt, tuple(default_graphs), tuple(named_graphs))
        outcome: Outcome | None = self.cache.get_or(key)
        if outcome is None:
            request = {"query": text, "format": fmt, "cap": settings.row_cap,
                       "default": default_graphs or None, "named": named_graphs or None,
                       "form": form_name}
            from alkld.store.remote_read import RemoteError

            try:
                outcome = self.run(request, settings.timeout)
            except QueryError as e:
                return self.problem(400, f"query syntax error: {e}")
            except QueryTimeout as e:
                return self.problem(503, str(e))
            except RemoteError as e:
                return self.problem(502, str(e))
            self.cache.put(key, outcome)
        extra: list[tuple[str, str]] = []
        if outcome.truncated:
            cap = settings.row_cap
            extra = [("X-Alkld-Truncated", "true"), ("X-Alkld-Row-Cap", str(cap)),
                     ("Warning", f'199 alkld "result cut at the row cap of {cap} rows"')]
        return self._reply(method, headers, outcome, extra, compress)

    # -- service description ---------------------------------------------------------------

    def service_description(self, method: str, headers: Mapping[str, str], endpoint: str,
                            compress: bool) -> Reply:
        """SPARQL 1.1 Service Description of the endpoint, with the named graphs."""
        media = negotiate(headers.get("accept"), list(GRAPH_FORMATS)) or "text/turtle"
        fmt = GRAPH_FORMATS[media]
        key = (endpoint, fmt)
        outcome = self._descriptions.get_or(key)
        if outcome is None:
            outcome = Outcome(describe_service(self.release, endpoint, fmt), FORMAT_MEDIA[fmt],
                              "DESCRIBE")
            self._descriptions.put(key, outcome)
        return self._reply(method, headers, outcome, [], compress)


def describe_service(release: Any, endpoint: str, fmt: str) -> bytes:
    """The Service Description graph of ``endpoint`` serving ``release``, as ``fmt``."""
    sd = _SD
    store = ox.Store()
    svc = ox.NamedNode(endpoint)
    ds = ox.BlankNode("dataset")
    add = store.add
    t = ox.NamedNode(_RDF_TYPE)
    add(ox.Quad(svc, t, ox.NamedNode(sd + "Service")))
    add(ox.Quad(svc, ox.NamedNode(sd + "endpoint"), svc))
    add(ox.Quad(svc, ox.NamedNode(sd + "supportedLanguage"), ox.NamedNode(sd + "SPARQL11Query")))
    for media in list(RESULT_FORMATS)[:4] + list(GRAPH_FORMATS):
        add(ox.Quad(svc, ox.NamedNode(sd + "resultFormat"), ox.Literal(media)))
    add(ox.Quad(svc, ox.NamedNode(sd + "feature"), ox.NamedNode(sd + "UnionDefaultGraph")))
    add(ox.Quad(svc, ox.NamedNode(sd + "defaultDataset"), ds))
    add(ox.Quad(ds, t, ox.NamedNode(sd + "Dataset")))
    add(ox.Quad(ds, ox.NamedNode("http://rdfs.org/ns/void#inDataset"),
                ox.NamedNode(release.base + "dataset")))
    for g in release.graphs:
        ng = ox.BlankNode("g" + hashlib.sha1(g.encode()).hexdigest()[:12])  # noqa: S324
        add(ox.Quad(ds, ox.NamedNode(sd + "namedGraph"), ng))
        add(ox.Quad(ng, ox.NamedNode(sd + "name"), ox.NamedNode(g)))
    triples = [q.triple for q in store]
    return graph_body(triples, fmt, prefixes={"sd": sd}, context=release.context)

