"""The role contract suites take the backend as a parameter from here, and only from here.

Each suite asks ``StorageResolver.resolve(role, "Conn")``, as a binding does, under the
settings ``backend_settings`` gives for its backend and role group. The next backend is one
more name in ``BACKENDS`` and one more branch below. A backend that cannot run here (a
real Service Bus, Event Hubs or Cosmos DB without its ``FUNCHOST_TEST_*`` setting) is
reported as skipped, with the reason.
"""

from __future__ import annotations

import os

import pytest

from funchost.config import AppSettings
from funchost.storage.auto import StorageResolver
from funchost.storage.roles import StorageProvider
from tests.conftest import wipe

BACKENDS = ["embedded", "azure"]

CONNECTION = "Conn"  # the connection setting the suites resolve

# role groups, and the FUNCHOST_TEST_* setting that names a real service for each
STORAGE, SERVICE_BUS, EVENT_HUBS, DOCUMENTS = "storage", "servicebus", "eventhubs", "documents"
REAL_SERVICES = {
    SERVICE_BUS: ("FUNCHOST_TEST_SERVICEBUS", "no real Service Bus namespace to check against"),
    EVENT_HUBS: ("FUNCHOST_TEST_EVENTHUBS", "no real Event Hubs namespace to check against"),
    DOCUMENTS: ("FUNCHOST_TEST_COSMOS", "no real Cosmos DB account to check against"),
}


def backend_settings(request: pytest.FixtureRequest, backend: str, group: str) -> dict[str, str]:
    """The app settings under which the connection ``Conn`` names ``backend`` for ``group``."""
    if backend == "embedded":
        return {}
    assert backend == "azure", backend
    if group == STORAGE:
        return {CONNECTION: request.getfixturevalue("azurite").connection_string}
    variable, missing = REAL_SERVICES[group]
    value = os.environ.get(variable)
    if not value:
        pytest.skip(f"{variable} is not set: {missing}")
    settings = {CONNECTION: value}
    if group == EVENT_HUBS:  # the SDK's checkpoints live in the app's storage account
        settings["AzureWebJobsStorage"] = request.getfixturevalue("azurite").connection_string
    return settings


@pytest.fixture(params=BACKENDS)
def role_backend(request):
    return request.param


@pytest.fixture
async def provider(request, role_backend, tmp_path):
    resolver = StorageResolver(tmp_path, AppSettings(backend_settings(request, role_backend, STORAGE)))
    store = resolver.resolve(StorageProvider, CONNECTION)
    await store.open()
    yield store
    if role_backend == "azure":
        await wipe(store)  # Azurite serves the whole session: leave it empty
    else:
        await store.close()
