"""The console: lines queued to one writer thread, byte for byte what logging printed."""

from __future__ import annotations

import asyncio
import random
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from funchost.app import load_app
from funchost.config import AppSettings, HostConfig
from funchost.host.console import configure_logging, flush_console
from funchost.host.console_writer import stamp
from funchost.invoke import Invoker, install_log_capture, logs
from funchost.triggers.common.manual import manual_invocation
from funchost.triggers.families import CATALOG
from tests.conftest import write_app


def test_stamps_are_what_datetime_formatting_gave():
    moments = [random.uniform(0, 4_000_000_000) for _ in range(20_000)] + [1.9995, 59.9999996, 1700000000.0005]
    for moment in moments:
        utc = datetime.fromtimestamp(moment, timezone.utc)
        assert stamp(moment) == utc.strftime("[%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z] "


APP = {
    "function_app.py": """
    import logging
    import azure.functions as func

    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
    def chatty(msg: str) -> None:
        logging.info("first %s", msg)
        print("printed")
        logging.warning("second")
"""
}


def run_logged(app: Path, log: Path, fast: bool) -> list[str]:
    with log.open("w") as stream:
        install_log_capture()
        configure_logging({}, verbose=False, stream=stream)
        if not fast:
            logs.host_lines = None  # every line through logging, as before the writer existed
        index = load_app(app, AppSettings({}), HostConfig(), CATALOG)
        with ThreadPoolExecutor(2) as executor:
            invoker = Invoker(executor)
            for text in ("a", "b"):
                asyncio.run(invoker.invoke(manual_invocation(index.functions["chatty"], text)))
        flush_console()
    lines = log.read_text().splitlines()
    return [
        re.sub(r"Id=[0-9a-f-]{36}", "Id=<id>", re.sub(r"Duration=\d+ms", "Duration=<ms>", line[27:]))
        for line in lines
        if re.match(r"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] ", line)
    ]


def test_the_fast_lines_are_the_lines_logging_wrote_in_the_same_order(tmp_path):
    from funchost.testing import _ProcessState

    app = write_app(tmp_path / "app", APP)
    saved = _ProcessState.save()  # the root logger, print capture and sink, as they were
    try:
        through_logging = run_logged(app, tmp_path / "logging.log", fast=False)
        fast = run_logged(app, tmp_path / "fast.log", fast=True)
    finally:
        saved.restore()
    expected = []
    for text in ("a", "b"):
        expected += [
            "Executing 'Functions.chatty' (Reason='This function was programmatically called via the host "
            "APIs.', Id=<id>)",
            f"first {text}",
            "printed",
            "second",
            "Executed 'Functions.chatty' (Succeeded, Id=<id>, Duration=<ms>)",
        ]
    assert through_logging == expected
    assert fast == through_logging


def test_prints_and_lines_keep_their_order_and_lines_are_never_split(tmp_path):
    from funchost.host.console_writer import CHUNK, ConsoleWriter

    path = tmp_path / "console.log"
    with path.open("w") as stream:
        writer = ConsoleWriter(stream)
        writer.write("a line")
        writer.write_raw("printed without ")
        writer.write_raw("a newline\n")
        long_lines = [f"{n:05d} " + "x" * 300 for n in range(40)]  # 12 KB: several system calls
        for line in long_lines:
            writer.write(line)
        writer.flush()
    assert path.read_text().splitlines() == ["a line", "printed without a newline", *long_lines]
    assert CHUNK < 4096  # one write() of a pipe up to 4096 bytes is never interleaved with another's
