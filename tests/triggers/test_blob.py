"""Blob trigger, blob input and output end to end on the embedded store."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

from tests.waiting import wait_until

BLOB_APP = {
    "function_app.py": """
        import logging
        import azure.functions as func

        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.blob_trigger(arg_name="blob", path="uploads/{folder}/{name}.txt", connection="AzureWebJobsStorage")
        def on_upload(blob: func.InputStream) -> None:
            logging.info("saw %s (%d bytes): %s", blob.name, blob.length, blob.read().decode())

        @app.blob_trigger(arg_name="blob", path="broken/{name}", connection="AzureWebJobsStorage")
        def always_fails(blob: func.InputStream) -> None:
            raise RuntimeError("cannot process " + blob.name)

        @app.queue_trigger(arg_name="msg", queue_name="copy", connection="AzureWebJobsStorage")
        @app.blob_input(arg_name="source", path="inbox/{queueTrigger}", connection="AzureWebJobsStorage")
        @app.blob_output(arg_name="target", path="outbox/{queueTrigger}-{DateTime:yyyy}.txt",
                         connection="AzureWebJobsStorage")
        def copy(msg: func.QueueMessage, source: bytes, target: func.Out[bytes]) -> None:
            target.set(b"copied: " + (source if source is not None else b"<missing>"))

        @app.route(route="docs/{id}", methods=["PUT"])
        @app.blob_output(arg_name="doc", path="docs/{id}/{rand-guid}.json", connection="AzureWebJobsStorage")
        def put_doc(req: func.HttpRequest, doc: func.Out[str]) -> str:
            doc.set(req.get_body().decode())
            return "stored"

        @app.route(route="docs-by-body", methods=["POST"])
        @app.blob_input(arg_name="existing", path="inbox/{file}", connection="AzureWebJobsStorage")
        def read_by_body(req: func.HttpRequest, existing: func.InputStream) -> str:
            return existing.read().decode() if existing is not None else "none"
    """,
}


async def _upload(backend, app, container: str, name: str, data: bytes) -> None:
    store = backend.store(app)
    await store.open()
    await store.put_blob(container, name, data)
    await store.close()


async def _blobs(backend, app, container: str) -> dict[str, bytes]:
    store = backend.store(app)
    await store.open()
    try:
        found = {}
        for blob in await store.list_blobs(container):
            data, _ = await store.get_blob(container, blob.name)
            found[blob.name] = data
        return found
    finally:
        await store.close()


def test_blob_trigger_once_per_version_across_restarts(backend, host, app_dir):
    app = app_dir(BLOB_APP)
    first = host(app, env=backend.env())
    asyncio.run(_upload(backend, app, "uploads", "2024/report.txt", b"v1"))
    asyncio.run(_upload(backend, app, "uploads", "ignored.bin", b"no match"))
    first.wait_for_output("saw uploads/2024/report.txt (2 bytes): v1")
    first.stop()
    second = host(app, env=backend.env())
    asyncio.run(_upload(backend, app, "uploads", "2024/other.txt", b"new"))
    second.wait_for_output("saw uploads/2024/other.txt (3 bytes): new")
    assert "report.txt" not in second.output  # already handled before the restart
    asyncio.run(_upload(backend, app, "uploads", "2024/report.txt", b"v2!"))
    second.wait_for_output("saw uploads/2024/report.txt (3 bytes): v2!")
    assert second.output.count("saw uploads/2024/report.txt") == 1
    assert "ignored.bin" not in second.output


def test_failing_blob_goes_to_the_poison_queue(backend, host, app_dir):
    app = app_dir(BLOB_APP)
    process = host(app, env=backend.env())
    asyncio.run(_upload(backend, app, "broken", "bad.txt", b"x"))

    async def poison() -> list[dict]:
        store = backend.store(app)
        await store.open()
        try:
            return [json.loads(m.body) for m in await store.peek("webjobs-blobtrigger-poison", 10)]
        finally:
            await store.close()

    wait_until(lambda: asyncio.run(poison()) != [], 30, "no poison message")
    (message,) = asyncio.run(poison())
    assert message["Type"] == "BlobTrigger" and message["FunctionId"] == "Host.Functions.always_fails"
    assert (message["ContainerName"], message["BlobName"]) == ("broken", "bad.txt") and message["ETag"]
    # the fifth failure is logged before the blob is poisoned, on the console's own thread
    wait_until(
        lambda: process.output.count("Exception: RuntimeError: cannot process broken/bad.txt") >= 5,
        10,
        "five failures in the log",
    )
    assert process.output.count("Exception: RuntimeError: cannot process broken/bad.txt") == 5


def test_blob_input_and_output_with_expressions(backend, host, app_dir):
    app = app_dir(BLOB_APP)
    process = host(app, env=backend.env())
    asyncio.run(_upload(backend, app, "inbox", "note.txt", b"hello"))

    async def put(queue: str, body: bytes) -> None:
        store = backend.store(app)
        await store.open()
        await store.put(queue, body)
        await store.close()

    asyncio.run(put("copy", b"note.txt"))
    asyncio.run(put("copy", b"absent.txt"))
    year = datetime.now(timezone.utc).year
    wait_until(lambda: len(asyncio.run(_blobs(backend, app, "outbox"))) == 2, 20, "outputs missing")
    assert asyncio.run(_blobs(backend, app, "outbox")) == {
        f"note.txt-{year}.txt": b"copied: hello",
        f"absent.txt-{year}.txt": b"copied: <missing>",
    }
    assert process.request("PUT", "/api/docs/42", '{"a": 1}').text == "stored"
    docs = asyncio.run(_blobs(backend, app, "docs"))
    (name,) = docs
    assert name.startswith("42/") and name.endswith(".json") and docs[name] == b'{"a": 1}'
    assert process.request("POST", "/api/docs-by-body", '{"file": "note.txt"}').text == "hello"
    assert process.request("POST", "/api/docs-by-body", '{"file": "nope.txt"}').text == "none"


def test_two_hosts_process_each_blob_once(backend, host, app_dir):
    app = app_dir(BLOB_APP)
    first, second = host(app, env=backend.env()), host(app, env=backend.env())
    for n in range(20):
        asyncio.run(_upload(backend, app, "uploads", f"2024/file{n}.txt", b"data"))
    wait_until(
        lambda: sum(p.output.count("saw uploads/2024/file") for p in (first, second)) >= 20,
        30,
        "not every blob was processed",
    )
    import time

    time.sleep(2)  # a second scan must not process anything again
    seen = [line for p in (first, second) for line in p.output.splitlines() if "saw uploads/2024/file" in line]
    names = sorted(line.split("saw uploads/")[1].split()[0] for line in seen)
    assert names == sorted(f"2024/file{n}.txt" for n in range(20))
