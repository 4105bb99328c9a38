"""What triggers and bindings need from storage: queues, blobs, leases and small state.

Two providers implement these: ``embedded`` (SQLite + files, the default) and ``azure``
(the Azure Storage SDKs; Azurite too). Everything is async so both fit on the host's loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime


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


class QueueStore(ABC):
    @abstractmethod
    async def create_queue(self, queue: str) -> None: ...

    @abstractmethod
    async def list_queues(self) -> list[str]: ...

    @abstractmethod
    async def put(self, queue: str, body: bytes, visibility_delay: float = 0.0,
                  time_to_live: float | None = None) -> QueueMessage:
        """Add a message (creating the queue when needed)."""

    @abstractmethod
    async def get_batch(self, queue: str, count: int, visibility_timeout: float) -> list[QueueMessage]:
        """Take up to ``count`` visible messages, hiding them for ``visibility_timeout`` seconds."""

    @abstractmethod
    async def delete(self, queue: str, message_id: str, pop_receipt: str) -> None: ...

    @abstractmethod
    async def update_visibility(self, queue: str, message_id: str, pop_receipt: str,
                                visibility_timeout: float) -> str:
        """Hide (or show, with 0) a message again; returns the new pop receipt."""

    @abstractmethod
    async def peek(self, queue: str, count: int) -> list[QueueMessage]: ...

    @abstractmethod
    async def length(self, queue: str) -> int: ...


class BlobStore(ABC):
    @abstractmethod
    async def put_blob(self, container: str, name: str, data: bytes, *,
                       content_type: str | None = None, metadata: dict[str, str] | None = None) -> BlobProperties:
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


class LeaseStore(ABC):
    @abstractmethod
    async def acquire_lease(self, name: str, owner: str, duration: float) -> bool:
        """Take the lease if it is free or expired (or already ours); True when we hold it."""

    @abstractmethod
    async def renew_lease(self, name: str, owner: str, duration: float) -> bool:
        """Extend our lease; False when we lost it."""

    @abstractmethod
    async def release_lease(self, name: str, owner: str) -> None: ...


class StateStore(ABC):
    @abstractmethod
    async def get_state(self, key: str) -> str | None: ...

    @abstractmethod
    async def set_state(self, key: str, value: str) -> None: ...

    @abstractmethod
    async def add_state(self, key: str, value: str) -> bool:
        """Set the key only if it is absent; True when this call created it."""

    @abstractmethod
    async def delete_state(self, key: str) -> None: ...

    @abstractmethod
    async def list_state_keys(self, prefix: str) -> set[str]:
        """Every key that starts with ``prefix``, in one call (scans compare against it)."""


class Provider:
    """A connection to one service (a storage account; next a broker, an event hub namespace, a
    document database). It implements the role interfaces it serves."""

    name: str = "provider"

    async def open(self) -> None:
        """Connect and check the connection; raise StorageError with a clear sentence."""

    async def close(self) -> None:
        """Release connections."""


class StorageProvider(Provider, QueueStore, BlobStore, LeaseStore, StateStore):
    """One storage account: queues, blobs, leases and state together."""

    name: str = "storage"
    min_lease_seconds: float = 0.0  # the shortest lease it grants (Azure blob leases: 15 s)
    time_unit: float = 0.0  # the granularity of visibility timeouts (Azure queues: whole seconds)
