"""Which provider a binding's ``connection`` setting selects.

Unset or empty means the embedded store (and, for Service Bus and Event Hubs bindings, the
embedded broker); ``UseDevelopmentStorage=true``, a connection string or identity-based
settings (``<name>__accountName``, ``<name>__queueServiceUri``, ...) mean Azure Storage;
``Endpoint=sb://...`` or ``<name>__fullyQualifiedNamespace`` mean a real Service Bus or Event
Hubs namespace. ``FUNCHOST_STORAGE=embedded`` forces the embedded store and broker for every
connection (handy to run an app written for Azurite or a real namespace without it).
"""

from __future__ import annotations

from pathlib import Path

from funchost.config import AppSettings
from funchost.storage.base import DocumentProvider, Provider, StorageError, StorageProvider
from funchost.storage.embedded import EmbeddedStorage
from funchost.storage.embedded_broker import DEFAULT_PARTITIONS, DEFAULT_RETENTION_HOURS, EmbeddedBroker
from funchost.storage.embedded_documents import EmbeddedDocuments
from funchost.storage.namespace import Namespace

DEFAULT_CONNECTION = "AzureWebJobsStorage"
SERVICE_BUS_CONNECTION = "AzureWebJobsServiceBus"  # the real host's default for Service Bus bindings
FORCE_SETTING = "FUNCHOST_STORAGE"
IDENTITY_SUFFIXES = ("__accountName", "__queueServiceUri", "__blobServiceUri", "__tableServiceUri",
                     "__serviceUri")

STORAGE = "storage account"
BROKER = "Service Bus or Event Hubs namespace"
DOCUMENTS = "Cosmos DB account"

# identity-based connections: which suffix names which kind of service
_IDENTITY_SERVICES = (
    *((suffix, STORAGE) for suffix in IDENTITY_SUFFIXES),
    ("__fullyQualifiedNamespace", BROKER),
    ("__accountEndpoint", DOCUMENTS),
)


def service_of(value: str) -> str | None:
    """The kind of service a connection string names, by its shape; None when unrecognised.

    ``AccountName=...``, ``UseDevelopmentStorage=true`` or ``BlobEndpoint=...``: a storage
    account; ``Endpoint=sb://...``: a Service Bus or Event Hubs namespace;
    ``AccountEndpoint=https://...``: a Cosmos DB account.
    """
    keys: dict[str, str] = {}
    for part in value.split(";"):
        key, _, rest = part.partition("=")
        keys[key.strip().lower()] = rest.strip()
    if keys.get("endpoint", "").lower().startswith("sb://"):
        return BROKER
    if "accountendpoint" in keys:
        return DOCUMENTS
    if keys.get("usedevelopmentstorage", "").lower() == "true" or "accountname" in keys or any(
            key.endswith("endpoint") for key in keys):
        return STORAGE
    return None


def identity_service_of(name: str, settings: AppSettings) -> str | None:
    """The kind of service an identity-based connection ``<name>__<suffix>`` names, if it is one."""
    for suffix, service in _IDENTITY_SERVICES:
        if settings.get(name + suffix):  # AppSettings also finds <name>:<suffix>
            return service
    return None


def embedded_folder(app_root: Path, settings: AppSettings) -> Path:
    configured = settings.get("FUNCHOST_STORAGE_PATH")
    return Path(configured) if configured else app_root / ".funchost" / "storage"


class StorageResolver:
    """One provider per distinct connection, created on first use and shared."""

    def __init__(self, app_root: Path, settings: AppSettings, message_encoding: str = "base64") -> None:
        self.app_root = app_root
        self.settings = settings
        self.base64_messages = message_encoding.lower() != "none"  # host.json extensions.queues
        self._embedded: EmbeddedStorage | None = None
        self._broker: EmbeddedBroker | None = None
        self._documents: EmbeddedDocuments | None = None
        self._accounts: dict[str, DocumentProvider] = {}  # real Cosmos DB accounts, by connection name
        self._brokers: dict[tuple[str, str], Provider] = {}  # real namespaces, by (kind, connection name)
        self._providers: dict[str, StorageProvider] = {}  # Azure Storage, by connection name
        self._chosen: dict[str, StorageProvider] = {}

    @property
    def embedded(self) -> EmbeddedStorage:
        if self._embedded is None:
            self._embedded = EmbeddedStorage(embedded_folder(self.app_root, self.settings))
        return self._embedded

    def _connection_value(self, name: str) -> str | None:
        if (self.settings.get(FORCE_SETTING) or "").strip().lower() == "embedded":
            return None
        value = self.settings.get(name) or self.settings.get(f"ConnectionStrings:{name}")
        if value and value.strip():
            service = service_of(value.strip())
            if service not in (STORAGE, None):
                raise StorageError(f"The connection '{name}' names a {service}, not a storage account; "
                                   "queue, blob and timer state need a storage account connection.")
            return value.strip()
        service = identity_service_of(name, self.settings)
        if service == STORAGE:
            return f"identity:{name}"
        if service is not None:
            raise StorageError(f"The connection '{name}' names a {service} (identity-based), not a storage "
                               "account; queue, blob and timer state need a storage account connection.")
        return None

    def for_connection(self, connection: str | None) -> StorageProvider:
        name = connection or DEFAULT_CONNECTION
        chosen = self._chosen.get(name)  # output bindings ask on every invocation: decide once per name
        if chosen is not None:
            return chosen
        value = self._connection_value(name)
        if value is None:
            chosen = self.embedded
        else:
            chosen = self._providers[name] = self._azure(name, value)
        self._chosen[name] = chosen
        return chosen

    def _azure(self, name: str, value: str) -> StorageProvider:
        try:
            from funchost.storage.azure import AzureStorage
        except ImportError as error:
            raise StorageError(
                f"The connection '{name}' points at Azure Storage, but the Azure Storage provider "
                f"cannot be loaded ({error}). Install it with: pip install 'funchost[azure]'; or set "
                f"{FORCE_SETTING}=embedded to use the embedded store instead."
            ) from None
        return AzureStorage.from_setting(name, value, self.settings, self.base64_messages)

    @property
    def embedded_broker(self) -> EmbeddedBroker:
        if self._broker is None:
            partitions = self.settings.get("FUNCHOST_EVENTHUB_PARTITIONS") or ""
            retention = self.settings.get("FUNCHOST_EVENTHUB_RETENTION_HOURS") or ""
            self._broker = EmbeddedBroker(embedded_folder(self.app_root, self.settings),
                                          int(partitions) if partitions.strip() else DEFAULT_PARTITIONS,
                                          float(retention) if retention.strip() else DEFAULT_RETENTION_HOURS)
        return self._broker

    def _broker_value(self, name: str) -> str | None:
        """The connection string of a real namespace, ``identity:<name>``, or None (embedded)."""
        if (self.settings.get(FORCE_SETTING) or "").strip().lower() == "embedded":
            return None
        value = (self.settings.get(name) or self.settings.get(f"ConnectionStrings:{name}") or "").strip()
        service = service_of(value) if value else identity_service_of(name, self.settings)
        if service is None:
            if value:
                raise StorageError(f"The connection '{name}' is not a Service Bus or Event Hubs connection string "
                                   "(Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...).")
            return None
        if service != BROKER:
            raise StorageError(f"The connection '{name}' names a {service}, not a {BROKER}.")
        return value or f"identity:{name}"

    def service_bus(self, connection: str | None) -> Provider:
        """The Service Bus a binding's connection names: the embedded broker or a real namespace."""
        return self._namespace("servicebus", connection or SERVICE_BUS_CONNECTION)

    def event_hubs(self, connection: str | None) -> Provider:
        """The Event Hubs a binding's connection names: the embedded broker or a real namespace."""
        return self._namespace("eventhubs", connection or "")

    def _namespace(self, extra: str, name: str) -> Provider:
        value = self._broker_value(name) if name else None
        if value is None:
            return self.embedded_broker
        key = (extra, name)
        if key not in self._brokers:
            try:
                kind = _namespace_class(extra)
            except ImportError as error:
                service = "Service Bus" if extra == "servicebus" else "Event Hubs"
                raise _missing_extra(name, service, extra, error) from None
            self._brokers[key] = kind.from_setting(name, value, self.settings)
        return self._brokers[key]

    @property
    def embedded_documents(self) -> EmbeddedDocuments:
        if self._documents is None:
            self._documents = EmbeddedDocuments(embedded_folder(self.app_root, self.settings))
        return self._documents

    def documents(self, connection: str | None) -> DocumentProvider:
        """The Cosmos DB a binding's connection names: the embedded one, or a real account."""
        name = connection or ""
        value = (self.settings.get(name) or self.settings.get(f"ConnectionStrings:{name}") or "").strip() if name \
            else ""
        if (self.settings.get(FORCE_SETTING) or "").strip().lower() == "embedded":
            return self.embedded_documents
        service = service_of(value) if value else (identity_service_of(name, self.settings) if name else None)
        if service is None and not value:
            return self.embedded_documents
        if service != DOCUMENTS:
            raise StorageError(f"The connection '{name}' names a {service or 'service funchost does not know'}, "
                               f"not a {DOCUMENTS} (AccountEndpoint=...;AccountKey=...).")
        if name not in self._accounts:
            try:
                from funchost.storage.cosmos import CosmosAccount
            except ImportError as error:
                raise _missing_extra(name, "Cosmos DB", "cosmos", error) from None
            self._accounts[name] = CosmosAccount.from_setting(name, value or f"identity:{name}", self.settings)
        return self._accounts[name]

    def providers(self) -> list[Provider]:
        found: list[Provider] = [*self._providers.values(), *self._brokers.values(), *self._accounts.values()]
        if self._embedded is not None:
            found.append(self._embedded)
        if self._broker is not None:
            found.append(self._broker)
        if self._documents is not None:
            found.append(self._documents)
        return found

    async def close(self) -> None:
        for provider in self.providers():
            await provider.close()


def _namespace_class(extra: str) -> type[Namespace]:
    """The real-namespace provider (its SDK is an extra, imported now)."""
    if extra == "servicebus":
        from funchost.storage.servicebus import ServiceBusNamespace

        return ServiceBusNamespace
    from funchost.storage.eventhubs import EventHubsNamespace

    return EventHubsNamespace


def _missing_extra(name: str, service: str, extra: str, error: ImportError) -> StorageError:
    return StorageError(
        f"The connection '{name}' points at a real {service} account or namespace, but its SDK cannot be loaded "
        f"({error}). Install it with: pip install 'funchost[{extra}]'; or set {FORCE_SETTING}=embedded to "
        "use the embedded broker instead.")
