"""The invoker's binding I/O: each input and output binding goes to its type's binder module."""

from __future__ import annotations

import json
import logging
import weakref
from typing import Any, Protocol

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import BindingSpec
from funchost.bindings.expressions import BindingData, ExpressionError, resolve
from funchost.config import AppSettings
from funchost.storage.auto import StorageResolver

logger = logging.getLogger("funchost.bindings")

Datum = meta.Datum

# binding data is worked out once per invocation, however many bindings use it
_binding_data: weakref.WeakKeyDictionary[Invocation, BindingData] = weakref.WeakKeyDictionary()


class BindingFailure(Exception):
    """A binding could not be read or written; the message names the binding."""


class InputBinder(Protocol):
    """A binder module that reads a family's input bindings."""

    async def read_input(self, binding: BindingSpec, invocation: Invocation, binders: Binders) -> Datum: ...


class OutputBinder(Protocol):
    """A binder module that writes a family's output bindings."""

    async def write_output(
        self, binding: BindingSpec, value: Datum, invocation: Invocation, binders: Binders
    ) -> None: ...


class Binder(InputBinder, OutputBinder, Protocol):
    """A binder module that reads and writes its family's bindings."""


class BinderCatalog(Protocol):
    """Which binder module serves a binding type (``triggers/families.py``'s catalog is one)."""

    def input_binder(self, binding_type: str) -> InputBinder | None: ...

    def output_binder(self, binding_type: str) -> OutputBinder | None: ...

    def sends_json(self, binding_type: str) -> bool: ...


def binding_data(invocation: Invocation) -> BindingData:
    """Values for binding expressions, from the invocation's trigger metadata and payload."""
    cached = _binding_data.get(invocation)
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
    _binding_data[invocation] = data
    return data


class Binders:
    """Implements the invoker's ``BindingIO`` by handing each binding to its family's binder module."""

    def __init__(self, resolver: StorageResolver, settings: AppSettings, catalog: BinderCatalog) -> None:
        self.resolver = resolver
        self.settings = settings
        self.catalog = catalog

    def resolve(self, binding: BindingSpec, key: str, invocation: Invocation) -> str:
        """The binding's ``key`` setting with ``%Setting%`` and ``{expressions}`` resolved."""
        template = binding.setting(key)
        if not template:
            raise BindingFailure(f"the '{binding.name}' binding ({binding.type}) has no '{key}'")
        try:
            return resolve(str(template), binding_data(invocation), self.settings)
        except ExpressionError as error:
            raise BindingFailure(f"the '{binding.name}' binding ({binding.type}): {error}") from None

    async def read_input(self, binding: BindingSpec, invocation: Invocation) -> Datum:
        binder = self.catalog.input_binder(binding.type)
        if binder is None:
            raise BindingFailure(
                f"input bindings of type '{binding.type}' are not supported by funchost yet (binding '{binding.name}')"
            )
        return await binder.read_input(binding, invocation, self)

    async def write_output(self, binding: BindingSpec, value: Datum, invocation: Invocation) -> None:
        binder = self.catalog.output_binder(binding.type)
        if binder is None:
            raise BindingFailure(
                f"output bindings of type '{binding.type}' are not supported by funchost yet (binding '{binding.name}')"
            )
        await binder.write_output(binding, value, invocation, self)

    def takes_json(self, binding_type: str) -> bool:
        return self.catalog.sends_json(binding_type)


def datum_bytes(value: Datum) -> bytes:
    """The bytes an output value stands for (text as UTF-8, dicts and lists as JSON)."""
    if value.type == "bytes":
        return bytes(value.value)
    if value.type in ("string", "json", "int", "double"):
        return str(value.value).encode("utf-8")
    if value.type in ("dict", "list"):
        return json.dumps(value.value).encode("utf-8")
    raise BindingFailure(f"cannot write a value of type {value.type!r} to storage")


def message_bodies(value: meta.Datum) -> list[bytes]:
    """The messages an output value stands for: a JSON array (or a string holding one) is one
    message per item, and a ``func.QueueMessage`` (encoded as ``{"id", "body"}``) is its body.
    Service Bus and Event Hubs outputs split their values the same way."""
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
    if parsed is None:
        return [datum_bytes(value)]
    bodies = []
    for item in parsed if isinstance(parsed, list) else [parsed]:
        if isinstance(item, str):
            bodies.append(item.encode("utf-8"))
        elif isinstance(item, dict) and set(item) == {"id", "body"}:
            bodies.append(str(item["body"]).encode("utf-8"))
        else:
            bodies.append(json.dumps(item).encode("utf-8"))
    return bodies


def json_objects(value: Datum, binding: BindingSpec, what: str) -> list[dict[str, Any]]:
    """The JSON objects an output value stands for (one, a list, or a string holding either);
    ``what`` names them in the error ("entities", "events", "documents")."""
    objects = []
    for body in message_bodies(value):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise BindingFailure(
                f"the '{binding.name}' binding ({binding.type}) takes {what} as JSON objects, not {body[:60]!r}"
            )
        objects.append(parsed)
    return objects
