"""az's shorthand syntax for structured arguments.

A value is JSON, or JSON without the quotes (``{k1:[v1,v2],k2:v3}``, ``[a,b]``), with
single quotes around text that contains ``, : { } [ ]``. Objects may also be given as
``key=value`` words; a key for a list may repeat to add elements, as az's singular keys do.
"""

from __future__ import annotations

import json
import re
from typing import Any

from upkeep.cli.errors import CliError


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _parse_shorthand(text)


def _parse_shorthand(text: str) -> Any:
    parser = _Parser(text)
    value = parser.value()
    parser.expect_end()
    return value


class _Parser:
    _STOP = set(",:]}")

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def fail(self, what: str) -> CliError:
        return CliError(f"Cannot read '{self.text}': {what} at position {self.at + 1}.")

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def expect_end(self) -> None:
        if self.at != len(self.text):
            raise self.fail("unexpected text")

    def value(self) -> Any:
        char = self.peek()
        if char == "{":
            return self._object()
        if char == "[":
            return self._array()
        return self._scalar()

    def _object(self) -> dict[str, Any]:
        self.at += 1
        result: dict[str, Any] = {}
        while self.peek() != "}":
            key = self._scalar()
            if self.peek() != ":":
                raise self.fail("expected ':'")
            self.at += 1
            result[str(key)] = self.value()
            if self.peek() == ",":
                self.at += 1
            elif self.peek() != "}":
                raise self.fail("expected ',' or '}'")
        self.at += 1
        return result

    def _array(self) -> list[Any]:
        self.at += 1
        result: list[Any] = []
        while self.peek() != "]":
            result.append(self.value())
            if self.peek() == ",":
                self.at += 1
            elif self.peek() != "]":
                raise self.fail("expected ',' or ']'")
        self.at += 1
        return result

    def _scalar(self) -> Any:
        if self.peek() == "'":
            self.at += 1
            chars = []
            while self.peek() not in ("'", ""):
                if self.peek() == "/" and self.at + 1 < len(self.text):
                    self.at += 1
                chars.append(self.peek())
                self.at += 1
            if self.peek() != "'":
                raise self.fail("unclosed quote")
            self.at += 1
            return "".join(chars)
        start = self.at
        while self.peek() and self.peek() not in self._STOP:
            self.at += 1
        word = self.text[start : self.at].strip()
        if not word:
            raise self.fail("expected a value")
        return None if word == "null" else word


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _kebab(key: str) -> str:
    return _CAMEL.sub("-", key).replace("_", "-").lower()


def parse_object(
    words: list[str], fields: dict[str, tuple[str, type]], flag: str
) -> dict[str, Any]:
    """``key=value`` words (or one full value) into a wire object.

    ``fields`` maps each kebab-case key to its wire name and type (``list`` or ``bool``);
    az's ``…-list`` spellings and the wire names themselves are accepted too.
    """
    if len(words) == 1 and words[0].lstrip().startswith("{"):
        pairs = list(parse_value(words[0]).items())
    else:
        pairs = []
        for word in words:
            key, equals, value = word.partition("=")
            if not equals:
                raise CliError(f"{flag}: '{word}' is not key=value")
            pairs.append((key, value))
    result: dict[str, Any] = {}
    for key, value in pairs:
        name = _kebab(key).removesuffix("-list")
        if name not in fields:
            known = ", ".join(sorted(fields))
            raise CliError(f"{flag}: unknown key '{key}'; the keys are {known}")
        wire, kind = fields[name]
        if kind is bool:
            result[wire] = _boolean(value, flag, key)
        else:
            result.setdefault(wire, []).extend(_items(value))
    return result


def parse_mapping(words: list[str], flag: str) -> dict[str, Any]:
    """``k[=v]`` words, or one full value, into a dict (tags, extension properties, tag
    filters). A key without a value gets an empty one, as ``az``'s ``--tags`` does."""
    if len(words) == 1 and words[0].lstrip().startswith("{"):
        value = parse_value(words[0])
        if not isinstance(value, dict):
            raise CliError(f"{flag}: expected an object")
        return value
    result: dict[str, Any] = {}
    for word in words:
        key, _, value = word.partition("=")
        if not key:
            raise CliError(f"{flag}: '{word}' is not key=value")
        result[key] = parse_value(value) if value.startswith(("[", "{")) else value
    return result


def parse_list(words: list[str]) -> list[str]:
    """Space-separated words, or one ``[a,b]`` value."""
    items: list[str] = []
    for word in words:
        items.extend(_items(word))
    return items


def _items(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    text = str(value).strip()
    if text.startswith("["):
        parsed = parse_value(text)
        return parsed if isinstance(parsed, list) else [parsed]
    return [item.strip() for item in text.split(",") if item.strip()]


def _boolean(value: Any, flag: str, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "y", "t", "1"):
        return True
    if text in ("false", "no", "n", "f", "0"):
        return False
    raise CliError(f"{flag}: '{value}' for {key} is not true or false")
