"""The storage roles: what triggers and bindings need from storage (queues, blobs, tables,
leases and small state), from brokers (Service Bus entities, Event Hubs) and from document
databases (Cosmos DB), as abstract classes a backend implements.

Each backend is a subpackage (``embedded/``, ``azure/``); ``auto.py`` says which backend
serves which role for a connection, and ``StorageResolver.resolve(role, connection)`` gives
the role's type. Optional capabilities, which only some backends have, are methods with a
default here (``on_message``: a backend that sees this process's own writes wakes pollers at
once; the others poll) or Protocols (``BrokerInspection``). Everything is async so every
backend fits on the host's loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import asyncio


class StorageError(Exception):
    """A storage operation failed in a way a user should read."""


class MessageNotFoundError(StorageError):
    """The message is gone or its pop receipt no longer matches (another consumer took it)."""


@dataclass(frozen=True)
class QueueMessage:
    """A queue message as a consumer sees it."""

    id: str
    body: bytes
    dequeue_count: int
    insertion_time: datetime
    expiration_time: datetime
    next_visible_time: datetime
    pop_receipt: str


@dataclass(frozen=True)
class BlobProperties:
    container: str
    name: str
    etag: str
    length: int
    last_modified: datetime
    content_type: str = "application/octet-stream"
    metadata: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


class Provider:
    """A connection to one service (a storage account, a broker, a document database). Every
    role is one, so whoever holds a role can open and close it; a backend's class implements
    the roles it serves."""

    name: str = "provider"

    @property
    def location(self) -> str | None:
        """Where it keeps its data, shown at start next to its name (a folder, an account's URL)."""
        return None

    async def open(self) -> None:
        """Connect and check the connection; raise StorageError with a clear sentence."""

    async def close(self) -> None:
        """Release connections."""


class QueueStore(Provider, ABC):
    def on_message(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(queue)`` when this process puts a message (the embedded store); a backend
        that cannot see its writes does nothing, and its consumers find messages by polling."""

    @abstractmethod
    async def create_queue(self, queue: str) -> None: ...

    @abstractmethod
    async def list_queues(self) -> list[str]: ...

    @abstractmethod
    async def put(
        self, queue: str, body: bytes, visibility_delay: float = 0.0, time_to_live: float | None = None
    ) -> QueueMessage:
        """Add a message (creating the queue when needed)."""

    @abstractmethod
    async def get_batch(self, queue: str, count: int, visibility_timeout: float) -> list[QueueMessage]:
        """Take up to ``count`` visible messages, hiding them for ``visibility_timeout`` seconds."""

    @abstractmethod
    async def delete(self, queue: str, message_id: str, pop_receipt: str) -> None: ...

    @abstractmethod
    async def update_visibility(self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float) -> str:
        """Hide (or show, with 0) a message again; returns the new pop receipt."""

    @abstractmethod
    async def peek(self, queue: str, count: int) -> list[QueueMessage]: ...

    @abstractmethod
    async def length(self, queue: str) -> int: ...


class BlobStore(Provider, ABC):
    @abstractmethod
    async def put_blob(
        self,
        container: str,
        name: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> BlobProperties:
        """Write a blob (creating the container when needed); a new ETag each time."""

    @abstractmethod
    async def get_blob(self, container: str, name: str) -> tuple[bytes, BlobProperties] | None: ...

    @abstractmethod
    async def blob_properties(self, container: str, name: str) -> BlobProperties | None: ...

    @abstractmethod
    async def list_blobs(self, container: str, prefix: str = "") -> list[BlobProperties]: ...

    @abstractmethod
    async def delete_blob(self, container: str, name: str) -> bool: ...

    @abstractmethod
    async def list_containers(self) -> list[str]: ...


class TableStore(Provider, ABC):
    """Azure Table storage: entities (dicts with ``PartitionKey`` and ``RowKey``) in tables."""

    @abstractmethod
    async def get_entity(self, table: str, partition_key: str, row_key: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def query_entities(self, table: str, query_filter: str | None, top: int | None) -> list[dict[str, Any]]:
        """Entities matching an OData filter (all when None), at most ``top``, in key order."""

    @abstractmethod
    async def upsert_entities(self, table: str, entities: list[dict[str, Any]]) -> None:
        """Insert or replace each entity (creating the table when needed)."""

    @abstractmethod
    async def list_tables(self) -> list[str]: ...


class LeaseStore(Provider, ABC):
    @abstractmethod
    async def acquire_lease(self, name: str, owner: str, duration: float) -> bool:
        """Take the lease if it is free or expired (or already ours); True when we hold it."""

    @abstractmethod
    async def renew_lease(self, name: str, owner: str, duration: float) -> bool:
        """Extend our lease; False when we lost it."""

    @abstractmethod
    async def release_lease(self, name: str, owner: str) -> None: ...


class StateStore(Provider, ABC):
    @abstractmethod
    async def get_state(self, key: str) -> str | None: ...

    @abstractmethod
    async def set_state(self, key: str, value: str) -> None: ...

    @abstractmethod
    async def delete_state(self, key: str) -> None: ...

    @abstractmethod
    async def list_state_keys(self, prefix: str) -> set[str]:
        """Every key that starts with ``prefix``, in one call (scans compare against it)."""


class CoordinationStore(LeaseStore, StateStore):
    """Leases and small state: how host processes agree (a storage account, or a Cosmos DB
    lease container)."""

    min_lease_seconds: float = 0.0  # the shortest lease it grants (Azure blob leases: 15 s)


class StorageProvider(QueueStore, BlobStore, TableStore, CoordinationStore):
    """One storage account: queues, blobs, tables, leases and state together."""

    name: str = "storage"
    time_unit: float = 0.0  # the granularity of visibility timeouts (Azure queues: whole seconds)


class LockLostError(StorageError):
    """A broker message's lock expired or was taken; it will be delivered again."""


@dataclass(frozen=True)
class OutgoingMessage:
    """A Service Bus message to send; the broker sets ids, times and sequence numbers."""

    body: bytes
    message_id: str | None = None
    content_type: str | None = None
    correlation_id: str | None = None
    session_id: str | None = None
    subject: str | None = None
    to: str | None = None
    reply_to: str | None = None
    reply_to_session_id: str | None = None
    partition_key: str | None = None
    time_to_live: float | None = None  # seconds; None: the entity's default (forever)
    application_properties: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class BrokerMessage:
    """A Service Bus message as a receiver holds it (locked until ``locked_until``)."""

    entity: str  # "orders" or "events/Subscriptions/audit"
    sequence_number: int
    message_id: str
    body: bytes
    delivery_count: int
    enqueued_time: datetime
    expires_at: datetime | None
    locked_until: datetime
    lock_token: str
    content_type: str | None = None
    correlation_id: str | None = None
    session_id: str | None = None
    subject: str | None = None
    to: str | None = None
    reply_to: str | None = None
    reply_to_session_id: str | None = None
    partition_key: str | None = None
    time_to_live: float | None = None
    application_properties: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    dead_letter_reason: str | None = None
    dead_letter_description: str | None = None
    dead_letter_source: str | None = None
    handle: Any = field(default=None, hash=False, compare=False)  # the SDK's own message, if any


class ServiceBusReceiver(ABC):
    """Peek-lock receiver of one queue or subscription (or, with sessions, of its sessions)."""

    label: str
    lock_duration: float  # seconds a received message stays locked without renewal

    async def open(self) -> None:  # noqa: B027 - an optional step, nothing to do by default
        """Create the entity if this broker creates entities on first use."""

    async def close(self) -> None:  # noqa: B027 - an optional step, nothing to do by default
        """Release the connection."""

    @abstractmethod
    async def receive(self, count: int) -> list[BrokerMessage]:
        """Up to ``count`` messages, each locked to us; with sessions, one per session at a time."""

    @abstractmethod
    async def renew(self, message: BrokerMessage) -> datetime:
        """Extend the lock (and its session's); LockLostError when it is gone."""

    @abstractmethod
    async def complete(self, message: BrokerMessage) -> None: ...

    @abstractmethod
    async def abandon(self, message: BrokerMessage) -> None:
        """Unlock for redelivery; past the entity's MaxDeliveryCount the broker dead-letters it."""

    @abstractmethod
    async def dead_letter(self, message: BrokerMessage, reason: str, description: str) -> None: ...


class ServiceBusStore(Provider, ABC):
    """A Service Bus namespace: queues, and topics with subscriptions."""

    def on_send(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(entity)`` when this process sends to it (the embedded broker); the others
        do nothing, and their receivers are told by the service."""

    @abstractmethod
    def receiver(
        self, entity: str, subscription: str | None, *, sessions: bool, prefetch: int = 0
    ) -> ServiceBusReceiver: ...

    @abstractmethod
    async def send(self, entity: str, messages: list[OutgoingMessage], *, topic: bool = False) -> None:
        """Send in order to a queue, or to a topic (a copy for each of its subscriptions)."""


@dataclass(frozen=True)
class OutgoingEvent:
    body: bytes
    partition_key: str | None = None
    properties: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class HubEvent:
    """An event of one partition, as a consumer reads it."""

    partition: str
    sequence_number: int
    offset: int
    enqueued_time: datetime
    body: bytes
    partition_key: str | None = None
    properties: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


class EventHubs(Provider, ABC):
    """An Event Hubs namespace as senders see it; consumers read it as an ``EventLogStore`` (the
    embedded broker: funchost balances partitions and checkpoints) or an ``EventHubClient``
    (a real namespace: the SDK's consumer balances and checkpoints)."""

    # the fully qualified namespace (None when a connection string gives only an endpoint);
    # "embedded" for the embedded broker
    namespace: str | None = None

    def on_send(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(hub)`` when this process sends to it (the embedded broker)."""

    @abstractmethod
    async def send_events(self, hub: str, events: list[OutgoingEvent]) -> None:
        """Append in order (events with one partition key land in one partition)."""


BatchHandler = Callable[[str, list[HubEvent]], Awaitable[None]]


class EventHubClient(EventHubs):
    """A real namespace read through the SDK's consumer, which owns partitions and checkpoints."""

    @abstractmethod
    async def receive(
        self,
        hub: str,
        consumer_group: str,
        storage: StorageProvider,
        handler: BatchHandler,
        *,
        max_batch_size: int,
        prefetch: int,
        checkpoint_every: int,
        starting_position: Any,
        stopping: asyncio.Event,
    ) -> None:
        """Hand each batch of an owned partition to ``handler`` until ``stopping``; checkpoint after
        every ``checkpoint_every`` handled batches."""


class EventLogStore(EventHubs):
    """Event hubs as partitioned append-only logs read from a position (the embedded broker)."""

    @abstractmethod
    async def partition_ids(self, hub: str) -> list[str]:
        """The hub's partitions, creating the hub on first use."""

    @abstractmethod
    async def read(self, hub: str, partition: str, after_sequence: int, count: int) -> list[HubEvent]:
        """Up to ``count`` events with a sequence number above ``after_sequence``."""

    @abstractmethod
    async def position_at(self, hub: str, partition: str, start: str, enqueued_after: datetime | None) -> int:
        """The sequence number to read after, for ``fromStart``, ``fromEnd`` or ``fromEnqueuedTime``."""


@runtime_checkable
class BrokerInspection(Protocol):
    """A broker that can list what it holds (the embedded one; a real namespace has the portal)."""

    async def entities(self) -> list[Any]: ...

    async def hubs(self) -> list[tuple[str, int, dict[str, int]]]: ...


class DocumentConflictError(StorageError):
    """A conditional write lost: the document changed (``_etag``) or already exists."""


class MissingContainerError(StorageError):
    """The database or container does not exist (and nothing asked to create it)."""


class DocumentStore(Provider, ABC):
    """A Cosmos DB account: containers of JSON documents with ``id`` and a partition key, a
    change feed per container, and conditional writes on ``_etag`` (what leases need)."""

    def on_write(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(database, container)`` when this process writes (the embedded store wakes
        its change-feed readers); the others do nothing, and readers poll."""

    @abstractmethod
    async def create_container(self, database: str, container: str, partition_key_path: str = "/id") -> None:
        """Create the database and container when they do not exist."""

    @abstractmethod
    async def container_exists(self, database: str, container: str) -> bool: ...

    @abstractmethod
    async def read_document(
        self, database: str, container: str, document_id: str, partition_key: Any
    ) -> dict[str, Any] | None: ...

    @abstractmethod
    async def query_documents(
        self, database: str, container: str, query: str, parameters: dict[str, Any] | None = None
    ) -> list[Any]: ...

    @abstractmethod
    async def upsert_documents(self, database: str, container: str, documents: list[dict[str, Any]]) -> None:
        """Insert or replace each document; MissingContainerError when the container does not exist."""

    @abstractmethod
    async def write_document(
        self, database: str, container: str, document: dict[str, Any], if_match: str | None
    ) -> dict[str, Any]:
        """Create (``if_match`` None: fails if it exists) or replace only if its ``_etag`` is still
        ``if_match``; DocumentConflictError otherwise. Returns the stored document."""

    @abstractmethod
    async def delete_document(self, database: str, container: str, document_id: str, partition_key: Any) -> None: ...

    @abstractmethod
    async def feed_ranges(self, database: str, container: str) -> list[str]:
        """The change feed's ranges, each read in order by one consumer at a time."""

    @abstractmethod
    async def read_feed(
        self, database: str, container: str, feed_range: str, continuation: str | None, count: int
    ) -> tuple[list[dict[str, Any]], str]:
        """Up to ``count`` changed documents (latest versions, in order) after ``continuation``
        (None: from the beginning), and the continuation after them."""

    @abstractmethod
    async def feed_position(self, database: str, container: str, feed_range: str, since: datetime | None) -> str:
        """A continuation for "now" (``since`` None) or for the changes after ``since``."""
