"""Match a Python function's parameters to its bindings, as the Python worker does at load.

The rules (and the spirit of the messages) follow the worker: every parameter needs a
binding, every binding but ``$return`` needs a parameter, ``Out[T]`` marks outputs, and each
annotation is checked with the binding's converter from ``azure.functions``.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

from azure.functions import meta

from funchost.app.model import BindingSpec, Direction, ParamKind, ParamSpec


class SignatureError(Exception):
    """The function's signature does not fit its bindings. ``binding`` names the culprit."""

    def __init__(self, reason: str, binding: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.binding = binding


class GenericConverter:
    """The worker's conversion for bindings without a library converter (and str/bytes)."""

    @classmethod
    def check_input_type_annotation(cls, pytype: type) -> bool:
        return _is_subclass(pytype, (str, bytes))

    @classmethod
    def check_output_type_annotation(cls, pytype: type) -> bool:
        return _is_subclass(pytype, (str, bytes, bytearray))

    @classmethod
    def decode(cls, data: meta.Datum, *, trigger_metadata: Any = None) -> Any:
        if data is None or data.type is None:
            return None
        if data.type in ("string", "bytes", "json", "int", "double"):
            return data.value
        if data.type.startswith("collection_"):
            return data.python_value
        raise ValueError(f"unexpected type of data received for the generic binding: {data.type!r}")

    @classmethod
    def encode(cls, obj: Any, *, expected_type: Any = None) -> meta.Datum:
        if isinstance(obj, str):
            return meta.Datum(obj, "string")
        if isinstance(obj, (bytes, bytearray)):
            return meta.Datum(bytes(obj), "bytes")
        if obj is None:
            return meta.Datum(None, None)
        if isinstance(obj, (dict, list)):
            from funchost.app.compat import library_json

            return meta.Datum(library_json.dumps(obj), "json")
        if isinstance(obj, int):
            return meta.Datum(obj, "int")
        if isinstance(obj, float):
            return meta.Datum(obj, "double")
        raise TypeError(f"cannot convert a {type(obj).__name__} for a generic binding")


def registered_converter(binding_type: str) -> Any:
    """The library's own converter for a binding type, or None (the registry is untyped)."""
    return meta.get_binding_registry().get(binding_type)  # type: ignore[no-untyped-call]


def converter_for(binding_type: str) -> Any:
    """The library's converter for a binding type, or the generic one when it has none."""
    found = registered_converter(binding_type)
    return found if found is not None else GenericConverter


def has_implicit_output(binding_type: str) -> bool:
    converter = registered_converter(binding_type)
    if converter is None:
        return False
    return bool(getattr(converter, "has_implicit_output", lambda: False)())


def _is_subclass(pytype: Any, bases: Any) -> bool:
    try:
        return isinstance(pytype, type) and issubclass(pytype, bases)
    except TypeError:
        return False


def _is_out(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    target = origin if origin is not None else annotation
    return isinstance(target, type) and target.__name__ == "Out"


def _type_name(pytype: Any) -> str:
    return getattr(pytype, "__name__", repr(pytype))


def _check(converter: Any, method: str, pytype: Any) -> bool:
    try:
        return bool(getattr(converter, method)(pytype))
    except TypeError:
        return False


def analyse_signature(
    func: Callable[..., Any], bindings: list[BindingSpec]
) -> tuple[list[ParamSpec], BindingSpec | None, bool]:
    """Plan how to call ``func`` with ``bindings``, checking the worker's rules in its order.

    Returns the parameter plan, the ``$return`` binding (or None) and whether the return
    value uses the generic conversion. Raises SignatureError with a reason a user understands.
    """
    signature, annotations = _read(func)
    by_name = {b.name: b for b in bindings if not b.is_return}
    context_param = _context_param(list(signature.parameters), annotations, by_name)
    _check_names([name for name in signature.parameters if name != context_param], by_name)
    plan = [
        ParamSpec(name=name, kind=ParamKind.CONTEXT) if name == context_param
        else _param_plan(name, by_name[name], annotations.get(name))
        for name in signature.parameters
    ]  # fmt: skip
    return_binding = next((b for b in bindings if b.is_return), None)
    return_generic = _check_return(annotations.get("return"), return_binding, bindings)
    return plan, return_binding, return_generic


def _read(func: Callable[..., Any]) -> tuple[inspect.Signature, dict[str, Any]]:
    """The function's signature and its annotations, resolved where they can be."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as error:
        raise SignatureError(f"cannot read the function's signature: {error}") from error
    try:
        annotations = typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 - user annotations may raise anything: fall back to the raw strings
        annotations = dict(getattr(func, "__annotations__", {}))
    return signature, annotations


def _context_param(names: list[str], annotations: dict[str, Any], by_name: dict[str, BindingSpec]) -> str | None:
    """The parameter that takes the invocation's Context: named ``context`` or typed ``Context``."""
    for name in names:
        if name in by_name:
            continue
        annotation = annotations.get(name)
        named_context = name == "context"
        typed_context = isinstance(annotation, type) and annotation.__name__ == "Context"
        if named_context or typed_context:
            if named_context and annotation is not None and not typed_context:
                raise SignatureError(
                    'the "context" parameter is expected to be of type azure.functions.Context, '
                    f"got {_type_name(annotation)}"
                )
            return name
    return None


def _check_names(params: list[str], by_name: dict[str, BindingSpec]) -> None:
    """Every parameter has a binding and every binding a parameter."""
    missing_bindings = [n for n in params if n not in by_name]
    if missing_bindings:
        raise SignatureError(
            "the following parameters are declared in Python but not in the bindings: "
            + ", ".join(repr(n) for n in sorted(missing_bindings)),
            binding=missing_bindings[0],
        )
    missing_params = [n for n in by_name if n not in params]
    if missing_params:
        raise SignatureError(
            "the following bindings are declared but have no parameter in Python: "
            + ", ".join(repr(n) for n in sorted(missing_params)),
            binding=missing_params[0],
        )


def _param_plan(name: str, binding: BindingSpec, annotation: Any) -> ParamSpec:
    """How one parameter is given its binding's value (or sets it, for an output)."""
    has_annotation = annotation is not None and annotation is not inspect.Parameter.empty
    is_param_out = has_annotation and _is_out(annotation)
    is_binding_out = binding.direction == Direction.OUT
    if is_param_out:
        args = typing.get_args(annotation)
        if len(args) != 1:
            raise SignatureError(f"binding {name} has invalid Out annotation {annotation!r}", binding=name)
        pytype = args[0]
    else:
        pytype = annotation if has_annotation else None
    if is_binding_out and has_annotation and not is_param_out:
        raise SignatureError(
            f'binding {name} is declared to have the "out" direction, but its annotation '
            "in Python is not a subclass of azure.functions.Out",
            binding=name,
        )
    if not is_binding_out and is_param_out:
        raise SignatureError(
            f'binding {name} is declared to have the "in" direction in the binding '
            "definition, but its annotation is azure.functions.Out in Python",
            binding=name,
        )
    if has_annotation and not isinstance(pytype, type) and typing.get_origin(pytype) is None:
        raise SignatureError(f"binding {name} has invalid non-type annotation {annotation!r}", binding=name)
    generic = (pytype in (str, bytes) and not has_implicit_output(binding.type)) or (
        registered_converter(binding.type) is None
    )
    converter = GenericConverter if generic else converter_for(binding.type)
    if has_annotation:
        method = "check_output_type_annotation" if is_param_out else "check_input_type_annotation"
        if not _check(converter, method, pytype):
            binding_type = "generic" if generic and pytype in (str, bytes) else binding.type
            raise SignatureError(
                f'type of {name} binding "{binding_type}" does not match its Python annotation "{_type_name(pytype)}"',
                binding=name,
            )
    return ParamSpec(
        name=name,
        kind=ParamKind.OUTPUT if is_binding_out else ParamKind.INPUT,
        binding=binding,
        pytype=pytype,
        generic=generic,
    )


def _check_return(annotation: Any, return_binding: BindingSpec | None, bindings: list[BindingSpec]) -> bool:
    """Check the return annotation against the ``$return`` binding; whether the value is encoded
    generically (the binding type has no converter of its own)."""
    annotated = annotation is not None and annotation is not type(None)
    if return_binding is None:
        trigger = next((b for b in bindings if b.is_trigger), None)
        if annotated and (trigger is None or not has_implicit_output(trigger.type)):
            raise SignatureError(
                f'the function has a return annotation ("{_type_name(annotation)}") but '
                'no "$return" output binding to send the value to'
            )
        return False
    # The worker always encodes a return value with the binding's own converter when there is
    # one (its str/bytes shortcut for returns never triggers).
    generic = registered_converter(return_binding.type) is None
    if not annotated:
        return generic
    if _is_out(annotation):
        raise SignatureError("return annotation should not be azure.functions.Out", binding="$return")
    if not isinstance(annotation, type) and typing.get_origin(annotation) is None:
        raise SignatureError(f"has invalid non-type return annotation {annotation!r}", binding="$return")
    converter = GenericConverter if generic else converter_for(return_binding.type)
    if not _check(converter, "check_output_type_annotation", annotation):
        raise SignatureError(
            f'Python return annotation "{_type_name(annotation)}" does not match binding type "{return_binding.type}"',
            binding="$return",
        )
    return generic
