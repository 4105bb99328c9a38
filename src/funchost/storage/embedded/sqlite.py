"""One SQLite file shared by host processes: every change is one ``BEGIN IMMEDIATE``
transaction run on a single thread of its own, so the event loop never blocks on the file
and two processes never interleave inside one change."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from funchost.storage.roles import StorageError

T = TypeVar("T")


def utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, timezone.utc)


class SqliteFile:
    """``<folder>/<file_name>`` in WAL mode, created with ``schema`` on first use."""

    def __init__(self, folder: Path, file_name: str, schema: str) -> None:
        self.folder = folder
        self.path = folder / file_name
        self.schema = schema
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="funchost-sqlite")
        self._connection: sqlite3.Connection | None = None

    @property
    def location(self) -> str:
        """The folder, shown at start next to the store's name."""
        return str(self.folder)

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            try:
                self._set_up(connection)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _set_up(self, connection: sqlite3.Connection) -> None:
        """WAL mode and the schema. Instances starting together race for the new file: SQLite answers
        'database is locked' at once (without its busy wait) to the loser of the schema's read-to-write
        upgrade, so the schema is written in an immediate transaction and a lost race is tried again."""
        for attempt in range(100):
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                connection.execute("PRAGMA busy_timeout=30000")
                connection.executescript(f"BEGIN IMMEDIATE;\n{self.schema}\nCOMMIT;")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == 99:
                    raise
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                time.sleep(0.05)

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._transaction, work)
        except (sqlite3.Error, OSError) as error:  # a locked, full or broken store: the callers' StorageError
            raise StorageError(
                f"the embedded store at {self.folder} failed: {type(error).__name__}: {error}"
            ) from error

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    async def open(self) -> None:
        await self._run(lambda connection: None)

    async def close(self) -> None:
        def shut() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        await asyncio.get_running_loop().run_in_executor(self._executor, shut)
        self._executor.shutdown(wait=False)
