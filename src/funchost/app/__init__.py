"""The function index: v1 folders and v2 apps loaded into one model.

The loader (which imports ``azure.functions``) is imported when first used, so that the CLI
and the supervisor, which only need the model's dataclasses, start without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from funchost.app.model import (
    AppIndex,
    BindingSpec,
    Direction,
    FunctionSpec,
    LoadError,
    ParamKind,
    ParamSpec,
)

if TYPE_CHECKING:
    from funchost.app.loader import detect_model, load_app

__all__ = [
    "AppIndex",
    "BindingSpec",
    "Direction",
    "FunctionSpec",
    "LoadError",
    "ParamKind",
    "ParamSpec",
    "detect_model",
    "load_app",
]


def __getattr__(name: str) -> Any:
    if name in ("detect_model", "load_app"):
        from funchost.app import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'funchost.app' has no attribute {name!r}")
