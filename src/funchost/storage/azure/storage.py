"""Azure Storage (and Azurite) behind the storage interfaces, on the async Azure SDKs.

- Queues: messages are base64 on the wire by default, as the real host writes and reads
  them, so funchost and an app on Azure share queues; ``messageEncoding: none`` in host.json
  turns that off. A body that is not valid base64 is passed through as it is.
- Blobs: as they are. Leases, schedule status and blob receipts live in the
  ``azure-webjobs-hosts`` container under the real host's names (``locks/...``,
  ``timers/...``, ``blobreceipts/...``); a lease is a real blob lease (15-60 s, what Azure
  Storage allows), with a lease id derived from the owner so a holder can renew it.
- Connections: a connection string, ``UseDevelopmentStorage=true`` (Azurite's well-known
  endpoints) or identity-based settings (``<name>__accountName``, ``__queueServiceUri``,
  ``__blobServiceUri``, ``__credential``, ``__clientId``) through DefaultAzureCredential.
  On the emulator the API version is pinned to one Azurite accepts.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, TypeVar
from urllib.parse import urlparse

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import BlobLeaseClient, BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from funchost.config import AppSettings
from funchost.storage.azure.tables import AzureTables
from funchost.storage.roles import BlobProperties, MessageNotFoundError, QueueMessage, StorageError, StorageProvider

HOSTS_CONTAINER = "azure-webjobs-hosts"
EMULATOR_API_VERSION = "2025-11-05"  # the newest Azurite 3.35 accepts
MIN_LEASE, MAX_LEASE = 15, 60
OPEN_TIMEOUT = 10

T = TypeVar("T")


def _settings_of(connection_string: str) -> dict[str, str]:
    pairs = [part.split("=", 1) for part in connection_string.strip().rstrip(";").split(";") if part.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError("it is not a storage connection string (expected Name=value pairs separated by ';')")
    return {key.strip().lower(): value.strip() for key, value in pairs}


def _is_emulator(urls: list[str], account: str | None) -> bool:
    hosts = {urlparse(url).hostname for url in urls if url}
    return account == "devstoreaccount1" or bool(hosts & {"127.0.0.1", "localhost", "::1"})


class AzureStorage(AzureTables, StorageProvider):
    name = "azure"
    min_lease_seconds = float(MIN_LEASE)
    time_unit = 1.0  # visibility timeouts are whole seconds

    def __init__(
        self,
        setting: str,
        queues: QueueServiceClient,
        blobs: BlobServiceClient,
        *,
        emulator: bool,
        base64_messages: bool = True,
        credential: Any = None,
        tables: Callable[[], Any] | None = None,
    ) -> None:
        self.setting = setting
        self.table_factory = tables  # azure-data-tables' client, made when a table binding first asks
        self.queues = queues
        self.blobs = blobs
        self.emulator = emulator
        self.base64_messages = base64_messages
        self.credential = credential
        self._known_queues: set[str] = set()
        self._known_containers: set[str] = set()

    @property
    def location(self) -> str:
        return f"{self.setting}: {self.queues.url.rstrip('/')}"

    @classmethod
    def from_setting(cls, name: str, value: str, settings: AppSettings, base64_messages: bool = True) -> AzureStorage:
        """The provider for connection ``name`` whose value is ``value`` (``identity:<name>``
        when the connection is identity-based)."""
        if value.startswith("identity:"):
            return cls._from_identity(name, settings, base64_messages)
        try:
            parsed = _settings_of(value)
        except ValueError as error:
            raise StorageError(f"The connection setting '{name}' is not valid: {error}.") from None
        if parsed.get("usedevelopmentstorage", "").lower() == "true":
            value, emulator = "UseDevelopmentStorage=true", True
        else:
            endpoints = [parsed.get("queueendpoint", ""), parsed.get("blobendpoint", "")]
            emulator = _is_emulator(endpoints, parsed.get("accountname"))
        options = cls._client_options(emulator)
        try:
            queues = QueueServiceClient.from_connection_string(value, **options)
            blobs = BlobServiceClient.from_connection_string(value, **options)
        except ValueError as error:
            raise StorageError(f"The connection setting '{name}' is not valid: {error}.") from None

        def tables() -> Any:
            from azure.data.tables.aio import TableServiceClient

            return TableServiceClient.from_connection_string(value)

        return cls(name, queues, blobs, emulator=emulator, base64_messages=base64_messages, tables=tables)

    @classmethod
    def _from_identity(cls, name: str, settings: AppSettings, base64_messages: bool) -> AzureStorage:
        def get(suffix: str) -> str | None:
            return settings.get(f"{name}__{suffix}") or settings.get(f"{name}:{suffix}")

        account = get("accountName")
        queue_url = get("queueServiceUri") or (f"https://{account}.queue.core.windows.net" if account else None)
        blob_url = get("blobServiceUri") or (f"https://{account}.blob.core.windows.net" if account else None)
        if not queue_url or not blob_url:
            raise StorageError(
                f"The connection '{name}' is identity-based but incomplete: set {name}__accountName, or both "
                f"{name}__queueServiceUri and {name}__blobServiceUri."
            )
        try:
            from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential
        except ImportError:
            raise StorageError(
                f"The connection '{name}' is identity-based, which needs azure-identity: pip install 'funchost[azure]'."
            ) from None
        client_id = get("clientId")
        credential: Any
        if (get("credential") or "").lower() == "managedidentity":
            credential = ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
        else:
            credential = DefaultAzureCredential(managed_identity_client_id=client_id)
        emulator = _is_emulator([queue_url, blob_url], None)
        options = cls._client_options(emulator)
        table_url = get("tableServiceUri") or (f"https://{account}.table.core.windows.net" if account else None)

        def tables() -> Any:
            from azure.data.tables.aio import TableServiceClient

            return TableServiceClient(table_url or "", credential=credential)

        return cls(
            name,
            QueueServiceClient(queue_url, credential=credential, **options),
            BlobServiceClient(blob_url, credential=credential, **options),
            emulator=emulator,
            base64_messages=base64_messages,
            credential=credential,
            tables=tables if table_url else None,
        )

    @staticmethod
    def _client_options(emulator: bool) -> dict[str, Any]:
        options: dict[str, Any] = {"retry_total": 3, "connection_timeout": 5, "read_timeout": 30}
        if emulator:
            from azure.storage.queue._serialize import _SUPPORTED_API_VERSIONS

            if EMULATOR_API_VERSION in _SUPPORTED_API_VERSIONS:
                options["api_version"] = EMULATOR_API_VERSION
        return options

    async def open(self) -> None:
        """One cheap call per service, so a bad connection is one clear error at start."""
        try:
            await asyncio.wait_for(self._probe(), OPEN_TIMEOUT)
        except asyncio.TimeoutError:
            raise StorageError(
                f"Azure Storage of connection '{self.setting}' did not answer within "
                f"{OPEN_TIMEOUT} s ({self.queues.url})."
            ) from None
        except AzureError as error:
            raise self._explain(error) from None

    async def _probe(self) -> None:
        # no retries here: a refused connection at start is an answer, not a hiccup
        async for _ in self.queues.list_queues(results_per_page=1, retry_total=0):
            break
        with contextlib.suppress(ResourceExistsError):
            await self.blobs.get_container_client(HOSTS_CONTAINER).create_container(retry_total=0)
        self._known_containers.add(HOSTS_CONTAINER)

    def _explain(self, error: AzureError) -> StorageError:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        if isinstance(error, ServiceRequestError):
            return StorageError(
                f"Cannot reach Azure Storage of connection '{self.setting}' at {self.queues.url}: {text}. "
                + (
                    "Is Azurite running? Start it, or remove the setting (or set FUNCHOST_STORAGE=embedded) "
                    "to use the embedded store."
                    if self.emulator
                    else "Check the endpoint and the network."
                )
            )
        code = getattr(error, "error_code", None)
        if code == "InvalidHeaderValue" and "API version" in str(error):
            return StorageError(
                f"The storage emulator behind '{self.setting}' rejects the API version this Azure SDK uses. "
                "Upgrade Azurite, or start it with --skipApiVersionCheck."
            )
        if code in ("AuthenticationFailed", "AuthorizationFailure", "AuthorizationPermissionMismatch"):
            return StorageError(f"Azure Storage refused the credentials of connection '{self.setting}': {text}")
        return StorageError(f"Azure Storage of connection '{self.setting}' failed: {text}")

    async def close(self) -> None:
        await self.queues.close()
        await self.blobs.close()
        await self.close_tables()
        if self.credential is not None and hasattr(self.credential, "close"):
            await self.credential.close()

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            return await operation()
        except (ResourceNotFoundError, ResourceExistsError):
            raise
        except AzureError as error:
            if getattr(error, "error_code", None) in ("MessageNotFound", "PopReceiptMismatch"):
                raise MessageNotFoundError(str(error).splitlines()[0]) from None
            raise self._explain(error) from None

    def _encode(self, body: bytes) -> str:
        if self.base64_messages:
            return base64.b64encode(body).decode("ascii")
        return body.decode("utf-8", "replace")

    def _decode(self, content: str | bytes | None) -> bytes:
        raw = content.encode("utf-8") if isinstance(content, str) else (content or b"")
        if self.base64_messages:
            try:
                return base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                return raw
        return raw

    def _message(self, message: Any) -> QueueMessage:
        epoch = datetime.fromtimestamp(0, timezone.utc)
        return QueueMessage(
            id=message.id,
            body=self._decode(message.content),
            dequeue_count=message.dequeue_count or 0,
            insertion_time=message.inserted_on or epoch,
            expiration_time=message.expires_on or epoch,
            next_visible_time=message.next_visible_on or epoch,
            pop_receipt=message.pop_receipt or "",
        )

    async def create_queue(self, queue: str) -> None:
        if queue in self._known_queues:
            return
        with contextlib.suppress(ResourceExistsError):
            await self._call(lambda: self.queues.get_queue_client(queue).create_queue())
        self._known_queues.add(queue)

    async def list_queues(self) -> list[str]:
        async def names() -> list[str]:
            return [q.name async for q in self.queues.list_queues()]

        return await self._call(names)

    async def put(
        self, queue: str, body: bytes, visibility_delay: float = 0.0, time_to_live: float | None = None
    ) -> QueueMessage:
        client = self.queues.get_queue_client(queue)
        content = self._encode(body)

        async def send() -> Any:
            return await client.send_message(
                content,
                visibility_timeout=math.ceil(visibility_delay) or None,
                time_to_live=math.ceil(time_to_live) if time_to_live else None,
            )

        try:
            sent = await self._call(send)
        except ResourceNotFoundError:
            self._known_queues.discard(queue)
            await self.create_queue(queue)
            sent = await self._call(send)
        self._known_queues.add(queue)
        return QueueMessage(
            sent.id, body, 0, sent.inserted_on, sent.expires_on, sent.next_visible_on, sent.pop_receipt or ""
        )

    async def get_batch(self, queue: str, count: int, visibility_timeout: float) -> list[QueueMessage]:
        client = self.queues.get_queue_client(queue)

        async def receive() -> list[Any]:
            pages = client.receive_messages(
                messages_per_page=min(32, max(1, count)), visibility_timeout=max(1, math.ceil(visibility_timeout))
            )
            async for page in pages.by_page():
                return [m async for m in page]
            return []

        try:
            return [self._message(m) for m in await self._call(receive)]
        except ResourceNotFoundError:
            return []

    async def delete(self, queue: str, message_id: str, pop_receipt: str) -> None:
        client = self.queues.get_queue_client(queue)
        try:
            await self._call(lambda: client.delete_message(message_id, pop_receipt))
        except ResourceNotFoundError:
            raise MessageNotFoundError(f"message {message_id} is not in queue '{queue}'") from None

    async def update_visibility(self, queue: str, message_id: str, pop_receipt: str, visibility_timeout: float) -> str:
        client = self.queues.get_queue_client(queue)
        try:
            updated = await self._call(
                lambda: client.update_message(message_id, pop_receipt, visibility_timeout=math.ceil(visibility_timeout))
            )
        except ResourceNotFoundError:
            raise MessageNotFoundError(f"message {message_id} is not in queue '{queue}'") from None
        return str(updated.pop_receipt)

    async def peek(self, queue: str, count: int) -> list[QueueMessage]:
        client = self.queues.get_queue_client(queue)
        try:
            found = await self._call(lambda: client.peek_messages(max_messages=min(32, max(1, count))))
        except ResourceNotFoundError:
            return []
        return [self._message(m) for m in found]

    async def length(self, queue: str) -> int:
        client = self.queues.get_queue_client(queue)
        try:
            properties = await self._call(client.get_queue_properties)
        except ResourceNotFoundError:
            return 0
        return int(properties.approximate_message_count or 0)

    async def _ensure_container(self, container: str) -> None:
        if container in self._known_containers:
            return
        with contextlib.suppress(ResourceExistsError):
            await self._call(lambda: self.blobs.get_container_client(container).create_container())
        self._known_containers.add(container)

    @staticmethod
    def _properties(container: str, properties: Any) -> BlobProperties:
        settings = properties.content_settings
        return BlobProperties(
            container=container,
            name=properties.name,
            etag=str(properties.etag).strip('"'),
            length=int(properties.size or 0),
            last_modified=properties.last_modified,
            content_type=(settings.content_type if settings else None) or "application/octet-stream",
            metadata=dict(properties.metadata or {}),
        )

    async def put_blob(
        self,
        container: str,
        name: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> BlobProperties:
        client = self.blobs.get_blob_client(container, name)

        async def upload() -> Any:
            return await client.upload_blob(
                data,
                overwrite=True,
                metadata=metadata,
                content_settings=ContentSettings(content_type=content_type) if content_type else None,
            )

        try:
            written = await self._call(upload)
        except ResourceNotFoundError:
            self._known_containers.discard(container)
            await self._ensure_container(container)
            written = await self._call(upload)
        self._known_containers.add(container)
        return BlobProperties(
            container,
            name,
            str(written["etag"]).strip('"'),
            len(data),
            written["last_modified"],
            content_type or "application/octet-stream",
            dict(metadata or {}),
        )

    async def get_blob(self, container: str, name: str) -> tuple[bytes, BlobProperties] | None:
        client = self.blobs.get_blob_client(container, name)

        async def download() -> tuple[bytes, Any]:
            stream = await client.download_blob()
            return await stream.readall(), stream.properties

        try:
            data, properties = await self._call(download)
        except ResourceNotFoundError:
            return None
        return data, self._properties(container, properties)

    async def blob_properties(self, container: str, name: str) -> BlobProperties | None:
        client = self.blobs.get_blob_client(container, name)
        try:
            properties = await self._call(client.get_blob_properties)
        except ResourceNotFoundError:
            return None
        return self._properties(container, properties)

    async def list_blobs(self, container: str, prefix: str = "") -> list[BlobProperties]:
        client = self.blobs.get_container_client(container)

        async def listing() -> list[BlobProperties]:
            found: AsyncIterator[Any] = client.list_blobs(name_starts_with=prefix or None, include=["metadata"])
            return [self._properties(container, b) async for b in found]

        try:
            return sorted(await self._call(listing), key=lambda b: b.name)
        except ResourceNotFoundError:
            return []

    async def delete_blob(self, container: str, name: str) -> bool:
        client = self.blobs.get_blob_client(container, name)
        try:
            await self._call(client.delete_blob)
        except ResourceNotFoundError:
            return False
        return True

    async def list_containers(self) -> list[str]:
        async def names() -> list[str]:
            return [c.name async for c in self.blobs.list_containers()]

        return await self._call(names)

    def _lease(self, name: str, owner: str) -> BlobLeaseClient:
        blob = self.blobs.get_blob_client(HOSTS_CONTAINER, name)
        return BlobLeaseClient(blob, lease_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"funchost:{owner}")))

    @staticmethod
    def _lease_seconds(duration: float) -> int:
        return min(MAX_LEASE, max(MIN_LEASE, math.ceil(duration)))

    async def acquire_lease(self, name: str, owner: str, duration: float) -> bool:
        await self._ensure_container(HOSTS_CONTAINER)
        blob = self.blobs.get_blob_client(HOSTS_CONTAINER, name)
        with contextlib.suppress(ResourceExistsError):
            await self._call(lambda: blob.upload_blob(b"", overwrite=False))
        lease = self._lease(name, owner)
        try:
            await self._call(lambda: lease.acquire(lease_duration=self._lease_seconds(duration)))
        except ResourceExistsError:
            return False  # 409 LeaseAlreadyPresent: another owner holds it
        except StorageError:
            return False
        return True

    async def renew_lease(self, name: str, owner: str, duration: float) -> bool:
        # a blob lease keeps the duration it was acquired with; renewing restarts that clock
        lease = self._lease(name, owner)
        try:
            await self._call(lease.renew)
        except (ResourceExistsError, ResourceNotFoundError, StorageError, HttpResponseError):
            return False
        return True

    async def release_lease(self, name: str, owner: str) -> None:
        lease = self._lease(name, owner)
        with contextlib.suppress(ResourceExistsError, ResourceNotFoundError, StorageError, HttpResponseError):
            await self._call(lease.release)

    async def get_state(self, key: str) -> str | None:
        found = await self.get_blob(HOSTS_CONTAINER, key)
        return found[0].decode("utf-8") if found is not None else None

    async def set_state(self, key: str, value: str) -> None:
        await self.put_blob(HOSTS_CONTAINER, key, value.encode("utf-8"), content_type="application/json")

    async def delete_state(self, key: str) -> None:
        await self.delete_blob(HOSTS_CONTAINER, key)

    async def list_state_keys(self, prefix: str) -> set[str]:
        return {blob.name for blob in await self.list_blobs(HOSTS_CONTAINER, prefix)}
