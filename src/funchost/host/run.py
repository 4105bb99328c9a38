"""Running a host: supervised instances (the default), one instance, or one instance in-process."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from funchost.config import EncryptedSettingsError, HostConfigError, load_local_settings
from funchost.host.console import RED, flush_console, paint, real_stream
from funchost.host.options import RECYCLE_EXIT_CODE, HostOptions
from funchost.host.process.control import Control
from funchost.host.process.sockets import PortInUseError, bind_socket

if TYPE_CHECKING:
    from funchost.host.http.server import HttpServer
    from funchost.host.instance import HostInstance

DEFAULT_PORT = 7071


def _fail(message: str) -> int:
    flush_console()  # what was logged before the failure comes first
    real_stream(sys.stderr).write(paint(message, RED, sys.stderr) + "\n")
    return 1


def worker_count(options: HostOptions, settings: dict[str, str]) -> int:
    """``--workers``, else ``FUNCTIONS_WORKER_PROCESS_COUNT``, else 1 (start) or the cores (production)."""
    if options.workers:
        return options.workers
    configured = os.environ.get("FUNCTIONS_WORKER_PROCESS_COUNT") or settings.get("FUNCTIONS_WORKER_PROCESS_COUNT")
    if configured and configured.strip().isdigit() and int(configured) > 0:
        return int(configured)
    return (os.cpu_count() or 1) if options.production else 1


def start(options: HostOptions) -> int:
    """``funchost start``: bind the port, then run the instances under the supervisor."""
    from funchost.host.process.supervisor import Supervisor

    root = options.script_root
    if not root.is_dir():
        return _fail(f"The folder '{root}' does not exist (--script-root).")
    local = load_local_settings(root)
    port = options.port if options.port is not None else (local.local_http_port or DEFAULT_PORT)
    address = options.address or local.local_http_address or "127.0.0.1"
    try:
        sock = bind_socket(address, port)
    except PortInUseError as error:
        return _fail(error.strerror or str(error))
    options.port, options.address = port, address
    workers = worker_count(options, local.values)
    reload = options.reload and not options.production
    try:
        return Supervisor(options, sock, workers, reload).run()
    finally:
        sock.close()


def run_child(raw_options: str) -> int:
    """An instance started by the supervisor: serve on the inherited socket."""
    options = HostOptions.from_dict(json.loads(raw_options))
    sock = socket.socket(fileno=int(os.environ.pop("FUNCHOST_LISTEN_FD")))
    banner = bool(os.environ.pop("FUNCHOST_BANNER", ""))
    return serve(options, sock, Control(), banner)


def run_in_process(options: HostOptions) -> int:
    """One instance in this very process (used with a debugger attached)."""
    if not options.script_root.is_dir():
        return _fail(f"The folder '{options.script_root}' does not exist (--script-root).")
    local = load_local_settings(options.script_root)
    try:
        sock = bind_socket(
            options.address or local.local_http_address or "127.0.0.1",
            options.port if options.port is not None else (local.local_http_port or DEFAULT_PORT),
        )
    except PortInUseError as error:
        return _fail(error.strerror or str(error))
    return serve(options, sock, Control(), banner=True)


def _install_breakpoint_hook() -> None:
    """``breakpoint()`` in a function opens pdb on the terminal, not in the captured log."""
    if os.environ.get("PYTHONBREAKPOINT"):
        return

    def hook(*args: object, **kwargs: object) -> None:
        import pdb

        debugger = pdb.Pdb(stdin=sys.__stdin__, stdout=real_stream(sys.stdout))
        debugger.set_trace(sys._getframe(1))

    sys.breakpointhook = hook


def serve(options: HostOptions, sock: socket.socket, control: Control, banner: bool) -> int:
    """Load the app and serve it on ``sock`` until stopped; returns the exit code."""
    import asyncio

    from funchost import __version__ as funchost_version
    from funchost.host.console import console
    from funchost.host.http.server import create_server, install_fast_loop
    from funchost.host.instance import HostInstance
    from funchost.triggers.http.cors import CorsConfigError

    launched = time.perf_counter()
    _install_breakpoint_hook()
    host_port = sock.getsockname()[1]
    options.port = host_port
    instance = HostInstance(options, control)
    try:
        instance.load()
    except (HostConfigError, EncryptedSettingsError, CorsConfigError) as error:
        control.send("failed")
        return _fail(str(error))
    if banner:
        real_stream(sys.stdout).write(
            f"funchost {funchost_version}: Python {sys.version.split()[0]} ({sys.executable}), "
            f"azure-functions {_library_version()}\n"
        )
        instance.print_functions()
    assert instance.http_app is not None
    settings = instance.host_settings
    try:
        server = create_server(
            settings.http_server,
            instance.http_app,
            sock,
            drain_timeout=options.drain_timeout,
            request_timeout=settings.http_request_timeout,
        )
    except ImportError as error:
        control.send("failed")
        return _fail(
            f"FUNCHOST_HTTP_SERVER is '{settings.http_server}', but it cannot be imported ({error}). "
            f"Install it with: pip install 'funchost[{settings.http_server}]'"
        )
    instance.request_stop = server.stop
    install_fast_loop()
    console.info("Worker process started and initialized.")

    def on_started() -> None:
        # after the listeners started and the socket serves: a storage error stops us before this
        if banner:
            console.info(
                "Host started (%dms), listening on %s",
                (time.perf_counter() - launched) * 1000,
                instance.display_base_url(),
            )
        control.die_with_supervisor()
        control.send(f"ready {len(instance.load_errors())}")

    try:
        code = asyncio.run(_serve(instance, server, control, on_started))
    except KeyboardInterrupt:
        code = 0
    finally:
        sock.close()
    if instance.recycling:
        # a sync function may still be stuck in its thread: leave without waiting for it
        flush_console()
        sys.stdout.flush()
        os._exit(RECYCLE_EXIT_CODE)
    if instance.executor is not None:
        instance.executor.shutdown(wait=False, cancel_futures=True)
    flush_console()
    return code


async def _serve(instance: HostInstance, server: HttpServer, control: Control, on_started: Callable[[], None]) -> int:
    import asyncio

    from funchost.storage.roles import StorageError

    try:
        await instance.run_listeners()
    except StorageError as error:
        await instance.stop_listeners(0)
        control.send("failed")
        return _fail(str(error))
    server.on_started = on_started
    from funchost.invoke.timeout import BlockedLoopDetector
    from funchost.triggers.common.background import keep_running

    detector = None
    if instance.invoker is not None and instance.invoker.watchdog is not None:
        detector = BlockedLoopDetector(instance.invoker.watchdog, instance.on_blocked_loop)
        detector.start(asyncio.get_running_loop())

    monitor = asyncio.create_task(keep_running("the health monitor", instance.load_monitor().run))
    try:
        await server.serve()
    finally:
        monitor.cancel()
        if detector is not None:
            detector.stop()
        # one budget for the whole drain: what the HTTP side used is gone for the listeners
        began = server.stop_requested if server.stop_requested is not None else time.monotonic()
        await instance.stop_listeners(max(0.0, began + instance.options.drain_timeout - time.monotonic()))
    return 0


def _library_version() -> str:
    """The azure-functions version (its ``__version__``: importlib.metadata would cost 10 ms of start-up)."""
    import azure.functions

    return str(getattr(azure.functions, "__version__", "unknown"))
