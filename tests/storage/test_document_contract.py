"""The document store contract: what the Cosmos DB bindings and trigger rely on.

It runs against the embedded store always, and against a real Cosmos DB account when
``FUNCHOST_TEST_COSMOS`` holds a connection string (the suite creates a database of its own
and deletes it). No Cosmos DB emulator can be installed here: without the setting the real
cases are reported as skipped.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from funchost.config import AppSettings
from funchost.storage.auto import StorageResolver
from funchost.storage.lease_container import LeaseContainer
from funchost.storage.roles import DocumentConflictError, DocumentStore, MissingContainerError
from tests.storage.conftest import CONNECTION, DOCUMENTS, backend_settings


@pytest.fixture
async def documents(request, role_backend, tmp_path):
    database = f"contract-{uuid.uuid4().hex[:8]}"
    settings = AppSettings(backend_settings(request, role_backend, DOCUMENTS))
    store: Any = StorageResolver(tmp_path, settings).resolve(DocumentStore, CONNECTION)
    await store.open()
    await store.create_container(database, "items", "/category")
    await store.create_container(database, "leases", "/id")
    yield store, database
    if role_backend != "embedded":
        await store.client.delete_database(database)
    await store.close()


async def drain_feed(store, database: str, positions: dict[str, str | None]) -> list[dict]:
    """Everything the change feed has after ``positions`` (updated in place), range by range."""
    found = []
    for feed_range in await store.feed_ranges(database, "items"):
        while True:
            batch, after = await store.read_feed(database, "items", feed_range, positions.get(feed_range), 10)
            positions[feed_range] = after
            if not batch:
                break
            found.extend(batch)
    return found


async def test_documents_are_stored_read_queried_and_given_system_properties(documents):
    store, database = documents
    await store.upsert_documents(
        database, "items", [{"id": "a", "category": "tools", "price": 5}, {"id": "b", "category": "toys", "price": 50}]
    )
    found = await store.read_document(database, "items", "a", "tools")
    assert (found["id"], found["price"]) == ("a", 5)
    assert found["_rid"] and found["_self"] and found["_etag"] and isinstance(found["_ts"], int)
    assert await store.read_document(database, "items", "a", "toys") is None
    cheap = await store.query_documents(
        database, "items", "SELECT VALUE c.id FROM c WHERE c.price < @most", {"@most": 10}
    )
    assert cheap == ["a"]
    assert await store.container_exists(database, "items") and not await store.container_exists(database, "nope")
    with pytest.raises(MissingContainerError):
        await store.upsert_documents(database, "nope", [{"id": "x"}])


async def test_conditional_writes_follow_the_etag(documents):
    store, database = documents
    created = await store.write_document(database, "leases", {"id": "lease-1", "Owner": "a"}, None)
    with pytest.raises(DocumentConflictError):
        await store.write_document(database, "leases", {"id": "lease-1", "Owner": "b"}, None)  # exists
    replaced = await store.write_document(database, "leases", {"id": "lease-1", "Owner": "b"}, created["_etag"])
    assert replaced["_etag"] != created["_etag"]
    with pytest.raises(DocumentConflictError):
        await store.write_document(database, "leases", {"id": "lease-1", "Owner": "c"}, created["_etag"])  # stale


async def test_the_change_feed_gives_latest_versions_in_order_from_a_position(documents):
    store, database = documents
    positions: dict[str, str | None] = {}
    await store.upsert_documents(database, "items", [{"id": f"d{i}", "category": f"c{i % 3}"} for i in range(12)])
    first = await drain_feed(store, database, positions)
    assert sorted(doc["id"] for doc in first) == sorted(f"d{i}" for i in range(12)) and all("_lsn" in d for d in first)
    await store.upsert_documents(database, "items", [{"id": "d4", "category": "c1", "v": 2}])
    [again] = await drain_feed(store, database, positions)
    assert again["id"] == "d4" and again["v"] == 2 and again["_lsn"] > max(d["_lsn"] for d in first)
    assert await drain_feed(store, database, positions) == []
    now = {r: await store.feed_position(database, "items", r, None) for r in await store.feed_ranges(database, "items")}
    await asyncio.sleep(1.1)  # a real account's "now" is a time
    await store.upsert_documents(database, "items", [{"id": "late", "category": "c2"}])
    assert [doc["id"] for doc in await drain_feed(store, database, now)] == ["late"]


async def test_leases_in_the_lease_container(documents):
    store, database = documents
    leases = LeaseContainer(store, database, "leases")
    assert await leases.acquire_lease("shop.items/ownership/0", "a", 30)
    assert not await leases.acquire_lease("shop.items/ownership/0", "b", 30)
    assert await leases.renew_lease("shop.items/ownership/0", "a", 30)
    await leases.release_lease("shop.items/ownership/0", "a")
    assert await leases.acquire_lease("shop.items/ownership/0", "b", 30)
    await leases.set_state("shop.items/continuation/0", "17")
    assert await leases.get_state("shop.items/continuation/0") == "17"
    assert await leases.list_state_keys("shop.items/continuation/") == {"shop.items/continuation/0"}
    await leases.delete_state("shop.items/continuation/0")
    assert await leases.get_state("shop.items/continuation/0") is None
