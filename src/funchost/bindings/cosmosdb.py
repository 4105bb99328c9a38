"""Cosmos DB input and output bindings.

Input: ``id`` and ``partitionKey`` read one document (binding expressions allowed, e.g. a
route parameter); ``sqlQuery`` runs a query whose ``{name}`` tokens become parameters
(``@name``) with the values of the binding data, as the real host does, so a value cannot
change the query. The function gets ``func.DocumentList`` (a missing document: None).
Output: one document or a list, upserted; ``createIfNotExists`` creates the database and
container first, with ``partitionKey`` as its partition key path (default ``/id``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import BindingSpec
from funchost.bindings.binders import Binders, BindingFailure, binding_data, json_objects
from funchost.bindings.expressions import ExpressionError, resolve
from funchost.config import parse_bool
from funchost.config.app_settings import MissingSettingError
from funchost.storage.roles import DocumentStore, StorageError

TOKEN = re.compile(r"\{([^{}]+)\}")


def _setting(binding: BindingSpec, *names: str) -> Any:
    return next((binding.setting(name) for name in names if binding.setting(name) not in (None, "")), None)


def _place(binding: BindingSpec, invocation: Invocation, binders: Binders) -> tuple[str, str]:
    database = _setting(binding, "databaseName")
    container = _setting(binding, "containerName", "collectionName")
    if not database or not container:
        raise BindingFailure(f"the '{binding.name}' binding (cosmosDB) needs databaseName and containerName")
    try:
        data = binding_data(invocation)
        return (resolve(str(database), data, binders.settings), resolve(str(container), data, binders.settings))
    except ExpressionError as error:
        raise BindingFailure(f"the '{binding.name}' binding (cosmosDB): {error}") from None


def query_with_parameters(
    query: str, invocation: Invocation, binders: Binders, binding: BindingSpec
) -> tuple[str, dict[str, Any]]:
    """``{name}`` tokens as ``@name`` parameters, valued from the binding data."""
    parameters: dict[str, Any] = {}
    data = binding_data(invocation)

    def parameter(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        name = "@" + re.sub(r"\W", "_", expression)
        try:
            parameters[name] = resolve("{" + expression + "}", data, binders.settings)
        except ExpressionError as error:
            raise BindingFailure(f"the '{binding.name}' binding (cosmosDB) query: {error}") from None
        return name

    try:
        text = binders.settings.resolve(query)  # %Setting% first
    except MissingSettingError as error:
        raise BindingFailure(
            f"the '{binding.name}' binding (cosmosDB) query: the app setting {error} is not set"
        ) from None
    return TOKEN.sub(parameter, text), parameters


async def read_input(binding: BindingSpec, invocation: Invocation, binders: Binders) -> meta.Datum:
    database, container = _place(binding, invocation, binders)
    store = binders.resolver.resolve(DocumentStore, _setting(binding, "connection", "connectionStringSetting"))
    try:
        if binding.setting("id"):
            document_id = binders.resolve(binding, "id", invocation)
            key = (
                binders.resolve(binding, "partitionKey", invocation) if binding.setting("partitionKey") else document_id
            )
            found = await store.read_document(database, container, document_id, key)
            return meta.Datum(json.dumps(found), "json") if found is not None else meta.Datum(None, None)
        query = str(_setting(binding, "sqlQuery") or "SELECT * FROM c")
        text, parameters = query_with_parameters(query, invocation, binders, binding)
        return meta.Datum(json.dumps(await store.query_documents(database, container, text, parameters)), "json")
    except StorageError as error:
        raise BindingFailure(f"the '{binding.name}' binding (cosmosDB '{database}/{container}'): {error}") from None


async def write_output(binding: BindingSpec, value: meta.Datum, invocation: Invocation, binders: Binders) -> None:
    database, container = _place(binding, invocation, binders)
    store = binders.resolver.resolve(DocumentStore, _setting(binding, "connection", "connectionStringSetting"))
    documents = json_objects(value, binding, "documents")
    try:
        if parse_bool(_setting(binding, "createIfNotExists"), name="createIfNotExists"):
            await store.create_container(database, container, str(_setting(binding, "partitionKey") or "/id"))
        await store.upsert_documents(database, container, documents)
    except StorageError as error:
        raise BindingFailure(f"the '{binding.name}' binding (cosmosDB '{database}/{container}'): {error}") from None
