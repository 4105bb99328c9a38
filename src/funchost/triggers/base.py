"""What every trigger module is given and gives back: the module contracts as Protocols.

A trigger module (``triggers/queue.py``, ``triggers/timer.py``, ...) is a ``TriggerModule``;
it may also be a ``SampleModule`` (an invocation by hand from text alone), a
``ByHandModule`` (one that reads storage, as a blob trigger run by hand does) or a
``WebhookModule``. ``triggers/families.py`` says which module serves which family.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from funchost.app.invocation import Invocation, Outcome
from funchost.app.model import FunctionSpec
from funchost.config import AppSettings, HostConfig
from funchost.invoke.retry import invoke_with_retries, parse_retry_policy
from funchost.storage.auto import StorageResolver
from funchost.storage.roles import Provider

logger = logging.getLogger("funchost.host")

# a webhook's answer: status, headers, body
WebhookResponse = tuple[int, list[tuple[bytes, bytes]], bytes]


class Listener(Protocol):
    """What the host reads of a listener: start, stop, and whether it is serving yet."""

    @property
    def ready(self) -> bool:
        """False while the listener waits for something it needs (``/admin/host/ready`` says so)."""
        ...

    async def start(self) -> None: ...

    async def stop(self, drain_timeout: float | None = None) -> None: ...


class InvocationRunner(Protocol):
    async def invoke(self, invocation: Invocation) -> Outcome: ...


class TriggerModule(Protocol):
    """A trigger family's listeners, built for every function of the app with its trigger."""

    def create_listeners(self, specs: list[FunctionSpec], context: ListenerContext, listeners: ListenerSet) -> None: ...


class SampleModule(Protocol):
    """Builds the invocation a listener would send for a text given by hand."""

    def sample_invocation(self, spec: FunctionSpec, text: str, reason: str) -> Invocation: ...


class ByHandModule(Protocol):
    """Builds the invocation for a text given by hand, reading storage for it."""

    async def invocation_by_hand(
        self, spec: FunctionSpec, text: str, resolver: StorageResolver, settings: AppSettings, reason: str
    ) -> Invocation: ...


class WebhookModule(Protocol):
    """Answers the family's ``/runtime/webhooks/<name>`` requests."""

    async def handle_webhook(
        self,
        functions: dict[str, FunctionSpec],
        invoker: InvocationRunner,
        method: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> WebhookResponse: ...


class SampledTrigger(TriggerModule, SampleModule, Protocol):
    """A trigger module that also builds invocations by hand from text (most families)."""


class WebhookTrigger(SampledTrigger, WebhookModule, Protocol):
    """A trigger module served over HTTP as well (Event Grid)."""


class ByHandTrigger(TriggerModule, ByHandModule, Protocol):
    """A trigger module whose runs by hand read storage (blob)."""


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
        the triggers the real host applies one to (the family's ``retry_policy``)."""
        from funchost.triggers.families import CATALOG

        spec = invocation.function
        if not CATALOG.applies_retry_policy(spec.trigger.type):
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
    functions: dict[int, list[str]] = field(default_factory=dict)  # id(listener) -> its functions' names

    def add(self, function_names: list[str], make: Callable[[], Listener]) -> None:
        """Build a listener; a bad setting in one function is its error and stops no other."""
        try:
            listener = make()
        except Exception as error:  # noqa: BLE001 - reported per function, the rest of the app runs
            for name in function_names:
                self.errors[name] = str(error)
            return
        self.listeners.append(listener)
        self.functions[id(listener)] = function_names

    def waiting(self) -> list[str]:
        """The functions whose listener waits for what it needs (a container that does not exist)."""
        return [name for listener in self.listeners if not listener.ready for name in self.functions[id(listener)]]

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
