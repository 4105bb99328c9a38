"""What a value means in host.json, function.json, a binding setting or an app setting: one
parser per kind (booleans, durations, times), with the real host's meaning.

- Booleans in JSON files and binding settings, as Json.NET reads them: ``true``/``false`` (a
  JSON boolean or a string in any case), and numbers (non-zero is true). Anything else is an
  error that names the setting, not a silent default.
- Switches in app settings (environment variables), as the Python worker reads them: ``1``,
  ``true`` or ``yes`` in any case turn them on; anything else is off.
- Durations: a .NET TimeSpan (``hh:mm:ss``, ``d.hh:mm:ss``, ``hh:mm``), ``-1`` for none.
- Times: ISO 8601 as .NET writes them (``Z``, up to 7 fractional digits); a time without an
  offset is UTC.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any


def parse_bool(value: Any, default: bool = False, *, name: str = "the value") -> bool:
    """A boolean from host.json, function.json or a binding setting; None or "" is ``default``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"{name} is '{value}', which is not true or false")


def setting_is_on(value: str | None) -> bool:
    """An app setting used as a switch (``AzureWebJobsDisableHomepage``, ``PYTHON_ENABLE_...``)."""
    return (value or "").strip().lower() in ("1", "true", "yes")


_TIMESPAN = re.compile(r"^(?:(?P<days>\d+)\.)?(?P<h>\d{1,2}):(?P<m>\d{1,2})(?::(?P<s>\d{1,2}(?:\.\d+)?))?$")


def parse_timespan(text: str) -> timedelta | None:
    """A .NET TimeSpan (``hh:mm:ss``, ``d.hh:mm:ss``, ``hh:mm``); ``-1`` is None.

    Raises ValueError for anything else.
    """
    text = text.strip()
    if text == "-1":
        return None
    match = _TIMESPAN.match(text)
    if not match or int(match["h"]) > 23 or int(match["m"]) > 59 or float(match["s"] or 0) >= 60:
        raise ValueError(f"'{text}' is not a valid time span (expected hh:mm:ss)")
    return timedelta(
        days=int(match["days"] or 0),
        hours=int(match["h"]),
        minutes=int(match["m"]),
        seconds=float(match["s"] or 0),
    )


_FRACTION = re.compile(r"\.(\d{1,6})\d*")


def parse_time(text: str) -> datetime:
    """An ISO 8601 time, as .NET and Azure write them; raises ValueError when it is not one."""
    cleaned = _FRACTION.sub(lambda m: "." + m.group(1).ljust(6, "0"), text.strip().replace("Z", "+00:00"))
    moment = datetime.fromisoformat(cleaned)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
