"""The queue output binding: one message per value, per list item, per JSON array element."""

from __future__ import annotations

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import BindingSpec
from funchost.bindings.binders import Binders, message_bodies
from funchost.storage.roles import QueueStore


async def write_output(binding: BindingSpec, value: meta.Datum, invocation: Invocation, binders: Binders) -> None:
    queue = binders.resolve(binding, "queueName", invocation).lower()
    provider = binders.resolver.resolve(QueueStore, binding.setting("connection"))
    for body in message_bodies(value):
        await provider.put(queue, body)
