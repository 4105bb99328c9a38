"""Turn raw binding JSON and a callable into a validated FunctionSpec (shared by v1 and v2)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from funchost.app.model import BindingSpec, Direction, FunctionSpec
from funchost.app.signature import SignatureError, analyse_signature

FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,127}$", re.IGNORECASE)

_DATA_TYPES = {"string", "binary", "stream", "undefined"}


class BindingTypes(Protocol):
    """Which binding types the host runs (``triggers/families.py``'s catalog is one)."""

    def unsupported_reason(self, binding_types: list[str]) -> str | None:
        """Why bindings of these types cannot load, or None when the host runs them all."""
        ...


class FunctionError(Exception):
    """A function cannot be loaded. ``binding`` names the binding at fault, if one is."""

    def __init__(self, reason: str, binding: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.binding = binding


def check_function_name(name: str) -> None:
    if not FUNCTION_NAME.match(name) or name.lower() == "host":
        raise FunctionError(
            f"'{name}' is not a valid function name. Function names must start with a letter "
            "and contain only letters, digits, '_' and '-' (at most 128 characters), and "
            "'host' is reserved."
        )


def parse_binding(raw: Any, index: int) -> BindingSpec:
    """One entry of a ``bindings`` array; keys and enum values case-insensitive."""
    if not isinstance(raw, dict):
        raise FunctionError(f"binding #{index + 1} is not a JSON object")
    lowered = {str(k).lower(): v for k, v in raw.items()}
    name = lowered.get("name")
    binding_type = lowered.get("type")
    label = str(name) if name else f"#{index + 1}"
    if not name or not isinstance(name, str):
        raise FunctionError(f"binding #{index + 1} has no 'name'", binding=label)
    if not binding_type or not isinstance(binding_type, str):
        raise FunctionError("the binding has no 'type'", binding=label)
    direction_text = str(lowered.get("direction") or "").lower()
    if not direction_text:
        if binding_type.lower().endswith("trigger"):
            direction_text = "in"
        else:
            raise FunctionError(
                'the binding has no \'direction\' (expected "in", "out" or "inout")',
                binding=name,
            )
    try:
        direction = Direction(direction_text)
    except ValueError:
        raise FunctionError(
            f"the binding's direction '{lowered.get('direction')}' is not one of in, out, inout",
            binding=name,
        ) from None
    data_type = lowered.get("datatype")
    if data_type is not None:
        data_type = str(data_type).lower()
        if data_type not in _DATA_TYPES:
            raise FunctionError(
                f"the binding's dataType '{lowered.get('datatype')}' is not one of string, binary, stream",
                binding=name,
            )
    return BindingSpec(name=name, type=binding_type, direction=direction, data_type=data_type, settings=dict(raw))


def make_function_spec(
    *,
    name: str,
    func: Callable[..., Any],
    raw_bindings: list[Any],
    directory: Path,
    script_file: Path,
    entry_point: str,
    model: str,
    binding_types: BindingTypes,
    http_type: str = "function",
    retry: dict[str, Any] | None = None,
    disabled: bool = False,
) -> FunctionSpec:
    """Validate ``func`` against its bindings and build its spec; raise FunctionError."""
    check_function_name(name)
    if not callable(func):
        raise FunctionError(f"'{entry_point}' in {script_file.name} is not callable")
    bindings = [parse_binding(raw, i) for i, raw in enumerate(raw_bindings)]
    seen: set[str] = set()
    for binding in bindings:
        if binding.name.lower() in seen:
            raise FunctionError("two bindings have the same name", binding=binding.name)
        seen.add(binding.name.lower())
    reason = binding_types.unsupported_reason([b.type for b in bindings])
    if reason is not None:
        first = next(b for b in bindings if binding_types.unsupported_reason([b.type]) is not None)
        raise FunctionError(reason, binding=first.name)
    triggers = [b for b in bindings if b.is_trigger]
    if not triggers:
        raise FunctionError("the function has no trigger binding; a function needs exactly one trigger")
    if len(triggers) > 1:
        raise FunctionError(
            "the function has more than one trigger binding ("
            + ", ".join(f"'{t.name}' ({t.type})" for t in triggers)
            + "); a function needs exactly one trigger",
            binding=triggers[1].name,
        )
    trigger = triggers[0]
    if trigger.direction != Direction.IN:
        raise FunctionError('a trigger binding must have the direction "in"', binding=trigger.name)
    try:
        params, return_binding, return_generic = analyse_signature(func, bindings)
    except SignatureError as error:
        raise FunctionError(error.reason, binding=error.binding) from None
    return FunctionSpec(
        name=name,
        func=func,
        directory=directory,
        script_file=script_file,
        entry_point=entry_point,
        trigger=trigger,
        bindings=bindings,
        params=params,
        is_async=inspect.iscoroutinefunction(inspect.unwrap(func)),
        model=model,
        return_binding=return_binding,
        return_generic=return_generic,
        http_type=http_type,
        retry=retry,
        disabled=disabled,
    )
