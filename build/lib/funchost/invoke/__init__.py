"""Running one invocation of a function."""

from funchost.app.invocation import Invocation, Outcome
from funchost.invoke.context import Context, Out, RetryContext, TraceContext
from funchost.invoke.extensions import Extensions, extensions_enabled
from funchost.invoke.invoker import BindingIO, InvocationError, Invoker
from funchost.invoke.logs import install_log_capture, level_from_name

__all__ = [
    "BindingIO",
    "Context",
    "Extensions",
    "Invocation",
    "InvocationError",
    "Invoker",
    "Out",
    "Outcome",
    "RetryContext",
    "TraceContext",
    "extensions_enabled",
    "install_log_capture",
    "level_from_name",
]
