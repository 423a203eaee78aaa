"""The one validation mechanism every message between the server and the edge uses.

A message is a dataclass deriving from `Message` whose fields are annotated with their spec:

    serial: Annotated[str, Text(max_len=60, blank=False)]
    fps: Annotated[float | None, Nullable(Number(0.0, 1e6))]

`from_dict` checks every field against its spec and raises `MessageError` naming the field's path
(`measurements[0].passed`) and the problem; `to_dict` is its exact inverse. Every spec has explicit bounds (string
lengths, item counts, numeric ranges; numbers must be finite), so a message can never carry more than its
class declares. A field with a dataclass default may be absent from the wire; one without is required.

Pure standard library: this module runs on the Jetson and in the server.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
import typing
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

SCHEMA_VERSION = 1

# Numbers inside free-form JSON (geometry, metrics, a refused payload): finite, and small enough that every
# consumer (float, PostgreSQL jsonb, JavaScript) reads them as the same value.
JSON_NUMBER_LIMIT = 1e15


class MessageError(ValueError):
    """A message does not follow its schema. `field` names the offending field ('' for the whole message)."""

    def __init__(self, field_name: str, problem: str) -> None:
        self.field = field_name
        self.problem = problem
        super().__init__(f"{field_name}: {problem}" if field_name else problem)


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _show(value: int | float, as_float: bool) -> str:
    """A number for an error message (an int too large for a float is shown by its size, not converted)."""
    if isinstance(value, int) and abs(value) > 1e300:
        return f"an integer of {len(str(abs(value)))} digits"
    return str(float(value)) if as_float else str(value)


class Spec:
    """How one field is read from JSON (`parse`, which validates) and written back (`dump`)."""

    def parse(self, value: Any, path: str) -> Any:
        raise NotImplementedError

    def dump(self, value: Any) -> Any:
        return value


@dataclass(frozen=True)
class Text(Spec):
    max_len: int
    blank: bool = True
    choices: tuple[str, ...] = ()
    pattern: str = ""  # a full match is required
    pattern_help: str = ""  # what to say when it does not match

    def parse(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise MessageError(path, f"expected a string, got {type_name(value)}")
        if len(value) > self.max_len:
            raise MessageError(path, f"longer than {self.max_len} characters")
        if not self.blank and not value.strip():
            raise MessageError(path, "must not be empty")
        if self.choices and value not in self.choices:
            raise MessageError(path, f"must be one of {', '.join(self.choices)}, got {value[:40]!r}")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise MessageError(path, self.pattern_help or f"does not match {self.pattern}")
        return value


def _check_number(value: Any, path: str, minimum: float, maximum: float, *, as_float: bool = True) -> None:
    # bool is an int in Python; a JSON true is never a measurement.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MessageError(path, f"expected a number, got {type_name(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise MessageError(path, f"must be finite, got {value}")
    # Compared before any conversion: float() of a huge JSON integer would raise OverflowError.
    if value < minimum:
        raise MessageError(path, f"must be >= {minimum}, got {_show(value, as_float)}")
    if value > maximum:
        raise MessageError(path, f"must be <= {maximum}, got {_show(value, as_float)}")


@dataclass(frozen=True)
class Number(Spec):
    """A finite number in [minimum, maximum], read as a float."""

    minimum: float
    maximum: float

    def parse(self, value: Any, path: str) -> float:
        _check_number(value, path, self.minimum, self.maximum)
        return float(value)


@dataclass(frozen=True)
class Integer(Spec):
    minimum: int
    maximum: int

    def parse(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise MessageError(path, f"expected an integer, got {type_name(value)}")
        _check_number(value, path, self.minimum, self.maximum, as_float=False)
        return value


@dataclass(frozen=True)
class Flag(Spec):
    def parse(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise MessageError(path, f"expected true or false, got {type_name(value)}")
        return value


@dataclass(frozen=True)
class UUIDValue(Spec):
    """A UUID string, read as a uuid.UUID (or, with `as_text`, as its canonical string)."""

    as_text: bool = False

    def parse(self, value: Any, path: str) -> uuid.UUID | str:
        if not isinstance(value, str):
            raise MessageError(path, f"expected a UUID string, got {type_name(value)}")
        if len(value) > 45:  # a braced, hyphenated UUID is 38 characters
            raise MessageError(path, f"not a UUID: {value[:60]!r}")
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            raise MessageError(path, f"not a UUID: {value[:60]!r}") from None
        return str(parsed) if self.as_text else parsed

    def dump(self, value: Any) -> str:
        return str(value)


@dataclass(frozen=True)
class Timestamp(Spec):
    """An ISO 8601 timestamp with a time zone, read as an aware datetime (or, with `as_text`, kept as sent)."""

    as_text: bool = False
    max_len: int = 40

    def parse(self, value: Any, path: str) -> dt.datetime | str:
        if not isinstance(value, str):
            raise MessageError(path, f"expected an ISO 8601 timestamp, got {type_name(value)}")
        if len(value) > self.max_len:
            raise MessageError(path, f"longer than {self.max_len} characters")
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise MessageError(path, f"not an ISO 8601 timestamp: {value[:60]!r}") from None
        if parsed.tzinfo is None:
            raise MessageError(path, "timestamp has no time zone (send UTC, e.g. 2026-01-01T12:00:00+00:00)")
        return value if self.as_text else parsed

    def dump(self, value: Any) -> str:
        return value if isinstance(value, str) else value.isoformat()


@dataclass(frozen=True)
class Nullable(Spec):
    inner: Spec

    def parse(self, value: Any, path: str) -> Any:
        return None if value is None else self.inner.parse(value, path)

    def dump(self, value: Any) -> Any:
        return None if value is None else self.inner.dump(value)


@dataclass(frozen=True)
class ListOf(Spec):
    item: Spec
    max_items: int
    lengths: tuple[int, ...] = ()  # the only lengths allowed, when not any length up to max_items
    lengths_help: str = ""
    as_tuple: bool = False

    def parse(self, value: Any, path: str) -> list[Any] | tuple[Any, ...]:
        if not isinstance(value, list):
            raise MessageError(path, self.lengths_help or f"expected a list, got {type_name(value)}")
        if len(value) > self.max_items:
            raise MessageError(path, f"more than {self.max_items} items ({len(value)})")
        if self.lengths and len(value) not in self.lengths:
            raise MessageError(path, self.lengths_help or f"expected {' or '.join(map(str, self.lengths))} items")
        items = [self.item.parse(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if self.as_tuple else items

    def dump(self, value: Any) -> list[Any]:
        return [self.item.dump(v) for v in value]


@dataclass(frozen=True)
class MapOf(Spec):
    """A JSON object of names to values of one kind (class probabilities, temperatures)."""

    value: Spec
    max_items: int
    key_max_len: int = 60

    def parse(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise MessageError(path, f"expected an object, got {type_name(value)}")
        if len(value) > self.max_items:
            raise MessageError(path, f"more than {self.max_items} entries ({len(value)})")
        out = {}
        for key, item in value.items():
            if not isinstance(key, str) or len(key) > self.key_max_len:
                raise MessageError(path, f"a name is not a string of at most {self.key_max_len} characters")
            out[key] = self.value.parse(item, f"{path}.{key}")
        return out

    def dump(self, value: Any) -> dict[str, Any]:
        return {k: self.value.dump(v) for k, v in value.items()}


@dataclass(frozen=True)
class Row(Spec):
    """A fixed-width JSON list whose positions have their own specs (a series point: [t_s, mW, phase])."""

    items: tuple[Spec, ...]
    help: str

    def parse(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list) or len(value) != len(self.items):
            raise MessageError(path, f"expected {self.help}")
        return [spec.parse(v, f"{path}[{i}]") for i, (spec, v) in enumerate(zip(self.items, value))]

    def dump(self, value: Any) -> list[Any]:
        return [spec.dump(v) for spec, v in zip(self.items, value)]


@dataclass(frozen=True)
class Scalar(Spec):
    """One JSON scalar of free-form content (a metric): null, true/false, a bounded number or a bounded string."""

    max_text: int
    limit: float = JSON_NUMBER_LIMIT

    def parse(self, value: Any, path: str) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            _check_number(value, path, -self.limit, self.limit, as_float=isinstance(value, float))
            return value
        if isinstance(value, str):
            if len(value) > self.max_text:
                raise MessageError(path, f"longer than {self.max_text} characters")
            return value
        raise MessageError(path, f"expected a number, string, true/false or null, got {type_name(value)}")


@dataclass(frozen=True)
class Json(Spec):
    """Free-form JSON (a refused payload, overlay geometry, metrics), bounded in depth, size and content."""

    max_depth: int
    max_items: int  # per object or list
    max_text: int  # per string (names included)
    max_bytes: int  # the whole value, as compact JSON
    object_only: bool = True

    def parse(self, value: Any, path: str) -> Any:
        if self.object_only and not isinstance(value, dict):
            raise MessageError(path, f"expected an object, got {type_name(value)}")
        self._walk(value, path, 1)
        size = len(json.dumps(value, separators=(",", ":")).encode("utf-8"))
        if size > self.max_bytes:
            raise MessageError(path, f"{size} bytes of JSON, more than {self.max_bytes}")
        return value

    def _walk(self, value: Any, path: str, depth: int) -> None:
        if value is None or isinstance(value, bool):
            return
        if isinstance(value, (int, float)):
            _check_number(value, path, -JSON_NUMBER_LIMIT, JSON_NUMBER_LIMIT)
            return
        if isinstance(value, str):
            if len(value) > self.max_text:
                raise MessageError(path, f"longer than {self.max_text} characters")
            return
        if not isinstance(value, (dict, list)):
            raise MessageError(path, f"not JSON: {type_name(value)}")
        if depth > self.max_depth:
            raise MessageError(path, f"nested deeper than {self.max_depth} levels")
        if len(value) > self.max_items:
            raise MessageError(path, f"more than {self.max_items} items ({len(value)})")
        if isinstance(value, list):
            for i, item in enumerate(value):
                self._walk(item, f"{path}[{i}]", depth + 1)
            return
        for key, item in value.items():
            if not isinstance(key, str) or len(key) > self.max_text:
                raise MessageError(path, f"a name is not a string of at most {self.max_text} characters")
            self._walk(item, f"{path}.{key}", depth + 1)


@dataclass(frozen=True)
class Record(Spec):
    """A JSON object kept as a dict, with declared keys (`required` ones must be present) and any other keys
    bounded by `extra` (a finding: kind, name and box declared, anything the vision library adds bounded)."""

    fields: Mapping[str, Spec]
    required: tuple[str, ...]
    extra: Json

    def parse(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise MessageError(path, f"expected an object, got {type_name(value)}")
        for name in self.required:
            if name not in value:
                raise MessageError(join(path, name), "missing")
        for name, spec in self.fields.items():
            if name in value:
                spec.parse(value[name], join(path, name))
        self.extra.parse({k: v for k, v in value.items() if k not in self.fields}, path)
        return value


@dataclass(frozen=True)
class Nested(Spec):
    """A part of a message that is itself a `Message` (the model reference of a result)."""

    message: type[Message]

    def parse(self, value: Any, path: str) -> Message:
        return self.message.from_dict(value, path)

    def dump(self, value: Any) -> dict[str, Any]:
        return value.to_dict()


@dataclass(frozen=True)
class _Field:
    name: str
    spec: Spec
    required: bool


_FIELDS: dict[type, tuple[_Field, ...]] = {}


def _fields_of(cls: type) -> tuple[_Field, ...]:
    cached = _FIELDS.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls, include_extras=True)
    out = []
    for f in dataclasses.fields(cls):
        specs = [m for m in getattr(hints[f.name], "__metadata__", ()) if isinstance(m, Spec)]
        if len(specs) != 1:
            raise TypeError(f"{cls.__name__}.{f.name} needs exactly one Spec in Annotated[...]")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        out.append(_Field(f.name, specs[0], required))
    _FIELDS[cls] = tuple(out)
    return _FIELDS[cls]


class Message:
    """Base of every message dataclass: `from_dict` / `to_dict` driven by the fields' specs.

    `KIND` names a whole message in errors ("a capture message must be a JSON object"); a whole message that is
    `VERSIONED` carries `"schema": SCHEMA_VERSION` and refuses another version. Fields are checked in their
    order, those named in `CHECKED_FIRST` before the others (the problem a refusal reports first). `check` adds
    the rules that span several fields."""

    KIND: ClassVar[str] = ""
    VERSIONED: ClassVar[bool] = False
    CHECKED_FIRST: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_dict(cls, data: Any, path: str = "") -> Self:
        if not isinstance(data, dict):
            if path:
                raise MessageError(path, f"expected an object, got {type_name(data)}")
            raise MessageError("", f"a {cls.KIND or cls.__name__} message must be a JSON object, got {type_name(data)}")
        if cls.VERSIONED:
            schema = data.get("schema", SCHEMA_VERSION)
            if schema != SCHEMA_VERSION:
                raise MessageError(
                    join(path, "schema"),
                    f"unsupported schema version {repr(schema)[:20]} (this side speaks {SCHEMA_VERSION})",
                )
        kwargs = {}
        for f in sorted(_fields_of(cls), key=lambda f: f.name not in cls.CHECKED_FIRST):
            if f.name in data:
                kwargs[f.name] = f.spec.parse(data[f.name], join(path, f.name))
            elif f.required:
                raise MessageError(join(path, f.name), "missing")
        message = cls(**kwargs)
        message.check(path)
        return message

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": SCHEMA_VERSION} if self.VERSIONED else {}
        for f in _fields_of(type(self)):
            out[f.name] = f.spec.dump(getattr(self, f.name))
        return out

    def check(self, path: str) -> None:
        """Rules over several fields; raise MessageError naming the field (joined to `path`)."""

    def validate(self, path: str = "") -> None:
        """Check a message built in code against the same specs that `from_dict` applies to one that arrives."""
        for f in _fields_of(type(self)):
            f.spec.parse(f.spec.dump(getattr(self, f.name)), join(path, f.name))
        self.check(path)


def field_specs(cls: type[Message]) -> dict[str, tuple[Spec, bool]]:
    """Each field's spec and whether it is required: the message's bounds, to read or to test against."""
    return {f.name: (f.spec, f.required) for f in _fields_of(cls)}
