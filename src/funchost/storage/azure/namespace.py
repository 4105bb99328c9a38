"""A connection to a real Service Bus or Event Hubs namespace or Cosmos DB account: a
connection string, or identity-based settings (``<name>__fullyQualifiedNamespace`` or
``<name>__accountEndpoint``, ``<name>__clientId``) through DefaultAzureCredential, as the real
host reads them."""

from __future__ import annotations

from typing import Any, TypeVar

from funchost.config import AppSettings
from funchost.storage.roles import Provider

N = TypeVar("N", bound="Namespace")


class Namespace(Provider):
    """What the Service Bus, Event Hubs and Cosmos DB providers hold about where they connect."""

    identity_setting = "fullyQualifiedNamespace"  # <name>__<this> names the service for identity connections

    def __init__(
        self, setting: str, connection_string: str | None = None, namespace: str | None = None, credential: Any = None
    ) -> None:
        self.setting = setting
        self.connection_string = connection_string
        self.namespace = namespace
        self.credential = credential

    @property
    def location(self) -> str:
        return f"{self.setting}: {self.name}"

    @classmethod
    def from_setting(cls: type[N], name: str, value: str, settings: AppSettings) -> N:
        """The provider for connection ``name`` (``value`` is ``identity:<name>`` when identity-based)."""
        if not value.startswith("identity:"):
            return cls(name, connection_string=value)
        from azure.identity.aio import DefaultAzureCredential

        client_id = settings.get(f"{name}__clientId")
        credential = (
            DefaultAzureCredential(managed_identity_client_id=client_id) if client_id else DefaultAzureCredential()
        )
        return cls(name, namespace=settings.get(f"{name}__{cls.identity_setting}") or "", credential=credential)
