"""The provider suite runs against every storage provider through this fixture."""

from __future__ import annotations

import pytest

from funchost.storage.embedded import EmbeddedStorage


@pytest.fixture(params=["embedded"])
async def provider(request, tmp_path):
    store = EmbeddedStorage(tmp_path / "store")
    await store.open()
    yield store
    await store.close()
