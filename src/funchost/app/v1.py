"""The v1 programming model: a folder per function with a ``function.json``."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

from funchost.app.build import BindingTypes, FunctionError, make_function_spec
from funchost.app.imports import APP_PACKAGE, describe_import_error
from funchost.app.model import FunctionSpec, LoadError
from funchost.config import parse_bool
from funchost.config.jsonfile import JsonFileError, read_json_file

DEFAULT_SCRIPT_FILE = "__init__.py"
DEFAULT_ENTRY_POINT = "main"


def function_folders(app_root: Path) -> Iterator[Path]:
    """Every direct sub-folder of the app root that holds a function.json, by name."""
    for child in sorted(app_root.iterdir(), key=lambda p: p.name.lower()):
        if child.is_dir() and (child / "function.json").is_file():
            yield child


def load_v1_function(folder: Path, app_root: Path, binding_types: BindingTypes) -> FunctionSpec | LoadError:
    """Load one function folder; never raises, a failure comes back as a LoadError."""
    name = folder.name
    config_file = folder / "function.json"
    try:
        config = read_json_file(config_file)
    except JsonFileError as error:
        return LoadError(name, config_file, f"function.json is not valid JSON: {error.detail}", line=error.line)
    except (OSError, UnicodeDecodeError) as error:
        return LoadError(name, config_file, f"function.json cannot be read: {error}")
    if not isinstance(config, dict):
        return LoadError(name, config_file, "function.json is not valid JSON: the top level must be a JSON object")
    raw_bindings = config.get("bindings")
    if not isinstance(raw_bindings, list):
        return LoadError(name, config_file, "function.json has no 'bindings' array")
    script_file = (folder / str(config.get("scriptFile") or DEFAULT_SCRIPT_FILE)).resolve()
    entry_point = str(config.get("entryPoint") or DEFAULT_ENTRY_POINT)
    if script_file.suffix != ".py":
        return LoadError(name, config_file, f"scriptFile '{script_file.name}' is not a Python file")
    if not script_file.is_file():
        return LoadError(name, config_file, f"scriptFile '{script_file}' does not exist")
    try:
        relative = script_file.relative_to(app_root.resolve())
    except ValueError:
        return LoadError(name, config_file, f"scriptFile '{script_file}' is outside the app folder {app_root}")
    parts = [APP_PACKAGE, *relative.parts[:-1]]
    if relative.stem != "__init__":
        parts.append(relative.stem)
    try:
        module = importlib.import_module(".".join(parts))
    except BaseException as error:  # user code may raise anything, SystemExit included
        if isinstance(error, KeyboardInterrupt):
            raise
        reason, line, file = describe_import_error(error, app_root)
        return LoadError(name, file or script_file, reason, line=line)
    func = getattr(module, entry_point, None)
    if func is None or not callable(func):
        return LoadError(
            name,
            script_file,
            f"function {entry_point}() is not present in {relative} "
            "(set 'entryPoint' in function.json to the function's name)",
        )
    try:
        disabled = parse_bool(config.get("disabled"), name="'disabled'")
    except ValueError as error:
        return LoadError(name, config_file, f"function.json: {error}")
    try:
        return make_function_spec(
            name=name,
            func=func,
            raw_bindings=raw_bindings,
            directory=folder.resolve(),
            script_file=script_file,
            entry_point=entry_point,
            model="v1",
            binding_types=binding_types,
            retry=config.get("retry"),
            disabled=disabled,
        )
    except FunctionError as error:
        return LoadError(name, config_file, error.reason, binding=error.binding)
