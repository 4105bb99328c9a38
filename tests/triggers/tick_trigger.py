"""A trigger family that exists only for the tests: it fires its functions three times at start.

It is the whole of a trigger module, to show that a family is one module plus one
registration: ``register_trigger(TriggerKind("tickTrigger", "tests.triggers.tick_trigger"))``.
"""

from __future__ import annotations

import asyncio

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import FunctionSpec
from funchost.triggers.base import ListenerContext, ListenerSet

TICKS = 3


class TickListener:
    def __init__(self, spec: FunctionSpec, context: ListenerContext) -> None:
        self.spec = spec
        self.context = context
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        for number in range(1, TICKS + 1):
            await self.context.run(sample_invocation(self.spec, f"tick {number}", "A test tick."))

    async def stop(self, drain_timeout: float | None = None) -> None:
        if self.task is not None:
            await asyncio.wait([self.task], timeout=drain_timeout)


def create_listeners(specs: list[FunctionSpec], context: ListenerContext, listeners: ListenerSet) -> None:
    for spec in specs:
        def make(spec: FunctionSpec = spec) -> TickListener:
            return TickListener(spec, context)

        listeners.add([spec.name], make)


def sample_invocation(spec: FunctionSpec, text: str, reason: str) -> Invocation:
    return Invocation(function=spec, trigger_data=meta.Datum(text, "string"), reason=reason)
