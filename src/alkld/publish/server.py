"""The HTTP server: SPARQL 1.1 Protocol, dereferenceable IRIs, pages for people, dumps, VoID.

Last stage of the pipeline, over a built release directory (``output/``): the store is
opened read-only, queries run in worker processes (:mod:`alkld.publish.sparql`) so that the
timeout really stops the work, and every IRI minted under the release's base is served at
the same path on this server (``https://w3id.org/alkld/case/x`` → ``/case/x``).

Cool URIs: things (cases, patients, facts, terms) answer ``303 See Other`` to ``/doc/…``,
the document describing them, which negotiates HTML, Turtle, JSON-LD, N-Triples, RDF/XML.
Graph IRIs and dump files are documents and answer ``200`` directly.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import json
import logging
import urllib.parse
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pyoxigraph as ox
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from alkld.errors import ConfigurationError
from alkld.publish import pages
from alkld.publish.dumps import context_document, prefixes_for
from alkld.publish.negotiate import negotiate
from alkld.publish.protocol import Lru, SparqlEndpoint, not_modified
from alkld.publish.sparql import FORMAT_MEDIA, GRAPH_FORMATS, Outcome, QueryPool, graph_body
from alkld.queries import list_queries

__all__ = ["ServerSettings", "create_app"]

log = logging.getLogger(__name__)

_VOID = "http://rdfs.org/ns/void#"
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_ALKLD = "https://w3id.org/alkld/ontology#"

#: Description formats of a resource: media type → (format key, file suffix).
DOC_FORMATS: dict[str, tuple[str, str]] = {
    "text/html": ("html", "html"),
    "text/turtle": ("ttl", "ttl"),
    "application/ld+json": ("jsonld", "jsonld"),
    "application/n-triples": ("nt", "nt"),
    "application/rdf+xml": ("rdfxml", "rdf"),
    "application/n-quads": ("nq", "nq"),
    "application/trig": ("trig", "trig"),
}
_SUFFIX = {suffix: media for media, (_, suffix) in DOC_FORMATS.items()}
_DUMP_MEDIA = {
    ".trig": "application/trig", ".nq": "application/n-quads", ".ttl": "text/turtle",
    ".jsonld": "application/ld+json", "": "text/plain; charset=utf-8",
}
#: Path prefixes under the base that name documents (answered 200, never 303).
_DOCUMENTS = ("graph/",)


@dataclass
class ServerSettings:
    """What ``alkld serve`` configures."""

    out: Path = Path("output")
    queries: Path = Path("queries")
    timeout: float = 10.0
    row_cap: int = 10_000
    max_body: int = 1_000_000
    allow_service: tuple[str, ...] = ()
    workers: int = 2
    result_cache: int = 65_536
    store_path: Path | None = None
    #: A remote SPARQL 1.1 query endpoint to serve instead of the embedded store.
    store_url: str | None = None
    #: Serve from an in-memory copy of the store: "yes", "no" or "auto" (yes when the
    #: on-disk store is at most :data:`MEMORY_AUTO_BYTES`).
    in_memory: str = "auto"
    extra: dict[str, Any] = field(default_factory=dict)


#: ``--in-memory auto`` copies an on-disk store of at most this size into memory.
MEMORY_AUTO_BYTES = 1 << 30

#: In-memory copies of on-disk stores, made by :func:`preload_store` in the process that
#: forks the server's workers, which then share its pages (copy-on-write) instead of each
#: reading RocksDB: uncached lookups ~1.5×, DESCRIBE ~1.8×, joins ~3–5× faster over HTTP
#: on the 1k-case release (benchmarks/RESULTS.md).
_PRELOADED: dict[Path, Any] = {}


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def wants_memory(settings: ServerSettings) -> bool:
    """Whether ``settings`` serve the embedded store from memory (see ``in_memory``)."""
    if settings.store_url or settings.in_memory == "no":
        return False
    if settings.in_memory == "yes":
        return True
    if settings.in_memory != "auto":
        raise ConfigurationError(f"in_memory={settings.in_memory!r}", field="--in-memory",
                                 expected="auto, yes or no")
    store_path = settings.store_path or settings.out / "store"
    return store_path.is_dir() and _tree_bytes(store_path) <= MEMORY_AUTO_BYTES


def preload_store(settings: ServerSettings) -> int:
    """Copy the release's on-disk store into memory for the workers; return its quads.

    The copy is made from the store itself (its N-Quads dump, ~19 s for 2 million quads),
    never from ``alkld.nq`` beside it: what is served is what the store holds, even when the
    store was changed after the build.
    """
    store_path = settings.store_path or settings.out / "store"
    disk = ox.Store.read_only(str(store_path))
    memory = ox.Store()
    memory.bulk_load(disk.dump(format=ox.RdfFormat.N_QUADS), format=ox.RdfFormat.N_QUADS)
    del disk
    _PRELOADED[store_path] = memory
    return len(memory)


def preloaded() -> bool:
    """Whether this process holds an in-memory copy made by :func:`preload_store`."""
    return bool(_PRELOADED)


def drop_preloaded() -> None:
    _PRELOADED.clear()


class Release:
    """The served release: store, base, metadata, labels, named queries."""

    def __init__(self, settings: ServerSettings) -> None:
        out = settings.out
        store_path = settings.store_path or out / "store"
        void_path = out / "void.ttl"
        needed = [void_path] if settings.store_url else [store_path, void_path]
        for path in needed:
            if not path.exists():
                raise ConfigurationError(
                    f"{path}: not found; run `alkld build --out {out}` first")
        self.out = out
        self.store_path = store_path
        self.store: Any
        if settings.store_url:
            from alkld.store.remote_read import RemoteStore

            self.store = RemoteStore(settings.store_url, timeout=max(30.0, settings.timeout))
        else:
            self.store = _PRELOADED.get(store_path) or ox.Store.read_only(str(store_path))
        self.void_bytes = void_path.read_bytes()
        void = ox.Store()
        void.load(self.void_bytes, format=ox.RdfFormat.TURTLE)
        spaces = [q.object.value for q in void.quads_for_pattern(
            None, ox.NamedNode(_VOID + "uriSpace"), None, None)
            if not isinstance(q.object, ox.Triple)]
        if not spaces:
            raise ConfigurationError(f"{void_path}: no void:uriSpace; expected the release base")
        self.base = spaces[0]
        self.void = void
        self.prefixes = prefixes_for(self.base)
        self.context = context_document(self.base)
        self.labels = pages.Labels(self.store, self.base)
        self.queries = list_queries(settings.queries) if settings.queries.exists() else []
        stamp = (out / "SHA256SUMS").read_bytes() if (out / "SHA256SUMS").exists() \
            else self.void_bytes
        self.version = hashlib.sha256(stamp).hexdigest()[:16]
        self.last_modified = email.utils.formatdate(void_path.stat().st_mtime, usegmt=True)
        self.modified_ts = int(void_path.stat().st_mtime)
        self.cases = sorted(
            (q.subject.value, q.graph_name.value) for q in self.store.quads_for_pattern(
                None, ox.NamedNode(_RDF_TYPE), ox.NamedNode(_ALKLD + "Case"), None)
            if isinstance(q.graph_name, ox.NamedNode))
        self.graphs = sorted(g.value for g in self.store.named_graphs()
                             if isinstance(g, ox.NamedNode))

    def local(self, iri: str) -> str:
        """The server path of an IRI under the base (other IRIs unchanged)."""
        if iri.startswith(self.base):
            return "/" + _quote_path(iri[len(self.base):])
        return iri

    def page_href(self, iri: str) -> str:
        """Where this server shows a page about ``iri``."""
        if iri.startswith(self.base):
            return "/doc/" + _quote_path(iri[len(self.base):])
        return "/about?iri=" + urllib.parse.quote(iri, safe="")


def _quote_path(path: str) -> str:
    return urllib.parse.quote(path, safe="/:@!$&'()*+,;=-._~#").replace("#", "%23")


# --- responses -------------------------------------------------------------------------------

def _not_modified(request: Request, etag: str, release: Release) -> bool:
    return not_modified(request.headers, etag, release.modified_ts)


def respond(request: Request, body: bytes, media: str, *, status: int = 200,
            headers: dict[str, str] | None = None, vary: bool = True,
            etag: str | None = None) -> Response:
    """A cacheable response: weak ETag from the body, Last-Modified, 304 when unchanged."""
    release: Release = request.app.state.release
    etag = etag or 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    out = {"ETag": etag, "Last-Modified": release.last_modified,
           "Cache-Control": "public, max-age=300"}
    if vary:
        out["Vary"] = "Accept"
    out.update(headers or {})
    if status == 200 and request.method in ("GET", "HEAD") and _not_modified(request, etag,
                                                                             release):
        return Response(status_code=304, headers=out)
    if media.startswith(("text/", "application/sparql-results+xml")) and "charset" not in media:
        media += "; charset=utf-8"
    return Response(body, status_code=status, media_type=media, headers=out)


def _problem(status: int, message: str) -> Response:
    return PlainTextResponse(message + "\n", status_code=status)


# --- SPARQL ------------------------------------------------------------------------------------

async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class _TooLarge(Exception):
    pass


async def sparql(request: Request) -> Response:
    """SPARQL 1.1 Protocol: query via GET, POST urlencoded, POST direct (see :mod:`.protocol`).

    The pre-fork server answers ``/sparql`` itself; this route serves it when the app runs
    under another ASGI server (``alkld serve --store URL``). Gzip is left to the middleware.
    """
    settings: ServerSettings = request.app.state.settings
    endpoint: SparqlEndpoint = request.app.state.endpoint
    body = b""
    if request.method == "POST":
        try:
            body = await _read_body(request, settings.max_body)
        except _TooLarge:
            return _problem(413, f"request body over the limit of {settings.max_body} bytes")
    reply = await anyio.to_thread.run_sync(lambda: endpoint.handle(
        request.method, request.url.query, request.headers, body,
        endpoint=str(request.url_for("sparql")), compress=False))
    return Response(reply.body, status_code=reply.status, headers=dict(reply.headers))


# --- linked data -------------------------------------------------------------------------------

def _exists(release: Release, iri: str) -> bool:
    node = ox.NamedNode(iri)
    for _ in release.store.quads_for_pattern(node, None, None, None):
        return True
    return any(g == iri for g in release.graphs)


def _case_graph(release: Release, iri: str) -> str | None:
    for q in release.store.quads_for_pattern(ox.NamedNode(iri), ox.NamedNode(_RDF_TYPE),
                                             ox.NamedNode(_ALKLD + "Case"), None):
        if isinstance(q.graph_name, ox.NamedNode):
            return q.graph_name.value
    return None


def describe(release: Release, iri: str) -> tuple[list[ox.Quad], str]:
    """The description of ``iri``: a named graph's quads, a case's graph, or its CBD."""
    if iri in release.graphs:
        g = ox.NamedNode(iri)
        return list(release.store.quads_for_pattern(None, None, None, g)), "graph"
    graph = _case_graph(release, iri)
    if graph is not None:
        g = ox.NamedNode(graph)
        return list(release.store.quads_for_pattern(None, None, None, g)), "case"
    quads: list[ox.Quad] = []
    for triple in release.store.query(f"DESCRIBE <{iri}>", use_default_graph_as_union=True):
        quads.append(ox.Quad(triple.subject, triple.predicate, triple.object,
                             ox.DefaultGraph()))
    return quads, "cbd"


def _links(path: str) -> str:
    return ", ".join(f'</doc/{path}.{suffix}>; rel="alternate"; type="{media}"'
                     for media, (_, suffix) in DOC_FORMATS.items())


def _serialise(release: Release, quads: list[ox.Quad], fmt: str) -> bytes:
    if fmt in ("nq", "trig"):
        oxf = ox.RdfFormat.N_QUADS if fmt == "nq" else ox.RdfFormat.TRIG
        prefixes = release.prefixes if fmt == "trig" else None
        return ox.serialize(quads, format=oxf, prefixes=prefixes) or b""
    triples = list(dict.fromkeys(q.triple for q in quads))
    return graph_body(triples, fmt, prefixes=release.prefixes, context=release.context)


async def document(request: Request) -> Response:
    """``/doc/P[.ext]``: the document about ``<base>P``, in the negotiated format."""
    release: Release = request.app.state.release
    path = request.path_params["path"]
    media = None
    stem, dot, suffix = path.rpartition(".")
    if dot and suffix in _SUFFIX and _exists(release, release.base + stem):
        path, media = stem, _SUFFIX[suffix]
    iri = release.base + path
    if not _exists(release, iri):
        return _problem(404, f"no resource <{iri}> in this release")
    negotiated = media is None
    if media is None:
        media = negotiate(request.headers.get("accept"), list(DOC_FORMATS))
        if media is None:
            return _problem(406, "no acceptable format; offered: " + ", ".join(DOC_FORMATS))
    fmt = DOC_FORMATS[media][0]
    cache: Lru = request.app.state.docs
    key = (iri, fmt)
    body = cache.get_or(key)
    if body is None:
        body = await anyio.to_thread.run_sync(_render_document, request, release, iri, fmt)
        cache.put(key, body)
    headers = {"Link": _links(_quote_path(path))}
    if negotiated:
        headers["Content-Location"] = f"/doc/{_quote_path(path)}.{DOC_FORMATS[media][1]}"
    return respond(request, body, FORMAT_MEDIA.get(fmt, "text/html"), headers=headers,
                   vary=negotiated)


def _render_document(request: Request, release: Release, iri: str, fmt: str) -> bytes:
    quads, kind = describe(release, iri)
    if fmt != "html":
        return _serialise(release, quads, fmt)
    env: Environment = request.app.state.templates
    graph = _case_graph(release, iri) if kind == "case" else None
    if graph is None and iri in release.graphs:
        graph = iri if any(g == iri for _, g in release.cases) else None
    if graph is not None:
        view = pages.CaseView(release.store, graph, release.labels, release.page_href)
        summary = view.summary()
        jsonld = pages.schema_org_json({
            "@type": "MedicalWebPage", "name": summary["title"], "url": iri,
            "about": [{"@type": "MedicalCondition", "name": d} for d in summary["diseases"]],
            "mentions": [{"@type": "Drug", "name": d} for d in summary["drugs"]],
            "isBasedOn": summary["publication"],
        })
        return env.get_template("case.html").render(
            release=release, iri=iri, summary=summary, fusions=view.fusion_diagrams(),
            ihc=view.ihc(), timeline=view.timeline(), sections=view.sections(),
            jsonld=jsonld, path=release.local(iri)).encode()
    rows = []
    for q in quads:
        rows.append((q.subject, q.predicate, q.object))
    rows.sort(key=lambda r: (r[0] != ox.NamedNode(iri), str(r[0]), str(r[1]), str(r[2])))
    jsonld = pages.schema_org_json({"@type": "Thing", "@id": iri,
                                    "name": release.labels(iri), "url": iri})
    return env.get_template("resource.html").render(
        release=release, iri=iri, title=release.labels(iri), rows=rows, kind=kind,
        term=_term_view, jsonld=jsonld, mentions=_mentions(release, iri),
        external=pages.external_page(iri)).encode()


def _term_view(release: Release, term: Any) -> dict[str, Any]:
    """How a term shows in a resource page's table."""
    if isinstance(term, ox.Literal):
        dt = term.datatype.value.rsplit("#", 1)[-1] if term.datatype else ""
        return {"text": term.value, "datatype": "" if dt == "string" else dt}
    if isinstance(term, ox.BlankNode):
        return {"text": "_:" + term.value}
    ext = pages.external_page(term.value)
    return {"text": release.labels(term.value), "iri": term.value,
            "href": release.page_href(term.value), "source": ext}


def _mentions(release: Release, iri: str, limit: int = 200) -> list[dict[str, str]]:
    """The cases and publications whose graphs mention ``iri`` as an object."""
    graphs = sorted({q.graph_name.value for q in release.store.quads_for_pattern(
        None, None, ox.NamedNode(iri), None) if isinstance(q.graph_name, ox.NamedNode)})
    out = []
    case_of = {g: c for c, g in release.cases}
    for g in graphs[:limit]:
        if g.endswith(("/vocabulary", "/mappings")):
            continue
        target = case_of.get(g, g)
        out.append({"graph": g, "href": release.page_href(target),
                    "label": release.labels(target) if release.labels.has(target)
                    else g.rsplit("/", 1)[-1]})
    return out


async def about(request: Request) -> Response:
    """``/about?iri=X``: a page about an external term — its label, links, cases mentioning it."""
    release: Release = request.app.state.release
    iri = request.query_params.get("iri", "")
    if not iri:
        return _problem(400, "expected ?iri=<an IRI used in this release>")
    if iri.startswith(release.base):
        return RedirectResponse(release.page_href(iri), status_code=303)
    mentions = _mentions(release, iri)
    if not mentions and not release.labels.has(iri):
        return _problem(404, f"<{iri}> is not used in this release")
    quads = list(release.store.quads_for_pattern(ox.NamedNode(iri), None, None,
                                                 ox.NamedNode(release.base + "graph/vocabulary")))
    quads += list(release.store.quads_for_pattern(ox.NamedNode(iri), None, None,
                                                  ox.NamedNode(release.base + "graph/mappings")))
    rows = sorted(((q.subject, q.predicate, q.object) for q in quads),
                  key=lambda r: (str(r[1]), str(r[2])))
    ext = pages.external_page(iri)
    jsonld = pages.schema_org_json({"@type": "DefinedTerm", "@id": iri,
                                    "name": release.labels(iri),
                                    "inDefinedTermSet": ext[0] if ext else None, "url": iri})
    env: Environment = request.app.state.templates
    body = env.get_template("resource.html").render(
        release=release, iri=iri, title=release.labels(iri), rows=rows, kind="term",
        term=_term_view, jsonld=jsonld, mentions=mentions, external=ext).encode()
    return respond(request, body, "text/html")


async def resource(request: Request) -> Response:
    """Any other path under the base: a thing (303 to its document) or a graph (200)."""
    release: Release = request.app.state.release
    path = request.path_params["path"]
    iri = release.base + path
    if path in ("dataset", "void"):
        return RedirectResponse("/.well-known/void", status_code=303,
                                headers={"Vary": "Accept"})
    if path == "ontology" or path.startswith("ontology/"):
        return ontology(request)
    if not _exists(release, iri):
        return _problem(404, f"no resource <{iri}> in this release")
    if path.startswith(_DOCUMENTS):
        return await document(request)
    suffix = ""
    accept = request.headers.get("accept")
    media = negotiate(accept, list(DOC_FORMATS))
    if media is not None and accept and media != "text/html":
        suffix = "." + DOC_FORMATS[media][1]
    return RedirectResponse(f"/doc/{_quote_path(path)}{suffix}", status_code=303,
                            headers={"Vary": "Accept", "Link": _links(_quote_path(path))})


def ontology(request: Request) -> Response:
    """The ontology document (``<base>ontology``), as Turtle, or HTML via its classes."""
    settings: ServerSettings = request.app.state.settings
    path = settings.extra.get("ontology", Path("ontology/alkld.ttl"))
    if not Path(path).exists():
        return _problem(404, f"ontology file {path} not found")
    data = Path(path).read_bytes()
    media = negotiate(request.headers.get("accept"),
                      ["text/turtle", "text/html", "application/ld+json", "application/rdf+xml",
                       "application/n-triples"])
    if media in (None, "text/turtle", "text/html"):
        return respond(request, data, "text/turtle")
    triples = list(ox.parse(data, format=ox.RdfFormat.TURTLE))
    release: Release = request.app.state.release
    fmt = GRAPH_FORMATS[media]
    return respond(request, graph_body(triples, fmt, prefixes=release.prefixes,
                                       context=release.context), FORMAT_MEDIA[fmt])


# --- metadata, dumps, pages --------------------------------------------------------------------

async def well_known_void(request: Request) -> Response:
    """``/.well-known/void``: the VoID/DCAT description (RFC 5785 / VoID §7)."""
    release: Release = request.app.state.release
    media = negotiate(request.headers.get("accept"), list(GRAPH_FORMATS))
    if media is None:
        return _problem(406, "no acceptable format; offered: " + ", ".join(GRAPH_FORMATS))
    fmt = GRAPH_FORMATS[media]
    if fmt == "ttl":
        return respond(request, release.void_bytes, "text/turtle")
    body = graph_body([q.triple for q in release.void], fmt, prefixes=release.prefixes,
                      context=release.context)
    return respond(request, body, FORMAT_MEDIA[fmt])


def _dump_files(release: Release) -> list[Path]:
    names = ["alkld.trig", "alkld.nq", "alkld.ttl", "alkld.jsonld", "context.jsonld",
             "void.ttl", "dataset.jsonld", "SHA256SUMS"]
    return [release.out / n for n in names if (release.out / n).exists()]


async def dumps_index(request: Request) -> Response:
    release: Release = request.app.state.release
    env: Environment = request.app.state.templates
    files = [{"name": p.name, "size": p.stat().st_size} for p in _dump_files(release)]
    body = env.get_template("dumps.html").render(release=release, files=files,
                                                 jsonld=pages.schema_org_json({
                                                     "@type": "DataCatalog",
                                                     "name": "alkld dumps"})).encode()
    return respond(request, body, "text/html", vary=False)


async def dump_file(request: Request) -> Response:
    release: Release = request.app.state.release
    name = request.path_params["name"]
    allowed = {p.name: p for p in _dump_files(release)}
    if name not in allowed:
        return _problem(404, f"no dump file {name!r}; see /dumps/")
    path = allowed[name]
    media = _DUMP_MEDIA.get(path.suffix, "application/octet-stream")
    data = await anyio.to_thread.run_sync(path.read_bytes)
    return respond(request, data, media, vary=False)


async def context_file(request: Request) -> Response:
    release: Release = request.app.state.release
    body = json.dumps(release.context, indent=2, sort_keys=True).encode()
    return respond(request, body, "application/ld+json", vary=False)


def _dataset_jsonld(release: Release, request: Request) -> dict[str, Any]:
    from alkld.publish.schemaorg import dataset_jsonld

    root = str(request.base_url).rstrip("/")
    return dataset_jsonld(release.void, base=release.base, site=root)


async def index(request: Request) -> Response:
    """The site root: the case index (HTML) or the dataset's schema.org JSON-LD."""
    release: Release = request.app.state.release
    media = negotiate(request.headers.get("accept"),
                      ["text/html", "application/ld+json", "text/turtle"])
    if media == "application/ld+json":
        body = json.dumps(_dataset_jsonld(release, request), indent=2,
                          ensure_ascii=False).encode()
        return respond(request, body, "application/ld+json")
    if media == "text/turtle":
        return respond(request, release.void_bytes, "text/turtle")
    if media is None:
        return _problem(406, "offered: text/html, application/ld+json, text/turtle")
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        return _problem(400, "page: expected a positive integer")
    size = 100
    chunk = release.cases[(page - 1) * size: page * size]
    rows = []
    for case, graph in chunk:
        view = pages.CaseView(release.store, graph, release.labels, release.page_href)
        summary = view.summary()
        summary["href"] = release.page_href(case)
        rows.append(summary)
    pubs = _publications(release)
    env: Environment = request.app.state.templates
    jsonld = pages.schema_org_json(_dataset_jsonld(release, request))
    body = env.get_template("index.html").render(
        release=release, rows=rows, pubs=pubs, page=page,
        pages=(len(release.cases) + size - 1) // size, jsonld=jsonld).encode()
    return respond(request, body, "text/html")


def _publications(release: Release) -> list[dict[str, str]]:
    q = f"""PREFIX dcterms: <http://purl.org/dc/terms/>
    PREFIX prism: <http://prismstandard.org/namespaces/basic/2.0/>
    SELECT ?pub ?title ?doi ?type WHERE {{ GRAPH ?g {{
      ?pub dcterms:title ?title .
      OPTIONAL {{ ?pub prism:doi ?doi }}
      OPTIONAL {{ ?pub <https://w3id.org/alkld/ontology#articleType> ?type }} }}
      FILTER(STRSTARTS(STR(?pub), "{release.base}pub/")) }} ORDER BY ?title"""
    out = []
    for row in release.store.query(q):
        out.append({"href": release.page_href(row["pub"].value), "title": row["title"].value,
                    "doi": row["doi"].value if row["doi"] else "",
                    "type": release.labels(row["type"].value) if row["type"] else ""})
    return out


async def query_page(request: Request) -> Response:
    release: Release = request.app.state.release
    env: Environment = request.app.state.templates
    examples = [{"name": q.name, "title": q.title, "description": q.description,
                 "query": q.text} for q in release.queries]
    examples_json = json.dumps(examples).replace("<", "\\u003c").replace("&", "\\u0026")
    vendor = Path(__file__).parent / "static" / "vendor" / "yasgui.min.js"
    body = env.get_template("query.html").render(
        release=release, examples=examples, examples_json=examples_json,
        has_yasgui=vendor.exists(),
        jsonld=pages.schema_org_json({"@type": "WebPage", "name": "alkld SPARQL query"})
    ).encode()
    return respond(request, body, "text/html", vary=False)


# --- application -------------------------------------------------------------------------------

def create_app(settings: ServerSettings, *,
               run: Callable[[dict[str, Any], float], Outcome] | None = None) -> Starlette:
    """The ASGI application over the release in ``settings.out``.

    ``run(request, timeout)`` executes ``/sparql`` queries; by default the app's lifespan
    starts a :class:`~alkld.publish.sparql.QueryPool` of killable worker processes (or a
    :class:`~alkld.publish.sparql.RemotePool` for ``settings.store_url``). The pre-fork
    server (:mod:`alkld.publish.httpd`) passes its own and answers ``/sparql`` through
    ``app.state.endpoint`` without Starlette.
    """
    release = Release(settings)
    env = Environment(loader=PackageLoader("alkld.publish", "templates"),
                      autoescape=select_autoescape(["html"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals["external_page"] = pages.external_page

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if run is not None:
            yield
            return
        if settings.store_url:
            from alkld.publish.sparql import RemotePool

            app.state.pool = RemotePool(release.store, prefixes=release.prefixes,
                                        context=release.context)
        else:
            app.state.pool = await anyio.to_thread.run_sync(
                lambda: QueryPool(str(release.store_path), workers=settings.workers,
                                  prefixes=release.prefixes, context=release.context))
        try:
            yield
        finally:
            app.state.pool.close()

    def pooled(request: dict[str, Any], timeout: float) -> Outcome:
        return app.state.pool.run(request, timeout)  # type: ignore[no-any-return]

    static = Path(__file__).parent / "static"
    routes = [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/sparql", sparql, methods=["GET", "POST", "HEAD"], name="sparql"),
        Route("/query", query_page, methods=["GET", "HEAD"]),
        Route("/about", about, methods=["GET", "HEAD"]),
        Route("/.well-known/void", well_known_void, methods=["GET", "HEAD"]),
        Route("/dumps/", dumps_index, methods=["GET", "HEAD"]),
        Route("/dumps/{name}", dump_file, methods=["GET", "HEAD"]),
        Route("/context.jsonld", context_file, methods=["GET", "HEAD"]),
        Mount("/static", StaticFiles(directory=static), name="static"),
        Route("/doc/{path:path}", document, methods=["GET", "HEAD"]),
        Route("/{path:path}", resource, methods=["GET", "HEAD"]),
    ]
    middleware = [
        Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST", "HEAD"],
                   allow_headers=["Accept", "Content-Type", "If-None-Match"],
                   expose_headers=["ETag", "Link", "Content-Location", "X-Alkld-Truncated",
                                   "X-Alkld-Row-Cap"]),
        Middleware(GZipMiddleware, minimum_size=1024, compresslevel=5),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.settings = settings
    app.state.release = release
    app.state.templates = env
    app.state.endpoint = SparqlEndpoint(release, settings, run=run or pooled,
                                        cache=Lru(settings.result_cache))
    app.state.docs = Lru(512)
    return app
