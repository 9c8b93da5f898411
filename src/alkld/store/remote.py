"""Publish the release into a remote SPARQL 1.1 store, one named graph at a time.

Stage 5 beside :mod:`alkld.store.embedded`: the same named graphs, pushed over HTTP with
either of two W3C protocols —

* the `SPARQL 1.1 Graph Store HTTP Protocol <https://www.w3.org/TR/sparql11-http-rdf-update/>`_
  (GSP): one ``PUT <endpoint>?graph=IRI`` per graph, whose body (N-Triples, sent as
  ``text/turtle``, of which N-Triples is a subset) *replaces* the graph;
* `SPARQL 1.1 Update <https://www.w3.org/TR/sparql11-update/>`_: one request per batch of
  graphs, ``DROP SILENT GRAPH <g> ; INSERT DATA { GRAPH <g> { … } }`` for each graph.

Guarantees:

* **each graph is replaced as a unit** — the first request for a graph replaces it (a graph
  over :data:`TRIPLES_PER_REQUEST` triples goes in pieces, the next ones adding to it), so
  publishing twice leaves the same store, and a graph left half-written by a crash is
  overwritten whole on the next run;
* **resumable** — a graph is struck from the state file (:data:`STATE_FILE`, SQLite, under
  the release directory; :class:`PublishState`) before a request writes it and recorded,
  with the SHA-256 of its canonical N-Triples, once the store has acknowledged it; a rerun
  skips the graphs whose hash still matches and redoes the rest. Graphs recorded for this
  store that the release no longer has are dropped (``prune``);
* **bounded** — every request has a timeout, transient failures (connection errors, timeouts,
  HTTP 408/425/429/502/503/504) are retried with exponential backoff, and anything else raises
  :class:`StoreError` (exit code 2) naming the endpoint and the graph(s);
* **credentials stay secret** — they come in as :class:`Credentials` (the CLI reads them from
  ``ALKLD_STORE_USER`` / ``ALKLD_STORE_PASSWORD``) for HTTP basic or digest authentication,
  or as a :class:`BearerToken` (``ALKLD_STORE_TOKEN``), and are never logged, written to the
  state file or put in an error; a store URL with ``user:password@`` in it is refused.

The state file trusts the store: a graph changed or deleted in the store by other means is
not noticed (rerun with ``force=True``). The state is kept per store (:func:`store_key`), so
the GSP and the Update endpoint of one store share it.

Cost: the release is read one graph at a time (from ``out/alkld.nq``, else ``out/store``),
so memory holds the graphs of the requests in flight, and each request's bookkeeping is one
small SQLite transaction: both stay the same from 100 graphs to 100,000. Up to ``parallel``
requests are in flight at once, each thread with its own HTTP session; the state is
written by the calling thread only.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import itertools
import logging
import operator
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pyoxigraph as ox
import requests
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

from alkld.errors import AlkldError, ConfigurationError

__all__ = [
    "DIALECTS",
    "STATE_FILE",
    "AuthScheme",
    "BearerToken",
    "Credentials",
    "Dialect",
    "Protocol",
    "PublishReport",
    "PublishState",
    "ReleaseGraph",
    "StoreError",
    "count_release_graphs",
    "graph_digest",
    "iter_release_graphs",
    "publish",
    "read_release_graphs",
    "resolve_dialect",
    "store_key",
    "to_update_request",
]

log = logging.getLogger(__name__)

#: The state file, relative to the release directory: which graphs each endpoint holds.
STATE_FILE = Path(".publish-state.sqlite")

#: HTTP statuses worth retrying: the same request may succeed a moment later.
_TRANSIENT = frozenset({408, 425, 429, 502, 503, 504})

#: Triples per ``INSERT DATA`` operation: some stores reject very large single operations.
_TRIPLES_PER_INSERT = 1000

#: Triples per request: a larger graph (at 100k cases the claims graph has 1.2 M triples,
#: which an Oxigraph server did not take in one PUT within a minute) goes in several
#: requests — the first replaces the graph (GSP ``PUT``; Update ``DROP`` + ``INSERT DATA``),
#: the others add to it (GSP ``POST``; ``INSERT DATA``). A graph with blank nodes is never
#: split: a label names one node only within one request.
TRIPLES_PER_REQUEST = 100_000

#: How an N-Triples statement whose object is an ``xsd:duration`` literal ends.
_DURATION_SUFFIX = "^^<http://www.w3.org/2001/XMLSchema#duration>"


class StoreError(AlkldError):
    """A remote store refused or failed a request; ``store`` and ``graphs`` say which.

    ``graph`` is the first (usually the only) graph the failed request carried; ``status``
    the HTTP status, if the store answered at all.

    >>> e = StoreError("HTTP 500 Internal Server Error", store="http://localhost:7878/store",
    ...                graphs=["https://w3id.org/alkld/graph/case-x"], status=500)
    >>> str(e)
    'store http://localhost:7878/store: graph <https://w3id.org/alkld/graph/case-x>: HTTP 500 Internal Server Error'
    >>> e.exit_code, e.status, e.graph
    (2, 500, 'https://w3id.org/alkld/graph/case-x')
    """  # noqa: E501

    def __init__(self, message: str, *, store: str, graphs: Sequence[str] = (),
                 status: int | None = None, expected: str | None = None) -> None:
        super().__init__(message, expected=expected)
        self.store = store
        self.graphs = list(graphs)
        self.graph = self.graphs[0] if self.graphs else None
        self.status = status

    def __str__(self) -> str:
        where = f"store {self.store}: "
        if len(self.graphs) == 1:
            where += f"graph <{self.graphs[0]}>: "
        elif self.graphs:
            shown = ", ".join(f"<{g}>" for g in self.graphs[:3])
            more = f" and {len(self.graphs) - 3} more" if len(self.graphs) > 3 else ""
            where += f"graphs {shown}{more} (one request): "
        expected = f" (expected {self.expected})" if self.expected else ""
        return f"{where}{self.message}{expected}"


class Protocol(enum.Enum):
    """How graphs are written: Graph Store HTTP Protocol ``PUT``, or SPARQL Update."""

    GSP = "gsp"
    UPDATE = "update"


class AuthScheme(enum.Enum):
    """HTTP authentication: ``auto`` answers whichever challenge (401) the store sends."""

    AUTO = "auto"
    BASIC = "basic"
    DIGEST = "digest"


@dataclass(frozen=True)
class Dialect:
    """How to reach one kind of store from the URL the user gives.

    ``path`` is appended to that URL to get the endpoint (empty: the URL is the endpoint);
    ``graph_param`` names the query parameter carrying the graph IRI (GSP only).
    """

    name: str
    protocol: Protocol
    path: str = ""
    graph_param: str = "graph"
    description: str = ""

    def endpoint(self, url: str) -> str:
        """The endpoint for ``url``: ``url`` plus :attr:`path` (no double slash).

        >>> DIALECTS["oxigraph"].endpoint("http://localhost:7878/")
        'http://localhost:7878/store'
        >>> DIALECTS["gsp"].endpoint("http://localhost:3030/ds/data")
        'http://localhost:3030/ds/data'
        """
        return url.rstrip("/") + self.path if self.path else url


#: Every dialect, by the name ``alkld publish --dialect`` takes (besides ``auto``).
DIALECTS: dict[str, Dialect] = {d.name: d for d in [
    Dialect("gsp", Protocol.GSP, description="the URL is a Graph Store Protocol endpoint"),
    Dialect("update", Protocol.UPDATE, description="the URL is a SPARQL Update endpoint"),
    Dialect("oxigraph", Protocol.GSP, "/store",
            description="an Oxigraph server's base URL (GSP at /store)"),
    Dialect("oxigraph-update", Protocol.UPDATE, "/update",
            description="an Oxigraph server's base URL (SPARQL Update at /update)"),
    Dialect("virtuoso", Protocol.GSP, "/sparql-graph-crud-auth", "graph-uri",
            description="a Virtuoso server's base URL (GSP at /sparql-graph-crud-auth)"),
    Dialect("virtuoso-update", Protocol.UPDATE, "/sparql-auth",
            description="a Virtuoso server's base URL (SPARQL Update at /sparql-auth)"),
    Dialect("fuseki", Protocol.GSP, "/data",
            description="a Fuseki dataset URL, e.g. http://host:3030/ds (GSP at /data)"),
    Dialect("graphdb", Protocol.GSP, "/rdf-graphs/service",
            description="a GraphDB or RDF4J repository URL (GSP at /rdf-graphs/service)"),
    Dialect("neptune", Protocol.GSP, "/sparql/gsp/",
            description="an Amazon Neptune cluster URL (GSP at /sparql/gsp/)"),
]}

#: Endpoint path endings that tell the protocol under ``auto``, checked in order.
_AUTO_SUFFIXES: tuple[tuple[str, Dialect], ...] = (
    ("/sparql-graph-crud-auth", Dialect("virtuoso", Protocol.GSP, graph_param="graph-uri")),
    ("/sparql-graph-crud", Dialect("virtuoso", Protocol.GSP, graph_param="graph-uri")),
    ("/rdf-graphs/service", DIALECTS["gsp"]),
    ("/sparql/gsp", DIALECTS["gsp"]),
    ("/store", DIALECTS["gsp"]),
    ("/data", DIALECTS["gsp"]),
    ("/update", DIALECTS["update"]),
    ("/statements", DIALECTS["update"]),
    ("/sparql-auth", DIALECTS["update"]),
    ("/sparql", DIALECTS["update"]),
)


@dataclass(frozen=True)
class Credentials:
    """A user name and password for HTTP authentication; the password never shows in a repr.

    >>> Credentials("dba", "s3cret")
    Credentials(user='dba', password='***')
    """

    user: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r}, password='***')"


@dataclass(frozen=True)
class BearerToken:
    """An access token sent as ``Authorization: Bearer …`` (QLever, OAuth proxies); never shown.

    >>> BearerToken("abc")
    BearerToken('***')
    """

    token: str = field(repr=False)

    def __repr__(self) -> str:
        return "BearerToken('***')"


class _BearerAuth(AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


@dataclass
class PublishReport:
    """What one run did: graphs written, skipped (already there), dropped (pruned)."""

    store: str
    dialect: str
    published: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    triples: int = 0
    requests: int = 0
    server: str = ""


# ---------------------------------------------------------------- the release's graphs

@dataclass(frozen=True)
class ReleaseGraph:
    """One named graph of the release, in the canonical form that is published and hashed.

    ``statements`` are its distinct triples as N-Triples statements (without the final
    ``" ."``), sorted; ``digest`` is the SHA-256 of :meth:`ntriples`, which the state keeps.
    """

    iri: str
    statements: tuple[str, ...]
    blank_nodes: bool
    digest: str

    @classmethod
    def of(cls, iri: str, triples: Iterable[ox.Triple]) -> ReleaseGraph:
        """The graph ``iri`` holding ``triples`` (duplicates count once).

        >>> t = ox.Triple(ox.NamedNode("http://e/s"), ox.NamedNode("http://e/p"), ox.Literal("o"))
        >>> g = ReleaseGraph.of("http://e/g", [t, t])
        >>> g.statements, g.blank_nodes, g.digest == graph_digest([t])
        (('<http://e/s> <http://e/p> "o"',), False, True)
        """
        lines: set[str] = set()
        blank = False
        for t in triples:
            lines.add(str(t))
            blank = blank or isinstance(t.subject, ox.BlankNode) or isinstance(
                t.object, ox.BlankNode)
        statements = tuple(sorted(lines))
        del lines
        digest = hashlib.sha256()
        for start in range(0, len(statements), 10_000):  # a large graph's text in slices
            digest.update(_join(statements[start:start + 10_000]).encode())
        return cls(iri, statements, blank, digest.hexdigest())

    def __len__(self) -> int:
        return len(self.statements)

    def ntriples(self, start: int = 0, stop: int | None = None) -> str:
        """The graph (or its statements ``start:stop``) as an N-Triples document."""
        return _join(self.statements[start:stop])

    def triples(self) -> list[ox.Triple]:
        """The graph's triples, parsed back."""
        return [q.triple for q in ox.parse(self.ntriples(), format=ox.RdfFormat.N_TRIPLES)]


def _join(statements: Iterable[str]) -> str:
    return "".join(f"{s} .\n" for s in statements)


def _release_source(out: Path) -> Path:
    """The file or store the release's graphs are read from: ``alkld.nq``, else ``store/``."""
    for source in (out / "alkld.nq", out / "store"):
        if source.exists():
            return source
    raise ConfigurationError("no release here; run `alkld build` first", path=out,
                             expected="a directory with alkld.nq or store/")


def count_release_graphs(out: Path) -> int | None:
    """How many named graphs the release has, if that is cheap to know (its store's count)."""
    store_dir = out / "store"
    if not store_dir.is_dir():
        return None
    return sum(1 for _ in ox.Store.read_only(str(store_dir)).named_graphs())


def iter_release_graphs(out: Path) -> Iterator[ReleaseGraph]:
    """Every named graph of the release in ``out``, one at a time (memory: one graph).

    Reads ``out/alkld.nq`` (written by ``alkld build``, each graph's quads together; four
    times faster to read than the store), else ``out/store``, graph by graph in IRI order.
    A quad in the default graph, or a graph whose quads come in two runs of the dump, is an
    error naming the file and the quad.
    """
    source = _release_source(out)
    if source.is_dir():
        store = ox.Store.read_only(str(source))
        for name in sorted(g.value for g in store.named_graphs()
                           if isinstance(g, ox.NamedNode)):
            yield ReleaseGraph.of(name, (q.triple for q in store.quads_for_pattern(
                None, None, None, ox.NamedNode(name))))
        if next(iter(store.quads_for_pattern(None, None, None, ox.DefaultGraph())), None):
            raise ConfigurationError("a quad in the default graph", path=source,
                                     expected="only named graphs")
        return
    try:
        yield from _graphs_of_dump(source)
    except SyntaxError as e:
        raise ConfigurationError(f"not N-Quads: {e.msg}", path=source, line=e.lineno,
                                 expected="the N-Quads dump alkld build writes") from None


def _graphs_of_dump(source: Path) -> Iterator[ReleaseGraph]:
    """The dump's graphs, each read straight into its statements (no list of its triples)."""

    def triples() -> Iterator[tuple[str, ox.Triple]]:
        current: str | None = None
        seen: set[str] = set()
        parsed = ox.parse(path=str(source), format=ox.RdfFormat.N_QUADS)
        for number, quad in enumerate(parsed, 1):
            graph = quad.graph_name
            if not isinstance(graph, ox.NamedNode):
                raise ConfigurationError("a quad in the default graph", path=source,
                                         field=f"quad {number}", expected="only named graphs")
            if graph.value != current:
                if graph.value in seen:
                    raise ConfigurationError(
                        f"graph <{graph.value}> again, after other graphs", path=source,
                        field=f"quad {number}",
                        expected="the quads of each graph together, as alkld build writes them")
                seen.add(graph.value)
                current = graph.value
            yield current, quad.triple

    for graph, run in itertools.groupby(triples(), key=operator.itemgetter(0)):
        yield ReleaseGraph.of(graph, (triple for _, triple in run))


def read_release_graphs(out: Path) -> dict[str, list[ox.Triple]]:
    """Every named graph of the release: graph IRI → its triples, sorted (all in memory).

    For tests and small releases; :func:`publish` streams with :func:`iter_release_graphs`.
    """
    return {g.iri: g.triples() for g in sorted(iter_release_graphs(out), key=lambda g: g.iri)}


def graph_digest(triples: Iterable[ox.Triple]) -> str:
    """SHA-256 of a graph's canonical N-Triples (sorted statements): equal graphs, equal digests.

    >>> t = ox.Triple(ox.NamedNode("http://e/s"), ox.NamedNode("http://e/p"), ox.Literal("o"))
    >>> graph_digest([t]) == graph_digest([t, t]) != graph_digest([])
    True
    """
    return ReleaseGraph.of("", triples).digest


def to_update_request(graphs: Iterable[ReleaseGraph]) -> str:
    """One SPARQL Update request replacing each of ``graphs`` whole.

    ``DROP SILENT GRAPH`` then ``INSERT DATA``, split every :data:`_TRIPLES_PER_INSERT`
    triples unless the graph has blank nodes (a label is scoped to one operation, so such a
    graph goes in one piece). A store that runs one request as one transaction (Oxigraph,
    Fuseki, RDF4J) swaps each graph atomically; Virtuoso commits operation by operation.

    >>> t = ox.Triple(ox.NamedNode("http://e/s"), ox.NamedNode("http://e/p"), ox.Literal("o"))
    >>> print(to_update_request([ReleaseGraph.of("http://e/g", [t])]))
    DROP SILENT GRAPH <http://e/g> ;
    INSERT DATA { GRAPH <http://e/g> {
    <http://e/s> <http://e/p> "o" .
    } }
    """
    operations: list[str] = []
    for graph in graphs:
        iri = str(ox.NamedNode(graph.iri))
        operations.append(f"DROP SILENT GRAPH {iri}")
        operations.extend(_inserts(iri, graph, 0, len(graph)))
    return " ;\n".join(operations)


def _inserts(iri: str, graph: ReleaseGraph, start: int, stop: int) -> list[str]:
    """``INSERT DATA`` operations for statements ``start:stop`` of ``graph``."""
    step = max(stop - start, 1) if graph.blank_nodes else _TRIPLES_PER_INSERT
    return [f"INSERT DATA {{ GRAPH {iri} {{\n{graph.ntriples(i, min(i + step, stop))}}} }}"
            for i in range(start, stop, step)]


# ---------------------------------------------------------------- the state file

class PublishState:
    """Which graphs each store holds, with the digest of what was written: a SQLite file.

    One row a (store, graph). Each change is one small transaction in write-ahead-log mode,
    so a request's bookkeeping costs the same at 100 graphs or 100,000 (a JSON file written
    whole around every request grew quadratically: 9 minutes for 10,000 graphs, mostly
    rewriting the state). Commits are durable against a crash of this process; after a
    power loss the last ones may be undone, which at worst republishes a graph: a graph is
    forgotten before it is written, and an undone "forget" leaves a digest that differs
    from the release's, or no row at all once :meth:`clear` (synced to disk) has run. An
    unreadable file is replaced, and every graph is published again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as e:
            log.warning("publish state %s is unreadable (%s); republishing every graph",
                        path, e)
            for stale in (path, path.with_name(path.name + "-wal"),
                          path.with_name(path.name + "-shm")):
                stale.unlink(missing_ok=True)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS published (store TEXT NOT NULL, "
                       "graph TEXT NOT NULL, digest TEXT NOT NULL, "
                       "PRIMARY KEY (store, graph)) WITHOUT ROWID")
            db.execute("SELECT count(*) FROM published").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def graphs(self, store: str) -> dict[str, str]:
        """Graph IRI → digest of what this store was last given."""
        rows = self._db.execute("SELECT graph, digest FROM published WHERE store = ?",
                                (store,))
        return dict(rows.fetchall())

    def forget(self, store: str, graphs: Iterable[str]) -> None:
        with self._transaction():
            self._db.executemany("DELETE FROM published WHERE store = ? AND graph = ?",
                                 ((store, g) for g in graphs))

    def remember(self, store: str, digests: Mapping[str, str]) -> None:
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO published VALUES (?, ?, ?)",
                                 ((store, g, d) for g, d in digests.items()))

    def clear(self, store: str) -> None:
        """Forget every graph of ``store``, synced to disk before returning."""
        self._db.execute("PRAGMA synchronous=FULL")
        try:
            with self._transaction():
                self._db.execute("DELETE FROM published WHERE store = ?", (store,))
        finally:
            self._db.execute("PRAGMA synchronous=NORMAL")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


# ---------------------------------------------------------------- HTTP

def _auth(credentials: Credentials, scheme: AuthScheme) -> AuthBase:
    if scheme is AuthScheme.DIGEST:
        return HTTPDigestAuth(credentials.user, credentials.password)
    return HTTPBasicAuth(credentials.user, credentials.password)


@dataclass
class _Client:
    """One HTTP session to one endpoint: timeouts, retries with backoff, authentication.

    With ``scheme`` AUTO, requests go without credentials until the store answers 401; its
    ``WWW-Authenticate`` challenge then picks digest or basic (never sent in the clear
    unasked), and the request is sent again.
    """

    endpoint: str
    credentials: Credentials | BearerToken | None
    scheme: AuthScheme
    timeout: float
    retries: int
    backoff: float
    session: requests.Session = field(default_factory=requests.Session)
    auth: AuthBase | None = None
    sent: int = 0
    server: str = ""
    #: Set when the publisher is stopped (Ctrl-C, SIGTERM): no more retries.
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if isinstance(self.credentials, BearerToken):
            self.auth = _BearerAuth(self.credentials.token)
        elif self.credentials is not None and self.scheme is not AuthScheme.AUTO:
            self.auth = _auth(self.credentials, self.scheme)

    def send(self, method: str, *, graphs: Sequence[str], body: str = "",
             params: dict[str, str] | None = None, content_type: str | None = None
             ) -> requests.Response:
        """Send one request; retry transient failures; raise :class:`StoreError` otherwise."""
        data = body.encode()
        headers = {"Content-Type": content_type} if content_type else {}
        attempt = 0
        while True:
            attempt += 1
            status: int | None = None
            try:
                response = self.session.request(
                    method, self.endpoint, params=params, data=data, headers=headers,
                    auth=self.auth, timeout=(min(self.timeout, 10.0), self.timeout))
            except requests.Timeout:
                problem = f"no answer within {self.timeout:g} s"
            except requests.ConnectionError as e:
                problem = f"cannot connect ({_reason(e)})"
            except requests.RequestException as e:  # e.g. too many redirects, a bad URL
                raise StoreError(f"request failed ({type(e).__name__})", store=self.endpoint,
                                 graphs=graphs) from None
            else:
                self.sent += 1
                self.server = self.server or response.headers.get("server", "").strip()
                if (response.status_code == 401 and self.auth is None
                        and isinstance(self.credentials, Credentials)):
                    challenge = response.headers.get("www-authenticate", "").lower()
                    scheme = AuthScheme.DIGEST if "digest" in challenge else AuthScheme.BASIC
                    log.debug("store %s asks for %s authentication", self.endpoint,
                              scheme.value)
                    self.auth = _auth(self.credentials, scheme)
                    attempt -= 1
                    continue
                if response.ok:
                    return response
                status = response.status_code
                problem = f"HTTP {status} {response.reason}: {_snippet(response)}"
                if status not in _TRANSIENT:
                    raise StoreError(problem, store=self.endpoint, graphs=graphs,
                                     status=status, expected=_expected(status, response))
            if attempt > self.retries:
                raise StoreError(f"{problem}; gave up after {attempt} attempt(s)",
                                 store=self.endpoint, graphs=graphs, status=status,
                                 expected="a store that is up and answers within the timeout")
            delay = self.backoff * 2 ** (attempt - 1)
            if not self.stopping.is_set():
                log.warning("store %s: graph <%s>: %s; retrying in %.1f s", self.endpoint,
                            graphs[0] if graphs else "", problem, delay)
            if self.stopping.wait(delay):  # at once if the publisher was already stopped
                raise StoreError(f"{problem}; not retried: publishing was stopped",
                                 store=self.endpoint, graphs=graphs, status=status)


def _reason(error: requests.ConnectionError) -> str:
    """The innermost cause of a connection error, e.g. ``[Errno 111] Connection refused``."""
    cause: BaseException = error
    seen: set[int] = set()
    while id(cause) not in seen:
        seen.add(id(cause))
        inner = getattr(cause, "reason", None)
        if not isinstance(inner, BaseException):
            inner = cause.__context__ or (cause.args[0] if cause.args and isinstance(
                cause.args[0], BaseException) else None)
        if not isinstance(inner, BaseException):
            break
        cause = inner
    text = str(cause)
    # urllib3 prefixes the connection object's repr: keep only the OS message.
    return text.rsplit(": ", 1)[-1] if "Errno" in text else text


def _snippet(response: requests.Response, limit: int = 400) -> str:
    text = " ".join(response.text.split())
    return (text[:limit] + " …") if len(text) > limit else (text or "(empty body)")


def _expected(status: int, response: requests.Response) -> str | None:
    if status in (401, 403):
        return ("credentials with write access in ALKLD_STORE_USER / ALKLD_STORE_PASSWORD "
                "(or ALKLD_STORE_TOKEN)")
    if status in (404, 405, 415):
        return "an endpoint that accepts this protocol; check --store and --dialect"
    if "xsd:duration" in response.text and "Virtuoso" in response.text:
        return ("a store that accepts xsd:duration in INSERT DATA; Virtuoso 7 does not "
                "(openlink/virtuoso-opensource#224): use --dialect virtuoso (GSP)")
    return None


# ---------------------------------------------------------------- dialects

def _check_url(url: str) -> None:
    """An http(s) URL with a host and no ``user:password@`` in it, else an error."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"not an HTTP(S) URL: {url!r}", field="--store",
                                 expected="e.g. http://localhost:7878")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(
            f"user name or password in the store URL ({parts.scheme}://…@{parts.hostname})",
            field="--store", expected="ALKLD_STORE_USER / ALKLD_STORE_PASSWORD instead")


def resolve_dialect(url: str, dialect: str = "auto", *, timeout: float = 10.0
                    ) -> tuple[Dialect, str]:
    """The dialect and the endpoint for ``url``.

    ``auto`` reads the URL's path first (``…/store``, ``…/data`` → GSP; ``…/update``,
    ``…/sparql`` → SPARQL Update; see :data:`_AUTO_SUFFIXES`); for a bare server URL it
    asks the server once (its ``Server`` header, or whether ``/store`` answers, as
    Oxigraph's does).

    >>> d, endpoint = resolve_dialect("http://localhost:3030/ds/update")
    >>> d.protocol, endpoint
    (<Protocol.UPDATE: 'update'>, 'http://localhost:3030/ds/update')
    >>> resolve_dialect("http://localhost:8890/sparql-graph-crud-auth")[0].graph_param
    'graph-uri'
    >>> resolve_dialect("http://localhost:8890", "virtuoso-update")[1]
    'http://localhost:8890/sparql-auth'
    """
    _check_url(url)
    if dialect != "auto":
        if dialect not in DIALECTS:
            raise ConfigurationError(f"unknown dialect {dialect!r}", field="--dialect",
                                     expected="one of " + ", ".join(["auto", *DIALECTS]))
        chosen = DIALECTS[dialect]
        return chosen, chosen.endpoint(url)
    path = urlsplit(url).path.rstrip("/")
    for suffix, candidate in _AUTO_SUFFIXES:
        if path.endswith(suffix):
            return candidate, url
    return _probe(url, timeout=timeout)


def _probe(url: str, *, timeout: float) -> tuple[Dialect, str]:
    """Ask a bare server URL which store it is (no credentials are sent)."""
    base = url.rstrip("/")
    try:
        server = requests.get(base + "/", timeout=timeout).headers.get("server", "").lower()
        if "virtuoso" in server:
            name = "virtuoso"
        elif "fuseki" in server and urlsplit(url).path.strip("/"):
            name = "fuseki"
        elif requests.head(base + "/store", params={"default": ""}, timeout=timeout).ok:
            name = "oxigraph"
        else:
            raise StoreError("cannot tell which protocol this store speaks", store=url,
                             expected="an endpoint URL (…/store, …/data, …/update) or "
                             "--dialect " + "|".join(DIALECTS))
    except requests.ConnectionError as e:
        raise StoreError(f"cannot connect ({_reason(e)})", store=url,
                         expected="a store that is up, or --dialect to skip asking") from None
    except requests.RequestException as e:
        raise StoreError(f"cannot ask the store which it is ({type(e).__name__})", store=url,
                         expected="a store that is up, or --dialect to skip asking") from None
    log.info("store %s looks like %s", url, name)
    return DIALECTS[name], DIALECTS[name].endpoint(url)


def store_key(endpoint: str) -> str:
    """The store behind ``endpoint``: its URL less a known endpoint path.

    Two endpoints of one store (GSP and Update) share a key, hence a state: a graph written
    (or dropped by a failed request) through one is known to the other.

    >>> store_key("http://localhost:8890/sparql-graph-crud-auth")
    'http://localhost:8890'
    >>> store_key("http://localhost:3030/ds/update") == store_key("http://localhost:3030/ds/data")
    True
    >>> store_key("http://localhost:7200/repositories/r/rdf-graphs/service")
    'http://localhost:7200/repositories/r'
    """
    parts = urlsplit(endpoint)
    path = parts.path.rstrip("/")
    suffixes = {s for s, _ in _AUTO_SUFFIXES} | {d.path for d in DIALECTS.values() if d.path}
    for suffix in sorted(suffixes, key=len, reverse=True):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return parts._replace(path=path, fragment="").geturl()


# ---------------------------------------------------------------- publishing

def _batches(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def publish(
    out: Path,
    url: str,
    *,
    dialect: str = "auto",
    batch: int = 8,
    parallel: int = 1,
    credentials: Credentials | BearerToken | None = None,
    auth: AuthScheme = AuthScheme.AUTO,
    timeout: float = 60.0,
    retries: int = 3,
    backoff: float = 0.5,
    force: bool = False,
    prune: bool = True,
    progress: Callable[[list[str]], None] | None = None,
) -> PublishReport:
    """Push every named graph of the release in ``out`` into the store at ``url``.

    The release is read one graph at a time (:func:`iter_release_graphs`): memory holds the
    graphs of ``parallel`` requests and the next one. ``batch`` graphs go in one SPARQL
    Update request (GSP: one ``PUT`` per graph either way); up to ``parallel`` requests are
    in flight at once, each on its own HTTP session (the graphs of one request, and the
    pieces of a large graph, are sent in order by one thread). The state
    (:class:`PublishState`, written by this thread only) strikes a request's graphs before
    it is sent and records them once the store has acknowledged it, and ``progress`` (if
    given) is called with each request's graphs once written, and with each graph found
    unchanged. ``force`` ignores the state (republishes everything); ``prune`` drops, at the
    end, graphs this store got from an earlier run that the release no longer has.
    ``retries`` transient failures of a request are retried, after ``backoff`` seconds,
    doubled each time. Raises :class:`StoreError` on the first request that fails for good,
    once the requests still in flight have ended: what was written before it stays
    recorded, so a rerun resumes there. Interrupted (``KeyboardInterrupt``: Ctrl-C, or
    SIGTERM through :mod:`alkld.cli`), it records the requests already acknowledged and
    lets the interrupt go on at once: a request still in flight is not waited for (nor
    retried), and its graphs, struck from the state before it was sent, are sent again by
    the next run.
    """
    if batch < 1:
        raise ConfigurationError(f"batch size {batch}", field="--batch", expected="1 or more")
    if parallel < 1:
        raise ConfigurationError(f"{parallel} requests in flight", field="--parallel",
                                 expected="1 or more")
    chosen, endpoint = resolve_dialect(url, dialect, timeout=timeout)
    _release_source(out)  # no release, no state file
    graphs = iter_release_graphs(out)
    state = PublishState(out / STATE_FILE)
    key = store_key(endpoint)
    report = PublishReport(store=endpoint, dialect=chosen.name)
    stopping = threading.Event()
    clients = _Clients(lambda: _Client(endpoint, credentials, auth, timeout, retries, backoff,
                                       stopping=stopping))
    size = 1 if chosen.protocol is Protocol.GSP else batch
    durations = 0
    inflight: dict[Future[None], list[ReleaseGraph]] = {}
    failure: BaseException | None = None

    def settle(most: int, *, block: bool = True) -> None:
        """Record finished requests until at most ``most`` are in flight.

        After a failure, every request in flight is let end (those written are recorded),
        then the failure is raised. ``block`` False: only the requests already finished.
        """
        nonlocal durations, failure
        while len(inflight) > (0 if failure else most):
            finished, _ = wait(inflight, timeout=None if block else 0,
                               return_when=FIRST_COMPLETED)
            if not finished:
                break
            for future in finished:
                sent = inflight.pop(future)
                if (error := future.exception()) is not None:
                    failure = failure or error
                    continue
                names = [g.iri for g in sent]
                state.remember(key, {g.iri: g.digest for g in sent})
                report.published.extend(names)
                report.triples += sum(len(g) for g in sent)
                durations += sum(s.endswith(_DURATION_SUFFIX) for g in sent
                                 for s in g.statements)
                log.debug("store %s: published %s", endpoint,
                          " ".join(f"<{g}>" for g in names))
                if progress is not None:
                    progress(names)
        if failure is not None:
            raise failure

    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="alkld-publish")
    try:
        if force:
            state.clear(key)
        done = state.graphs(key)
        log.info("store %s (%s): %d graph(s) recorded as published", endpoint, chosen.name,
                 len(done))
        seen: set[str] = set()
        pending: list[ReleaseGraph] = []

        def send() -> None:
            settle(parallel - 1)
            sent = list(pending)
            pending.clear()
            state.forget(key, [g.iri for g in sent])  # may be half-written from here on
            inflight[pool.submit(lambda: _write(clients.get(), chosen, sent))] = sent

        for graph in graphs:
            seen.add(graph.iri)
            if done.get(graph.iri) == graph.digest:
                report.skipped.append(graph.iri)
                if progress is not None:
                    progress([graph.iri])
                continue
            pending.append(graph)
            if len(pending) >= size:
                send()
        if pending:
            send()
        settle(0)
        stale = sorted(g for g in done if g not in seen) if prune else []
        for group in _batches(stale, batch):
            state.forget(key, group)
            _drop(clients.get(), chosen, group)
            report.dropped.extend(group)
    except KeyboardInterrupt:
        stopping.set()  # no retries; what is in flight is left (struck from the state)
        raise
    finally:
        with contextlib.suppress(BaseException):
            # a failure: the requests in flight end, and those written are recorded;
            # stopped: those written so far are recorded, the others are not waited for
            settle(0, block=not stopping.is_set())
        pool.shutdown(wait=not stopping.is_set(), cancel_futures=True)
        report.requests, report.server = clients.close()
        state.close()
    if durations and "virtuoso" in report.server.lower():
        log.warning("store %s is %s, which keeps an xsd:duration as a count of months "
                    "(\"P1Y7M\" reads back as \"19\"; openlink/virtuoso-opensource#936): "
                    "%d such literal(s) published", report.store, report.server, durations)
    return report


class _Clients:
    """One :class:`_Client` a thread (a ``requests.Session`` is not to be shared)."""

    def __init__(self, make: Callable[[], _Client]) -> None:
        self._make = make
        self._local = threading.local()
        self._all: list[_Client] = []
        self._lock = threading.Lock()

    def get(self) -> _Client:
        client: _Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._make()
            with self._lock:
                self._all.append(client)
        return client

    def close(self) -> tuple[int, str]:
        """Close every session; return the requests sent and the server's name."""
        with self._lock:
            for client in self._all:
                client.session.close()
            return (sum(c.sent for c in self._all),
                    next((c.server for c in self._all if c.server), ""))


def _pieces(graph: ReleaseGraph) -> list[tuple[int, int]]:
    """The ``(start, stop)`` statement ranges of the requests that write ``graph``."""
    size = len(graph)
    step = max(size, 1) if graph.blank_nodes else TRIPLES_PER_REQUEST
    return [(start, min(start + step, size)) for start in range(0, max(size, 1), step)]


def _write(client: _Client, dialect: Dialect, graphs: Sequence[ReleaseGraph]) -> None:
    """Write ``graphs``, each replacing the graph of its name (a large one in pieces)."""
    if dialect.protocol is Protocol.GSP:
        for graph in graphs:
            for n, (start, stop) in enumerate(_pieces(graph)):
                client.send("PUT" if n == 0 else "POST", graphs=[graph.iri],
                            params={dialect.graph_param: graph.iri},
                            body=graph.ntriples(start, stop),
                            content_type="text/turtle; charset=utf-8")
        return
    pieces = {g.iri: _pieces(g) for g in graphs}
    whole = [g for g in graphs if len(pieces[g.iri]) == 1]
    if whole:
        client.send("POST", graphs=[g.iri for g in whole], body=to_update_request(whole),
                    content_type="application/sparql-update; charset=utf-8")
    for graph in graphs:
        if len(pieces[graph.iri]) == 1:
            continue
        iri = str(ox.NamedNode(graph.iri))
        for n, (start, stop) in enumerate(pieces[graph.iri]):
            drop = [f"DROP SILENT GRAPH {iri}"] if n == 0 else []
            client.send("POST", graphs=[graph.iri],
                        body=" ;\n".join(drop + _inserts(iri, graph, start, stop)),
                        content_type="application/sparql-update; charset=utf-8")


def _drop(client: _Client, dialect: Dialect, graphs: Sequence[str]) -> None:
    if dialect.protocol is Protocol.GSP:
        for graph in graphs:
            try:
                client.send("DELETE", graphs=[graph], params={dialect.graph_param: graph})
            except StoreError as e:
                if e.status != 404:  # 404: already gone, which is what we want
                    raise
        return
    body = " ;\n".join(f"DROP SILENT GRAPH {ox.NamedNode(g)}" for g in graphs)
    client.send("POST", graphs=graphs, body=body,
                content_type="application/sparql-update; charset=utf-8")
