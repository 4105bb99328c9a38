"""Shared test helpers: app folders on disk, real host processes, a tiny HTTP client."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.azurite import AZURITE, Azurite, install_azurite, stop_process
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def write_app(folder: Path, files: Mapping[str, object]) -> Path:
    """Write an app: ``{"function_app.py": "...", "Fn/function.json": {...}}``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            path.write_text(json.dumps(content, indent=2))
        else:
            path.write_text(textwrap.dedent(str(content)).lstrip("\n"))
    if "host.json" not in files:
        (folder / "host.json").write_text('{"version": "2.0"}')
    return folder


@pytest.fixture
def app_dir(tmp_path: Path):
    """A function to write an app into a fresh temporary folder."""
    counter = iter(range(1000))

    def make(files: dict[str, str | dict]) -> Path:
        return write_app(tmp_path / f"app{next(counter)}", files)

    return make


@pytest.fixture
def example(tmp_path: Path):
    """Copy an example app into a temporary folder, so a host's store and keys stay out of the repo."""

    def copy(name: str) -> Path:
        target = tmp_path / "examples" / name
        if not target.exists():
            shutil.copytree(EXAMPLES / name, target, ignore=shutil.ignore_patterns(".funchost", "__pycache__"))
        return target

    return copy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self):
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode("utf-8")
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Response(response.status, response.headers, response.read())
    finally:
        connection.close()


class HostProcess:
    """A real ``funchost start`` process on a free port, stopped by PID."""

    def __init__(self, app: Path, *args: str, env: dict[str, str] | None = None, log: Path) -> None:
        self.app = app
        self.port = free_port()
        self.log_path = log
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", **(env or {})}
        self.log_file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "funchost", "start", "--script-root", str(app), "--port", str(self.port), *args],
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            env=environment,
        )

    def wait_ready(self, timeout: float = 20) -> HostProcess:
        def answers() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"funchost exited with {self.process.returncode}:\n{self.output}")
            try:
                return request(self.port, "GET", "/admin/host/ping", timeout=1).status == 200
            except OSError:
                return False

        try:
            wait_until(answers, timeout, "funchost did not answer")
        except AssertionError as error:
            raise AssertionError(f"{error}:\n{self.output}") from None
        # the console is written by a thread of its own: what was logged while loading (load
        # errors, schedules) is on it once the "Host started" line that follows it is
        self.wait_for_output("Host started", timeout)
        return self

    def request(
        self, method: str, path: str, body: bytes | str | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        return request(self.port, method, path, body, headers)

    @property
    def output(self) -> str:
        self.log_file.flush()
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text: str, timeout: float = 10) -> str:
        try:
            found: str = wait_until(lambda: self.output if text in self.output else "", timeout, "")
        except AssertionError:
            raise AssertionError(f"{text!r} not in output:\n{self.output}") from None
        return found

    def stop(self) -> int:
        code = stop_process(self.process)
        self.log_file.close()
        return code


@pytest.fixture
def host(tmp_path: Path) -> Iterator:
    """Start funchost on an app folder: ``host(app_path, *extra_args, env=...)``."""
    started: list[HostProcess] = []

    def start(app: Path, *args: str, env: dict[str, str] | None = None, ready: bool = True) -> HostProcess:
        process = HostProcess(app, *args, env=env, log=tmp_path / f"host{len(started)}.log")
        started.append(process)
        return process.wait_ready() if ready else process

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory) -> Iterator[Azurite]:
    if not install_azurite():
        if os.environ.get("FUNCHOST_REQUIRE_AZURITE"):
            pytest.fail(f"Azurite is not installed at {AZURITE}: run npm ci --prefix tests/azurite")
        pytest.skip("Azurite is not installed and npm is missing (npm ci --prefix tests/azurite)")
    server = Azurite(tmp_path_factory.mktemp("azurite"))
    yield server
    server.stop()


@dataclass
class Backend:
    """Where an app's storage lives in a test: the embedded store, or Azure Storage on Azurite."""

    name: str
    connection: str | None = None

    def env(self, **extra: str) -> dict[str, str]:
        base = {"AzureWebJobsStorage": self.connection} if self.connection else {}
        return {**base, **extra}

    def store(self, app: Path):
        if self.connection is None:
            from funchost.storage.embedded.store import EmbeddedStorage

            return EmbeddedStorage(app / ".funchost" / "storage")
        from funchost.config import AppSettings
        from funchost.storage.azure.storage import AzureStorage

        return AzureStorage.from_setting("AzureWebJobsStorage", self.connection, AppSettings())


async def wipe(store) -> None:
    """Delete every queue, container and table (Azurite is shared by the whole session)."""
    await store.open()
    try:
        for queue in await store.list_queues():
            await store.queues.delete_queue(queue)
        for container in await store.list_containers():
            await store.blobs.delete_container(container)
        for table in await store.list_tables():
            await store._service().delete_table(table)
    finally:
        await store.close()


@pytest.fixture(params=["embedded", "azurite"])
def backend(request) -> Iterator[Backend]:
    """Parametrizes a test over both providers; list it before ``host`` so hosts stop first."""
    if request.param == "embedded":
        yield Backend("embedded")
        return
    server: Azurite = request.getfixturevalue("azurite")
    chosen = Backend("azurite", server.connection_string)
    yield chosen
    import asyncio

    asyncio.run(wipe(chosen.store(Path("."))))
