"""Build the listeners for an app's non-HTTP functions, one module per trigger type."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from funchost.app.model import AppIndex, FunctionSpec
from funchost.config import AppSettings, HostConfig
from funchost.invoke import Invoker
from funchost.storage.auto import StorageResolver
from funchost.storage.base import StorageProvider

logger = logging.getLogger("funchost.host")


class Listener(Protocol):
    async def start(self) -> None: ...

    async def stop(self, drain_timeout: float | None = None) -> None: ...


@dataclass
class ListenerSet:
    listeners: list[Listener] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # function name -> reason
    providers: list[StorageProvider] = field(default_factory=list)


def build_listeners(
    index: AppIndex, invoker: Invoker, resolver: StorageResolver, settings: AppSettings,
    host_config: HostConfig, host_id: str, development: bool,
) -> ListenerSet:
    """Listeners for every enabled non-HTTP function; trigger modules are imported only when used."""
    result = ListenerSet()
    by_type: dict[str, list[FunctionSpec]] = {}
    for spec in index.functions.values():
        if spec.disabled or spec.is_http:
            continue
        by_type.setdefault(spec.trigger_type.lower(), []).append(spec)

    def add(spec_names: list[str], make: Any) -> None:
        try:
            listener = make()
        except Exception as error:  # a bad setting in one function must not stop the others
            for name in spec_names:
                result.errors[name] = str(error)
            return
        result.listeners.append(listener)

    if "queuetrigger" in by_type:
        from funchost.triggers.queue import QueueOptions, QueueTriggerListener

        options = QueueOptions.from_host_config(host_config, development, settings)
        for spec in by_type.pop("queuetrigger"):
            def make_queue(spec: FunctionSpec = spec) -> Any:
                provider = resolver.for_connection(spec.trigger.setting("connection"))
                _remember(result, provider)
                listener = QueueTriggerListener(spec, provider, invoker, options, settings)
                _wake_on_put(provider, listener.queue, listener.consumer.wake)
                return listener

            add([spec.name], make_queue)
    if "blobtrigger" in by_type:
        from funchost.triggers.blob import BlobTriggerListener
        from funchost.triggers.queue import QueueOptions

        specs = by_type.pop("blobtrigger")
        threshold = host_config.get("extensions.blobs.poisonBlobThreshold", 5)

        def make_blob() -> Any:
            listener = BlobTriggerListener(specs, resolver, invoker, settings, host_id,
                                           QueueOptions.from_host_config(host_config, development, settings),
                                           int(threshold))
            for function in listener.functions.values():
                _remember(result, function.provider)
            _remember(result, listener.host_store)
            _wake_on_put(listener.host_store, listener.work_queue, listener.consumer.wake)
            return listener

        add([s.name for s in specs], make_blob)
    if "timertrigger" in by_type:
        from funchost.invoke.retry import parse_retry_policy
        from funchost.triggers.schedule import parse_schedule
        from funchost.triggers.timer import TimerListener

        period = host_config.timespan("singleton.listenerLockPeriod", None)
        lock_period = period.total_seconds() if period else (15.0 if development else 60.0)
        for spec in by_type.pop("timertrigger"):
            def make_timer(spec: FunctionSpec = spec) -> Any:
                schedule = parse_schedule(str(spec.trigger.setting("schedule") or ""), settings)
                store = resolver.for_connection(None)
                _remember(result, store)
                retry = parse_retry_policy(spec.retry or host_config.get("retry"))
                return TimerListener(spec, schedule, store, invoker, host_id, lock_period, retry)

            add([spec.name], make_timer)
    for specs in by_type.values():  # the index refuses types nothing here listens to; kept as a guard
        for spec in specs:
            result.errors[spec.name] = f"funchost has no listener for the trigger type '{spec.trigger_type}'."
    return result


def _wake_on_put(provider: StorageProvider, queue: str, wake: Any) -> None:
    """The embedded store tells this process's pollers about its own puts at once."""
    on_message = getattr(provider, "on_message", None)
    if on_message is not None:
        on_message(lambda put_queue: wake() if put_queue == queue else None)


def _remember(result: ListenerSet, provider: StorageProvider) -> None:
    if all(existing is not provider for existing in result.providers):
        result.providers.append(provider)
