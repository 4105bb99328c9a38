"""Which module reads and writes which binding type, looked up by type and imported when used.

A binder module exposes ``read_input(binding, invocation, binders)`` for input bindings
and/or ``write_output(binding, value, invocation, binders)`` for output bindings. Adding a
binding family is one module in ``bindings/`` and one line here (or ``register_binder``).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from funchost.app import binding_types

_BINDERS: dict[str, str] = {}


def register_binder(binding_type: str, module: str) -> None:
    """Read and write bindings of ``binding_type`` with ``module``; the type then loads in apps."""
    _BINDERS[binding_type.lower()] = module
    binding_types.register(binding_type)


register_binder("queue", "funchost.bindings.queue")
register_binder("blob", "funchost.bindings.blob")
register_binder("serviceBus", "funchost.bindings.servicebus")
register_binder("eventHub", "funchost.bindings.eventhub")
register_binder("eventGrid", "funchost.bindings.eventgrid")
register_binder("table", "funchost.bindings.table")
register_binder("cosmosDB", "funchost.bindings.cosmosdb")


def binder_module(binding_type: str) -> ModuleType | None:
    name = _BINDERS.get(binding_type.lower())
    return importlib.import_module(name) if name is not None else None
