"""Timer schedules as the real host reads them: NCRONTAB (six or five fields) or a TimeSpan.

Six fields are ``{second} {minute} {hour} {day} {month} {day-of-week}``; five fields leave out
the seconds. Like NCRONTAB (and unlike classic cron), a day and a day-of-week that are both
restricted must both match. Anything that is not a cron expression is read as a .NET
TimeSpan (``hh:mm:ss``, ``d.hh:mm:ss``) and fires at that constant interval.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from funchost.config import AppSettings, parse_timespan

_FIELD = re.compile(r"^[0-9A-Za-z*/,\-]+$")
_NAMES = {
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
    "sun",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
}
_PERCENT_ONLY = re.compile(r"^%[^%]+%$")


class ScheduleError(ValueError):
    """The real host's message for a schedule it cannot read."""

    def __init__(self, expression: str) -> None:
        super().__init__(
            f"The schedule expression '{expression}' was not recognized as a valid cron expression or timespan string."
        )


class Schedule:
    """When a timer fires next."""

    def __init__(self, expression: str, zone: tzinfo) -> None:
        self.expression = expression
        self.zone = zone
        self.interval: timedelta | None = None
        self._cron: str | None = None
        fields = expression.split()
        if len(fields) in (5, 6) and all(_FIELD.match(f) for f in fields):
            words = {w.lower() for f in fields for w in re.split(r"[,/\-]", f) if w and not w.isdigit() and w != "*"}
            if not words <= _NAMES:  # NCRONTAB knows month and day names, not L, W, # or ?
                raise ScheduleError(expression)
            self._cron = " ".join(fields if len(fields) == 6 else ["0", *fields])
            try:
                self.next_after(datetime.now(zone))
            except Exception:  # noqa: BLE001 - croniter rejects in many ways; ours is one clear error
                raise ScheduleError(expression) from None
            return
        try:
            interval = parse_timespan(expression)
        except ValueError:
            raise ScheduleError(expression) from None
        if interval is None or interval <= timedelta(0):
            raise ScheduleError(expression)
        self.interval = interval

    @property
    def kind(self) -> str:
        return "Cron" if self._cron else "TimeSpan"

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after ``moment`` (aware), in the schedule's zone."""
        local = moment.astimezone(self.zone)
        if self.interval is not None:
            return local + self.interval
        from croniter import croniter

        assert self._cron is not None
        found: datetime = croniter(self._cron, local, day_or=False, second_at_beginning=True).get_next(datetime)
        if found.replace(tzinfo=None) == local.replace(tzinfo=None):
            # the same wall-clock time again after clocks went back: each local time fires once
            found = croniter(self._cron, found, day_or=False, second_at_beginning=True).get_next(datetime)
        return found

    def occurrences(self, start: datetime, count: int) -> list[datetime]:
        found = []
        moment = start
        for _ in range(count):
            moment = self.next_after(moment)
            found.append(moment)
        return found

    def fires_more_than_once_a_minute(self) -> bool:
        """Monitoring is forced off for such schedules, as in the real host."""
        if self.interval is not None:
            return self.interval < timedelta(minutes=1)
        start = datetime(2024, 1, 1, tzinfo=self.zone)
        first, second = self.occurrences(start, 2)
        return (second - first) < timedelta(minutes=1)


def time_zone(settings: AppSettings) -> tzinfo:
    """``WEBSITE_TIME_ZONE`` (an IANA name), else UTC, as on Linux plans."""
    name = (settings.get("WEBSITE_TIME_ZONE") or "").strip()
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"WEBSITE_TIME_ZONE '{name}' is not a known IANA time zone (e.g. Europe/Paris)") from None


def parse_schedule(raw: str, settings: AppSettings) -> Schedule:
    """A function's ``schedule`` setting; a wholly ``%Setting%`` value is looked up first."""
    text = raw.strip()
    if _PERCENT_ONLY.match(text):
        value = settings.get(text.strip("%"))
        if value is None:
            raise ValueError(f"the schedule names the app setting '{text.strip('%')}', which is not set")
        text = value.strip()
    return Schedule(text, time_zone(settings))
