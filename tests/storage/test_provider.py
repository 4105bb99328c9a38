"""One suite for every storage provider: queues, blobs, leases, state."""

from __future__ import annotations

import asyncio

import pytest

from funchost.storage.roles import MessageNotFoundError


async def test_queue_put_get_delete(provider):
    await provider.create_queue("orders")
    put = await provider.put("orders", b"first")
    await provider.put("orders", b"second")
    assert await provider.length("orders") == 2
    assert "orders" in await provider.list_queues()
    batch = await provider.get_batch("orders", 32, visibility_timeout=30)
    assert [m.body for m in batch] == [b"first", b"second"]
    assert batch[0].id == put.id and batch[0].dequeue_count == 1 and batch[0].pop_receipt
    assert await provider.get_batch("orders", 32, 30) == []  # invisible while held
    assert await provider.peek("orders", 10) == []
    await provider.delete("orders", batch[0].id, batch[0].pop_receipt)
    with pytest.raises(MessageNotFoundError):
        await provider.delete("orders", batch[0].id, batch[0].pop_receipt)
    assert await provider.length("orders") == 1


async def test_visibility_and_dequeue_count(provider):
    await provider.put("work", b"job")
    (first,) = await provider.get_batch("work", 1, 30)
    receipt = await provider.update_visibility("work", first.id, first.pop_receipt, 0)
    with pytest.raises(MessageNotFoundError):  # the old receipt is no longer valid
        await provider.delete("work", first.id, first.pop_receipt)
    (second,) = await provider.get_batch("work", 1, 30)
    assert second.id == first.id and second.dequeue_count == 2 and second.pop_receipt != receipt
    short = provider.time_unit or 0.3  # Azure counts visibility in whole seconds
    await provider.update_visibility("work", second.id, second.pop_receipt, short)
    assert await provider.get_batch("work", 1, 30) == []
    await asyncio.sleep(short + 0.2)
    (third,) = await provider.get_batch("work", 1, 30)
    assert third.dequeue_count == 3


async def test_visibility_delay_on_put_and_peek(provider):
    short = provider.time_unit or 0.3
    await provider.put("later", b"x", visibility_delay=short)
    assert await provider.peek("later", 5) == []
    await asyncio.sleep(short + 0.2)
    (peeked,) = await provider.peek("later", 5)
    assert peeked.body == b"x" and peeked.dequeue_count == 0


async def test_concurrent_consumers_never_share_a_message(provider):
    for i in range(200):
        await provider.put("shared", str(i).encode())

    async def consume() -> list[bytes]:
        got = []
        while batch := await provider.get_batch("shared", 16, 30):
            for message in batch:
                got.append(message.body)
                await provider.delete("shared", message.id, message.pop_receipt)
        return got

    results = await asyncio.gather(*(consume() for _ in range(4)))
    everything = [body for result in results for body in result]
    assert sorted(everything, key=int) == [str(i).encode() for i in range(200)]


async def test_blobs(provider):
    first = await provider.put_blob("samples", "dir/a.txt", b"one", metadata={"k": "v"})
    assert first.length == 3 and first.etag
    data, properties = await provider.get_blob("samples", "dir/a.txt")
    assert data == b"one" and properties.etag == first.etag and properties.metadata == {"k": "v"}
    second = await provider.put_blob("samples", "dir/a.txt", b"two!")
    assert second.etag != first.etag
    assert (await provider.get_blob("samples", "dir/a.txt"))[0] == b"two!"
    await provider.put_blob("samples", "b.txt", b"b")
    assert [b.name for b in await provider.list_blobs("samples")] == ["b.txt", "dir/a.txt"]
    assert [b.name for b in await provider.list_blobs("samples", "dir/")] == ["dir/a.txt"]
    assert "samples" in await provider.list_containers()
    assert await provider.get_blob("samples", "missing") is None
    assert await provider.delete_blob("samples", "b.txt")
    assert not await provider.delete_blob("samples", "b.txt")


async def test_leases_are_exclusive_and_expire(provider):
    period = provider.min_lease_seconds or 0.3  # Azure blob leases last 15 s at least
    assert await provider.acquire_lease("locks/h/timer", "a", period)
    assert not await provider.acquire_lease("locks/h/timer", "b", period)
    assert await provider.acquire_lease("locks/h/timer", "a", period)  # ours already
    assert await provider.renew_lease("locks/h/timer", "a", period)
    assert not await provider.renew_lease("locks/h/timer", "b", period)
    await asyncio.sleep(period + 0.5)
    assert await provider.acquire_lease("locks/h/timer", "b", period)  # expired: taken over
    assert not await provider.renew_lease("locks/h/timer", "a", period)
    await provider.release_lease("locks/h/timer", "b")
    assert await provider.acquire_lease("locks/h/timer", "a", period)


async def test_state(provider):
    assert await provider.get_state("k") is None
    await provider.set_state("k", "1")
    assert await provider.get_state("k") == "1"
    await provider.set_state("k", "3")
    assert await provider.get_state("k") == "3"
    await provider.delete_state("k")
    assert await provider.get_state("k") is None


async def test_state_keys_are_listed_by_prefix_in_one_call(provider):
    for key in ("scan/a/1", "scan/a/2", "scan/a%_/3", "scan/b/1", "scan/ab"):
        await provider.set_state(key, "x")
    assert await provider.list_state_keys("scan/a/") == {"scan/a/1", "scan/a/2"}
    assert await provider.list_state_keys("scan/a%_/") == {"scan/a%_/3"}
    assert await provider.list_state_keys("nothing/") == set()
