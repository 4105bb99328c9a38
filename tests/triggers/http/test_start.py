"""``funchost start`` end to end: a real process, real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from tests.conftest import free_port
from tests.waiting import wait_until

FEATURES_APP = {
    "host.json": {
        "version": "2.0",
        "extensions": {"http": {"customHeaders": {"X-Custom": "from-host", "X-Frame-Options": "DENY"}}},
    },
    "function_app.py": """
        import json
        import logging
        import azure.functions as func

        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.route(route="inspect/{id?}", methods=["GET", "POST", "PUT"])
        def inspect(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
            body = req.get_body()
            return func.HttpResponse(json.dumps({
                "method": req.method, "url": req.url, "params": dict(req.params),
                "route": dict(req.route_params), "x_test": req.headers.get("X-TEST"),
                "body_hex": body.hex(), "traceparent": context.trace_context.Traceparent,
            }), mimetype="application/json")

        @app.route(route="cookies")
        def cookies(req: func.HttpRequest) -> func.HttpResponse:
            response = func.HttpResponse("c", status_code=201, headers={"X-Frame-Options": "SAMEORIGIN"})
            response.headers.add("Set-Cookie", "a=1; Path=/")
            response.headers.add("Set-Cookie", "b=2; Path=/")
            return response

        @app.route(route="length")
        def length(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("hello", headers={"Content-Length": "3"})

        @app.route(route="text")
        def text(req: func.HttpRequest) -> str:
            return "plain text"

        @app.route(route="redirect")
        def redirect(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse(status_code=302, headers={"Location": "/api/text"})

        @app.route(route="boom")
        def boom(req: func.HttpRequest) -> func.HttpResponse:
            logging.info("about to fail")
            raise RuntimeError("kaboom")

        @app.route(route="form", methods=["POST"])
        def form(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse(req.form.get("field", ""))

        @app.route(route="admin/thing")
        def reserved(req: func.HttpRequest) -> str:
            return "never"

        @app.route(route="text", methods=["GET"])
        def zz_duplicate_route(req: func.HttpRequest) -> str:
            return "never"

        @app.route(route="bad/{id:nope}")
        def bad_template(req: func.HttpRequest) -> str:
            return "never"

        @app.route(route="broken")
        def broken(req: func.HttpRequest, missing: str) -> str:
            return "never"
    """,
}


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    from tests.conftest import HostProcess, write_app

    folder = tmp_path_factory.mktemp("features")
    app = write_app(folder / "app", FEATURES_APP)
    process = HostProcess(app, env={"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "1000"}, log=folder / "host.log").wait_ready()
    yield process
    process.stop()


def test_examples_v1_and_v2_over_http(host, example):
    v1 = host(example("v1_app"))
    response = v1.request("GET", "/api/HttpTrigger?name=Ann")
    assert response.status == 200
    assert response.text == "Hello, Ann. This HTTP triggered function executed successfully."
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert v1.request("POST", "/api/httptrigger", json.dumps({"name": "Bo"})).text.startswith("Hello, Bo.")
    assert v1.request("GET", "/api/alt/5").text.startswith("id=5 fn=AltEntry")
    assert v1.request("GET", "/api/alt").text.startswith("id=None fn=AltEntry")
    v2 = host(example("v2_app"))
    assert v2.request("GET", "/api/hello?name=Cy").text.startswith("Hello, Cy.")
    assert v2.request("POST", "/api/echo", '{"a": [1, 2]}').json() == {"a": [1, 2]}
    assert v2.request("GET", "/api/default_template").text == "Hello from a blueprint."
    assert v2.request("GET", "/api/products/shoes").json() == {"category": "shoes", "id": None}
    assert v2.request("GET", "/api/products/sh0es").status == 404
    output = v2.output
    assert "Functions:" in output
    assert "\thello: [GET,POST] http://localhost:" in output and "/api/hello" in output
    assert "\tdefault_template:  http://localhost:" in output
    assert v2.stop() == 0  # SIGTERM: a graceful stop


def test_start_logs_each_invocation_with_user_logs_between(host, example):
    v2 = host(example("v2_app"))
    v2.request("GET", "/api/hello")
    output = v2.wait_for_output("Executed 'Functions.hello' (Succeeded")
    lines = output.splitlines()
    executing = next(i for i, line in enumerate(lines) if "Executing 'Functions.hello' (Reason=" in line)
    user = next(i for i, line in enumerate(lines) if "Python HTTP trigger function processed a request." in line)
    executed = next(i for i, line in enumerate(lines) if "Executed 'Functions.hello' (Succeeded, Id=" in line)
    assert executing < user < executed
    assert lines[executed].rstrip().endswith("ms)")


def test_request_reaches_the_function_intact(features):
    binary = bytes(range(256))[:200]
    response = features.request(
        "POST",
        "/api/inspect/7?a=1&a=2&empty=",
        binary,
        headers={"X-Test": "yes", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    )
    assert response.status == 200
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["url"] == f"http://127.0.0.1:{features.port}/api/inspect/7?a=1&a=2&empty="
    assert seen["params"] == {"a": "1,2", "empty": ""}
    assert seen["route"] == {"id": "7"}
    assert seen["x_test"] == "yes"
    assert bytes.fromhex(seen["body_hex"]) == binary
    assert seen["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert features.request("GET", "/api/inspect").json()["route"] == {"id": None}


def test_chunked_and_empty_bodies(features):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", features.port, timeout=10)
    try:
        connection.request(
            "PUT",
            "/api/inspect",
            body=iter([b"first ", b"second ", b"third"]),
            headers={"Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        chunked = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    assert bytes.fromhex(chunked["body_hex"]) == b"first second third"
    assert features.request("POST", "/api/inspect", b"").json()["body_hex"] == ""  # Content-Length: 0
    assert features.request("GET", "/api/inspect").json()["body_hex"] == ""  # no length at all


def test_responses(features):
    cookies = features.request("GET", "/api/cookies")
    assert cookies.status == 201
    assert cookies.headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert cookies.headers["X-Frame-Options"] == "SAMEORIGIN"  # the function's header wins
    assert cookies.headers["X-Custom"] == "from-host"
    text = features.request("GET", "/api/text")
    assert (text.status, text.text, text.headers["Content-Type"]) == (200, "plain text", "text/plain; charset=utf-8")
    redirect = features.request("GET", "/api/redirect")
    assert redirect.status == 302 and redirect.headers["Location"] == "/api/text"
    form = features.request(
        "POST", "/api/form", "field=hello+world", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form.text == "hello world"
    length = features.request("GET", "/api/length")  # one Content-Length, the body's, as the real host sends
    assert length.body == b"hello" and length.headers.get_all("content-length") == ["5"]


def test_failures_and_unknown_routes(features):
    boom = features.request("GET", "/api/boom")
    assert (boom.status, boom.body) == (500, b"")
    output = features.wait_for_output("Exception: RuntimeError: kaboom")
    assert "Executed 'Functions.boom' (Failed, Id=" in output
    missing = features.request("GET", "/api/nothing-here")
    assert (missing.status, missing.body) == (404, b"")
    wrong_method = features.request("GET", "/api/form")
    assert (wrong_method.status, wrong_method.body) == (404, b"")


def test_body_limit_gives_413(features):
    assert features.request("POST", "/api/inspect", b"x" * 1001).status == 413
    assert features.request("POST", "/api/inspect", b"x" * 1000).status == 200


def test_broken_functions_are_reported_and_the_rest_serves(features):
    output = features.output
    assert (
        "The 'reserved' function is in error: The specified route conflicts with one or more built in routes."
    ) in output
    assert (
        "The 'zz_duplicate_route' function is in error: The route specified conflicts with the route "
        "defined by function 'text'."
    ) in output
    assert "The 'bad_template' function is in error: The constraint entry 'id' - 'nope'" in output
    assert "Function 'broken'" in output and "'missing'" in output
    status = features.request("GET", "/admin/host/status").json()
    assert status["state"] == "Running"
    assert any("broken" in e for e in status["errors"])
    assert features.request("GET", "/api/text").status == 200


def test_home_page_ping_and_status(features, host, app_dir):
    home = features.request("GET", "/")
    assert home.status == 200 and b"up and running" in home.body
    ping = features.request("POST", "/admin/host/ping")
    assert (ping.status, ping.body) == (200, b"")
    quiet = host(
        app_dir({"function_app.py": "import azure.functions as func\napp = func.FunctionApp()\n"}),
        env={"AzureWebJobsDisableHomepage": "true"},
    )
    assert quiet.request("GET", "/").status == 204
    assert "No job functions found." in quiet.output


def test_route_prefix_from_host_json_may_be_empty(host, app_dir):
    app = app_dir(
        {
            "host.json": {"version": "2.0", "extensions": {"http": {"routePrefix": ""}}},
            "function_app.py": """
            import azure.functions as func
            app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

            @app.route(route="hello")
            def hello(req): return "root hello"
        """,
        }
    )
    process = host(app)
    assert process.request("GET", "/hello").text == "root hello"
    assert process.request("GET", "/api/hello").status == 404


def test_port_in_use_is_one_clear_line(example):
    port = free_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        result = subprocess.run(
            [sys.executable, "-m", "funchost", "start", "--script-root", str(example("v2_app")), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert (
        f"Port {port} is unavailable. Close the process using that port, or specify another port using --port [-p]."
    ) in result.stderr


def test_local_settings_port_and_values(host, app_dir):
    port = free_port()
    app = app_dir(
        {
            "local.settings.json": {
                "IsEncrypted": False,
                "Values": {"GREETING": "hi from settings"},
                "Host": {"LocalHttpPort": port},
            },
            "function_app.py": """
            import os
            import azure.functions as func
            app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

            @app.route(route="greet")
            def greet(req): return os.environ["GREETING"]
        """,
        }
    )
    process = host(app, ready=False)
    # --port from the fixture wins over Host.LocalHttpPort; check the file value is read too
    process.wait_ready()
    assert process.request("GET", "/api/greet").text == "hi from settings"
    subprocess_env_process = subprocess.Popen(
        [sys.executable, "-m", "funchost", "start", "--script-root", str(app)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        from tests.conftest import request

        def greeted() -> bool:
            try:
                return request(port, "GET", "/api/greet", timeout=1).text == "hi from settings"
            except OSError:
                return False

        wait_until(greeted, 20, "Host.LocalHttpPort was not used")
    finally:
        subprocess_env_process.terminate()
        subprocess_env_process.wait(timeout=15)


def test_host_json_log_levels_per_category(host, app_dir):
    app = app_dir(
        {
            "host.json": {
                "version": "2.0",
                "logging": {
                    "logLevel": {
                        "default": "Information",
                        "Function": "Warning",
                        "Function.loud": "Information",
                        "Function.loud.User": "Debug",
                        "Host.Results": "Error",
                    }
                },
            },
            "function_app.py": """
            import logging
            import azure.functions as func
            app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

            @app.route(route="quiet")
            def quiet(req):
                logging.info("quiet info")
                logging.warning("quiet warning")
                return "q"

            @app.route(route="loud")
            def loud(req):
                logging.getLogger("my.module").debug("loud debug")
                print("loud print")
                return "l"
        """,
        }
    )
    process = host(app)
    assert process.request("GET", "/api/quiet").text == "q"
    assert process.request("GET", "/api/loud").text == "l"
    output = process.wait_for_output("Executed 'Functions.loud' (Succeeded")
    process.wait_for_output("quiet warning")
    assert "loud debug" in output and "loud print" in output
    assert "quiet info" not in output
    assert "Executing 'Functions.quiet'" not in output  # Function.quiet is below Warning
