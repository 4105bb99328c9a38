"""What kind of Azure service a connection setting names, by its shape.

A connection string names a storage account (``AccountName=...``,
``UseDevelopmentStorage=true``, ``BlobEndpoint=...``), a Service Bus or Event Hubs namespace
(``Endpoint=sb://...``) or a Cosmos DB account (``AccountEndpoint=https://...``); an
identity-based connection names one by its suffix (``<name>__accountName``,
``<name>__fullyQualifiedNamespace``, ``<name>__accountEndpoint``, ...).
"""

from __future__ import annotations

from funchost.config import AppSettings

STORAGE = "storage account"
BROKER = "Service Bus or Event Hubs namespace"
DOCUMENTS = "Cosmos DB account"

IDENTITY_SUFFIXES = ("__accountName", "__queueServiceUri", "__blobServiceUri", "__tableServiceUri", "__serviceUri")

# identity-based connections: which suffix names which kind of service
_IDENTITY_SERVICES = (
    *((suffix, STORAGE) for suffix in IDENTITY_SUFFIXES),
    ("__fullyQualifiedNamespace", BROKER),
    ("__accountEndpoint", DOCUMENTS),
)


def service_of(value: str) -> str | None:
    """The kind of service a connection string names, by its shape; None when unrecognised."""
    keys: dict[str, str] = {}
    for part in value.split(";"):
        key, _, rest = part.partition("=")
        keys[key.strip().lower()] = rest.strip()
    if keys.get("endpoint", "").lower().startswith("sb://"):
        return BROKER
    if "accountendpoint" in keys:
        return DOCUMENTS
    if (
        keys.get("usedevelopmentstorage", "").lower() == "true"
        or "accountname" in keys
        or any(key.endswith("endpoint") for key in keys)
    ):
        return STORAGE
    return None


def identity_service_of(name: str, settings: AppSettings) -> str | None:
    """The kind of service an identity-based connection ``<name>__<suffix>`` names, if it is one."""
    for suffix, service in _IDENTITY_SERVICES:
        if settings.get(name + suffix):  # AppSettings also finds <name>:<suffix>
            return service
    return None
