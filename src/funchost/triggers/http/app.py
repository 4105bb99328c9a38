"""The ASGI application that serves an app's HTTP functions, the home page and the admin API."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from funchost.app.model import AppIndex, FunctionSpec
from funchost.invoke import Invocation, Invoker
from funchost.triggers.families import CATALOG
from funchost.triggers.http import messages
from funchost.triggers.http.cors import CorsPolicy
from funchost.triggers.http.keys import KeyLevel, KeyStore
from funchost.triggers.http.request import Request, query_values, request_datum
from funchost.triggers.http.routing import Router, RouteTemplateError, compile_route
from funchost.triggers.http.throttle import RequestThrottle

logger = logging.getLogger("funchost.http")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

HOMEPAGE = (
    b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Azure Functions</title></head>'
    b"<body><h1>Your Functions 4.0 app is up and running</h1>"
    b"<p>Served by funchost.</p></body></html>"
)
DEFAULT_MAX_BODY = 104857600
REASON = "This function was programmatically called via the host APIs."


@dataclass
class HttpOptions:
    """What shapes the HTTP surface: host.json ``extensions.http`` and the command line."""

    route_prefix: str = "api"
    enforce_auth: bool = False
    max_body_size: int = DEFAULT_MAX_BODY
    custom_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    disable_homepage: bool = False
    cors: CorsPolicy | None = None
    throttle: RequestThrottle | None = None


@dataclass
class RouteTarget:
    function: FunctionSpec
    auth_level: str  # anonymous | function | admin
    # other bindings may use {query} or {route} values: build the trigger metadata only then
    needs_metadata: bool = True
    empty_status: int = 200  # when the function gives no response


class HttpApp:
    """ASGI app: routes requests to functions through the invoker."""

    def __init__(
        self,
        index: AppIndex,
        invoker: Invoker,
        options: HttpOptions,
        keys: KeyStore,
        admin: Any = None,
    ) -> None:
        self.index = index
        self.invoker = invoker
        self.options = options
        self.keys = keys
        self.router = Router()
        self.route_errors: dict[str, str] = {}
        self.admin = admin
        self._build_routes()

    def _build_routes(self) -> None:
        seen: list[tuple[str, frozenset[str] | None, str]] = []
        for spec in sorted(self.index.functions.values(), key=lambda s: s.name.lower()):
            if not spec.is_http:
                continue
            route_text = str(spec.trigger.setting("route") or spec.name).strip()
            trimmed = route_text.strip("/")
            if trimmed.lower().startswith(("admin", "runtime")):
                self.route_errors[spec.name] = "The specified route conflicts with one or more built in routes."
                continue
            methods = spec.trigger.setting("methods")
            method_set = frozenset(str(m).upper() for m in methods) if methods else None
            conflict = next(
                (
                    other
                    for text, other_methods, other in seen
                    if text == trimmed.lower()
                    and (method_set is None or other_methods is None or method_set & other_methods)
                ),
                None,
            )
            if conflict is not None:
                self.route_errors[spec.name] = (
                    f"The route specified conflicts with the route defined by function '{conflict}'."
                )
                continue
            prefix = self.options.route_prefix
            full = f"{prefix}/{trimmed}" if prefix else trimmed
            auth_level = str(spec.trigger.setting("authLevel") or "function").lower()
            needs_metadata = any(not b.is_trigger and b.type.lower() != "http" for b in spec.bindings)
            try:
                target = RouteTarget(spec, auth_level, needs_metadata, messages.empty_response_status(spec))
                route = compile_route(full, target, method_set)
            except RouteTemplateError as error:
                self.route_errors[spec.name] = str(error)
                continue
            seen.append((trimmed.lower(), method_set, spec.name))
            self.router.add(route)

    def function_url(self, spec: FunctionSpec, base: str) -> str:
        route_text = str(spec.trigger.setting("route") or spec.name).strip().strip("/")
        prefix = self.options.route_prefix
        return f"{base}/{prefix}/{route_text}" if prefix else f"{base}/{route_text}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for middleware in self.index.asgi_middlewares:
                    try:
                        await middleware.notify_shutdown()
                    except Exception:
                        logger.exception("The ASGI app's lifespan shutdown failed")
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        headers = messages.headers_to_dict(scope["headers"])
        cors = self.options.cors
        if cors is not None and method == "OPTIONS" and "access-control-request-method" in headers:
            preflight = cors.preflight_headers(headers.get("origin"), headers.get("access-control-request-headers"))
            await _respond(send, 204 if preflight else 404, preflight, b"")
            return
        if path.startswith("/runtime/webhooks/"):
            await self._webhook(scope, headers, receive, send)
            return
        if path.startswith("/admin/") and self.admin is not None:
            body = await self._read_body(headers, receive, send)
            if body is None:
                return
            level = self._caller_level(scope, headers, None)
            status, response_headers, payload = await self.admin.handle(scope, body, level)
            await self._send(headers, send, status, response_headers, payload)
            return
        # route on the path as sent, so each route value is percent-decoded exactly once
        raw_path = scope.get("raw_path")
        found = self.router.match(raw_path.decode("latin-1") if raw_path else quote(path), method)
        if found is None:
            if path == "/" and method in ("GET", "HEAD"):  # the home page yields to a function's route
                if self.options.disable_homepage:
                    await self._send(headers, send, 204, [], b"")
                else:
                    await self._send(headers, send, 200, [(b"content-type", b"text/html; charset=utf-8")], HOMEPAGE)
                return
            await self._send(headers, send, 404, [], b"")
            return
        route, route_values = found
        target: RouteTarget = route.target
        spec = target.function
        if self.options.enforce_auth or spec.disabled:
            level = self._caller_level(scope, headers, spec.name)
            if spec.disabled and level is not KeyLevel.ADMIN:
                await self._send(headers, send, 404, [], b"")
                return
            if not _authorized(target.auth_level, level):
                await self._send(headers, send, 401, [], b"")
                return
        throttle = self.options.throttle
        if throttle is None:
            await self._invoke(target, route_values, scope, headers, receive, send)
        else:
            await throttle.run(
                lambda: self._invoke(target, route_values, scope, headers, receive, send),
                lambda: self._send(headers, send, 429, [], b""),
            )

    async def _invoke(
        self,
        target: RouteTarget,
        route_values: dict[str, str | None],
        scope: Scope,
        headers: dict[str, str],
        receive: Receive,
        send: Send,
    ) -> None:
        spec = target.function
        body = await self._read_body(headers, receive, send)
        if body is None:
            return
        request = Request(scope, headers, route_values, body)
        invocation = Invocation(
            function=spec,
            trigger_data=request_datum(request),
            trigger_metadata=messages.trigger_metadata(headers, query_values(request), route_values)
            if target.needs_metadata
            else {},
            reason=REASON,
            trace_parent=headers.get("traceparent"),
            trace_state=headers.get("tracestate"),
            trigger_value=request,
        )
        outcome = await self.invoker.invoke(invocation)
        if not outcome.succeeded:
            await self._send(headers, send, 500, [], b"")
            return
        try:
            status, response_headers, payload = messages.to_raw_response(outcome.http_response, target.empty_status)
        except messages.ResponseConversionError as error:
            logger.error("Function '%s' (Id=%s): %s", spec.name, outcome.invocation_id, error)
            await self._send(headers, send, 500, [], b"")
            return
        await self._send(headers, send, status, response_headers, payload)

    async def _webhook(self, scope: Scope, headers: dict[str, str], receive: Receive, send: Send) -> None:
        """``/runtime/webhooks/<extension>``: a trigger family served over HTTP (Event Grid)."""
        extension = scope["path"][len("/runtime/webhooks/") :].strip("/").lower()
        family = CATALOG.webhooks().get(extension)
        functions = {
            name: spec
            for name, spec in self.index.functions.items()
            if family is not None and CATALOG.trigger(spec.trigger_type) is family and not spec.disabled
        }
        if family is None or family.webhook_module is None or not functions:
            await self._send(headers, send, 404, [], b"")
            return
        if self.options.enforce_auth:
            level = self._caller_level(scope, headers, None)
            presented = headers.get("x-functions-key") or messages.query_to_dict(scope["query_string"]).get("code")
            own_key = level is KeyLevel.SYSTEM and presented == self.keys.system_key(f"{extension}_extension")
            if level is not KeyLevel.ADMIN and not own_key:
                await self._send(headers, send, 401, [], b"")
                return
        body = await self._read_body(headers, receive, send)
        if body is None:
            return
        module = family.webhook_module()
        query = messages.query_to_dict(scope["query_string"])
        status, response_headers, payload = await module.handle_webhook(
            functions, self.invoker, scope["method"], query, headers, body
        )
        await self._send(headers, send, status, response_headers, payload)

    def _caller_level(self, scope: Scope, headers: dict[str, str], function_name: str | None) -> KeyLevel | None:
        if not self.options.enforce_auth:
            return KeyLevel.ADMIN
        key = headers.get("x-functions-key")
        if not key and scope["query_string"]:
            key = messages.query_to_dict(scope["query_string"]).get("code")
        if not key:
            return None
        return self.keys.authorize(key, function_name)

    async def _read_body(self, headers: dict[str, str], receive: Receive, send: Send) -> bytes | None:
        """The whole request body, or None after answering 413 when it is over the limit."""
        limit = self.options.max_body_size
        declared = headers.get("content-length")
        if declared is None or declared == "0":
            if "transfer-encoding" not in headers:
                return b""  # HTTP/1.1: no length and no chunks means no body; no need to ask the server
        elif declared.isdigit() and int(declared) > limit:
            await self._send(headers, send, 413, [], b"")
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    await self._send(headers, send, 413, [], b"")
                    return None
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        if len(chunks) == 1:
            return chunks[0]
        return b"".join(chunks)

    async def _send(
        self,
        request_headers: dict[str, str],
        send: Send,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        extra = self.options.custom_headers
        if extra:
            present = {name for name, _ in headers}
            headers = headers + [(n, v) for n, v in extra if n not in present]
        if self.options.cors is not None:
            headers = headers + self.options.cors.response_headers(request_headers.get("origin"))
        await _respond(send, status, headers, body)


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    if status >= 200 and status not in (204, 304):
        headers = [*headers, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _authorized(required: str, level: KeyLevel | None) -> bool:
    if required == "anonymous":
        return True
    if level is None:
        return False
    if level is KeyLevel.ADMIN:
        return True
    # below admin the level must be exactly the one required: a system key cannot call a
    # function-level function, as in the real host
    return required == "function" and level is KeyLevel.FUNCTION
