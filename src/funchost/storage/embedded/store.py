"""The embedded store: one SQLite file (WAL) plus a folder of blob files.

Safe for several host processes on one machine: every change is one SQLite transaction
taken with ``BEGIN IMMEDIATE``, so a message goes to one consumer at a time and a lease has
one holder. Blob content is written to a new file named after its ETag before the
transaction that points at it commits, so a crash at any moment leaves the store consistent
(at worst an unreferenced file, removed later).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from funchost.storage.embedded.sqlite import SqliteFile, utc
from funchost.storage.roles import (
    BlobProperties,
    MessageNotFoundError,
    QueueMessage,
    StorageError,
    StorageProvider,
)

DEFAULT_TTL = 7 * 24 * 3600.0  # Azure Storage's default message time-to-live

SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    body BLOB NOT NULL,
    inserted REAL NOT NULL,
    expires REAL NOT NULL,
    visible REAL NOT NULL,
    dequeue_count INTEGER NOT NULL DEFAULT 0,
    pop_receipt TEXT,
    seq INTEGER PRIMARY KEY AUTOINCREMENT
);
CREATE INDEX IF NOT EXISTS messages_by_visibility ON messages (queue, visible, seq);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_id ON messages (queue, id);
CREATE TABLE IF NOT EXISTS containers (name TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (
    container TEXT NOT NULL,
    name TEXT NOT NULL,
    etag TEXT NOT NULL,
    length INTEGER NOT NULL,
    modified REAL NOT NULL,
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    PRIMARY KEY (container, name)
);
CREATE TABLE IF NOT EXISTS tables (name TEXT PRIMARY KEY COLLATE NOCASE, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS entities (
    table_name TEXT NOT NULL COLLATE NOCASE,
    pk TEXT NOT NULL,
    rk TEXT NOT NULL,
    properties TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (table_name, pk, rk)
);
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated REAL NOT NULL);
"""


class EmbeddedStorage(SqliteFile, StorageProvider):
    """The default provider: ``<folder>/store.db`` and ``<folder>/blobs/``."""

    name = "embedded"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, "store.db", SCHEMA)
        self.blob_folder = folder / "blobs"
        self._listeners: list[Callable[[str], None]] = []

    def _connect(self) -> sqlite3.Connection:
        self.blob_folder.mkdir(parents=True, exist_ok=True)
        return super()._connect()

    def on_message(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(queue)`` when this process puts a message (wakes idle pollers)."""
        self._listeners.append(listener)

    async def create_queue(self, queue: str) -> None:
        await self._run(
            lambda c: c.execute("INSERT OR IGNORE INTO queues (name, created) VALUES (?, ?)", (queue, time.time()))
        )

    async def list_queues(self) -> list[str]:
        rows = await self._run(lambda c: c.execute("SELECT name FROM queues ORDER BY name").fetchall())
        return [row[0] for row in rows]

    async def put(
        self, queue: str, body: bytes, visibility_delay: float = 0.0, time_to_live: float | None = None
    ) -> QueueMessage:
        now = time.time()
        message_id = str(uuid.uuid4())
        expires = now + (time_to_live if time_to_live and time_to_live > 0 else DEFAULT_TTL)

        def work(c: sqlite3.Connection) -> None:
            c.execute("INSERT OR IGNORE INTO queues (name, created) VALUES (?, ?)", (queue, now))
            c.execute(
                "INSERT INTO messages (queue, id, body, inserted, expires, visible) VALUES (?, ?, ?, ?, ?, ?)",
                (queue, message_id, body, now, expires, now + visibility_delay),
            )

        await self._run(work)
        for listener in self._listeners:
            listener(queue)
        return QueueMessage(message_id, body, 0, utc(now), utc(expires), utc(now + visibility_delay), "")

    async def get_batch(self, queue: str, count: int, visibility_timeout: float) -> list[QueueMessage]:
        def work(c: sqlite3.Connection) -> list[QueueMessage]:
            now = time.time()
            c.execute("DELETE FROM messages WHERE queue = ? AND expires <= ?", (queue, now))
            rows = c.execute(
                "SELECT id, body, inserted, expires, dequeue_count FROM messages "
                "WHERE queue = ? AND visible <= ? ORDER BY visible, seq LIMIT ?",
                (queue, now, count),
            ).fetchall()
            taken = []
            visible = now + visibility_timeout
            for message_id, body, inserted, expires, dequeue_count in rows:
                receipt = uuid.uuid4().hex
                c.execute(
                    "UPDATE messages SET visible = ?, dequeue_count = dequeue_count + 1, pop_receipt = ? "
                    "WHERE queue = ? AND id = ?",
                    (visible, receipt, queue, message_id),
                )
                taken.append(
                    QueueMessage(
                        message_id, bytes(body), dequeue_count + 1, utc(inserted), utc(expires), utc(visible), receipt
                    )
                )
            return taken

        return await self._run(work)

    async def delete(self, queue: str, message_id: str, pop_receipt: str) -> None:
        def work(c: sqlite3.Connection) -> None:
            deleted = c.execute(
                "DELETE FROM messages WHERE queue = ? AND id = ? AND pop_receipt = ?",
                (queue, message_id, pop_receipt),
            ).rowcount
            if not deleted:
                raise MessageNotFoundError(f"message {message_id} in queue '{queue}' is gone or was taken again")

        await self._run(work)

    async def update_visibility(self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float) -> str:
        receipt = uuid.uuid4().hex

        def work(c: sqlite3.Connection) -> None:
            updated = c.execute(
                "UPDATE messages SET visible = ?, pop_receipt = ? WHERE queue = ? AND id = ? AND pop_receipt = ?",
                (time.time() + visibility_timeout, receipt, queue, message_id, pop_receipt),
            ).rowcount
            if not updated:
                raise MessageNotFoundError(f"message {message_id} in queue '{queue}' is gone or was taken again")

        await self._run(work)
        return receipt

    async def peek(self, queue: str, count: int) -> list[QueueMessage]:
        def work(c: sqlite3.Connection) -> list[QueueMessage]:
            now = time.time()
            rows = c.execute(
                "SELECT id, body, inserted, expires, visible, dequeue_count FROM messages "
                "WHERE queue = ? AND visible <= ? AND expires > ? ORDER BY visible, seq LIMIT ?",
                (queue, now, now, count),
            ).fetchall()
            return [QueueMessage(r[0], bytes(r[1]), r[5], utc(r[2]), utc(r[3]), utc(r[4]), "") for r in rows]

        return await self._run(work)

    async def length(self, queue: str) -> int:
        row = await self._run(
            lambda c: c.execute(
                "SELECT COUNT(*) FROM messages WHERE queue = ? AND expires > ?", (queue, time.time())
            ).fetchone()
        )
        return int(row[0])

    def _blob_path(self, etag: str) -> Path:
        return self.blob_folder / etag.strip('"')

    async def put_blob(
        self,
        container: str,
        name: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> BlobProperties:
        now = time.time()
        etag = f'"0x{hashlib.sha1(data + str(now).encode() + os.urandom(8)).hexdigest()[:16].upper()}"'
        path = self._blob_path(etag)

        def write_file() -> None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.blob_folder.mkdir(exist_ok=True)
            temporary = path.with_suffix(".tmp")
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)

        await asyncio.get_running_loop().run_in_executor(self._executor, write_file)
        properties = BlobProperties(
            container, name, etag, len(data), utc(now), content_type or "application/octet-stream", dict(metadata or {})
        )

        def work(c: sqlite3.Connection) -> str | None:
            c.execute("INSERT OR IGNORE INTO containers (name, created) VALUES (?, ?)", (container, now))
            old = c.execute("SELECT etag FROM blobs WHERE container = ? AND name = ?", (container, name)).fetchone()
            c.execute(
                "INSERT OR REPLACE INTO blobs (container, name, etag, length, modified, content_type, metadata) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (container, name, etag, len(data), now, properties.content_type, json.dumps(properties.metadata)),
            )
            return old[0] if old else None

        old_etag = await self._run(work)
        if old_etag:
            self._blob_path(old_etag).unlink(missing_ok=True)
        return properties

    @staticmethod
    def _properties(row: Any) -> BlobProperties:
        container, name, etag, length, modified, content_type, metadata = row
        return BlobProperties(container, name, etag, length, utc(modified), content_type, json.loads(metadata))

    async def blob_properties(self, container: str, name: str) -> BlobProperties | None:
        row = await self._run(
            lambda c: c.execute(
                "SELECT container, name, etag, length, modified, content_type, metadata FROM blobs "
                "WHERE container = ? AND name = ?",
                (container, name),
            ).fetchone()
        )
        return self._properties(row) if row else None

    async def get_blob(self, container: str, name: str) -> tuple[bytes, BlobProperties] | None:
        for _ in range(3):  # a concurrent overwrite may remove the file we were about to read
            properties = await self.blob_properties(container, name)
            if properties is None:
                return None
            try:
                data = await asyncio.get_running_loop().run_in_executor(
                    self._executor, self._blob_path(properties.etag).read_bytes
                )
            except FileNotFoundError:
                continue
            return data, properties
        raise StorageError(f"blob '{container}/{name}' keeps changing while being read")

    async def list_blobs(self, container: str, prefix: str = "") -> list[BlobProperties]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT container, name, etag, length, modified, content_type, metadata FROM blobs "
                "WHERE container = ? AND substr(name, 1, ?) = ? ORDER BY name",
                (container, len(prefix), prefix),
            ).fetchall()
        )
        return [self._properties(row) for row in rows]

    async def delete_blob(self, container: str, name: str) -> bool:
        def work(c: sqlite3.Connection) -> str | None:
            row = c.execute("SELECT etag FROM blobs WHERE container = ? AND name = ?", (container, name)).fetchone()
            c.execute("DELETE FROM blobs WHERE container = ? AND name = ?", (container, name))
            return row[0] if row else None

        etag = await self._run(work)
        if etag:
            self._blob_path(etag).unlink(missing_ok=True)
        return etag is not None

    async def list_containers(self) -> list[str]:
        rows = await self._run(lambda c: c.execute("SELECT name FROM containers ORDER BY name").fetchall())
        return [row[0] for row in rows]

    @staticmethod
    def _entity(row: Any) -> dict[str, Any]:
        pk, rk, properties, updated = row
        return {"PartitionKey": pk, "RowKey": rk, "Timestamp": utc(updated).isoformat(), **json.loads(properties)}

    async def get_entity(self, table: str, partition_key: str, row_key: str) -> dict[str, Any] | None:
        row = await self._run(
            lambda c: c.execute(
                "SELECT pk, rk, properties, updated FROM entities WHERE table_name = ? AND pk = ? AND rk = ?",
                (table, partition_key, row_key),
            ).fetchone()
        )
        return self._entity(row) if row else None

    async def query_entities(self, table: str, query_filter: str | None, top: int | None) -> list[dict[str, Any]]:
        from funchost.storage.query.odata import compile_filter

        matches = compile_filter(query_filter) if query_filter else None  # a bad filter fails before any read
        rows = await self._run(
            lambda c: c.execute(
                "SELECT pk, rk, properties, updated FROM entities WHERE table_name = ? ORDER BY pk, rk", (table,)
            ).fetchall()
        )
        found = []
        for row in rows:
            entity = self._entity(row)
            if matches is None or matches(entity):
                found.append(entity)
                if top is not None and len(found) >= top:
                    break
        return found

    async def upsert_entities(self, table: str, entities: list[dict[str, Any]]) -> None:
        now = time.time()

        def work(c: sqlite3.Connection) -> None:
            c.execute("INSERT OR IGNORE INTO tables (name, created) VALUES (?, ?)", (table, now))
            for entity in entities:
                properties = {
                    k: v
                    for k, v in entity.items()
                    if k not in ("PartitionKey", "RowKey", "Timestamp") and not k.startswith("odata.")
                }
                c.execute(
                    "INSERT OR REPLACE INTO entities (table_name, pk, rk, properties, updated) VALUES (?, ?, ?, ?, ?)",
                    (table, entity["PartitionKey"], entity["RowKey"], json.dumps(properties), now),
                )

        await self._run(work)

    async def list_tables(self) -> list[str]:
        rows = await self._run(lambda c: c.execute("SELECT name FROM tables ORDER BY name").fetchall())
        return [row[0] for row in rows]

    async def acquire_lease(self, name: str, owner: str, duration: float) -> bool:
        def work(c: sqlite3.Connection) -> bool:
            now = time.time()
            row = c.execute("SELECT owner, expires FROM leases WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] != owner and row[1] > now:
                return False
            c.execute(
                "INSERT OR REPLACE INTO leases (name, owner, expires) VALUES (?, ?, ?)", (name, owner, now + duration)
            )
            return True

        return await self._run(work)

    async def renew_lease(self, name: str, owner: str, duration: float) -> bool:
        def work(c: sqlite3.Connection) -> bool:
            now = time.time()
            return (
                c.execute(
                    "UPDATE leases SET expires = ? WHERE name = ? AND owner = ? AND expires > ?",
                    (now + duration, name, owner, now),
                ).rowcount
                == 1
            )

        return await self._run(work)

    async def release_lease(self, name: str, owner: str) -> None:
        await self._run(lambda c: c.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner)))

    async def get_state(self, key: str) -> str | None:
        row = await self._run(lambda c: c.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone())
        return row[0] if row else None

    async def set_state(self, key: str, value: str) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO state (key, value, updated) VALUES (?, ?, ?)", (key, value, time.time())
            )
        )

    async def delete_state(self, key: str) -> None:
        await self._run(lambda c: c.execute("DELETE FROM state WHERE key = ?", (key,)))

    async def list_state_keys(self, prefix: str) -> set[str]:
        # a range on the primary key instead of LIKE, whose wildcards a key may contain
        rows = await self._run(
            lambda c: c.execute(
                "SELECT key FROM state WHERE key >= ? AND key < ?", (prefix, prefix + "\U0010ffff")
            ).fetchall()
        )
        return {row[0] for row in rows}
