"""Build the listeners for an app's non-HTTP functions, through the families' trigger modules."""

from __future__ import annotations

import logging

from funchost.app.model import AppIndex, FunctionSpec
from funchost.triggers.base import ListenerContext, ListenerSet
from funchost.triggers.families import CATALOG

logger = logging.getLogger("funchost.host")


def build_listeners(index: AppIndex, context: ListenerContext) -> ListenerSet:
    """Listeners for every enabled non-HTTP function; a trigger family's module is imported
    only when the app uses it."""
    result = ListenerSet()
    by_type: dict[str, list[FunctionSpec]] = {}
    for spec in index.functions.values():
        if spec.disabled or spec.is_http:
            continue
        by_type.setdefault(spec.trigger_type.lower(), []).append(spec)
    for trigger_type, specs in by_type.items():
        family = CATALOG.trigger(trigger_type)
        if family is None or family.listen is None:  # the index refuses types nothing listens to: a guard
            for spec in specs:
                result.errors[spec.name] = f"funchost has no listener for the trigger type '{spec.trigger_type}'."
            continue
        try:
            module = family.listen()
        except ImportError as error:  # an optional dependency of that family is missing
            for spec in specs:
                result.errors[spec.name] = f"the {spec.trigger_type} listener cannot be loaded: {error}"
            continue
        module.create_listeners(specs, context, result)
    return result
