"""Table input and output bindings, on the embedded store or Azure Storage.

Input: ``partitionKey`` and ``rowKey`` give one entity (None when it does not exist);
otherwise the entities matching ``partitionKey`` and/or ``filter`` (OData), at most ``take``,
as a JSON array. With only a partition key the real host returns the whole partition to
out-of-process workers, and so does funchost. Output: one entity or a list, inserted or
replaced; ``PartitionKey`` and ``RowKey`` come from each entity or from the binding.
"""

from __future__ import annotations

import json
from typing import Any

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import BindingSpec
from funchost.bindings.binders import Binders, BindingFailure, json_objects
from funchost.storage.query.odata import FilterError
from funchost.storage.roles import StorageError, TableStore

KEYS = ("PartitionKey", "RowKey")


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _optional(binding: BindingSpec, key: str, invocation: Invocation, binders: Binders) -> str | None:
    return binders.resolve(binding, key, invocation) if binding.setting(key) not in (None, "") else None


async def read_input(binding: BindingSpec, invocation: Invocation, binders: Binders) -> meta.Datum:
    table = binders.resolve(binding, "tableName", invocation)
    partition_key = _optional(binding, "partitionKey", invocation, binders)
    row_key = _optional(binding, "rowKey", invocation, binders)
    query_filter = _optional(binding, "filter", invocation, binders)
    take = binding.setting("take")
    store = binders.resolver.resolve(TableStore, binding.setting("connection"))
    try:
        if partition_key is not None and row_key is not None:
            entity = await store.get_entity(table, partition_key, row_key)
            return meta.Datum(json.dumps(entity), "json") if entity is not None else meta.Datum(None, None)
        parts = [f"PartitionKey eq {_quoted(partition_key)}"] if partition_key is not None else []
        if query_filter:
            parts.append(f"({query_filter})" if parts else query_filter)
        top = int(take) if take not in (None, "") else None
        entities = await store.query_entities(table, " and ".join(parts) or None, top)
    except (FilterError, StorageError, ValueError) as error:
        raise BindingFailure(f"the '{binding.name}' binding (table '{table}'): {error}") from None
    return meta.Datum(json.dumps(entities), "json")


def entities_of(
    value: meta.Datum, binding: BindingSpec, invocation: Invocation, binders: Binders
) -> list[dict[str, Any]]:
    """The entities an output value stands for, each with its PartitionKey and RowKey."""
    defaults = {key: _optional(binding, key[0].lower() + key[1:], invocation, binders) for key in KEYS}
    entities = json_objects(value, binding, "entities")
    for entity in entities:
        for key in KEYS:  # the keys as the entity spells them, else the binding's
            spelled = next((name for name in entity if name.lower() == key.lower()), None)
            value_of_key = entity.pop(spelled) if spelled is not None else defaults[key]
            if value_of_key in (None, ""):
                raise BindingFailure(
                    f"an entity for the '{binding.name}' binding (table) has no {key} (set it in "
                    f"the entity or as the binding's {key[0].lower() + key[1:]})"
                )
            entity[key] = str(value_of_key)
    return entities


async def write_output(binding: BindingSpec, value: meta.Datum, invocation: Invocation, binders: Binders) -> None:
    table = binders.resolve(binding, "tableName", invocation)
    entities = entities_of(value, binding, invocation, binders)
    store = binders.resolver.resolve(TableStore, binding.setting("connection"))
    try:
        await store.upsert_entities(table, entities)
    except StorageError as error:
        raise BindingFailure(f"the '{binding.name}' binding (table '{table}'): {error}") from None
