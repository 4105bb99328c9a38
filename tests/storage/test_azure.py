"""What is particular to the Azure Storage provider: connections, errors, the wire format."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest

from funchost.config import AppSettings
from funchost.storage.auto import StorageResolver
from funchost.storage.azure.storage import EMULATOR_API_VERSION, AzureStorage
from funchost.storage.roles import StorageError, StorageProvider
from tests.azurite import AZURITE_KEY
from tests.conftest import free_port, wipe


def test_development_storage_means_azurite_with_a_pinned_api_version():
    store = AzureStorage.from_setting("AzureWebJobsStorage", "UseDevelopmentStorage=True", AppSettings())
    assert store.emulator
    assert store.queues.url.startswith("http://127.0.0.1:10001/devstoreaccount1")
    assert store.blobs.url.startswith("http://127.0.0.1:10000/devstoreaccount1")
    assert store.queues.api_version == EMULATOR_API_VERSION


def test_identity_based_connection_builds_service_urls():
    settings = AppSettings({"Store__accountName": "myaccount", "Store__credential": "managedidentity"})
    resolver = StorageResolver(__import__("pathlib").Path("."), settings)
    store = resolver.resolve(StorageProvider, "Store")
    assert isinstance(store, AzureStorage) and not store.emulator
    assert store.queues.url.startswith("https://myaccount.queue.")
    incomplete = AppSettings({"Other__queueServiceUri": "https://x.queue.example"})
    with pytest.raises(StorageError, match="identity-based but incomplete"):
        AzureStorage.from_setting("Other", "identity:Other", incomplete)


def test_a_malformed_connection_string_names_the_setting():
    with pytest.raises(StorageError, match="The connection setting 'MyStorage' is not valid"):
        AzureStorage.from_setting("MyStorage", "not a connection string", AppSettings())


async def test_an_unreachable_account_is_one_clear_error():
    port = free_port()
    value = (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
        f"QueueEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    store = AzureStorage.from_setting("AzureWebJobsStorage", value, AppSettings())
    with pytest.raises(StorageError) as raised:
        await store.open()
    await store.close()
    message = str(raised.value)
    assert message.startswith("Cannot reach Azure Storage of connection 'AzureWebJobsStorage'")
    assert "Is Azurite running?" in message


def test_start_with_an_unreachable_account_exits_with_one_line(app_dir, tmp_path):
    app = app_dir(
        {
            "function_app.py": """
        import azure.functions as func
        app = func.FunctionApp()

        @app.queue_trigger(arg_name="msg", queue_name="work", connection="AzureWebJobsStorage")
        def work(msg: func.QueueMessage) -> None:
            pass
    """
        }
    )
    port = free_port()
    value = (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
        f"QueueEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "funchost",
            "start",
            "--script-root",
            str(app),
            "--port",
            str(free_port()),
            "--no-reload",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "AzureWebJobsStorage": value, "NO_COLOR": "1"},
    )
    assert result.returncode == 1
    assert result.stderr.count("Cannot reach Azure Storage of connection 'AzureWebJobsStorage'") == 1
    assert "Traceback" not in result.stdout + result.stderr


async def test_messages_are_base64_on_the_wire_like_the_real_host(azurite):
    store = AzureStorage.from_setting("AzureWebJobsStorage", azurite.connection_string, AppSettings())
    await store.open()
    try:
        await store.put("interop", "héllo".encode())
        raw = store.queues.get_queue_client("interop")
        (on_wire,) = await raw.peek_messages()
        assert on_wire.content == base64.b64encode("héllo".encode()).decode()
        # a message written by an app on Azure (base64 text) is read back as its bytes
        await raw.send_message(base64.b64encode(b'{"id": 7}').decode())
        await raw.send_message("not base64 at all!")  # passed through as it is
        bodies = [m.body for m in await store.get_batch("interop", 32, 30)]
        assert bodies == ["héllo".encode(), b'{"id": 7}', b"not base64 at all!"]
    finally:
        await wipe(store)
