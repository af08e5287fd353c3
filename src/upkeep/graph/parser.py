"""KQL text into the syntax tree of :mod:`upkeep.graph.syntax`: the parser owns the grammar.

``parse(text)`` either returns a :class:`~upkeep.graph.syntax.Query` or raises
:class:`~upkeep.graph.errors.KqlError` naming what is wrong and where; it raises nothing
else for any input. The grammar is LALR(1), built once, and lexed contextually: a word is a
keyword only where the grammar can take that keyword, so columns such as ``type``, ``name``,
``count`` or ``by`` keep working wherever an expression is expected.

Each token is checked as it is read, before the parser acts on it, so operators Upkeep does
not run are named at once and brackets can never nest deep enough to hurt. A final walk
bounds the depth of the tree (long ``a or b or …`` chains nest without brackets) so the
code that later recurses over it cannot overflow the stack.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, NamedTuple

from lark import Lark, Token, Transformer
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from upkeep.graph import syntax as s
from upkeep.graph.errors import KqlError

#: Deepest bracket nesting a query may have (``((…))``, ``f(g(…))``, ``dynamic([[…]])``).
MAX_BRACKET_DEPTH = 64
#: Deepest syntax tree a query may produce; ``a or b or …`` nests one level per term.
MAX_TREE_DEPTH = 200

# Operators of Kusto that Resource Graph or Upkeep do not run. Hyphenated names come before
# their prefixes so that ``top-nested`` is not read as ``top``.
_UNSUPPORTED_OPERATORS = (
    *("make-series", "make-graph", "mv-apply", "project-keep", "project-reorder"),
    *("sample-distinct", "top-nested", "top-hitters", "parse-where", "parse-kv"),
    *("graph-match", "macro-expand", "let", "render", "evaluate", "lookup", "serialize"),
    *("invoke", "as", "sample", "getschema", "search", "find", "facet", "fork"),
    *("externaldata", "range", "print", "datatable", "scan", "partition", "reduce"),
    *("consume", "declare", "set", "alias", "restrict", "pattern"),
)
# The types written as ``type(value)`` literals: ``datetime(2024-01-01)``, ``long(null)``.
_TYPED_LITERAL_TYPES = (
    *("datetime", "date", "timespan", "time", "long", "int", "real", "double", "decimal"),
    *("bool", "boolean", "guid"),
)

_TIMESPAN_UNITS = {
    **dict.fromkeys(("d", "day", "days"), "days"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "hours"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "minutes"),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "seconds"),
    **dict.fromkeys(("ms", "milli", "millis", "millisecond", "milliseconds"), "milliseconds"),
    **dict.fromkeys(("micro", "micros", "microsecond", "microseconds"), "microseconds"),
    **dict.fromkeys(("tick", "ticks"), "ticks"),
}
# Longest first, so the regular expression never settles for a prefix of a unit.
_UNIT_PATTERN = "|".join(sorted(_TIMESPAN_UNITS, key=len, reverse=True))

_GRAMMAR = r"""
start: query ";"?

query: source ("|" operator)*
?source: table | union | UNSUPPORTED_OP
table: NAME

?operator: where | project | project_away | project_rename | extend | summarize | sort
         | take | top | distinct | count | mv_expand | parse | join | union | UNSUPPORTED_OP

where: ("where" | "filter") expr
project: "project" assignment ("," assignment)*
project_away: "project-away" away_name ("," away_name)*
?away_name: WILD_NAME | bracket_name
project_rename: "project-rename" rename ("," rename)*
rename: name "=" name
extend: "extend" assignment ("," assignment)*
summarize: "summarize" assignment ("," assignment)* by_clause?
         | "summarize" by_clause
by_clause: "by" assignment ("," assignment)*
sort: ("order" | "sort") "by" sort_key ("," sort_key)*
sort_key: expr ("asc" | "desc")? ("nulls" ("first" | "last"))?
take: ("take" | "limit") expr
top: "top" expr "by" sort_key
distinct: "distinct" (expr ("," expr)* | "*")
count: "count"
mv_expand: "mv-expand" assignment ("," assignment)* mv_to_type? mv_limit?
mv_to_type: "to" "typeof" "(" NAME ")"
mv_limit: "limit" INT
parse: "parse" kind_param? expr "with" pattern_part+
?pattern_part: pattern_text | pattern_skip | pattern_column
pattern_text: STRING | VSTRING
pattern_skip: "*"
pattern_column: NAME (":" NAME)?
join: "join" kind_param? leg "on" join_key ("," join_key)*
join_key: name
        | SIDE "." name "==" SIDE "." name
union: "union" union_param* leg ("," leg)*
?union_param: kind_param | withsource_param
kind_param: "kind" "=" NAME
withsource_param: "withsource" "=" NAME
?leg: "(" query ")" | table

assignment: name "=" expr -> named_assignment
          | expr
name: NAME | "kind" | bracket_name
bracket_name: "[" (STRING | VSTRING) "]"

?expr: or_expr
?or_expr: and_expr | or_expr "or" and_expr -> binary
?and_expr: cmp_expr | and_expr "and" cmp_expr -> binary
?cmp_expr: add_expr
         | cmp_expr cmp_op add_expr -> binary
         | cmp_expr "matches" "regex" add_expr -> matches_regex
         | cmp_expr list_op "(" expr ("," expr)* ")" -> in_list
         | cmp_expr between_op "(" expr ".." expr ")" -> between
?cmp_op: "==" | "!=" | "<>" | "<" | ">" | "<=" | ">=" | "=~" | "!~"
       | "contains" | "!contains" | "contains_cs" | "!contains_cs"
       | "has" | "!has" | "has_cs" | "!has_cs"
       | "startswith" | "!startswith" | "startswith_cs" | "!startswith_cs"
       | "endswith" | "!endswith" | "endswith_cs" | "!endswith_cs"
       | "hasprefix" | "!hasprefix" | "hassuffix" | "!hassuffix"
?list_op: "in" | "!in" | "in~" | "!in~" | "has_any" | "has_all"
?between_op: "between" | "!between"
?add_expr: mul_expr | add_expr add_op mul_expr -> binary
?add_op: "+" | "-"
?mul_expr: unary | mul_expr mul_op unary -> binary
?mul_op: "*" | "/" | "%"
?unary: postfix | add_op unary -> unary
?postfix: atom
        | postfix "." NAME -> member
        | postfix "[" expr "]" -> index
?atom: literal | column | call | "(" expr ")" -> parenthesised
column: NAME | "kind" | bracket_name
call: NAME "(" (argument ("," argument)*)? ")"
?argument: expr | star
star: "*"

?literal: string | verbatim | long | real | timespan | typed | dynamic
string: STRING
verbatim: VSTRING
long: INT
real: REAL
timespan: TIMESPAN
typed: TYPED_LITERAL
dynamic: DYNAMIC_OPEN json ")"
?json: json_array | json_object | json_string | json_number | json_constant
json_array: "[" (json ("," json)*)? "]"
json_object: "{" (json_pair ("," json_pair)*)? "}"
json_pair: json_string ":" json
json_string: STRING | VSTRING
json_number: "-"? (INT | REAL)
json_constant: "true" | "false" | "null"

SIDE: "$left" | "$right"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
WILD_NAME: /[A-Za-z_*][A-Za-z0-9_*]*/
STRING.2: /[hH]?(?:'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")/
VSTRING.2: /[hH]?@(?:'(?:[^'\n]|'')*'|"(?:[^"\n]|"")*")/
TIMESPAN.3: /\d+(?:\.\d+)?(?:__UNITS__)(?![A-Za-z0-9_])/
REAL.2: /\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+/
INT: /0[xX][0-9a-fA-F]+|\d+/
TYPED_LITERAL.3: /(?:__TYPES__)[ \t]*\([^()\n]*\)/
DYNAMIC_OPEN.3: /dynamic[ \t]*\(/
UNSUPPORTED_OP.3: /(?:__UNSUPPORTED__)(?![A-Za-z0-9_-])/
COMMENT: /\/\/[^\n]*/
WHITESPACE: /\s+/
%ignore WHITESPACE
%ignore COMMENT
"""


@cache
def _parser() -> Lark:
    grammar = (
        _GRAMMAR.replace("__UNITS__", _UNIT_PATTERN)
        .replace("__TYPES__", "|".join(_TYPED_LITERAL_TYPES))
        .replace("__UNSUPPORTED__", "|".join(re.escape(op) for op in _UNSUPPORTED_OPERATORS))
    )
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        transformer=_Builder(),
        keep_all_tokens=True,
        maybe_placeholders=False,
    )


def parse(text: str) -> s.Query:
    """The syntax tree of ``text``; :class:`KqlError` for anything that is not supported KQL."""
    try:
        query = _read(text)
    except UnexpectedInput as error:
        raise _syntax_error(error, text) from None
    except LarkError as error:  # pragma: no cover - lark fails only with UnexpectedInput
        raise KqlError("ParserFailure", f"The query is not valid KQL: {error}", 0) from None
    _check_tree_depth(query)
    return query


def _read(text: str) -> s.Query:
    """Feed the tokens to the parser one by one, checking each before the parser takes it."""
    interactive = _parser().parse_interactive(text)
    depth = 0
    for token in interactive.iter_parse():
        if token.type == "UNSUPPORTED_OP":
            raise KqlError(
                "UnsupportedOperator",
                f"The operator '{token.value}' is not supported.",
                token.start_pos,
                token.value,
            )
        _check_not_glued(token, text)
        depth += _BRACKET_DEPTH_CHANGE.get(token.type, 0)
        if depth > MAX_BRACKET_DEPTH:
            bracket = token.end_pos - 1  # DYNAMIC_OPEN is "dynamic(": its bracket is last
            raise KqlError(
                "ParserFailure",
                f"Brackets are nested more than {MAX_BRACKET_DEPTH} levels deep.",
                bracket,
                text[bracket],
            )
    return interactive.feed_eof()


_BRACKET_DEPTH_CHANGE = {
    "LPAR": 1,
    "LSQB": 1,
    "LBRACE": 1,
    "DYNAMIC_OPEN": 1,
    "RPAR": -1,
    "RSQB": -1,
    "RBRACE": -1,
}
_WORD_CHAR = re.compile(r"[A-Za-z0-9_]")
_WORD = re.compile(r"[A-Za-z0-9_$*.!~-]*[A-Za-z0-9_]")


def _check_not_glued(token: Token, text: str) -> None:
    """A keyword or number run straight into a word (``wherex``, ``5x``) is one unknown word,
    not a keyword and a name: the contextual lexer would otherwise split it in two."""
    end = token.end_pos
    if _WORD_CHAR.match(token.value[-1:]) and _WORD_CHAR.match(text[end : end + 1]):
        word = _WORD.match(text, token.start_pos)
        raise _unexpected(text, token.start_pos, word.group() if word else token.value)


# --- failures ---------------------------------------------------------------------------


def _syntax_error(error: UnexpectedInput, text: str) -> KqlError:
    if isinstance(error, UnexpectedCharacters):
        pos = error.pos_in_stream
        if text[pos] in "'\"" or text[pos : pos + 2] in ("@'", '@"'):
            return _unterminated_string(text, pos)
        return _unexpected(text, pos, text[pos])
    token = error.token if isinstance(error, UnexpectedToken) else None
    if token is None or token.type == "$END" or token.start_pos is None:
        return _unexpected(text, len(text), None)
    return _unexpected(text, token.start_pos, str(token.value))


def _unterminated_string(text: str, pos: int) -> KqlError:
    quote = text[pos + 1] if text[pos] == "@" else text[pos]
    return KqlError(
        "ParserFailure",
        f"Unterminated string literal: the {quote} that opens it is not closed on the same line.",
        pos,
        text[pos:].split("\n", 1)[0],
    )


def _unexpected(text: str, pos: int, unexpected: str | None) -> KqlError:
    """ParserFailure for ``unexpected`` at ``pos`` (None: the end of the text), saying what
    the parser could have taken there."""
    accepted, previous = _replay(text, pos)
    expected = _expected(accepted)
    after = f" after {_quote(previous)}" if previous is not None else ""
    if unexpected is None:
        return KqlError(
            "ParserFailure", f"Unexpected end of query{after}: expected {expected}.", len(text)
        )
    message = f"Unexpected {_quote(unexpected)}{after}: expected {expected}."
    accepted_texts = {_terminal_text(name) for name in accepted}
    if unexpected.lower() in _TABULAR_KEYWORDS and "where" in accepted_texts:
        message += f" KQL is case-sensitive: write '{unexpected.lower()}'."
    elif unexpected == "=" and "==" in accepted_texts:
        message += " Compare values with ==."
    return KqlError("ParserFailure", message, pos, unexpected)


def _replay(text: str, stop: int) -> tuple[set[str], str | None]:
    """The terminals the parser can take at offset ``stop``, and the token before it, found
    by parsing the text again up to there. (Only failures pay for this.)"""
    interactive = _parser().parse_interactive(text)
    previous = None
    # the lexer stops with UnexpectedInput at ``stop``; everything before it is fed
    with suppress(UnexpectedInput):
        for token in interactive.iter_parse():
            if token.start_pos >= stop:
                break  # iter_parse feeds a token only when asked for the next one
            previous = str(token.value)
    return interactive.accepts(), previous


def _quote(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


# Terminals described by what they stand for rather than by their text.
_TERMINAL_NAMES = {
    "NAME": "a name",
    "WILD_NAME": "a column name",
    "STRING": "a string",
    "VSTRING": "a string",
    "INT": "a number",
    "REAL": "a number",
    "TIMESPAN": "a timespan",
    "TYPED_LITERAL": "a literal",
    "DYNAMIC_OPEN": "dynamic(…)",
    "$END": "the end of the query",
    "SIDE": "$left or $right",
}
_UNSAID = {"UNSUPPORTED_OP", "WHITESPACE", "COMMENT", "SEMICOLON"}
# Terminals a broader phrase ("an expression") already covers.
_EXPRESSION_START = {
    "NAME", "STRING", "VSTRING", "INT", "REAL", "TIMESPAN", "TYPED_LITERAL", "DYNAMIC_OPEN",
}  # fmt: skip
_EXPRESSION_START_TEXT = {"(", "[", "-", "+", "kind"}
_SCALAR_OPERATORS_TEXT = {"and", "or", ".", "[", "+", "-", "*", "/", "%", "matches", "<>"}
_TABULAR_KEYWORDS = {
    "where", "filter", "project", "project-away", "project-rename", "extend", "summarize",
    "order", "sort", "take", "limit", "top", "distinct", "count", "mv-expand", "parse",
    "join", "union",
}  # fmt: skip


def _expected(terminal_names: set[str]) -> str:
    """What the parser could have taken, said briefly: categories first, then a few keywords
    and symbols, the end of the query last."""
    texts = {_terminal_text(name): name for name in terminal_names - _UNSAID}
    phrases: list[str] = []
    if "union" in texts and "NAME" in terminal_names:
        phrases.append("a table name")
        texts = {t: n for t, n in texts.items() if n != "NAME"}
    if "where" in texts:
        phrases.append("a tabular operator such as where, project, extend or summarize")
        texts = {t: n for t, n in texts.items() if t not in _TABULAR_KEYWORDS}
    if {"NAME", "INT", "STRING"} <= terminal_names:
        phrases.append("an expression")
        texts = {
            t: n
            for t, n in texts.items()
            if n not in _EXPRESSION_START and t not in _EXPRESSION_START_TEXT
        }
    if "and" in texts and "==" in texts:
        phrases.append("an operator such as ==, and, or, contains or +")
        texts = {t: n for t, n in texts.items() if not _is_scalar_operator(t)}
    described = sorted({_TERMINAL_NAMES.get(n) or f"'{t}'" for t, n in texts.items()})
    described.sort(key=lambda phrase: phrase == "the end of the query")
    if len(described) > 8:
        described = [*described[:7], "…"]
    phrases += described
    if not phrases:
        return "nothing more"
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _is_scalar_operator(text: str) -> bool:
    return (
        text in _SCALAR_OPERATORS_TEXT
        or text in _COMPARISONS
        or text in _LIST_OPERATORS
        or text in ("between", "!between")
    )


@cache
def _terminal_texts() -> dict[str, str]:
    return {
        terminal.name: terminal.pattern.value
        for terminal in _parser().terminals
        if terminal.pattern.type == "str"
    }


def _terminal_text(name: str) -> str:
    return _terminal_texts().get(name, name)


def _check_tree_depth(query: s.Query) -> None:
    """Refuse trees deeper than MAX_TREE_DEPTH, walking with an explicit stack."""
    pending: list[tuple[Any, int]] = [(query, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_TREE_DEPTH:
            raise KqlError(
                "ParserFailure",
                f"The query nests expressions more than {MAX_TREE_DEPTH} levels deep; "
                "split long chains of and/or into in (…) lists or several where operators.",
                getattr(node, "pos", 0),
            )
        for child in _children(node):
            pending.append((child, depth + 1))


_NODE_TYPES = (
    s.Literal, s.Column, s.Member, s.Index, s.Call, s.Star, s.Unary, s.Binary, s.InList,
    s.Between, s.Assignment, s.Where, s.Project, s.ProjectAway, s.ProjectRename, s.Extend,
    s.Summarize, s.SortKey, s.Sort, s.Take, s.Top, s.Distinct, s.Count, s.MvExpand,
    s.ParsePart, s.Parse, s.JoinKey, s.Join, s.Union, s.Table, s.Query,
)  # fmt: skip


def _children(node: Any) -> list[Any]:
    if isinstance(node, s.Literal):
        return []  # a dynamic value is data, and its nesting is bounded by brackets
    found = []
    for field_name in node.__slots__:
        value = getattr(node, field_name)
        if isinstance(value, _NODE_TYPES):
            found.append(value)
        elif isinstance(value, tuple):
            found.extend(item for item in value if isinstance(item, _NODE_TYPES))
    return found


# --- literals ---------------------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0"}
_MAX_LONG = 2**63 - 1
_DATETIME = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?"
)
_TIMESPAN_SHORTHAND = re.compile(rf"([+-]?)(\d+(?:\.\d+)?)\s*({_UNIT_PATTERN})", re.IGNORECASE)
_TIMESPAN_CLOCK = re.compile(r"([+-]?)(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Type names as queries write them, to the Literal kinds of syntax.py.
_TYPE_KINDS = {
    "string": "string",
    "guid": "string",
    "long": "long",
    "int": "long",
    "real": "real",
    "double": "real",
    "decimal": "real",
    "bool": "bool",
    "boolean": "bool",
    "datetime": "datetime",
    "date": "datetime",
    "timespan": "timespan",
    "time": "timespan",
    "dynamic": "dynamic",
}


def _literal_error(message: str, token: Token) -> KqlError:
    return KqlError("ParserFailure", message, token.start_pos, token.value)


def _string_value(token: Token) -> str:
    """The text of a quoted string, its escapes resolved."""
    unprefixed = token.value.lstrip("hH")
    body = unprefixed[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        escape = body[index + 1]
        if escape in _ESCAPES:
            out.append(_ESCAPES[escape])
            index += 2
        elif escape == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[index + 2 : index + 6]):
            out.append(chr(int(body[index + 2 : index + 6], 16)))
            index += 6
        else:
            raise KqlError(
                "ParserFailure",
                f"Unknown escape sequence '\\{escape}' in a string; escape the backslash "
                f"('\\\\{escape}') or use a verbatim string (@'…').",
                # where the backslash is: after the prefix and the opening quote
                token.start_pos + len(token.value) - len(unprefixed) + 1 + index,
                "\\" + escape,
            )
    return "".join(out)


def _verbatim_value(token: Token) -> str:
    """The text of ``@'…'``: backslashes are themselves, a doubled quote is one quote."""
    quoted = token.value.lstrip("hH")[1:]
    quote = quoted[0]
    return quoted[1:-1].replace(quote * 2, quote)


def _long_value(text: str, token: Token) -> int:
    digits = text.lstrip("+-")
    hexadecimal = digits[:2].lower() == "0x"
    if len(digits) > (18 if hexadecimal else 19):
        raise _literal_error(f"The number {_quote(token.value)} is too large for a long.", token)
    value = int(digits, 16) if hexadecimal else int(digits)
    value = -value if text.startswith("-") else value
    if not -_MAX_LONG - 1 <= value <= _MAX_LONG:
        raise _literal_error(f"The number {_quote(token.value)} is too large for a long.", token)
    return value


def _real_value(text: str, token: Token) -> float:
    lowered = text.lower()
    if lowered in ("nan", "+inf", "-inf", "inf"):
        return float(lowered)
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _literal_error(f"The number {_quote(token.value)} is too large for a real.", token)
    return value


def _timespan_value(text: str, token: Token) -> timedelta:
    """``2d``, ``1.5h``, ``15 seconds``, ``2`` (days) or ``1.02:03:04.5``."""
    try:
        shorthand = _TIMESPAN_SHORTHAND.fullmatch(text)
        if shorthand:
            sign, number, unit = shorthand.groups()
            return _signed(sign, _span(float(number), _TIMESPAN_UNITS[unit.lower()]))
        clock = _TIMESPAN_CLOCK.fullmatch(text)
        if clock:
            sign, days, hours, minutes, seconds, fraction = clock.groups()
            span = timedelta(
                days=int(days or 0),
                hours=int(hours),
                minutes=int(minutes),
                seconds=int(seconds or 0),
                microseconds=_microseconds(fraction),
            )
            return _signed(sign, span)
        if _NUMBER.fullmatch(text):
            return timedelta(days=float(text))
    except (OverflowError, ValueError):
        raise _literal_error(
            f"The timespan {_quote(token.value)} is out of range.", token
        ) from None
    raise _literal_error(
        f"{_quote(token.value)} is not a timespan; write for example 1d, 2h, 30m, 10s, 100ms "
        "or time(1.02:03:04).",
        token,
    )


def _span(number: float, unit: str) -> timedelta:
    if unit == "ticks":
        return timedelta(microseconds=number / 10)
    return timedelta(**{unit: number})


def _signed(sign: str, span: timedelta) -> timedelta:
    return -span if sign == "-" else span


def _microseconds(fraction: str | None) -> int:
    return int((fraction or "0").ljust(6, "0")[:6])


def _datetime_value(text: str, token: Token) -> datetime:
    """ISO 8601 dates and times (``2024-01-01``, ``2024-01-01T10:00:00Z``,
    ``2024-01-01 10:00``, with an optional offset), as an aware UTC datetime."""
    found = _DATETIME.fullmatch(text)
    # a text of the right shape can still name no instant (2024-02-30): the error below
    with suppress(OverflowError, ValueError):
        if found:
            year, month, day, hour, minute, second, fraction, zone = found.groups()
            moment = datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                _microseconds(fraction),
                tzinfo=UTC,
            )
            return moment - _utc_offset(zone)
    raise _literal_error(
        f"{_quote(token.value)} is not a valid datetime; write for example datetime(2024-01-31) "
        "or datetime(2024-01-31T10:00:00Z).",
        token,
    )


def _utc_offset(zone: str | None) -> timedelta:
    if not zone or zone in "Zz":
        return timedelta()
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return -offset if zone[0] == "-" else offset


def _typed_literal(token: Token) -> s.Literal:
    """``datetime(…)``, ``long(…)``, ``time(…)``, ``guid(…)`` and the other typed forms."""
    type_name, _, rest = token.value.partition("(")
    type_name = type_name.strip()
    text = rest[:-1].strip()
    kind = _TYPE_KINDS[type_name]
    pos = token.start_pos
    if text == "null":
        return s.Literal(None, kind, pos)
    match kind:
        case "long" if re.fullmatch(r"[+-]?(?:\d+|0[xX][0-9a-fA-F]+)", text):
            return s.Literal(_long_value(text, token), kind, pos)
        case "real" if _NUMBER.fullmatch(text) or text.lower() in ("nan", "+inf", "-inf"):
            return s.Literal(_real_value(text, token), kind, pos)
        case "bool" if text.lower() in ("true", "false"):
            return s.Literal(text.lower() == "true", kind, pos)
        case "datetime":
            return s.Literal(_datetime_value(text, token), kind, pos)
        case "timespan":
            return s.Literal(_timespan_value(text, token), kind, pos)
        case "string" if _GUID.fullmatch(text):
            return s.Literal(text, kind, pos)
    raise _literal_error(f"{_quote(token.value)} is not a valid {type_name} literal.", token)


# --- building the tree ------------------------------------------------------------------


class _Name(NamedTuple):
    """A name as written (``kind``, ``['my column']``) and where it starts."""

    text: str
    pos: int


@dataclass(frozen=True)
class _Clause:
    """An optional clause on its way into its operator: ``by …``, ``to typeof(…)``, ``limit n``."""

    kind: str
    value: Any


_JOIN_KINDS = {
    "inner": "inner",
    "innerunique": "innerunique",
    "leftouter": "leftouter",
    "rightouter": "rightouter",
    "fullouter": "fullouter",
    "leftanti": "leftanti",
    "leftantisemi": "leftanti",
    "leftsemi": "leftsemi",
    "rightanti": "rightanti",
    "rightantisemi": "rightanti",
    "rightsemi": "rightsemi",
}
_UNION_KINDS = {"inner": "inner", "outer": "outer"}
_PARSE_KINDS = {"simple": "simple", "regex": "regex", "relaxed": "relaxed"}
_COMPARISONS = {
    "==", "!=", "<", ">", "<=", ">=", "=~", "!~", "contains", "!contains", "contains_cs",
    "!contains_cs", "has", "!has", "has_cs", "!has_cs", "startswith", "!startswith",
    "startswith_cs", "!startswith_cs", "endswith", "!endswith", "endswith_cs", "!endswith_cs",
    "hasprefix", "!hasprefix", "hassuffix", "!hassuffix",
}  # fmt: skip
_LIST_OPERATORS = {"in", "!in", "in~", "!in~", "has_any", "has_all"}


def _nodes(children: list[Any]) -> list[Any]:
    """The children that are values, without the keyword and punctuation tokens."""
    return [child for child in children if not isinstance(child, Token)]


def _choice(param: Token | tuple[Token, Token], allowed: dict[str, str], what: str) -> str:
    value = param[1] if isinstance(param, tuple) else param
    if value.value not in allowed:
        raise KqlError(
            "ParserFailure",
            f"'{value.value}' is not a {what}; use one of: {', '.join(sorted(allowed))}.",
            value.start_pos,
            value.value,
        )
    return allowed[value.value]


def _type_name(token: Token) -> str:
    if token.value not in _TYPE_KINDS:
        raise KqlError(
            "ParserFailure",
            f"'{token.value}' is not a type; use one of: {', '.join(sorted(_TYPE_KINDS))}.",
            token.start_pos,
            token.value,
        )
    return token.value  # as written: the evaluator knows int from long


class _Builder(Transformer):
    """Called by the LALR parser as it reduces each rule: builds syntax.py nodes directly,
    so no intermediate parse tree is ever made."""

    # --- queries and tabular operators ---

    def start(self, children: list[Any]) -> s.Query:
        return children[0]

    def query(self, children: list[Any]) -> s.Query:
        source, *operators = _nodes(children)
        return s.Query(source, tuple(operators), source.pos)

    def table(self, children: list[Any]) -> s.Table:
        (name,) = children
        return s.Table(name.value.lower(), name.start_pos)

    def where(self, children: list[Any]) -> s.Where:
        keyword, predicate = children
        return s.Where(predicate, keyword.start_pos)

    def project(self, children: list[Any]) -> s.Project:
        return s.Project(tuple(_nodes(children)), children[0].start_pos)

    def project_away(self, children: list[Any]) -> s.ProjectAway:
        names = [
            child.text if isinstance(child, _Name) else child.value for child in children[1::2]
        ]
        return s.ProjectAway(tuple(names), children[0].start_pos)

    def project_rename(self, children: list[Any]) -> s.ProjectRename:
        return s.ProjectRename(tuple(_nodes(children)), children[0].start_pos)

    def rename(self, children: list[Any]) -> tuple[str, str]:
        new, _, old = children
        return (new.text, old.text)

    def extend(self, children: list[Any]) -> s.Extend:
        return s.Extend(tuple(_nodes(children)), children[0].start_pos)

    def summarize(self, children: list[Any]) -> s.Summarize:
        parts = _nodes(children)
        by = parts.pop().value if parts and isinstance(parts[-1], _Clause) else ()
        return s.Summarize(tuple(parts), by, children[0].start_pos)

    def by_clause(self, children: list[Any]) -> _Clause:
        return _Clause("by", tuple(_nodes(children)))

    def sort(self, children: list[Any]) -> s.Sort:
        return s.Sort(tuple(_nodes(children)), children[0].start_pos)

    def sort_key(self, children: list[Any]) -> s.SortKey:
        expr, *modifiers = children
        words = [token.value for token in modifiers]
        nulls_first = None
        if "nulls" in words:
            nulls_first = words[-1] == "first"
        return s.SortKey(expr, "asc" not in words, nulls_first, expr.pos)

    def take(self, children: list[Any]) -> s.Take:
        keyword, count = children
        return s.Take(count, keyword.start_pos)

    def top(self, children: list[Any]) -> s.Top:
        keyword, count, _, key = children
        return s.Top(count, key, keyword.start_pos)

    def distinct(self, children: list[Any]) -> s.Distinct:
        return s.Distinct(tuple(_nodes(children)), children[0].start_pos)

    def count(self, children: list[Any]) -> s.Count:
        return s.Count(children[0].start_pos)

    def mv_expand(self, children: list[Any]) -> s.MvExpand:
        parts = _nodes(children)
        clauses = {part.kind: part.value for part in parts if isinstance(part, _Clause)}
        columns = tuple(part for part in parts if not isinstance(part, _Clause))
        return s.MvExpand(
            columns, clauses.get("to_type"), clauses.get("limit"), children[0].start_pos
        )

    def mv_to_type(self, children: list[Any]) -> _Clause:
        return _Clause("to_type", _type_name(children[3]))

    def mv_limit(self, children: list[Any]) -> _Clause:
        return _Clause("limit", _long_value(children[1].value, children[1]))

    def parse(self, children: list[Any]) -> s.Parse:
        keyword, *rest = children
        kind = "simple"
        if isinstance(rest[0], tuple):
            kind = _choice(rest.pop(0), _PARSE_KINDS, "parse kind")
        source, _, *pattern = rest
        return s.Parse(source, tuple(pattern), kind, keyword.start_pos)

    def pattern_text(self, children: list[Any]) -> s.ParsePart:
        (token,) = children
        text = _verbatim_value(token) if token.type == "VSTRING" else _string_value(token)
        return s.ParsePart(text=text)

    def pattern_skip(self, children: list[Any]) -> s.ParsePart:
        return s.ParsePart()

    def pattern_column(self, children: list[Any]) -> s.ParsePart:
        column_type = _type_name(children[2]) if len(children) == 3 else None
        return s.ParsePart(column=children[0].value, type=column_type)

    def join(self, children: list[Any]) -> s.Join:
        keyword, *rest = children
        kind = "innerunique"
        if isinstance(rest[0], tuple):
            kind = _choice(rest.pop(0), _JOIN_KINDS, "join kind")
        right, *keys = _nodes(rest)
        return s.Join(_as_query(right), tuple(keys), kind, keyword.start_pos)

    def join_key(self, children: list[Any]) -> s.JoinKey:
        if len(children) == 1:
            (name,) = children
            return s.JoinKey(name.text, name.text, name.pos)
        first_side, _, first, _, second_side, _, second = children
        if first_side.value == second_side.value:
            raise KqlError(
                "ParserFailure",
                "A join condition compares a column of $left with a column of $right.",
                second_side.start_pos,
                second_side.value,
            )
        if first_side.value == "$left":
            return s.JoinKey(first.text, second.text, first_side.start_pos)
        return s.JoinKey(second.text, first.text, first_side.start_pos)

    def union(self, children: list[Any]) -> s.Union:
        keyword, *rest = children
        params: dict[str, Token] = {}
        legs = []
        for part in _nodes(rest):
            if isinstance(part, tuple):
                label, value = part
                if label.value in params:
                    raise KqlError(
                        "ParserFailure",
                        f"union takes {label.value}= only once.",
                        label.start_pos,
                        label.value,
                    )
                params[label.value] = value
            else:
                legs.append(_as_query(part))
        kind = _choice(params["kind"], _UNION_KINDS, "union kind") if "kind" in params else "outer"
        withsource = params["withsource"].value if "withsource" in params else None
        return s.Union(tuple(legs), kind, withsource, keyword.start_pos)

    def kind_param(self, children: list[Any]) -> tuple[Token, Token]:
        label, _, value = children
        return (label, value)

    withsource_param = kind_param

    def leg(self, children: list[Any]) -> s.Query:
        return children[1]

    # --- assignments and names ---

    def named_assignment(self, children: list[Any]) -> s.Assignment:
        name, _, expr = children
        return s.Assignment(expr, name.text, name.pos)

    def assignment(self, children: list[Any]) -> s.Assignment:
        (expr,) = children
        return s.Assignment(expr, None, expr.pos)

    def name(self, children: list[Any]) -> _Name:
        (name,) = children
        return name if isinstance(name, _Name) else _Name(name.value, name.start_pos)

    def bracket_name(self, children: list[Any]) -> _Name:
        bracket, token, _ = children
        text = _verbatim_value(token) if token.type == "VSTRING" else _string_value(token)
        return _Name(text, bracket.start_pos)

    # --- expressions ---

    def binary(self, children: list[Any]) -> s.Binary:
        left, op, right = children
        return s.Binary("!=" if op.value == "<>" else op.value, left, right, left.pos)

    def matches_regex(self, children: list[Any]) -> s.Binary:
        left, _, _, right = children
        return s.Binary("matches regex", left, right, left.pos)

    def in_list(self, children: list[Any]) -> s.InList:
        operand, op, *rest = children
        return s.InList(op.value, operand, tuple(_nodes(rest)), operand.pos)

    def between(self, children: list[Any]) -> s.Between:
        operand, op, _, low, _, high, _ = children
        return s.Between(operand, low, high, op.value == "!between", operand.pos)

    def unary(self, children: list[Any]) -> s.Expression:
        op, operand = children
        # A signed number is a literal: ``-1`` is the long -1, as Kusto reads it.
        if isinstance(operand, s.Literal) and operand.kind in ("long", "real", "timespan"):
            if operand.value is not None and op.value == "-":
                return s.Literal(-operand.value, operand.kind, op.start_pos)
            return s.Literal(operand.value, operand.kind, op.start_pos)
        return s.Unary(op.value, operand, op.start_pos)

    def member(self, children: list[Any]) -> s.Member:
        target, _, name = children
        return s.Member(target, name.value, target.pos)

    def index(self, children: list[Any]) -> s.Index:
        target, _, key, _ = children
        return s.Index(target, key, target.pos)

    def parenthesised(self, children: list[Any]) -> s.Expression:
        return children[1]

    def column(self, children: list[Any]) -> s.Expression:
        (name,) = children
        if isinstance(name, _Name):
            return s.Column(name.text, name.pos)
        if name.value in ("true", "false"):
            return s.Literal(name.value == "true", "bool", name.start_pos)
        return s.Column(name.value, name.start_pos)

    def call(self, children: list[Any]) -> s.Call:
        name, *rest = children
        return s.Call(name.value, tuple(_nodes(rest)), name.start_pos)

    def star(self, children: list[Any]) -> s.Star:
        return s.Star(children[0].start_pos)

    # --- literals ---

    def string(self, children: list[Any]) -> s.Literal:
        (token,) = children
        return s.Literal(_string_value(token), "string", token.start_pos)

    def verbatim(self, children: list[Any]) -> s.Literal:
        (token,) = children
        return s.Literal(_verbatim_value(token), "string", token.start_pos)

    def long(self, children: list[Any]) -> s.Literal:
        (token,) = children
        return s.Literal(_long_value(token.value, token), "long", token.start_pos)

    def real(self, children: list[Any]) -> s.Literal:
        (token,) = children
        return s.Literal(_real_value(token.value, token), "real", token.start_pos)

    def timespan(self, children: list[Any]) -> s.Literal:
        (token,) = children
        return s.Literal(_timespan_value(token.value, token), "timespan", token.start_pos)

    def typed(self, children: list[Any]) -> s.Literal:
        return _typed_literal(children[0])

    def dynamic(self, children: list[Any]) -> s.Literal:
        opening, value, _ = children
        if value is None:
            return s.Literal(None, "null", opening.start_pos)
        return s.Literal(value, "dynamic", opening.start_pos)

    def json_array(self, children: list[Any]) -> list[Any]:
        return list(children[1:-1:2])

    def json_object(self, children: list[Any]) -> dict[str, Any]:
        return dict(children[1:-1:2])

    def json_pair(self, children: list[Any]) -> tuple[str, Any]:
        key, _, value = children
        return (key, value)

    def json_string(self, children: list[Any]) -> str:
        (token,) = children
        return _verbatim_value(token) if token.type == "VSTRING" else _string_value(token)

    def json_number(self, children: list[Any]) -> int | float:
        text = "".join(token.value for token in children)
        number = children[-1]
        if number.type == "REAL":
            return _real_value(text, number)
        return _long_value(text, number)

    def json_constant(self, children: list[Any]) -> bool | None:
        return {"true": True, "false": False, "null": None}[children[0].value]


def _as_query(leg: s.Query | s.Table) -> s.Query:
    """A join or union leg written as a bare table name is the query of that table."""
    return leg if isinstance(leg, s.Query) else s.Query(leg, (), leg.pos)
