"""The consumer loop with a settle policy of its source's own: here a broker-like source that
completes, abandons and dead-letters, the shape the Service Bus trigger will take."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from funchost.triggers.common.consumer import Consumer, PollOptions
from tests.waiting import eventually


@dataclass
class Brokered:
    body: str
    delivery_count: int = 0


@dataclass
class InMemoryBroker:
    """Peek-lock in a few lines: a message is locked while handled, completed or abandoned after."""

    max_delivery_count: int = 3
    label: str = "test broker 'orders'"
    renew_every: float = 0.05
    ready: list[Brokered] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    dead_lettered: list[tuple[str, str]] = field(default_factory=list)
    renewals: int = 0

    async def open(self) -> None:
        pass

    async def fetch(self, count: int) -> list[Brokered]:
        taken, self.ready = self.ready[:count], self.ready[count:]
        for message in taken:
            message.delivery_count += 1
        return taken

    async def renew(self, message: Brokered) -> bool:
        self.renewals += 1
        return True

    async def settle(self, message: Brokered, succeeded: bool) -> None:
        if succeeded:
            self.completed.append(message.body)
        elif message.delivery_count >= self.max_delivery_count:
            self.dead_lettered.append((message.body, "MaxDeliveryCountExceeded"))
        else:
            self.ready.append(message)  # abandoned: delivered again


async def test_a_source_settles_by_its_own_policy():
    broker = InMemoryBroker(ready=[Brokered("good"), Brokered("bad"), Brokered("slow")])
    seen: list[tuple[str, int]] = []

    async def handle(message: Brokered) -> bool:
        seen.append((message.body, message.delivery_count))
        if message.body == "slow":
            await asyncio.sleep(0.3)  # long enough to be renewed a few times
        return message.body != "bad"

    consumer = Consumer(broker, handle, PollOptions(max_polling_interval=0.05), "a test")
    await consumer.start()
    await eventually(lambda: len(broker.completed) >= 2 and broker.dead_lettered, 10, f"{broker}, {seen}")
    await consumer.stop(1)
    assert sorted(broker.completed) == ["good", "slow"]
    assert broker.dead_lettered == [("bad", "MaxDeliveryCountExceeded")]
    assert [count for body, count in seen if body == "bad"] == [1, 2, 3]
    assert broker.renewals >= 2
