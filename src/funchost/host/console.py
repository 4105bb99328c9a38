"""Console output like Core Tools: UTC timestamps, colours by level, the Functions list."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from typing import TextIO

from funchost.host.console_writer import ConsoleHandler, ConsoleWriter, stamp

RED, YELLOW, GREEN, RESET = "\033[31m", "\033[33m", "\033[32m", "\033[0m"


def real_stream(stream: TextIO) -> TextIO:
    """The terminal behind our print-capturing wrapper (the console must not write into it)."""
    while hasattr(stream, "_target"):
        stream = stream._target
    return stream


def use_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


class ConsoleFormatter(logging.Formatter):
    """``[2024-05-01T10:00:00.123Z] message``, every line of a multi-line message prefixed."""

    def __init__(self, colour: bool) -> None:
        super().__init__()
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message = f"{message}\n{self.formatException(record.exc_info)}"
        prefix = stamp(record.created)
        lines = [prefix + line for line in message.split("\n")]
        text = "\n".join(lines)
        if self.colour:
            if record.levelno >= logging.ERROR:
                text = f"{RED}{text}{RESET}"
            elif record.levelno >= logging.WARNING:
                text = f"{YELLOW}{text}{RESET}"
        return text


# host internals; the Azure SDKs count as such because the storage provider uses them (their
# request logging would otherwise print every poll)
HOST_CATEGORIES = (
    "funchost",
    "uvicorn",
    "asyncio",
    "watchfiles",
    "azure.core",
    "azure.storage",
    "azure.identity",
    "azure.servicebus",
    "azure.eventhub",
)


class CategoryFilter(logging.Filter):
    """Core Tools' filtering: host internals from Warning (Information with --verbose),
    function and user logs by host.json ``logging.logLevel``.

    Categories are the real host's: ``Function.<name>`` for the Executing/Executed lines,
    ``Function.<name>.User`` for what user code logs (on any logger, or prints) during an
    invocation. The most specific configured prefix wins, then ``default`` (Information).
    """

    def __init__(self, levels: dict[str, int], default: int, host_level: int) -> None:
        super().__init__()
        self.levels = levels  # lower-cased categories, "default" excluded
        self.default = default
        self.host_level = host_level
        self._resolved: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        if name.startswith("funchost.console"):
            return True
        if name.startswith(HOST_CATEGORIES):
            return record.levelno >= self.host_level
        if not self.levels:
            return record.levelno >= self.default
        return record.levelno >= self.level_of(self.category(record))

    @staticmethod
    def category(record: logging.LogRecord) -> str:
        if record.name.startswith("Function."):
            return record.name
        function = getattr(record, "function_name", None)
        return f"Function.{function}.User" if function else record.name

    def level_of(self, category: str) -> int:
        level = self._resolved.get(category)
        if level is None:
            parts = category.lower().split(".")
            while parts and level is None:
                level = self.levels.get(".".join(parts))
                parts.pop()
            level = self.default if level is None else level
            self._resolved[category] = level
        return level


def configure_logging(levels: Mapping[str, str], verbose: bool, stream: TextIO | None = None) -> logging.Handler:
    """Send every log record (user code's root logger included) to the console.

    ``levels`` is host.json ``logging.logLevel`` (category to level name).
    """
    from funchost.invoke import logs
    from funchost.invoke.logs import level_from_name

    target = real_stream(stream or sys.stdout)
    writer = console_writer(target)
    handler = ConsoleHandler(writer)
    handler.setFormatter(ConsoleFormatter(use_colour(target)))
    by_category = {category.lower(): level_from_name(level) for category, level in levels.items()}
    function_level = by_category.pop("default", logging.INFO)
    host_level = logging.DEBUG if verbose else logging.WARNING
    category_filter = CategoryFilter(
        by_category, function_level, min(host_level, logging.INFO) if verbose else host_level
    )
    handler.addFilter(category_filter)
    # the Executing/Executed lines skip logging's machinery: formatted and queued, same text
    logs.host_lines = HostLines(writer, category_filter)
    logs.console_passthrough = writer.write_raw
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_funchost", False):
            root.removeHandler(existing)
    handler._funchost = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    # the root level is the real gate: records below it are never even created (the filter
    # then applies the per-category levels to what got through)
    gate = min([function_level, *by_category.values()])
    root.setLevel(min(gate, logging.DEBUG) if verbose else gate)
    logging.getLogger("funchost.console").setLevel(logging.INFO)
    # one record per HTTP request to storage otherwise (skipped before it is even formatted)
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(
        logging.INFO if verbose else logging.WARNING
    )
    return handler


console = logging.getLogger("funchost.console")

_writers: dict[int, ConsoleWriter] = {}


def console_writer(stream: TextIO) -> ConsoleWriter:
    """The one writer of this process for ``stream``."""
    writer = _writers.get(id(stream))
    if writer is None or writer.stream is not stream:
        writer = _writers[id(stream)] = ConsoleWriter(stream)
    return writer


def flush_console() -> None:
    """Write out every queued line (before printing directly, exiting or reporting a crash)."""
    for writer in list(_writers.values()):
        writer.flush()


class HostLines:
    """The host's own Information lines, straight to the console writer when their category
    is shown (``invoke.logs.host_lines``); what the console filter would print, byte for byte."""

    def __init__(self, writer: ConsoleWriter, category_filter: CategoryFilter) -> None:
        self.writer = writer
        self.category_filter = category_filter
        self._put = writer.put_line

    def enabled(self, category: str) -> bool:
        return (
            logging.getLogger().isEnabledFor(logging.INFO) and self.category_filter.level_of(category) <= logging.INFO
        )

    def write(self, text: str) -> None:
        self._put(f"{stamp(time.time())}{text}\n")


def paint(text: str, colour: str, stream: TextIO | None = None) -> str:
    return f"{colour}{text}{RESET}" if use_colour(real_stream(stream or sys.stdout)) else text
