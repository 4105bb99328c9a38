"""What every trigger module is given and gives back.

A trigger module (``triggers/queue.py``, ``triggers/timer.py``, ...) exposes
``create_listeners(specs, context, listeners)``; it may also expose
``sample_invocation(spec, text, reason)`` (an invocation from text alone) and
``invocation_by_hand(spec, text, context, reason)`` (one that reads storage, as a blob
trigger run by hand does). ``triggers/registry.py`` says which module serves which type.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from funchost.app.invocation import Invocation, Outcome
from funchost.config import AppSettings, HostConfig
from funchost.invoke.retry import invoke_with_retries, parse_retry_policy
from funchost.storage.auto import StorageResolver
from funchost.storage.base import Provider
from funchost.triggers.registry import applies_retry_policy

logger = logging.getLogger("funchost.host")


class Listener(Protocol):
    async def start(self) -> None: ...

    async def stop(self, drain_timeout: float | None = None) -> None: ...


class InvocationRunner(Protocol):
    async def invoke(self, invocation: Invocation) -> Outcome: ...


@dataclass
class ListenerContext:
    """What a listener needs from its host: the invoker, storage, settings and identity."""

    invoker: InvocationRunner
    resolver: StorageResolver
    settings: AppSettings
    host_config: HostConfig
    host_id: str
    development: bool = True

    async def run(self, invocation: Invocation) -> Outcome:
        """Invoke, with the function's retry policy (``@app.retry`` or host.json ``retry``) for
        the triggers the real host applies one to (see the registry)."""
        spec = invocation.function
        if not applies_retry_policy(spec.trigger.type):
            return await self.invoker.invoke(invocation)
        policy = parse_retry_policy(spec.retry or self.host_config.get("retry"))
        outcome: Outcome = await invoke_with_retries(self.invoker, invocation, policy)
        return outcome


@dataclass
class ListenerSet:
    """The listeners of one host, and the functions whose listener could not be built."""

    listeners: list[Listener] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # function name -> reason
    providers: list[Provider] = field(default_factory=list)  # to open before starting, close after

    def add(self, function_names: list[str], make: Callable[[], Listener]) -> None:
        """Build a listener; a bad setting in one function is its error and stops no other."""
        try:
            listener = make()
        except Exception as error:  # noqa: BLE001 - reported per function, the rest of the app runs
            for name in function_names:
                self.errors[name] = str(error)
            return
        self.listeners.append(listener)

    def uses(self, provider: Provider) -> None:
        if all(existing is not provider for existing in self.providers):
            self.providers.append(provider)


@dataclass
class Collection:
    """A ``collection_string`` / ``collection_bytes`` payload (a batch), shaped as the worker's
    protobuf value is, which the library's batch converters read."""

    string: list[str] = field(default_factory=list)
    bytes: list[bytes] = field(default_factory=list)


def dotnet_time(moment: datetime) -> str:
    """An ISO time as .NET writes it (7 fractional digits, ``+00:00``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0+00:00")
