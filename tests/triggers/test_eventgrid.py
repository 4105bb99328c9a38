"""Event Grid trigger (the webhook) and output, over real HTTP with real host processes."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.triggers.test_eventhub import seen
from tests.waiting import wait_until

GRID_APP = {
    "function_app.py": """
        import json
        import logging
        from datetime import datetime, timezone
        import azure.functions as func

        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.event_grid_trigger(arg_name="event")
        @app.queue_output(arg_name="$return", queue_name="seen", connection="AzureWebJobsStorage")
        def on_event(event: func.EventGridEvent) -> str:
            if event.subject == "fail":
                raise ValueError("this event fails")
            return json.dumps({"id": event.id, "subject": event.subject, "type": event.event_type,
                               "data": event.get_json(), "topic": event.topic, "version": event.data_version,
                               "time": event.event_time.isoformat()})

        @app.route(route="publish", methods=["POST"])
        @app.event_grid_output(arg_name="out", topic_endpoint_uri="TopicUri", topic_key_setting="TopicKey")
        def publish(req: func.HttpRequest, out: func.Out[func.EventGridOutputEvent]) -> str:
            out.set(func.EventGridOutputEvent(id="e-1", data={"n": 1}, subject="orders/1", event_type="Order.Created",
                                              event_time=datetime(2026, 1, 2, tzinfo=timezone.utc), data_version="1.0"))
            return "published"

        @app.route(route="publish-dicts", methods=["POST"])
        @app.event_grid_output(arg_name="out", topic_endpoint_uri="TopicUri", topic_key_setting="TopicKey")
        def publish_dicts(req: func.HttpRequest, out) -> str:
            out.set([{"subject": "a", "eventType": "T", "data": {"k": 1}, "dataVersion": "1"},
                     {"subject": "b", "eventType": "T", "data": None, "dataVersion": "1"}])
            return "published"
    """,
}


V1_APP = {
    "GridV1/function.json": {
        "scriptFile": "__init__.py",
        "bindings": [{"type": "eventGridTrigger", "direction": "in", "name": "event"}],
    },
    "GridV1/__init__.py": """
        import logging
        import azure.functions as func

        def main(event) -> None:
            logging.info("v1 got %s %s %s", type(event).__name__, event.id, event.get_json())
    """,
}


def event(subject: str, data=None, event_id: str = "1") -> dict:
    return {
        "id": event_id,
        "topic": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z",
        "subject": subject,
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": "2026-11-25T10:00:00Z",
        "data": data or {"url": f"https://z/{subject}"},
        "dataVersion": "1.0",
        "metadataVersion": "1",
    }


def post(
    process,
    body,
    event_type: str | None = "Notification",
    function: str = "on_event",
    key: str | None = None,
    method: str = "POST",
    headers: dict | None = None,
):
    path = f"/runtime/webhooks/eventgrid?functionName={function}" + (f"&code={key}" if key else "")
    sent = {
        **({"aeg-event-type": event_type} if event_type else {}),
        "content-type": "application/json",
        **(headers or {}),
    }
    return process.request(method, path, json.dumps(body) if body is not None else None, sent)


def test_the_webhook_validates_delivers_each_event_and_reports_failures(host, app_dir):
    app = app_dir(GRID_APP)
    process = host(app)
    validation = [
        {
            "id": "v",
            "topic": "t",
            "subject": "",
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "eventTime": "2026-11-25T10:00:00Z",
            "data": {"validationCode": "512d38b6-c7b8"},
            "dataVersion": "2",
            "metadataVersion": "1",
        }
    ]
    answer = post(process, validation, "SubscriptionValidation")
    assert answer.status == 200 and answer.json() == {"validationResponse": "512d38b6-c7b8"}
    assert post(process, [event("a", event_id="1"), event("b", event_id="2")]).status == 202
    written: list[dict] = []
    wait_until(lambda: len(seen_bodies(app, written)) == 2, 15, "both events should run the function")
    first, second = sorted(written, key=lambda item: item["id"])
    assert first["subject"] == "a" and second["subject"] == "b"
    assert first["type"] == "Microsoft.Storage.BlobCreated" and first["data"] == {"url": "https://z/a"}
    assert first["version"] == "1.0" and first["topic"].endswith("storageAccounts/z")
    assert first["time"] == "2026-11-25T10:00:00+00:00"
    # the console has its own writer thread: wait for both lines, then none more (validation ran nothing)
    wait_until(lambda: process.output.count("Executing 'Functions.on_event'") >= 2, 10, "two Executing lines")
    assert process.output.count("Executing 'Functions.on_event'") == 2
    assert post(process, [event("fail"), event("ok", event_id="3")]).status == 500  # one failed: Event Grid retries
    assert post(process, [event("x")], "Unsubscribe").status == 202
    assert post(process, [event("x")], None).status == 400
    assert post(process, [event("x")], "SomethingElse").status == 400
    assert post(process, [event("x")], function="nope").status == 404
    assert post(process, "a string, not an event").status == 400
    assert (
        process.request(
            "POST",
            "/runtime/webhooks/eventgrid?functionName=on_event",
            b"{not json",
            {"aeg-event-type": "Notification"},
        ).status
        == 400
    )


def test_a_v1_function_gets_a_cloud_event_and_the_cloudevents_handshake_is_answered(host, app_dir):
    process = host(app_dir(V1_APP))
    cloud = {"specversion": "1.0", "id": "c-1", "source": "/orders", "type": "Order.Created", "data": {"n": 2}}
    assert post(process, cloud, function="GridV1").status == 202
    process.wait_for_output("v1 got CloudEvent c-1 {'n': 2}")
    options = post(
        process,
        None,
        None,
        function="GridV1",
        method="OPTIONS",
        headers={"WebHook-Request-Origin": "eventgrid.azure.net"},
    )
    assert options.status == 200 and options.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"


def seen_bodies(app, found: list[dict]) -> list[dict]:
    """What the function wrote so far (the queue is drained into ``found``)."""
    found.extend(json.loads(body) for body in seen(app))
    return found


def test_with_keys_only_the_extension_key_or_the_master_key_get_in(host, app_dir):
    app = app_dir(GRID_APP)
    process = host(app, "--enableAuth")
    secrets = json.loads((app / ".funchost" / "secrets" / "host.json").read_text())
    system = {key["name"]: key["value"] for key in secrets["systemKeys"]}
    assert "eventgrid_extension" in system  # made at start, as the real host does
    function_key = secrets["functionKeys"][0]["value"]
    assert post(process, [event("a")]).status == 401
    assert post(process, [event("a")], key=function_key).status == 401
    assert post(process, [event("a")], key=system["eventgrid_extension"]).status == 202
    assert post(process, [event("b")], key=secrets["masterKey"]["value"]).status == 202
    written: list[dict] = []
    wait_until(lambda: len(seen_bodies(app, written)) == 2, 15, "the two admitted events should run the function")
    assert sorted(item["subject"] for item in written) == ["a", "b"]


class Topic:
    """A local Event Grid topic: checks what a real one checks, fails the first posts on request."""

    def __init__(self, key: str, fail_first: int = 0) -> None:
        self.key = key
        self.fail_first = fail_first
        self.received: list = []
        self.attempts = 0
        topic = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                topic.attempts += 1
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                query = parse_qs(urlsplit(self.path).query)
                if urlsplit(self.path).path != "/api/events" or query.get("api-version") != ["2018-01-01"]:
                    return self.answer(404, "unknown path or api-version")
                if self.headers.get("aeg-sas-key") != topic.key:
                    return self.answer(401, "bad aeg-sas-key")
                events = json.loads(body)
                required = {"id", "subject", "eventType", "eventTime", "data", "dataVersion"}
                if not isinstance(events, list) or any(not required <= set(item) for item in events):
                    return self.answer(400, "not an array of Event Grid events")
                if topic.attempts <= topic.fail_first:
                    return self.answer(503, "busy")
                topic.received.append(events)
                return self.answer(200, "")

            def answer(self, status: int, text: str) -> None:
                self.send_response(status)
                self.send_header("content-length", str(len(text)))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def topic():
    made = []

    def make(key: str, fail_first: int = 0) -> Topic:
        made.append(Topic(key, fail_first))
        return made[-1]

    yield make
    for server in made:
        server.close()


def test_the_output_posts_the_events_to_the_topic_and_retries_a_busy_one(host, app_dir, topic):
    local = topic("s3cret", fail_first=1)
    app = app_dir(GRID_APP)
    process = host(app, env={"TopicUri": local.url, "TopicKey": "s3cret"})
    assert process.request("POST", "/api/publish").text == "published"
    assert local.attempts == 2 and len(local.received) == 1  # a 503, then accepted
    [[sent]] = local.received
    assert sent == {
        "id": "e-1",
        "subject": "orders/1",
        "dataVersion": "1.0",
        "eventType": "Order.Created",
        "data": {"n": 1},
        "eventTime": "2026-01-02T00:00:00+00:00",
    }
    assert process.request("POST", "/api/publish-dicts").text == "published"
    first, second = local.received[1]
    assert (first["subject"], first["data"], second["subject"]) == ("a", {"k": 1}, "b")
    assert first["id"] and first["eventTime"] and first["id"] != second["id"]


def test_a_refused_key_fails_the_invocation_with_the_topics_answer(host, app_dir, topic):
    local = topic("right")
    app = app_dir(GRID_APP)
    process = host(app, env={"TopicUri": local.url, "TopicKey": "wrong"})
    assert process.request("POST", "/api/publish").status == 500
    output = process.wait_for_output("could not publish 1 event(s)")
    assert "HTTP 401: bad aeg-sas-key" in output and local.attempts == 1  # a 4xx is not retried
    missing = host(app_dir(GRID_APP))
    assert missing.request("POST", "/api/publish").status == 500
    missing.wait_for_output("the app setting 'TopicUri' (topicEndpointUri) is not set")
