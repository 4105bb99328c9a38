"""The function index: v1 folders and v2 apps loaded into one model."""

from funchost.app.loader import detect_model, load_app
from funchost.app.model import (
    AppIndex,
    BindingSpec,
    Direction,
    FunctionSpec,
    LoadError,
    ParamKind,
    ParamSpec,
)

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
