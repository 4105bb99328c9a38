"""Measurements without a network: loading an app, the invoker alone, the ASGI app alone.

Each runs in a fresh subprocess so imports and caches start cold and nothing of this
process leaks in.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.table import Table

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
PYTHON = sys.executable


def quiet_app(app: Path) -> Path:
    """A copy of ``app`` whose host.json shows only warnings (no per-invocation lines)."""
    folder = Path(tempfile.mkdtemp(prefix="funchost-bench-")) / app.name
    shutil.copytree(app, folder, ignore=shutil.ignore_patterns(".funchost", "__pycache__"))
    (folder / "host.json").write_text('{"version": "2.0", "logging": {"logLevel": {"default": "Warning"}}}')
    return folder


def generated_app(folder: Path, count: int) -> Path:
    lines = ["import azure.functions as func", "app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)"]
    for i in range(count):
        lines += [
            "",
            f'@app.route(route="f{i}/{{id:int}}")',
            f"def f{i}(req: func.HttpRequest) -> func.HttpResponse:",
            f'    return func.HttpResponse("f{i}")',
        ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "function_app.py").write_text("\n".join(lines) + "\n")
    (folder / "host.json").write_text('{"version": "2.0"}')
    return folder


LOAD_SNIPPET = """
import sys, time
from pathlib import Path
started = time.perf_counter()
import azure.functions
imported = time.perf_counter()
from funchost.app import load_app
from funchost.config import AppSettings, HostConfig
from funchost.triggers.families import CATALOG
index = load_app(Path(sys.argv[1]), AppSettings({}), HostConfig(), CATALOG)
done = time.perf_counter()
assert len(index.functions) == int(sys.argv[2]), index.errors
print((done - imported) * 1000)
"""


def load_table(runs: int) -> Table:
    table = Table(
        f"Loading an app (index only, fresh process, median of {runs})",
        ["functions", "load_app ms (after `import azure.functions`)"],
    )
    with tempfile.TemporaryDirectory() as scratch:
        for count in (50, 100):
            app = generated_app(Path(scratch) / f"app{count}", count)
            times = [
                float(
                    subprocess.run(
                        [PYTHON, "-c", LOAD_SNIPPET, str(app), str(count)], capture_output=True, text=True, check=True
                    ).stdout
                )
                for _ in range(runs)
            ]
            table.rows.append([str(count), f"{statistics.median(times):.1f}"])
    return table


INVOKER_SNIPPET = """
import asyncio, statistics, sys, time
from funchost.invoke.threads import FunctionThreads
from pathlib import Path
import azure.functions as func
from funchost.app import load_app
from funchost.config import AppSettings, HostConfig
from funchost.invoke import Invoker
from funchost.triggers.http import messages
from funchost.invoke import Invocation
from funchost.triggers.families import CATALOG

app = Path(sys.argv[1])
index = load_app(app, AppSettings({}), HostConfig(), CATALOG)
N = int(sys.argv[2])

def invocation(spec):
    headers = {"host": "localhost"}
    return Invocation(spec, messages.trigger_datum("GET", "http://localhost/api/x", headers, {}, {}, b""),
                      messages.trigger_metadata(headers, {}, {}))

async def run(spec):
    invoker = Invoker(FunctionThreads(4))
    for _ in range(200):
        await invoker.invoke(invocation(spec))
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(N):
            await invoker.invoke(invocation(spec))
        samples.append((time.perf_counter() - started) / N * 1e6)
    return statistics.median(samples)

def direct(fn):
    req = func.HttpRequest("GET", "http://localhost/api/x", body=b"")
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(N):
            fn(req)
        samples.append((time.perf_counter() - started) / N * 1e6)
    return statistics.median(samples)

async def direct_async(fn):
    req = func.HttpRequest("GET", "http://localhost/api/x", body=b"")
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(N):
            await fn(req)
        samples.append((time.perf_counter() - started) / N * 1e6)
    return statistics.median(samples)

sync_spec = index.functions["hello"]
async_spec = index.functions["hello_async"]
print(asyncio.run(run(sync_spec)), direct(sync_spec.func), asyncio.run(run(async_spec)),
      asyncio.run(direct_async(async_spec.func)))
"""


def invoker_table(count: int) -> Table:
    table = Table(
        f"Invoker overhead, no network (median of 5 x {count} invocations)",
        ["function", "invoker us/call", "direct call us/call", "overhead us"],
    )
    out = subprocess.run(
        [PYTHON, "-c", INVOKER_SNIPPET, str(APPS / "funchost_hello"), str(count)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    sync_invoke, sync_direct, async_invoke, async_direct = (float(x) for x in out)
    table.rows.append(
        ["sync hello (thread pool hop)", f"{sync_invoke:.1f}", f"{sync_direct:.2f}", f"{sync_invoke - sync_direct:.1f}"]
    )
    table.rows.append(
        [
            "async hello (on the loop)",
            f"{async_invoke:.1f}",
            f"{async_direct:.2f}",
            f"{async_invoke - async_direct:.1f}",
        ]
    )
    table.notes.append(
        "The invoker decodes an HTTP trigger Datum with the library's converter, builds the "
        "Context and logs; the direct call gets a ready func.HttpRequest."
    )
    table.notes.append(
        "One invocation at a time: the sync row is mostly a pool thread waking up (latency); under "
        "load the hop costs far less per request, see the HTTP table."
    )
    return table


ASGI_SNIPPET = """
import asyncio, statistics, sys, time
from pathlib import Path
import uvloop
from funchost.host.instance import HostInstance
from funchost.host.options import HostOptions

app_dir, bare_dir, path, count = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
if path == "bare":
    sys.path.insert(0, bare_dir)
    from raw_app import app
    path = "/"
else:
    instance = HostInstance(HostOptions(script_root=app_dir))
    instance.load()
    app = instance.http_app
scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
         "headers": [(b"host", b"127.0.0.1:7071"), (b"user-agent", b"bench")], "scheme": "http",
         "server": ("127.0.0.1", 7071), "client": ("127.0.0.1", 5555), "http_version": "1.1", "root_path": ""}

async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}

async def send(message):
    pass

async def caller(n):
    for _ in range(n):
        await app(scope, receive, send)

async def main():
    samples = []
    for round in range(6):
        started = time.perf_counter()
        await asyncio.gather(*(caller(count // 32) for _ in range(32)))
        if round:  # the first round warms up
            samples.append((time.perf_counter() - started) / count * 1e6)
    print(statistics.median(samples), flush=True)

uvloop.install()
asyncio.run(main())
"""


def asgi_table(count: int) -> Table:
    """The app's own cost per request, without a server or a network (steadier than wrk here)."""
    table = Table(
        f"ASGI app alone: us per GET request, 32 concurrent callers, uvloop (median of 5 x {count})",
        ["app", "us/request"],
    )
    hello = APPS / "funchost_hello"
    quiet = quiet_app(hello)
    for label, app, path in [
        ("bare ASGI app (the ceiling's app)", hello, "bare"),
        ("funchost home page (routing only)", hello, "/"),
        ("funchost async function", hello, "/api/hello_async"),
        ("funchost sync function (thread pool)", hello, "/api/hello"),
        ("funchost async function, logs at Warning", quiet, "/api/hello_async"),
        ("funchost sync function, logs at Warning", quiet, "/api/hello"),
    ]:
        # the app's console lines go to a file, as a terminal would take them; the result is the last line
        with tempfile.TemporaryFile() as console:
            subprocess.run(
                [PYTHON, "-c", ASGI_SNIPPET, str(app), str(APPS / "bare"), path, str(count)],
                stdout=console,
                stderr=subprocess.STDOUT,
                check=True,
            )
            console.seek(0)
            result = next(
                line
                for line in reversed(console.read().decode().splitlines())
                if line.strip().replace(".", "", 1).isdigit()
            )
        table.rows.append([label, f"{float(result):.1f}"])
    table.notes.append(
        "The ASGI messages are prepared once; in a real server the same code runs between uvicorn's "
        "steps and costs about twice as much (caches), see the HTTP table."
    )
    return table


STEPS_SNIPPET = """
import asyncio, statistics, sys, tempfile, time
from pathlib import Path
import uvloop
import azure.functions as func
from funchost.app.invocation import Invocation, new_invocation_id
from funchost.host.instance import HostInstance
from funchost.host.options import HostOptions
from funchost.invoke import logs
from funchost.triggers.http import app as http_app, messages
from funchost.triggers.http.request import Request, request_datum

instance = HostInstance(HostOptions(script_root=Path(sys.argv[1])))
instance.load()
app, invoker = instance.http_app, instance.invoker
N = int(sys.argv[2])
spec = instance.index.functions["hello_async"]
path = "/api/hello_async"
scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
         "headers": [(b"host", b"127.0.0.1:7071"), (b"user-agent", b"bench")], "scheme": "http",
         "server": ("127.0.0.1", 7071), "client": ("127.0.0.1", 5555), "http_version": "1.1", "root_path": ""}
headers = messages.headers_to_dict(scope["headers"])
response = func.HttpResponse("Hello World!")

async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}

async def send(message):
    pass

def invocation():
    request = Request(scope, headers, {}, b"")
    return Invocation(function=spec, trigger_data=request_datum(request), trigger_metadata={},
                      reason=http_app.REASON, trigger_value=request)

def timed(step):
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(N):
            step()
        samples.append((time.perf_counter() - started) / N * 1e6)
    return statistics.median(samples)

async def timed_async(step):
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(N):
            await step()
        samples.append((time.perf_counter() - started) / N * 1e6)
    return statistics.median(samples)

lines = logs.host_lines
async def main():
    req = invocation().trigger_value
    rows = [
        ("whole request through the ASGI app", await timed_async(lambda: app(scope, receive, send))),
        ("request headers to a dict", timed(lambda: messages.headers_to_dict(scope["headers"]))),
        ("route match", timed(lambda: app.router.match(path, "GET"))),
        ("invocation id", timed(new_invocation_id)),
        ("func.HttpRequest (lazy) + Invocation", timed(invocation)),
        ("invoker: plan, scope, timeout watch, call, outcome (logs included)",
         await timed_async(lambda: invoker.invoke(invocation()))),
        ("  of which the user function (func.HttpResponse)", await timed_async(lambda: spec.func(req))),
        ("  of which the two console lines", timed(lambda: (lines.write("Executing 'Functions.hello_async' "
            "(Reason='x', Id=00000000-0000-4000-8000-000000000000)"), lines.write("Executed "
            "'Functions.hello_async' (Succeeded, Id=00000000-0000-4000-8000-000000000000, Duration=0ms)")))
            if lines is not None and lines.enabled("Function.hello_async") else 0.0),
        ("response to status, headers, body", timed(lambda: messages.to_raw_response(response, 200))),
        ("the two ASGI send calls", await timed_async(lambda: app._send(headers, send, 200, [], b"x"))),
    ]
    for label, value in rows:
        print(f"{value:.2f}\\t{label}")

uvloop.install()
asyncio.run(main())
"""


def steps_table(count: int) -> Table:
    """Where funchost's time per request goes, step by step (async hello, one call at a time)."""
    table = Table(
        f"Per-step cost of one async request, no network (median of 5 x {count}, us)",
        ["step", "default host.json", "logs at Warning"],
    )
    hello = APPS / "funchost_hello"
    columns = []
    for app in (hello, quiet_app(hello)):
        with tempfile.TemporaryFile() as console:
            subprocess.run(
                [PYTHON, "-c", STEPS_SNIPPET, str(app), str(count)],
                stdout=console,
                stderr=subprocess.STDOUT,
                check=True,
            )
            console.seek(0)
            found = [line.split("\t", 1) for line in console.read().decode().splitlines() if "\t" in line]
            columns.append({label: float(value) for value, label in found})
    for label in columns[0]:
        table.rows.append([label, f"{columns[0][label]:.2f}", f"{columns[1].get(label, 0.0):.2f}"])
    table.notes.append(
        "Each step runs alone in a loop of its own, so the steps do not add up exactly to the "
        "whole request (the whole request also pays uvicorn-free ASGI plumbing)."
    )
    return table
