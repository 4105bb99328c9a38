"""A real Cosmos DB account through ``azure-cosmos`` (the ``cosmos`` extra).

Connections: ``AccountEndpoint=...;AccountKey=...;``, or identity-based settings
(``<name>__accountEndpoint``) through DefaultAzureCredential. Containers must exist unless a
binding asks to create them, as on Azure. The change feed is read per feed range of the
container (``read_feed_ranges``) in "latest version" mode; continuations are the SDK's tokens
and are kept by the trigger in the lease container.

Written against the SDK's documented behaviour: no Cosmos DB emulator can run where funchost
is tested, so the document store contract suite runs against a real account only when
``FUNCHOST_TEST_COSMOS`` holds its connection string.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.cosmos import PartitionKey
from azure.cosmos.aio import CosmosClient
from azure.cosmos.exceptions import (
    CosmosAccessConditionFailedError,
    CosmosHttpResponseError,
    CosmosResourceExistsError,
    CosmosResourceNotFoundError,
)

from funchost.storage.azure.namespace import Namespace
from funchost.storage.roles import DocumentConflictError, DocumentStore, MissingContainerError, StorageError

SYSTEM = ("_rid", "_self", "_etag", "_ts", "_attachments", "_lsn")


def _body(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key not in SYSTEM}


class CosmosAccount(Namespace, DocumentStore):
    name = "Cosmos DB"
    identity_setting = "accountEndpoint"

    def __init__(
        self, setting: str, connection_string: str | None = None, namespace: str | None = None, credential: Any = None
    ) -> None:
        super().__init__(setting, connection_string, namespace, credential)
        self._client: CosmosClient | None = None
        self._ranges: dict[tuple[str, str], list[dict[str, Any]]] = {}

    @property
    def client(self) -> CosmosClient:
        if self._client is None:
            self._client = (
                CosmosClient.from_connection_string(self.connection_string)
                if self.connection_string
                else CosmosClient(self.namespace or "", credential=self.credential)
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _container(self, database: str, container: str) -> Any:
        return self.client.get_database_client(database).get_container_client(container)

    def _failed(self, database: str, container: str, error: CosmosHttpResponseError) -> StorageError:
        if isinstance(error, CosmosResourceNotFoundError):
            return MissingContainerError(f"The container '{container}' does not exist in database '{database}'.")
        return StorageError(
            f"Cosmos DB '{database}/{container}' of connection '{self.setting}': {str(error).splitlines()[0]}"
        )

    async def create_container(self, database: str, container: str, partition_key_path: str = "/id") -> None:
        try:
            created = await self.client.create_database_if_not_exists(database)
            await created.create_container_if_not_exists(container, PartitionKey(path=partition_key_path or "/id"))
        except CosmosHttpResponseError as error:
            raise self._failed(database, container, error) from None

    async def container_exists(self, database: str, container: str) -> bool:
        try:
            await self._container(database, container).read()
        except CosmosResourceNotFoundError:
            return False
        except CosmosHttpResponseError as error:
            raise self._failed(database, container, error) from None
        return True

    async def read_document(
        self, database: str, container: str, document_id: str, partition_key: Any
    ) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self._container(database, container).read_item(document_id, partition_key)
        except CosmosResourceNotFoundError as error:
            if not await self.container_exists(database, container):
                raise self._failed(database, container, error) from None
            return None
        except CosmosHttpResponseError as error:
            raise self._failed(database, container, error) from None
        return found

    async def query_documents(
        self, database: str, container: str, query: str, parameters: dict[str, Any] | None = None
    ) -> list[Any]:
        values = [{"name": name, "value": value} for name, value in (parameters or {}).items()]
        try:
            pages = self._container(database, container).query_items(query, parameters=values or None)
            return [item async for item in pages]
        except CosmosHttpResponseError as error:
            raise self._failed(database, container, error) from None

    async def upsert_documents(self, database: str, container: str, documents: list[dict[str, Any]]) -> None:
        client = self._container(database, container)
        try:
            for document in documents:
                await client.upsert_item(_body(document))
        except CosmosHttpResponseError as error:
            raise self._failed(database, container, error) from None

    async def write_document(
        self, database: str, container: str, document: dict[str, Any], if_match: str | None
    ) -> dict[str, Any]:
        client = self._container(database, container)
        try:
            if if_match is None:
                created: dict[str, Any] = await client.create_item(_body(document))
                return created
            replaced: dict[str, Any] = await client.replace_item(
                document["id"], _body(document), etag=if_match, match_condition=MatchConditions.IfNotModified
            )
            return replaced
        except (CosmosResourceExistsError, CosmosAccessConditionFailedError) as error:
            raise DocumentConflictError(str(error).splitlines()[0]) from None
        except CosmosHttpResponseError as error:
            raise self._failed(database, container, error) from None

    async def delete_document(self, database: str, container: str, document_id: str, partition_key: Any) -> None:
        try:
            await self._container(database, container).delete_item(document_id, partition_key)
        except CosmosResourceNotFoundError:
            pass
        except CosmosHttpResponseError as error:
            raise self._failed(database, container, error) from None

    async def feed_ranges(self, database: str, container: str) -> list[str]:
        try:
            ranges = [item async for item in self._container(database, container).read_feed_ranges()]
        except CosmosHttpResponseError as error:
            raise self._failed(database, container, error) from None
        self._ranges[(database, container)] = ranges
        return [str(index) for index in range(len(ranges))]

    async def read_feed(
        self, database: str, container: str, feed_range: str, continuation: str | None, count: int
    ) -> tuple[list[dict[str, Any]], str]:
        options: dict[str, Any] = {"max_item_count": count}
        if continuation is None or continuation.startswith("time:"):
            ranges = self._ranges.get((database, container)) or []
            if int(feed_range) < len(ranges):
                options["feed_range"] = ranges[int(feed_range)]
            stamp = continuation[len("time:") :] if continuation else ""
            options["start_time"] = datetime.fromisoformat(stamp) if stamp else "Beginning"
        else:
            options["continuation"] = continuation
        try:
            pager = self._container(database, container).query_items_change_feed(**options).by_page()
            try:
                page = await pager.__anext__()
            except StopAsyncIteration:
                return [], continuation or ""
            documents = [item async for item in page]
        except CosmosHttpResponseError as error:
            raise self._failed(database, container, error) from None
        return documents, str(pager.continuation_token or continuation or "")

    async def feed_position(self, database: str, container: str, feed_range: str, since: datetime | None) -> str:
        return "time:" + (since or datetime.now().astimezone()).isoformat()
