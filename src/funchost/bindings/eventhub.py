"""The Event Hubs output binding: one event per value, per list item, per JSON array element,
sent together, in order, when the invocation completes."""

from __future__ import annotations

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import BindingSpec
from funchost.bindings.binders import Binders, message_bodies
from funchost.storage.roles import EventHubs, OutgoingEvent


async def write_output(binding: BindingSpec, value: meta.Datum, invocation: Invocation, binders: Binders) -> None:
    hub = binders.resolve(binding, "eventHubName", invocation)
    namespace = binders.resolver.resolve(EventHubs, binding.setting("connection"))
    properties = {"Diagnostic-Id": invocation.span_trace_parent} if invocation.span_trace_parent else {}
    events = [OutgoingEvent(body, properties=dict(properties)) for body in message_bodies(value)]
    await namespace.send_events(hub, events)
