"""funchost.testing.TestClient: an app driven in-process, leaving the process as it found it."""

from __future__ import annotations

import logging
import os
import sys

import pytest

from funchost.testing import TestClient
from tests.conftest import write_app


def greeting_app(folder, greeting: str):
    return write_app(
        folder,
        {
            "local.settings.json": {"IsEncrypted": False, "Values": {"GREETING": greeting}},
            "function_app.py": """
            import os
            import azure.functions as func

            app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

            @app.route(route="greet/{name}")
            def greet(req: func.HttpRequest) -> str:
                print("printed inside")
                return f"{os.environ['GREETING']}, {req.route_params['name']}"
        """,
        },
    )


def test_two_clients_of_two_apps_see_their_own_settings_and_leave_the_process_as_found(tmp_path):
    environ, stdout, stderr = dict(os.environ), sys.stdout, sys.stderr
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    assert "GREETING" not in os.environ
    with TestClient(greeting_app(tmp_path / "first", "Hello")) as client:
        assert client.get("/api/greet/Ann").text == "Hello, Ann"
    assert dict(os.environ) == environ
    assert (sys.stdout, sys.stderr) == (stdout, stderr)
    assert root.handlers == handlers and root.level == level
    with TestClient(greeting_app(tmp_path / "second", "Hej")) as client:
        assert client.get("/api/greet/Bo").text == "Hej, Bo"
        # the server's percent-decoding: the route value is decoded once
        assert client.get("/api/greet/a%2520b").text == "Hej, a%20b"
    assert dict(os.environ) == environ and (sys.stdout, sys.stderr) == (stdout, stderr)
    assert root.handlers == handlers


def test_a_client_whose_app_fails_to_load_also_restores_the_process(tmp_path):
    from funchost.config import HostConfigError

    environ = dict(os.environ)
    app = write_app(
        tmp_path / "bad",
        {
            "host.json": '{"version": "1.0"}',
            "local.settings.json": {"Values": {"ONLY_HERE": "1"}},
            "function_app.py": "import azure.functions as func\napp = func.FunctionApp()\n",
        },
    )
    with pytest.raises(HostConfigError):
        TestClient(app)
    assert dict(os.environ) == environ
