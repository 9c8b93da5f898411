"""Online resolvers: PubChem, NCBI Gene, EBI OLS and NLM MeSH, each optional.

Each resolver turns a term into :class:`~alkld.mapping.lexical.Candidate` s through one web
service, over an :class:`HttpClient` that

* times out (``timeout`` seconds a request),
* retries a timeout, a connection error, HTTP 429 and HTTP 5xx with exponential backoff
  (``backoff × 2^attempt`` seconds), waiting instead what a ``Retry-After`` header asks (capped
  at ``max_wait``),
* keeps to the service's rate (:data:`SERVICES`: PubChem 5 requests/s, NCBI 3/s without an API
  key, ...),
* caches answers (HTTP 200 and 404) on disk, one JSON file per request, and
* raises :class:`ServiceError` (an :class:`~alkld.errors.AlkldError`) naming the service and
  the URL when the service stays down or answers malformed JSON.

Every base URL can be overridden (tests point them at a local server). The services and the
formats read:

* PubChem PUG-REST, ``GET {base}/compound/name/{name}/property/Title/JSON`` →
  ``{"PropertyTable": {"Properties": [{"CID": 49806720, "Title": "Alectinib"}]}}``; 404 with a
  ``Fault`` when the name is unknown (https://pubchem.ncbi.nlm.nih.gov/docs/pug-rest).
* NCBI E-utilities, ``esearch.fcgi?db=gene&term=ALK[sym] AND 9606[taxid]&retmode=json`` →
  ``{"esearchresult": {"idlist": ["238"]}}``, then ``esummary.fcgi?db=gene&id=238`` →
  ``{"result": {"uids": ["238"], "238": {"name": "ALK", "description": ...}}}``
  (https://www.ncbi.nlm.nih.gov/books/NBK25499/).
* EBI OLS4, ``GET {base}/api/search?q=...&ontology=mondo,hp`` →
  ``{"response": {"docs": [{"obo_id": "MONDO:0017602", "label": ..., "synonym": [...]}]}}``
  (https://www.ebi.ac.uk/ols4/help).
* NLM MeSH lookup, ``GET {base}/lookup/descriptor?label=...&match=exact`` →
  ``[{"resource": "http://id.nlm.nih.gov/mesh/D000077547", "label": "Crizotinib"}]``
  (https://id.nlm.nih.gov/mesh/swagger/ui).
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from alkld.errors import AlkldError
from alkld.mapping.lexical import Candidate, MatchType, case_conflict, rank_candidates
from alkld.mapping.normalize import normalize
from alkld.vocab import CONVERTER

__all__ = [
    "SERVICES",
    "HttpClient",
    "MeshResolver",
    "NcbiGeneResolver",
    "OlsResolver",
    "PubChemResolver",
    "RateLimiter",
    "Resolver",
    "Service",
    "ServiceError",
    "make_resolvers",
    "resolve_online",
]

log = logging.getLogger(__name__)

#: Score factor of an online answer: below a curated row or an offline ontology match.
ONLINE_WEIGHT = 0.9


class ServiceError(AlkldError):
    """A web service is unreachable, keeps failing, or answered something unreadable.

    ``service`` names it, ``url`` is the request, ``status`` the last HTTP status (if any).
    """

    def __init__(self, message: str, *, service: str, url: str, status: int | None = None,
                 **kw: Any) -> None:
        super().__init__(f"{service}: {message}", path=url, **kw)
        self.service = service
        self.url = url
        self.status = status


@dataclass(frozen=True)
class Service:
    """A web service: its name, default base URL and the request rate it allows."""

    name: str
    base_url: str
    rate: float  #: requests per second at most
    docs: str


#: The services, keyed by the name used on the command line (``--service-url pubchem=URL``).
SERVICES: dict[str, Service] = {
    "pubchem": Service("PubChem", "https://pubchem.ncbi.nlm.nih.gov/rest/pug", 5.0,
                       "https://pubchem.ncbi.nlm.nih.gov/docs/pug-rest"),
    "ncbi": Service("NCBI E-utilities", "https://eutils.ncbi.nlm.nih.gov/entrez/eutils", 3.0,
                    "https://www.ncbi.nlm.nih.gov/books/NBK25499/"),
    "ols": Service("EBI OLS4", "https://www.ebi.ac.uk/ols4", 10.0,
                   "https://www.ebi.ac.uk/ols4/help"),
    "mesh": Service("NLM MeSH", "https://id.nlm.nih.gov/mesh", 5.0,
                    "https://id.nlm.nih.gov/mesh/swagger/ui"),
}

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RateLimiter:
    """At most ``rate`` calls of :meth:`wait` a second (thread-safe; calls are spaced evenly)."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            self._sleep(delay)


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


class HttpClient:
    """GET JSON from one service with timeouts, retries, a rate limit and a disk cache."""

    def __init__(self, service: Service, *, base_url: str | None = None, timeout: float = 10.0,
                 retries: int = 3, backoff: float = 0.5, max_wait: float = 60.0,
                 cache_dir: Path | None = None, max_age: float = 30 * 86400,
                 rate: float | None = None, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.service = service
        self.base_url = (base_url or service.base_url).rstrip("/")
        self.timeout, self.retries, self.backoff, self.max_wait = timeout, retries, backoff, \
            max_wait
        self.cache_dir = cache_dir
        self.max_age = max_age
        self.limiter = RateLimiter(rate if rate is not None else service.rate, sleep=sleep)
        self.session = session or requests.Session()
        self.session.headers.setdefault("User-Agent", "alkld (https://w3id.org/alkld)")
        self._sleep = sleep
        self.requests_sent = 0

    def _cache_path(self, url: str) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(url.encode()).hexdigest()
        return self.cache_dir / self.service.name.split()[0].lower() / f"{digest}.json"

    def get_json(self, path: str, params: Mapping[str, str] | None = None) -> tuple[int, Any]:
        """``(status, decoded JSON)`` of ``GET base_url/path?params``; status is 200 or 404.

        Raises :class:`ServiceError` when the service keeps failing, times out on every
        attempt, answers another status, or answers malformed JSON.
        """
        request = requests.Request("GET", f"{self.base_url}/{path.lstrip('/')}",
                                   params=dict(params or {})).prepare()
        url = str(request.url)
        cached = self._cache_path(url)
        if cached is not None and cached.is_file() and \
                time.time() - cached.stat().st_mtime < self.max_age:
            record = json.loads(cached.read_text(encoding="utf-8"))
            return int(record["status"]), record["body"]
        status, body = self._fetch(url)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(json.dumps({"url": url, "status": status, "body": body}),
                           encoding="utf-8")
            tmp.replace(cached)
        return status, body

    def _fetch(self, url: str) -> tuple[int, Any]:
        name = self.service.name
        last = ""
        last_status: int | None = None
        for attempt in range(self.retries + 1):
            self.limiter.wait()
            wait = self.backoff * 2 ** attempt
            try:
                self.requests_sent += 1
                response = self.session.get(url, timeout=self.timeout)
            except requests.Timeout:
                last, last_status = f"no answer within {self.timeout:g} s", None
            except requests.ConnectionError as e:
                last, last_status = f"cannot connect ({type(e).__name__})", None
            else:
                last_status = response.status_code
                if response.status_code in (200, 404):
                    try:
                        return response.status_code, response.json()
                    except ValueError:
                        if response.status_code == 404:
                            return 404, None
                        raise ServiceError(
                            "malformed JSON in the answer", service=name, url=url,
                            status=response.status_code,
                            expected=f"JSON as documented at {self.service.docs}") from None
                if response.status_code not in RETRY_STATUSES:
                    raise ServiceError(
                        f"HTTP {response.status_code}: {response.text[:200]!r}", service=name,
                        url=url, status=response.status_code,
                        expected=f"a request as documented at {self.service.docs}")
                last = f"HTTP {response.status_code}"
                asked = _retry_after(response.headers.get("Retry-After"), time.time())
                if asked is not None:
                    wait = asked
            if attempt < self.retries:
                wait = min(wait, self.max_wait)
                log.info("%s: %s; retrying in %.2f s", name, last, wait)
                self._sleep(wait)
        raise ServiceError(f"unavailable: {last} after {self.retries + 1} attempts",
                           service=name, url=url, status=last_status,
                           expected="the service up; retry later or use --offline")


def _score(term: str, label: str, synonyms: Sequence[str] = ()) -> tuple[MatchType, float]:
    """Match type and base score of a service's answer, compared with the term."""
    import difflib

    folded = " ".join(term.casefold().split())
    if folded == " ".join(label.casefold().split()):
        return MatchType.EXACT, 1.0
    if any(folded == " ".join(s.casefold().split()) for s in synonyms):
        return MatchType.SYNONYM, 0.95
    norm = normalize(term)
    if norm == normalize(label) or any(norm == normalize(s) for s in synonyms):
        return MatchType.NORMALISED, 0.9
    ratio = max([difflib.SequenceMatcher(None, norm, normalize(x)).ratio()
                 for x in (label, *synonyms)])
    return MatchType.FUZZY, round(0.8 * ratio, 4)


def _candidate(curie: str, label: str, source: str, term: str,
               synonyms: Sequence[str] = (), *, assume: MatchType | None = None) -> Candidate:
    match_type, base = _score(term, label, synonyms)
    if assume is not None and match_type is MatchType.FUZZY:
        match_type, base = assume, 0.95  # the service says the name is a synonym
    return Candidate(curie, label, source, match_type, round(base * ONLINE_WEIGHT, 4),
                     label, term)


class Resolver:
    """A term → candidates lookup through one service."""

    key = ""
    prefixes: tuple[str, ...] = ()

    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def resolve(self, term: str) -> list[Candidate]:
        raise NotImplementedError


class PubChemResolver(Resolver):
    """Compound name → PubChem CIDs (PUG-REST); every CID PubChem gives for the name."""

    key = "pubchem"
    prefixes = ("pubchem.compound",)

    def resolve(self, term: str) -> list[Candidate]:
        status, body = self.client.get_json(
            f"compound/name/{quote(term, safe='')}/property/Title/JSON")
        if status == 404:
            return []
        try:
            props = body["PropertyTable"]["Properties"]
            pairs = [(int(p["CID"]), str(p.get("Title", ""))) for p in props]
        except (KeyError, TypeError, ValueError):
            raise ServiceError("unexpected JSON: no PropertyTable.Properties[].CID",
                               service=self.client.service.name, url=self.client.base_url,
                               expected="PUG-REST property JSON") from None
        return [_candidate(f"pubchem.compound:{cid}", title or term, "PubChem", term,
                           assume=MatchType.SYNONYM) for cid, title in pairs]


class NcbiGeneResolver(Resolver):
    """Human gene symbol → NCBI Gene IDs (E-utilities esearch, then esummary for labels)."""

    key = "ncbi"
    prefixes = ("NCBIGene",)

    def __init__(self, client: HttpClient, *, taxon: str = "9606", tool: str = "alkld",
                 email: str | None = None, api_key: str | None = None) -> None:
        super().__init__(client)
        self.taxon = taxon
        self.extra = {"tool": tool, **({"email": email} if email else {}),
                      **({"api_key": api_key} if api_key else {})}

    def resolve(self, term: str) -> list[Candidate]:
        _, found = self.client.get_json("esearch.fcgi", {
            "db": "gene", "term": f"{term}[sym] AND {self.taxon}[taxid]", "retmode": "json",
            **self.extra})
        try:
            ids = [str(i) for i in found["esearchresult"]["idlist"]]
        except (KeyError, TypeError):
            raise ServiceError("unexpected JSON: no esearchresult.idlist",
                               service=self.client.service.name, url=self.client.base_url,
                               expected="esearch JSON") from None
        if not ids:
            return []
        _, summary = self.client.get_json("esummary.fcgi", {
            "db": "gene", "id": ",".join(ids), "retmode": "json", **self.extra})
        try:
            result = summary["result"]
            docs = [(uid, result[uid]) for uid in result["uids"]]
        except (KeyError, TypeError):
            raise ServiceError("unexpected JSON: no result.uids", service=self.client.service.name,
                               url=self.client.base_url, expected="esummary JSON") from None
        out = []
        for uid, doc in docs:
            symbol = str(doc.get("name", ""))
            aliases = [a.strip() for a in str(doc.get("otheraliases", "")).split(",") if a.strip()]
            if case_conflict(term, symbol):
                continue
            out.append(_candidate(f"NCBIGene:{uid}", symbol, "NCBI Gene", term, aliases,
                                  assume=MatchType.SYNONYM))
        return out


class OlsResolver(Resolver):
    """Label or synonym → OBO classes (EBI OLS4 search) of the given ontologies."""

    key = "ols"
    prefixes = ("MONDO", "HP", "UBERON", "NCIT")

    def __init__(self, client: HttpClient, *,
                 ontologies: Sequence[str] = ("mondo", "hp", "uberon", "ncit"),
                 rows: int = 10) -> None:
        super().__init__(client)
        self.ontologies = tuple(ontologies)
        self.rows = rows

    def resolve(self, term: str) -> list[Candidate]:
        _, body = self.client.get_json("api/search", {
            "q": term, "ontology": ",".join(self.ontologies), "rows": str(self.rows),
            "queryFields": "label,synonym", "fieldList": "obo_id,label,synonym,ontology_name",
            "type": "class"})
        try:
            docs = body["response"]["docs"]
        except (KeyError, TypeError):
            raise ServiceError("unexpected JSON: no response.docs",
                               service=self.client.service.name, url=self.client.base_url,
                               expected="OLS4 search JSON") from None
        out = []
        for doc in docs:
            curie = str(doc.get("obo_id") or "")
            if ":" not in curie or curie.split(":")[0] not in CONVERTER.prefix_map:
                continue
            synonyms = doc.get("synonym") or []
            out.append(_candidate(curie, str(doc.get("label", "")), "OLS", term,
                                  [str(s) for s in synonyms]))
        return out


class MeshResolver(Resolver):
    """Label → MeSH descriptors (NLM MeSH lookup; ``exact`` first, then ``contains``)."""

    key = "mesh"
    prefixes = ("MESH",)

    def resolve(self, term: str) -> list[Candidate]:
        for match in ("exact", "contains"):
            _, body = self.client.get_json("lookup/descriptor",
                                           {"label": term, "match": match, "limit": "10"})
            if not isinstance(body, list):
                raise ServiceError("unexpected JSON: not a list", service=self.client.service.name,
                                   url=self.client.base_url, expected="MeSH lookup JSON")
            out = []
            for hit in body:
                resource, label = str(hit.get("resource", "")), str(hit.get("label", ""))
                if resource:
                    out.append(_candidate("MESH:" + resource.rsplit("/", 1)[-1], label, "MeSH",
                                          term))
            if out:
                return out
        return []


_RESOLVERS: dict[str, type[Resolver]] = {
    "pubchem": PubChemResolver, "ncbi": NcbiGeneResolver, "ols": OlsResolver,
    "mesh": MeshResolver}


def make_resolvers(names: Sequence[str] = tuple(SERVICES), *,
                   base_urls: Mapping[str, str] | None = None, cache_dir: Path | None = None,
                   **client_options: Any) -> list[Resolver]:
    """Resolvers for the services ``names`` (keys of :data:`SERVICES`), sharing options.

    ``base_urls`` overrides a service's base URL; ``cache_dir`` holds the HTTP cache
    (one sub-directory per service); ``client_options`` go to every :class:`HttpClient`.
    """
    base_urls = dict(base_urls or {})
    unknown = sorted((set(names) | set(base_urls)) - set(SERVICES))
    if unknown:
        from alkld.errors import ConfigurationError

        raise ConfigurationError(f"unknown service {', '.join(unknown)}", field="service",
                                 expected="one of " + ", ".join(sorted(SERVICES)))
    return [_RESOLVERS[n](HttpClient(SERVICES[n], base_url=base_urls.get(n),
                                     cache_dir=cache_dir, **client_options)) for n in names]


def resolve_online(term: str, resolvers: Sequence[Resolver], *,
                   prefixes: Sequence[str] | None = None) -> list[Candidate]:
    """Candidates for ``term`` from every resolver serving one of ``prefixes`` (all if None)."""
    out: list[Candidate] = []
    for resolver in resolvers:
        if prefixes and not set(resolver.prefixes) & set(prefixes):
            continue
        out.extend(c for c in resolver.resolve(term) if not prefixes or c.prefix in prefixes)
    return list(rank_candidates(out))
