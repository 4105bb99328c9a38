"""A Cosmos DB lease container as the coordination role: the change feed's leases and
continuation state kept as documents, on whichever document store the lease connection names."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from funchost.storage.roles import CoordinationStore, DocumentConflictError, DocumentStore


class LeaseContainer(CoordinationStore):
    """Leases and state as documents of the lease container (ids cannot hold '/': it becomes '|')."""

    def __init__(self, store: DocumentStore, database: str, container: str) -> None:
        self.store = store
        self.database = database
        self.container = container

    @staticmethod
    def _id(key: str) -> str:
        return key.replace("/", "|")

    async def _read(self, key: str) -> dict[str, Any] | None:
        return await self.store.read_document(self.database, self.container, self._id(key), self._id(key))

    async def _write(self, key: str, fields: dict[str, Any], etag: str | None) -> bool:
        try:
            await self.store.write_document(self.database, self.container, {"id": self._id(key), **fields}, etag)
        except DocumentConflictError:
            return False
        return True

    async def acquire_lease(self, name: str, owner: str, duration: float) -> bool:
        found = await self._read(name)
        now = time.time()
        if found is not None and found.get("Owner") not in (None, owner) and found.get("expires", 0) > now:
            return False
        fields = {"Owner": owner, "expires": now + duration, "timestamp": datetime.now().astimezone().isoformat()}
        return await self._write(name, fields, found["_etag"] if found else None)

    async def renew_lease(self, name: str, owner: str, duration: float) -> bool:
        found = await self._read(name)
        if found is None or found.get("Owner") != owner or found.get("expires", 0) <= time.time():
            return False
        return await self._write(name, {**_fields(found), "expires": time.time() + duration}, found["_etag"])

    async def release_lease(self, name: str, owner: str) -> None:
        found = await self._read(name)
        if found is not None and found.get("Owner") == owner:
            await self._write(name, {**_fields(found), "Owner": None, "expires": 0}, found["_etag"])

    async def get_state(self, key: str) -> str | None:
        found = await self._read(key)
        return None if found is None else found.get("value")

    async def set_state(self, key: str, value: str) -> None:
        for _ in range(5):  # a concurrent write of the same key: read again and retry
            found = await self._read(key)
            if await self._write(key, {"value": value}, found["_etag"] if found else None):
                return
        raise DocumentConflictError(f"the lease document '{key}' keeps changing")

    async def delete_state(self, key: str) -> None:
        await self.store.delete_document(self.database, self.container, self._id(key), self._id(key))

    async def list_state_keys(self, prefix: str) -> set[str]:
        ids = await self.store.query_documents(
            self.database,
            self.container,
            "SELECT VALUE c.id FROM c WHERE STARTSWITH(c.id, @prefix)",
            {"@prefix": self._id(prefix)},
        )
        return {str(found).replace("|", "/") for found in ids}


def _fields(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if not key.startswith("_") and key != "id"}
