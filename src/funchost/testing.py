"""A test client that drives an app in-process: real loading, routing and invoker, no socket.

    from funchost.testing import TestClient

    def test_hello():
        with TestClient("path/to/app") as client:
            response = client.get("/api/hello?name=Ann")
            assert response.status_code == 200
            assert response.text == "Hello, Ann."

``client.invoke("name", "data")`` runs any function (a queue trigger, a timer, ...) the way
``POST /admin/functions/{name}`` does, and waits for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from funchost.host.console import flush_console
from funchost.host.instance import HostInstance
from funchost.host.options import HostOptions
from funchost.invoke import Outcome, logs
from funchost.triggers.common.manual import invocation_by_hand


@dataclass
class TestResponse:
    status_code: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    __test__ = False  # not a pytest test class

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class TestClient:
    """Loads the app at ``app_root`` as ``funchost start`` would and calls it in-process."""

    __test__ = False

    def __init__(self, app_root: str | Path, *, enable_auth: bool = False) -> None:
        # loading sets the app's settings in os.environ, captures print() and configures logging
        # as a host does; close() puts all of it back, so clients of several apps can follow each other
        self._saved = _ProcessState.save()
        self.instance = HostInstance(HostOptions(script_root=Path(app_root), enable_auth=enable_auth))
        try:
            self.instance.load()
        except BaseException:
            self._saved.restore()
            raise
        assert self.instance.http_app is not None
        self.app = self.instance.http_app
        self.loop = asyncio.new_event_loop()
        self._closed = False

    @property
    def errors(self) -> list[str]:
        """Every load error, as ``funchost check`` prints them."""
        return [str(e) for e in self.instance.load_errors()]

    def __enter__(self) -> TestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            flush_console()
            if not self.loop.is_closed():
                if self.instance.resolver is not None:
                    self.loop.run_until_complete(self.instance.resolver.close())
                self.loop.close()
            if self.instance.executor is not None:
                self.instance.executor.shutdown(wait=True)
        finally:
            self._saved.restore()

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        json_body: Any = None,
    ) -> TestResponse:
        if json_body is not None:
            body = json.dumps(json_body)
            headers = {"content-type": "application/json", **(headers or {})}
        payload = body.encode("utf-8") if isinstance(body, str) else (body or b"")
        parts = urlsplit(url)
        # as the server does: raw_path as sent (percent-encoded), path decoded once
        raw_path = quote(parts.path or "/", safe="/:@!$&'()*+,;=%~")
        raw_headers = [(b"host", b"localhost")] + [
            (k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in (headers or {}).items()
        ]
        if payload:
            raw_headers.append((b"content-length", str(len(payload)).encode()))
        scope = {
            "type": "http",
            "http_version": "1.1",
            "method": method.upper(),
            "scheme": "http",
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("ascii"),
            "query_string": parts.query.encode("latin-1"),
            "headers": raw_headers,
            "server": ("localhost", 80),
            "client": ("127.0.0.1", 0),
            "root_path": "",
        }
        response = TestResponse(0)
        chunks: list[bytes] = []
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                response.status_code = message["status"]
                response.headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        self.loop.run_until_complete(self.app(scope, receive, send))
        response.body = b"".join(chunks)
        return response

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", url, **kwargs)

    def invoke(self, function_name: str, data: str = "") -> Outcome:
        """Run a function with ``data`` as its trigger value and return the outcome."""
        index = self.instance.index
        invoker = self.instance.invoker
        assert index is not None and invoker is not None
        spec = index.get(function_name)
        if spec is None:
            raise KeyError(f"no function named '{function_name}' (found: {', '.join(index.functions)})")
        resolver = self.instance.resolver
        assert resolver is not None
        invocation = self.loop.run_until_complete(invocation_by_hand(spec, data, resolver, self.instance.settings))
        return self.loop.run_until_complete(invoker.invoke(invocation))


@dataclass
class _ProcessState:
    """What loading an app changes in this process, saved to be put back."""

    environ: dict[str, str]
    path: list[str]
    root_handlers: list[logging.Handler]
    root_level: int
    logger_levels: dict[str, int]
    capture_was_installed: bool
    host_lines: logs.HostLineSink | None
    passthrough: Callable[[str], None] | None

    LOGGERS = ("funchost.console", "azure.core.pipeline.policies.http_logging_policy")

    @classmethod
    def save(cls) -> _ProcessState:
        root = logging.getLogger()
        return cls(
            dict(os.environ),
            list(sys.path),
            list(root.handlers),
            root.level,
            {name: logging.getLogger(name).level for name in cls.LOGGERS},
            logs.capture_installed(),
            logs.host_lines,
            logs.console_passthrough,
        )

    def restore(self) -> None:
        os.environ.clear()
        os.environ.update(self.environ)
        sys.path[:] = self.path
        root = logging.getLogger()
        for handler in list(root.handlers):
            if handler not in self.root_handlers:
                root.removeHandler(handler)
        for handler in self.root_handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(self.root_level)
        for name, level in self.logger_levels.items():
            logging.getLogger(name).setLevel(level)
        if not self.capture_was_installed:
            logs.uninstall_log_capture()
        logs.host_lines = self.host_lines
        logs.console_passthrough = self.passthrough
