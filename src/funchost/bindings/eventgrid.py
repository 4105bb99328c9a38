"""The Event Grid output binding: the invocation's events posted to a custom topic as one JSON
array, as the real host does.

``topicEndpointUri`` and ``topicKeySetting`` name app settings holding the topic's URL and
key; the request carries the key in ``aeg-sas-key`` and ``api-version=2018-01-01``. Events in
the Event Grid schema need ``subject``, ``eventType``, ``data`` and ``dataVersion`` (``id``
and ``eventTime`` are filled in when missing); events with ``specversion`` are CloudEvents,
posted as ``application/cloudevents-batch+json``. A 5xx or a network failure is retried
(3 attempts in all); a 4xx fails the invocation with the topic's answer.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import BindingSpec
from funchost.bindings.binders import Binders, BindingFailure, json_objects

API_VERSION = "2018-01-01"
ATTEMPTS = 3
TIMEOUT = 30.0
REQUIRED = ("subject", "eventType", "data", "dataVersion")


def events_of(value: meta.Datum, binding: BindingSpec) -> list[dict[str, Any]]:
    """The events an output value stands for, in the schema a topic accepts."""
    events = json_objects(value, binding, "events")
    for event in events:
        if "specversion" not in event:
            missing = [key for key in REQUIRED if key not in event or (key != "data" and event[key] is None)]
            if missing:
                raise BindingFailure(
                    f"an event for the '{binding.name}' binding (eventGrid) lacks {', '.join(missing)}"
                )
            event.setdefault("id", str(uuid.uuid4()))
            if not event.get("eventTime"):
                event["eventTime"] = datetime.now(timezone.utc).isoformat()
    return events


def _post(url: str, key: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"aeg-sas-key": key, "content-type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


async def write_output(binding: BindingSpec, value: meta.Datum, invocation: Invocation, binders: Binders) -> None:
    endpoint_setting = str(binding.setting("topicEndpointUri") or "")
    key_setting = str(binding.setting("topicKeySetting") or "")
    endpoint = binders.settings.get(endpoint_setting) if endpoint_setting else None
    key = binders.settings.get(key_setting) if key_setting else None
    if not endpoint or not key:
        missing = endpoint_setting if not endpoint else key_setting
        raise BindingFailure(
            f"the '{binding.name}' binding (eventGrid): the app setting '{missing}' "
            f"({'topicEndpointUri' if not endpoint else 'topicKeySetting'}) is not set"
        )
    events = events_of(value, binding)
    if not events:
        return
    cloud = "specversion" in events[0]
    parts = urlsplit(endpoint)
    query = "&".join(part for part in (parts.query, urlencode({"api-version": API_VERSION})) if part)
    url = urlunsplit((parts.scheme, parts.netloc, parts.path or "/api/events", query, ""))
    body = json.dumps(events).encode("utf-8")
    content_type = "application/cloudevents-batch+json; charset=utf-8" if cloud else "application/json"
    problem = ""
    for attempt in range(ATTEMPTS):
        try:
            status, answer = await asyncio.to_thread(_post, url, key, body, content_type)
        except OSError as error:
            status, answer = 0, str(error).encode()
        if 200 <= status < 300:
            return
        problem = f"HTTP {status}: {answer[:200].decode('utf-8', 'replace')}" if status else answer.decode()
        if 400 <= status < 500:
            break
        if attempt + 1 < ATTEMPTS:
            await asyncio.sleep(0.5 * 2**attempt)
    raise BindingFailure(
        f"the '{binding.name}' binding (eventGrid) could not publish {len(events)} event(s) to "
        f"{parts.scheme}://{parts.netloc}{parts.path}: {problem}"
    )
