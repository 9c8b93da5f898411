"""The exception family of alkld.

Every data error carries its location (file, line, field) and says what was
expected; ``str(error)`` formats all of it on one line, so the CLI can print it
as is.

>>> e = CaseRecordError("negative age", path="cases/x.yaml", line=12, field="cases[0].patient.age.value",
...                     expected="a number >= 0")
>>> str(e)
'cases/x.yaml:12: cases[0].patient.age.value: negative age (expected a number >= 0)'
>>> e.line
12
>>> import pickle
>>> pickle.loads(pickle.dumps(e)).field
'cases[0].patient.age.value'
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AlkldError",
    "CaseRecordError",
    "ConfigurationError",
    "MappingError",
    "ValidationFailure",
]


class AlkldError(Exception):
    """Base class of every error alkld raises on purpose.

    Attributes name what failed: ``path`` (a file), ``line`` (1-based), ``field``
    (a dotted path inside the record) and ``expected`` (what would have been valid).
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        expected: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.expected = expected

    def __reduce__(self) -> tuple[object, ...]:
        # Keep the location when an error crosses a process boundary (build --jobs).
        return (_rebuild, (type(self), self.message, self.__dict__))

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = self.path + (f":{self.line}" if self.line else "") + ": "
        field = f"{self.field}: " if self.field else ""
        expected = f" (expected {self.expected})" if self.expected else ""
        return f"{where}{field}{self.message}{expected}"


def _rebuild(cls: type[AlkldError], message: str, state: dict[str, object]) -> AlkldError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class CaseRecordError(AlkldError):
    """A case record (``cases/*.yaml``) is malformed: syntax, field, type or value."""


class MappingError(AlkldError):
    """A term has no mapping, or a mapping table (``mappings/*.sssom.tsv``) is malformed.

    ``curie`` names the identifier concerned when there is one; ``term`` the label.
    """

    def __init__(
        self, message: str, *, term: str | None = None, curie: str | None = None, **kw: object
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.term = term
        self.curie = curie


class ConfigurationError(AlkldError):
    """A command-line option, a base IRI or a directory is unusable."""


class ValidationFailure(AlkldError):
    """SHACL or ontology checks found violations; nothing was published."""

    exit_code = 1
