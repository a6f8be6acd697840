"""Source locations and the CompileError every front end, pass and verifier raises.

A :class:`Location` is a file name plus 1-based line and column. A :class:`CompileError` renders as
``file:line:col: error: message`` followed by the source line and a caret under the column, so a
user can see where the DSL or IR text went wrong.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Location:
    file: str = "<string>"
    line: int = 0
    column: int = 0
    source_line: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


UNKNOWN_LOC = Location("<unknown>", 0, 0)


class CompileError(Exception):
    """A compile-time error with a location, the offending source line and a caret."""

    def __init__(self, message: str, loc: Location | None = None):
        self.message = message
        self.loc = loc or UNKNOWN_LOC
        self.file = self.loc.file
        self.line = self.loc.line
        self.column = self.loc.column
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"{self.loc}: error: {self.message}" if self.loc.line else f"error: {self.message}"
        src = self.loc.source_line
        if src is None or not self.loc.line:
            return head
        src = src.rstrip("\n")
        # The caret goes under the column; tabs are kept so it lines up in a terminal.
        pad = "".join("\t" if ch == "\t" else " " for ch in src[: max(self.loc.column - 1, 0)])
        return f"{head}\n{src}\n{pad}^"


@lru_cache(maxsize=8)
def _lines(text: str) -> list[str]:
    return text.splitlines()


def location_in(text: str, file: str, line: int, column: int) -> Location:
    """A Location that carries the source line, for caret rendering."""
    lines = _lines(text)
    src = lines[line - 1] if 0 < line <= len(lines) else None
    return Location(file, line, column, src)
