"""A binding family that exists only for the tests: the whole of its modules.

``tickTrigger`` fires each function three times at start; the ``tally`` binding reads and
writes a count kept in memory. Its descriptor is made in ``test_families.py``: a family is
one ``Family`` plus modules like this one, and no file of funchost changes.
"""

from __future__ import annotations

import asyncio

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import BindingSpec, FunctionSpec
from funchost.bindings.binders import Binders
from funchost.triggers.base import ListenerContext, ListenerSet

TICKS = 3
tallies: dict[str, list[str]] = {}  # the tally binding's store: name -> what was written


class TickListener:
    """Fires one function TICKS times, one after the other."""

    ready = True  # it serves from start() on

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


async def read_input(binding: BindingSpec, invocation: Invocation, binders: Binders) -> meta.Datum:
    name = binders.resolve(binding, "tallyName", invocation)
    return meta.Datum(str(len(tallies.get(name, []))), "string")


async def write_output(binding: BindingSpec, value: meta.Datum, invocation: Invocation, binders: Binders) -> None:
    name = binders.resolve(binding, "tallyName", invocation)
    tallies.setdefault(name, []).append(str(value.value))
