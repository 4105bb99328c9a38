"""Schedules: NCRONTAB (six and five fields), TimeSpans, settings, time zones and DST."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from funchost.config import AppSettings
from funchost.triggers.schedule import ScheduleError, parse_schedule

START = datetime(2024, 1, 1, 0, 0, 0, tzinfo=timezone.utc)  # a Monday


def nexts(expression: str, count: int = 3, start: datetime = START, **settings: str) -> list[str]:
    schedule = parse_schedule(expression, AppSettings(settings))
    return [moment.isoformat() for moment in schedule.occurrences(start, count)]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 */5 * * * *", ["2024-01-01T00:05:00+00:00", "2024-01-01T00:10:00+00:00", "2024-01-01T00:15:00+00:00"]),
        ("*/15 * * * * *", ["2024-01-01T00:00:15+00:00", "2024-01-01T00:00:30+00:00", "2024-01-01T00:00:45+00:00"]),
        ("0 0 * * * *", ["2024-01-01T01:00:00+00:00", "2024-01-01T02:00:00+00:00", "2024-01-01T03:00:00+00:00"]),
        ("0 0 */2 * * *", ["2024-01-01T02:00:00+00:00", "2024-01-01T04:00:00+00:00", "2024-01-01T06:00:00+00:00"]),
        ("0 0 9-17 * * *", ["2024-01-01T09:00:00+00:00", "2024-01-01T10:00:00+00:00", "2024-01-01T11:00:00+00:00"]),
        ("0 30 9 * * *", ["2024-01-01T09:30:00+00:00", "2024-01-02T09:30:00+00:00", "2024-01-03T09:30:00+00:00"]),
        ("0 30 9 * * 1-5", ["2024-01-01T09:30:00+00:00", "2024-01-02T09:30:00+00:00", "2024-01-03T09:30:00+00:00"]),
        ("0 30 9 * * Sat,Sun", ["2024-01-06T09:30:00+00:00", "2024-01-07T09:30:00+00:00", "2024-01-13T09:30:00+00:00"]),
        ("0 0 0 * * 0", ["2024-01-07T00:00:00+00:00", "2024-01-14T00:00:00+00:00", "2024-01-21T00:00:00+00:00"]),
        ("0 0 0 1 Jan,Jul *", ["2024-07-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00", "2025-07-01T00:00:00+00:00"]),
        ("5,10 0 0 * * *", ["2024-01-01T00:00:05+00:00", "2024-01-01T00:00:10+00:00", "2024-01-02T00:00:05+00:00"]),
        # day-of-month AND day-of-week must both match (NCRONTAB), not either
        ("0 0 0 13 * 5", ["2024-09-13T00:00:00+00:00", "2024-12-13T00:00:00+00:00", "2025-06-13T00:00:00+00:00"]),
        # five fields: no seconds
        ("*/10 * * * *", ["2024-01-01T00:10:00+00:00", "2024-01-01T00:20:00+00:00", "2024-01-01T00:30:00+00:00"]),
        # TimeSpans: a constant interval
        ("00:00:30", ["2024-01-01T00:00:30+00:00", "2024-01-01T00:01:00+00:00", "2024-01-01T00:01:30+00:00"]),
        ("1.00:00:00", ["2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00", "2024-01-04T00:00:00+00:00"]),
    ],
)
def test_next_occurrences(expression, expected):
    assert nexts(expression) == expected


def test_schedule_from_an_app_setting():
    assert nexts("%MySchedule%", 1, MySchedule="0 0 12 * * *") == ["2024-01-01T12:00:00+00:00"]


@pytest.mark.parametrize(
    "expression", ["not a schedule", "0 0 * *", "61 * * * * *", "0 0 0 L * *", "@daily", "* * * * * * *", "25:00:00"]
)
def test_invalid_schedules_have_the_real_message(expression):
    with pytest.raises(ScheduleError) as error:
        parse_schedule(expression, AppSettings({}))
    assert str(error.value) == (
        f"The schedule expression '{expression}' was not recognized as a valid cron expression or timespan string."
    )


def test_time_zone_and_dst_transitions():
    paris = AppSettings({"WEBSITE_TIME_ZONE": "Europe/Paris"})
    zone = ZoneInfo("Europe/Paris")
    utc = [
        m.astimezone(timezone.utc).isoformat()
        for m in parse_schedule("0 0 9 * * *", paris).occurrences(datetime(2024, 3, 30, 12, tzinfo=zone), 2)
    ]
    assert utc == ["2024-03-31T07:00:00+00:00", "2024-04-01T07:00:00+00:00"]  # 09:00 local, summer time
    # spring forward: 02:30 does not exist on 2024-03-31, it fires when the clock says 03:00
    spring = parse_schedule("0 30 2 * * *", paris).occurrences(datetime(2024, 3, 30, 12, tzinfo=zone), 2)
    assert [m.astimezone(timezone.utc).isoformat() for m in spring] == [
        "2024-03-31T01:00:00+00:00",
        "2024-04-01T00:30:00+00:00",
    ]
    # fall back: 02:30 happens twice on 2024-10-27; it fires once
    autumn = parse_schedule("0 30 2 * * *", paris).occurrences(datetime(2024, 10, 26, 12, tzinfo=zone), 2)
    assert [m.astimezone(timezone.utc).isoformat() for m in autumn] == [
        "2024-10-27T00:30:00+00:00",
        "2024-10-28T01:30:00+00:00",
    ]
    assert timedelta(0) < autumn[1].astimezone(timezone.utc) - autumn[0].astimezone(timezone.utc)


def test_frequent_schedules_turn_monitoring_off():
    assert parse_schedule("*/30 * * * * *", AppSettings({})).fires_more_than_once_a_minute()
    assert not parse_schedule("0 */1 * * * *", AppSettings({})).fires_more_than_once_a_minute()
    assert parse_schedule("00:00:10", AppSettings({})).fires_more_than_once_a_minute()


def test_unknown_time_zone_is_a_clear_error():
    with pytest.raises(ValueError, match="WEBSITE_TIME_ZONE 'Mars/Base'"):
        parse_schedule("0 0 * * * *", AppSettings({"WEBSITE_TIME_ZONE": "Mars/Base"}))
