"""The provider suite runs against every storage provider through this fixture."""

from __future__ import annotations

import pytest

from funchost.storage.embedded.store import EmbeddedStorage
from tests.conftest import Backend, wipe


@pytest.fixture(params=["embedded", "azurite"])
async def provider(request, tmp_path):
    if request.param == "embedded":
        store = EmbeddedStorage(tmp_path / "store")
    else:
        store = Backend("azurite", request.getfixturevalue("azurite").connection_string).store(tmp_path)
    await store.open()
    yield store
    if request.param == "azurite":
        await wipe(store)  # Azurite serves the whole session: leave it empty
    else:
        await store.close()
