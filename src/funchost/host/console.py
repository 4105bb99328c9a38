"""Console output like Core Tools: UTC timestamps, colours by level, the Functions list."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TextIO

RED, YELLOW, GREEN, GREY, RESET = "\033[31m", "\033[33m", "\033[32m", "\033[90m", "\033[0m"


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
        moment = datetime.fromtimestamp(record.created, timezone.utc)
        stamp = moment.strftime("[%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z] "
        lines = [stamp + line for line in message.split("\n")]
        text = "\n".join(lines)
        if self.colour:
            if record.levelno >= logging.ERROR:
                text = f"{RED}{text}{RESET}"
            elif record.levelno >= logging.WARNING:
                text = f"{YELLOW}{text}{RESET}"
        return text


# host internals; the Azure SDKs count as such because the storage provider uses them (their
# request logging would otherwise print every poll)
HOST_CATEGORIES = ("funchost", "uvicorn", "asyncio", "watchfiles", "azure.core", "azure.storage", "azure.identity")


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
    from funchost.invoke.logs import level_from_name

    target = real_stream(stream or sys.stdout)
    handler = logging.StreamHandler(target)
    handler.setFormatter(ConsoleFormatter(use_colour(target)))
    by_category = {category.lower(): level_from_name(level) for category, level in levels.items()}
    function_level = by_category.pop("default", logging.INFO)
    host_level = logging.DEBUG if verbose else logging.WARNING
    handler.addFilter(CategoryFilter(by_category, function_level,
                                     min(host_level, logging.INFO) if verbose else host_level))
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
        logging.INFO if verbose else logging.WARNING)
    return handler


console = logging.getLogger("funchost.console")


def paint(text: str, colour: str, stream: TextIO | None = None) -> str:
    return f"{colour}{text}{RESET}" if use_colour(real_stream(stream or sys.stdout)) else text
