"""Binding expressions."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from funchost.bindings.expressions import (
    BindingData,
    ExpressionError,
    compile_blob_pattern,
    format_dotnet_datetime,
    resolve,
)
from funchost.config import AppSettings

NOW = datetime(2024, 5, 1, 13, 4, 5, 123456, tzinfo=timezone.utc)


def res(template: str, values=None, payload=None, settings=None) -> str:
    data = BindingData(values or {}, payload, method_name="my_function")
    return resolve(template, data, AppSettings(settings or {}), now=NOW)


def test_names_are_case_insensitive_and_come_from_metadata_or_payload():
    assert res("in/{queueTrigger}", {"QueueTrigger": "a.txt"}) == "in/a.txt"
    assert res("{ID}/{name}", {"id": "7"}, {"name": "Ann"}) == "7/Ann"
    assert res("{data.id}-{Data.Nested.X}", payload={"data": {"id": 5, "nested": {"x": True}}}) == "5-True"


def test_built_ins():
    assert re.fullmatch(r"[0-9a-f-]{36}", res("{rand-guid}"))
    assert re.fullmatch(r"[0-9a-f]{32}", res("{sys.randguid:N}"))
    assert res("{DateTime}") == "2024-05-01T13-04-05Z"
    assert res("logs/{DateTime:yyyy}/{DateTime:MM}/{DateTime:dd}") == "logs/2024/05/01"
    assert res("{sys.UtcNow:yyyy-MM-ddTHH:mm:ss.fff}") == "2024-05-01T13:04:05.123"
    assert res("{sys.MethodName}") == "my_function"


def test_settings_and_errors():
    assert res("%Container%/{name}", {"name": "x"}, settings={"Container": "c1"}) == "c1/x"
    with pytest.raises(ExpressionError, match="'missing'"):
        res("a/{missing}")
    with pytest.raises(ExpressionError, match="NotSet"):
        res("%NotSet%/x")


def test_dotnet_formats():
    assert format_dotnet_datetime(NOW, "yyyyMMdd'T'HHmm") == "20240501T1304"
    assert format_dotnet_datetime(NOW, "hh:mm tt") == "01:04 PM"


def test_blob_patterns_capture_greedily():
    pattern = compile_blob_pattern("uploads/{folder}/{name}.{ext}")
    match = pattern.match("uploads/a/b/c.d.txt")
    assert match is not None
    assert match.groupdict() == {"folder": "a/b", "name": "c.d", "ext": "txt"}
    nested = compile_blob_pattern("samples/{name}").match("samples/x/y")
    assert nested is not None and nested.group("name") == "x/y"
    assert compile_blob_pattern("samples/{name}").match("other/x") is None
