"""Which provider a binding's ``connection`` setting selects.

Unset or empty means the embedded store; ``UseDevelopmentStorage=true``, a connection
string or identity-based settings (``<name>__accountName``, ``<name>__queueServiceUri``, ...)
mean Azure Storage. ``FUNCHOST_STORAGE=embedded`` forces the embedded store for every
connection (handy to run an app written for Azurite without it).
"""

from __future__ import annotations

from pathlib import Path

from funchost.config import AppSettings
from funchost.storage.base import StorageError, StorageProvider
from funchost.storage.embedded import EmbeddedStorage

DEFAULT_CONNECTION = "AzureWebJobsStorage"
FORCE_SETTING = "FUNCHOST_STORAGE"
IDENTITY_SUFFIXES = ("__accountName", "__queueServiceUri", "__blobServiceUri", "__tableServiceUri",
                     "__serviceUri")


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
        self._providers: dict[str, StorageProvider] = {}

    @property
    def embedded(self) -> EmbeddedStorage:
        if self._embedded is None:
            self._embedded = EmbeddedStorage(embedded_folder(self.app_root, self.settings))
        return self._embedded

    def describe(self, connection: str | None) -> str:
        """'embedded' or 'azure', without opening anything."""
        return "embedded" if self._connection_value(connection or DEFAULT_CONNECTION) is None else "azure"

    def _connection_value(self, name: str) -> str | None:
        if (self.settings.get(FORCE_SETTING) or "").strip().lower() == "embedded":
            return None
        value = self.settings.get(name) or self.settings.get(f"ConnectionStrings:{name}")
        if value and value.strip():
            return value.strip()
        for suffix in IDENTITY_SUFFIXES:
            if self.settings.get(name + suffix):
                return f"identity:{name}"
        return None

    def for_connection(self, connection: str | None) -> StorageProvider:
        name = connection or DEFAULT_CONNECTION
        value = self._connection_value(name)
        if value is None:
            return self.embedded
        provider = self._providers.get(name)
        if provider is None:
            provider = self._azure(name, value)
            self._providers[name] = provider
        return provider

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

    def providers(self) -> list[StorageProvider]:
        found: list[StorageProvider] = list(self._providers.values())
        if self._embedded is not None:
            found.append(self._embedded)
        return found

    async def close(self) -> None:
        for provider in self.providers():
            await provider.close()
