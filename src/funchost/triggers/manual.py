"""Invocations made by hand (``POST /admin/functions/{name}``, ``funchost invoke``).

The real host takes a string ``input`` and turns it into the trigger's value; the payload
built here has the shape that trigger's listener would send, so the library's converter
gives the function the same object it gets from a real event.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from azure.functions import meta

from funchost.app.model import FunctionSpec
from funchost.bindings.expressions import compile_blob_pattern, split_blob_path
from funchost.config import AppSettings
from funchost.invoke import Invocation
from funchost.storage.auto import StorageResolver

ADMIN_REASON = "This function was programmatically called via the host APIs."


def dotnet_time(moment: datetime) -> str:
    """An ISO time as .NET writes it (7 fractional digits, ``+00:00``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0+00:00")


def timer_payload(past_due: bool, last: datetime | None = None, next_: datetime | None = None,
                  last_updated: datetime | None = None) -> str:
    """The TimerInfo JSON the real host sends (``Schedule``, ``ScheduleStatus``, ``IsPastDue``)."""
    status = None
    if last is not None or next_ is not None:
        status = {
            "Last": dotnet_time(last) if last else None,
            "Next": dotnet_time(next_) if next_ else None,
            "LastUpdated": dotnet_time(last_updated or datetime.now(timezone.utc)),
        }
    return json.dumps({"Schedule": {"AdjustForDST": True}, "ScheduleStatus": status,
                       "IsPastDue": past_due})


class ManualInvocationError(Exception):
    """The input given for a run by hand does not name something the trigger can deliver."""


async def invocation_by_hand(spec: FunctionSpec, input_text: str, resolver: StorageResolver,
                             settings: AppSettings, reason: str = ADMIN_REASON) -> Invocation:
    """What the trigger would deliver for ``input_text``; for a blob trigger, as in the real host,
    the input is the blob's path (``container/name``) and the blob is read from storage."""
    if spec.trigger.type.lower() == "blobtrigger":
        from funchost.triggers.blob import blob_invocation

        path = input_text.strip().strip("/")
        container, name = split_blob_path(path)
        provider = resolver.for_connection(spec.trigger.setting("connection"))
        found = await provider.get_blob(container, name) if container and name else None
        if found is None:
            raise ManualInvocationError(
                f"the blob '{path}' does not exist (a blob trigger run by hand takes the blob's path, "
                "container/name, as its input)")
        data, blob = found
        pattern = compile_blob_pattern(settings.resolve(str(spec.trigger.setting("path") or "")).strip("/"))
        return blob_invocation(spec, pattern, data, blob, reason)
    return manual_invocation(spec, input_text, reason)


def manual_invocation(spec: FunctionSpec, input_text: str, reason: str = ADMIN_REASON) -> Invocation:
    """The invocation for a text input, shaped as the trigger's listener would shape it."""
    trigger_type = spec.trigger.type.lower()
    metadata: dict[str, meta.Datum] = {}
    if trigger_type == "timertrigger":
        data = meta.Datum(timer_payload(False), "json")
    elif trigger_type == "queuetrigger":
        now = datetime.now(timezone.utc)
        data = meta.Datum(input_text, "string")
        metadata = {
            "Id": meta.Datum(str(uuid.uuid4()), "string"),
            "DequeueCount": meta.Datum(1, "int"),
            "InsertionTime": meta.Datum(dotnet_time(now), "string"),
            "ExpirationTime": meta.Datum(dotnet_time(now + timedelta(days=7)), "string"),
            "NextVisibleTime": meta.Datum(dotnet_time(now + timedelta(minutes=10)), "string"),
            "PopReceipt": meta.Datum(str(uuid.uuid4()), "string"),
            "QueueTrigger": meta.Datum(input_text, "string"),
        }
    elif trigger_type in ("eventgridtrigger", "cosmosdbtrigger"):
        data = meta.Datum(input_text, "json")
    else:
        data = meta.Datum(input_text, "string")
    return Invocation(function=spec, trigger_data=data, trigger_metadata=metadata, reason=reason)
