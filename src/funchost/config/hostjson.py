"""host.json: loading, validation and ``AzureFunctionsJobHost__<path>`` overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from funchost.config.jsonfile import JsonFileError, parse_json_text
from funchost.config.values import parse_timespan

ENV_PREFIX = "AzureFunctionsJobHost__"


class HostConfigError(Exception):
    """host.json cannot be used; the message is the real host's wording."""


@dataclass
class HostConfig:
    """The effective host.json: the file's content with environment overrides applied.

    Keys are looked up case-insensitively, as the real host's configuration is.
    Unknown keys are kept and ignored.
    """

    data: dict[str, Any] = field(default_factory=lambda: {"version": "2.0"})
    path: Path | None = None

    def get(self, dotted_path: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted_path.split("."):
            if isinstance(node, Mapping):
                node = _get_ci(node, part)
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return default
            if node is None:
                return default
        return node

    def section(self, dotted_path: str) -> dict[str, Any]:
        value = self.get(dotted_path)
        return value if isinstance(value, dict) else {}

    @property
    def route_prefix(self) -> str:
        prefix = self.get("extensions.http.routePrefix", "api")
        return str(prefix).strip("/")

    @property
    def function_allow_list(self) -> list[str] | None:
        value = self.get("functions")
        if value is None:
            return None
        if isinstance(value, dict):  # from env overrides: {"0": "a", "1": "b"}
            value = [value[k] for k in sorted(value, key=lambda k: int(k) if k.isdigit() else 0)]
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value]

    @property
    def log_levels(self) -> dict[str, str]:
        """``logging.logLevel``: category (``default``, ``Function``, ``Function.<name>.User``,
        ``Host.Results``, ...) to level name."""
        return {str(category): str(level) for category, level in self.section("logging.logLevel").items()}

    def timespan(self, dotted_path: str, default: timedelta | None) -> timedelta | None:
        """A TimeSpan setting (``hh:mm:ss``, ``d.hh:mm:ss``); ``-1`` means none."""
        value = self.get(dotted_path)
        if value is None:
            return default
        return parse_timespan(str(value))


def _get_ci(mapping: Mapping[str, Any], key: str) -> Any:
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    for existing, value in mapping.items():
        if existing.lower() == lowered:
            return value
    return None


def load_host_json(
    app_root: Path, environ: Mapping[str, str] | None = None, functions: list[str] | None = None
) -> HostConfig:
    """Read ``<app_root>/host.json`` and apply ``AzureFunctionsJobHost__`` overrides, then the
    ``functions`` allow-list given on the command line (``--functions``), if any."""
    environ = os.environ if environ is None else environ
    path = app_root / "host.json"
    data: dict[str, Any]
    if path.is_file():
        text = path.read_text(encoding="utf-8-sig")
        if not text.strip():
            data = {"version": "2.0"}
        else:
            try:
                data = parse_json_text(text, path)
            except JsonFileError as error:
                raise HostConfigError(f"Unable to parse host configuration file '{path}': {error.detail}") from None
            if not isinstance(data, dict):
                raise HostConfigError(
                    f"Unable to parse host configuration file '{path}': the top level must be a JSON object."
                )
    else:
        data = {"version": "2.0"}
    version = _get_ci(data, "version")
    if version is None:
        raise HostConfigError(
            'The host.json file is missing the required \'version\' property. Add "version": "2.0" to host.json.'
        )
    if str(version) != "2.0":
        raise HostConfigError(
            f"'{version}' is an invalid value for host.json 'version' property. "
            "We recommend you set the 'version' property to '2.0'."
        )
    _apply_env_overrides(data, environ)
    if functions:
        _set_ci(data, "functions", list(functions))
    return HostConfig(data=data, path=path if path.is_file() else None)


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    prefix = ENV_PREFIX.lower()
    for name, value in environ.items():
        if not name.lower().startswith(prefix):
            continue
        parts = [p for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            continue
        node: Any = data
        for part in parts[:-1]:
            if isinstance(node, list):
                node = _list_to_dict(node)
            child = _get_ci(node, part)
            if not isinstance(child, (dict, list)):
                child = {}
                _set_ci(node, part, child)
            if isinstance(child, list):
                child = _list_to_dict(child)
                _set_ci(node, part, child)
            node = child
        _set_ci(node, parts[-1], _coerce(value))


def _list_to_dict(values: list[Any]) -> dict[str, Any]:
    return {str(i): v for i, v in enumerate(values)}


def _set_ci(mapping: dict[str, Any], key: str, value: Any) -> None:
    for existing in list(mapping):
        if existing.lower() == key.lower():
            mapping[existing] = value
            return
    mapping[key] = value


def _coerce(value: str) -> Any:
    """Environment values are strings; JSON-looking ones (numbers, booleans) are parsed."""
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(value)
    except ValueError:
        return value
