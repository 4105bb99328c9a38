"""The effective settings of one host, built once at load (uvicorn's ``Config`` is the model).

local.settings.json, host.json (with its ``AzureFunctionsJobHost__`` overrides) and the
environment are read here and nowhere else; the rest of the host reads this object. The only
write to the environment is the one the real host makes too: the app settings (and the two
the platform sets, ``AzureWebJobsScriptRoot`` and ``AZURE_FUNCTIONS_ENVIRONMENT``), which the
user's code reads with ``os.environ``.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from funchost.config.app_settings import AppSettings
from funchost.config.hostjson import HostConfig, HostConfigError, load_host_json
from funchost.config.local_settings import LocalSettings, apply_to_environ, load_local_settings

DEFAULT_FUNCTION_TIMEOUT = timedelta(minutes=30)  # the real host's, locally and on Dedicated plans
DEFAULT_HTTP_REQUEST_TIMEOUT = 30.0  # Kestrel's RequestHeadersTimeout
HTTP_SERVERS = ("uvicorn", "granian")  # host/http/: one adapter module each


@dataclass(frozen=True)
class HostSettings:
    """Everything configurable about one host instance, worked out once."""

    root: Path
    production: bool = False
    local: LocalSettings = field(default_factory=LocalSettings)
    host_config: HostConfig = field(default_factory=HostConfig)
    app: AppSettings = field(default_factory=AppSettings)
    # lines for the console: local settings skipped because the environment defines them
    warnings: list[str] = field(default_factory=list)
    thread_count: int = 1
    function_timeout: float | None = DEFAULT_FUNCTION_TIMEOUT.total_seconds()
    http_request_timeout: float = DEFAULT_HTTP_REQUEST_TIMEOUT
    http_server: str = "uvicorn"
    host_id: str = ""

    @property
    def development(self) -> bool:
        return not self.production


def load_host_settings(
    root: Path,
    *,
    production: bool = False,
    functions: list[str] | None = None,
    environ: MutableMapping[str, str] | None = None,
) -> HostSettings:
    """Read the app's settings files and the environment; raise HostConfigError (or
    EncryptedSettingsError) when they cannot be used."""
    environ = os.environ if environ is None else environ
    root = root.resolve()
    local = load_local_settings(root)
    skipped = apply_to_environ(local, environ)
    environ.setdefault("AzureWebJobsScriptRoot", str(root))
    environ.setdefault("AZURE_FUNCTIONS_ENVIRONMENT", "Production" if production else "Development")
    host_config = load_host_json(root, environ, functions=functions)
    app = AppSettings(environ)
    return HostSettings(
        root=root,
        production=production,
        local=local,
        host_config=host_config,
        app=app,
        warnings=[*local.warnings, *skipped],
        thread_count=thread_count(app),
        function_timeout=function_timeout(host_config),
        http_request_timeout=http_request_timeout(app),
        http_server=http_server(app),
        host_id=host_id(app, root),
    )


def thread_count(app: AppSettings) -> int:
    """``PYTHON_THREADPOOL_THREAD_COUNT``, else the worker's default for Python 3.9+."""
    value = (app.get("PYTHON_THREADPOOL_THREAD_COUNT") or "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return min(32, (os.cpu_count() or 1) + 4)


def function_timeout(host_config: HostConfig) -> float | None:
    """host.json ``functionTimeout`` in seconds (30 minutes by default), None for ``-1``."""
    try:
        span = host_config.timespan("functionTimeout", DEFAULT_FUNCTION_TIMEOUT)
    except ValueError as error:
        raise HostConfigError(f"host.json functionTimeout: {error}") from None
    if span is not None and span < timedelta(seconds=1):
        raise HostConfigError("FunctionTimeout must be greater than 00:00:01.")
    return span.total_seconds() if span is not None else None


def http_request_timeout(app: AppSettings) -> float:
    """``FUNCHOST_HTTP_REQUEST_TIMEOUT``: seconds a client may take to send headers, or let its body stall."""
    raw = (app.get("FUNCHOST_HTTP_REQUEST_TIMEOUT") or "").strip()
    try:
        value = float(raw) if raw else DEFAULT_HTTP_REQUEST_TIMEOUT
    except ValueError:
        return DEFAULT_HTTP_REQUEST_TIMEOUT
    return value if value > 0 else DEFAULT_HTTP_REQUEST_TIMEOUT


def http_server(app: AppSettings) -> str:
    """``FUNCHOST_HTTP_SERVER``: ``uvicorn`` (the default) or ``granian`` (the ``funchost[granian]`` extra)."""
    value = (app.get("FUNCHOST_HTTP_SERVER") or "uvicorn").strip().lower()
    if value not in HTTP_SERVERS:
        raise HostConfigError(f"FUNCHOST_HTTP_SERVER is '{value}': use one of {', '.join(HTTP_SERVERS)}.")
    return value


def host_id(app: AppSettings, root: Path) -> str:
    """What instances of one app share (leases, timer status, blob receipts), as the real host
    derives it: ``AzureFunctionsWebHost__hostid``, else the site name (``WEBSITE_SITE_NAME``,
    set on the platform; set it on every machine of a cluster), else, like Core Tools, the
    machine name and a hash of the app folder."""
    configured = app.get("AzureFunctionsWebHost__hostid")
    if configured:
        return configured.lower()[:32]
    site = (app.get("WEBSITE_SITE_NAME") or "").strip().lower()
    if site:
        return site[:32].rstrip("-")
    machine = "".join(c for c in socket.gethostname().lower() if c.isalnum() or c == "-")
    digest = hashlib.sha256(str(root).lower().encode()).hexdigest()[:8]
    return f"{machine}-{digest}".strip("-")[:32]
