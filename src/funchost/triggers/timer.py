"""Timer trigger: fire on schedule, once per tick across every instance of the app.

Each timer function has a listener lease (``locks/<hostid>/Host.Functions.<name>.Listener``,
``singleton.listenerLockPeriod``: 15 s in development, 60 s otherwise). Only the holder fires;
the others try to take the lease over as it expires. With monitoring on, ``Last``, ``Next`` and
``LastUpdated`` are kept in the store (``timers/<hostid>/Host.Functions.<name>/status``), so a
host that starts after a missed tick runs once at once with ``past_due`` set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from datetime import datetime, timezone
from typing import Any

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import FunctionSpec
from funchost.config import parse_bool, parse_time
from funchost.storage.roles import StorageError, StorageProvider
from funchost.triggers.base import ListenerContext, ListenerSet, dotnet_time
from funchost.triggers.common.lease import Lease
from funchost.triggers.schedule import Schedule, parse_schedule

logger = logging.getLogger("funchost.timer")


def _status_time(text: str | None) -> datetime | None:
    """A time read back from the schedule status; None when missing or unreadable (then the
    schedule starts over, as the real host's monitor does)."""
    if not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None


class TimerListener:
    """Runs one timer function while this instance holds its listener lease."""

    ready = True  # it serves from start() on

    def __init__(
        self,
        spec: FunctionSpec,
        schedule: Schedule,
        store: StorageProvider,
        context: ListenerContext,
        lock_period: float,
    ) -> None:
        self.spec = spec
        self.schedule = schedule
        self.store = store
        self.context = context
        host_id = context.host_id
        self.lock_period = lock_period
        self.run_on_startup = parse_bool(spec.trigger.setting("runOnStartup"), name="runOnStartup")
        self.use_monitor = (
            parse_bool(spec.trigger.setting("useMonitor"), True, name="useMonitor")
            and not schedule.fires_more_than_once_a_minute()
        )
        self.function_id = f"Host.Functions.{spec.name}"
        self.status_key = f"timers/{host_id}/{self.function_id}/status"
        self.lease = Lease(
            store,
            f"locks/{host_id}/{self.function_id}.Listener",
            f"{host_id}:{uuid.uuid4().hex}",
            lock_period,
            f"timer '{spec.name}'",
        )
        self.function_logger = logging.getLogger(f"Function.{spec.name}")
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[Any]] = set()
        self._first_start = True

    def describe(self, count: int = 5) -> str:
        """The start-up lines listing the next occurrences, like the real host's."""
        now = datetime.now(timezone.utc)
        lines = [
            f"The next {count} occurrences of the '{self.spec.name}' schedule "
            f"({self.schedule.kind}: '{self.schedule.expression}') will be:"
        ]
        for moment in self.schedule.occurrences(now, count):
            lines.append(f"{moment.isoformat()} ({moment.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ})")
        return "\n".join(lines)

    async def start(self) -> None:
        logging.getLogger("funchost.console").info("%s", self.describe())
        self._task = asyncio.create_task(
            self.lease.run_while_held(self._fire_while_held, self._stopping), name=f"timer:{self.spec.name}"
        )

    async def stop(self, drain_timeout: float | None = None) -> None:
        self._stopping.set()
        if self._task is not None:
            await asyncio.wait([self._task])  # it releases the lease
        if self._running:
            await asyncio.wait(list(self._running), timeout=drain_timeout)

    async def _fire_while_held(self, lost: asyncio.Event) -> None:
        status = await self._read_status() if self.use_monitor else None
        now = datetime.now(timezone.utc)
        if self._first_start:
            self._first_start = False
            recorded_next = _status_time(status.get("Next")) if status else None
            if recorded_next is not None and now > recorded_next:
                self.function_logger.info("Function '%s' is past due on startup. Executing now.", self.spec.name)
                await self._fire(now, past_due=True, status=status)
                status = await self._read_status()
            elif self.run_on_startup:
                self.function_logger.info(
                    "Function '%s' is configured to run on startup. Executing now.", self.spec.name
                )
                await self._fire(now, past_due=False, status=status)
                status = await self._read_status() if self.use_monitor else None
        last_due: datetime | None = None
        while not self._stopping.is_set() and not lost.is_set():
            now = datetime.now(timezone.utc)
            # timers may wake a little early: never compute the same tick twice
            due = self.schedule.next_after(max(now, last_due) if last_due else now)
            if self.use_monitor:
                await self._write_status(last=_status_time(status.get("Last")) if status else None, next_=due)
            wait = (due - datetime.now(timezone.utc)).total_seconds()
            waiters = [asyncio.ensure_future(self._stopping.wait()), asyncio.ensure_future(lost.wait())]
            done, _ = await asyncio.wait(waiters, timeout=max(0.0, wait), return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            if done:
                return
            early = (due - datetime.now(timezone.utc)).total_seconds()
            if early > 0:
                await asyncio.sleep(early)
            last_due = due
            await self._fire(due, past_due=False, status=status)
            status = await self._read_status() if self.use_monitor else None

    async def _fire(self, scheduled: datetime, *, past_due: bool, status: dict[str, str] | None) -> None:
        last = _status_time(status.get("Last")) if status else None
        next_time = _status_time(status.get("Next")) if status else None
        payload = timer_payload(past_due, last, next_time, _status_time(status.get("LastUpdated")) if status else None)
        invocation = Invocation(
            function=self.spec,
            trigger_data=meta.Datum(payload, "json"),
            reason=f"Timer fired at {datetime.now(timezone.utc).isoformat()}",
        )
        if self.use_monitor:
            after = self.schedule.next_after(max(scheduled, datetime.now(timezone.utc)))
            await self._write_status(last=scheduled, next_=after)
        # a slow run must not delay the next tick: run it beside the schedule loop
        task = asyncio.create_task(self.context.run(invocation))  # with the function's retry policy
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _read_status(self) -> dict[str, str] | None:
        try:
            raw = await self.store.get_state(self.status_key)
        except StorageError:
            return None
        return json.loads(raw) if raw else None

    async def _write_status(self, *, last: datetime | None, next_: datetime) -> None:
        value = {
            "Last": dotnet_time(last) if last else None,
            "Next": dotnet_time(next_),
            "LastUpdated": dotnet_time(datetime.now(timezone.utc)),
        }
        with contextlib.suppress(StorageError):
            await self.store.set_state(self.status_key, json.dumps(value))


def timer_payload(
    past_due: bool, last: datetime | None = None, next_: datetime | None = None, last_updated: datetime | None = None
) -> str:
    """The TimerInfo JSON the real host sends (``Schedule``, ``ScheduleStatus``, ``IsPastDue``)."""
    status = None
    if last is not None or next_ is not None:
        status = {
            "Last": dotnet_time(last) if last else None,
            "Next": dotnet_time(next_) if next_ else None,
            "LastUpdated": dotnet_time(last_updated or datetime.now(timezone.utc)),
        }
    return json.dumps({"Schedule": {"AdjustForDST": True}, "ScheduleStatus": status, "IsPastDue": past_due})


def create_listeners(specs: list[FunctionSpec], context: ListenerContext, listeners: ListenerSet) -> None:
    """A listener per timer function; their leases and status live in the app's own store."""
    period = context.host_config.timespan("singleton.listenerLockPeriod", None)
    lock_period = period.total_seconds() if period else (15.0 if context.development else 60.0)
    for spec in specs:

        def make(spec: FunctionSpec = spec) -> TimerListener:
            schedule = parse_schedule(str(spec.trigger.setting("schedule") or ""), context.settings)
            store = context.resolver.resolve(StorageProvider, None)
            listeners.uses(store)
            return TimerListener(spec, schedule, store, context, lock_period)

        listeners.add([spec.name], make)


def sample_invocation(spec: FunctionSpec, text: str, reason: str) -> Invocation:
    """A tick that is not past due, as the real host sends when a timer function is run by hand."""
    return Invocation(function=spec, trigger_data=meta.Datum(timer_payload(False), "json"), reason=reason)
