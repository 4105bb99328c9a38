"""Event Grid trigger: the real host's webhook, ``POST /runtime/webhooks/eventgrid?functionName=<name>``.

By the ``aeg-event-type`` header: ``SubscriptionValidation`` answers 200
``{"validationResponse": <code>}`` without running the function; ``Notification`` runs the
function once per event (Event Grid schema or CloudEvents, an array or one event), in order,
and answers 202 when every invocation succeeded, 500 otherwise (Event Grid then retries);
``Unsubscribe`` answers 202; a missing or unknown type 400, an unknown function 404. The
CloudEvents handshake (``OPTIONS`` with ``WebHook-Request-Origin``) is answered too. When
keys are enforced the caller needs the ``eventgrid_extension`` system key (or the master key),
as ``code=`` or ``x-functions-key``.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import FunctionSpec
from funchost.triggers.base import InvocationRunner, ListenerContext, ListenerSet, WebhookResponse

VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent"

Response = WebhookResponse


def _json(status: int, value: Any) -> Response:
    return status, [(b"content-type", b"application/json; charset=utf-8")], json.dumps(value).encode()


def _text(status: int, text: str) -> Response:
    return status, [(b"content-type", b"text/plain; charset=utf-8")], text.encode()


def event_invocation(spec: FunctionSpec, event: dict[str, Any]) -> Invocation:
    """One event as the function's payload; its top-level properties are binding data."""
    return Invocation(
        function=spec,
        trigger_data=meta.Datum(json.dumps(event), "json"),
        reason=f"EventGrid trigger fired at {datetime.now(timezone.utc).isoformat()}",
    )


async def handle_webhook(
    functions: dict[str, FunctionSpec],
    invoker: InvocationRunner,
    method: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
) -> Response:
    """Answer one webhook request for the Event Grid functions of the app."""
    if method == "OPTIONS":  # the CloudEvents abuse-protection handshake
        origin = headers.get("webhook-request-origin")
        if not origin:
            return _text(400, "The CloudEvents handshake needs a WebHook-Request-Origin header.")
        return 200, [(b"webhook-allowed-origin", origin.encode("latin-1")), (b"allow", b"POST")], b""
    name = query.get("functionName") or ""
    spec = next((s for s in functions.values() if s.name.lower() == name.lower()), None)
    if spec is None:
        return _text(404, f"No Event Grid function named '{name}'.")
    if method != "POST":
        return _text(405, "The Event Grid webhook takes POST.")
    event_type = headers.get("aeg-event-type", "")
    if event_type not in ("SubscriptionValidation", "Notification", "Unsubscribe"):
        return _text(
            400,
            f"The aeg-event-type header is {'missing' if not event_type else repr(event_type)}: "
            "expected SubscriptionValidation, Notification or Unsubscribe.",
        )
    if event_type == "Unsubscribe":
        return 202, [], b""
    try:
        parsed = json.loads(body or b"null")
    except ValueError as error:
        return _text(400, f"The request body is not JSON: {error}.")
    events = parsed if isinstance(parsed, list) else [parsed]
    if not events or not all(isinstance(event, dict) for event in events):
        return _text(400, "The request body must be an event (a JSON object) or an array of events.")
    if event_type == "SubscriptionValidation":
        code = (events[0].get("data") or {}).get("validationCode") if isinstance(events[0].get("data"), dict) else None
        if events[0].get("eventType") != VALIDATION_EVENT or not code:
            return _text(400, f"A SubscriptionValidation request carries one {VALIDATION_EVENT} with a validationCode.")
        return _json(200, {"validationResponse": code})
    failed = 0
    for event in events:
        outcome = await invoker.invoke(event_invocation(spec, event))
        failed += not outcome.succeeded
    return (202, [], b"") if not failed else _text(500, f"{failed} of {len(events)} event(s) failed.")


def create_listeners(specs: list[FunctionSpec], context: ListenerContext, listeners: ListenerSet) -> None:
    """Nothing listens in the background: the HTTP app serves the webhook."""


def sample_invocation(spec: FunctionSpec, text: str, reason: str) -> Invocation:
    """An event from ``text``: a JSON event as it is, anything else as the data of a sample event."""
    try:
        event = json.loads(text)
    except ValueError:
        event = None
    if not isinstance(event, dict):
        event = {
            "id": str(uuid.uuid4()),
            "topic": "",
            "subject": "funchost/invoke",
            "eventType": "funchost.Invoke",
            "eventTime": datetime.now(timezone.utc).isoformat(),
            "data": event if event is not None else text,
            "dataVersion": "1.0",
            "metadataVersion": "1",
        }
    invocation = event_invocation(spec, event)
    invocation.reason = reason
    return invocation
