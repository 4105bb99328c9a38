"""Load an app folder (v1 or v2) into one AppIndex."""

from __future__ import annotations

from pathlib import Path

from funchost.app.build import BindingTypes
from funchost.app.imports import prepare_import_path
from funchost.app.model import AppIndex, LoadError
from funchost.app.v1 import function_folders, load_v1_function
from funchost.app.v2 import DEFAULT_SCRIPT, load_v2_app
from funchost.config import AppSettings, HostConfig


def script_file_name(settings: AppSettings) -> str:
    return settings.get("PYTHON_SCRIPT_FILE_NAME") or DEFAULT_SCRIPT


def detect_model(app_root: Path, settings: AppSettings) -> str:
    """ "v2" when the app has a function_app.py (or PYTHON_SCRIPT_FILE_NAME), else "v1"."""
    if (app_root / script_file_name(settings)).is_file():
        return "v2"
    if any(function_folders(app_root)):
        return "v1"
    return "empty"


def load_app(app_root: Path, settings: AppSettings, host_config: HostConfig, binding_types: BindingTypes) -> AppIndex:
    """Import the app's code and index every function; broken functions (binding types that
    ``binding_types`` does not run among them) become LoadErrors."""
    app_root = app_root.resolve()
    model = detect_model(app_root, settings)
    index = AppIndex(root=app_root, model=model)
    prepare_import_path(app_root)
    if model == "v2":
        load_v2_app(index, app_root / script_file_name(settings), binding_types)
    elif model == "v1":
        for folder in function_folders(app_root):
            result = load_v1_function(folder, app_root, binding_types)
            if isinstance(result, LoadError):
                index.errors.append(result)
            else:
                index.functions[result.name] = result
    for spec in index.functions.values():
        if settings.is_function_disabled(spec.name):
            spec.disabled = True
    allow_list = host_config.function_allow_list
    if allow_list is not None:
        allowed = {name.lower() for name in allow_list}
        index.functions = {n: s for n, s in index.functions.items() if n.lower() in allowed}
        index.errors = [e for e in index.errors if e.function is None or e.function.lower() in allowed]
    return index
