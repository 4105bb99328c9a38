"""local.settings.json: read it and load its values into the environment as Core Tools does."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funchost.config.jsonfile import parse_json_text
from funchost.config.values import parse_bool

FILE_NAME = "local.settings.json"


class EncryptedSettingsError(Exception):
    """The file is encrypted with a key we cannot read."""


@dataclass
class LocalSettings:
    """What local.settings.json holds. ``warnings`` are for the console, not errors."""

    values: dict[str, str] = field(default_factory=dict)
    connection_strings: dict[str, str] = field(default_factory=dict)
    local_http_port: int | None = None
    local_http_address: str | None = None
    cors: list[str] = field(default_factory=list)
    cors_credentials: bool = False
    is_encrypted: bool = False
    path: Path | None = None
    warnings: list[str] = field(default_factory=list)
    # why the file could not be read (invalid JSON); start goes on without it, check fails
    unreadable: str | None = None


def load_local_settings(app_root: Path) -> LocalSettings:
    """Read ``<app_root>/local.settings.json``; a missing file means no settings.

    Invalid JSON gives one warning with the parse error and empty settings, as Core Tools does.
    """
    path = app_root / FILE_NAME
    settings = LocalSettings(path=path if path.is_file() else None)
    if not path.is_file():
        return settings
    try:
        raw = parse_json_text(path.read_text(encoding="utf-8-sig") or "{}", path)
        if not isinstance(raw, dict):
            raise ValueError("the top level must be a JSON object")
    except (ValueError, UnicodeDecodeError) as error:
        settings.unreadable = f"Failed to read app settings file at '{path}'. Ensure it is a valid JSON file. {error}"
        settings.warnings.append(settings.unreadable)
        return settings
    settings.is_encrypted = bool(raw.get("IsEncrypted", False))
    values = raw.get("Values") or {}
    settings.values = {str(k): "" if v is None else _as_text(v) for k, v in values.items()}
    for name, entry in (raw.get("ConnectionStrings") or {}).items():
        if isinstance(entry, dict):
            entry = entry.get("ConnectionString", "")
        settings.connection_strings[str(name)] = _as_text(entry)
    host = raw.get("Host") or {}
    if host.get("LocalHttpPort") not in (None, ""):
        try:
            settings.local_http_port = int(host["LocalHttpPort"])
        except (TypeError, ValueError):
            settings.warnings.append(
                f"Ignoring Host.LocalHttpPort '{host['LocalHttpPort']}' in {path}: not a port number."
            )
    if host.get("LocalHttpAddress"):
        settings.local_http_address = str(host["LocalHttpAddress"])
    cors = host.get("CORS") or ""
    settings.cors = [origin.strip() for origin in str(cors).split(",") if origin.strip()]
    try:
        settings.cors_credentials = parse_bool(host.get("CORSCredentials"), name="Host.CORSCredentials")
    except ValueError as error:
        settings.warnings.append(f"Ignoring {error} in {path}.")
    return settings


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def decrypted_values(settings: LocalSettings, values: dict[str, str] | None = None) -> dict[str, str]:
    """The values (by default ``Values``) of an ``IsEncrypted`` file in clear; EncryptedSettingsError
    when unreadable."""
    from funchost.config.encryption import EncryptionError, decrypt_value, is_ours

    clear: dict[str, str] = {}
    for name, value in (settings.values if values is None else values).items():
        if not value:
            clear[name] = value
        elif is_ours(value):
            try:
                clear[name] = decrypt_value(value)
            except EncryptionError as error:
                raise EncryptedSettingsError(f"Failed to decrypt settings in '{settings.path}': {error}") from None
        else:
            raise EncryptedSettingsError(
                f"Failed to decrypt settings in '{settings.path}': '{name}' is marked IsEncrypted and was "
                "encrypted by Core Tools (.NET Data Protection, which only .NET on the machine that wrote it "
                "can read). Run 'func settings decrypt' where it was encrypted, or set IsEncrypted to false "
                "and enter the values again."
            )
    return clear


def apply_to_environ(settings: LocalSettings, environ: MutableMapping[str, str]) -> list[str]:
    """Set each value as an environment variable unless it is already set.

    Returns the warning lines for the values that were skipped (Core Tools' wording).
    Raises EncryptedSettingsError when the values are encrypted (``IsEncrypted: true``).
    """
    values = decrypted_values(settings) if settings.is_encrypted else settings.values
    skipped = []
    for name, value in values.items():
        if name in environ:
            skipped.append(
                f"Skipping '{name}' from local settings as it's already defined in current environment variables."
            )
            continue
        environ[name] = value
    connection_strings = settings.connection_strings
    if settings.is_encrypted:
        connection_strings = decrypted_values(settings, connection_strings)
    for name, value in connection_strings.items():
        environ.setdefault(f"ConnectionStrings:{name}", value)
    return skipped
