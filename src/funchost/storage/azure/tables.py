"""Azure Table storage (and Azurite's) through ``azure-data-tables``: the table part of the
Azure Storage provider. Entities come back as plain JSON values: ``Timestamp`` and other
dates as ISO text, binary properties as base64, 64-bit integers as numbers."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError

from funchost.storage.roles import StorageError, TableStore


def _plain(value: Any) -> Any:
    value = getattr(value, "value", value)  # an EntityProperty (typed value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if hasattr(value, "hex") and type(value).__name__ == "UUID":
        return str(value)
    return value


def _entity(found: Any) -> dict[str, Any]:
    entity = {key: _plain(value) for key, value in found.items()}
    timestamp = (getattr(found, "metadata", None) or {}).get("timestamp")
    return {
        "PartitionKey": entity.pop("PartitionKey"),
        "RowKey": entity.pop("RowKey"),
        "Timestamp": _plain(timestamp) if timestamp is not None else None,
        **entity,
    }


def _storable(entity: dict[str, Any]) -> dict[str, Any]:
    """What the service stores: no Timestamp or odata fields; nested values as JSON text."""
    return {
        key: json.dumps(value) if isinstance(value, (dict, list)) else value
        for key, value in entity.items()
        if key != "Timestamp" and not key.startswith("odata.") and value is not None
    }


class AzureTables(TableStore):
    """Implements the table role on a ``TableServiceClient`` made when first needed."""

    table_factory: Callable[[], Any] | None = None
    _table_service: Any = None
    setting: str

    def _service(self) -> Any:
        if self._table_service is None:
            if self.table_factory is None:
                raise StorageError(f"the connection '{self.setting}' has no table endpoint")
            self._table_service = self.table_factory()
        return self._table_service

    async def close_tables(self) -> None:
        if self._table_service is not None:
            await self._table_service.close()
            self._table_service = None

    def _failed(self, table: str, error: AzureError) -> StorageError:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        return StorageError(f"table '{table}' of connection '{self.setting}': {text}")

    async def get_entity(self, table: str, partition_key: str, row_key: str) -> dict[str, Any] | None:
        try:
            found = await self._service().get_table_client(table).get_entity(partition_key, row_key)
        except ResourceNotFoundError:
            return None
        except AzureError as error:
            raise self._failed(table, error) from None
        return _entity(found)

    async def query_entities(self, table: str, query_filter: str | None, top: int | None) -> list[dict[str, Any]]:
        if query_filter:  # read here first, so a bad filter is the same clear error on both stores
            from funchost.storage.query.odata import compile_filter

            compile_filter(query_filter)
        client = self._service().get_table_client(table)
        found: list[dict[str, Any]] = []
        try:
            pages = (
                client.query_entities(query_filter, results_per_page=top)
                if query_filter
                else client.list_entities(results_per_page=top)
            )
            async for entity in pages:
                found.append(_entity(entity))
                if top is not None and len(found) >= top:
                    break
        except ResourceNotFoundError:
            return []
        except HttpResponseError as error:
            if getattr(error, "error_code", None) == "InvalidInput" or error.status_code == 400:
                raise StorageError(
                    f"the filter {query_filter!r} of table '{table}' was refused: {str(error).splitlines()[0]}"
                ) from None
            raise self._failed(table, error) from None
        except AzureError as error:
            raise self._failed(table, error) from None
        return found

    async def upsert_entities(self, table: str, entities: list[dict[str, Any]]) -> None:
        from azure.data.tables import UpdateMode

        service = self._service()
        try:
            with contextlib.suppress(ResourceExistsError):
                await service.create_table(table)
            client = service.get_table_client(table)
            for entity in entities:
                await client.upsert_entity(_storable(entity), mode=UpdateMode.REPLACE)
        except AzureError as error:
            raise self._failed(table, error) from None

    async def list_tables(self) -> list[str]:
        try:
            return sorted([table.name async for table in self._service().list_tables()])
        except AzureError as error:
            raise self._failed("*", error) from None
