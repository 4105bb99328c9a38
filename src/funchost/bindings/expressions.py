"""Binding expressions: ``{name}``, ``{data.id}``, ``{rand-guid}``, ``{DateTime:yyyy}``, ``%Setting%``.

Names resolve case-insensitively from the trigger's binding data (route and query values,
blob path captures, ``queueTrigger``, and the properties of a JSON payload).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from funchost.config import AppSettings

_EXPRESSION = re.compile(r"\{([^{}]+)\}")

DEFAULT_DATETIME_FORMAT = "yyyy-MM-ddTHH-mm-ssK"


class ExpressionError(Exception):
    """An expression cannot be resolved; the message names it."""


def _offset(moment: datetime) -> str:
    text = moment.strftime("%z") or "+0000"
    return f"{text[:3]}:{text[3:]}"


# .NET custom date and time format specifiers we support, longest first.
_DOTNET_FORMATS: list[tuple[str, Callable[[datetime], str]]] = [
    ("yyyy", lambda d: f"{d.year:04d}"),
    ("yy", lambda d: f"{d.year % 100:02d}"),
    ("MMMM", lambda d: d.strftime("%B")),
    ("MMM", lambda d: d.strftime("%b")),
    ("MM", lambda d: f"{d.month:02d}"),
    ("M", lambda d: str(d.month)),
    ("dddd", lambda d: d.strftime("%A")),
    ("ddd", lambda d: d.strftime("%a")),
    ("dd", lambda d: f"{d.day:02d}"),
    ("d", lambda d: str(d.day)),
    ("HH", lambda d: f"{d.hour:02d}"),
    ("H", lambda d: str(d.hour)),
    ("hh", lambda d: f"{(d.hour % 12) or 12:02d}"),
    ("h", lambda d: str((d.hour % 12) or 12)),
    ("mm", lambda d: f"{d.minute:02d}"),
    ("m", lambda d: str(d.minute)),
    ("ss", lambda d: f"{d.second:02d}"),
    ("s", lambda d: str(d.second)),
    ("fffffff", lambda d: f"{d.microsecond:06d}0"),
    ("ffffff", lambda d: f"{d.microsecond:06d}"),
    ("fff", lambda d: f"{d.microsecond // 1000:03d}"),
    ("ff", lambda d: f"{d.microsecond // 10000:02d}"),
    ("f", lambda d: str(d.microsecond // 100000)),
    ("tt", lambda d: "AM" if d.hour < 12 else "PM"),
    ("K", lambda d: "Z" if not d.utcoffset() else _offset(d)),
    ("zzz", lambda d: _offset(d)),
]


def format_dotnet_datetime(moment: datetime, pattern: str) -> str:
    """Format like .NET's ``DateTime.ToString(pattern)`` for the common custom specifiers."""
    if pattern == "o":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
    output = []
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char in "'\"":
            end = pattern.find(char, position + 1)
            end = len(pattern) if end == -1 else end
            output.append(pattern[position + 1 : end])
            position = end + 1
            continue
        if char == "\\" and position + 1 < len(pattern):
            output.append(pattern[position + 1])
            position += 2
            continue
        for token, render in _DOTNET_FORMATS:
            if pattern.startswith(token, position):
                output.append(render(moment))
                position += len(token)
                break
        else:
            output.append(char)
            position += 1
    return "".join(output)


class BindingData:
    """The values an expression can name, looked up case-insensitively."""

    def __init__(self, values: Mapping[str, Any], payload: Any = None, method_name: str = "") -> None:
        self._values = {k.lower(): v for k, v in values.items()}
        self._payload = payload
        self.method_name = method_name

    @classmethod
    def from_json_text(cls, values: Mapping[str, Any], text: str | bytes | None, method_name: str = "") -> BindingData:
        """Binding data whose payload (a queue message or HTTP body) may be a JSON object."""
        payload = None
        if text:
            try:
                parsed = json.loads(text)
            except (ValueError, UnicodeDecodeError):
                parsed = None
            if isinstance(parsed, dict):
                payload = parsed
        return cls(values, payload, method_name)

    def lookup(self, name: str) -> Any:
        """The value ``name`` (``a`` or ``a.b.c``) stands for, or None.

        A JSON payload's own properties win over the trigger's built-in data of the same name,
        as in the WebJobs SDK, which merges the payload's binding data over the built-in one.
        """
        parts = name.split(".")
        head = parts[0].lower()
        node: Any = None
        if isinstance(self._payload, dict):
            node = _get_ci(self._payload, parts[0])
        if node is None:
            node = self._values.get(head)
        for part in parts[1:]:
            if isinstance(node, str):
                try:
                    node = json.loads(node)
                except ValueError:
                    return None
            node = _get_ci(node, part) if isinstance(node, dict) else None
        return node


def _get_ci(mapping: dict[str, Any], key: str) -> Any:
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    return next((v for k, v in mapping.items() if k.lower() == lowered), None)


def resolve(template: str, data: BindingData, settings: AppSettings, *, now: datetime | None = None) -> str:
    """Resolve ``%Setting%`` first, then every ``{expression}``; raise ExpressionError."""
    try:
        text = settings.resolve(template)
    except KeyError as error:
        raise ExpressionError(str(error)) from None
    moment = now or datetime.now(timezone.utc)

    def replace(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        name, _, fmt = expression.partition(":")
        key = name.strip().lower()
        if key in ("rand-guid", "sys.randguid"):
            return str(uuid.uuid4()) if not fmt or fmt.upper() == "D" else _guid_format(fmt)
        if key in ("datetime", "sys.utcnow"):
            value = data.lookup("DateTime") if key == "datetime" else None
            if isinstance(value, datetime):
                return format_dotnet_datetime(value, fmt or DEFAULT_DATETIME_FORMAT)
            return format_dotnet_datetime(moment, fmt or DEFAULT_DATETIME_FORMAT)
        if key == "sys.methodname":
            return data.method_name
        value = data.lookup(name.strip())
        if value is None:
            raise ExpressionError(
                f"No value for named parameter '{name.strip()}' in the binding expression '{template}'."
            )
        if isinstance(value, datetime):
            return format_dotnet_datetime(value, fmt or DEFAULT_DATETIME_FORMAT)
        if isinstance(value, bool):
            return "True" if value else "False"
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return str(value)

    return _EXPRESSION.sub(replace, text)


def _guid_format(fmt: str) -> str:
    value = uuid.uuid4()
    return {"N": value.hex, "B": "{" + str(value) + "}", "P": "(" + str(value) + ")"}.get(fmt.upper(), str(value))


def compile_blob_pattern(path: str) -> re.Pattern[str]:
    """``container/{name}.{ext}`` -> a regex over ``container/blob``; each ``{x}`` is greedy."""
    parts = []
    position = 0
    for match in _EXPRESSION.finditer(path):
        parts.append(re.escape(path[position : match.start()]))
        parts.append(f"(?P<{match.group(1).strip()}>.*)")
        position = match.end()
    parts.append(re.escape(path[position:]))
    return re.compile("^" + "".join(parts) + "$", re.DOTALL)


def split_blob_path(path: str) -> tuple[str, str]:
    """``container/dir/name.txt`` -> (``container``, ``dir/name.txt``)."""
    container, _, name = path.strip("/").partition("/")
    return container, name
