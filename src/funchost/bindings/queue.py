"""The queue output binding: one message per value, per list item, per JSON array element."""

from __future__ import annotations

import json
from typing import Any

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import BindingSpec
from funchost.bindings.binders import Binders, datum_bytes


async def write_output(binding: BindingSpec, value: meta.Datum, invocation: Invocation, binders: Binders) -> None:
    queue = binders.resolve(binding, "queueName", invocation).lower()
    provider = binders.resolver.for_connection(binding.setting("connection"))
    for body in queue_bodies(value):
        await provider.put(queue, body)


def queue_bodies(value: meta.Datum) -> list[bytes]:
    """The messages an output value stands for: a JSON array (or a string holding one) is one
    message per item, and a ``func.QueueMessage`` (encoded as ``{"id", "body"}``) is its body."""
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
