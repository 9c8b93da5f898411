"""Read a release from any SPARQL 1.1 query endpoint, as the server reads its own store.

The subset of the pyoxigraph ``Store`` API the server and its pages use, over HTTP — so
``alkld serve --store URL`` serves a store a user already runs (after ``alkld publish
--store``) instead of the embedded one.

Terms travel as SPARQL JSON results (parsed into pyoxigraph terms) or N-Triples. The union
default graph is asked for with Oxigraph's ``union-default-graph`` parameter; Virtuoso's
default graph is the union already, and other stores ignore the parameter (their own
setting applies: docs/stores.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pyoxigraph as ox
import requests

from alkld.errors import AlkldError

__all__ = ["RemoteBoolean", "RemoteError", "RemoteSolutions", "RemoteStore"]

log = logging.getLogger(__name__)
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


class RemoteError(AlkldError):
    """The remote store could not answer (unreachable, or an HTTP error)."""

    exit_code = 2


class RemoteTimeout(RemoteError):
    """The remote store did not answer within the timeout."""


class RemoteQueryError(RemoteError):
    """The remote store rejected the query (HTTP 400)."""


def _term(binding: dict[str, Any]) -> Any:
    kind = binding["type"]
    if kind == "uri":
        return ox.NamedNode(binding["value"])
    if kind == "bnode":
        return ox.BlankNode(binding["value"])
    if "xml:lang" in binding:
        return ox.Literal(binding["value"], language=binding["xml:lang"])
    datatype = binding.get("datatype")
    if datatype and datatype != _XSD_STRING:
        return ox.Literal(binding["value"], datatype=ox.NamedNode(datatype))
    return ox.Literal(binding["value"])


class RemoteSolution:
    """One row: ``row["var"]`` or ``row[ox.Variable("var")]``; ``None`` when unbound."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getitem__(self, key: Any) -> Any:
        name = key.value if isinstance(key, ox.Variable) else str(key)
        return self._values.get(name)


class RemoteSolutions:
    """SELECT results, iterable like :class:`pyoxigraph.QuerySolutions`."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.variables = [ox.Variable(v) for v in doc["head"].get("vars", [])]
        self._rows = doc["results"]["bindings"]

    def __iter__(self) -> Iterator[RemoteSolution]:
        for row in self._rows:
            yield RemoteSolution({k: _term(v) for k, v in row.items()})


class RemoteBoolean:
    """ASK results."""

    def __init__(self, value: bool) -> None:
        self.value = value

    def __bool__(self) -> bool:
        return self.value


class RemoteStore:
    """A read-only view of a SPARQL 1.1 query endpoint."""

    def __init__(self, endpoint: str, *, timeout: float = 30.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.session = requests.Session()
        user, password = os.environ.get("ALKLD_STORE_USER"), os.environ.get(
            "ALKLD_STORE_PASSWORD")
        if user and password:
            self.session.auth = (user, password)

    def _post(self, text: str, accept: str, *, union: bool = False,
              default_graph: list[str] | None = None, named_graphs: list[str] | None = None,
              timeout: float | None = None) -> requests.Response:
        data: list[tuple[str, str]] = [("query", text)]
        data += [("default-graph-uri", g) for g in default_graph or []]
        data += [("named-graph-uri", g) for g in named_graphs or []]
        params = {"union-default-graph": ""} if union and not default_graph else None
        try:
            resp = self.session.post(self.endpoint, data=data, params=params,
                                     headers={"Accept": accept},
                                     timeout=timeout or self.timeout)
        except requests.Timeout as e:
            raise RemoteTimeout(f"the store at {self.endpoint} did not answer within "
                                f"{timeout or self.timeout:g} s") from e
        except requests.RequestException as e:
            raise RemoteError(f"the store at {self.endpoint} is unreachable: "
                              f"{type(e).__name__}") from e
        if resp.status_code == 400:
            raise RemoteQueryError(f"the store at {self.endpoint} rejected the query: "
                                   + resp.text[:500])
        if resp.status_code >= 300:
            raise RemoteError(f"the store at {self.endpoint} answered HTTP "
                              f"{resp.status_code}: {resp.text[:200]}")
        return resp

    def query(self, text: str, *, use_default_graph_as_union: bool = False,
              default_graph: Any = None, named_graphs: Any = None,
              timeout: float | None = None, **_: Any) -> Any:
        """Run a query remotely; results shaped like pyoxigraph's."""
        from alkld.publish.sparql import query_form

        form = query_form(text)
        dg = [g.value for g in default_graph] if default_graph else None
        ng = [g.value for g in named_graphs] if named_graphs else None
        if form in ("SELECT", "ASK"):
            resp = self._post(text, "application/sparql-results+json",
                              union=use_default_graph_as_union, default_graph=dg,
                              named_graphs=ng, timeout=timeout)
            try:
                doc = resp.json()
            except ValueError as e:
                raise RemoteError(f"the store at {self.endpoint} sent malformed JSON "
                                  "results") from e
            if form == "ASK":
                return RemoteBoolean(bool(doc.get("boolean")))
            return RemoteSolutions(doc)
        resp = self._post(text, "application/n-triples", union=use_default_graph_as_union,
                          default_graph=dg, named_graphs=ng, timeout=timeout)
        return list(ox.parse(resp.content, format=ox.RdfFormat.N_TRIPLES))

    def quads_for_pattern(self, subject: Any, predicate: Any, obj: Any, graph: Any
                          ) -> list[ox.Quad]:
        """The quads matching a pattern (``None`` = any), from the named graphs."""
        parts = []
        for name, term in (("s", subject), ("p", predicate), ("o", obj)):
            parts.append(f"?{name}" if term is None else str(term))
        g = "?g" if graph is None else str(graph)
        text = f"SELECT * WHERE {{ GRAPH {g} {{ {' '.join(parts)} }} }}"
        out = []
        for row in self.query(text):
            out.append(ox.Quad(row["s"] if subject is None else subject,
                               row["p"] if predicate is None else predicate,
                               row["o"] if obj is None else obj,
                               row["g"] if graph is None else graph))
        return out

    def named_graphs(self) -> list[ox.NamedNode]:
        return [row["g"] for row in self.query(
            "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")]
