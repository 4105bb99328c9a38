"""Worker extensions (``AppExtensionBase`` / ``FuncExtensionBase``), called where the worker calls them."""

from __future__ import annotations

import logging
from typing import Any

from funchost.config import AppSettings, setting_is_on

logger = logging.getLogger("funchost.extensions")


def extensions_enabled(settings: AppSettings) -> bool:
    """``PYTHON_ENABLE_WORKER_EXTENSIONS``; on by default, as in the worker for Python 3.9+."""
    value = settings.get("PYTHON_ENABLE_WORKER_EXTENSIONS")
    if value is None or value.strip() == "":
        return True
    return setting_is_on(value)


class Extensions:
    """The hooks registered through ``azure.functions.ExtensionMeta``."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _hooks(self, function_name: str) -> tuple[Any, Any]:
        from azure.functions.extension.extension_meta import ExtensionMeta

        return ExtensionMeta.get_application_hooks(), ExtensionMeta.get_function_hooks(function_name)

    def has_invocation_hooks(self, function_name: str) -> bool:
        if not self.enabled:
            return False
        app_hooks, func_hooks = self._hooks(function_name)
        return bool(
            (app_hooks and (app_hooks.pre_invocation_app_level or app_hooks.post_invocation_app_level))
            or (func_hooks and (func_hooks.pre_invocation or func_hooks.post_invocation))
        )

    def post_function_load(self, function_name: str, function_directory: str) -> None:
        if not self.enabled:
            return
        app_hooks, func_hooks = self._hooks(function_name)
        for hook in getattr(app_hooks, "post_function_load_app_level", None) or []:
            _safe(hook, function_name, function_directory)
        for hook in getattr(func_hooks, "post_function_load", None) or []:
            _safe(hook, function_name, function_directory)

    def pre_invocation(
        self, function_name: str, user_logger: logging.Logger, context: Any, args: dict[str, Any]
    ) -> None:
        app_hooks, func_hooks = self._hooks(function_name)
        for hook in getattr(app_hooks, "pre_invocation_app_level", None) or []:
            _safe(hook, user_logger, context, args)
        for hook in getattr(func_hooks, "pre_invocation", None) or []:
            _safe(hook, user_logger, context, args)

    def post_invocation(
        self, function_name: str, user_logger: logging.Logger, context: Any, args: dict[str, Any], result: Any
    ) -> None:
        app_hooks, func_hooks = self._hooks(function_name)
        for hook in getattr(app_hooks, "post_invocation_app_level", None) or []:
            _safe(hook, user_logger, context, args, result)
        for hook in getattr(func_hooks, "post_invocation", None) or []:
            _safe(hook, user_logger, context, args, result)


def _safe(hook: Any, *args: Any) -> None:
    """An extension's failure is logged and never fails the function (as in the worker)."""
    try:
        hook.ext_impl(*args)
    except Exception:
        logger.exception("Worker extension %s failed", hook.ext_name)
