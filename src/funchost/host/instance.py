"""One host instance: load the app, start the listeners, serve, stop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import funchost
from funchost.app import AppIndex, load_app
from funchost.bindings.binders import Binders
from funchost.config import AppSettings, HostConfig, HostConfigError, LocalSettings, parse_bool, parse_timespan
from funchost.config.host_settings import HostSettings, load_host_settings
from funchost.host.console import GREEN, RED, YELLOW, configure_logging, flush_console, paint, real_stream
from funchost.host.health import HealthPolicy, LoadMonitor, instances_status
from funchost.host.listeners import build_listeners
from funchost.host.options import RECYCLE_EXIT_CODE, HostOptions
from funchost.host.process.control import Control
from funchost.invoke import Extensions, Invoker, extensions_enabled, install_log_capture
from funchost.invoke.invoker import FunctionTimeoutError, log_failure, timeout_message
from funchost.invoke.telemetry import Telemetry
from funchost.invoke.telemetry import enabled as telemetry_enabled
from funchost.invoke.threads import FunctionThreads
from funchost.invoke.timeout import Deadline
from funchost.storage.auto import StorageResolver
from funchost.storage.roles import StorageError
from funchost.triggers.base import Listener, ListenerContext, ListenerSet
from funchost.triggers.families import CATALOG
from funchost.triggers.http.admin import AdminApi
from funchost.triggers.http.app import DEFAULT_MAX_BODY, HttpApp, HttpOptions
from funchost.triggers.http.cors import CorsPolicy
from funchost.triggers.http.keys import KeyStore
from funchost.triggers.http.throttle import throttle_from

logger = logging.getLogger("funchost.host")

DEFAULT_PORT = 7071
STATE_DIR = ".funchost"
STOP_MARGIN = 1.0  # seconds a listener gets past the drain timeout to let go of its work


class HostInstance:
    """Loads an app folder and serves it; everything a single process needs."""

    def __init__(self, options: HostOptions, control: Control | None = None) -> None:
        self.options = options
        self.control = control or Control()
        self.request_stop: Callable[[], None] | None = None
        self.recycling = False
        self.root = options.script_root.resolve()
        self.started = time.monotonic()
        self.host_settings = HostSettings(self.root, options.production)
        self.index: AppIndex | None = None
        self.http_app: HttpApp | None = None
        self.executor: FunctionThreads | None = None
        self.fatal_error: str | None = None
        self.resolver: StorageResolver | None = None
        self.invoker: Invoker | None = None
        self.listeners = ListenerSet()
        self.listeners_started = False  # set once run_listeners started every listener

    def load(self) -> None:
        """Read settings and host.json, import the app, build the HTTP app. Raises on fatal errors."""
        self.host_settings = load_host_settings(
            self.root, production=self.options.production, functions=self.options.functions
        )
        install_log_capture()
        configure_logging(self.host_config.log_levels, self.options.verbose)
        for line in self.host_settings.warnings:
            logger.warning(line)
        extensions = Extensions(enabled=extensions_enabled(self.settings))
        self.index = load_app(self.root, self.settings, self.host_config, CATALOG)
        for spec in self.index.functions.values():
            extensions.post_function_load(spec.name, str(spec.directory))
        self.executor = FunctionThreads(self.host_settings.thread_count)
        self.resolver = StorageResolver(
            self.root, self.settings, str(self.host_config.get("extensions.queues.messageEncoding", "base64"))
        )
        telemetry = None
        if telemetry_enabled(self.settings, self.host_config):
            telemetry = Telemetry.from_environment(self.root.name, CATALOG.faas_trigger)
        invoker = Invoker(
            self.executor,
            extensions,
            Binders(self.resolver, self.settings, CATALOG),
            timeout=self.host_settings.function_timeout,
            on_sync_timeout=self.on_sync_timeout,
            telemetry=telemetry,
        )
        invoker.prepare(list(self.index.functions.values()))
        self.invoker = invoker
        context = ListenerContext(
            invoker,
            self.resolver,
            self.settings,
            self.host_config,
            self.host_settings.host_id,
            development=self.host_settings.development,
        )
        self.listeners = build_listeners(self.index, context)
        keys = KeyStore(self.secrets_folder())
        options = self.http_options()
        if options.enforce_auth:
            # the key files are needed from the first request on: create them now
            keys.host_secrets()
            for spec in self.index.functions.values():
                if spec.is_http:
                    keys.function_secrets(spec.name)
            used = {CATALOG.trigger(spec.trigger_type) for spec in self.index.functions.values()}
            for extension, family in CATALOG.webhooks().items():  # eventgrid_extension, as the real host makes it
                if family in used:
                    keys.system_key(f"{extension}_extension")
        self.http_app = HttpApp(self.index, invoker, options, keys)
        self.http_app.admin = AdminApi(
            self.index,
            keys,
            invoker,
            self._base_url_of,
            self.status,
            self.http_app.function_url,
            self.resolver,
            self.settings,
            self.waiting_listeners,
        )

    @property
    def settings(self) -> AppSettings:
        return self.host_settings.app

    @property
    def host_config(self) -> HostConfig:
        return self.host_settings.host_config

    @property
    def local_settings(self) -> LocalSettings:
        return self.host_settings.local

    def on_sync_timeout(self, invocation_id: str) -> None:
        """A sync function overran functionTimeout: its thread cannot be stopped, so this instance
        is replaced (drained and restarted), as the real host restarts its worker."""
        logger.error(
            "A function timeout has occurred. Restarting worker process executing invocationId '%s'.", invocation_id
        )
        self.recycle(f"functionTimeout exceeded by invocation {invocation_id}")

    def on_blocked_loop(self, deadline: Deadline) -> None:
        """Called from the watchdog thread: an async function blocked the event loop past
        functionTimeout. The loop cannot drain, so the instance reports the invocation as
        failed, asks its supervisor for a replacement and exits at once."""
        assert self.invoker is not None and self.invoker.timeout is not None
        duration = (time.monotonic() - deadline.started) * 1000
        message = timeout_message(deadline.function_name, deadline.invocation_id, self.invoker.timeout)
        log_failure(deadline.function_name, deadline.invocation_id, duration, FunctionTimeoutError(message))
        logger.error(
            "The event loop of this instance is blocked by function '%s' (an async function that does "
            "not await, such as one calling time.sleep); %s",
            deadline.function_name,
            "replacing the instance." if self.control.supervised else "it cannot be replaced without a supervisor.",
        )
        if not self.control.supervised:
            return
        flush_console()  # the failure is on the console before the supervisor says it recycles
        self.control.send(f"recycle the event loop was blocked by invocation {deadline.invocation_id}")
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(RECYCLE_EXIT_CODE)

    def recycle(self, reason: str) -> None:
        if self.recycling:
            return
        if not self.control.supervised:
            logger.error("Cannot recycle this instance without a supervisor (%s); it keeps running.", reason)
            return
        self.recycling = True
        flush_console()  # what led to it is on the console before the supervisor says it recycles
        self.control.send(f"recycle {reason}")
        if self.request_stop is not None:
            self.request_stop()

    def secrets_folder(self) -> Path:
        configured = self.settings.get("FUNCTIONS_SECRETS_PATH")
        return Path(configured) if configured else self.root / STATE_DIR / "secrets"

    def http_options(self) -> HttpOptions:
        config = self.host_config
        custom = config.section("extensions.http.customHeaders")
        headers = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in custom.items()]
        hsts = config.section("extensions.http.hsts")
        try:
            if parse_bool(hsts.get("isEnabled"), name="extensions.http.hsts.isEnabled"):
                headers.append((b"strict-transport-security", _hsts_value(hsts).encode("latin-1")))
        except ValueError as error:
            raise HostConfigError(f"host.json: {error}") from None
        limit = self.settings.get("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT") or ""
        try:
            throttle = throttle_from(config)
        except ValueError as error:
            raise HostConfigError(f"host.json: {error}") from None
        return HttpOptions(
            route_prefix=config.route_prefix,
            enforce_auth=self.options.enable_auth or self.options.production,
            max_body_size=int(limit) if limit.strip().isdigit() else DEFAULT_MAX_BODY,
            custom_headers=headers,
            disable_homepage=self.settings.is_true("AzureWebJobsDisableHomepage"),
            cors=self.cors_policy(),
            throttle=throttle,
        )

    def cors_policy(self) -> CorsPolicy | None:
        if self.options.production:
            raw = self.settings.get("CORS_ALLOWED_ORIGINS") or "[]"
            try:
                origins = [str(o) for o in json.loads(raw)]
            except ValueError:
                origins = [o for o in raw.split(",") if o]
            return CorsPolicy.create(origins, self.settings.is_true("CORS_SUPPORT_CREDENTIALS"))
        origins = self.options.cors if self.options.cors is not None else self.local_settings.cors
        credentials = (
            self.options.cors_credentials
            if self.options.cors_credentials is not None
            else self.local_settings.cors_credentials
        )
        return CorsPolicy.create(origins, credentials)

    @property
    def port(self) -> int:
        if self.options.port is not None:
            return self.options.port
        return self.local_settings.local_http_port or DEFAULT_PORT

    @property
    def address(self) -> str:
        return self.options.address or self.local_settings.local_http_address or "127.0.0.1"

    def display_base_url(self) -> str:
        host = self.address
        if host in ("0.0.0.0", "127.0.0.1", "::", "::1"):
            host = "localhost"
        return f"http://{host}:{self.port}"

    def _base_url_of(self, scope: dict[str, Any]) -> str:
        for name, value in scope.get("headers", []):
            if name == b"host":
                return f"{scope.get('scheme', 'http')}://{value.decode('latin-1')}"
        return self.display_base_url()

    def status(self) -> dict[str, Any]:
        errors = [str(e) for e in self.load_errors()]
        status: dict[str, Any] = {
            "id": self.host_settings.host_id,
            "state": "Error" if self.fatal_error else "Running",
            "version": funchost.__version__,
            "versionDetails": f"funchost {funchost.__version__} (Python {sys.version.split()[0]})",
            "platformVersion": "",
            "instanceId": f"{os.getpid()}",
            "computerName": os.uname().nodename if hasattr(os, "uname") else "",
            "processUptime": int((time.monotonic() - self.started) * 1000),
            "functionAppContentEditingState": "Unknown",
        }
        if errors:
            status["errors"] = errors
        instances = instances_status()
        if instances is not None:
            status["instances"] = instances
        return status

    def load_errors(self) -> list[Any]:
        if self.index is None:
            return []
        errors: list[Any] = list(self.index.errors)
        if self.http_app is not None:
            errors += [f"The '{n}' function is in error: {m}" for n, m in self.http_app.route_errors.items()]
        errors += [f"The '{n}' function is in error: {m}" for n, m in self.listeners.errors.items()]
        return errors

    def print_functions(self) -> None:
        """The ``Functions:`` list Core Tools prints at start, then load errors in red."""
        flush_console()  # the log lines made while loading come first
        out = real_stream(sys.stdout)
        assert self.index is not None and self.http_app is not None
        lines = ["", "Functions:", ""]
        base = self.display_base_url()
        for spec in sorted(self.index.functions.values(), key=lambda s: s.name.lower()):
            if spec.name in self.http_app.route_errors:
                continue
            if spec.disabled:
                lines += [f"\tFunction {spec.name} is disabled.", ""]
            elif spec.is_http:
                methods = spec.trigger.setting("methods")
                shown = f"[{','.join(str(m).upper() for m in methods)}] " if methods else " "
                url = self.http_app.function_url(spec, base)
                lines += [f"\t{spec.name}: {shown}{paint(url, GREEN)}", ""]
            elif spec.name in self.listeners.errors:
                continue
            else:
                lines += [f"\t{spec.name}: {spec.trigger_type}", ""]
        if not self.index.functions:
            lines += [paint("No job functions found.", YELLOW), ""]
        out.write("\n".join(lines) + "\n")
        for error in self.index.errors:
            out.write(paint(str(error), RED) + "\n")
        for name, message in {**self.http_app.route_errors, **self.listeners.errors}.items():
            out.write(paint(f"The '{name}' function is in error: {message}", RED) + "\n")
        for provider in self.listeners.providers:
            location = provider.location
            where = f" ({location})" if location is not None else ""
            out.write(f"Storage: {provider.name}{where}\n")
        out.flush()

    def load_monitor(self) -> LoadMonitor:
        assert self.invoker is not None and self.http_app is not None
        return LoadMonitor(
            self.invoker,
            self.host_settings.thread_count,
            self.http_app.options.throttle,
            HealthPolicy.from_config(self.host_config),
            report=lambda sample: self.control.send("status " + json.dumps(sample)),
            on_unhealthy=self.recycle,
        )

    async def run_listeners(self) -> None:
        """Open the storage the listeners need and start them; StorageError when it is unusable."""
        for provider in self.listeners.providers:
            await provider.open()
        for listener in self.listeners.listeners:
            await listener.start()
        self.listeners_started = True

    def waiting_listeners(self) -> list[str]:
        """Why the instance is not ready (``/admin/host/ready``): listeners not started yet, or a
        listener still waiting for what it needs (a Cosmos DB container that does not exist)."""
        if not self.listeners_started:
            return ["listeners"]
        return [f"Functions.{name}" for name in self.listeners.waiting()]

    async def stop_listeners(self, drain_timeout: float | None = None) -> None:
        """Stop fetching new work, wait for what is running, then close storage.

        Every listener drains at once against the same deadline; one that overruns it is
        cancelled, so the instance stops within its budget.
        """

        async def stop(listener: Listener) -> None:
            try:
                await listener.stop(drain_timeout)
            except StorageError as error:
                logger.warning("Stopping a listener failed: %s", error)

        tasks = [asyncio.create_task(stop(listener)) for listener in self.listeners.listeners]
        if tasks:
            budget = None if drain_timeout is None else drain_timeout + STOP_MARGIN
            _, late = await asyncio.wait(tasks, timeout=budget)
            for task in late:
                logger.warning("A listener did not stop within the drain timeout; stopping it now.")
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=STOP_MARGIN)
        if self.resolver is not None:
            await self.resolver.close()
        if self.invoker is not None and self.invoker.telemetry is not None:
            self.invoker.telemetry.shutdown()  # export the last spans and metrics


def _hsts_value(hsts: dict[str, Any]) -> str:
    max_age = 2592000  # ASP.NET's default: 30 days
    raw = hsts.get("maxAge")
    if raw is not None:
        try:
            span = parse_timespan(str(raw))
        except ValueError as error:
            raise ValueError(f"extensions.http.hsts.maxAge: {error}") from None
        max_age = int(span.total_seconds()) if span else max_age
    value = f"max-age={max_age}"
    if parse_bool(hsts.get("includeSubDomains"), name="extensions.http.hsts.includeSubDomains"):
        value += "; includeSubDomains"
    if parse_bool(hsts.get("preload"), name="extensions.http.hsts.preload"):
        value += "; preload"
    return value
