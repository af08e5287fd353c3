"""KQL's scalar values in Python, and the operators between them, with Kusto's semantics.

Values: string ``str``, long ``int``, real ``float``, bool ``bool``, datetime (aware UTC
``datetime``), timespan ``timedelta``, dynamic (``dict``, ``list`` or a JSON scalar) and null
``None``. Python's ``bool`` is an ``int``; everything here tells them apart.

Every function in this module is total over values: bad data gives null (Kusto's answer
for a value it cannot use), never an exception. Only :func:`compile_regex` raises, and only
:class:`KqlError`, for a pattern the query itself got wrong.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from re import _constants as sre  # the regex syntax tree, to vet patterns before use
from re import _parser as sre_parse
from typing import Any

import re2

from upkeep.graph.errors import KqlError

#: What a bad runtime value can raise inside an operation; each becomes null.
RUNTIME_ERRORS = (
    ArithmeticError,
    AttributeError,
    IndexError,
    KeyError,
    RecursionError,
    TypeError,
    ValueError,
    re.error,
)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
#: Kusto's ticks (100 ns) count from 0001-01-01.
EPOCH = datetime(1, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# --- types ------------------------------------------------------------------------------


def type_name(value: Any) -> str:
    """Kusto's name for the type of ``value`` (``gettype``)."""
    kind = type(value)
    if value is None:
        return "null"
    if kind is bool:
        return "bool"
    if kind is int:
        return "long"
    if kind is float:
        return "real"
    if kind is str:
        return "string"
    if kind is datetime:
        return "datetime"
    if kind is timedelta:
        return "timespan"
    if kind is dict:
        return "dictionary"
    if kind is list:
        return "array"
    return "string"


def is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float


def wrap_long(value: int) -> int:
    """A long overflows the way Kusto's 64-bit integers do."""
    if _INT64_MIN <= value <= _INT64_MAX:
        return value
    return (value - _INT64_MIN) % 2**64 + _INT64_MIN


def column_type(values: Iterable[Any]) -> str:
    """The Resource Graph table-format type of a column holding ``values``."""
    found: set[str] = set()
    for value in values:
        if value is None:
            continue
        kind = type(value)
        if kind is bool:
            found.add("boolean")
        elif kind is int:
            found.add("integer")
        elif kind is float:
            found.add("number")
        elif kind is datetime:
            found.add("datetime")
        elif kind is str or kind is timedelta:
            found.add("string")
        else:
            found.add("object")
        if len(found) > 1 and found != {"integer", "number"}:
            return "object"
    if found == {"integer", "number"}:
        return "number"
    return found.pop() if found else "object"


# --- text forms ---------------------------------------------------------------------------


def format_datetime_iso(value: datetime, *, all_digits: bool = False) -> str:
    """``2024-05-01T10:00:00Z``, with the sub-second digits when there are any: as many as
    needed, or (``all_digits``, as ``tostring`` writes them) all seven of Kusto's ticks."""
    value = as_utc(value)
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    if value.microsecond:
        digits = f"{value.microsecond:06d}0"
        text += "." + (digits if all_digits else digits.rstrip("0"))
    return text + "Z"


def format_timespan(value: timedelta) -> str:
    """Kusto's ``[-][d.]hh:mm:ss[.fffffff]``."""
    count = ticks(value)
    sign = "-" if count < 0 else ""
    seconds, fraction = divmod(abs(count), 10_000_000)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    text = f"{sign}{days}." if days else sign
    text += f"{hour:02d}:{minute:02d}:{second:02d}"
    if fraction:
        text += f".{fraction:07d}"
    return text


def format_real(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value).replace("e", "E")


def to_json(value: Any) -> Any:
    """``value`` as Resource Graph writes it in a JSON response."""
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else format_real(value)
    if kind is datetime:
        return format_datetime_iso(value)
    if kind is timedelta:
        return format_timespan(value)
    if kind is dict:
        return {str(key): to_json(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [to_json(item) for item in value]
    return str(value)


def json_text(value: Any) -> str:
    """Compact JSON, as ``tostring`` writes a dynamic value."""
    return json.dumps(to_json(value), separators=(",", ":"), ensure_ascii=False)


def tostring(value: Any) -> str:
    """Kusto's ``tostring``: null is the empty string; bags and arrays are JSON text."""
    kind = type(value)
    if kind is str:
        return value
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return format_real(value)
    if kind is datetime:
        return format_datetime_iso(value, all_digits=True)
    if kind is timedelta:
        return format_timespan(value)
    try:
        return json_text(value)
    except RUNTIME_ERRORS:
        return ""


# --- conversions ----------------------------------------------------------------------------

_INTEGER = re.compile(r"\s*[+-]?\d+\s*", re.ASCII)
_REAL = re.compile(
    r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)\s*", re.ASCII | re.I
)


def tolong(value: Any, low: int = _INT64_MIN, high: int = _INT64_MAX) -> int | None:
    kind = type(value)
    result: int | None = None
    if kind is int or kind is bool:
        result = int(value)
    elif kind is float:
        result = int(value) if math.isfinite(value) else None
    elif kind is str:
        result = int(value) if len(value) < 40 and _INTEGER.fullmatch(value) else None
    elif kind is datetime:
        result = ticks(as_utc(value) - EPOCH)
    elif kind is timedelta:
        result = ticks(value)
    if result is None or not low <= result <= high:
        return None
    return result


def ticks(span: timedelta) -> int:
    """A span in Kusto's ticks of 100 ns."""
    return span // _MICROSECOND * 10


def toint(value: Any) -> int | None:
    return tolong(value, _INT32_MIN, _INT32_MAX)


def toreal(value: Any) -> float | None:
    kind = type(value)
    if kind is float:
        return value
    if kind is int or kind is bool:
        return float(value)
    if kind is str and len(value) < 400 and _REAL.fullmatch(value):
        return float(value)
    return None


def tobool(value: Any) -> bool | None:
    kind = type(value)
    if kind is bool:
        return value
    if kind is int or kind is float:
        return value != 0
    if kind is str:
        return {"true": True, "false": False}.get(value.strip().lower())
    return None


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if value.utcoffset() == timedelta(0) and value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


def todatetime(value: Any) -> datetime | None:
    kind = type(value)
    if kind is datetime:
        return as_utc(value)
    if kind is str:
        return parse_datetime(value)
    return None


@lru_cache(maxsize=65536)
def parse_datetime(text: str) -> datetime | None:
    """ISO 8601 (``Z``, offsets, up to 7 fractional digits, date only) or RFC 1123."""
    text = text.strip()
    if not 4 <= len(text) <= 64 or not text[0].isalnum():
        return None
    try:
        found = datetime.fromisoformat(_seven_digits_to_six(text))
    except ValueError:
        try:
            found = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    except RUNTIME_ERRORS:
        return None
    try:
        return as_utc(found)
    except RUNTIME_ERRORS:
        return None


_FRACTION = re.compile(r"(\.\d{6})\d+")


def _seven_digits_to_six(text: str) -> str:
    """Python reads at most microseconds; Kusto writes ticks (7 digits)."""
    return _FRACTION.sub(r"\1", text, count=1)


_SPAN_CLOCK = re.compile(r"([+-])?(?:(\d+)\.)?(\d+):(\d+)(?::(\d+)(?:\.(\d+))?)?", re.ASCII)
_SPAN_UNIT = re.compile(r"([+-])?(\d+(?:\.\d+)?)\s*([a-zA-Z]+)", re.ASCII)
_UNITS = {
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "ms": 1e-3,
    "milli": 1e-3,
    "millis": 1e-3,
    "millisecond": 1e-3,
    "milliseconds": 1e-3,
    "microsecond": 1e-6,
    "microseconds": 1e-6,
    "tick": 1e-7,
    "ticks": 1e-7,
}


def totimespan(value: Any) -> timedelta | None:
    kind = type(value)
    if kind is timedelta:
        return value
    if kind is str:
        return parse_timespan(value)
    return None


@lru_cache(maxsize=4096)
def parse_timespan(text: str) -> timedelta | None:
    """``[-][d.]hh:mm[:ss[.fffffff]]`` or a literal such as ``7d``, ``90m``, ``1.5h``."""
    text = text.strip()
    if len(text) > 40:
        return None
    try:
        clock = _SPAN_CLOCK.fullmatch(text)
        if clock:
            sign, days, hours, minutes, seconds, fraction = clock.groups()
            if int(minutes) > 59 or (seconds and int(seconds) > 59):
                return None
            span = timedelta(
                days=int(days or 0),
                hours=int(hours),
                minutes=int(minutes),
                seconds=int(seconds or 0),
                microseconds=int((fraction or "0")[:7].ljust(7, "0")) / 10,
            )
            return -span if sign == "-" else span
        unit = _SPAN_UNIT.fullmatch(text)
        if unit and unit.group(3).lower() in _UNITS:
            sign, number, name = unit.groups()
            span = timedelta(seconds=float(number) * _UNITS[name.lower()])
            return -span if sign == "-" else span
    except RUNTIME_ERRORS:
        return None
    return None


#: Deepest JSON ``parse_json`` decodes: deeper text stays a string, so that no later
#: walk over the value (``tostring``, the response) can exhaust the stack.
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def parse_json(value: Any) -> Any:
    """``parse_json``: JSON text becomes its value; other text stays a string."""
    if type(value) is not str or _too_deep(value):
        return value
    try:
        return json.loads(value)
    except RUNTIME_ERRORS:
        return value


def _too_deep(text: str) -> bool:
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for char in _JSON_STRING.sub("", text):
        if char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


# --- comparison ----------------------------------------------------------------------------

#: Types whose values compare directly when both sides have the same one.
DIRECT = frozenset((str, int, float, datetime, timedelta))


def comparable(left: Any, right: Any) -> tuple[Any, Any] | None:
    """Both values in one comparable family, or None: numbers across long/real, and a
    string from a dynamic value read as the datetime or timespan it is compared with."""
    if left is None or right is None:
        return None
    lk, rk = type(left), type(right)
    if lk is rk:
        return (left, right) if lk in DIRECT or lk is bool else None
    if (lk is int or lk is float) and (rk is int or rk is float):
        return left, right
    if lk is datetime and rk is str:
        other = parse_datetime(right)
        return None if other is None else (as_utc(left), other)
    if lk is str and rk is datetime:
        other = parse_datetime(left)
        return None if other is None else (other, as_utc(right))
    if lk is timedelta and rk is str:
        span = parse_timespan(right)
        return None if span is None else (left, span)
    if lk is str and rk is timedelta:
        span = parse_timespan(left)
        return None if span is None else (span, right)
    return None


def equals(left: Any, right: Any) -> bool | None:
    """``==``: null with null involved, else Kusto's equality (strings case-sensitive)."""
    if left is None or right is None:
        return None
    lk, rk = type(left), type(right)
    if lk is rk and lk is not datetime:
        return bool(left == right)
    pair = comparable(left, right)
    if pair is not None:
        return bool(pair[0] == pair[1])
    if lk is datetime or rk is datetime or lk is timedelta or rk is timedelta:
        return None
    return False


def between(value: Any, low: Any, high: Any) -> bool | None:
    """``value between (low .. high)``, inclusive; ``high`` may be a span after ``low``."""
    if type(high) is timedelta and type(low) is not timedelta:
        low_time = todatetime(low)
        if low_time is None:
            return None
        try:
            low, high = low_time, low_time + high
        except RUNTIME_ERRORS:
            return None
    lower, upper = comparable(value, low), comparable(value, high)
    if lower is None or upper is None or type(lower[0]) is str or type(lower[0]) is bool:
        return None
    return bool(lower[1] <= lower[0] and upper[0] <= upper[1])


def group_key(value: Any) -> Any:
    """A hashable stand-in for ``value`` such that equal values (by ``==``) share it."""
    kind = type(value)
    if kind is bool:
        return (bool, value)
    if kind is dict or kind is list:
        try:
            return (dict, json_text(value))
        except RUNTIME_ERRORS:
            return (dict, repr(value))
    return value


_SORT_RANKS = {bool: 0, int: 1, float: 1, str: 2, datetime: 3, timedelta: 4}


def sort_key(value: Any) -> tuple[int, Any]:
    """A key that orders any mix of values without raising: by type, then by value."""
    kind = type(value)
    rank = _SORT_RANKS.get(kind)
    if rank is None:
        return 5, tostring(value)
    if kind is float and math.isnan(value):
        return 1, -math.inf
    if kind is datetime:
        return 3, as_utc(value)
    return rank, value


# --- arithmetic ------------------------------------------------------------------------------


def _as_time(value: Any) -> Any:
    """A dynamic string next to a datetime or timespan is read as a datetime."""
    return parse_datetime(value) if type(value) is str else value


def add(left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    lk, rk = type(left), type(right)
    try:
        if lk is int and rk is int:
            return wrap_long(left + right)
        if (lk is int or lk is float) and (rk is int or rk is float):
            return float(left) + float(right)
        if rk is timedelta:
            left = _as_time(left)
            if type(left) in (datetime, timedelta):
                return left + right
        elif lk is timedelta:
            right = _as_time(right)
            if type(right) is datetime:
                return right + left
    except RUNTIME_ERRORS:
        return None
    return None


def subtract(left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    lk, rk = type(left), type(right)
    try:
        if lk is int and rk is int:
            return wrap_long(left - right)
        if (lk is int or lk is float) and (rk is int or rk is float):
            return float(left) - float(right)
        if lk is datetime or rk is datetime or (lk is str and rk is timedelta):
            left, right = _as_time(left), _as_time(right)
            if type(left) is datetime and type(right) in (datetime, timedelta):
                return as_utc(left) - (as_utc(right) if type(right) is datetime else right)
            return None
        if lk is timedelta and rk is timedelta:
            return left - right
    except RUNTIME_ERRORS:
        return None
    return None


def multiply(left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    lk, rk = type(left), type(right)
    try:
        if lk is int and rk is int:
            return wrap_long(left * right)
        if (lk is int or lk is float) and (rk is int or rk is float):
            return float(left) * float(right)
        if lk is timedelta and (rk is int or rk is float):
            return left * right
        if rk is timedelta and (lk is int or lk is float):
            return right * left
    except RUNTIME_ERRORS:
        return None
    return None


def divide(left: Any, right: Any) -> Any:
    """Long/long truncates toward zero; any division by zero is null."""
    if left is None or right is None:
        return None
    lk, rk = type(left), type(right)
    try:
        if lk is int and rk is int:
            if right == 0:
                return None
            quotient = abs(left) // abs(right)
            return wrap_long(quotient if (left < 0) == (right < 0) else -quotient)
        if (lk is int or lk is float) and (rk is int or rk is float):
            return None if right == 0 else float(left) / float(right)
        if lk is timedelta and rk is timedelta:
            return None if not right else left / right
        if lk is timedelta and (rk is int or rk is float):
            return None if right == 0 else left / right
    except RUNTIME_ERRORS:
        return None
    return None


def modulo(left: Any, right: Any) -> Any:
    """The remainder takes the dividend's sign (as in C#); by zero is null."""
    if left is None or right is None:
        return None
    lk, rk = type(left), type(right)
    try:
        if lk is int and rk is int:
            if right == 0:
                return None
            remainder = abs(left) % abs(right)
            return remainder if left >= 0 else -remainder
        if (lk is int or lk is float) and (rk is int or rk is float):
            return None if right == 0 else math.fmod(left, right)
        if lk is timedelta and rk is timedelta:
            return None if not right else left % right
    except RUNTIME_ERRORS:
        return None
    return None


def negate(value: Any) -> Any:
    kind = type(value)
    if kind is int:
        return wrap_long(-value)
    if kind is float or kind is timedelta:
        try:
            return -value
        except RUNTIME_ERRORS:
            return None
    return None


ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": add,
    "-": subtract,
    "*": multiply,
    "/": divide,
    "%": modulo,
}


# --- strings -----------------------------------------------------------------------------


def text_of(value: Any) -> str:
    """The string a string operator sees: Kusto strings are never null, so null is ``""``."""
    return value if type(value) is str else tostring(value)


def term_pattern(needle: str, *, before: bool = True, after: bool = True, cs: bool = False) -> str:
    """A regex finding ``needle`` as a whole term: no letter or digit right before or after
    it (checked only where the needle itself starts or ends with a letter or digit)."""
    body = re.escape(needle)
    if before and needle[:1].isalnum():
        body = r"(?<![^\W_])" + body
    if after and needle[-1:].isalnum():
        body += r"(?![^\W_])"
    return body if cs else "(?i:" + body + ")"


@lru_cache(maxsize=1024)
def text_test(base: str, case_sensitive: bool, needle: str) -> Callable[[str], bool]:
    """``contains``/``has``/``startswith``… of ``needle`` as a test of a string."""
    if base in ("has", "hasprefix", "hassuffix"):
        wanted = needle if case_sensitive else needle.lower()
        search = re.compile(
            term_pattern(wanted, before=base != "hassuffix", after=base != "hasprefix", cs=True)
        ).search
        if case_sensitive:
            return lambda text: wanted in text and search(text) is not None
        # A substring test first: most texts that fail do so cheaply.
        return lambda text: wanted in (lowered := text.lower()) and search(lowered) is not None
    if case_sensitive:
        tests = {
            "contains": lambda text: needle in text,
            "startswith": lambda text: text.startswith(needle),
            "endswith": lambda text: text.endswith(needle),
        }
        return tests[base]
    lowered = needle.lower()
    tests = {
        "contains": lambda text: lowered in text.lower(),
        "startswith": lambda text: text.lower().startswith(lowered),
        "endswith": lambda text: text.lower().endswith(lowered),
    }
    return tests[base]


def _member_of(values: list[Any]) -> Callable[[Any], bool]:
    """``in``: equal (case-sensitive, numbers across long/real) to any of ``values``."""
    strings = frozenset(value for value in values if type(value) is str)
    others = [value for value in values if type(value) is not str]

    def test(value: Any) -> bool:
        if value is None:
            return False
        if type(value) is str and value in strings:
            return True
        candidates = others if type(value) is str else values
        return any(equals(value, candidate) is True for candidate in candidates)

    return test


def _member_of_any_case(values: list[Any]) -> Callable[[Any], bool]:
    lowered = frozenset(text_of(value).lower() for value in values)
    return lambda value: text_of(value).lower() in lowered


def _has_terms(values: list[Any], every: bool) -> Callable[[Any], bool]:
    needles = [text_of(value) for value in values]
    if every:
        tests = [text_test("has", False, needle) for needle in needles]
        return lambda value: all(test(text_of(value)) for test in tests)
    if not needles:
        return lambda value: False
    search = re.compile("|".join(term_pattern(needle) for needle in needles)).search
    return lambda value: search(text_of(value)) is not None


MEMBERSHIPS: dict[str, Callable[[list[Any]], Callable[[Any], bool]]] = {
    "in": _member_of,
    "in~": _member_of_any_case,
    "has_any": lambda values: _has_terms(values, every=False),
    "has_all": lambda values: _has_terms(values, every=True),
}


# --- regular expressions -----------------------------------------------------------------

_MAX_PATTERN = 2000


def compile_regex(pattern: Any, pos: int, *, limit_wildcards: bool = True) -> re.Pattern[str]:
    """``pattern`` compiled once, or KqlError when it is not a pattern RE2 would run in
    linear time (backreferences, lookarounds, nested or ambiguous repetition, many
    ``.*``; ``limit_wildcards`` False for patterns whose ``.*`` are Upkeep's own)."""
    if type(pattern) is not str:
        raise KqlError("InvalidArgument", "A regular expression must be a string.", pos)
    problem = regex_problem(pattern, limit_wildcards)
    if problem is not None:
        raise KqlError(
            "InvalidArgument", f"The regular expression is not supported: {problem}", pos
        )
    compiled = _compiled(pattern)
    if compiled is None:
        raise KqlError(
            "InvalidArgument",
            "The regular expression is not supported: RE2, Kusto's engine, does not accept it.",
            pos,
        )
    return compiled


def regex_or_none(pattern: Any) -> re.Pattern[str] | None:
    """A pattern that comes from the data: compiled, or None when it is not usable."""
    if type(pattern) is not str or regex_problem(pattern) is not None:
        return None
    return _compiled(pattern)


#: A pattern RE2 refuses is the user's error, answered as such; not a line in the log.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    """RE2, as Kusto uses: matching takes time linear in the text, whatever the pattern
    (Python's engine backtracks: ``.*a.*c`` took seconds on a 4,000-character value).
    None for a pattern RE2 does not accept (Python's ``\\Z`` is RE2's ``\\z``)."""
    try:
        return re2.compile(pattern.replace(r"\Z", r"\z"), _RE2_OPTIONS)  # type: ignore[no-any-return]
    except re2.error:
        return None


@lru_cache(maxsize=1024)
def regex_problem(pattern: str, limit_wildcards: bool = True) -> str | None:
    """Why ``pattern`` may not run, or None when it may."""
    if len(pattern) > _MAX_PATTERN:
        return f"it is longer than {_MAX_PATTERN} characters."
    try:
        tree = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError) as error:
        return f"{error}."
    try:
        _vet(list(tree), repeated=False)
        if limit_wildcards and _open_wildcards(list(tree)) > _MAX_OPEN_WILDCARDS:
            raise _UnsafeRegexError(
                f"more than {_MAX_OPEN_WILDCARDS} '.*' or '.+' can take polynomial time."
            )
    except _UnsafeRegexError as unsafe:
        return str(unsafe)
    except RecursionError:
        return "it is nested too deeply."
    return None


class _UnsafeRegexError(Exception):
    """A pattern that could take more than linear time; its message says why."""


def _vet(items: list[Any], repeated: bool) -> None:
    for op, arg in items:
        if op in (sre.GROUPREF, sre.GROUPREF_EXISTS):
            raise _UnsafeRegexError("backreferences are not supported (Kusto uses RE2).")
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            raise _UnsafeRegexError("lookahead and lookbehind are not supported (Kusto uses RE2).")
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            low, high, body = arg
            if repeated and high != low:
                raise _UnsafeRegexError(
                    "a repetition inside a repetition can take exponential time."
                )
            _vet(list(body), repeated or high > 1)
        elif op is sre.SUBPATTERN:
            _vet(list(arg[-1]), repeated)
        elif op is sre.ATOMIC_GROUP:
            _vet(list(arg), repeated)
        elif op is sre.BRANCH:
            branches = [list(branch) for branch in arg[1]]
            if repeated and _overlap(branches):
                raise _UnsafeRegexError("repeated alternatives that can match the same text.")
            for branch in branches:
                _vet(branch, repeated)


#: Each unbounded ``.*`` multiplies the work a failing match can take by the text's length
#: (Python's engine backtracks where RE2 would not): two already make it cubic.
_MAX_OPEN_WILDCARDS = 2


def _open_wildcards(items: list[Any]) -> int:
    """How many unbounded repetitions of ``.`` the pattern holds."""
    count = 0
    for op, arg in items:
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            body = list(arg[2])
            if arg[1] == sre.MAXREPEAT and len(body) == 1 and body[0][0] is sre.ANY:
                count += 1
            else:
                count += _open_wildcards(body)
        elif op is sre.SUBPATTERN:
            count += _open_wildcards(list(arg[-1]))
        elif op is sre.BRANCH:
            count += max((_open_wildcards(list(branch)) for branch in arg[1]), default=0)
    return count


def _overlap(branches: list[list[Any]]) -> bool:
    """Whether two alternatives could start with the same character."""
    seen: set[int] = set()
    for branch in branches:
        first = _first_characters(branch)
        if first is None or first & seen:
            return True
        seen |= first
    return False


def _first_characters(items: list[Any]) -> set[int] | None:
    """The characters a match of ``items`` can start with; None when it could be any."""
    if not items:
        return None
    op, arg = items[0]
    if op is sre.LITERAL:
        return _cases(arg)
    if op is sre.SUBPATTERN:
        return _first_characters(list(arg[-1]))
    if op is sre.IN and all(kind is sre.LITERAL for kind, _ in arg):
        return set().union(*(_cases(code) for _, code in arg))
    return None


def _cases(code: int) -> set[int]:
    """A character and its other cases (a pattern may ignore case)."""
    variants = {chr(code), chr(code).lower(), chr(code).upper()}
    return {ord(variant) for variant in variants if len(variant) == 1}
