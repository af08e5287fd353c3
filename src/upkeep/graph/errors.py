"""How a query fails: one exception that knows where in the text the problem is.

The endpoint turns a :class:`KqlError` into Resource Graph's 400: ``BadRequest`` with an
``InvalidQuery`` detail and a detail naming the problem, its line and its column.
"""

from __future__ import annotations


class KqlError(Exception):
    """A query that cannot run, and where: ``pos`` is a 0-based offset into the text.

    ``code`` says what kind of problem: ``ParserFailure`` (not KQL), ``UnsupportedOperator``
    or ``UnsupportedFunction`` (KQL that Upkeep does not run), ``UnknownColumn``,
    ``UnknownTable``, ``InvalidArgument`` (wrong arguments or types), ``QueryLimit``
    (the query would exceed a row, size or time limit).
    """

    def __init__(self, code: str, message: str, pos: int, token: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.pos = pos
        self.token = token

    def location(self, text: str) -> tuple[int, int]:
        """(line, column), both 1-based, of ``pos`` in ``text``."""
        before = text[: max(0, min(self.pos, len(text)))]
        line = before.count("\n") + 1
        column = self.pos - (before.rfind("\n") + 1) + 1
        return line, column

    def __repr__(self) -> str:
        return f"KqlError({self.code!r}, {self.message!r}, pos={self.pos})"
