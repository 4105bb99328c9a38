"""The embedded broker: Service Bus queues, topics and subscriptions, and Event Hubs logs, in
one SQLite file (``broker.db``) beside the embedded store.

Service Bus: peek-lock with a lock token per delivery; a message whose delivery count reaches
the entity's MaxDeliveryCount (10) and is abandoned, or whose lock lapses, goes to
``<entity>/$DeadLetterQueue`` with reason ``MaxDeliveryCountExceeded``. With sessions, a
session is locked while one of its messages is out, so its messages go one at a time, in
order, to one consumer. Event Hubs: each hub has ``FUNCHOST_EVENTHUB_PARTITIONS`` partitions
(4) from its first use; events keep ``FUNCHOST_EVENTHUB_RETENTION_HOURS`` (168: 7 days).
Every change is one ``BEGIN IMMEDIATE`` transaction, so host processes sharing the file never
take one message twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from funchost.storage.embedded.sqlite import SqliteFile, utc
from funchost.storage.roles import (
    BrokerMessage,
    EventLogStore,
    HubEvent,
    LockLostError,
    OutgoingEvent,
    OutgoingMessage,
    ServiceBusReceiver,
    ServiceBusStore,
)

MAX_DELIVERY_COUNT = 10  # Service Bus's default for a new entity
LOCK_DURATION = 60.0  # seconds: Service Bus's default lock duration
DEFAULT_PARTITIONS = 4
DEFAULT_RETENTION_HOURS = 168.0
DEAD_LETTER_SUFFIX = "/$DeadLetterQueue"

SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    path TEXT PRIMARY KEY, kind TEXT NOT NULL, sessions INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sb_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body BLOB NOT NULL,
    session_id TEXT,
    properties TEXT NOT NULL,
    enqueued REAL NOT NULL,
    expires REAL,
    delivery_count INTEGER NOT NULL DEFAULT 0,
    locked_until REAL NOT NULL DEFAULT 0,
    lock_token TEXT,
    dead_letter TEXT
);
CREATE INDEX IF NOT EXISTS sb_by_entity ON sb_messages (entity, seq);
CREATE TABLE IF NOT EXISTS sb_sessions (
    entity TEXT NOT NULL, session_id TEXT NOT NULL, lock_token TEXT NOT NULL, locked_until REAL NOT NULL,
    PRIMARY KEY (entity, session_id));
CREATE TABLE IF NOT EXISTS hubs (
    name TEXT PRIMARY KEY, partitions INTEGER NOT NULL, next_partition INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS hub_events (
    hub TEXT NOT NULL, partition TEXT NOT NULL, seq INTEGER NOT NULL, offset INTEGER NOT NULL,
    enqueued REAL NOT NULL, body BLOB NOT NULL, partition_key TEXT, properties TEXT NOT NULL,
    PRIMARY KEY (hub, partition, seq));
"""

_OPTIONAL = (
    "content_type",
    "correlation_id",
    "subject",
    "to",
    "reply_to",
    "reply_to_session_id",
    "partition_key",
    "time_to_live",
)
_COLUMNS = (
    "seq, entity, message_id, body, session_id, properties, enqueued, expires, delivery_count, "
    "locked_until, lock_token, dead_letter"
)


@dataclass(frozen=True)
class EntityInfo:
    path: str
    kind: str  # queue, topic, subscription, deadletter
    active: int
    dead_lettered: int


def subscription_path(topic: str, subscription: str) -> str:
    return f"{topic}/Subscriptions/{subscription}"


def _message(row: Any) -> BrokerMessage:
    seq, entity, message_id, body, session_id, properties, enqueued, expires, count, locked, token, dead = row
    extra = json.loads(properties)
    dead_letter = json.loads(dead) if dead else {}
    return BrokerMessage(
        entity=entity,
        sequence_number=seq,
        message_id=message_id,
        body=bytes(body),
        delivery_count=count,
        enqueued_time=utc(enqueued),
        expires_at=utc(expires) if expires else None,
        locked_until=utc(locked),
        lock_token=token or "",
        session_id=session_id,
        application_properties=extra.pop("application_properties", {}),
        dead_letter_reason=dead_letter.get("reason"),
        dead_letter_description=dead_letter.get("description"),
        dead_letter_source=dead_letter.get("source"),
        **{key: extra.get(key) for key in _OPTIONAL},
    )


class EmbeddedBroker(SqliteFile, ServiceBusStore, EventLogStore):
    """The default Service Bus and Event Hubs: ``<folder>/broker.db``."""

    name = "embedded broker"
    namespace = "embedded"

    def __init__(
        self, folder: Path, partitions: int = DEFAULT_PARTITIONS, retention_hours: float = DEFAULT_RETENTION_HOURS
    ) -> None:
        super().__init__(folder, "broker.db", SCHEMA)
        self.partitions = max(1, partitions)
        self.retention = retention_hours * 3600
        self._listeners: list[Callable[[str], None]] = []
        self._kinds: dict[str, str] = {}

    def on_send(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(entity or hub)`` when this process sends (wakes idle receivers)."""
        self._listeners.append(listener)

    def _sent(self, entity: str) -> None:
        for listener in self._listeners:
            listener(entity)

    def receiver(self, entity: str, subscription: str | None, *, sessions: bool, prefetch: int = 0) -> EmbeddedReceiver:
        return EmbeddedReceiver(self, entity, subscription, sessions)

    async def send(self, entity: str, messages: list[OutgoingMessage], *, topic: bool = False) -> None:
        now = time.time()

        def work(c: sqlite3.Connection) -> None:
            kind = self._kinds.get(entity)
            if kind is None:  # an entity keeps the kind it was created with: looked up once
                c.execute(
                    "INSERT OR IGNORE INTO entities (path, kind, created) VALUES (?, ?, ?)",
                    (entity, "topic" if topic else "queue", now),
                )
                kind = self._kinds[entity] = c.execute(
                    "SELECT kind FROM entities WHERE path = ?", (entity,)
                ).fetchone()[0]
            if kind == "topic":
                prefix = f"{entity}/Subscriptions/"
                targets = [
                    row[0]
                    for row in c.execute(
                        "SELECT path FROM entities WHERE kind = 'subscription' AND path >= ? AND path < ?",
                        (prefix, prefix + "\U0010ffff"),
                    )
                ]
            else:
                targets = [entity]
            for message in messages:
                properties = {key: getattr(message, key) for key in _OPTIONAL if getattr(message, key) is not None}
                properties["application_properties"] = message.application_properties
                expires = now + message.time_to_live if message.time_to_live else None
                message_id = message.message_id or uuid.uuid4().hex
                for target in targets:
                    c.execute(
                        "INSERT INTO sb_messages (entity, message_id, body, session_id, properties, enqueued, "
                        "expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (target, message_id, message.body, message.session_id, json.dumps(properties), now, expires),
                    )

        await self._run(work)
        self._sent(entity)

    async def create_entity(self, path: str, kind: str, sessions: bool = False) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO entities (path, kind, sessions, created) VALUES (?, ?, ?, ?)",
                (path, kind, int(sessions), time.time()),
            )
        )

    async def entities(self) -> list[EntityInfo]:
        def work(c: sqlite3.Connection) -> list[EntityInfo]:
            counts = dict(c.execute("SELECT entity, COUNT(*) FROM sb_messages GROUP BY entity").fetchall())
            return [
                EntityInfo(path, kind, counts.get(path, 0), counts.get(path + DEAD_LETTER_SUFFIX, 0))
                for path, kind in c.execute("SELECT path, kind FROM entities ORDER BY path")
            ]

        return await self._run(work)

    async def peek(self, entity: str, count: int) -> list[BrokerMessage]:
        rows = await self._run(
            lambda c: c.execute(
                f"SELECT {_COLUMNS} FROM sb_messages WHERE entity = ? ORDER BY seq LIMIT ?", (entity, count)
            ).fetchall()
        )
        return [_message(row) for row in rows]

    def _hub_partitions(self, c: sqlite3.Connection, hub: str) -> int:
        c.execute(
            "INSERT OR IGNORE INTO hubs (name, partitions, created) VALUES (?, ?, ?)",
            (hub, self.partitions, time.time()),
        )
        return int(c.execute("SELECT partitions FROM hubs WHERE name = ?", (hub,)).fetchone()[0])

    async def partition_ids(self, hub: str) -> list[str]:
        count = await self._run(lambda c: self._hub_partitions(c, hub))
        return [str(index) for index in range(count)]

    async def send_events(self, hub: str, events: list[OutgoingEvent]) -> None:
        now = time.time()

        def work(c: sqlite3.Connection) -> None:
            partitions = self._hub_partitions(c, hub)
            for event in events:
                if event.partition_key is not None:
                    partition = str(zlib.crc32(event.partition_key.encode("utf-8")) % partitions)
                else:
                    index = c.execute("SELECT next_partition FROM hubs WHERE name = ?", (hub,)).fetchone()[0]
                    c.execute("UPDATE hubs SET next_partition = ? WHERE name = ?", ((index + 1) % partitions, hub))
                    partition = str(index)
                last = c.execute(
                    "SELECT seq, offset, length(body) FROM hub_events WHERE hub = ? AND partition = ? "
                    "ORDER BY seq DESC LIMIT 1",
                    (hub, partition),
                ).fetchone()
                seq, offset = (last[0] + 1, last[1] + last[2]) if last else (0, 0)
                c.execute(
                    "INSERT INTO hub_events (hub, partition, seq, offset, enqueued, body, partition_key, "
                    "properties) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (hub, partition, seq, offset, now, event.body, event.partition_key, json.dumps(event.properties)),
                )
            # past the retention, but the newest event of a partition stays (it carries the numbering)
            c.execute(
                "DELETE FROM hub_events WHERE hub = ? AND enqueued < ? AND seq < (SELECT MAX(seq) FROM "
                "hub_events AS newest WHERE newest.hub = hub_events.hub AND "
                "newest.partition = hub_events.partition)",
                (hub, now - self.retention),
            )

        await self._run(work)
        self._sent(hub)

    async def read(self, hub: str, partition: str, after_sequence: int, count: int) -> list[HubEvent]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT partition, seq, offset, enqueued, body, partition_key, properties FROM hub_events "
                "WHERE hub = ? AND partition = ? AND seq > ? ORDER BY seq LIMIT ?",
                (hub, partition, after_sequence, count),
            ).fetchall()
        )
        return [
            HubEvent(row[0], row[1], row[2], utc(row[3]), bytes(row[4]), row[5], json.loads(row[6])) for row in rows
        ]

    async def position_at(self, hub: str, partition: str, start: str, enqueued_after: datetime | None) -> int:
        def work(c: sqlite3.Connection) -> int:
            if start == "fromend":
                row = c.execute(
                    "SELECT MAX(seq) FROM hub_events WHERE hub = ? AND partition = ?", (hub, partition)
                ).fetchone()
            elif start == "fromenqueuedtime" and enqueued_after is not None:
                row = c.execute(
                    "SELECT MAX(seq) FROM hub_events WHERE hub = ? AND partition = ? AND enqueued <= ?",
                    (hub, partition, enqueued_after.timestamp()),
                ).fetchone()
            else:
                row = None
            return -1 if row is None or row[0] is None else int(row[0])

        return await self._run(work)

    async def hubs(self) -> list[tuple[str, int, dict[str, int]]]:
        """Each hub with its partition count and the last sequence number per partition."""

        def work(c: sqlite3.Connection) -> list[tuple[str, int, dict[str, int]]]:
            found = []
            for name, partitions in c.execute("SELECT name, partitions FROM hubs ORDER BY name").fetchall():
                last = dict(
                    c.execute(
                        "SELECT partition, MAX(seq) FROM hub_events WHERE hub = ? GROUP BY partition", (name,)
                    ).fetchall()
                )
                found.append((name, partitions, last))
            return found

        return await self._run(work)


class EmbeddedReceiver(ServiceBusReceiver):
    """Peek-lock on one entity of the embedded broker."""

    def __init__(self, broker: EmbeddedBroker, entity: str, subscription: str | None, sessions: bool) -> None:
        self.broker = broker
        self.topic = entity if subscription else None
        self.path = subscription_path(entity, subscription) if subscription else entity
        self.sessions = sessions
        self.dead_letters = self.path.endswith(DEAD_LETTER_SUFFIX)  # no delivery limit there
        self.label = f"subscription '{self.path}'" if subscription else f"Service Bus queue '{entity}'"
        self.lock_duration = float(os.environ.get("FUNCHOST_SERVICEBUS_LOCK_DURATION") or LOCK_DURATION)

    async def open(self) -> None:
        if self.topic is not None:
            await self.broker.create_entity(self.topic, "topic")
            await self.broker.create_entity(self.path, "subscription", self.sessions)
        else:
            await self.broker.create_entity(self.path, "queue", self.sessions)

    async def receive(self, count: int) -> list[BrokerMessage]:
        return await self.broker._run(lambda c: self._receive(c, count))

    def _receive(self, c: sqlite3.Connection, count: int) -> list[BrokerMessage]:
        now = time.time()
        c.execute(
            "DELETE FROM sb_messages WHERE entity = ? AND expires IS NOT NULL AND expires <= ? AND locked_until <= ?",
            (self.path, now, now),
        )
        if self.sessions:
            c.execute("DELETE FROM sb_sessions WHERE entity = ? AND locked_until <= ?", (self.path, now))
            # the first message of each session nobody holds
            rows = c.execute(
                f"SELECT {_COLUMNS} FROM sb_messages WHERE seq IN (SELECT MIN(seq) FROM sb_messages AS m "
                "WHERE m.entity = ? AND NOT EXISTS (SELECT 1 FROM sb_sessions AS s WHERE s.entity = m.entity "
                "AND s.session_id = COALESCE(m.session_id, '')) GROUP BY COALESCE(m.session_id, '')) "
                "AND locked_until <= ? ORDER BY seq LIMIT ?",
                (self.path, now, count),
            ).fetchall()
        else:
            rows = c.execute(
                f"SELECT {_COLUMNS} FROM sb_messages WHERE entity = ? AND locked_until <= ? ORDER BY seq LIMIT ?",
                (self.path, now, count),
            ).fetchall()
        taken = []
        locked_until = now + self.lock_duration
        for row in rows:
            message = _message(row)
            if message.delivery_count >= MAX_DELIVERY_COUNT and not self.dead_letters:  # its last lock lapsed
                self._dead_letter(
                    c,
                    message,
                    "MaxDeliveryCountExceeded",
                    f"Message could not be consumed after {MAX_DELIVERY_COUNT} delivery attempts.",
                )
                continue
            token = str(uuid.uuid4())
            c.execute(
                "UPDATE sb_messages SET delivery_count = delivery_count + 1, locked_until = ?, lock_token = ? "
                "WHERE seq = ?",
                (locked_until, token, message.sequence_number),
            )
            if self.sessions:
                c.execute(
                    "INSERT OR REPLACE INTO sb_sessions (entity, session_id, lock_token, locked_until) "
                    "VALUES (?, ?, ?, ?)",
                    (self.path, message.session_id or "", token, locked_until),
                )
            taken.append(
                replace(
                    message, delivery_count=message.delivery_count + 1, lock_token=token, locked_until=utc(locked_until)
                )
            )
        return taken

    def _held(self, c: sqlite3.Connection, message: BrokerMessage) -> None:
        row = c.execute(
            "SELECT lock_token, locked_until FROM sb_messages WHERE seq = ?", (message.sequence_number,)
        ).fetchone()
        if row is None or row[0] != message.lock_token or row[1] <= time.time():
            raise LockLostError(f"the lock of message {message.message_id} on {self.label} expired or was taken")

    def _unlock_session(self, c: sqlite3.Connection, message: BrokerMessage) -> None:
        if self.sessions:
            c.execute("DELETE FROM sb_sessions WHERE entity = ? AND lock_token = ?", (self.path, message.lock_token))

    async def renew(self, message: BrokerMessage) -> datetime:
        def work(c: sqlite3.Connection) -> float:
            self._held(c, message)
            locked_until = time.time() + self.lock_duration
            c.execute("UPDATE sb_messages SET locked_until = ? WHERE seq = ?", (locked_until, message.sequence_number))
            c.execute(
                "UPDATE sb_sessions SET locked_until = ? WHERE entity = ? AND lock_token = ?",
                (locked_until, self.path, message.lock_token),
            )
            return locked_until

        return utc(await self.broker._run(work))

    async def complete(self, message: BrokerMessage) -> None:
        def work(c: sqlite3.Connection) -> None:
            deleted = c.execute(
                "DELETE FROM sb_messages WHERE seq = ? AND lock_token = ? AND locked_until > ?",
                (message.sequence_number, message.lock_token, time.time()),
            ).rowcount
            if not deleted:
                raise LockLostError(f"the lock of message {message.message_id} on {self.label} expired or was taken")
            self._unlock_session(c, message)

        await self.broker._run(work)

    async def abandon(self, message: BrokerMessage) -> None:
        def work(c: sqlite3.Connection) -> None:
            self._held(c, message)
            if message.delivery_count >= MAX_DELIVERY_COUNT and not self.dead_letters:
                self._dead_letter(
                    c,
                    message,
                    "MaxDeliveryCountExceeded",
                    f"Message could not be consumed after {MAX_DELIVERY_COUNT} delivery attempts.",
                )
            else:
                c.execute(
                    "UPDATE sb_messages SET locked_until = 0, lock_token = NULL WHERE seq = ?",
                    (message.sequence_number,),
                )
            self._unlock_session(c, message)

        await self.broker._run(work)
        self.broker._sent(self.path)

    async def dead_letter(self, message: BrokerMessage, reason: str, description: str) -> None:
        def work(c: sqlite3.Connection) -> None:
            self._held(c, message)
            self._dead_letter(c, message, reason, description)
            self._unlock_session(c, message)

        await self.broker._run(work)

    def _dead_letter(self, c: sqlite3.Connection, message: BrokerMessage, reason: str, description: str) -> None:
        c.execute(
            "INSERT OR IGNORE INTO entities (path, kind, created) VALUES (?, 'deadletter', ?)",
            (self.path + DEAD_LETTER_SUFFIX, time.time()),
        )
        c.execute(
            "UPDATE sb_messages SET entity = ?, locked_until = 0, lock_token = NULL, dead_letter = ? WHERE seq = ?",
            (
                self.path + DEAD_LETTER_SUFFIX,
                json.dumps({"reason": reason, "description": description, "source": None}),
                message.sequence_number,
            ),
        )
