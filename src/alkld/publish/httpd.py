"""``alkld serve`` over the embedded store: a pre-fork HTTP/1.1 server with killable workers.

A supervisor binds the listening socket and forks ``--workers`` processes. Each worker opens
the store read-only and serves HTTP on the shared socket itself: ``/sparql`` is answered
inline by :class:`alkld.publish.protocol.SparqlEndpoint` (no framework, no hop to another
process), every other path goes to the Starlette application of
:func:`alkld.publish.server.create_app` through a small ASGI bridge.

pyoxigraph cannot interrupt a running query, so the timeout stops the process that runs
it. A worker's watchdog thread (pyoxigraph releases the GIL while it evaluates) sees a query
pass ``--timeout``, writes the ``503`` to that client and exits the process: the work really
stops. The supervisor forks a replacement, and kills (SIGKILL) any worker whose query is still
marked running two seconds past the timeout. The price of answering inline: requests that
other connections had already sent to that worker are cut with it (their connections close
without an answer); new connections go to the other workers meanwhile.

Connections are kept alive (idle ones are closed after :data:`KEEP_ALIVE` seconds), request
bodies are limited to ``--max-body`` (413), and a worker accepts one connection per wake-up
so that connections spread over the workers.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import email.utils
import http
import logging
import multiprocessing as mp
import os
import signal
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, cast

from alkld.errors import ConfigurationError

__all__ = ["KEEP_ALIVE", "serve"]

log = logging.getLogger(__name__)

#: Seconds an idle keep-alive connection stays open.
KEEP_ALIVE = 15.0
#: A worker's exit status after its watchdog stopped a query.
EXIT_TIMEOUT = 75
#: Seconds past the timeout after which the supervisor kills a worker itself.
KILL_GRACE = 2.0
_MAX_QUEUED = 32
_WRITE_HIGH = 1 << 20


_REASONS = {s.value: s.phrase for s in http.HTTPStatus}


def _reason(status: int) -> str:
    return _REASONS.get(status, "Unknown")


# --- the watchdog -----------------------------------------------------------------------------

class _Watchdog:
    """Stops this worker process when a query outlives the timeout, answering 503 first.

    ``arm()``/``disarm()`` bracket each query (a dict entry and a shared timestamp: well
    under a microsecond). The thread wakes every ``tick`` seconds.
    """

    def __init__(self, timeout: float, busy: Any, slot: int, *, tick: float = 0.05) -> None:
        self.timeout = timeout
        self.busy = busy
        self.slot = slot
        self.tick = tick
        #: The client socket of the request the event loop is answering (its thread only).
        self.fd: int | None = None
        self.loop_thread = threading.get_ident()
        self._active: dict[int, tuple[float, int | None]] = {}
        self._lock = threading.Lock()
        message = (f"query stopped: it ran longer than the {timeout:g} s timeout\n").encode()
        self._reply = (b"HTTP/1.1 503 Service Unavailable\r\n"
                       b"content-type: text/plain; charset=utf-8\r\n"
                       b"access-control-allow-origin: *\r\nconnection: close\r\n"
                       b"content-length: %d\r\n\r\n" % len(message)) + message
        threading.Thread(target=self._watch, name="alkld-watchdog", daemon=True).start()

    def arm(self) -> None:
        """A query starts in this thread."""
        ident = threading.get_ident()
        started = time.monotonic()
        self._active[ident] = (started, self.fd if ident == self.loop_thread else None)
        self.busy[self.slot] = started

    def disarm(self) -> None:
        """The query of this thread finished (blocks forever if the watchdog fired)."""
        with self._lock:
            self._active.pop(threading.get_ident(), None)
            self.busy[self.slot] = min((s for s, _ in self._active.values()), default=0.0)

    def _watch(self) -> None:  # pragma: no cover - its effect is tested end to end
        while True:
            time.sleep(self.tick)
            now = time.monotonic()
            if not any(now - s > self.timeout for s, _ in list(self._active.values())):
                continue
            with self._lock:
                late = [fd for s, fd in self._active.values() if now - s > self.timeout]
                if not late:
                    continue
                for fd in late:
                    if fd is not None:
                        with contextlib.suppress(OSError):
                            os.write(fd, self._reply)
                log.warning("query stopped after %.1f s: worker %d exits (started %.3f, now "
                            "%.3f)", self.timeout, os.getpid(),
                            min(s for s, _ in self._active.values()), now)
                os._exit(EXIT_TIMEOUT)


# --- HTTP/1.1 ---------------------------------------------------------------------------------

@dataclass(slots=True)
class _Request:
    method: str
    target: bytes
    headers: dict[str, str]
    raw_headers: list[tuple[bytes, bytes]]
    body: bytes
    keep_alive: bool
    version: str
    too_large: bool


class _Worker:
    """One worker process's server state: the app, the endpoint, the connections."""

    def __init__(self, app: Any, watchdog: _Watchdog, max_body: int) -> None:
        self.app = app
        self.endpoint = app.state.endpoint
        self.watchdog = watchdog
        self.max_body = max_body
        self.connections: set[_Connection] = set()
        self.stopping = False
        self.date = email.utils.formatdate(usegmt=True)

    def head(self, status: int, headers: list[tuple[str, str]], length: int | None,
             keep_alive: bool) -> bytes:
        lines = [f"HTTP/1.1 {status} {_reason(status)}\r\ndate: {self.date}\r\n"
                 "server: alkld\r\n"]
        lines += [f"{name}: {value}\r\n" for name, value in headers]
        if length is not None:
            lines.append(f"content-length: {length}\r\n")
        if not keep_alive:
            lines.append("connection: close\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1")


class _Connection(asyncio.Protocol):
    """One client connection: httptools parses, requests are answered in order."""

    def __init__(self, worker: _Worker) -> None:
        import httptools

        self.worker = worker
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None
        self.fd: int | None = None
        self.peer: Any = None
        self.local: Any = None
        self.queue: collections.deque[_Request] = collections.deque()
        self.busy = False
        self.closed = False
        self.last = time.monotonic()
        self.writable = asyncio.Event()
        self.writable.set()
        self.disconnected = asyncio.Event()
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}
        self.raw_headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.size = 0
        self.too_large = False

    # -- asyncio ---------------------------------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        self.fd = sock.fileno() if sock is not None else None
        self.peer = transport.get_extra_info("peername")
        self.local = transport.get_extra_info("sockname")
        self.worker.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.worker.connections.discard(self)
        self.disconnected.set()
        self.writable.set()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def data_received(self, data: bytes) -> None:
        import httptools

        self.last = time.monotonic()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "protocol upgrades are not supported")
        except httptools.HttpParserError:
            self._fail(400, "malformed HTTP request")

    def _fail(self, status: int, message: str) -> None:
        if self.closed:
            return
        body = (message + "\n").encode()
        self.transport.write(self.worker.head(
            status, [("content-type", "text/plain; charset=utf-8")], len(body), False) + body)
        self.transport.close()
        self.closed = True

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._reset()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.raw_headers.append((key.encode("latin-1"), value))
        self.headers[key] = self.headers[key] + ", " + text if key in self.headers else text

    def on_headers_complete(self) -> None:
        declared = self.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.worker.max_body:
            self.too_large = True
            if self.headers.get("expect", "").lower() == "100-continue":
                self._fail(413, f"request body over the limit of {self.worker.max_body} bytes")
        elif self.headers.get("expect", "").lower() == "100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        if self.too_large:
            return
        self.size += len(body)
        if self.size > self.worker.max_body:
            self.too_large = True
            self.body = []
        else:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.closed:
            return
        parser = self.parser
        self.queue.append(_Request(
            parser.get_method().decode("latin-1"), self.url, self.headers, self.raw_headers,
            b"".join(self.body), parser.should_keep_alive(), parser.get_http_version(),
            self.too_large))
        if len(self.queue) > _MAX_QUEUED:
            self.transport.pause_reading()
        if not self.busy:
            self._drain()

    # -- answering -------------------------------------------------------------------------

    def _drain(self) -> None:
        while self.queue and not self.busy and not self.closed:
            request = self.queue.popleft()
            path, _, query = request.target.partition(b"?")
            if path == b"/sparql" and request.method in ("GET", "POST", "HEAD"):
                self._sparql(request, query)
            else:
                self.busy = True
                self.transport.pause_reading()
                task = asyncio.get_running_loop().create_task(
                    self._asgi(request, path, query))
                task.add_done_callback(self._asgi_done)
        if not self.closed and len(self.queue) <= _MAX_QUEUED and not self.busy:
            self.transport.resume_reading()

    def _asgi_done(self, task: asyncio.Task[None]) -> None:
        self.busy = False
        if not self.closed:
            self.transport.resume_reading()
            self._drain()

    def _send(self, request: _Request, status: int, headers: list[tuple[str, str]],
              body: bytes) -> None:
        keep = request.keep_alive and not self.worker.stopping
        length = None if status == 304 or status < 200 else len(body)
        head = self.worker.head(status, headers, length, keep)
        self.transport.write(head if request.method == "HEAD" or length is None
                             else head + body)
        if not keep:
            self.transport.close()
            self.closed = True

    def _sparql(self, request: _Request, query: bytes) -> None:
        worker = self.worker
        endpoint = worker.endpoint
        if request.too_large:
            reply = endpoint.problem(413, f"request body over the limit of {worker.max_body} "
                                          "bytes")
        else:
            host = request.headers.get("host") or f"{self.local[0]}:{self.local[1]}"
            worker.watchdog.fd = self.fd
            try:
                reply = endpoint.handle(request.method, query.decode("latin-1"),
                                        request.headers, request.body,
                                        endpoint=f"http://{host}/sparql")
            except Exception:
                log.exception("/sparql failed")
                reply = endpoint.problem(500, "internal error (logged by the server)")
            finally:
                worker.watchdog.fd = None
        self._send(request, reply.status, reply.headers, reply.body)

    async def _asgi(self, request: _Request, path: bytes, query: bytes) -> None:
        """Hand one request to the Starlette app (ASGI 3, HTTP only) and write its answer."""
        if request.too_large:
            message = f"request body over the limit of {self.worker.max_body} bytes\n"
            self._send(request, 413, [("content-type", "text/plain; charset=utf-8")],
                       message.encode())
            return
        raw_path = path or b"/"
        scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": request.version, "method": request.method, "scheme": "http",
            "path": urllib.parse.unquote(raw_path.decode("latin-1")), "raw_path": raw_path,
            "query_string": query, "root_path": "", "headers": request.raw_headers,
            "client": tuple(self.peer[:2]) if self.peer else None,
            "server": tuple(self.local[:2]) if self.local else None, "state": {},
        }
        consumed = False
        state = {"status": 0, "chunked": False, "done": False}
        keep = request.keep_alive
        head_only = request.method == "HEAD"

        async def receive() -> dict[str, Any]:
            nonlocal consumed
            if not consumed:
                consumed = True
                return {"type": "http.request", "body": request.body, "more_body": False}
            await self.disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if self.closed:
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k.decode("latin-1"), v.decode("latin-1"))
                           for k, v in message.get("headers", [])]
                names = {k.lower() for k, _ in headers}
                no_body = head_only or status in (204, 304) or status < 200
                chunked = "content-length" not in names and not no_body
                if chunked:
                    headers.append(("transfer-encoding", "chunked"))
                state.update(status=status, chunked=chunked, no_body=no_body)
                self.transport.write(self.worker.head(
                    status, headers, None, keep and not self.worker.stopping))
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                more = message.get("more_body", False)
                if not state.get("no_body"):
                    if state["chunked"]:
                        if body:
                            self.transport.write(b"%x\r\n%b\r\n" % (len(body), body))
                        if not more:
                            self.transport.write(b"0\r\n\r\n")
                    elif body:
                        self.transport.write(body)
                if not more:
                    state["done"] = True
                if self.transport.get_write_buffer_size() > _WRITE_HIGH:
                    await self.writable.wait()

        try:
            await self.worker.app(scope, receive, send)
        except Exception:
            log.exception("%s %s failed", request.method, raw_path.decode("latin-1"))
            if not state["status"] and not self.closed:
                self._send(request, 500, [("content-type", "text/plain; charset=utf-8")],
                           b"internal error (logged by the server)\n")
                return
        if self.closed:
            return
        if not state["done"] or not keep or self.worker.stopping:
            self.transport.close()
            self.closed = True


def _ignore_result(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("connection setup failed: %s", task.exception())


# --- a worker process -------------------------------------------------------------------------

def _worker_main(slot: int, sock: socket.socket, settings: Any, busy: Any,
                 report: Connection, supervisor: int) -> None:  # pragma: no cover - a child
    # the supervisor stops the workers: a terminal's Ctrl-C or hang-up (sent to the whole
    # process group) is for it alone, and under nohup it ignores SIGHUP, so they do too
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        from alkld.publish.server import create_app
        from alkld.publish.sparql import execute

        watchdog = _Watchdog(settings.timeout, busy, slot)

        def run(request: dict[str, Any], timeout: float) -> Any:
            watchdog.arm()
            try:
                return execute(release.store, request["query"], request["format"],
                               cap=request["cap"], prefixes=release.prefixes,
                               context=release.context,
                               default_graph_uris=request.get("default"),
                               named_graph_uris=request.get("named"),
                               form=request.get("form"))
            finally:
                watchdog.disarm()

        app = create_app(settings, run=run)
        release = app.state.release
    except Exception as e:  # noqa: BLE001 - reported to the supervisor, which exits 2
        with contextlib.suppress(OSError):
            report.send(("error", str(e)))
        os._exit(2)
    worker = _Worker(app, watchdog, settings.max_body)
    with contextlib.suppress(OSError):  # a replacement's supervisor does not listen
        report.send(("ready", os.getpid()))
    report.close()

    def accept() -> None:
        try:
            conn, _ = sock.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        task = loop.create_task(loop.connect_accepted_socket(lambda: _Connection(worker),
                                                             conn))
        task.add_done_callback(_ignore_result)

    def stop() -> None:
        worker.stopping = True
        loop.remove_reader(sock.fileno())
        for connection in list(worker.connections):
            if not connection.busy and not connection.queue:
                connection.transport.close()
        loop.call_later(5.0, loop.stop)
        tick_stop()

    def tick_stop() -> None:
        if not worker.connections:
            loop.stop()
        else:
            loop.call_later(0.1, tick_stop)

    def tick() -> None:
        worker.date = email.utils.formatdate(usegmt=True)
        if os.getppid() != supervisor:
            log.warning("worker %d: the supervisor is gone; stopping", os.getpid())
            stop()
            return
        idle_before = time.monotonic() - KEEP_ALIVE
        for connection in list(worker.connections):
            if not connection.busy and not connection.queue and connection.last < idle_before:
                connection.transport.close()
        loop.call_later(1.0, tick)

    loop.add_reader(sock.fileno(), accept)
    loop.add_signal_handler(signal.SIGTERM, stop)
    loop.call_later(1.0, tick)
    try:
        loop.run_forever()
    finally:
        os._exit(0)


# --- the supervisor ---------------------------------------------------------------------------

def overdue(since: float, forked: float, now: float, limit: float) -> bool:
    """Whether a worker whose query started at ``since`` (0 = idle) must be killed.

    ``since`` is read once from the shared array by the caller: the worker clears it when
    its query ends, and reading it twice (once to test it, once to subtract it) saw a
    query that had just finished as running since 0, i.e. for the whole uptime, and killed
    a healthy worker with its connections open (seen as wrk read errors under load).
    """
    return since > 0.0 and since >= forked and now - since > limit


def serve(settings: Any, *, host: str, port: int,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the release of ``settings`` at ``http://host:port/`` until SIGTERM or SIGINT.

    Raises :class:`~alkld.errors.ConfigurationError` when a worker cannot open the release.
    """
    for path in (settings.store_path or settings.out / "store", settings.out / "void.ttl"):
        if not path.exists():
            raise ConfigurationError(f"{path}: not found; run `alkld build --out "
                                     f"{settings.out}` first")
    workers = max(1, settings.workers)
    from alkld.publish.server import drop_preloaded, preload_store, wants_memory

    if wants_memory(settings):
        began = time.monotonic()
        quads = preload_store(settings)
        log.info("store copied into memory: %d quads in %.1f s", quads,
                 time.monotonic() - began)
    try:
        sock = socket.create_server((host, port), backlog=2048)
    except OSError as e:
        raise ConfigurationError(f"cannot listen on {host}:{port}: {e}") from e
    sock.setblocking(False)
    ctx = mp.get_context("fork")
    busy = ctx.RawArray("d", workers)
    procs: list[Any] = [None] * workers
    started = [0.0] * workers
    me = os.getpid()

    def spawn(slot: int) -> Connection:
        busy[slot] = 0.0
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker_main, name=f"alkld-http-{slot}",
                           args=(slot, sock, settings, busy, sender, me))
        proc.start()
        sender.close()
        procs[slot] = proc
        started[slot] = time.monotonic()
        return receiver

    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        pending = {spawn(slot): slot for slot in range(workers)}
        deadline = time.monotonic() + 300
        while pending:
            ready = wait(list(pending), timeout=max(0.0, deadline - time.monotonic()))
            if not ready or stopping:
                raise ConfigurationError("the server's workers did not start")
            for ready_one in ready:
                receiver = cast(Connection, ready_one)
                try:
                    kind, detail = receiver.recv()
                except EOFError:
                    kind, detail = "error", "a worker exited while opening the release"
                if kind == "error":
                    raise ConfigurationError(str(detail))
                pending.pop(receiver)
        name = sock.getsockname()
        if on_ready:
            on_ready(f"http://{name[0]}:{name[1]}")
        failures = 0
        while not stopping:
            wait([p.sentinel for p in procs], timeout=0.25)
            now = time.monotonic()
            for slot, proc in enumerate(procs):
                if stopping:  # the workers got the signal too: they are not replaced
                    break
                if proc.exitcode is not None:
                    if proc.exitcode == EXIT_TIMEOUT:
                        failures = 0
                    elif now - started[slot] < 5:
                        failures += 1
                        if failures > 5:
                            raise ConfigurationError("the server's workers keep exiting")
                    if proc.exitcode != EXIT_TIMEOUT:
                        log.warning("worker %d exited with %s; starting another", proc.pid,
                                    proc.exitcode)
                    spawn(slot).close()
                elif overdue(since := busy[slot], started[slot], now,
                             settings.timeout + KILL_GRACE):
                    log.warning("worker %d still running a query %.1f s past the timeout: "
                                "killed (busy since %.3f, forked at %.3f, now %.3f)", proc.pid,
                                now - since - settings.timeout, since, started[slot], now)
                    proc.kill()
    finally:
        for proc in procs:
            if proc is not None and proc.exitcode is None:
                proc.terminate()
        for proc in procs:
            if proc is not None:
                proc.join(timeout=6)
                if proc.exitcode is None:
                    proc.kill()
                    proc.join()
        sock.close()
        drop_preloaded()
        for s, handler in old.items():
            signal.signal(s, handler)
