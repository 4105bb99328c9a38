"""Function keys, the admin API and CORS, over real HTTP."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import HostProcess, free_port, write_app

AUTH_APP = {
    "function_app.py": """
        import logging
        import azure.functions as func

        app = func.FunctionApp()  # FUNCTION level by default

        @app.route(route="secured")
        def secured(req: func.HttpRequest) -> str:
            return "secured ok"

        @app.route(route="open", auth_level=func.AuthLevel.ANONYMOUS)
        def open_(req: func.HttpRequest) -> str:
            return "open ok"

        @app.route(route="needs-admin", auth_level=func.AuthLevel.ADMIN)
        def adminonly(req: func.HttpRequest) -> str:
            return "admin ok"

        @app.queue_trigger(arg_name="msg", queue_name="jobs", connection="AzureWebJobsStorage")
        def worker(msg: func.QueueMessage) -> None:
            logging.info("worker got %s (dequeue %s)", msg.get_body().decode(), msg.dequeue_count)
    """,
}


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("auth")
    app = write_app(folder / "app", AUTH_APP)
    process = HostProcess(app, "--enableAuth", log=folder / "host.log").wait_ready()
    yield process
    process.stop()


def host_keys(process) -> dict:
    return json.loads((process.app / ".funchost" / "secrets" / "host.json").read_text())


def master(process) -> dict[str, str]:
    # any call that needs keys creates the files; ping does not, so ask for a secured route first
    process.request("GET", "/api/secured")
    return {"x-functions-key": host_keys(process)["masterKey"]["value"]}


def test_keys_are_enforced_with_enable_auth(secured):
    assert (secured.request("GET", "/api/secured").status, secured.request("GET", "/api/secured").body) == (401, b"")
    assert secured.request("GET", "/api/open").text == "open ok"
    keys = host_keys(secured)
    default_host_key = next(k["value"] for k in keys["functionKeys"] if k["name"] == "default")
    assert secured.request("GET", f"/api/secured?code={default_host_key}").text == "secured ok"
    assert secured.request("GET", "/api/secured", headers={"x-functions-key": default_host_key}).status == 200
    assert secured.request("GET", "/api/secured?code=wrong").status == 401
    # the header wins over the query
    assert (
        secured.request("GET", f"/api/secured?code={default_host_key}", headers={"x-functions-key": "wrong"}).status
        == 401
    )
    function_keys = json.loads((secured.app / ".funchost" / "secrets" / "secured.json").read_text())
    own = function_keys["keys"][0]["value"]
    assert secured.request("GET", f"/api/secured?code={own}").status == 200
    assert secured.request("GET", f"/api/needs-admin?code={own}").status == 401
    assert secured.request("GET", "/api/needs-admin", headers=master(secured)).text == "admin ok"


def test_system_key_cannot_call_a_function_level_function(secured):
    created = secured.request("POST", "/admin/host/systemkeys/mysys", headers=master(secured))
    assert created.status == 201
    system_key = created.json()["value"]
    assert secured.request("GET", f"/api/secured?code={system_key}").status == 401


def test_admin_api_needs_the_master_key(secured):
    assert secured.request("GET", "/admin/host/ping").status == 200
    assert secured.request("GET", "/admin/host/status").status == 401
    status = secured.request("GET", "/admin/host/status", headers=master(secured)).json()
    assert status["state"] == "Running"
    # the status never hands out the master key, whoever asks
    assert host_keys(secured)["masterKey"]["value"] not in json.dumps(status)
    secrets = secured.app / ".funchost" / "secrets"
    assert all(path.stat().st_mode & 0o077 == 0 for path in secrets.glob("*.json"))  # owner only
    functions = secured.request("GET", "/admin/functions", headers=master(secured)).json()
    by_name = {f["name"]: f for f in functions}
    assert set(by_name) == {"secured", "open_", "adminonly", "worker"}
    assert by_name["secured"]["invoke_url_template"].endswith("/api/secured")
    assert by_name["worker"]["config"]["bindings"][0]["type"] == "queueTrigger"
    assert secured.request("GET", "/admin/functions/nope", headers=master(secured)).status == 404


def test_admin_runs_a_non_http_function(secured):
    response = secured.request("POST", "/admin/functions/worker", '{"input": "job-1"}', headers=master(secured))
    assert (response.status, response.body) == (202, b"")
    secured.wait_for_output("worker got job-1 (dequeue 1)")
    assert "Reason='This function was programmatically called via the host APIs.'" in secured.output
    assert secured.request("POST", "/admin/functions/worker", "not json", headers=master(secured)).status == 400
    assert secured.request("POST", "/admin/functions/missing", '{"input": ""}', headers=master(secured)).status == 404


def test_key_api_round_trip(secured):
    headers = master(secured)
    put = secured.request("PUT", "/admin/functions/secured/keys/ci", json.dumps({"value": "a" * 40}), headers)
    assert put.status == 201 and put.json()["value"] == "a" * 40
    assert secured.request("GET", f"/api/secured?code={'a' * 40}").status == 200
    listed = secured.request("GET", "/admin/functions/secured/keys", headers=headers).json()
    assert {k["name"] for k in listed["keys"]} == {"default", "ci"}
    assert listed["links"][0]["rel"] == "self"
    assert secured.request("PUT", "/admin/functions/secured/keys/ci", '{"value": "short"}', headers).status == 400
    assert secured.request("POST", "/admin/functions/secured/keys/ci", None, headers).status == 200
    assert secured.request("DELETE", "/admin/functions/secured/keys/ci", None, headers).status == 204
    assert secured.request("GET", f"/api/secured?code={'a' * 40}").status == 401
    assert secured.request("DELETE", "/admin/host/keys/_master", None, headers).json() == "Cannot delete System Key."
    host_list = secured.request("GET", "/admin/host/keys", headers=headers).json()
    assert [k["name"] for k in host_list["keys"]] == ["default"]


def test_without_enable_auth_keys_are_not_needed(host, tmp_path):
    process = host(write_app(tmp_path / "open", AUTH_APP))
    assert process.request("GET", "/api/secured").text == "secured ok"
    assert process.request("GET", "/admin/host/status").status == 200


def test_cors_preflight_and_headers(host, tmp_path):
    process = host(
        write_app(tmp_path / "cors", AUTH_APP),
        "--cors",
        "http://localhost:3000,https://a.example",
        "--cors-credentials",
    )
    preflight = process.request(
        "OPTIONS",
        "/api/secured",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    simple = process.request("GET", "/api/secured", headers={"Origin": "https://a.example"})
    assert simple.headers["Access-Control-Allow-Origin"] == "https://a.example"
    other = process.request("GET", "/api/secured", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_from_local_settings_and_star_with_credentials_refused(host, tmp_path):
    app = write_app(
        tmp_path / "cors2",
        {**AUTH_APP, "local.settings.json": {"IsEncrypted": False, "Values": {}, "Host": {"CORS": "*"}}},
    )
    process = host(app)
    response = process.request("GET", "/api/open", headers={"Origin": "https://any.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "funchost",
            "start",
            "--script-root",
            str(app),
            "--port",
            str(free_port()),
            "--cors-credentials",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "CORS cannot allow credentials for every origin ('*')" in result.stderr


def test_production_mode_always_enforces_keys(host, tmp_path):
    process = host(
        write_app(tmp_path / "prod", AUTH_APP), "--production", env={"CORS_ALLOWED_ORIGINS": '["https://site.example"]'}
    )
    assert process.request("GET", "/api/secured").status == 401
    allowed = process.request("GET", "/api/open", headers={"Origin": "https://site.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://site.example"
