"""The embedded Cosmos DB: databases, containers and JSON documents in one SQLite file
(``documents.db``) beside the embedded store.

Documents get the system properties a user reads: ``_rid``, ``_self``, ``_etag`` (new on
every write), ``_ts``, ``_attachments``. Every write gives the document a new log sequence
number (``_lsn``), so a container's change feed is "latest version" mode: inserts and updates
in order, a document once with its newest version, deletions not shown. The feed is split
into ``FEED_RANGES`` (4) ranges by partition key, each read in order by one consumer at a time.
Queries run the Cosmos DB SQL subset of ``cosmos_sql.py`` over the container's documents.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
import uuid
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from funchost.storage.embedded.sqlite import SqliteFile
from funchost.storage.roles import DocumentConflictError, DocumentStore, MissingContainerError, StorageError

FEED_RANGES = 4
SYSTEM = ("_rid", "_self", "_etag", "_ts", "_attachments", "_lsn")

SCHEMA = """
CREATE TABLE IF NOT EXISTS containers (
    database TEXT NOT NULL, name TEXT NOT NULL, partition_key_path TEXT NOT NULL, rid TEXT NOT NULL,
    database_rid TEXT NOT NULL, lsn INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL,
    PRIMARY KEY (database, name));
CREATE TABLE IF NOT EXISTS documents (
    database TEXT NOT NULL, container TEXT NOT NULL, pk TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
    rid TEXT NOT NULL, etag TEXT NOT NULL, ts INTEGER NOT NULL, lsn INTEGER NOT NULL, feed_range INTEGER NOT NULL,
    PRIMARY KEY (database, container, pk, id));
CREATE INDEX IF NOT EXISTS documents_by_lsn ON documents (database, container, feed_range, lsn);
"""


def _rid(seed: str, size: int) -> str:
    return base64.b64encode(zlib.crc32(seed.encode()).to_bytes(4, "big") + uuid.uuid4().bytes[: size - 4]).decode()


def partition_value(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.strip("/").split("/"):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


class EmbeddedDocuments(SqliteFile, DocumentStore):
    """The default Cosmos DB: ``<folder>/documents.db``."""

    name = "embedded documents"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, "documents.db", SCHEMA)
        self._listeners: list[Callable[[str, str], None]] = []

    def on_write(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(database, container)`` when this process writes (wakes change-feed readers)."""
        self._listeners.append(listener)

    def _written(self, database: str, container: str) -> None:
        for listener in self._listeners:
            listener(database, container)

    async def create_container(self, database: str, container: str, partition_key_path: str = "/id") -> None:
        def work(c: sqlite3.Connection) -> None:
            row = c.execute("SELECT database_rid FROM containers WHERE database = ? LIMIT 1", (database,)).fetchone()
            c.execute(
                "INSERT OR IGNORE INTO containers (database, name, partition_key_path, rid, database_rid, "
                "created) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    database,
                    container,
                    partition_key_path or "/id",
                    _rid(container, 8),
                    row[0] if row else _rid(database, 4),
                    time.time(),
                ),
            )

        await self._run(work)

    async def container_exists(self, database: str, container: str) -> bool:
        return (
            await self._run(
                lambda c: c.execute(
                    "SELECT 1 FROM containers WHERE database = ? AND name = ?", (database, container)
                ).fetchone()
            )
            is not None
        )

    async def containers(self) -> list[tuple[str, str, str, int]]:
        """Every (database, container, partition key path, document count), for the tools."""
        return await self._run(
            lambda c: c.execute(
                "SELECT k.database, k.name, k.partition_key_path, (SELECT COUNT(*) FROM documents d WHERE "
                "d.database = k.database AND d.container = k.name) FROM containers k ORDER BY 1, 2"
            ).fetchall()
        )

    @staticmethod
    def _container(c: sqlite3.Connection, database: str, container: str) -> tuple[str, str, str]:
        row = c.execute(
            "SELECT partition_key_path, rid, database_rid FROM containers WHERE database = ? AND name = ?",
            (database, container),
        ).fetchone()
        if row is None:
            raise MissingContainerError(
                f"The container '{container}' does not exist in database '{database}' "
                "(create it, or let the output binding do it with create_if_not_exists)."
            )
        return row[0], row[1], row[2]

    @staticmethod
    def _document(row: Any, with_lsn: bool = False) -> dict[str, Any]:
        body, rid, etag, ts, lsn, self_link = row
        document: dict[str, Any] = json.loads(body)
        document.update({"_rid": rid, "_self": self_link, "_etag": etag, "_attachments": "attachments/", "_ts": ts})
        if with_lsn:
            document["_lsn"] = lsn
        return document

    _COLUMNS = (
        "body, d.rid, etag, ts, d.lsn, 'dbs/' || k.database_rid || '/colls/' || k.rid || '/docs/' || d.rid "
        "|| '/' FROM documents d JOIN containers k ON k.database = d.database AND k.name = d.container"
    )

    async def read_document(
        self, database: str, container: str, document_id: str, partition_key: Any
    ) -> dict[str, Any] | None:
        def work(c: sqlite3.Connection) -> dict[str, Any] | None:
            self._container(c, database, container)
            row = c.execute(
                f"SELECT {self._COLUMNS} WHERE d.database = ? AND d.container = ? AND d.pk = ? AND d.id = ?",
                (database, container, json.dumps(partition_key), document_id),
            ).fetchone()
            return self._document(row) if row else None

        return await self._run(work)

    async def query_documents(
        self, database: str, container: str, query: str, parameters: dict[str, Any] | None = None
    ) -> list[Any]:
        from funchost.storage.query.cosmos_sql import parse_query

        parsed = parse_query(query, parameters)  # a bad query fails before any read

        def work(c: sqlite3.Connection) -> list[dict[str, Any]]:
            self._container(c, database, container)
            rows = c.execute(
                f"SELECT {self._COLUMNS} WHERE d.database = ? AND d.container = ? ORDER BY d.lsn", (database, container)
            ).fetchall()
            return [self._document(row) for row in rows]

        return parsed.run(await self._run(work))

    def _store(
        self,
        c: sqlite3.Connection,
        database: str,
        container: str,
        document: dict[str, Any],
        if_match: str | None,
        upsert: bool,
    ) -> dict[str, Any]:
        path, container_rid, database_rid = self._container(c, database, container)
        if not isinstance(document.get("id"), str) or not document["id"]:
            raise StorageError(f"a document for '{database}/{container}' has no 'id' (a non-empty string)")
        body = {key: value for key, value in document.items() if key not in SYSTEM}
        key = partition_value(body, path)
        pk = json.dumps(key)
        existing = c.execute(
            "SELECT etag, rid FROM documents WHERE database = ? AND container = ? AND pk = ? AND id = ?",
            (database, container, pk, body["id"]),
        ).fetchone()
        if not upsert:
            created_over = if_match is None and existing is not None
            replaced_changed = if_match is not None and (existing is None or existing[0] != if_match)
            if created_over or replaced_changed:
                raise DocumentConflictError(
                    f"document '{body['id']}' in '{database}/{container}' {'exists' if created_over else 'changed'}"
                )
        c.execute("UPDATE containers SET lsn = lsn + 1 WHERE database = ? AND name = ?", (database, container))
        lsn = c.execute("SELECT lsn FROM containers WHERE database = ? AND name = ?", (database, container)).fetchone()[
            0
        ]
        rid = existing[1] if existing else _rid(body["id"], 12)
        etag, ts = f'"{uuid.uuid4()}"', int(time.time())
        c.execute(
            "INSERT OR REPLACE INTO documents (database, container, pk, id, body, rid, etag, ts, lsn, "
            "feed_range) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                database,
                container,
                pk,
                body["id"],
                json.dumps(body),
                rid,
                etag,
                ts,
                lsn,
                zlib.crc32(pk.encode()) % FEED_RANGES,
            ),
        )
        return {
            **body,
            "_rid": rid,
            "_self": f"dbs/{database_rid}/colls/{container_rid}/docs/{rid}/",
            "_etag": etag,
            "_attachments": "attachments/",
            "_ts": ts,
        }

    async def upsert_documents(self, database: str, container: str, documents: list[dict[str, Any]]) -> None:
        def work(c: sqlite3.Connection) -> None:
            for document in documents:
                self._store(c, database, container, document, None, upsert=True)

        await self._run(work)
        self._written(database, container)

    async def write_document(
        self, database: str, container: str, document: dict[str, Any], if_match: str | None
    ) -> dict[str, Any]:
        stored = await self._run(lambda c: self._store(c, database, container, document, if_match, upsert=False))
        self._written(database, container)
        return stored

    async def delete_document(self, database: str, container: str, document_id: str, partition_key: Any) -> None:
        await self._run(
            lambda c: c.execute(
                "DELETE FROM documents WHERE database = ? AND container = ? AND pk = ? AND id = ?",
                (database, container, json.dumps(partition_key), document_id),
            )
        )

    async def feed_ranges(self, database: str, container: str) -> list[str]:
        await self._run(lambda c: self._container(c, database, container))
        return [str(index) for index in range(FEED_RANGES)]

    async def read_feed(
        self, database: str, container: str, feed_range: str, continuation: str | None, count: int
    ) -> tuple[list[dict[str, Any]], str]:
        after = int(continuation or 0)

        def work(c: sqlite3.Connection) -> list[Any]:
            self._container(c, database, container)
            return c.execute(
                f"SELECT {self._COLUMNS} WHERE d.database = ? AND d.container = ? AND d.feed_range = ? "
                "AND d.lsn > ? ORDER BY d.lsn LIMIT ?",
                (database, container, int(feed_range), after, count),
            ).fetchall()

        documents = [self._document(row, with_lsn=True) for row in await self._run(work)]
        return documents, str(documents[-1]["_lsn"] if documents else after)

    async def feed_position(self, database: str, container: str, feed_range: str, since: datetime | None) -> str:
        def work(c: sqlite3.Connection) -> int:
            self._container(c, database, container)
            if since is None:
                row = c.execute(
                    "SELECT lsn FROM containers WHERE database = ? AND name = ?", (database, container)
                ).fetchone()
            else:
                row = c.execute(
                    "SELECT MAX(lsn) FROM documents WHERE database = ? AND container = ? AND feed_range = ? AND ts < ?",
                    (database, container, int(feed_range), since.timestamp()),
                ).fetchone()
            return int(row[0] or 0) if row else 0

        return str(await self._run(work))
