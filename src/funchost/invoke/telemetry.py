"""OpenTelemetry for invocations (the ``otel`` extra): one span per invocation with the FaaS
semantic conventions, a child of the incoming W3C trace context (the HTTP ``traceparent``
header), current while the function runs so the function's own instrumentation nests under
it, and metrics per function: invocations, failures, a duration histogram and, for message triggers,
the time from enqueueing to invocation; and what functions log during an invocation, as log
records with the invocation id and the span.

On when host.json says ``"telemetryMode": "OpenTelemetry"`` (the real host's switch), an
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set (export over
OTLP/HTTP, configured by the standard ``OTEL_*`` variables, which the SDK reads itself), or
``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set (export to Azure Monitor).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from funchost.app.invocation import Invocation, Outcome
from funchost.config import AppSettings, HostConfig

logger = logging.getLogger("funchost.telemetry")

AZURE_MONITOR = "APPLICATIONINSIGHTS_CONNECTION_STRING"

# a trigger type's OpenTelemetry faas.trigger ("http", "pubsub", ...): its family's descriptor says
FaasTrigger = Callable[[str], str]


def enabled(settings: AppSettings, host_config: HostConfig) -> bool:
    mode = str(host_config.get("telemetryMode") or "").lower()
    return mode == "opentelemetry" or any(
        settings.get(name)
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", AZURE_MONITOR)
    )


def _exporters() -> list[tuple[Any, Any, Any]]:
    """(span, metric, log) exporters: OTLP/HTTP unless only Azure Monitor is configured, and Azure
    Monitor when its connection string is set and its exporter is installed."""
    found: list[tuple[Any, Any, Any]] = []
    otlp = any(os.environ.get(name) for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
    azure = os.environ.get(AZURE_MONITOR)
    if otlp or not azure:
        try:
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            found.append((OTLPSpanExporter(), OTLPMetricExporter(), OTLPLogExporter()))
        except ImportError as error:
            logger.warning("The OTLP exporter cannot be loaded (%s): pip install 'funchost[otel]'.", error)
    if azure:
        try:
            from azure.monitor.opentelemetry.exporter import (
                AzureMonitorLogExporter,
                AzureMonitorMetricExporter,
                AzureMonitorTraceExporter,
            )

            found.append(
                (
                    AzureMonitorTraceExporter(connection_string=azure),
                    AzureMonitorMetricExporter(connection_string=azure),
                    AzureMonitorLogExporter(connection_string=azure),
                )
            )
        except ImportError as error:
            logger.warning(
                "%s is set, but the Azure Monitor exporter cannot be loaded (%s): pip install "
                "'funchost[azuremonitor]'. Nothing is sent to Application Insights.",
                AZURE_MONITOR,
                error,
            )
    return found


class Telemetry:
    """Spans and metrics for invocations, on the given providers."""

    def __init__(
        self, tracer_provider: Any, meter_provider: Any, faas_trigger: FaasTrigger, logger_provider: Any = None
    ) -> None:
        from opentelemetry.propagate import extract  # noqa: F401 - fails early when the API is missing

        self.faas_trigger = faas_trigger
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.logger_provider = logger_provider
        self._log_handler: logging.Handler | None = None
        if logger_provider is not None:
            from opentelemetry.sdk._logs import LoggingHandler

            # what functions log during an invocation (any logger, print): with the invocation's
            # id and function name as attributes, and its span's trace and span ids
            self._log_handler = LoggingHandler(level=logging.NOTSET, logger_provider=logger_provider)
            self._log_handler.addFilter(lambda record: getattr(record, "invocation_id", None) is not None)
            logging.getLogger().addHandler(self._log_handler)
        self.tracer = tracer_provider.get_tracer("funchost")
        meter = meter_provider.get_meter("funchost")
        self.invocations = meter.create_counter("faas.invocations", description="Invocations started")
        self.errors = meter.create_counter("faas.errors", description="Invocations that failed")
        self.duration = meter.create_histogram(
            "faas.invoke_duration", unit="s", description="How long invocations took"
        )
        self.lag = meter.create_histogram(
            "faas.queue_lag", unit="s", description="From a message's enqueueing to its invocation"
        )
        self._cold = True

    @classmethod
    def from_environment(cls, service_name: str, faas_trigger: FaasTrigger) -> Telemetry | None:
        """Exporters configured by the environment: OTLP/HTTP (the ``OTEL_*`` variables) and/or
        Azure Monitor (``APPLICATIONINSIGHTS_CONNECTION_STRING``, with
        azure-monitor-opentelemetry-exporter installed). None, and one warning, when the SDK
        is missing. The providers become OpenTelemetry's global ones, so the functions' own
        instrumentation exports through them too."""
        try:
            from opentelemetry import metrics, trace
            from opentelemetry.sdk._logs import LoggerProvider
            from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError as error:
            logger.warning(
                "OpenTelemetry is asked for, but its SDK cannot be loaded (%s): pip install "
                "'funchost[otel]'. Invocations are not traced.",
                error,
            )
            return None
        exporters = _exporters()
        if not exporters:
            return None
        resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or service_name})
        tracer_provider = TracerProvider(resource=resource)
        meter_readers = []
        logger_provider = LoggerProvider(resource=resource)
        for span_exporter, metric_exporter, log_exporter in exporters:
            tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
            meter_readers.append(PeriodicExportingMetricReader(metric_exporter))
            logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
        meter_provider = MeterProvider(resource=resource, metric_readers=meter_readers)
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
        return cls(tracer_provider, meter_provider, faas_trigger, logger_provider)

    def start(self, invocation: Invocation) -> tuple[Any, Any, str]:
        """Open the invocation's span and make it current; returns it, the token to detach, and
        its ``traceparent`` (what ``context.trace_context`` then gives the function)."""
        from opentelemetry import context, trace
        from opentelemetry.propagate import extract

        spec = invocation.function
        carrier = {"traceparent": invocation.trace_parent} if invocation.trace_parent else {}
        if carrier and invocation.trace_state:
            carrier["tracestate"] = invocation.trace_state
        trigger = self.faas_trigger(spec.trigger_type)
        kind = (
            trace.SpanKind.SERVER
            if trigger == "http"
            else trace.SpanKind.CONSUMER
            if trigger == "pubsub"
            else trace.SpanKind.INTERNAL
        )
        span = self.tracer.start_span(
            spec.name,
            context=extract(carrier),
            kind=kind,
            attributes={
                "faas.name": spec.name,
                "faas.trigger": trigger,
                "faas.invocation_id": invocation.invocation_id,
                "faas.coldstart": self._cold,
            },
        )
        self._cold = False
        token = context.attach(trace.set_span_in_context(span))
        own = span.get_span_context()
        traceparent = f"00-{own.trace_id:032x}-{own.span_id:016x}-{int(own.trace_flags):02x}"
        self.invocations.add(1, {"faas.name": spec.name, "faas.trigger": trigger})
        enqueued = _enqueued_time(invocation)
        if enqueued is not None:
            self.lag.record(max(0.0, time.time() - enqueued), {"faas.name": spec.name, "faas.trigger": trigger})
        return span, token, traceparent

    def end(self, span: Any, token: Any, invocation: Invocation, outcome: Outcome, started: float) -> None:
        from opentelemetry import context
        from opentelemetry.trace import Status, StatusCode

        spec = invocation.function
        attributes = {"faas.name": spec.name, "faas.trigger": self.faas_trigger(spec.trigger_type)}
        if not outcome.succeeded:
            if outcome.error is not None:
                span.record_exception(outcome.error)
            span.set_status(Status(StatusCode.ERROR, str(outcome.error or "failed")))
            self.errors.add(1, attributes)
        self.duration.record(time.perf_counter() - started, attributes)
        span.end()
        context.detach(token)

    def shutdown(self) -> None:
        """Export what is pending (at the end of an instance's life)."""
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
        for provider in (self.tracer_provider, self.meter_provider, self.logger_provider):
            if provider is None:
                continue
            try:
                provider.shutdown()
            except Exception as error:  # noqa: BLE001 - an exporter failing at exit must not stop the exit
                logger.warning("Flushing telemetry failed: %s", error)


def _enqueued_time(invocation: Invocation) -> float | None:
    """When a message (queue, Service Bus, Event Hubs) was enqueued, from its trigger metadata."""
    datum = invocation.trigger_metadata.get("EnqueuedTimeUtc") or invocation.trigger_metadata.get("InsertionTime")
    if datum is None or not isinstance(datum.value, str):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", datum.value.replace("Z", "+00:00"))  # .NET's 7 digits; 3.10 takes 6
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
