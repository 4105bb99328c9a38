"""``funchost start`` for one process: load, bind, print, serve until stopped."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from importlib import metadata

from funchost.config import EncryptedSettingsError, HostConfigError
from funchost.host.console import RED, console, paint, real_stream
from funchost.host.instance import HostInstance, HostOptions
from funchost.host.server import PortInUseError, UvicornServer, bind_socket, install_fast_loop
from funchost.storage.base import StorageError


def _fail(message: str) -> int:
    real_stream(sys.stderr).write(paint(message, RED, sys.stderr) + "\n")
    return 1


def _install_breakpoint_hook() -> None:
    """``breakpoint()`` in a function opens pdb on the terminal, not in the captured log."""
    if os.environ.get("PYTHONBREAKPOINT"):
        return

    def hook(*args: object, **kwargs: object) -> None:
        import pdb

        debugger = pdb.Pdb(stdin=sys.__stdin__, stdout=real_stream(sys.stdout))
        debugger.set_trace(sys._getframe(1))

    sys.breakpointhook = hook


def start(options: HostOptions) -> int:
    """Run one host instance in this process; returns the exit code."""
    launched = time.perf_counter()
    _install_breakpoint_hook()
    if not options.script_root.is_dir():
        return _fail(f"The folder '{options.script_root}' does not exist (--script-root).")
    instance = HostInstance(options)
    try:
        instance.load()
    except (HostConfigError, EncryptedSettingsError) as error:
        return _fail(str(error))
    try:
        sock = bind_socket(instance.address, instance.port)
    except PortInUseError as error:
        return _fail(error.strerror or str(error))
    out = real_stream(sys.stdout)
    out.write(
        f"funchost {_version('funchost')}: Python {sys.version.split()[0]} ({sys.executable}), "
        f"azure-functions {_version('azure-functions')}\n"
    )
    instance.print_functions()
    assert instance.http_app is not None
    server = UvicornServer(instance.http_app, sock)
    install_fast_loop()
    console.info("Worker process started and initialized.")
    console.info(
        "Host started (%dms), listening on %s", (time.perf_counter() - launched) * 1000,
        instance.display_base_url(),
    )
    try:
        return asyncio.run(_serve(instance, server))
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        if instance.executor is not None:
            instance.executor.shutdown(wait=False, cancel_futures=True)
    return 0


async def _serve(instance: HostInstance, server: UvicornServer) -> int:
    try:
        await instance.run_listeners()
    except StorageError as error:
        await instance.stop_listeners(0)
        return _fail(str(error))
    try:
        await server.serve()
    finally:
        await instance.stop_listeners()
    return 0


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"
