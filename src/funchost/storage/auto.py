"""Which backend serves a role for a binding's ``connection`` setting: a table of backends.

Unset or empty means the embedded backend (SQLite + files); ``UseDevelopmentStorage=true``,
a storage connection string or identity-based settings (``<name>__accountName``, ...) mean
Azure Storage; ``Endpoint=sb://...`` or ``<name>__fullyQualifiedNamespace`` a real Service
Bus or Event Hubs namespace; ``AccountEndpoint=...`` or ``<name>__accountEndpoint`` a real
Cosmos DB account. ``FUNCHOST_STORAGE=embedded`` forces the embedded backend for every
connection (run an app written for Azurite or a real namespace without it).

Adding a backend is one subpackage and rows in ``BACKENDS``; callers ask
``resolver.resolve(role, connection)`` and get the role's type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast

from funchost.config import AppSettings
from funchost.storage.azure.connection import BROKER, DOCUMENTS, STORAGE, identity_service_of, service_of
from funchost.storage.roles import (
    BlobStore,
    CoordinationStore,
    DocumentStore,
    EventHubs,
    Provider,
    QueueStore,
    ServiceBusStore,
    StorageError,
    StorageProvider,
    TableStore,
)

DEFAULT_CONNECTION = "AzureWebJobsStorage"
FORCE_SETTING = "FUNCHOST_STORAGE"
EMBEDDED = "embedded"  # the "service" an unset connection names

R = TypeVar("R")


@dataclass(frozen=True)
class Need:
    """What a group of roles needs of a connection: the kind of service, the connection used when a
    binding names none, and what to say when a connection names something else."""

    service: str
    default_connection: str
    wrong_kind: str  # appended to "The connection 'X' names a <service>"
    unrecognised: str | None  # the error for a value of no known shape; None: the backend parses it


STORAGE_NEED = Need(
    STORAGE,
    DEFAULT_CONNECTION,
    ", not a storage account; queue, blob and timer state need a storage account connection.",
    None,
)
BROKER_NEED = Need(
    BROKER,
    "",
    f", not a {BROKER}.",
    "The connection '{name}' is not a Service Bus or Event Hubs connection string "
    "(Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...).",
)
DOCUMENTS_NEED = Need(
    DOCUMENTS,
    "",
    f", not a {DOCUMENTS} (AccountEndpoint=...;AccountKey=...).",
    "The connection '{name}' names a service funchost does not know, not a "
    + DOCUMENTS
    + " (AccountEndpoint=...;AccountKey=...).",
)

NEEDS: dict[type, Need] = {
    StorageProvider: STORAGE_NEED, QueueStore: STORAGE_NEED, BlobStore: STORAGE_NEED, TableStore: STORAGE_NEED,
    CoordinationStore: STORAGE_NEED,
    # the real host's default for Service Bus bindings
    ServiceBusStore: Need(BROKER, "AzureWebJobsServiceBus", BROKER_NEED.wrong_kind, BROKER_NEED.unrecognised),
    EventHubs: BROKER_NEED,
    DocumentStore: DOCUMENTS_NEED,
}  # fmt: skip

# (resolver, connection name, value: the connection string or "identity:<name>") -> provider
Opener = Callable[["StorageResolver", str, str], Provider]


@dataclass(frozen=True)
class Backend:
    """One row of the table: the connections a backend recognises and the roles it serves."""

    name: str
    service: str  # EMBEDDED, or the kind of service its connections name
    roles: tuple[type, ...]
    open: Opener
    extra: str | None = None  # the pip extra that brings its SDK


STORAGE_ROLES: tuple[type, ...] = (StorageProvider, QueueStore, BlobStore, TableStore, CoordinationStore)


def _embedded_store(resolver: StorageResolver, name: str, value: str) -> Provider:
    from funchost.storage.embedded.store import EmbeddedStorage

    return EmbeddedStorage(resolver.embedded_folder)


def _embedded_broker(resolver: StorageResolver, name: str, value: str) -> Provider:
    from funchost.storage.embedded.broker import DEFAULT_PARTITIONS, DEFAULT_RETENTION_HOURS, EmbeddedBroker

    partitions = resolver.settings.get("FUNCHOST_EVENTHUB_PARTITIONS") or ""
    retention = resolver.settings.get("FUNCHOST_EVENTHUB_RETENTION_HOURS") or ""
    return EmbeddedBroker(
        resolver.embedded_folder,
        int(partitions) if partitions.strip() else DEFAULT_PARTITIONS,
        float(retention) if retention.strip() else DEFAULT_RETENTION_HOURS,
    )


def _embedded_documents(resolver: StorageResolver, name: str, value: str) -> Provider:
    from funchost.storage.embedded.documents import EmbeddedDocuments

    return EmbeddedDocuments(resolver.embedded_folder)


def _azure_storage(resolver: StorageResolver, name: str, value: str) -> Provider:
    from funchost.storage.azure.storage import AzureStorage

    return AzureStorage.from_setting(name, value, resolver.settings, resolver.base64_messages)


def _service_bus(resolver: StorageResolver, name: str, value: str) -> Provider:
    from funchost.storage.azure.servicebus import ServiceBusNamespace

    return ServiceBusNamespace.from_setting(name, value, resolver.settings)


def _event_hubs(resolver: StorageResolver, name: str, value: str) -> Provider:
    from funchost.storage.azure.eventhubs import EventHubsNamespace

    return EventHubsNamespace.from_setting(name, value, resolver.settings)


def _cosmos(resolver: StorageResolver, name: str, value: str) -> Provider:
    from funchost.storage.azure.cosmos import CosmosAccount

    return CosmosAccount.from_setting(name, value, resolver.settings)


BACKENDS: list[Backend] = [
    Backend("embedded store", EMBEDDED, STORAGE_ROLES, _embedded_store),
    Backend("embedded broker", EMBEDDED, (ServiceBusStore, EventHubs), _embedded_broker),
    Backend("embedded documents", EMBEDDED, (DocumentStore,), _embedded_documents),
    Backend("Azure Storage", STORAGE, STORAGE_ROLES, _azure_storage, extra="azure"),
    Backend("Service Bus", BROKER, (ServiceBusStore,), _service_bus, extra="servicebus"),
    Backend("Event Hubs", BROKER, (EventHubs,), _event_hubs, extra="eventhubs"),
    Backend("Cosmos DB", DOCUMENTS, (DocumentStore,), _cosmos, extra="cosmos"),
]


def embedded_folder(app_root: Path, settings: AppSettings) -> Path:
    configured = settings.get("FUNCHOST_STORAGE_PATH")
    return Path(configured) if configured else app_root / ".funchost" / "storage"


class StorageResolver:
    """Resolves (role, connection) to a provider; one provider per backend and connection, made
    on first use and shared."""

    def __init__(self, app_root: Path, settings: AppSettings, message_encoding: str = "base64") -> None:
        self.app_root = app_root
        self.settings = settings
        self.base64_messages = message_encoding.lower() != "none"  # host.json extensions.queues
        self.embedded_folder = embedded_folder(app_root, settings)
        self._providers: dict[tuple[str, str], Provider] = {}  # (backend, connection name) -> provider
        self._chosen: dict[tuple[type, str | None], Provider] = {}  # output bindings ask on every invocation

    def resolve(self, role: type[R], connection: str | None) -> R:
        """The provider serving ``role`` for the connection setting ``connection`` (None or empty:
        the role's default connection); a StorageError names the setting when it cannot."""
        chosen = self._chosen.get((role, connection))
        if chosen is None:
            chosen = self._chosen[(role, connection)] = self._provider(role, connection)
        return cast(R, chosen)

    def _provider(self, role: type, connection: str | None) -> Provider:
        need = NEEDS[role]
        name = connection or need.default_connection
        value, service = self._connection(name, need)
        backend = next((b for b in BACKENDS if b.service == service and role in b.roles), None)
        if backend is None:
            raise StorageError(f"The connection '{name}' names a {service}{need.wrong_kind}")
        key = (backend.name, name if service != EMBEDDED else "")
        if key not in self._providers:
            try:
                self._providers[key] = backend.open(self, name, value)
            except ImportError as error:
                raise StorageError(
                    f"The connection '{name}' points at {backend.name}, but its SDK cannot be loaded ({error}). "
                    f"Install it with: pip install 'funchost[{backend.extra}]'; or set {FORCE_SETTING}=embedded to "
                    "use the embedded store instead."
                ) from None
        return self._providers[key]

    def _connection(self, name: str, need: Need) -> tuple[str, str]:
        """(value, kind of service) of a connection: the connection string or ``identity:<name>``."""
        if (self.settings.get(FORCE_SETTING) or "").strip().lower() == EMBEDDED or not name:
            return "", EMBEDDED
        value = (self.settings.get(name) or self.settings.get(f"ConnectionStrings:{name}") or "").strip()
        if value:
            service = service_of(value)
            if service is None:
                if need.unrecognised is not None:
                    raise StorageError(need.unrecognised.format(name=name))
                service = need.service  # the backend reads it and says what is wrong
            return value, service
        service = identity_service_of(name, self.settings)
        if service is None:
            return "", EMBEDDED
        if service != need.service:
            raise StorageError(f"The connection '{name}' names a {service} (identity-based){need.wrong_kind}")
        return f"identity:{name}", service

    def providers(self) -> list[Provider]:
        return list(self._providers.values())

    async def close(self) -> None:
        for provider in self.providers():
            await provider.close()
