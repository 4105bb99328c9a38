"""Checkpoints and partition ownership of real Event Hubs, on Azurite: blobs in the container
and layout the real host uses, so funchost and a real host can share a consumer group."""

from __future__ import annotations

import pytest

from funchost.config import AppSettings
from funchost.storage.azure import EVENTHUB_CHECKPOINT_CONTAINER
from funchost.storage.azure.eventhubs import checkpoint_store
from funchost.storage.azure.storage import AzureStorage
from funchost.storage.embedded.store import EmbeddedStorage
from funchost.storage.roles import StorageError

NAMESPACE = "contoso.servicebus.windows.net"


def partition(**extra):
    return {
        "fully_qualified_namespace": NAMESPACE,
        "eventhub_name": "Telemetry",
        "consumer_group": "$Default",
        "partition_id": "0",
        **extra,
    }


async def test_checkpoints_and_ownership_are_blobs_in_the_real_hosts_layout(azurite):
    storage = AzureStorage.from_setting("AzureWebJobsStorage", azurite.connection_string, AppSettings())
    await storage.open()
    store = await checkpoint_store(storage)
    try:
        [owned] = await store.claim_ownership([partition(owner_id="funchost-a")])
        assert owned["owner_id"] == "funchost-a" and owned["etag"]
        await store.update_checkpoint(partition(offset="120", sequence_number=7))
        container = storage.blobs.get_container_client(EVENTHUB_CHECKPOINT_CONTAINER)
        blobs = {blob.name: blob.metadata async for blob in container.list_blobs(include=["metadata"])}
        assert set(blobs) == {
            f"{NAMESPACE}/telemetry/$default/checkpoint/0",
            f"{NAMESPACE}/telemetry/$default/ownership/0",
        }
        checkpoint = blobs[f"{NAMESPACE}/telemetry/$default/checkpoint/0"]
        assert (checkpoint["sequencenumber"], checkpoint["offset"]) == ("7", "120")
        assert blobs[f"{NAMESPACE}/telemetry/$default/ownership/0"]["ownerid"] == "funchost-a"
        [listed] = await store.list_checkpoints(NAMESPACE, "Telemetry", "$Default")
        assert listed["sequence_number"] == 7 and listed["partition_id"] == "0"
        [listed_owner] = await store.list_ownership(NAMESPACE, "Telemetry", "$Default")
        assert listed_owner["owner_id"] == "funchost-a"
    finally:
        await store.close()
        await storage.blobs.delete_container(EVENTHUB_CHECKPOINT_CONTAINER)
        await storage.close()


async def test_a_real_hub_with_the_embedded_store_is_a_clear_error(tmp_path):
    with pytest.raises(StorageError, match="AzureWebJobsStorage is the embedded store"):
        await checkpoint_store(EmbeddedStorage(tmp_path))
