"""The Service Bus output binding: one message per value, per list item, per JSON array element,
sent together, in order, to a queue (``queueName``) or a topic (``topicName``)."""

from __future__ import annotations

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import BindingSpec
from funchost.bindings.binders import Binders, message_bodies
from funchost.storage.roles import OutgoingMessage, ServiceBusStore


async def write_output(binding: BindingSpec, value: meta.Datum, invocation: Invocation, binders: Binders) -> None:
    topic = bool(binding.setting("topicName"))
    entity = binders.resolve(binding, "topicName" if topic else "queueName", invocation)
    store = binders.resolver.resolve(ServiceBusStore, binding.setting("connection"))
    # the invocation's span travels with the messages, so the function they trigger continues the trace
    properties = {"Diagnostic-Id": invocation.span_trace_parent} if invocation.span_trace_parent else {}
    await store.send(
        entity,
        [OutgoingMessage(body, application_properties=dict(properties)) for body in message_bodies(value)],
        topic=topic,
    )
