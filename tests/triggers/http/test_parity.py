"""What a user of the real host would notice over HTTP, checked against real `funchost start` processes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.waiting import wait_until

V2_APP = {
    "host.json": {"version": "2.0", "extensions": {"http": {"routePrefix": ""}}},
    "function_app.py": """
        import json
        import azure.functions as func

        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.route(route="{*path}")
        def catch_all(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("catch-all:" + str(req.route_params.get("path")))

        @app.route(route="items/{name}")
        def items(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse(json.dumps(req.route_params["name"]))

        @app.route(route="nothing")
        def nothing(req: func.HttpRequest) -> func.HttpResponse:
            return None

        @app.route(route="a_dict")
        def a_dict(req: func.HttpRequest):
            return {"not": "a response"}

        @app.route(route="cookies")
        def cookies(req: func.HttpRequest) -> func.HttpResponse:
            response = func.HttpResponse("c")
            response.headers.add("Set-Cookie", "")
            response.headers.add("Set-Cookie", "kept=1; Path=/")
            return response

        @app.route(route="orders", methods=["POST"])
        @app.blob_output(arg_name="saved", path="orders/{id}.json", connection="AzureWebJobsStorage")
        @app.queue_output(arg_name="notes", queue_name="notes", connection="AzureWebJobsStorage")
        def orders(req: func.HttpRequest, saved, notes) -> func.HttpResponse:
            # no annotations on the outputs, as public samples write them
            saved.set(req.get_body().decode())
            notes.set('["first", "second"]')
            return func.HttpResponse("stored", status_code=201)

        @app.queue_trigger(arg_name="msg", queue_name="jobs", connection="AzureWebJobsStorage")
        @app.blob_output(arg_name="by_id", path="jobs/{id}.json", connection="AzureWebJobsStorage")
        @app.blob_output(arg_name="by_count", path="counts/{DequeueCount}-{Id}.txt",
                         connection="AzureWebJobsStorage")
        def job(msg: func.QueueMessage, by_id: func.Out[str], by_count: func.Out[str]) -> None:
            by_id.set(msg.get_body().decode())
            by_count.set(msg.id)

        @app.route(route="exotic")
        @app.generic_output_binding(arg_name="thing", type="notARealBinding")
        def exotic(req: func.HttpRequest, thing: func.Out[str]) -> str:
            return "never"

        @app.route(route="later")
        @app.sql_output(arg_name="row", command_text="dbo.Items", connection_string_setting="Sql")
        def later(req: func.HttpRequest, row: func.Out[str]) -> str:
            return "never"
    """,
}

V1_APP = {
    "host.json": '{\n  // Json.NET reads comments and trailing commas\n  "version": "2.0",\n}\n',
    "ToBlob/function.json": (
        '\ufeff{\n  "bindings": [\n'
        '    {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous",},\n'
        "    /* the response is not HTTP */\n"
        '    {"type": "blob", "direction": "out", "name": "$return", "path": "v1/{rand-guid}.txt"},\n'
        "  ],\n}\n"
    ),
    "ToBlob/__init__.py": """
        def main(req):
            return "saved"
    """,
    "NoOutput/function.json": {
        "bindings": [{"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous"}]
    },
    "NoOutput/__init__.py": """
        def main(req):
            return None
    """,
    "Misspelt/function.json": {
        "bindings": [
            {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous"},
            {"type": "queueTriger", "direction": "in", "name": "msg", "queueName": "x"},
        ]
    },
    "Misspelt/__init__.py": """
        def main(req, msg):
            return None
    """,
    "Broken/function.json": '{"bindings": [\n  {"type": "httpTrigger" "name": "req"}\n]}',
    "Broken/__init__.py": "def main(req):\n    return None\n",
}


def blobs(app: Path, container: str) -> dict[str, bytes]:
    from funchost.storage.embedded.store import EmbeddedStorage

    async def read() -> dict[str, bytes]:
        store = EmbeddedStorage(app / ".funchost" / "storage")
        await store.open()
        try:
            found = {}
            for blob in await store.list_blobs(container):
                content = await store.get_blob(container, blob.name)
                assert content is not None
                found[blob.name] = content[0]
            return found
        finally:
            await store.close()

    return asyncio.run(read())


def queue_bodies(app: Path, queue: str) -> list[bytes]:
    from funchost.storage.embedded.store import EmbeddedStorage

    async def read() -> list[bytes]:
        store = EmbeddedStorage(app / ".funchost" / "storage")
        await store.open()
        try:
            return [message.body for message in await store.peek(queue, 32)]
        finally:
            await store.close()

    return asyncio.run(read())


@pytest.fixture(scope="module")
def v2(tmp_path_factory):
    from tests.conftest import HostProcess, write_app

    folder = tmp_path_factory.mktemp("parity")
    process = HostProcess(write_app(folder / "app", V2_APP), log=folder / "host.log").wait_ready()
    yield process
    process.stop()


def test_the_home_page_yields_to_a_catch_all_route(v2):
    response = v2.request("GET", "/")
    assert response.status == 200 and response.text == "catch-all:None"
    assert v2.request("GET", "/some/where").text == "catch-all:some/where"


def test_route_values_are_decoded_once(v2):
    assert v2.request("GET", "/items/a%2520b").json() == "a%20b"
    assert v2.request("GET", "/items/a%2Fb").json() == "a/b"
    assert v2.request("GET", "/items/caf%C3%A9").json() == "café"


def test_a_v2_function_returning_none_fails(v2):
    assert v2.request("GET", "/nothing").status == 500
    output = v2.wait_for_output("Executed 'Functions.nothing' (Failed")
    assert "Executed 'Functions.nothing' (Succeeded" not in output
    assert "returned None" in output


def test_a_return_value_that_is_no_response_fails_the_invocation(v2):
    assert v2.request("GET", "/a_dict").status == 500
    output = v2.wait_for_output("Executed 'Functions.a_dict' (Failed")
    assert "Executed 'Functions.a_dict' (Succeeded" not in output
    assert "cannot convert the value of type dict set for the '$return' binding (http)" in output


def test_an_empty_set_cookie_is_dropped(v2):
    response = v2.request("GET", "/cookies")
    assert response.headers.get_all("Set-Cookie") == ["kept=1; Path=/"]


def test_unannotated_outputs_and_payload_binding_data(v2):
    response = v2.request("POST", "/orders", json.dumps({"id": "order-7", "Headers": "mine"}))
    assert response.status == 201
    # the body's "id" names the blob; a string holding a JSON array is one message per element
    assert json.loads(blobs(v2.app, "orders")["order-7.json"]) == {"id": "order-7", "Headers": "mine"}
    assert queue_bodies(v2.app, "notes") == [b"first", b"second"]


def test_queue_payload_properties_win_over_message_metadata(v2):
    first = _put_message(v2.app, "jobs", json.dumps({"id": "job-42"}))
    v2.wait_for_output("Executed 'Functions.job' (Succeeded", timeout=15)
    # "id" names the blob in both {id} and {Id} (compared case-insensitively), not the message's Id
    assert json.loads(blobs(v2.app, "jobs")["job-42.json"]) == {"id": "job-42"}
    assert blobs(v2.app, "counts") == {"1-job-42.txt": first.encode()}
    # names the payload does not define still come from the message
    second = _put_message(v2.app, "jobs", json.dumps({"other": 1}))
    _wait_for_blob(v2.app, "counts", f"1-{second}.txt")
    assert json.loads(blobs(v2.app, "jobs")[f"{second}.json"]) == {"other": 1}


def _wait_for_blob(app: Path, container: str, name: str, timeout: float = 15) -> None:
    wait_until(lambda: name in blobs(app, container), timeout, f"no blob {container}/{name}")


def _put_message(app: Path, queue: str, body: str) -> str:
    from funchost.storage.embedded.store import EmbeddedStorage

    async def put() -> str:
        store = EmbeddedStorage(app / ".funchost" / "storage")
        await store.open()
        try:
            return (await store.put(queue, body.encode())).id
        finally:
            await store.close()

    return asyncio.run(put())


def test_unknown_and_not_yet_supported_binding_types_are_load_errors(v2):
    output = v2.output
    assert (
        "Function 'exotic'" in output
        and "binding 'thing'" in output
        and "The binding type(s) 'notARealBinding' are not registered." in output
    )
    assert "Function 'later'" in output
    assert "The binding type(s) 'sql' are not supported by funchost yet" in output
    # they are not loaded, so their paths fall to the catch-all here (404 without one: see the v1 test)
    assert v2.request("GET", "/exotic").text == "catch-all:exotic"
    assert v2.request("GET", "/items/x").status == 200


def test_v1_app_json_leniency_empty_responses_and_load_errors(host, app_dir):
    app = app_dir(V1_APP)
    process = host(app)
    # $return goes to a blob: 200 with an empty body; no output at all: 204
    saved = process.request("GET", "/api/ToBlob")
    assert saved.status == 200 and saved.body == b""
    assert list(blobs(app, "v1").values()) == [b"saved"]
    assert process.request("GET", "/api/NoOutput").status == 204
    output = process.output
    assert "Function 'Misspelt'" in output and "binding 'msg'" in output
    assert "The binding type(s) 'queueTriger' are not registered." in output
    assert process.request("GET", "/api/Misspelt").status == 404
    # truly broken JSON still names the file, line and column
    assert "Broken/function.json:2" in output and "line 2, column" in output
