"""Invocations made by hand (``POST /admin/functions/{name}``, ``funchost invoke``).

The real host takes a string ``input`` and turns it into the trigger's value; the payload
built here has the shape that trigger's listener would send, so the library's converter
gives the function the same object it gets from a real event.
"""

from __future__ import annotations

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import FunctionSpec
from funchost.config import AppSettings
from funchost.storage.auto import StorageResolver
from funchost.triggers.families import CATALOG

ADMIN_REASON = "This function was programmatically called via the host APIs."


class ManualInvocationError(Exception):
    """The input given for a run by hand does not name something the trigger can deliver."""


async def invocation_by_hand(
    spec: FunctionSpec, input_text: str, resolver: StorageResolver, settings: AppSettings, reason: str = ADMIN_REASON
) -> Invocation:
    """What the trigger would deliver for ``input_text``; a trigger module may read storage for it
    (a blob trigger reads the blob whose path is given)."""
    family = CATALOG.trigger(spec.trigger.type)
    if family is not None and family.by_hand is not None:
        return await family.by_hand().invocation_by_hand(spec, input_text, resolver, settings, reason)
    return manual_invocation(spec, input_text, reason)


def manual_invocation(spec: FunctionSpec, input_text: str, reason: str = ADMIN_REASON) -> Invocation:
    """The invocation for a text input, shaped as the trigger's listener would shape it."""
    family = CATALOG.trigger(spec.trigger.type)
    if family is not None and family.sample is not None:
        return family.sample().sample_invocation(spec, input_text, reason)
    return Invocation(function=spec, trigger_data=meta.Datum(input_text, "string"), reason=reason)
