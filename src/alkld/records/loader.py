"""Load case records from YAML into typed models, with located errors.

Stage 1 of the pipeline (records → mapping → RDF → validation → store → publish).

Every error is a :class:`~alkld.errors.CaseRecordError` naming the file, the line and the
field (``cases[0].ihc[3].result``) and saying what was expected. Beyond the models' own
checks, the loader refuses duplicate YAML keys (PyYAML would silently keep the last one),
references to an ``id`` the case does not define, duplicate ``id`` values in a case, and the
same case key in two files.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from alkld.errors import CaseRecordError
from alkld.records.model import Case, CaseRecord, Node, RefSlot

__all__ = ["LoadedRecord", "RecordKeys", "iter_record_paths", "load_record", "load_records",
           "parse_record"]

log = logging.getLogger(__name__)

Loc = tuple[str | int, ...]

#: libyaml's parser when PyYAML was built with it (one parse gives nodes with positions and
#: the data), else the pure-Python one.
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """The safe loader, with the implicit tag of each plain scalar resolved once.

    PyYAML resolves every scalar in Python, even under the C parser (~0.9 ms a synthetic
    case); a record repeats the same values (labels, units, statuses) many times.
    """

    _resolved: dict[tuple[str, tuple[bool, bool]], str] = {}

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and type(value) is str:
            key = (value, tuple(implicit))
            tag = self._resolved.get(key)
            if tag is None:
                tag = str(super().resolve(kind, value, implicit))
                if len(self._resolved) > 100_000:
                    self._resolved.clear()
                self._resolved[key] = tag
            return tag
        return str(super().resolve(kind, value, implicit))


@dataclass(frozen=True)
class LoadedRecord:
    """A validated record with where it came from: path, SHA-256 and the line of each field."""

    record: CaseRecord
    path: Path
    sha256: str
    lines: dict[Loc, int] = field(repr=False, compare=False)

    def line_of(self, loc: Loc) -> int | None:
        """The line of ``loc`` in the file, or of its nearest enclosing field."""
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), None)

    def keys(self) -> RecordKeys:
        """The record's document key and case keys with their lines (what stays unique)."""
        rec = self.record
        return RecordKeys(self.path, rec.key, tuple(c.key for c in rec.cases),
                          self.line_of(("key",)),
                          tuple(self.line_of(("cases", i, "key")) for i in range(len(rec.cases))))


@dataclass(frozen=True)
class RecordKeys:
    """A record's keys, small enough to keep for every record of a large corpus."""

    path: Path
    key: str
    case_keys: tuple[str, ...]
    key_line: int | None = None
    case_lines: tuple[int | None, ...] = ()


def format_loc(loc: Iterable[str | int]) -> str:
    """Render a location tuple as a dotted field path.

    >>> format_loc(("cases", 0, "ihc", 3, "result"))
    'cases[0].ihc[3].result'
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _key_line(key_node: yaml.Node, key: str, loc: Loc, seen: dict[str, int],
              lines: dict[Loc, int], path: Path) -> None:
    """Record the line of a mapping key; refuse a key the mapping already had."""
    line = key_node.start_mark.line + 1
    if key in seen:
        raise CaseRecordError(
            f"duplicate key {key!r} (first on line {seen[key]})",
            path=path, line=line, field=format_loc((*loc, key)),
            expected="each key once per mapping")
    seen[key] = line
    lines[(*loc, key)] = line


def _index_lines(node: yaml.Node, loc: Loc, out: dict[Loc, int], path: Path) -> None:
    """Record the 1-based line of every node; refuse duplicate mapping keys."""
    out[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            _key_line(key_node, key, loc, seen, out, path)
            _index_lines(value_node, (*loc, key), out, path)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*loc, i), out, path)


_STR, _MAP, _SEQ = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:map",
                    "tag:yaml.org,2002:seq")


def _construct(loader: Any, node: yaml.Node, loc: Loc, lines: dict[Loc, int],
               path: Path) -> Any:
    """The data of ``node``, as the safe loader constructs it, and the line of every node.

    One pass for what :func:`_index_lines` and the loader's ``construct_document`` do: plain
    mappings, sequences and strings (nearly all of a record) are built here; any other node
    (numbers, booleans, dates, merge keys, explicit tags) goes to the loader's constructor,
    which gives what it always gives. Duplicate mapping keys are refused, as by
    :func:`_index_lines`.
    """
    lines[loc] = node.start_mark.line + 1
    kind = type(node)
    if kind is yaml.ScalarNode:
        return node.value if node.tag == _STR else loader.construct_object(node, deep=True)
    if kind is yaml.SequenceNode and node.tag == _SEQ:
        return [_construct(loader, item, (*loc, i), lines, path)
                for i, item in enumerate(node.value)]
    if kind is yaml.MappingNode and node.tag == _MAP and all(
            type(k) is yaml.ScalarNode and k.tag == _STR for k, _ in node.value):
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            _key_line(key_node, key, loc, seen, lines, path)
            out[key] = _construct(loader, value_node, (*loc, key), lines, path)
        return out
    data = loader.construct_object(node, deep=True)  # (it may flatten merge keys in place)
    _index_lines(node, loc, lines, path)
    return data


def parse_record(text: str, *, path: Path) -> LoadedRecord:
    """Parse and validate one record given as text; ``path`` is used in errors and provenance.

    Raises :class:`CaseRecordError` on the first problem found.
    """
    loader = _Loader(text)
    lines: dict[Loc, int] = {}
    try:
        root = loader.get_single_node()
        data = _construct(loader, root, (), lines, path) if root is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        context = (f" ({e.context} started on line {e.context_mark.line + 1})"
                   if e.context and e.context_mark else "")
        raise CaseRecordError(
            f"YAML syntax error: {e.problem or e}{context}", path=path,
            line=mark.line + 1 if mark else None, expected="valid YAML 1.1") from None
    except yaml.YAMLError as e:
        raise CaseRecordError(f"YAML error: {e}", path=path, expected="valid YAML") from None
    finally:
        loader.dispose()
    if root is None or not isinstance(data, dict):
        raise CaseRecordError("the file is not a YAML mapping", path=path, line=1,
                              expected="a mapping with alkld_record, key, publication, cases")
    try:
        record = CaseRecord.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc: Loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
        loaded = LoadedRecord(record=None, path=path, sha256="", lines=lines)  # type: ignore[arg-type]
        raise CaseRecordError(
            _message(err), path=path, line=loaded.line_of(loc), field=format_loc(loc),
            expected=_expected(err)) from None
    loaded = LoadedRecord(record=record, path=path,
                          sha256=hashlib.sha256(text.encode()).hexdigest(), lines=lines)
    for i, case in enumerate(record.cases):
        _check_ids(case, ("cases", i), loaded)
    return loaded


def _is_union_tag(part: str | int) -> bool:
    # pydantic inserts the member type name into the loc of union errors ("function-after[...]")
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "decimal", "float"})


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def _expected(err: Any) -> str | None:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return "one of the fields documented in docs/record-format.md"
    if kind == "literal_error" or kind == "enum":
        return str(ctx.get("expected", "one of the allowed values"))
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        return str(err["msg"]).lower()
    if kind == "string_pattern_mismatch":
        return f"a string matching {ctx.get('pattern')}"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return str(err["msg"]).lower().replace("input should be ", "")
    return None


def _walk_nodes(obj: Node, loc: Loc) -> Iterator[tuple[Node, Loc]]:
    yield obj, loc
    for name in type(obj).model_fields:
        value = getattr(obj, name)
        if isinstance(value, Node):
            yield from _walk_nodes(value, (*loc, name))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Node):
                    yield from _walk_nodes(item, (*loc, name, i))


def _is_ref(model: type[BaseModel], name: str) -> bool:
    info = model.model_fields[name]
    if any(isinstance(m, RefSlot) for m in info.metadata):
        return True
    ann = info.annotation
    for arg in get_args(ann):
        if any(isinstance(m, RefSlot) for m in getattr(arg, "__metadata__", ())):
            return True
        for inner in get_args(arg):
            if any(isinstance(m, RefSlot) for m in getattr(inner, "__metadata__", ())):
                return True
    return get_origin(ann) is None and False


@cache
def _ref_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` that hold references to ids (:func:`_is_ref`)."""
    return tuple(name for name in model.model_fields if _is_ref(model, name))


def _check_ids(case: Case, case_loc: Loc, loaded: LoadedRecord) -> None:
    """Local ids are unique within a case, and every reference names one of them."""
    ids: dict[str, Loc] = {}
    nodes = list(_walk_nodes(case, case_loc))
    for node, loc in nodes:
        node_id = node.__dict__.get("id")
        if node_id and node is not case:
            if node_id in ids:
                raise CaseRecordError(
                    f"duplicate id {node_id!r} (also at {format_loc(ids[node_id])})",
                    path=loaded.path, line=loaded.line_of((*loc, "id")),
                    field=format_loc((*loc, "id")), expected="ids unique within a case")
            ids[node_id] = loc
    for node, loc in nodes:
        for name in _ref_fields(type(node)):
            value = getattr(node, name)
            refs = value if isinstance(value, list) else [value] if value else []
            for j, ref in enumerate(refs):
                if ref not in ids:
                    where = (*loc, name, j) if isinstance(value, list) else (*loc, name)
                    raise CaseRecordError(
                        f"reference {ref!r} names no fact of this case",
                        path=loaded.path, line=loaded.line_of(where), field=format_loc(where),
                        expected=f"one of the ids: {', '.join(sorted(ids)) or '(none)'}")


def load_record(path: Path) -> LoadedRecord:
    """Read and validate one record file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CaseRecordError(f"not UTF-8 text ({e.reason} at byte {e.start})", path=path,
                              expected="a UTF-8 YAML file") from None
    except OSError as e:
        raise CaseRecordError(f"cannot read: {e.strerror}", path=path) from None
    return parse_record(text, path=path)


def iter_record_paths(directory: Path) -> list[Path]:
    """The record files of ``directory`` (``*.yaml``, ``*.yml``), sorted by name."""
    if not directory.is_dir():
        raise CaseRecordError("no such directory", path=directory,
                              expected="a directory of case records (*.yaml)")
    paths = sorted(p for p in directory.iterdir() if p.suffix in {".yaml", ".yml"})
    if not paths:
        raise CaseRecordError("no case records here", path=directory,
                              expected="at least one *.yaml file")
    return paths


def load_records(directory: Path) -> list[LoadedRecord]:
    """Load every record of ``directory``; refuse duplicate document or case keys."""
    loaded = [load_record(p) for p in iter_record_paths(directory)]
    check_unique_keys(loaded)
    log.info("loaded %d records with %d cases", len(loaded),
             sum(len(r.record.cases) for r in loaded))
    return loaded


def check_unique_keys(loaded: Iterable[LoadedRecord | RecordKeys]) -> None:
    """Document keys and case keys are unique across all records."""
    docs: dict[str, Path] = {}
    cases: dict[str, Path] = {}
    for entry in loaded:
        item = entry.keys() if isinstance(entry, LoadedRecord) else entry
        key = item.key
        if key in docs:
            raise CaseRecordError(f"duplicate document key {key!r} (also in {docs[key]})",
                                  path=item.path, line=item.key_line, field="key",
                                  expected="a key unique across cases/")
        docs[key] = item.path
        for i, case_key in enumerate(item.case_keys):
            if case_key in cases or case_key in docs and case_key != key:
                raise CaseRecordError(
                    f"duplicate case key {case_key!r} (also in {cases.get(case_key, item.path)})",
                    path=item.path,
                    line=item.case_lines[i] if i < len(item.case_lines) else None,
                    field=format_loc(("cases", i, "key")),
                    expected="a case key unique across cases/")
            cases[case_key] = item.path
