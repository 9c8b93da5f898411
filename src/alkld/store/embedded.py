"""The embedded store: a pyoxigraph on-disk store holding every named graph of the release.

Stage 5 of the pipeline (embedded by default; :mod:`alkld.store.remote` pushes the same
graphs into any SPARQL 1.1 store). The store is written into a fresh directory beside the
target and swapped in only when complete, so a failed build leaves the previous store intact.
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import pyoxigraph as ox
from rdflib import BNode, Literal, URIRef
from rdflib.term import Node as RdfNode

__all__ = ["StoreLoader", "open_store", "to_ox_quads", "to_ox_term", "write_store"]

log = logging.getLogger(__name__)

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


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
        if term.language:
            return ox.Literal(str(term), language=term.language)
        if term.datatype and str(term.datatype) != _XSD_STRING:
            return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
        return ox.Literal(str(term))
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
    old = path.with_name(path.name + ".old")
    for stale in (tmp, old):
        if stale.exists():
            shutil.rmtree(stale)
    store = ox.Store(str(tmp))
    fill(store)
    store.flush()
    store.optimize()
    count = len(store)
    del store
    if path.exists():
        path.rename(old)
    tmp.rename(path)
    if old.exists():
        shutil.rmtree(old)
    log.info("store %s: %d quads", path, count)
    return count


class StoreLoader:
    """Bulk-loads N-Quads into a new on-disk store in a thread, as the build produces them.

    :meth:`add` buffers N-Quads bytes and hands batches of ``batch_bytes`` to a loader
    thread (pyoxigraph's bulk loader releases the GIL, so the build goes on meanwhile; at
    most one batch waits). :meth:`close` loads the rest, flushes, optimises and moves the
    store to ``path`` (replacing it) and returns its quad count; :meth:`abort` drops it.

    Each batch becomes new files the store merges later. At 100k cases, 128 MB batches
    cost the build process ~100 CPU-s less than 64 MB ones, for ~0.3 GB more peak memory;
    at 4 M quads the difference is within noise (``benchmarks/store_batches.py``,
    benchmarks/RESULTS.md).
    """

    def __init__(self, path: Path, *, batch_bytes: int = 128 << 20) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".tmp")
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.batch_bytes = batch_bytes
        self.seconds = 0.0
        self._buffer: list[bytes] = []
        self._size = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._count = 0
        self._thread = threading.Thread(target=self._run, name="alkld-store", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import time

        try:
            store = ox.Store(str(self.tmp))
            while True:
                batch = self._queue.get()
                if batch is None:
                    break
                started = time.perf_counter()
                store.bulk_load(batch, format=ox.RdfFormat.N_QUADS, lenient=True)
                self.seconds += time.perf_counter() - started
            started = time.perf_counter()
            store.flush()
            store.optimize()
            self._count = len(store)
            self.seconds += time.perf_counter() - started
            del store
        except BaseException as e:  # noqa: BLE001 - re-raised by close()
            self._error = e
            while self._queue.get() is not None:  # let the producer finish
                pass

    def add(self, nquads: bytes) -> None:
        """Queue N-Quads (whole lines) for loading."""
        if self._error is not None:
            raise self._error
        self._buffer.append(nquads)
        self._size += len(nquads)
        if self._size >= self.batch_bytes:
            self._queue.put(b"".join(self._buffer))
            self._buffer, self._size = [], 0

    def close(self) -> int:
        """Load what is left, finish the store at ``path``; return its number of quads."""
        if self._buffer:
            self._queue.put(b"".join(self._buffer))
            self._buffer, self._size = [], 0
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        old = self.path.with_name(self.path.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        if self.path.exists():
            self.path.rename(old)
        self.tmp.rename(self.path)
        shutil.rmtree(old, ignore_errors=True)
        log.info("store %s: %d quads", self.path, self._count)
        return self._count

    def abort(self) -> None:
        """Stop loading and remove the partial store."""
        self._buffer = []
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        shutil.rmtree(self.tmp, ignore_errors=True)


def open_store(path: Path, *, read_only: bool = True) -> ox.Store:
    """Open the release's store (read-only by default)."""
    from alkld.errors import ConfigurationError

    if not path.is_dir():
        raise ConfigurationError("no store here; run `alkld build` first", path=path,
                                 expected="a directory written by alkld build")
    return ox.Store.read_only(str(path)) if read_only else ox.Store(str(path))
