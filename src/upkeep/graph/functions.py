"""KQL's scalar functions: each name, how many arguments it takes, and how a call compiles
into a closure over a row.

Most functions are plain Python over argument values (``@plain``): null in gives null out
unless the function says otherwise, and any error a bad value raises becomes null. The
rest compile specially: ``iff``/``case``/``coalesce`` evaluate lazily, regex arguments are
vetted and compiled once, and ``now``/``ago`` read the query's fixed clock.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from upkeep.graph.errors import KqlError
from upkeep.graph.scalars import (
    EPOCH,
    RUNTIME_ERRORS,
    as_utc,
    comparable,
    compile_regex,
    equals,
    is_number,
    parse_datetime,
    parse_json,
    regex_or_none,
    text_of,
    tobool,
    todatetime,
    toint,
    tolong,
    toreal,
    tostring,
    totimespan,
    type_name,
    wrap_long,
)
from upkeep.graph.syntax import Call, Column, Expression, Literal, Star

Row = dict[str, Any]
Fn = Callable[[Row], Any]


class Site:
    """A call being compiled, and what its builder may ask about it."""

    def __init__(
        self,
        call: Call,
        compile: Callable[[Expression], Fn],
        constant: Callable[[Expression], tuple[bool, Any]],
        now: datetime,
        text: Callable[[Expression], Fn] | None = None,
    ) -> None:
        self.call = call
        self.compile = compile
        self._constant = constant
        self.now = now
        self._text = text or compile

    def args(self) -> list[Fn]:
        return [self.compile(arg) for arg in self.call.args]

    def text_args(self) -> list[Fn]:
        """The arguments as a function that makes text of them reads them: a typed bool
        as ``True``/``False`` (.NET's spelling, which Kusto keeps)."""
        return [self._text(arg) for arg in self.call.args]

    def constant(self, index: int) -> tuple[bool, Any]:
        return self._constant(self.call.args[index])

    def required_constant(self, index: int, what: str) -> Any:
        known, value = self.constant(index)
        if not known:
            raise self.invalid(f"{what} must be a constant.", index)
        return value

    def invalid(self, message: str, index: int | None = None) -> KqlError:
        where = self.call.pos if index is None else self.call.args[index].pos
        return KqlError("InvalidArgument", f"{self.call.name}(): {message}", where)


@dataclass(frozen=True)
class Function:
    low: int
    high: int
    build: Callable[[Site], Fn]


FUNCTIONS: dict[str, Function] = {}


def _register(names: str, low: int, high: int, build: Callable[[Site], Fn]) -> None:
    for name in names.split():
        FUNCTIONS[name] = Function(low, high, build)


def plain(
    names: str, low: int, high: int | None = None, *, nulls: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``impl(*values)`` as the function(s) ``names``. With ``nulls``, a null
    argument makes the result null without calling ``impl``."""

    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        _register(
            names, low, low if high is None else high, lambda site: apply(impl, site.args(), nulls)
        )
        return impl

    return register


def apply(impl: Callable[..., Any], args: list[Fn], nulls: bool) -> Fn:
    """A closure calling ``impl`` on the arguments' values, errors becoming null."""
    if len(args) == 1:
        (only,) = args

        def one(row: Row) -> Any:
            value = only(row)
            if nulls and value is None:
                return None
            try:
                return impl(value)
            except RUNTIME_ERRORS:
                return None

        return one

    def many(row: Row) -> Any:
        values = [arg(row) for arg in args]
        if nulls and any(value is None for value in values):
            return None
        try:
            return impl(*values)
        except RUNTIME_ERRORS:
            return None

    return many


# --- conversions ---------------------------------------------------------------------------

_register("tostring", 1, 1, lambda site: apply(tostring, site.text_args(), nulls=False))
plain("toint", 1)(toint)
plain("tolong", 1)(tolong)
plain("todouble toreal todecimal", 1)(toreal)
plain("tobool toboolean", 1)(tobool)
plain("todatetime", 1)(todatetime)
plain("totimespan", 1)(totimespan)
plain("parse_json todynamic", 1)(parse_json)
plain("gettype", 1, nulls=False)(type_name)


def _string_as_is(value: Any) -> str | None:
    return None if value is None else tostring(value)


#: ``to typeof(t)`` and extract's type argument: a type name → its conversion.
CONVERSIONS: dict[str, Callable[[Any], Any]] = {
    "string": _string_as_is,
    "guid": _string_as_is,
    "long": tolong,
    "int": toint,
    "real": toreal,
    "double": toreal,
    "decimal": toreal,
    "bool": tobool,
    "boolean": tobool,
    "datetime": todatetime,
    "date": todatetime,
    "timespan": totimespan,
    "time": totimespan,
    "dynamic": lambda value: value,
}


def type_literal(expression: Expression) -> str | None:
    """The type named by ``typeof(long)`` (or a bare ``long``), lowercase; else None."""
    if isinstance(expression, Call) and expression.name == "typeof" and len(expression.args) == 1:
        expression = expression.args[0]
    if isinstance(expression, Column):
        return expression.name.lower()
    if isinstance(expression, Literal) and type(expression.value) is str:
        return expression.value.lower()
    return None


# --- null and emptiness -------------------------------------------------------------------

plain("isnull", 1, nulls=False)(lambda value: value is None)
plain("isnotnull", 1, nulls=False)(lambda value: value is not None)
plain("isempty", 1, nulls=False)(lambda value: value is None or value == "")
plain("isnotempty", 1, nulls=False)(lambda value: value is not None and value != "")


@plain("not", 1)
def _not(value: Any) -> bool | None:
    return (not value) if type(value) is bool else None


def _iff(site: Site) -> Fn:
    condition, then, otherwise = site.args()
    return lambda row: then(row) if condition(row) is True else otherwise(row)


def _case(site: Site) -> Fn:
    if len(site.call.args) % 2 == 0:
        raise site.invalid("needs condition/value pairs followed by an else value.")
    args = site.args()
    pairs = list(zip(args[0:-1:2], args[1:-1:2], strict=True))
    otherwise = args[-1]

    def choose(row: Row) -> Any:
        for condition, value in pairs:
            if condition(row) is True:
                return value(row)
        return otherwise(row)

    return choose


def _coalesce(site: Site) -> Fn:
    args = site.args()

    def first(row: Row) -> Any:
        empty = None
        for arg in args:
            value = arg(row)
            if value is not None and value != "":
                return value
            empty = empty if value is None else value
        return empty

    return first


_register("iff iif", 3, 3, _iff)
_register("case", 3, 129, _case)
_register("coalesce", 1, 64, _coalesce)


# --- strings -------------------------------------------------------------------------------

plain("tolower", 1, nulls=False)(lambda value: text_of(value).lower())
plain("toupper", 1, nulls=False)(lambda value: text_of(value).upper())
plain("strlen", 1, nulls=False)(lambda value: len(text_of(value)))
plain("reverse", 1, nulls=False)(lambda value: text_of(value)[::-1])


def _strcat(site: Site) -> Fn:
    return apply(lambda *values: "".join(map(text_of, values)), site.text_args(), nulls=False)


def _strcat_delim(site: Site) -> Fn:
    def join(delimiter: Any, *values: Any) -> str:
        return text_of(delimiter).join(map(text_of, values))

    return apply(join, site.text_args(), nulls=False)


_register("strcat", 1, 64, _strcat)
_register("strcat_delim", 3, 64, _strcat_delim)


@plain("strcat_array", 2, nulls=False)
def _strcat_array(values: Any, delimiter: Any) -> str:
    if type(values) is not list:
        return ""
    return text_of(delimiter).join(text_of(value) for value in values)


@plain("substring", 2, 3, nulls=False)
def _substring(source: Any, start: Any, length: Any = None) -> str | None:
    text, first = text_of(source), tolong(start)
    if first is None:
        return None
    if first < 0:
        first = max(0, len(text) + first)
    if length is None:
        return text[first:]
    count = tolong(length)
    if count is None:
        return None
    return text[first : first + max(0, count)]


@plain("split", 2, 3, nulls=False)
def _split(source: Any, delimiter: Any, index: Any = None) -> list[str] | None:
    separator = text_of(delimiter)
    if not separator:
        return None
    parts = text_of(source).split(separator)
    if index is None:
        return parts
    wanted = tolong(index)
    if wanted is None:
        return None
    return [parts[wanted]] if 0 <= wanted < len(parts) else []


@plain("replace_string", 3, nulls=False)
def _replace_string(source: Any, lookup: Any, rewrite: Any) -> str:
    text, old = text_of(source), text_of(lookup)
    return text.replace(old, text_of(rewrite)) if old else text


@plain("indexof", 2, 5, nulls=False)
def _indexof(
    source: Any, lookup: Any, start: Any = 0, length: Any = -1, occurrence: Any = 1
) -> int | None:
    text, needle = text_of(source), text_of(lookup)
    first, count, nth = tolong(start), tolong(length), tolong(occurrence)
    if first is None or count is None or nth is None or nth < 1:
        return None
    if first < 0:
        first = max(0, len(text) + first)
    end = len(text) if count < 0 else first + count
    found = first - 1
    for _ in range(nth):
        found = text.find(needle, found + 1, end)
        if found < 0:
            return -1
    return found


def _regex_argument(site: Site, index: int) -> Fn:
    """A regex argument: vetted and compiled once when constant, per row otherwise."""
    known, pattern = site.constant(index)
    if known:
        compiled = compile_regex(pattern, site.call.args[index].pos)
        return lambda row: compiled
    source = site.compile(site.call.args[index])
    return lambda row: regex_or_none(source(row))


def _matching(site: Site, regex_at: int, impl: Callable[..., Any], arity: int | None = None) -> Fn:
    """``impl(pattern, *other values)`` with the regex argument compiled; ``arity`` limits
    which arguments are values (extract's type argument is not one)."""
    pattern = _regex_argument(site, regex_at)
    arguments = site.call.args[:arity]
    others = [site.compile(arg) for i, arg in enumerate(arguments) if i != regex_at]

    def run(row: Row) -> Any:
        compiled = pattern(row)
        if compiled is None:
            return None
        try:
            return impl(compiled, *(arg(row) for arg in others))
        except RUNTIME_ERRORS:
            return None

    return run


def _trimmer(start: bool, end: bool) -> Callable[[Site], Fn]:
    def build(site: Site) -> Fn:
        return _matching(site, 0, lambda pattern, value: _trim(pattern, text_of(value), start, end))

    return build


def _trim(pattern: Any, text: str, start: bool, end: bool) -> str:
    """Strip repeated matches of ``pattern`` from the ends. The pattern is repeated by a
    regex only when that repetition is itself safe; otherwise one match at a time."""
    first, last = 0, len(text)
    if start:
        while first < last and (found := pattern.match(text, first)) and found.end() > first:
            first = found.end()
    if end:
        tail = regex_or_none("(?:" + pattern.pattern + r")+\Z")
        if tail is not None:
            found = tail.search(text, first, last)
            last = found.start() if found else last
        else:
            tail = regex_or_none("(?:" + pattern.pattern + r")\Z")
            while tail and first < last and (found := tail.search(text, first, last)):
                if found.start() == last:
                    break
                last = found.start()
    return text[first:last]


_register("trim", 2, 2, _trimmer(True, True))
_register("trim_start", 2, 2, _trimmer(True, False))
_register("trim_end", 2, 2, _trimmer(False, True))


def _replace_regex(site: Site) -> Fn:
    def replace(pattern: Any, source: Any, rewrite: Any) -> str:
        template = text_of(rewrite)
        return pattern.sub(lambda found: _expand(template, found), text_of(source))

    return _matching(site, 1, replace)


def _expand(template: str, found: Any) -> str:
    r"""A rewrite with ``\0``…``\9`` (and ``$0``…``$9``) standing for the groups."""
    parts: list[str] = []
    index = 0
    while index < len(template):
        char = template[index]
        if char in "\\$" and index + 1 < len(template) and template[index + 1].isdigit():
            group = int(template[index + 1])
            parts.append((found.group(group) or "") if group <= found.re.groups else "")
            index += 2
            continue
        parts.append(char)
        index += 1
    return "".join(parts)


def _extract(site: Site) -> Fn:
    convert = CONVERSIONS["dynamic"]
    if len(site.call.args) == 4:
        name = type_literal(site.call.args[3])
        if name not in CONVERSIONS:
            raise site.invalid("the fourth argument must be typeof(a type).", 3)
        convert = CONVERSIONS[name]

    def extract(pattern: Any, group: Any, source: Any) -> Any:
        number = tolong(group)
        if number is None or not 0 <= number <= pattern.groups:
            return None
        found = pattern.search(text_of(source))
        if found is None or found.group(number) is None:
            return None
        return convert(found.group(number))

    return _matching(site, 0, extract, arity=3)


_register("replace_regex", 3, 3, _replace_regex)
_register("extract", 3, 4, _extract)


# --- dynamic values ---------------------------------------------------------------------------


@plain("array_length", 1)
def _array_length(value: Any) -> int | None:
    return len(value) if type(value) is list else None


@plain("array_concat", 1, 64)
def _array_concat(*values: Any) -> list[Any] | None:
    if not all(type(value) is list for value in values):
        return None
    return [item for value in values for item in value]


@plain("set_has_element", 2, nulls=False)
def _set_has_element(values: Any, wanted: Any) -> bool | None:
    if type(values) is not list:
        return None
    return any(equals(value, wanted) is True for value in values)


@plain("bag_keys", 1)
def _bag_keys(value: Any) -> list[str] | None:
    return list(value) if type(value) is dict else None


@plain("bag_has_key", 2)
def _bag_has_key(value: Any, key: Any) -> bool | None:
    return text_of(key) in value if type(value) is dict else None


def _pack(site: Site) -> Fn:
    if len(site.call.args) % 2:
        raise site.invalid("needs key/value pairs.")
    return apply(
        lambda *pairs: {text_of(pairs[i]): pairs[i + 1] for i in range(0, len(pairs), 2)},
        site.args(),
        nulls=False,
    )


_register("pack bag_pack", 0, 128, _pack)


plain("pack_array", 0, 128, nulls=False)(lambda *values: list(values))


# --- numbers -----------------------------------------------------------------------------------


@plain("abs", 1)
def _abs(value: Any) -> Any:
    return abs(value) if is_number(value) or type(value) is timedelta else None


@plain("round", 1, 2)
def _round(value: Any, precision: Any = 0) -> Any:
    digits = tolong(precision)
    if not is_number(value) or digits is None or not -30 <= digits <= 30:
        return None
    if type(value) is float and not math.isfinite(value):
        return value
    exact = Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return wrap_long(int(exact)) if type(value) is int else float(exact)


@plain("bin floor", 2)
def _bin(value: Any, size: Any) -> Any:
    """Round down to a multiple of ``size``: numbers, timespans, and datetimes (counted
    from 0001-01-01, as Kusto's ticks are)."""
    if type(size) is timedelta:
        if size <= timedelta(0):
            return None
        moment = _datetime_of(value)
        if moment is not None:
            return EPOCH + (moment - EPOCH) // size * size
        return value // size * size if type(value) is timedelta else None
    if not is_number(value) or not is_number(size) or size <= 0:
        return None
    if type(value) is int and type(size) is int:
        return value // size * size
    return float(math.floor(value / size) * size)


def _extreme(largest: bool) -> Callable[..., Any]:
    def pick(*values: Any) -> Any:
        best = None
        for value in values:
            if value is None:
                continue
            if best is None:
                best = value
                continue
            pair = comparable(value, best)
            if pair is None:
                return None
            if (pair[0] > pair[1]) if largest else (pair[0] < pair[1]):
                best = value
        return best

    return pick


plain("max_of", 2, 64, nulls=False)(_extreme(True))
plain("min_of", 2, 64, nulls=False)(_extreme(False))


# --- time ----------------------------------------------------------------------------------------


def _datetime_of(value: Any) -> datetime | None:
    """A datetime, or the datetime a dynamic string holds."""
    if type(value) is datetime:
        return as_utc(value)
    if type(value) is str:
        return parse_datetime(value)
    return None


def _now(site: Site) -> Fn:
    if not site.call.args:
        now = site.now
        return lambda row: now
    offset = site.compile(site.call.args[0])
    return apply(lambda span: site.now + span if type(span) is timedelta else None, [offset], True)


def _ago(site: Site) -> Fn:
    (span,) = site.args()
    return apply(lambda value: site.now - totimespan(value), [span], True)  # type: ignore[operator]


_register("now", 0, 1, _now)
_register("ago", 1, 1, _ago)


def _month_start(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _add_months(moment: datetime, months: int) -> datetime:
    """Calendar months later, the day clamped to the month's end (Jan 31 + 1 month → Feb 29)."""
    start = _month_start(moment, months)
    last = calendar.monthrange(start.year, start.month)[1]
    return moment.replace(year=start.year, month=start.month, day=min(moment.day, last))


def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _week(moment: datetime) -> datetime:
    """Weeks start on Sunday."""
    return _day(moment) - timedelta(days=(moment.weekday() + 1) % 7)


_STARTS: dict[str, Callable[[datetime, int], datetime]] = {
    "day": lambda moment, n: _day(moment) + timedelta(days=n),
    "week": lambda moment, n: _week(moment) + timedelta(weeks=n),
    "month": lambda moment, n: _month_start(moment, n),
    "year": lambda moment, n: datetime(moment.year + n, 1, 1, tzinfo=UTC),
}
_NEXT = {
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}


def _start_of(unit: str) -> Callable[..., Any]:
    def start(value: Any, offset: Any = 0) -> datetime | None:
        moment, count = _datetime_of(value), tolong(offset)
        return None if moment is None or count is None else _STARTS[unit](moment, count)

    return start


def _end_of(unit: str) -> Callable[..., Any]:
    def end(value: Any, offset: Any = 0) -> datetime | None:
        moment, count = _datetime_of(value), tolong(offset)
        if moment is None or count is None:
            return None
        following = _STARTS[unit](moment, count + 1)
        return following - timedelta(microseconds=1)

    return end


for _unit in _STARTS:
    plain(f"startof{_unit}", 1, 2)(_start_of(_unit))
    plain(f"endof{_unit}", 1, 2)(_end_of(_unit))


def _date_part(read: Callable[[datetime], Any]) -> Callable[[Any], Any]:
    def part(value: Any) -> Any:
        moment = _datetime_of(value)
        return None if moment is None else read(moment)

    return part


plain("getyear", 1)(_date_part(lambda moment: moment.year))
plain("getmonth monthofyear", 1)(_date_part(lambda moment: moment.month))
plain("dayofmonth", 1)(_date_part(lambda moment: moment.day))
plain("dayofyear", 1)(_date_part(lambda moment: moment.timetuple().tm_yday))
plain("hourofday", 1)(_date_part(lambda moment: moment.hour))
plain("dayofweek", 1)(_date_part(lambda moment: timedelta(days=(moment.weekday() + 1) % 7)))

#: datetime parts → (truncate to the part's boundary, one part as a span) for the clock parts.
_CLOCK_PARTS: dict[str, timedelta] = {
    "day": timedelta(days=1),
    "hour": timedelta(hours=1),
    "minute": timedelta(minutes=1),
    "second": timedelta(seconds=1),
    "millisecond": timedelta(milliseconds=1),
    "microsecond": timedelta(microseconds=1),
}
_CALENDAR_PARTS = {"year": 12, "quarter": 3, "month": 1}
_PARTS = {*_CLOCK_PARTS, *_CALENDAR_PARTS, "week", "nanosecond"}


def _part_argument(site: Site, index: int) -> str:
    part = site.required_constant(index, "the part")
    if type(part) is not str or part.lower() not in _PARTS:
        names = ", ".join(sorted(_PARTS))
        raise site.invalid(f"the part must be one of {names}.", index)
    return part.lower()


def _datetime_diff(site: Site) -> Fn:
    part = _part_argument(site, 0)
    later, earlier = site.compile(site.call.args[1]), site.compile(site.call.args[2])

    def diff(first: Any, second: Any) -> int | None:
        a, b = _datetime_of(first), _datetime_of(second)
        if a is None or b is None:
            return None
        return _boundaries_between(part, a, b)

    return apply(diff, [later, earlier], True)


def _boundaries_between(part: str, a: datetime, b: datetime) -> int:
    """How many ``part`` boundaries lie between ``b`` and ``a`` (negative when ``a`` is
    earlier): calendar counting, so Dec 31 → Jan 1 is one year."""
    if part in _CALENDAR_PARTS:
        size = _CALENDAR_PARTS[part]
        months_a, months_b = a.year * 12 + a.month - 1, b.year * 12 + b.month - 1
        return months_a // size - months_b // size
    if part == "week":
        return (_week(a) - _week(b)).days // 7
    if part == "nanosecond":
        return (a - b) // timedelta(microseconds=1) * 1000
    step = _CLOCK_PARTS[part]
    return (a - EPOCH) // step - (b - EPOCH) // step


def _datetime_add(site: Site) -> Fn:
    part = _part_argument(site, 0)
    amount, moment = site.compile(site.call.args[1]), site.compile(site.call.args[2])

    def add(count: Any, value: Any) -> datetime | None:
        number, start = tolong(count), _datetime_of(value)
        if number is None or start is None:
            return None
        if part in _CALENDAR_PARTS:
            return _add_months(start, number * _CALENDAR_PARTS[part])
        if part == "week":
            return start + timedelta(weeks=number)
        if part == "nanosecond":
            return start + timedelta(microseconds=number // 1000)
        return start + _CLOCK_PARTS[part] * number

    return apply(add, [amount, moment], True)


def _datetime_part(site: Site) -> Fn:
    part = _part_argument(site, 0)
    reads: dict[str, Callable[[datetime], int]] = {
        "year": lambda m: m.year,
        "quarter": lambda m: (m.month - 1) // 3 + 1,
        "month": lambda m: m.month,
        "week": lambda m: m.isocalendar().week,
        "day": lambda m: m.day,
        "hour": lambda m: m.hour,
        "minute": lambda m: m.minute,
        "second": lambda m: m.second,
        "millisecond": lambda m: m.microsecond // 1000,
        "microsecond": lambda m: m.microsecond,
        "nanosecond": lambda m: m.microsecond * 1000,
    }
    return apply(_date_part(reads[part]), [site.compile(site.call.args[1])], True)


_register("datetime_diff", 3, 3, _datetime_diff)
_register("datetime_add", 3, 3, _datetime_add)
_register("datetime_part", 2, 2, _datetime_part)


def _format_datetime(site: Site) -> Fn:
    known, text = site.constant(1)
    value = site.compile(site.call.args[0])
    if known:
        if type(text) is not str:
            raise site.invalid("the format must be a string.", 1)
        tokens = _format_tokens(text)
        return apply(lambda v: _render(_datetime_of(v), tokens), [value], True)
    pattern = site.compile(site.call.args[1])
    return apply(
        lambda v, f: _render(_datetime_of(v), _format_tokens(text_of(f))), [value, pattern], True
    )


_FORMAT_LETTERS = set("dfFhHmMsty")


def _format_tokens(text: str) -> list[str]:
    """The format split into runs of one specifier letter and literal characters."""
    tokens: list[str] = []
    for char in text:
        if tokens and char in _FORMAT_LETTERS and tokens[-1][0] == char:
            tokens[-1] += char
        else:
            tokens.append(char)
    return tokens


def _render(moment: datetime | None, tokens: list[str]) -> str | None:
    if moment is None:
        return None
    return "".join(_render_token(moment, token) for token in tokens)


def _render_token(moment: datetime, token: str) -> str:
    letter, width = token[0], len(token)
    if letter not in _FORMAT_LETTERS:
        return token
    if letter in "fF":
        digits = f"{moment.microsecond:06d}0"[: min(width, 7)]
        return digits.rstrip("0") if letter == "F" else digits
    if letter == "t":
        meridiem = "AM" if moment.hour < 12 else "PM"
        return meridiem[:width]
    if letter == "y":
        if width <= 2:
            year = moment.year % 100
            return f"{year:0{width}d}"
        return f"{moment.year:0{width}d}"
    number = {
        "d": moment.day,
        "M": moment.month,
        "H": moment.hour,
        "h": moment.hour % 12 or 12,
        "m": moment.minute,
        "s": moment.second,
    }[letter]
    return f"{number:0{min(width, 2)}d}" if width <= 2 else token


_register("format_datetime", 2, 2, _format_datetime)


def _typeof(site: Site) -> Fn:
    raise site.invalid("typeof() names a type; use it in 'mv-expand … to typeof(t)' or extract().")


_register("typeof", 1, 1, _typeof)


def reject_star(call: Call) -> None:
    """``*`` is an argument only of some aggregates."""
    for argument in call.args:
        if isinstance(argument, Star):
            raise KqlError(
                "InvalidArgument", f"{call.name}() does not take '*' as an argument.", argument.pos
            )
