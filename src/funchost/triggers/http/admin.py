"""The admin API: ping, readiness, status, function metadata, running non-HTTP functions, keys."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from funchost.app.model import AppIndex, FunctionSpec
from funchost.config import AppSettings
from funchost.invoke import Invoker
from funchost.storage.auto import StorageResolver
from funchost.storage.roles import StorageError
from funchost.triggers.common.manual import ManualInvocationError, invocation_by_hand
from funchost.triggers.http.keys import MASTER, KeyLevel, KeyStore

JSON = [(b"content-type", b"application/json; charset=utf-8")]
NO_STORE = [(b"cache-control", b"no-store, no-cache")]

Response = tuple[int, list[tuple[bytes, bytes]], bytes]

logger = logging.getLogger("funchost.admin")

_FUNCTION_KEYS = re.compile(r"^/admin/functions/([^/]+)/keys(?:/([^/]+))?/?$", re.IGNORECASE)
_HOST_KEYS = re.compile(r"^/admin/host/(keys|functionkeys|systemkeys)(?:/([^/]+))?/?$", re.IGNORECASE)
_FUNCTION = re.compile(r"^/admin/functions/([^/]+)/?$", re.IGNORECASE)
_FUNCTION_STATUS = re.compile(r"^/admin/functions/([^/]+)/status/?$", re.IGNORECASE)


def _json(status: int, value: Any) -> Response:
    return status, JSON, json.dumps(value).encode("utf-8")


class AdminApi:
    """Answers ``/admin/...``; every route but ping needs the master key when auth is on."""

    def __init__(
        self,
        index: AppIndex,
        keys: KeyStore,
        invoker: Invoker,
        base_url: Callable[[dict[str, Any]], str],
        status: Callable[[], dict[str, Any]],
        function_url: Callable[[FunctionSpec, str], str],
        resolver: StorageResolver,
        settings: AppSettings,
        readiness: Callable[[], list[str]] | None = None,
    ) -> None:
        self.index = index
        self.keys = keys
        self.invoker = invoker
        self.base_url = base_url
        self.status = status
        self.function_url = function_url
        self.resolver = resolver
        self.settings = settings
        self.readiness = readiness  # what is not ready yet (empty: ready)
        self.tasks: set[asyncio.Task[Any]] = set()

    async def handle(self, scope: dict[str, Any], body: bytes, level: KeyLevel | None) -> Response:
        path: str = scope["path"]
        method: str = scope["method"]
        lowered = path.lower().rstrip("/")
        if lowered == "/admin/host/ping":
            return (200, NO_STORE, b"") if method in ("GET", "POST", "HEAD") else (405, [], b"")
        if lowered == "/admin/host/ready" and method in ("GET", "HEAD"):  # for readiness probes: no key
            waiting = self.readiness() if self.readiness is not None else []
            return _json(503 if waiting else 200, {"ready": not waiting, "waitingFor": waiting})
        if level is not KeyLevel.ADMIN:
            return 401, [], b""
        if lowered == "/admin/host/status" and method == "GET":
            return _json(200, self.status())
        if lowered == "/admin/functions" and method == "GET":
            base = self.base_url(scope)
            return _json(200, [self._describe(s, base) for s in self.index.functions.values()])
        if match := _FUNCTION_KEYS.match(path):
            spec = self.index.get(unquote(match.group(1)))
            if spec is None:
                return 404, [], b""
            return self._keys(method, "function", match.group(2), body, scope, spec.name)
        if match := _HOST_KEYS.match(path):
            scope_name = match.group(1).lower()
            scope_name = "functionkeys" if scope_name == "keys" else scope_name
            return self._keys(method, scope_name, match.group(2), body, scope, None)
        if match := _FUNCTION_STATUS.match(path):
            spec = self.index.get(unquote(match.group(1)))
            return _json(200, {}) if spec is not None else (404, [], b"")
        if match := _FUNCTION.match(path):
            spec = self.index.get(unquote(match.group(1)))
            if spec is None:
                return 404, [], b""
            if method == "GET":
                return _json(200, self._describe(spec, self.base_url(scope)))
            if method == "POST":
                return self._run(spec, body)
        return 404, [], b""

    def _run(self, spec: FunctionSpec, body: bytes) -> Response:
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            return 400, [], b""
        if not isinstance(payload, dict):
            return 400, [], b""
        value = payload.get("input", "")
        text = value if isinstance(value, str) else json.dumps(value)
        task = asyncio.ensure_future(self._run_by_hand(spec, text))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return 202, [], b""

    async def _run_by_hand(self, spec: FunctionSpec, text: str) -> None:
        try:
            invocation = await invocation_by_hand(spec, text, self.resolver, self.settings)
        except (ManualInvocationError, StorageError) as error:
            logger.error("The function '%s' could not be run by hand: %s", spec.name, error)
            return
        await self.invoker.invoke(invocation)

    def _describe(self, spec: FunctionSpec, base: str) -> dict[str, Any]:
        href = f"{base}/admin/functions/{spec.name}"
        config: dict[str, Any] = {
            "scriptFile": spec.script_file.name,
            "entryPoint": spec.entry_point,
            "bindings": [b.settings for b in spec.bindings],
        }
        if spec.disabled:
            config["disabled"] = True
        return {
            "name": spec.name,
            "script_root_path_href": f"{base}/admin/vfs/{spec.name}/",
            "script_href": f"{base}/admin/vfs/{spec.script_file.name}",
            "config_href": f"{base}/admin/vfs/{spec.name}/function.json",
            "test_data_href": None,
            "href": href,
            "invoke_url_template": self.function_url(spec, base) if spec.is_http else None,
            "language": "python",
            "config": config,
            "files": None,
            "test_data": "",
            "isDisabled": spec.disabled,
            "isDirect": False,
            "isProxy": False,
        }

    def _keys(
        self,
        method: str,
        scope_name: str,
        key_name: str | None,
        body: bytes,
        scope: dict[str, Any],
        function_name: str | None,
    ) -> Response:
        base = self.base_url(scope)
        self_link = f"{base}{scope['path']}"
        if key_name is None:
            if method != "GET":
                return 405, [], b""
            keys = self.keys.list_keys(scope_name, function_name)
            return _json(200, {"keys": keys, "links": [{"rel": "self", "href": self_link}]})
        key_name = unquote(key_name)
        if method == "GET":
            key = self.keys.get_key(scope_name, key_name, function_name)
            if key is None:
                return 404, [], b""
            return _json(200, {**key, "links": [{"rel": "self", "href": self_link}]})
        if method in ("POST", "PUT"):
            value = None
            if method == "PUT":
                try:
                    value = json.loads(body or b"{}").get("value")
                except (ValueError, AttributeError):
                    value = None
                if not isinstance(value, str) or len(value) < 16:
                    return _json(400, "Invalid key value")
            key, created = self.keys.set_key(scope_name, key_name, value, function_name)
            return _json(201 if created else 200, {**key, "links": [{"rel": "self", "href": self_link}]})
        if method == "DELETE":
            if key_name == MASTER:
                return _json(400, "Cannot delete System Key.")
            return (204, [], b"") if self.keys.delete_key(scope_name, key_name, function_name) else (404, [], b"")
        return 405, [], b""
