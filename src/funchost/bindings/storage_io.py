"""Input and output bindings backed by storage: queue output, blob input and output."""

from __future__ import annotations

import json
import logging
from typing import Any

from azure.functions import meta

from funchost.app.model import BindingSpec
from funchost.bindings.expressions import BindingData, ExpressionError, resolve, split_blob_path
from funchost.config import AppSettings
from funchost.storage.auto import StorageResolver

logger = logging.getLogger("funchost.bindings")

Datum = meta.Datum


class BindingFailure(Exception):
    """A binding could not be read or written; the message names the binding."""


def binding_data(invocation: Any) -> BindingData:
    """Values for binding expressions, from the invocation's trigger metadata and payload."""
    cached = getattr(invocation, "_binding_data", None)
    if cached is not None:
        return cached
    values: dict[str, Any] = {}
    for name, datum in invocation.trigger_metadata.items():
        if datum is None:
            continue
        if datum.type == "json" and isinstance(datum.value, str):
            try:
                values[name] = json.loads(datum.value)
            except ValueError:
                values[name] = datum.value
        else:
            values[name] = datum.value
    payload = invocation.trigger_data
    text: Any = None
    if payload is not None and payload.type in ("string", "bytes", "json"):
        text = payload.value
    elif payload is not None and payload.type == "http":
        text = payload.value["body"].value
    data = BindingData.from_json_text(values, text, method_name=invocation.function.name)
    invocation._binding_data = data
    return data


class StorageBindings:
    """Implements the invoker's ``BindingIO`` for queue and blob bindings."""

    def __init__(self, resolver: StorageResolver, settings: AppSettings) -> None:
        self.resolver = resolver
        self.settings = settings

    def _resolve(self, binding: BindingSpec, key: str, invocation: Any) -> str:
        template = binding.setting(key)
        if not template:
            raise BindingFailure(f"the '{binding.name}' binding ({binding.type}) has no '{key}'")
        try:
            return resolve(str(template), binding_data(invocation), self.settings)
        except ExpressionError as error:
            raise BindingFailure(f"the '{binding.name}' binding ({binding.type}): {error}") from None

    async def read_input(self, binding: BindingSpec, invocation: Any) -> Datum:
        kind = binding.type.lower()
        if kind == "blob":
            container, name = split_blob_path(self._resolve(binding, "path", invocation))
            provider = self.resolver.for_connection(binding.setting("connection"))
            found = await provider.get_blob(container, name)
            if found is None:
                return Datum(None, None)  # a missing input blob is None, as in the real host
            data, _ = found
            if binding.data_type == "string":
                return Datum(data.decode("utf-8"), "string")
            return Datum(data, "bytes")
        raise BindingFailure(f"input bindings of type '{binding.type}' are not supported by funchost yet "
                             f"(binding '{binding.name}')")

    async def write_output(self, binding: BindingSpec, value: Datum, invocation: Any) -> None:
        kind = binding.type.lower()
        if kind == "queue":
            queue = self._resolve(binding, "queueName", invocation).lower()
            provider = self.resolver.for_connection(binding.setting("connection"))
            for body in queue_bodies(value):
                await provider.put(queue, body)
        elif kind == "blob":
            container, name = split_blob_path(self._resolve(binding, "path", invocation))
            provider = self.resolver.for_connection(binding.setting("connection"))
            await provider.put_blob(container, name, datum_bytes(value))
        else:
            raise BindingFailure(f"output bindings of type '{binding.type}' are not supported by funchost yet "
                                 f"(binding '{binding.name}')")


def datum_bytes(value: Datum) -> bytes:
    if value.type == "bytes":
        return bytes(value.value)
    if value.type in ("string", "json"):
        return str(value.value).encode("utf-8")
    if value.type in ("int", "double"):
        return str(value.value).encode("utf-8")
    if value.type in ("dict", "list"):
        return json.dumps(value.value).encode("utf-8")
    raise BindingFailure(f"cannot write a value of type {value.type!r} to storage")


def queue_bodies(value: Datum) -> list[bytes]:
    """The messages an output value stands for: a JSON array is one message per item, and a
    ``func.QueueMessage`` (encoded as ``{"id", "body"}``) is its body."""
    parsed: Any = None
    if value.type == "json":
        parsed = json.loads(value.value)
    elif value.type == "string" and str(value.value).lstrip().startswith("["):
        try:  # a string holding a JSON array is one message per element, as in the real host
            parsed = json.loads(value.value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, list):
            parsed = None
    if parsed is not None:
        items = parsed if isinstance(parsed, list) else [parsed]
        bodies = []
        for item in items:
            if isinstance(item, str):
                bodies.append(item.encode("utf-8"))
            elif isinstance(item, dict) and set(item) == {"id", "body"}:
                bodies.append(str(item["body"]).encode("utf-8"))
            else:
                bodies.append(json.dumps(item).encode("utf-8"))
        return bodies
    return [datum_bytes(value)]
