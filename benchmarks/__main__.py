"""``python -m benchmarks``: where funchost stands, measured side by side in one run.

Prints a Markdown table and writes it to ``benchmarks/results/latest.md``. Every process it
starts listens on 127.0.0.1 and is stopped by its PID. ``--quick`` shortens every loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
from tests.azurite import stop_process  # noqa: E402 - shared with the tests

from benchmarks.inprocess import asgi_table, invoker_table, load_table, quiet_app, steps_table  # noqa: E402
from benchmarks.table import Table  # noqa: E402

PEERS_VENV = HERE / ".venv-peers"
PYTHON = sys.executable
ECHO_BODY = json.dumps({"items": ["x" * 20] * 40}).encode()[:1024]


# -- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, timeout: float = 1.0) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


class Server:
    """A server process, stopped by PID."""

    def __init__(self, command: list[str], port: int, cwd: Path | None = None, env: dict[str, str] | None = None):
        self.port = port
        self.started = time.perf_counter()
        self.output = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            command, cwd=cwd, env={**os.environ, **(env or {})}, stdout=self.output, stderr=subprocess.STDOUT
        )

    def log(self) -> str:
        self.output.seek(0)
        return self.output.read().decode(errors="replace")

    def wait_ok(self, path: str, timeout: float = 30) -> float:
        """Seconds from launch to the first 200 on ``path``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()[-2000:]}")
            try:
                if get(self.port, path, timeout=0.5) == 200:
                    return time.perf_counter() - self.started
            except OSError:
                time.sleep(0.005)
        raise RuntimeError(f"no 200 from {path} within {timeout}s")

    def rss_mb(self) -> float:
        """Resident memory of the process and its children."""
        pids = [self.process.pid]
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        pids += [int(p) for p in children.split()]
        total = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024

    def stop(self) -> None:
        stop_process(self.process)


def funchost_server(app: Path, port: int, *extra: str, env: dict[str, str] | None = None) -> Server:
    return Server(
        [PYTHON, "-m", "funchost", "start", "--script-root", str(app), "--port", str(port), *extra],
        port,
        env={"NO_COLOR": "1", **(env or {})},
    )


def ff_server(port: int, asgi: bool = False) -> Server | None:
    binary = PEERS_VENV / "bin" / "functions-framework"
    if not binary.exists():
        return None
    command = [
        str(binary),
        "--target",
        "hello",
        "--source",
        str(APPS / "ff" / "main.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return Server(command + (["--asgi"] if asgi else []), port)


def bare_server(port: int, spin_us: int = 0) -> Server:
    return Server(
        [PYTHON, str(APPS / "bare" / "serve.py"), str(port)],
        port,
        cwd=APPS / "bare",
        env={"BENCH_SPIN_US": str(spin_us)},
    )


def granian_server(port: int) -> Server | None:
    """granian (raw ASGI interface, uvloop, one worker) serving the bare app, from funchost's own venv."""
    binary = Path(PYTHON).parent / "granian"
    if not binary.exists():
        return None
    return Server(
        [
            str(binary),
            "--interface",
            "asgi",
            "--loop",
            "uvloop",
            "--workers",
            "1",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-ws",
            "raw_app:app",
        ],
        port,
        cwd=APPS / "bare",
        env={"NO_COLOR": "1"},
    )


def funchost_granian_server(app: Path, port: int) -> Server | None:
    """``funchost start`` with ``FUNCHOST_HTTP_SERVER=granian`` (the ``funchost[granian]`` extra)."""
    if not (Path(PYTHON).parent / "granian").exists():
        return None
    return funchost_server(app, port, env={"FUNCHOST_HTTP_SERVER": "granian"})


# -- set-up -------------------------------------------------------------------------------


def ensure_peers() -> None:
    """functions-framework in its own venv, granian (the ``funchost[granian]`` extra) in funchost's,
    and wrk from Debian when we are allowed to install it."""
    if not (PEERS_VENV / "bin" / "python").exists():
        subprocess.run([PYTHON, "-m", "venv", str(PEERS_VENV)], check=True)
    pip = [str(PEERS_VENV / "bin" / "pip"), "install", "-q"]
    if not (PEERS_VENV / "bin" / "functions-framework").exists():
        print("installing functions-framework into benchmarks/.venv-peers ...", flush=True)
        subprocess.run([*pip, "functions-framework"], check=False)
    if not (Path(PYTHON).parent / "granian").exists():
        print("installing funchost[granian] into funchost's venv ...", flush=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "-q", "-e", f"{ROOT}[granian]"], check=False)
    if shutil.which("wrk") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (Debian package) ...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL)


def compile_sources() -> None:
    """Bytecode for funchost's own modules, as a regular (non-editable) pip install writes it.

    With the editable install and ``PYTHONDONTWRITEBYTECODE`` set (as on this machine), every
    start would compile funchost from source while the peers, installed normally, would not.
    """
    import compileall

    compileall.compile_dir(str(ROOT / "src" / "funchost"), quiet=1)


# -- measurements -------------------------------------------------------------------------


def wrk(port: int, path: str, seconds: int, body: bytes | None = None) -> tuple[float, str, str]:
    """requests/s, p50 and p99 from wrk (1 thread, 32 connections) after a 2 s warm-up."""
    url = f"http://127.0.0.1:{port}{path}"
    script_args: list[str] = []
    script = None
    if body is not None:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
        script.write(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(body.decode())}\n"
        )
        script.close()
        script_args = ["-s", script.name]
    try:
        subprocess.run(["wrk", "-t1", "-c32", "-d2s", *script_args, url], capture_output=True, check=True)
        out = subprocess.run(
            ["wrk", "-t1", "-c32", f"-d{seconds}s", "--latency", *script_args, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        if script is not None:
            os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s*50%\s+(\S+)", out, re.MULTILINE).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.MULTILINE).group(1)  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        p99 += f" ({errors.group(1)} non-2xx)"
    return rps, p50, p99


WrkResult = tuple[float, str, str]
SPIN_US = 12  # about what funchost's own work per request costs in the ASGI table
Candidate = tuple[str, Callable[[int], "Server | None"], str, str]


def best_rounds(
    candidates: list[Candidate], seconds: int, rounds: int, table: Table
) -> dict[str, tuple[WrkResult, WrkResult]]:
    """GET and POST results per server: the best of ``rounds`` passes over all of them."""
    best: dict[str, tuple[WrkResult, WrkResult]] = {}
    skipped: list[str] = []
    for _ in range(rounds):
        for label, start, get_path, post_path in candidates:
            if label in skipped:
                continue
            port = free_port()
            server = start(port)
            if server is None:
                table.notes.append(f"{label}: not installed, skipped")
                skipped.append(label)
                continue
            try:
                server.wait_ok(get_path)
                get_result = wrk(port, get_path, seconds)
                post_result = wrk(port, post_path, seconds, ECHO_BODY)
            finally:
                server.stop()
            previous = best.get(label)
            best[label] = (
                max(previous[0], get_result) if previous else get_result,
                max(previous[1], post_result) if previous else post_result,
            )
    return best


def http_table(seconds: int, rounds: int) -> Table:
    """Every server in turn, ``rounds`` times over; each row keeps its best round.

    On a shared VM a neighbour's load only ever slows a run down, and it moved single runs
    of the same build by 2x here; the best of interleaved rounds is the steadiest figure of
    what each server can do, and every row had the same chances.
    """
    table = Table(
        f"HTTP hello world (wrk -t1 -c32, one server process each, best of {rounds} interleaved rounds of {seconds} s)",
        ["server", "GET rps", "GET p50", "GET p99", "POST 1 KB echo rps", "POST p50", "POST p99"],
    )
    if shutil.which("wrk") is None:
        table.notes.append("wrk is not installed: HTTP rows skipped (apt-get install wrk)")
        return table
    hello = APPS / "funchost_hello"
    quiet = quiet_app(hello)
    candidates: list[Candidate] = [
        ("bare ASGI on funchost's uvicorn settings (ceiling)", bare_server, "/", "/"),
        (f"bare ASGI + {SPIN_US} us of CPU per request (calibration)", lambda p: bare_server(p, SPIN_US), "/", "/"),
        ("funchost, sync function (thread pool)", lambda p: funchost_server(hello, p), "/api/hello", "/api/echo"),
        ("funchost, async function", lambda p: funchost_server(hello, p), "/api/hello_async", "/api/echo_async"),
        ("funchost, sync function, logs at Warning", lambda p: funchost_server(quiet, p), "/api/hello", "/api/echo"),
        (
            "funchost, async function, logs at Warning",
            lambda p: funchost_server(quiet, p),
            "/api/hello_async",
            "/api/echo_async",
        ),
        (
            "funchost --workers 2, sync function",
            lambda p: funchost_server(hello, p, "--workers", "2"),
            "/api/hello",
            "/api/echo",
        ),
        (
            "funchost --workers 2, async function",
            lambda p: funchost_server(hello, p, "--workers", "2"),
            "/api/hello_async",
            "/api/echo_async",
        ),
        ("bare ASGI on granian", granian_server, "/", "/"),
        ("funchost on granian, sync function", lambda p: funchost_granian_server(hello, p), "/api/hello", "/api/echo"),
        (
            "funchost on granian, async function",
            lambda p: funchost_granian_server(hello, p),
            "/api/hello_async",
            "/api/echo_async",
        ),
        (
            "funchost on granian, sync function, logs at Warning",
            lambda p: funchost_granian_server(quiet, p),
            "/api/hello",
            "/api/echo",
        ),
        (
            "funchost on granian, async function, logs at Warning",
            lambda p: funchost_granian_server(quiet, p),
            "/api/hello_async",
            "/api/echo_async",
        ),
        ("functions-framework (gunicorn gthread)", ff_server, "/", "/"),
        ("functions-framework --asgi", lambda p: ff_server(p, asgi=True), "/", "/"),
    ]
    best = best_rounds(candidates, seconds, rounds, table)
    results: dict[str, float] = {}
    for label, _, _, _ in candidates:
        if label not in best:
            continue
        get_result, post_result = best[label]
        results[label] = get_result[0]
        table.rows.append(
            [
                label,
                f"{get_result[0]:,.0f}",
                get_result[1],
                get_result[2],
                f"{post_result[0]:,.0f}",
                post_result[1],
                post_result[2],
            ]
        )
    ceiling = results.get("bare ASGI on funchost's uvicorn settings (ceiling)")
    for label in (
        "funchost, sync function (thread pool)",
        "funchost, async function",
        "funchost, sync function, logs at Warning",
        "funchost, async function, logs at Warning",
        "funchost on granian, sync function",
        "funchost on granian, async function",
        "funchost on granian, sync function, logs at Warning",
        "funchost on granian, async function, logs at Warning",
    ):
        if label in results and ceiling:
            table.notes.append(f"{label}: {results[label] / ceiling:.0%} of the bare ceiling (GET)")
        for peer in ("functions-framework (gunicorn gthread)", "functions-framework --asgi"):
            if label in results and peer in results:
                table.notes.append(f"{label} / {peer}: {results[label] / results[peer]:.1f}x (GET)")
    spun = results.get(f"bare ASGI + {SPIN_US} us of CPU per request (calibration)")
    if spun and ceiling:
        table.notes.append(
            f"calibration: {SPIN_US} us of CPU per request in the app cost "
            f"{(1 / spun - 1 / ceiling) * 1e6:.0f} us per request over HTTP here "
            f"({spun / ceiling:.0%} of the ceiling)"
        )
    granian = results.get("bare ASGI on granian")
    if granian and ceiling:
        table.notes.append(f"bare ASGI: granian / uvicorn = {granian / ceiling:.2f}x (GET)")
    for kind in ("sync", "async"):
        on_granian = results.get(f"funchost on granian, {kind} function")
        on_uvicorn = results.get(f"funchost, {kind} function" + (" (thread pool)" if kind == "sync" else ""))
        if on_granian and on_uvicorn:
            table.notes.append(f"funchost {kind}: granian / uvicorn = {on_granian / on_uvicorn:.2f}x (GET)")
    for kind in ("sync", "async"):
        one = results.get(f"funchost, {kind} function" + (" (thread pool)" if kind == "sync" else ""))
        two = results.get(f"funchost --workers 2, {kind} function")
        if one and two:
            table.notes.append(
                f"funchost {kind}: 2 workers / 1 worker = {two / one:.2f}x (GET; wrk shares the "
                f"{os.cpu_count()} cores with the workers)"
            )
    table.notes.append(
        "funchost rows run the app with the default host.json (two console lines per request) "
        "unless they say 'logs at Warning'."
    )
    return table


def cold_start_table(runs: int) -> Table:
    table = Table(
        f"Cold start: process launch to first 200 (median of {runs}, after one warm-up)",
        ["server", "median ms", "min ms", "max ms", "idle RSS MB"],
    )
    hello = APPS / "funchost_hello"
    for label, start, path in [
        ("funchost start (v2 hello app)", lambda p: funchost_server(hello, p), "/api/hello"),
        ("functions-framework", ff_server, "/"),
    ]:
        times = []
        rss = 0.0
        for attempt in range(runs + 1):
            port = free_port()
            server = start(port)
            if server is None:
                break
            try:
                elapsed = server.wait_ok(path)
                if attempt == runs:
                    for _ in range(200):
                        get(server.port, path)
                    time.sleep(1)
                    rss = server.rss_mb()
            finally:
                server.stop()
            if attempt:
                times.append(elapsed * 1000)
        if times:
            table.rows.append(
                [label, f"{statistics.median(times):.0f}", f"{min(times):.0f}", f"{max(times):.0f}", f"{rss:.1f}"]
            )
    return table


def _store(app: Path):
    from funchost.storage.embedded.store import EmbeddedStorage

    return EmbeddedStorage(app / ".funchost" / "storage")


def azurite_queue_table(messages: int) -> Table:
    """funchost's queue trigger on Azurite against plain SDK consumer loops on the same Azurite."""
    table = Table(
        f"Queue on Azurite: {messages} messages, from a full queue to an empty one",
        ["consumer", "messages/s", "vs funchost"],
    )
    from tests.azurite import Azurite, install_azurite

    if not install_azurite():
        table.notes.append("Azurite is not installed and npm is missing: skipped")
        return table
    from azure.storage.queue.aio import QueueClient

    from funchost.config import AppSettings
    from funchost.storage.azure.storage import AzureStorage

    with tempfile.TemporaryDirectory() as scratch:
        azurite = Azurite(Path(scratch))
        connection = azurite.connection_string
        store_options = AzureStorage._client_options(emulator=True)

        async def fill(queue: str) -> None:
            store = AzureStorage.from_setting("AzureWebJobsStorage", connection, AppSettings())
            await store.open()
            for start in range(0, messages, 50):
                await asyncio.gather(
                    *(store.put(queue, f"m{i}".encode()) for i in range(start, min(messages, start + 50)))
                )
            await store.close()

        async def naive_loop(queue: str) -> float:
            client = QueueClient.from_connection_string(connection, queue, **store_options)
            started = time.perf_counter()
            async with client:
                while True:
                    got = [m async for m in client.receive_messages(max_messages=1, visibility_timeout=30)]
                    if not got:
                        break
                    await client.delete_message(got[0])
            return time.perf_counter() - started

        async def batched_loop(queue: str) -> float:
            client = QueueClient.from_connection_string(connection, queue, **store_options)
            started = time.perf_counter()
            async with client:
                while True:
                    got = []
                    async for page in client.receive_messages(messages_per_page=32, visibility_timeout=30).by_page():
                        got = [m async for m in page]
                        break
                    if not got:
                        break
                    await asyncio.gather(*(client.delete_message(m) for m in got))
            return time.perf_counter() - started

        try:
            results: dict[str, float] = {}
            for label, loop in (
                ("plain SDK loop, receive 1 then delete (sequential)", naive_loop),
                ("plain SDK loop, receive 32, delete them concurrently", batched_loop),
            ):
                asyncio.run(fill("plain"))
                results[label] = messages / asyncio.run(loop("plain"))
            with tempfile.TemporaryDirectory() as app_scratch:
                app = Path(app_scratch) / "queue_app"
                shutil.copytree(APPS / "queue_app", app)
                asyncio.run(fill("bench"))
                server = funchost_server(
                    app,
                    free_port(),
                    "--no-reload",
                    env={"AzureWebJobsStorage": connection, "BENCH_TIMER": "0 0 0 1 1 *"},
                )
                try:
                    started = time.perf_counter()
                    server.wait_ok("/admin/host/ping")

                    async def drained() -> float:
                        store = AzureStorage.from_setting("AzureWebJobsStorage", connection, AppSettings())
                        await store.open()
                        while await store.length("bench"):
                            await asyncio.sleep(0.02)
                        await store.close()
                        return time.perf_counter() - started

                    results["funchost, queue trigger, no-op function (1 worker, from process launch)"] = (
                        messages / asyncio.run(drained())
                    )
                finally:
                    server.stop()
        finally:
            azurite.stop()
    ours = results["funchost, queue trigger, no-op function (1 worker, from process launch)"]
    for label, rate in results.items():
        table.rows.append([label, f"{rate:,.0f}", f"{ours / rate:.2f}x"])
    table.notes.append("Messages are put beforehand (50 at a time); the funchost time includes its start.")
    return table


async def service_bus_throughput(app: Path, messages: int) -> float:
    """Send one message per call (as the queue row puts them) and wait until all were completed."""
    from funchost.storage.embedded.broker import EmbeddedBroker
    from funchost.storage.roles import OutgoingMessage

    broker = EmbeddedBroker(app / ".funchost" / "storage")
    await broker.open()
    started = time.perf_counter()
    for i in range(messages):
        await broker.send("bench-sb", [OutgoingMessage(f"m{i}".encode())])
    while await broker.peek("bench-sb", 1):
        assert time.perf_counter() - started < 300, "the Service Bus messages were not all handled"
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    await broker.close()
    return elapsed


async def event_hub_throughput(app: Path, messages: int) -> float:
    """Send one event per call and wait until every partition's checkpoint reached its last event."""
    from funchost.storage.embedded.broker import EmbeddedBroker
    from funchost.storage.roles import OutgoingEvent

    broker = EmbeddedBroker(app / ".funchost" / "storage")
    store = _store(app)
    await broker.open()
    await store.open()
    started = time.perf_counter()
    for i in range(messages):
        await broker.send_events("bench-hub", [OutgoingEvent(f"e{i}".encode())])
    [(_, _, last)] = [hub for hub in await broker.hubs() if hub[0] == "bench-hub"]

    async def checkpointed() -> bool:
        for partition, sequence in last.items():
            saved = await store.get_state(f"eventhub/embedded/bench-hub/$default/checkpoint/{partition}")
            if saved is None or json.loads(saved)["sequenceNumber"] < sequence:
                return False
        return True

    while not await checkpointed():
        assert time.perf_counter() - started < 300, "the events were not all checkpointed"
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    await broker.close()
    await store.close()
    return elapsed


BACKLOG_TRIGGERS = {  # function name -> what is handled per invocation
    "noop": "messages",
    "sb_noop": "messages",
    "hub_noop": "events",
}


async def fill_backlog(app: Path, function: str, count: int) -> None:
    """A backlog for one trigger, written before the host starts."""
    from funchost.storage.embedded.broker import EmbeddedBroker
    from funchost.storage.roles import OutgoingEvent, OutgoingMessage

    if function == "noop":
        store = _store(app)
        await store.open()
        for i in range(count):
            await store.put("bench", f"m{i}".encode())
        await store.close()
        return
    broker = EmbeddedBroker(app / ".funchost" / "storage")
    await broker.open()
    for start in range(0, count, 500):
        size = min(500, count - start)
        if function == "sb_noop":
            await broker.send("bench-sb", [OutgoingMessage(f"m{i}".encode()) for i in range(size)])
        else:
            await broker.send_events("bench-hub", [OutgoingEvent(f"e{i}".encode()) for i in range(size)])
    await broker.close()


def backlog_rate(function: str, count: int) -> tuple[float, int]:
    """Items per second one host handles from a full backlog: from the first Executing line to
    the last Executed line of ``function`` (so start-up is not counted), and the invocations."""
    with tempfile.TemporaryDirectory() as scratch:
        app = Path(scratch) / "queue_app"
        shutil.copytree(APPS / "queue_app", app)
        asyncio.run(fill_backlog(app, function, count))
        server = funchost_server(app, free_port(), env={"BENCH_TIMER": "0 0 0 1 1 *"})
        executed = f"Executed 'Functions.{function}' (Succeeded"
        batch = 100 if function == "hub_noop" else 1  # maxEventBatchSize: one invocation per 100 events
        try:
            server.wait_ok("/admin/host/ping")
            deadline = time.monotonic() + 300
            while server.log().count(executed) < count // batch:
                assert time.monotonic() < deadline, f"the {function} backlog was not handled"
                time.sleep(0.1)
        finally:
            server.stop()
        log = server.log().splitlines()
    stamps = [
        datetime.fromisoformat(line[1:24] + "+00:00")
        for line in log
        if f"'Functions.{function}'" in line and line.startswith("[")
    ]
    invocations = sum(executed in line for line in log)
    return count / max(1e-3, (stamps[-1] - stamps[0]).total_seconds()), invocations


def queue_table(messages: int, ticks: int) -> Table:
    table = Table("Non-HTTP triggers on the embedded store (one host process)", ["measure", "result"])
    with tempfile.TemporaryDirectory() as scratch:
        app = Path(scratch) / "queue_app"
        shutil.copytree(APPS / "queue_app", app)
        port = free_port()
        server = funchost_server(app, port, env={"BENCH_TIMER": "*/1 * * * * *" if ticks else "0 0 0 1 1 *"})
        try:
            server.wait_ok("/admin/host/ping")

            async def fill_and_wait() -> float:
                store = _store(app)
                await store.open()
                started = time.perf_counter()
                for i in range(messages):
                    await store.put("bench", f"m{i}".encode())
                while await store.length("bench"):
                    await asyncio.sleep(0.01)
                elapsed = time.perf_counter() - started
                await store.close()
                return elapsed

            elapsed = asyncio.run(fill_and_wait())
            table.rows.append(
                [
                    f"queue trigger, {messages} messages through a no-op function (put + handled)",
                    f"{messages / elapsed:,.0f} messages/s",
                ]
            )
            elapsed = asyncio.run(service_bus_throughput(app, messages))
            table.rows.append(
                [
                    f"Service Bus queue trigger, {messages} messages through a no-op function "
                    "(sent one by one + handled)",
                    f"{messages / elapsed:,.0f} messages/s",
                ]
            )
            elapsed = asyncio.run(event_hub_throughput(app, messages))
            table.rows.append(
                [
                    f"Event Hubs batch trigger, {messages} events through a no-op function "
                    "(sent one by one + checkpointed)",
                    f"{messages / elapsed:,.0f} events/s",
                ]
            )

            async def blob_latency() -> list[float]:
                store = _store(app)
                await store.open()
                samples = []
                for i in range(5):
                    started = time.perf_counter()
                    await store.put_blob("bench-in", f"b{i}.txt", b"x")
                    while not await store.length("bench-blob-seen"):
                        await asyncio.sleep(0.01)
                    batch = await store.get_batch("bench-blob-seen", 32, 30)
                    for message in batch:
                        await store.delete("bench-blob-seen", message.id, message.pop_receipt)
                    samples.append((time.perf_counter() - started) * 1000)
                await store.close()
                return samples

            samples = asyncio.run(blob_latency())
            table.rows.append(
                [
                    "blob trigger latency, upload to function output (median of 5)",
                    f"{statistics.median(samples):.0f} ms (scan every 1 s)",
                ]
            )
            if ticks:
                time.sleep(ticks + 1.5)
        finally:
            server.stop()
            log = server.log()
        backlog = messages * 2
        for function, label in (
            ("noop", "queue trigger"),
            ("sb_noop", "Service Bus queue trigger"),
            ("hub_noop", "Event Hubs batch trigger (batches of up to 100)"),
        ):
            rate, invocations = backlog_rate(function, backlog)
            table.rows.append(
                [
                    f"{label}, a backlog of {backlog} {BACKLOG_TRIGGERS[function]} (no-op function, "
                    f"{invocations} invocations)",
                    f"{rate:,.0f} {BACKLOG_TRIGGERS[function]}/s",
                ]
            )
        if ticks:
            jitters = []
            for stamp in re.findall(r"tick-at (\S+)", log):
                moment = datetime.fromisoformat(stamp)
                jitters.append(moment.microsecond / 1000)
            if jitters:
                jitters.sort()
                p99 = jitters[min(len(jitters) - 1, int(len(jitters) * 0.99))]
                table.rows.append(
                    [
                        f"timer firing jitter, every-second timer, {len(jitters)} ticks",
                        f"p50 {statistics.median(jitters):.1f} ms, p99 {p99:.1f} ms after the second",
                    ]
                )
    return table


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), "
        f"Python {platform.python_version()}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short loops (a smoke run, not for numbers)")
    parser.add_argument(
        "--only", action="append", choices=["http", "cold", "load", "invoker", "asgi", "steps", "queue", "azurite"]
    )
    args = parser.parse_args()
    runs, invocations, messages, ticks = (3, 2000, 500, 5) if args.quick else (5, 20000, 2000, 60)
    http_seconds, http_rounds = (3, 1) if args.quick else (5, 3)
    ensure_peers()
    compile_sources()
    sections: dict[str, Callable[[], Table]] = {
        "invoker": lambda: invoker_table(invocations),
        "asgi": lambda: asgi_table(invocations),
        "steps": lambda: steps_table(invocations),
        "load": lambda: load_table(runs),
        "cold": lambda: cold_start_table(runs),
        "http": lambda: http_table(http_seconds, http_rounds),
        "queue": lambda: queue_table(messages, ticks),
        "azurite": lambda: azurite_queue_table(messages),
    }
    report = [f"## funchost benchmarks\n\n{machine()}\n"]
    for name, section in sections.items():
        if args.only and name not in args.only:
            continue
        print(f"running {name} ...", flush=True)
        table = section()
        print(table.markdown(), flush=True)
        report.append(table.markdown())
    # a partial run (--only, --quick) must not replace the full table the team compares against
    output = HERE / "results" / ("latest.md" if not (args.only or args.quick) else "partial.md")
    output.parent.mkdir(exist_ok=True)
    output.write_text("\n".join(report))
    print(f"written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
