"""The function index: one model for v1 and v2 apps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any


class Direction(str, Enum):
    IN = "in"
    OUT = "out"
    INOUT = "inout"


@dataclass(frozen=True)
class BindingSpec:
    """One binding as function.json (or the v2 decorators) declares it.

    ``settings`` keeps every raw key (``path``, ``queueName``, ``connection``, ...) as written.
    """

    name: str
    type: str
    direction: Direction
    data_type: str | None = None
    settings: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_trigger(self) -> bool:
        return self.type.lower().endswith("trigger")

    @property
    def is_return(self) -> bool:
        return self.name == "$return"

    def setting(self, key: str, default: Any = None) -> Any:
        """A raw setting, looked up case-insensitively."""
        if key in self.settings:
            return self.settings[key]
        lowered = key.lower()
        for existing, value in self.settings.items():
            if existing.lower() == lowered:
                return value
        return default


class ParamKind(str, Enum):
    INPUT = "input"  # trigger or input binding
    OUTPUT = "output"  # func.Out[T] parameter
    CONTEXT = "context"


@dataclass(frozen=True)
class ParamSpec:
    """How the invoker fills one parameter of the user function.

    ``pytype`` is the annotation's type (the ``T`` of ``Out[T]``), or None when there is none.
    ``generic`` says the worker's generic conversion applies instead of the library's converter.
    """

    name: str
    kind: ParamKind
    binding: BindingSpec | None = None
    pytype: type | None = None
    generic: bool = False


@dataclass
class FunctionSpec:
    """A loaded, validated function, whatever programming model it came from."""

    name: str
    func: Callable[..., Any]
    directory: Path
    script_file: Path
    entry_point: str
    trigger: BindingSpec
    bindings: list[BindingSpec]
    params: list[ParamSpec]
    is_async: bool
    model: str  # "v1" or "v2"
    return_binding: BindingSpec | None = None
    return_generic: bool = False
    http_type: str = "function"  # "function", "asgi" or "wsgi"
    retry: dict[str, Any] | None = None
    disabled: bool = False

    @property
    def trigger_type(self) -> str:
        return self.trigger.type

    @property
    def is_http(self) -> bool:
        return self.trigger.type.lower() == "httptrigger"

    @property
    def output_bindings(self) -> list[BindingSpec]:
        return [b for b in self.bindings if b.direction != Direction.IN]


@dataclass(frozen=True)
class LoadError:
    """A function that could not be loaded, reported with where and why."""

    function: str | None
    file: Path | None
    reason: str
    binding: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"{self.file}:{self.line}" if self.line else str(self.file))
        if self.binding:
            where.append(f"binding '{self.binding}'")
        location = f" ({', '.join(where)})" if where else ""
        subject = f"Function '{self.function}'" if self.function else "The app"
        return f"{subject}{location}: {self.reason}"


@dataclass
class AppIndex:
    """Every function of an app, and every function that failed to load."""

    root: Path
    model: str  # "v1", "v2" or "empty"
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    errors: list[LoadError] = field(default_factory=list)
    # objects the host must shut down (AsgiMiddleware of AsgiFunctionApp)
    asgi_middlewares: list[Any] = field(default_factory=list)

    def get(self, name: str) -> FunctionSpec | None:
        """Case-insensitive lookup, as the real host's function name lookup is."""
        found = self.functions.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        for existing, spec in self.functions.items():
            if existing.lower() == lowered:
                return spec
        return None
