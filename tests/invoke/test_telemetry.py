"""OpenTelemetry: a span per invocation with the FaaS conventions, a child of the incoming
traceparent and the same trace context the function sees; metrics per function; and an end
to end export over OTLP/HTTP from a real host process to a receiver that decodes the protobuf."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from funchost.invoke import Invoker
from funchost.invoke.telemetry import Telemetry
from funchost.triggers.families import CATALOG
from tests.conftest import write_app
from tests.invoke.test_invoker import http_invocation, index_of
from tests.waiting import wait_until

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"

APP = {
    "function_app.py": """
    import logging
    import azure.functions as func

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="traced")
    def traced(req: func.HttpRequest, context: func.Context) -> str:
        logging.info("user says hi")
        if req.params.get("fail"):
            raise RuntimeError("asked to fail")
        return context.trace_context.trace_parent

    @app.route(route="traced_async")
    async def traced_async(req: func.HttpRequest, context: func.Context) -> str:
        return context.trace_context.trace_parent
"""
}


def test_a_span_per_invocation_child_of_the_incoming_trace_and_metrics(tmp_path):
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    metrics = InMemoryMetricReader()
    telemetry = Telemetry(tracer_provider, MeterProvider(metric_readers=[metrics]), CATALOG.faas_trigger)
    index = index_of(write_app(tmp_path / "app", APP))
    header = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}

    async def invoke_all():
        with ThreadPoolExecutor(2) as executor:
            invoker = Invoker(executor, telemetry=telemetry)
            results = [
                await invoker.invoke(http_invocation(index.functions["traced"], headers=header)),
                await invoker.invoke(http_invocation(index.functions["traced_async"], headers=header)),
                await invoker.invoke(http_invocation(index.functions["traced"], query={"fail": "1"})),
            ]
            return results

    sync, async_, failed = asyncio.run(invoke_all())
    finished: Any = spans.get_finished_spans()
    assert [span.name for span in finished] == ["traced", "traced_async", "traced"]
    for span, outcome in zip(finished[:2], (sync, async_), strict=True):
        context = span.get_span_context()
        assert f"{context.trace_id:032x}" == TRACE_ID and f"{span.parent.span_id:016x}" == PARENT_ID
        # the function's context.trace_context is the span itself
        assert outcome.http_response == f"00-{TRACE_ID}-{context.span_id:016x}-01"  # the str returned
        assert span.kind is SpanKind.SERVER and span.attributes["faas.trigger"] == "http"
        assert span.attributes["faas.invocation_id"] == outcome.invocation_id
    assert finished[0].attributes["faas.coldstart"] is True and finished[1].attributes["faas.coldstart"] is False
    assert finished[2].status.status_code is StatusCode.ERROR and finished[2].parent is None  # no traceparent: a root
    assert any(event.name == "exception" for event in finished[2].events) and not failed.succeeded
    data: Any = metrics.get_metrics_data()
    points: dict[str, Any] = {
        metric.name: metric
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    invocations = {point.attributes["faas.name"]: point.value for point in points["faas.invocations"].data.data_points}
    assert invocations == {"traced": 2, "traced_async": 1}
    [errors] = points["faas.errors"].data.data_points
    assert errors.value == 1 and errors.attributes["faas.name"] == "traced"
    assert sum(point.count for point in points["faas.invoke_duration"].data.data_points) == 3


class Receiver:
    """An OTLP/HTTP receiver on 127.0.0.1 that decodes what it gets."""

    def __init__(self) -> None:
        self.spans: list = []
        self.metric_names: set[str] = set()
        self.logs: list = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path == "/v1/traces":
                    request = ExportTraceServiceRequest.FromString(body)
                    received.spans.extend(
                        span
                        for resource in request.resource_spans
                        for scope in resource.scope_spans
                        for span in scope.spans
                    )
                elif self.path == "/v1/logs":
                    request = ExportLogsServiceRequest.FromString(body)
                    received.logs.extend(
                        record
                        for resource in request.resource_logs
                        for scope in resource.scope_logs
                        for record in scope.log_records
                    )
                elif self.path == "/v1/metrics":
                    request = ExportMetricsServiceRequest.FromString(body)
                    received.metric_names.update(
                        metric.name
                        for resource in request.resource_metrics
                        for scope in resource.scope_metrics
                        for metric in scope.metrics
                    )
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_spans_and_metrics_reach_an_otlp_endpoint_from_a_host(tmp_path, host):
    receiver = Receiver()
    try:
        process = host(
            write_app(tmp_path / "app", APP),
            env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                "OTEL_SERVICE_NAME": "orders",
                "OTEL_BSP_SCHEDULE_DELAY": "100",
                "OTEL_METRIC_EXPORT_INTERVAL": "500",
            },
        )
        answer = process.request("GET", "/api/traced", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
        wait_until(lambda: any(span.name == "traced" for span in receiver.spans), 20, "no span reached the receiver")
        [span] = [span for span in receiver.spans if span.name == "traced"]
        assert span.trace_id.hex() == TRACE_ID and span.parent_span_id.hex() == PARENT_ID
        assert answer.text == f"00-{TRACE_ID}-{span.span_id.hex()}-01"
        attributes = {item.key: item.value for item in span.attributes}
        assert attributes["faas.name"].string_value == "traced" and attributes["faas.trigger"].string_value == "http"
        wait_until(
            lambda: {"faas.invocations", "faas.invoke_duration"} <= receiver.metric_names,
            20,
            "no metrics reached the receiver",
        )
        wait_until(
            lambda: any(record.body.string_value == "user says hi" for record in receiver.logs),
            20,
            "the function's log line did not reach the receiver",
        )
        [line] = [record for record in receiver.logs if record.body.string_value == "user says hi"]
        assert line.trace_id.hex() == TRACE_ID and line.span_id == span.span_id  # logged inside its span
        line_attributes = {item.key: item.value.string_value for item in line.attributes}
        invocation_id = next(item.value.string_value for item in span.attributes if item.key == "faas.invocation_id")
        assert line_attributes["invocation_id"] == invocation_id and line_attributes["function_name"] == "traced"
    finally:
        receiver.close()


CHAIN_APP = {
    "function_app.py": """
    import azure.functions as func

    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="order")
    @app.service_bus_queue_output(arg_name="out", queue_name="orders", connection="ServiceBusConnection")
    def order(req: func.HttpRequest, out: func.Out[str]) -> str:
        out.set("o-1")
        return "queued"

    @app.service_bus_queue_trigger(arg_name="msg", queue_name="orders", connection="ServiceBusConnection")
    def handle(msg: func.ServiceBusMessage) -> None:
        pass
"""
}


def test_a_message_carries_the_trace_to_the_function_it_triggers(tmp_path, host):
    receiver = Receiver()
    try:
        process = host(
            write_app(tmp_path / "app", CHAIN_APP),
            env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                "OTEL_BSP_SCHEDULE_DELAY": "100",
                "OTEL_METRIC_EXPORT_INTERVAL": "500",
            },
        )
        assert (
            process.request("GET", "/api/order", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}).text
            == "queued"
        )
        wait_until(lambda: {"order", "handle"} <= {span.name for span in receiver.spans}, 20, "spans missing")
        spans = {span.name: span for span in receiver.spans}
        assert spans["handle"].trace_id.hex() == TRACE_ID  # one trace from the HTTP caller to the queue's consumer
        assert spans["handle"].parent_span_id == spans["order"].span_id
        assert spans["handle"].kind == 5  # SPAN_KIND_CONSUMER
        wait_until(lambda: "faas.queue_lag" in receiver.metric_names, 20, "no queue lag for the message trigger")
    finally:
        receiver.close()


def test_the_queue_lag_is_read_from_the_messages_enqueued_time(tmp_path):
    import time
    from datetime import datetime, timedelta, timezone

    from azure.functions import meta

    from funchost.app.invocation import Invocation
    from funchost.invoke.telemetry import _enqueued_time
    from funchost.triggers.base import dotnet_time

    spec = index_of(write_app(tmp_path / "app", APP)).functions["traced"]
    sent = datetime.now(timezone.utc) - timedelta(seconds=2)
    for key in ("EnqueuedTimeUtc", "InsertionTime"):  # Service Bus and Event Hubs; storage queues
        invocation = Invocation(spec, meta.Datum("x", "string"), {key: meta.Datum(dotnet_time(sent), "string")})
        enqueued = _enqueued_time(invocation)
        assert enqueued is not None and abs(time.time() - enqueued - 2) < 1
    assert _enqueued_time(Invocation(spec, meta.Datum("x", "string"))) is None


class Ingestion:
    """An Application Insights ingestion endpoint on 127.0.0.1: keeps the envelopes it gets."""

    def __init__(self) -> None:
        import gzip
        import json

        self.envelopes: list[dict] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                items = json.loads(body)
                received.envelopes.extend(items)
                answer = json.dumps({"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.connection_string = (
            "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
            f"IngestionEndpoint=http://127.0.0.1:{self.server.server_address[1]}/"
        )
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_application_insights_connection_string_sends_requests_and_logs_to_azure_monitor(tmp_path, host):
    ingestion = Ingestion()
    try:
        process = host(
            write_app(tmp_path / "app", APP),
            env={
                "APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string,
                "OTEL_BSP_SCHEDULE_DELAY": "100",
                "OTEL_BLRP_SCHEDULE_DELAY": "100",
            },
        )
        header = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
        assert process.request("GET", "/api/traced", headers=header).status == 200

        def of_kind(kind: str) -> list[dict]:
            return [item for item in ingestion.envelopes if item.get("name", "").endswith(kind)]

        wait_until(lambda: of_kind("Request") and of_kind("Message"), 30, "no request or log reached Azure Monitor")
        [request] = [item for item in of_kind("Request") if item["data"]["baseData"]["name"] == "traced"]
        assert request["tags"]["ai.operation.id"] == TRACE_ID
        assert request["data"]["baseData"]["properties"]["faas.name"] == "traced"
        assert any(item["data"]["baseData"]["message"] == "user says hi" for item in of_kind("Message"))
    finally:
        ingestion.close()
