"""Which module serves which trigger type, looked up by binding type and imported when used.

Adding a trigger family is one module in ``triggers/`` and one line here (or a call to
``register_trigger`` from outside, as a test does); an app that does not use a family never
imports it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from funchost.app import binding_types


@dataclass(frozen=True)
class TriggerKind:
    """A trigger type and the module that listens to it (None: the HTTP app serves it)."""

    binding_type: str
    module: str | None
    # the real host applies @app.retry / host.json retry policies to these triggers only;
    # the others retry in their own way (queue dequeue counts, blob receipts, ...)
    retry_policy: bool = False
    # served by the HTTP app at /runtime/webhooks/<webhook>: the module's handle_webhook
    webhook: str | None = None


_TRIGGERS: dict[str, TriggerKind] = {}


def register_trigger(kind: TriggerKind) -> None:
    """Serve a trigger type with ``kind.module``; the type then loads in apps."""
    _TRIGGERS[kind.binding_type.lower()] = kind
    binding_types.register(kind.binding_type)


for _kind in (
    TriggerKind("httpTrigger", None),
    TriggerKind("timerTrigger", "funchost.triggers.timer", retry_policy=True),
    TriggerKind("queueTrigger", "funchost.triggers.queue"),
    TriggerKind("blobTrigger", "funchost.triggers.blob"),
    TriggerKind("serviceBusTrigger", "funchost.triggers.servicebus"),
    TriggerKind("eventHubTrigger", "funchost.triggers.eventhub", retry_policy=True),
    TriggerKind("eventGridTrigger", "funchost.triggers.eventgrid", webhook="eventgrid"),
    TriggerKind("cosmosDBTrigger", "funchost.triggers.cosmosdb", retry_policy=True),
):
    register_trigger(_kind)


def trigger_kind(binding_type: str) -> TriggerKind | None:
    return _TRIGGERS.get(binding_type.lower())


def trigger_module(binding_type: str) -> ModuleType | None:
    """The module listening to this trigger type, imported now; None for HTTP or an unknown type."""
    kind = trigger_kind(binding_type)
    if kind is None or kind.module is None:
        return None
    return importlib.import_module(kind.module)


def webhooks() -> dict[str, TriggerKind]:
    """The trigger kinds the HTTP app serves as webhooks, by the path's extension name."""
    return {kind.webhook: kind for kind in _TRIGGERS.values() if kind.webhook}


def applies_retry_policy(binding_type: str) -> bool:
    kind = trigger_kind(binding_type)
    return kind is not None and kind.retry_policy
