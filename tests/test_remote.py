"""``alkld publish`` against real stores started here: an Oxigraph server and Virtuoso 7.

Each store runs as a child process on 127.0.0.1 ephemeral ports with its data in a temp
directory, and is stopped after. What is checked is what a reader of the store sees: the
triples of every named graph, read back with SPARQL, compared with the release's.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests

from alkld.store.remote import (
    STATE_FILE,
    Credentials,
    PublishState,
    StoreError,
    publish,
    read_release_graphs,
    store_key,
)

from .conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

XSD = "http://www.w3.org/2001/XMLSchema#"
PREFIX = "https://w3id.org/alkld/"
Graphs = dict[str, set[ox.Triple]]


# ---------------------------------------------------------------- the stores

class Server:
    """A store running as a child process; ``start`` polls until it answers a query."""

    name = ""
    #: What ``alkld publish --store`` is given (the server's base URL, dialect auto).
    url = ""
    #: The endpoint the publisher resolves ``url`` to, as error messages name it.
    endpoint = ""
    query_url = ""

    def __init__(self, data: Path) -> None:
        self.data = data
        data.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data / "server.log"
        self.env: dict[str, str] = {}

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, deadline: float = 90.0) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.command(), cwd=self.data, stdout=log,
                                         stderr=subprocess.STDOUT)
        end = time.monotonic() + deadline
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n"
                            + self.log.read_text(errors="replace")[-3000:])
            try:
                r = requests.get(self.query_url, params={"query": "ASK {}"}, timeout=2)
                if r.ok:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > end:
                self.stop()
                pytest.fail(f"{self.name} did not answer within {deadline:g} s")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no checkpoint (a crash, or a pulled plug)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def put_graph(self, graph: str, triples: list[ox.Triple]) -> None:
        """Write ``graph`` straight into the store, by its GSP endpoint."""
        raise NotImplementedError

    def graphs(self) -> Graphs:
        """Every graph of the store whose IRI starts with the release's base, as read back."""
        query = ("SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } "
                 f'FILTER(STRSTARTS(STR(?g), "{PREFIX}")) }}')
        r = requests.post(self.query_url, data={"query": query}, timeout=60,
                          headers={"Accept": "application/sparql-results+json"})
        r.raise_for_status()
        out: Graphs = {}
        for row in r.json()["results"]["bindings"]:
            triple = ox.Triple(_term(row["s"]), _term(row["p"]), _term(row["o"]))  # type: ignore[arg-type]
            out.setdefault(row["g"]["value"], set()).add(triple)
        return out

    def expected(self, release: Mapping[str, list[ox.Triple]]) -> Graphs:
        """The release's graphs as this store is documented to return them."""
        return {g: set(ts) for g, ts in release.items()}


class OxigraphServer(Server):
    name = "oxigraph"

    def __init__(self, data: Path) -> None:
        super().__init__(data)
        self.url = self.base
        self.endpoint = self.base + "/store"
        self.query_url = self.base + "/query"
        # Oxigraph asks for no credentials: they must then never be sent, nor shown.
        self.env = {"ALKLD_STORE_USER": "reader", "ALKLD_STORE_PASSWORD": _secret()}

    def command(self) -> list[str]:
        beside = Path(sys.executable).with_name("oxigraph")
        binary = str(beside) if beside.exists() else shutil.which("oxigraph")
        if binary is None:
            pytest.fail("the Oxigraph server is not installed: `pip install oxigraph` "
                        "(PyPI package `oxigraph`, in the test extra)")
        return [binary, "serve", "--location", str(self.data / "db"),
                "--bind", f"127.0.0.1:{self.port}"]

    def put_graph(self, graph: str, triples: list[ox.Triple]) -> None:
        body = "".join(f"{t} .\n" for t in triples).encode()
        requests.put(self.endpoint, params={"graph": graph}, data=body, timeout=30,
                     headers={"Content-Type": "application/n-triples"}).raise_for_status()


_VIRTUOSO_INI = """\
[Database]
DatabaseFile = virtuoso.db
ErrorLogFile = virtuoso.log
LockFile = virtuoso.lck
TransactionFile = virtuoso.trx
xa_persistent_file = virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = virtuoso-temp.db
TransactionFile = virtuoso-temp.trx
Striping = 0

[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
CheckpointInterval = 60
DirsAllowed = .
CaseMode = 2

[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {root}
ServerThreads = 4
Charset = UTF-8

[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 60
"""

_MISSING_VIRTUOSO = (
    "virtuoso-t (Virtuoso 7) is not installed, so the Virtuoso half of the remote-store "
    "tests cannot run; install it with `apt-get install -y virtuoso-opensource` "
    "(.ci/run does)")


class VirtuosoServer(Server):
    """Virtuoso 7 with a generated virtuoso.ini; dba's password is set to a fresh secret."""

    name = "virtuoso"

    def __init__(self, data: Path) -> None:
        super().__init__(data)
        self.sql_port = free_port()
        self.url = self.base
        self.endpoint = self.base + "/sparql-graph-crud-auth"
        self.query_url = self.base + "/sparql"
        self.password = "dba"  # a new database's; replaced by start()
        (data / "vsp").mkdir(exist_ok=True)
        (data / "virtuoso.ini").write_text(_VIRTUOSO_INI.format(
            sql_port=self.sql_port, http_port=self.port, root=data / "vsp"))

    def command(self) -> list[str]:
        binary = shutil.which("virtuoso-t")
        if binary is None:
            pytest.fail(_MISSING_VIRTUOSO)
        return [binary, "+foreground", "+configfile", "virtuoso.ini"]

    def start(self, deadline: float = 90.0) -> None:
        super().start(deadline)
        if self.password == "dba":
            secret = _secret()
            self.sql(f"user_set_password('dba', '{secret}')")
            self.password = secret
        self.env = {"ALKLD_STORE_USER": "dba", "ALKLD_STORE_PASSWORD": self.password}

    def sql(self, statement: str) -> None:
        isql = shutil.which("isql-vt") or shutil.which("isql")
        if isql is None:
            pytest.fail(_MISSING_VIRTUOSO + " (isql-vt is missing)")
        subprocess.run([isql, f"127.0.0.1:{self.sql_port}", "dba", self.password,
                        f"exec={statement};"], check=True, capture_output=True, timeout=60)

    def put_graph(self, graph: str, triples: list[ox.Triple]) -> None:
        body = "".join(f"{t} .\n" for t in triples).encode()
        requests.put(self.endpoint, params={"graph-uri": graph}, data=body, timeout=30,
                     auth=requests.auth.HTTPDigestAuth("dba", self.password),
                     headers={"Content-Type": "text/turtle"}).raise_for_status()

    def expected(self, release: Mapping[str, list[ox.Triple]]) -> Graphs:
        """Virtuoso 7 returns two datatypes by their internal value, not their lexical form.

        * ``xsd:boolean`` as ``"1"`` / ``"0"`` — the same values, in another lexical form;
        * ``xsd:duration`` as a count of months (``"P1Y7M"`` → ``"19"``), a known defect
          (openlink/virtuoso-opensource#936) that ``alkld publish`` warns about.

        Everything else (strings, language tags, non-ASCII text, decimals, doubles, dates,
        gYearMonth, IRIs) must come back exactly.
        """
        return {g: {ox.Triple(t.subject, t.predicate, _as_virtuoso(t.object)) for t in ts}
                for g, ts in release.items()}


def _as_virtuoso(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple
                 ) -> ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple:
    if not isinstance(term, ox.Literal):
        return term
    datatype = term.datatype.value
    if datatype == XSD + "boolean":
        return ox.Literal({"true": "1", "false": "0"}[term.value], datatype=term.datatype)
    if datatype == XSD + "duration":
        match = re.fullmatch(r"P(?:(\d+)Y)?(?:(\d+)M)?", term.value)
        assert match, f"a duration Virtuoso's rewrite is not known for: {term.value}"
        months = int(match[1] or 0) * 12 + int(match[2] or 0)
        return ox.Literal(str(months), datatype=term.datatype)
    return term


def _term(binding: dict[str, str]) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    kind, value = binding["type"], binding["value"]
    if kind == "uri":
        return ox.NamedNode(value)
    if kind == "bnode":
        return ox.BlankNode(value)
    if "xml:lang" in binding:
        return ox.Literal(value, language=binding["xml:lang"])
    if "datatype" in binding:
        return ox.Literal(value, datatype=ox.NamedNode(binding["datatype"]))
    return ox.Literal(value)


def _secret() -> str:
    return "pw-" + secrets.token_hex(12)


SERVERS: dict[str, type[Server]] = {"oxigraph": OxigraphServer, "virtuoso": VirtuosoServer}


@pytest.fixture(scope="module")
def oxigraph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = OxigraphServer(tmp_path_factory.mktemp("oxigraph"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def virtuoso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = VirtuosoServer(tmp_path_factory.mktemp("virtuoso"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=sorted(SERVERS))
def store(request: pytest.FixtureRequest) -> Server:
    """Each store kind in turn, shared by the tests of this module (they leave it complete)."""
    server: Server = request.getfixturevalue(request.param)
    return server


# ---------------------------------------------------------------- the release

@pytest.fixture(scope="module")
def release_graphs(release: tuple[object, Path], tmp_path_factory: pytest.TempPathFactory
                   ) -> dict[str, list[ox.Triple]]:
    """The release's graphs as a store holds them: read from the embedded store alone, which
    keeps literals by value (the dump's decimal "1.60" is "1.6" there, as in any store)."""
    only_store = tmp_path_factory.mktemp("store-only")
    shutil.copytree(release[1] / "store", only_store / "store")
    return read_release_graphs(only_store)


@pytest.fixture()
def out(release: tuple[object, Path], tmp_path: Path) -> Path:
    """A private copy of the release's N-Quads dump (so each test has its own state file)."""
    target = tmp_path / "output"
    target.mkdir()
    shutil.copy2(release[1] / "alkld.nq", target / "alkld.nq")
    return target


def run_publish(out: Path, server: Server, *args: str, env: Mapping[str, str] | None = None
                ) -> subprocess.CompletedProcess[str]:
    """``alkld -vv publish --out OUT --store URL ARGS`` in a child process."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ALKLD_STORE_")}
    environ.update(server.env if env is None else env)
    cmd = [sys.executable, "-m", "alkld", "-vv", "publish", "--out", str(out),
           "--store", server.url, *args]
    return subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=120,
                          check=False)


def assert_ok(result: subprocess.CompletedProcess[str], server: Server) -> str:
    assert result.returncode == 0, result.stderr[-3000:]
    assert_no_secret(result.stderr + result.stdout, server)
    return result.stderr


def assert_no_secret(text: str, server: Server) -> None:
    password = server.env.get("ALKLD_STORE_PASSWORD", "")
    assert password.startswith("pw-")
    assert password not in text


def assert_store_holds(server: Server, release: Mapping[str, list[ox.Triple]]) -> Graphs:
    """Every graph of the release is in the store with exactly its triples, and no other."""
    got, expected = server.graphs(), server.expected(release)
    assert sorted(got) == sorted(expected)
    for graph, triples in expected.items():
        missing, extra = triples - got[graph], got[graph] - triples
        assert not missing and not extra, (
            f"{server.name} <{graph}>: {len(missing)} missing, e.g. "
            f"{sorted(map(str, missing))[:3]}; {len(extra)} extra, e.g. "
            f"{sorted(map(str, extra))[:3]}")
    return got


# ---------------------------------------------------------------- tests

def test_publish_writes_every_graph_exactly_and_twice_changes_nothing(
        store: Server, out: Path, release_graphs: dict[str, list[ox.Triple]]) -> None:
    log = assert_ok(run_publish(out, store, "--batch", "3"), store)
    assert f"published {len(release_graphs)} graph(s)" in log
    assert f"to {store.endpoint} [{store.name}]" in log
    first = assert_store_holds(store, release_graphs)
    assert (out / STATE_FILE).is_file()
    for path in out.glob(STATE_FILE.name + "*"):  # the database and its write-ahead log
        assert_no_secret(path.read_bytes().decode("utf-8", "replace"), store)

    # Again: nothing to do, nothing changes.
    log = assert_ok(run_publish(out, store), store)
    assert f"published 0 graph(s) (0 triples) to {store.endpoint}" in log
    assert f"{len(release_graphs)} unchanged" in log
    assert store.graphs() == first

    # Again, ignoring the state: every graph is replaced, and still nothing changes.
    log = assert_ok(run_publish(out, store, "--force", "--batch", "1"), store)
    assert f"published {len(release_graphs)} graph(s)" in log
    assert store.graphs() == first


def test_oxigraph_sparql_update_gives_the_same_store(
        oxigraph: Server, out: Path, release_graphs: dict[str, list[ox.Triple]]) -> None:
    log = assert_ok(run_publish(out, oxigraph, "--dialect", "oxigraph-update", "--force",
                                "--batch", "4"), oxigraph)
    assert f"to {oxigraph.base}/update [oxigraph-update]" in log
    assert_store_holds(oxigraph, release_graphs)
    # The GSP endpoint of the same store shares the state: nothing left to do. (A bearer
    # token, which Oxigraph ignores, is accepted and never shown.)
    token = _secret()
    result = run_publish(out, oxigraph, "--dialect", "oxigraph",
                         env={"ALKLD_STORE_TOKEN": token})
    assert result.returncode == 0, result.stderr
    assert f"{len(release_graphs)} unchanged" in result.stderr
    assert token not in result.stderr


def test_prune_drops_a_graph_the_release_no_longer_has(
        store: Server, out: Path, release_graphs: dict[str, list[ox.Triple]]) -> None:
    retired = PREFIX + "graph/case-retired-case1"
    triple = ox.Triple(ox.NamedNode(PREFIX + "node/retired-case1-patient"),
                       ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"),
                       ox.Literal("retired patient"))
    dump = out / "alkld.nq"
    current = dump.read_bytes()
    quad = ox.Quad(triple.subject, triple.predicate, triple.object, ox.NamedNode(retired))
    dump.write_bytes(current + f"{quad} .\n".encode())
    assert_ok(run_publish(out, store), store)
    assert store.graphs()[retired] == {triple}

    dump.write_bytes(current)  # the next release has no such case
    log = assert_ok(run_publish(out, store), store)
    assert "1 dropped" in log
    assert_store_holds(store, release_graphs)


@pytest.mark.parametrize("kind", sorted(SERVERS))
def test_store_killed_mid_publish_then_rerun_completes(
        kind: str, tmp_path: Path, release: tuple[object, Path],
        release_graphs: dict[str, list[ox.Triple]]) -> None:
    out = tmp_path / "output"
    out.mkdir()
    shutil.copytree(release[1] / "store", out / "store")  # read from the store this time
    server = SERVERS[kind](tmp_path / kind)
    server.start()
    try:
        order = list(release_graphs)
        first, broken = order[:2], order[2]
        # A half-written graph, as an earlier crash mid-PUT could leave: half its triples
        # and a stray one. The rerun must replace it whole.
        stray = ox.Triple(ox.NamedNode(PREFIX + "node/stray"),
                          ox.NamedNode(PREFIX + "ontology#stray"), ox.Literal("stray"))
        triples = release_graphs[broken]
        server.put_graph(broken, [*triples[: len(triples) // 2], stray])

        written: list[str] = []

        def kill_after_two(graphs: list[str]) -> None:
            written.extend(graphs)
            if len(written) == 2:
                server.kill()

        user, password = server.env["ALKLD_STORE_USER"], server.env["ALKLD_STORE_PASSWORD"]
        started = time.monotonic()
        with pytest.raises(StoreError) as caught:
            publish(out, server.url, batch=1, credentials=Credentials(user, password),
                    retries=2, backoff=0.05, progress=kill_after_two)
        assert time.monotonic() - started < 30
        error = caught.value
        assert written == first
        assert (error.store, error.graph, error.status) == (server.endpoint, broken, None)
        assert error.exit_code == 2
        assert str(error).startswith(f"store {server.endpoint}: graph <{broken}>: cannot "
                                     "connect (")
        assert "gave up after 3 attempt(s)" in str(error)
        assert_no_secret(str(error), server)

        # The command line says the same, with exit code 2, while the store is down.
        result = run_publish(out, server, "--batch", "1", "--retries", "0")
        assert result.returncode == 2, result.stderr
        assert f"error: store {server.url}: cannot connect (" in result.stderr  # dialect?
        result = run_publish(out, server, "--batch", "1", "--retries", "0",
                             "--dialect", server.name)
        assert result.returncode == 2, result.stderr
        assert f"error: store {server.endpoint}: graph <{broken}>: cannot connect" in \
            result.stderr
        assert "\npublished " not in result.stderr  # it failed: no summary line
        assert_no_secret(result.stderr, server)

        # The store comes back on the same data directory and port: the rerun skips the
        # graphs it already holds and redoes the rest, the half-written one included.
        server.start()
        log = assert_ok(run_publish(out, server, "--batch", "1"), server)
        assert f"published {len(order) - 2} graph(s)" in log
        assert "2 unchanged" in log
        assert_store_holds(server, release_graphs)
    finally:
        server.stop()


@pytest.mark.parametrize("kind", sorted(SERVERS))
def test_parallel_requests_give_the_same_store_and_a_kill_loses_nothing_recorded(
        kind: str, tmp_path: Path, release: tuple[object, Path],
        release_graphs: dict[str, list[ox.Triple]], monkeypatch: pytest.MonkeyPatch) -> None:
    """``parallel`` requests in flight at once (a barrier holds the first three until all
    three are being written: one at a time, it would break). The store is killed while
    requests are in flight: each graph the state records as published is in the store
    whole, and the rerun writes exactly the others."""
    import threading

    from alkld.store import remote

    out = tmp_path / "output"
    out.mkdir()
    shutil.copy2(release[1] / "alkld.nq", out / "alkld.nq")
    server = SERVERS[kind](tmp_path / kind)
    server.start()
    write, together = remote._write, threading.Barrier(3, timeout=30)
    threads: set[str] = set()

    def write_together(client: object, dialect: object, graphs: list[object]) -> None:
        threads.add(threading.current_thread().name)
        if len(threads) <= 3 and not together.broken:
            together.wait()
        write(client, dialect, graphs)  # type: ignore[arg-type]

    monkeypatch.setattr(remote, "_write", write_together)
    user, password = server.env["ALKLD_STORE_USER"], server.env["ALKLD_STORE_PASSWORD"]
    credentials = Credentials(user, password)
    try:
        report = publish(out, server.url, batch=1, parallel=3, credentials=credentials)
        assert len(threads) == 3 and not together.broken
        assert sorted(report.published) == sorted(release_graphs)
        assert_store_holds(server, release_graphs)

        written: list[str] = []

        def kill_midway(graphs: list[str]) -> None:
            written.extend(graphs)
            if len(written) == 3:
                server.kill()

        with pytest.raises(StoreError) as caught:
            publish(out, server.url, batch=1, parallel=3, credentials=credentials,
                    force=True, retries=0, progress=kill_midway)
        assert caught.value.store == server.endpoint
        assert "cannot connect (" in str(caught.value)
        state = PublishState(out / STATE_FILE)
        recorded = state.graphs(store_key(server.endpoint))
        state.close()
        assert 3 <= len(recorded) == len(written) < len(release_graphs)
        assert sorted(recorded) == sorted(written)

        server.start()
        got, expected = server.graphs(), server.expected(release_graphs)
        for graph in recorded:
            assert got[graph] == expected[graph]
        report = publish(out, server.url, batch=1, parallel=3, credentials=credentials)
        assert sorted(report.skipped) == sorted(recorded)
        assert sorted(report.published) == sorted(set(release_graphs) - set(recorded))
        assert_store_holds(server, release_graphs)
    finally:
        server.stop()


def test_a_publisher_stopped_while_the_store_hangs_exits_at_once_and_a_rerun_completes(
        tmp_path: Path, out: Path, release_graphs: dict[str, list[ox.Triple]]) -> None:
    """SIGTERM while requests are in flight to a store that takes them and never answers
    (SIGSTOP: the kernel still accepts its connections). The publisher does not wait for
    them (their timeout is 600 s here): it records what was acknowledged, says how to go
    on, and exits 143; once the store answers again, the same command completes."""
    server = OxigraphServer(tmp_path / "oxigraph")
    server.start()
    assert server.proc is not None
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ALKLD_STORE_")}
    log = tmp_path / "publish.log"
    try:
        server.proc.send_signal(signal.SIGSTOP)
        with log.open("w") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "alkld", "-vv", "publish", "--out", str(out),
                 "--store", server.url, "--dialect", "oxigraph", "--parallel", "2",
                 "--timeout", "600"], stdout=sink, stderr=subprocess.STDOUT, env=environ)
        deadline = time.monotonic() + 60
        while log.read_text().partition("recorded as published")[2].count(
                "Starting new HTTP connection") < 2:  # a session a request in flight
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        time.sleep(0.5)  # both requests sent, waiting for answers
        proc.send_signal(signal.SIGTERM)
        try:
            returncode = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail("the publisher waited for its requests in flight:\n" + log.read_text())
        output = log.read_text()
        assert returncode == 143, output
        assert "interrupted (SIGTERM): stopped" in output
        assert f"the graphs written so far are recorded in {out / STATE_FILE}" in output
        assert "Traceback" not in output

        server.proc.send_signal(signal.SIGCONT)
        rerun = assert_ok(run_publish(out, server, "--dialect", "oxigraph"), server)
        assert f"published {len(release_graphs)} graph(s)" in rerun
        assert_store_holds(server, release_graphs)
    finally:
        server.proc.send_signal(signal.SIGCONT)
        server.stop()


@pytest.mark.parametrize("dialect", ["oxigraph", "oxigraph-update", "virtuoso"])
def test_a_large_graph_goes_in_pieces_and_still_replaces_the_graph(
        request: pytest.FixtureRequest, dialect: str, out: Path,
        release_graphs: dict[str, list[ox.Triple]], monkeypatch: pytest.MonkeyPatch) -> None:
    """A graph over TRIPLES_PER_REQUEST triples (at 100k cases, the claims graph) is sent in
    several requests: the first replaces the graph, the next ones add to it."""
    from alkld.store import remote

    server: Server = request.getfixturevalue(dialect.split("-")[0])
    monkeypatch.setattr(remote, "TRIPLES_PER_REQUEST", 500)
    largest = max(release_graphs, key=lambda g: len(release_graphs[g]))
    assert len(release_graphs[largest]) > 1000  # so at least three pieces
    stray = ox.Triple(ox.NamedNode(PREFIX + "node/stray"),
                      ox.NamedNode(PREFIX + "ontology#stray"), ox.Literal("stray"))
    server.put_graph(largest, [stray])
    user, password = server.env["ALKLD_STORE_USER"], server.env["ALKLD_STORE_PASSWORD"]
    report = publish(out, server.url, dialect=dialect, batch=4, force=True,
                     credentials=Credentials(user, password))
    pieces = sum(-(-len(ts) // 500) for ts in release_graphs.values())
    graphs = len(release_graphs)
    if dialect.endswith("-update"):  # whole graphs four a request, a large one apart
        assert report.requests > -(-graphs // 4) + pieces - graphs
    else:  # one request a piece (and one 401 challenge, for Virtuoso's digest)
        assert pieces <= report.requests <= pieces + 1
        assert pieces > graphs
    assert_store_holds(server, release_graphs)


def test_virtuoso_update_endpoint_fails_clearly_and_gsp_repairs(
        virtuoso: Server, out: Path, release_graphs: dict[str, list[ox.Triple]]) -> None:
    """Virtuoso 7 cannot INSERT DATA an xsd:duration (openlink/virtuoso-opensource#224).

    Its update request is not atomic either: the DROP before the failed INSERT stays. The
    publisher must say which store and graph failed, and a rerun must repair the graph.
    """
    assert_ok(run_publish(out, virtuoso), virtuoso)
    first = next(g for g, ts in release_graphs.items() if any(
        isinstance(t.object, ox.Literal) and t.object.datatype.value == XSD + "duration"
        for t in ts))
    result = run_publish(out, virtuoso, "--dialect", "virtuoso-update", "--force",
                         "--batch", "1")
    assert result.returncode == 2, result.stderr
    error = result.stderr
    assert f"error: store {virtuoso.base}/sparql-auth: graph <{first}>: HTTP 500" in error
    assert "xsd:duration" in error and "virtuoso-opensource#224" in error
    assert "use --dialect virtuoso (GSP)" in error
    assert_no_secret(error, virtuoso)
    # Whatever Virtuoso left of that graph, it is no longer recorded as published.
    state = PublishState(out / STATE_FILE)
    assert first not in state.graphs(virtuoso.base)
    state.close()

    log = assert_ok(run_publish(out, virtuoso), virtuoso)
    assert "virtuoso-opensource#936" in log  # the duration warning
    assert_store_holds(virtuoso, release_graphs)


def test_virtuoso_wrong_password_is_a_clear_error(virtuoso: Server, out: Path) -> None:
    wrong = {"ALKLD_STORE_USER": "dba", "ALKLD_STORE_PASSWORD": _secret()}
    result = run_publish(out, virtuoso, "--retries", "0", env=wrong)
    assert result.returncode == 2
    assert f"error: store {virtuoso.endpoint}: graph <" in result.stderr
    assert "HTTP 401" in result.stderr and "ALKLD_STORE_USER" in result.stderr
    assert wrong["ALKLD_STORE_PASSWORD"] not in result.stderr
    assert virtuoso.env["ALKLD_STORE_PASSWORD"] not in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--store", "http://dba:pw-hunter2@127.0.0.1:1/store"],
     "--store: user name or password in the store URL (http://…@127.0.0.1)"),
    (["--store", "ftp://127.0.0.1/store"], "--store: not an HTTP(S) URL"),
    (["--store", "http://127.0.0.1:1/store", "--out", "/nonexistent"], "no release here"),
    (["--store", "http://127.0.0.1:1/store", "--parallel", "0"],
     "Invalid value for '--parallel': 0 is not in the range x>=1"),
])
def test_bad_configuration_exits_2(args: list[str], message: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from alkld.cli import main

    assert main(["publish", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "hunter2" not in err
