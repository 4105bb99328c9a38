"""Reading JSON files as leniently as the real host (Json.NET) reads them.

function.json, host.json and local.settings.json in public apps carry trailing commas,
``//`` and ``/* */`` comments and UTF-8 byte order marks, all of which Json.NET accepts.
Strict JSON is tried first (no cost for clean files); only a file it refuses goes through
``json5``, whose grammar covers what Json.NET tolerates. A file neither accepts is reported
with its path, line and column.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_JSON5_POSITION = re.compile(r"^<string>:(?P<line>\d+) (?P<reason>.*?)(?: at column (?P<column>\d+))?$", re.DOTALL)


class JsonFileError(ValueError):
    """A JSON file cannot be read; ``str()`` names the file, line and column."""

    def __init__(self, path: Path, reason: str, line: int | None = None, column: int | None = None) -> None:
        self.path = path
        self.reason = reason
        self.line = line
        self.column = column
        super().__init__(f"{path}: {self.detail}")

    @property
    def detail(self) -> str:
        """The reason and where in the file: ``Unexpected "}" at line 3, column 5``."""
        if self.line is None:
            return self.reason
        column = f", column {self.column}" if self.column is not None else ""
        return f"{self.reason} at line {self.line}{column}"


def parse_json_text(text: str, path: Path) -> Any:
    """Parse ``text`` (read from ``path``) strictly, else leniently; raise JsonFileError."""
    text = text.lstrip("\ufeff")
    try:
        return json.loads(text)
    except json.JSONDecodeError as strict_error:
        try:
            import json5
        except ImportError:  # a broken install: report the strict parser's error
            raise JsonFileError(path, strict_error.msg, strict_error.lineno, strict_error.colno) from None
        try:
            return json5.loads(text)
        except ValueError as error:
            match = _JSON5_POSITION.match(str(error))
            if match is None:
                raise JsonFileError(path, str(error), strict_error.lineno, strict_error.colno) from None
            column = match.group("column")
            raise JsonFileError(
                path, match.group("reason"), int(match.group("line")), int(column) if column else None
            ) from None


def read_json_file(path: Path) -> Any:
    """Read and parse a JSON file leniently (comments, trailing commas, a BOM)."""
    return parse_json_text(path.read_text(encoding="utf-8-sig"), path)
