"""The least a Python SPARQL server over pyoxigraph can do a request: the floor for issue 3.

Not a server to deploy: it has none of the protocol, safety or conneg of ``alkld serve``
(no timeout, no row cap, no result cache, no CORS, no error pages). It keeps only what no
server can skip — the fastest event loop and HTTP parser available to Python (uvloop,
httptools), one form field decoded, ``Store.query`` on an in-memory store shared by forked
workers, pyoxigraph's own serialiser, a minimal HTTP/1.1 answer — so that
``benchmarks/server_qps.py --servers "python floor (in memory)",...`` measures how fast any
Python server built on pyoxigraph could answer the same requests as Oxigraph's Rust server
on this machine. Answers: SPARQL results as JSON for SELECT/ASK, expanded JSON-LD (as
Oxigraph's own server gives) when the ``Accept`` header names JSON-LD.

Usage: python benchmarks/server_floor.py DUMP.nq PORT [WORKERS]
       python benchmarks/server_floor.py DUMP.nq --per-call
(the second prints what pyoxigraph's calls alone cost a request, in one process, no HTTP)
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
import urllib.parse

import httptools
import pyoxigraph as ox
import uvloop

_JSON = ox.QueryResultsFormat.JSON


class _Connection(asyncio.Protocol):
    def __init__(self, store: ox.Store) -> None:
        self.store = store
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []
        self.accept = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.body, self.accept = b"", [], b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"accept":
            self.accept = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        form = b"".join(self.body) or self.url.partition(b"?")[2]
        text = ""
        for field in form.split(b"&"):
            if field.startswith(b"query="):
                text = urllib.parse.unquote_plus(field[6:].decode("latin-1"))
        try:
            results = self.store.query(text, use_default_graph_as_union=True)
            if b"ld+json" in self.accept:
                body = ox.serialize(results, format=ox.RdfFormat.JSON_LD) or b""
                kind = b"application/ld+json"
            else:
                body = results.serialize(format=_JSON) or b""
                kind = b"application/sparql-results+json"
            status = b"200 OK"
        except (SyntaxError, ValueError, OSError) as e:
            body, kind, status = str(e).encode(), b"text/plain", b"400 Bad Request"
        assert self.transport is not None
        self.transport.write(b"HTTP/1.1 " + status + b"\r\ncontent-type: " + kind
                             + b"\r\ncontent-length: " + str(len(body)).encode()
                             + b"\r\n\r\n" + body)
        if not self.parser.should_keep_alive():
            self.transport.close()


def _serve(sock: socket.socket, store: ox.Store) -> None:
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(lambda: _Connection(store), sock=sock))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    try:
        loop.run_forever()
    finally:
        server.close()
        os._exit(0)


def per_call(store: ox.Store, n: int = 3000) -> None:
    """Microseconds a call of what the floor server does a request, without HTTP."""
    facts = sorted({q.subject.value for q in store.quads_for_pattern(
        None, ox.NamedNode("https://w3id.org/alkld/ontology#evidence"), None, None)})[:n]
    lookups = [f"SELECT ?p ?o WHERE {{ <{f}> ?p ?o }}" for f in facts]
    union = {"use_default_graph_as_union": True}
    from alkld.publish.sparql import _native_solutions  # what alkld serve calls instead

    runs = {
        "Store.query('ASK {}')": lambda: [store.query("ASK {}") for _ in facts],
        "Store.query(lookup), not iterated": lambda: [store.query(q, **union) for q in lookups],
        "Store.query(lookup), rows listed": lambda: [list(store.query(q, **union))
                                                     for q in lookups],
        "Store.query(lookup) + JSON results": lambda: [
            store.query(q, **union).serialize(format=_JSON) for q in lookups],
        "Store.query(lookup) + alkld's capped JSON": lambda: [
            _native_solutions(store.query(q, **union), "json", 10_000) for q in lookups],
        "Store.query(DESCRIBE) + JSON-LD": lambda: [
            ox.serialize(store.query(f"DESCRIBE <{f}>", **union), format=ox.RdfFormat.JSON_LD)
            for f in facts],
        "quads_for_pattern(fact), listed": lambda: [list(store.quads_for_pattern(
            ox.NamedNode(f), None, None, None)) for f in facts],
    }
    for name, run in runs.items():
        run()  # warm
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - started)
        print(f"{name:40} {1e6 * best / len(facts):7.1f} µs a call (best of 3, {len(facts)} calls)")


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[2] == "--per-call":
        store = ox.Store()
        store.bulk_load(path=sys.argv[1], format=ox.RdfFormat.N_QUADS)
        per_call(store)
        return 0
    dump, port = sys.argv[1], int(sys.argv[2])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else os.cpu_count() or 2
    store = ox.Store()
    store.bulk_load(path=dump, format=ox.RdfFormat.N_QUADS)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    sock.setblocking(False)
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            _serve(sock, store)
        children.append(pid)

    def stop(signum: int, frame: object) -> None:
        for pid in children:
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for pid in children:
        os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
