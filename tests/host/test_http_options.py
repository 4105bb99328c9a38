"""host.json's extensions.http options as a host reads them (in-process, through TestClient)."""

from __future__ import annotations

from pathlib import Path

import pytest

from funchost.config import HostConfigError
from funchost.testing import TestClient
from tests.conftest import write_app

APP = """
    import azure.functions as func

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="hi")
    def hi(req: func.HttpRequest) -> str:
        return "hi"
"""


def _app(tmp_path, hsts: dict) -> Path:
    return write_app(
        tmp_path / "app",
        {"host.json": {"version": "2.0", "extensions": {"http": {"hsts": hsts}}}, "function_app.py": APP},
    )


def test_hsts_sends_the_header_host_json_describes(tmp_path):
    app = _app(tmp_path, {"isEnabled": True, "maxAge": "1.00:00:00", "includeSubDomains": "true"})
    with TestClient(app) as client:
        assert client.get("/api/hi").header("strict-transport-security") == "max-age=86400; includeSubDomains"


@pytest.mark.parametrize(("hsts", "message"), [
    ({"isEnabled": True, "maxAge": "forever"}, "extensions.http.hsts.maxAge: 'forever' is not a valid time span"),
    ({"isEnabled": "sometimes"}, "extensions.http.hsts.isEnabled is 'sometimes', which is not true or false"),
])  # fmt: skip
def test_an_invalid_hsts_setting_is_a_clear_error(tmp_path, hsts, message):
    with pytest.raises(HostConfigError, match=message):
        TestClient(_app(tmp_path, hsts))
