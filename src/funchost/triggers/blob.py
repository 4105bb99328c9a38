"""Blob trigger: scan containers for new and changed blobs, run each version once.

As in the real host, one instance at a time scans (it holds a lease), and what it finds goes
to a queue every instance consumes (``azure-webjobs-blobtrigger-<hostid>``). A receipt per
function and ETag (``blobreceipts/<hostid>/<function>/<etag>/<container>/<blob>``) marks a
version as done, so it survives restarts; after ``poisonBlobThreshold`` failures a message
goes to ``webjobs-blobtrigger-poison``. Scanning lists the container every
``SCAN_INTERVAL`` seconds, so a new blob is picked up within about that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from dataclasses import dataclass, field

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import FunctionSpec
from funchost.bindings.expressions import compile_blob_pattern, split_blob_path
from funchost.config import AppSettings
from funchost.storage.auto import StorageResolver
from funchost.storage.roles import BlobProperties, QueueMessage, StorageError, StorageProvider
from funchost.triggers.base import ListenerContext, ListenerSet, dotnet_time
from funchost.triggers.common.background import OutageLog
from funchost.triggers.common.lease import Lease
from funchost.triggers.queue import QueueConsumer, QueueOptions, wake_on_put

logger = logging.getLogger("funchost.blob")

SCAN_INTERVAL = 1.0
LEASE_PERIOD = 15.0
POISON_QUEUE = "webjobs-blobtrigger-poison"


@dataclass
class BlobFunction:
    spec: FunctionSpec
    container: str
    pattern_text: str
    provider: StorageProvider
    function_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.function_id = f"Host.Functions.{self.spec.name}"
        self.pattern = compile_blob_pattern(self.pattern_text)


class BlobTriggerListener:
    """All blob-triggered functions of one host: the scanner and the work queue consumer."""

    ready = True  # it serves from start() on

    def __init__(
        self, specs: list[FunctionSpec], context: ListenerContext, options: QueueOptions, poison_threshold: int = 5
    ) -> None:
        self.context = context
        resolver, settings, host_id = context.resolver, context.settings, context.host_id
        self.host_id = host_id
        self.host_store = resolver.resolve(StorageProvider, None)
        self.functions: dict[str, BlobFunction] = {}
        for spec in specs:
            path = settings.resolve(str(spec.trigger.setting("path") or "")).strip("/")
            container, _ = split_blob_path(path)
            if not container:
                raise ValueError(f"the blob trigger of function '{spec.name}' has no container in its path")
            store = resolver.resolve(StorageProvider, spec.trigger.setting("connection"))
            function = BlobFunction(spec, container, path, store)
            self.functions[function.function_id] = function
        self.lease = Lease(
            self.host_store,
            f"locks/{host_id}/WebJobs.Internal.Blobs.Listener",
            f"{host_id}:{uuid.uuid4().hex}",
            LEASE_PERIOD,
            "the blob scan",
        )
        self.work_queue = f"azure-webjobs-blobtrigger-{host_id}".lower()[:63]
        consumer_options = QueueOptions(
            batch_size=options.batch_size,
            new_batch_threshold=options.new_batch_threshold,
            max_polling_interval=min(options.max_polling_interval, 2.0),
            visibility_timeout=0.0,
            max_dequeue_count=poison_threshold,
            processing_visibility=options.processing_visibility,
        )
        self.consumer = QueueConsumer(
            self.work_queue, self.host_store, consumer_options, self._handle, self._poison, "blob triggers"
        )
        self._stopping = asyncio.Event()
        self._scanner: asyncio.Task[None] | None = None
        self._scan_outage = OutageLog(
            logger, "Scanning for new blobs failed: %s", "Scanning for new blobs works again."
        )

    async def start(self) -> None:
        await self.consumer.start()
        self._scanner = asyncio.create_task(
            self.lease.run_while_held(self._scan_while_held, self._stopping), name="blob-scanner"
        )

    async def stop(self, drain_timeout: float | None = None) -> None:
        self._stopping.set()
        if self._scanner is not None:
            await asyncio.wait([self._scanner])  # it releases the lease
        await self.consumer.stop(drain_timeout)

    def _key(self, kind: str, function: BlobFunction, container: str, name: str, etag: str) -> str:
        """``blobreceipts/...`` (done) or ``blobqueued/...`` (waiting in the work queue)."""
        return f"{kind}/{self.host_id}/{function.function_id}/{etag.strip(chr(34))}/{container}/{name}"

    def _key_prefix(self, kind: str, function: BlobFunction) -> str:
        return f"{kind}/{self.host_id}/{function.function_id}/"

    def _receipt_key(self, function: BlobFunction, blob: BlobProperties) -> str:
        return self._key("blobreceipts", function, blob.container, blob.name, blob.etag)

    async def _scan_while_held(self, lost: asyncio.Event) -> None:
        """Scan every SCAN_INTERVAL while this instance holds the scan lease."""
        while not self._stopping.is_set() and not lost.is_set():
            try:
                await self.scan_once()
            except StorageError as error:  # an outage: try again next time
                self._scan_outage.failed(error)
            else:
                self._scan_outage.recovered()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=SCAN_INTERVAL)

    async def scan_once(self) -> int:
        """Queue every blob version no function has handled yet; returns how many.

        One listing of the container and one of this function's receipts and queued marks
        per scan, not a state read per blob. A version's work item is put before the version
        is marked queued: a crash in between queues it again at the next scan (handled once,
        thanks to the receipt), where the other order could lose it.
        """
        queued = 0
        for function in self.functions.values():
            blobs = await function.provider.list_blobs(function.container)
            done = await self.host_store.list_state_keys(self._key_prefix("blobreceipts", function))
            waiting = await self.host_store.list_state_keys(self._key_prefix("blobqueued", function))
            for blob in blobs:
                if not function.pattern.match(f"{blob.container}/{blob.name}"):
                    continue
                if self._receipt_key(function, blob) in done:
                    continue
                queued_key = self._key("blobqueued", function, blob.container, blob.name, blob.etag)
                if queued_key in waiting:
                    continue  # queued, not finished yet
                body = json.dumps(
                    {
                        "Type": "BlobTrigger",
                        "FunctionId": function.function_id,
                        "BlobType": "BlockBlob",
                        "ContainerName": blob.container,
                        "BlobName": blob.name,
                        "ETag": blob.etag,
                    }
                )
                await self.host_store.put(self.work_queue, body.encode())
                await self.host_store.set_state(queued_key, "1")
                queued += 1
        return queued

    async def _handle(self, message: QueueMessage) -> bool:
        request = json.loads(message.body)
        function = self.functions.get(request.get("FunctionId", ""))
        if function is None:
            logger.warning("Dropping a blob trigger message for unknown function %s", request.get("FunctionId"))
            return True
        found = await function.provider.get_blob(request["ContainerName"], request["BlobName"])
        if found is None:
            return True  # deleted since it was found: nothing to do
        data, blob = found
        receipt = self._receipt_key(function, blob)
        if await self.host_store.get_state(receipt) is not None:
            return True
        reason = f"New blob detected: {blob.container}/{blob.name}"
        outcome = await self.context.run(blob_invocation(function.spec, function.pattern, data, blob, reason))
        if outcome.succeeded:
            await self.host_store.set_state(receipt, "done")
            await self._forget_queued(function, request)
        return outcome.succeeded

    async def _forget_queued(self, function: BlobFunction, request: dict[str, str]) -> None:
        await self.host_store.delete_state(
            self._key("blobqueued", function, request["ContainerName"], request["BlobName"], request["ETag"])
        )

    async def _poison(self, message: QueueMessage) -> None:
        request = json.loads(message.body)
        function = self.functions.get(request.get("FunctionId", ""))
        logger.error(
            "Blob '%s/%s' failed %d times; moving it to queue '%s'.",
            request.get("ContainerName"),
            request.get("BlobName"),
            message.dequeue_count,
            POISON_QUEUE,
        )
        await self.host_store.put(POISON_QUEUE, message.body)
        if function is not None:
            # this version is done with; a new version of the blob triggers again
            await self.host_store.set_state(
                self._key("blobreceipts", function, request["ContainerName"], request["BlobName"], request["ETag"]),
                "poisoned",
            )
            await self._forget_queued(function, request)


def blob_invocation(
    spec: FunctionSpec, pattern: re.Pattern[str], data: bytes, blob: BlobProperties, reason: str
) -> Invocation:
    """The invocation for one blob version: its content, and the metadata and path captures
    (``{name}`` in ``samples/{name}``) the real host sends."""
    path = f"{blob.container}/{blob.name}"
    captures = pattern.match(path)
    properties = {
        "ContentLength": blob.length,
        "Length": blob.length,
        "ETag": blob.etag,
        "ContentType": blob.content_type,
        "LastModified": dotnet_time(blob.last_modified),
    }
    metadata = {
        "BlobTrigger": meta.Datum(path, "string"),
        "Uri": meta.Datum(f"embedded://{path}", "string"),
        "Properties": meta.Datum(json.dumps(properties), "json"),
        "Metadata": meta.Datum(json.dumps(blob.metadata), "json"),
    }
    for name, value in (captures.groupdict() if captures else {}).items():
        metadata[name] = meta.Datum(value, "string")
    if spec.trigger.data_type == "string":
        datum = meta.Datum(data.decode("utf-8"), "string")
    else:
        datum = meta.Datum(data, "bytes")
    return Invocation(function=spec, trigger_data=datum, trigger_metadata=metadata, reason=reason)


def create_listeners(specs: list[FunctionSpec], context: ListenerContext, listeners: ListenerSet) -> None:
    """One listener for every blob-triggered function: one scan, one work queue."""
    threshold = int(context.host_config.get("extensions.blobs.poisonBlobThreshold", 5))
    options = QueueOptions.from_host_config(context.host_config, context.development, context.settings)

    def make() -> BlobTriggerListener:
        listener = BlobTriggerListener(specs, context, options, threshold)
        for function in listener.functions.values():
            listeners.uses(function.provider)
        listeners.uses(listener.host_store)
        wake_on_put(listener.host_store, listener.work_queue, listener.consumer.wake)
        return listener

    listeners.add([spec.name for spec in specs], make)


async def invocation_by_hand(
    spec: FunctionSpec, text: str, resolver: StorageResolver, settings: AppSettings, reason: str
) -> Invocation:
    """As in the real host, a blob trigger run by hand takes the blob's path (``container/name``)
    as its input and reads that blob."""
    from funchost.triggers.common.manual import ManualInvocationError

    path = text.strip().strip("/")
    container, name = split_blob_path(path)
    provider = resolver.resolve(StorageProvider, spec.trigger.setting("connection"))
    found = await provider.get_blob(container, name) if container and name else None
    if found is None:
        raise ManualInvocationError(
            f"the blob '{path}' does not exist (a blob trigger run by hand takes the blob's path, "
            "container/name, as its input)"
        )
    data, blob = found
    pattern = compile_blob_pattern(settings.resolve(str(spec.trigger.setting("path") or "")).strip("/"))
    return blob_invocation(spec, pattern, data, blob, reason)
