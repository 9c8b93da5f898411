"""The embedded store: a pyoxigraph on-disk store holding every named graph of the release.

Stage 5 of the pipeline (embedded by default; :mod:`alkld.store.remote` pushes the same
graphs into any SPARQL 1.1 store). The store is written into a fresh directory beside the
target and swapped in only when complete, so a failed build leaves the previous store intact.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node as RdfNode

__all__ = ["StoreLoader", "StoreUpdater", "move_into_place", "open_store", "to_ox_quads",
           "to_ox_term", "write_store"]

log = logging.getLogger(__name__)

#: Datatype IRI → its pyoxigraph NamedNode, for :func:`to_ox_term`.
_DATATYPES: dict[URIRef, ox.NamedNode] = {}


def to_ox_term(term: RdfNode) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """Convert an rdflib term to the pyoxigraph term of the same value.

    >>> to_ox_term(Literal("60", datatype=URIRef("http://www.w3.org/2001/XMLSchema#decimal")))
    <Literal value=60 datatype=<NamedNode value=http://www.w3.org/2001/XMLSchema#decimal>>
    """
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        # the slots, not rdflib's properties (Python calls); datatypes converted once
        datatype, language = term._datatype, term._language  # noqa: SLF001
        if language:
            return ox.Literal(str(term), language=language)
        if datatype is None:
            return ox.Literal(str(term))
        found = _DATATYPES.get(datatype)  # a hash lookup: a URIRef's == is Python code
        if found is None:
            found = _DATATYPES[datatype] = ox.NamedNode(datatype)
        return ox.Literal(str(term), datatype=found)  # xsd:string: equal to the plain one
    raise TypeError(f"not an RDF term: {term!r}")


def to_ox_quads(graph: URIRef, triples: Iterable[tuple[RdfNode, RdfNode, RdfNode]]
                ) -> list[ox.Quad]:
    """The triples of one named graph as pyoxigraph quads."""
    g = ox.NamedNode(str(graph))
    return [ox.Quad(to_ox_term(s), to_ox_term(p), to_ox_term(o), g)  # type: ignore[arg-type]
            for s, p, o in triples]


def write_store(quads: Iterable[ox.Quad], path: Path) -> int:
    """Write ``quads`` into a new on-disk store at ``path`` (replacing it); return the count.

    The store is built in ``<path>.tmp`` and renamed into place once flushed and optimised.
    """
    return _new_store(path, lambda store: store.bulk_extend(quads))


def _new_store(path: Path, fill: Callable[[ox.Store], None]) -> int:
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    store = ox.Store(str(tmp))
    fill(store)
    store.flush()
    store.optimize()
    count = len(store)
    del store
    move_into_place(tmp, path)
    log.info("store %s: %d quads", path, count)
    return count


def move_into_place(new: Path, path: Path) -> None:
    """Replace the directory ``path`` (if any) with ``new``: renames, the old one removed."""
    old = path.with_name(path.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if path.exists():
        path.rename(old)
    new.rename(path)
    shutil.rmtree(old, ignore_errors=True)


class StoreLoader:
    """Loads N-Quads into a new on-disk store as the build produces them, in one bulk load.

    pyoxigraph's bulk loader sorts what it reads into new files and adds them all to the
    store when its call ends. One call for the whole release costs less than a call a batch:
    each call's files are merged with the store written so far, and those merges grow with
    the store (10 M quads: 21 against 27 µs of CPU a quad with 128 MB batches;
    ``benchmarks/store_batches.py``, benchmarks/RESULTS.md). So a loader thread runs one
    ``bulk_load`` reading a named pipe, which pyoxigraph reads natively, without Python's
    lock. :meth:`add` hands whole N-Quads lines, ``chunk_bytes`` at a time, to a writer
    thread that feeds the pipe (at most ``queued`` chunks wait: the build blocks only when
    the store falls that far behind). :meth:`close` ends the input, waits for the store to
    be flushed and optimised, moves it to ``path`` (replacing it) and returns its quad
    count; :meth:`abort` drops it.
    """

    def __init__(self, path: Path, *, chunk_bytes: int = 8 << 20, queued: int = 8) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")
        self.fifo = path.with_name(path.name + ".nq-pipe")
        for stale in (self.tmp, self.fifo):
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
        os.mkfifo(self.fifo)
        self.chunk_bytes = chunk_bytes
        self.seconds = 0.0
        self._buffer: list[bytes] = []
        self._size = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=queued)
        self._error: BaseException | None = None  # the loader's
        self._write_error: BaseException | None = None
        self._aborted = False
        self._count = 0
        self._count_error: BaseException | None = None
        #: Seconds of the loader's phases (bulk load, flush, optimize, count): for benchmarks.
        self.phases: dict[str, float] = {}
        self._input_ended: float | None = None  # when the writer had written the last chunk
        self._done = threading.Event()
        self._loader = threading.Thread(target=self._load, name="alkld-store", daemon=True)
        self._writer = threading.Thread(target=self._write, name="alkld-store-feed",
                                        daemon=True)
        self._loader.start()
        self._writer.start()

    def _load(self) -> None:
        started = time.perf_counter()
        phases = self.phases

        def phase(name: str, since: float) -> float:
            now = time.perf_counter()
            phases[name] = now - since
            return now

        try:
            store = ox.Store(str(self.tmp))
            store.bulk_load(path=str(self.fifo), format=ox.RdfFormat.N_QUADS, lenient=True)
            t = phase("bulk load", started)
            if self._input_ended is not None:
                phases["bulk load after the input ended"] = t - self._input_ended
            if not self._aborted:
                # counted while the store compacts (flush waits for that): the count reads a
                # snapshot of what the load wrote, on the core the compaction leaves idle
                counter = threading.Thread(target=self._count_quads, args=(store,),
                                           name="alkld-store-count")
                counter.start()
                store.flush()
                t = phase("flush", t)
                store.optimize()
                t = phase("optimize", t)
                counter.join()
                phase("waiting for the count", t)
                if self._count_error is not None:
                    raise self._count_error
            del store
        except BaseException as e:  # noqa: BLE001 - re-raised by close()
            self._error = e
        finally:
            self._done.set()
            # a writer still waiting for a reader (the store failed before reading) or
            # writing into the pipe gets a reader that goes away: it stops with EPIPE
            with contextlib.suppress(OSError):
                os.close(os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK))
            self.seconds = time.perf_counter() - started

    def _count_quads(self, store: ox.Store) -> None:
        started = time.perf_counter()
        try:
            self._count = len(store)
        except BaseException as e:  # noqa: BLE001 - raised by the loader thread
            self._count_error = e
        self.phases["count"] = time.perf_counter() - started

    def _open_pipe(self) -> int | None:
        """The pipe's write end, once the loader reads it; None if the loader ended first."""
        while True:
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                if e.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
                if self._done.wait(0.005):
                    return None
                continue
            os.set_blocking(fd, True)
            with contextlib.suppress(OSError, AttributeError):  # Linux only; a larger pipe
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
            return fd

    def _write(self) -> None:
        fd: int | None = None
        try:
            fd = self._open_pipe()
            while (chunk := self._queue.get()) is not None:
                if fd is None:
                    continue  # the loader has ended: drop the input, let add() go on
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
        except BaseException as e:  # noqa: BLE001 - re-raised by close()
            self._write_error = e
            while self._queue.get() is not None:  # let the producer finish
                pass
        finally:
            if fd is not None:
                os.close(fd)
            self._input_ended = time.perf_counter()

    def add(self, nquads: bytes) -> None:
        """Queue N-Quads (whole lines) for loading."""
        if self._error is not None:
            raise self._error
        self._buffer.append(nquads)
        self._size += len(nquads)
        if self._size >= self.chunk_bytes:
            self._queue.put(b"".join(self._buffer))
            self._buffer, self._size = [], 0

    def add_graph(self, graph: str, nquads: bytes, digest: str) -> None:
        """One named graph's N-Quads, as :class:`StoreUpdater` takes them (all are loaded)."""
        self.add(nquads)

    def add_claims(self, nquads: bytes) -> None:
        """Quads of the claims graph, as they come (loaded with the rest)."""
        self.add(nquads)

    def _finish_input(self) -> None:
        if self._buffer:
            self._queue.put(b"".join(self._buffer))
            self._buffer, self._size = [], 0
        self._queue.put(None)
        self._writer.join()
        self._loader.join()
        with contextlib.suppress(FileNotFoundError):
            self.fifo.unlink()

    def close(self, claims: tuple[str, Path, str] | None = None) -> int:
        """Load what is left, finish the store at ``path``; return its number of quads.

        ``claims`` (what :meth:`StoreUpdater.close` takes) is not needed: they came by
        :meth:`add_claims`.
        """
        self._finish_input()
        if self._error is not None:
            raise self._error
        if self._write_error is not None:
            raise self._write_error
        move_into_place(self.tmp, self.path)
        log.info("store %s: %d quads", self.path, self._count)
        return self._count

    def abort(self) -> None:
        """Stop loading and remove the partial store."""
        self._aborted = True
        self._buffer = []
        if self._writer.is_alive() or self._loader.is_alive():
            self._finish_input()
        with contextlib.suppress(FileNotFoundError):
            self.fifo.unlink()
        shutil.rmtree(self.tmp, ignore_errors=True)


class StoreUpdater:
    """Makes the new store from the previous build's, replacing only the graphs that changed.

    For a rebuild in which few records changed (the others come from the record cache), a
    new bulk load of every quad would cost as much as the first build (at 100k cases, the
    store is most of a warm rebuild). Instead the previous store is copied as a RocksDB
    checkpoint (its files hard-linked: instant, and the previous store is never written),
    and the copy is updated: a graph whose N-Quads digest differs from the previous build's
    (``previous``: graph IRI → digest) is dropped and loaded again, a graph the release no
    longer has is dropped. :meth:`close` also replaces the claims graph if its digest
    changed, moves the store to ``path`` and returns its quad count, which the build checks
    against the dumps'; :meth:`abort` drops the copy. The same interface as
    :class:`StoreLoader`, whose store it equals (tested).
    """

    def __init__(self, path: Path, previous_store: Path, previous: dict[str, str], *,
                 chunk_bytes: int = 8 << 20) -> None:
        started = time.perf_counter()
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        ox.Store.read_only(str(previous_store)).backup(str(self.tmp))
        self._store: ox.Store | None = ox.Store(str(self.tmp))
        self._previous = previous
        self._seen: set[str] = set()
        self._pending: list[tuple[str, bytes]] = []
        self._size = 0
        self.chunk_bytes = chunk_bytes
        #: Graphs replaced, and dropped: for the log and the tests.
        self.replaced = 0
        self.dropped = 0
        self.phases: dict[str, float] = {"copy": time.perf_counter() - started}
        self.seconds = 0.0

    def add_graph(self, graph: str, nquads: bytes, digest: str) -> None:
        """One named graph of the new release (all of its quads), with its digest."""
        self._seen.add(graph)
        if self._previous.get(graph) == digest:
            return
        self._pending.append((graph, nquads))
        self._size += len(nquads)
        if self._size >= self.chunk_bytes:
            self._replace()

    def add_claims(self, nquads: bytes) -> None:
        """Nothing: the claims graph is compared whole, from its file, by :meth:`close`."""

    def _replace(self) -> None:
        started = time.perf_counter()
        assert self._store is not None
        for graph, _ in self._pending:
            self._store.remove_graph(ox.NamedNode(graph))
        self._store.load(b"".join(nq for _, nq in self._pending), format=ox.RdfFormat.N_QUADS,
                         lenient=True)
        self.replaced += len(self._pending)
        self._pending, self._size = [], 0
        self.seconds += time.perf_counter() - started

    def close(self, claims: tuple[str, Path, str]) -> int:
        """Finish: ``claims`` is the claims graph's IRI, its N-Triples file and digest."""
        self._replace()
        started = time.perf_counter()
        store = self._store
        assert store is not None
        graph, lines, digest = claims
        self._seen.add(graph)
        if self._previous.get(graph) != digest:
            store.remove_graph(ox.NamedNode(graph))
            store.load(path=str(lines), format=ox.RdfFormat.N_TRIPLES,
                       to_graph=ox.NamedNode(graph), lenient=True)
            self.replaced += 1
        for gone in sorted(self._previous.keys() - self._seen):
            store.remove_graph(ox.NamedNode(gone))
            self.dropped += 1
        store.flush()
        count = len(store)
        self._store = None
        del store
        move_into_place(self.tmp, self.path)
        self.seconds += time.perf_counter() - started
        self.phases["update"] = self.seconds
        log.info("store %s: %d quads; %d graph(s) replaced, %d dropped, the rest as before",
                 self.path, count, self.replaced, self.dropped)
        return count

    def abort(self) -> None:
        """Drop the copy."""
        self._store = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def open_store(path: Path, *, read_only: bool = True) -> ox.Store:
    """Open the release's store (read-only by default)."""
    from alkld.errors import ConfigurationError

    if not path.is_dir():
        raise ConfigurationError("no store here; run `alkld build` first", path=path,
                                 expected="a directory written by alkld build")
    return ox.Store.read_only(str(path)) if read_only else ox.Store(str(path))
