"""The v2 programming model: ``function_app.py`` with decorators (and blueprints)."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from typing import Any

from funchost.app.build import BindingTypes, FunctionError, make_function_spec
from funchost.app.compat import asgi_middleware, function_builders
from funchost.app.imports import describe_import_error
from funchost.app.model import AppIndex, FunctionSpec, LoadError

DEFAULT_SCRIPT = "function_app.py"


def load_v2_app(index: AppIndex, script: Path, binding_types: BindingTypes) -> None:
    """Import the script, find its FunctionApp instance(s) and add every function to ``index``."""
    import azure.functions as func

    try:
        module = importlib.import_module(script.stem)
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt):
            raise
        reason, line, file = describe_import_error(error, index.root)
        index.errors.append(LoadError(None, file or script, reason, line=line))
        return
    apps = [value for value in vars(module).values() if isinstance(value, func.FunctionRegister)]
    if not apps:
        index.errors.append(
            LoadError(
                None,
                script,
                "no FunctionApp found: define one at module level, for example 'app = func.FunctionApp()'",
            )
        )
        return
    for app in apps:
        middleware = asgi_middleware(app)
        if isinstance(middleware, func.AsgiMiddleware):
            index.asgi_middlewares.append(middleware)
        # Build function by function (not app.get_functions()) so that one broken
        # function is reported on its own instead of failing the whole app.
        for builder in function_builders(app):
            result = _build(builder, app, script, binding_types)
            if isinstance(result, LoadError):
                index.errors.append(result)
            elif index.get(result.name) is not None:
                index.errors.append(
                    LoadError(
                        result.name,
                        script,
                        f"The function or proxy name '{result.name}' must be unique within the function app.",
                        line=_line_of(result.func),
                    )
                )
            else:
                index.functions[result.name] = result


def _build(builder: Any, app: Any, script: Path, binding_types: BindingTypes) -> FunctionSpec | LoadError:
    function = builder._function
    name = function.get_function_name()
    user_func = function.get_user_function()
    source = _file_of(user_func) or script
    line = _line_of(user_func)
    try:
        built = builder.build(app.auth_level)
    except Exception as error:  # noqa: BLE001 - the library's validation raises many types: a load error
        return LoadError(name, source, str(error), line=line)
    try:
        raw = json.loads(built.get_function_json())
        return make_function_spec(
            name=name,
            func=user_func,
            raw_bindings=raw.get("bindings", []),
            directory=script.parent.resolve(),
            script_file=source,
            entry_point=user_func.__name__,
            model="v2",
            binding_types=binding_types,
            http_type=getattr(built, "http_type", "function") or "function",
            retry=built.get_settings_dict("retry_policy"),
        )
    except FunctionError as error:
        return LoadError(name, source, error.reason, binding=error.binding, line=line)


def _file_of(func: Any) -> Path | None:
    try:
        file = inspect.getsourcefile(func)
    except TypeError:
        return None
    return Path(file) if file else None


def _line_of(func: Any) -> int | None:
    try:
        return inspect.getsourcelines(func)[1]
    except (OSError, TypeError):
        return None
