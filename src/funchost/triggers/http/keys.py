"""Function keys in the real host's file format (``AzureWebJobsSecretStorageType=files``).

``<secrets>/host.json`` holds ``masterKey``, ``functionKeys`` and ``systemKeys``;
``<secrets>/<function>.json`` holds that function's ``keys``. Files are created with fresh
random keys the first time they are needed.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
import threading
from enum import IntEnum
from pathlib import Path
from typing import Any


class KeyLevel(IntEnum):
    FUNCTION = 1
    SYSTEM = 2
    ADMIN = 3


MASTER = "_master"


def new_key_value() -> str:
    """A random key: 40 bytes, URL-safe base64 with its padding, like the host's older keys."""
    return base64.urlsafe_b64encode(secrets.token_bytes(40)).decode("ascii")


class KeyStore:
    """Reads and writes key files in one folder; safe for concurrent use in one process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        # each file parsed once, and again only when it changes on disk (a stat per lookup)
        self._cache: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            self._cache.pop(path, None)
            return None
        signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == signature:
            return cached[1]
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        self._cache[path] = (signature, data)
        return data

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        # readable by the owner only, from the first byte written
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, indent=2))
        os.chmod(temporary, 0o600)  # an older temporary file may have had wider rights
        os.replace(temporary, path)
        stat = path.stat()
        self._cache[path] = ((stat.st_mtime_ns, stat.st_size, stat.st_ino), data)

    def host_secrets(self) -> dict[str, Any]:
        return self._read_or_create(
            self.folder / "host.json",
            {"masterKey": _key("master"), "functionKeys": [_key("default")], "systemKeys": []},
        )

    def function_secrets(self, function_name: str) -> dict[str, Any]:
        return self._read_or_create(self._function_path(function_name), {"keys": [_key("default")]})

    def _read_or_create(self, path: Path, keys: dict[str, Any]) -> dict[str, Any]:
        """A secrets file, created with fresh keys in the real host's format when absent."""
        with self._lock:
            data = self._read(path)
            if data is None:
                data = {
                    **keys,
                    "hostName": None,
                    "instanceId": secrets.token_hex(16),
                    "source": "runtime",
                    "decryptionKeyId": "",
                }
                self._write(path, data)
            return data

    def _function_path(self, function_name: str) -> Path:
        return self.folder / f"{function_name.lower()}.json"

    def master_key(self) -> str:
        return str(self.host_secrets()["masterKey"]["value"])

    def authorize(self, presented: str, function_name: str | None) -> KeyLevel | None:
        """The level a presented key grants, checked in the real host's order, in constant time."""
        host = self.host_secrets()
        if _same(presented, host["masterKey"]["value"]):
            return KeyLevel.ADMIN
        if any(_same(presented, k["value"]) for k in host.get("systemKeys") or []):
            return KeyLevel.SYSTEM
        if any(_same(presented, k["value"]) for k in host.get("functionKeys") or []):
            return KeyLevel.FUNCTION
        if function_name is not None:
            own = self.function_secrets(function_name)
            if any(_same(presented, k["value"]) for k in own.get("keys") or []):
                return KeyLevel.FUNCTION
        return None

    def system_key(self, name: str) -> str:
        """The value of a host system key (an extension's webhook key), created on first use as
        the real host creates ``eventgrid_extension`` when the extension starts."""
        found = self.get_key("systemkeys", name)
        return found["value"] if found is not None else self.set_key("systemkeys", name, None)[0]["value"]

    def list_keys(self, scope: str, function_name: str | None = None) -> list[dict[str, str]]:
        """``scope``: "function" (of ``function_name``), "functionkeys" or "systemkeys" of the host."""
        if scope == "function":
            assert function_name is not None
            return [_public(k) for k in self.function_secrets(function_name)["keys"]]
        host = self.host_secrets()
        keys = [_public(k) for k in host.get(_host_field(scope)) or []]
        if scope == "systemkeys":
            keys = [{"name": MASTER, "value": host["masterKey"]["value"]}, *keys]
        return keys

    def get_key(self, scope: str, name: str, function_name: str | None = None) -> dict[str, str] | None:
        return next((k for k in self.list_keys(scope, function_name) if k["name"] == name), None)

    def set_key(
        self, scope: str, name: str, value: str | None, function_name: str | None = None
    ) -> tuple[dict[str, str], bool]:
        """Create or replace a key (a new random value when ``value`` is None).

        Returns the key and whether it was created (201) rather than replaced (200).
        """
        value = value or new_key_value()
        if scope != "function" and name == MASTER:
            host = self.host_secrets()
            with self._lock:
                host["masterKey"] = {"name": "master", "value": value, "encrypted": False}
                self._write(self.folder / "host.json", host)
            return {"name": MASTER, "value": value}, False
        data, path, field = self._container(scope, function_name)
        with self._lock:
            keys = data.setdefault(field, [])
            existing = next((k for k in keys if k["name"] == name), None)
            if existing is not None:
                existing["value"] = value
            else:
                keys.append({"name": name, "value": value, "encrypted": False})
            self._write(path, data)
        return {"name": name, "value": value}, existing is None

    def delete_key(self, scope: str, name: str, function_name: str | None = None) -> bool:
        data, path, field = self._container(scope, function_name)
        with self._lock:
            keys = data.get(field) or []
            remaining = [k for k in keys if k["name"] != name]
            if len(remaining) == len(keys):
                return False
            data[field] = remaining
            self._write(path, data)
        return True

    def _container(self, scope: str, function_name: str | None) -> tuple[dict[str, Any], Path, str]:
        if scope == "function":
            assert function_name is not None
            return self.function_secrets(function_name), self._function_path(function_name), "keys"
        return self.host_secrets(), self.folder / "host.json", _host_field(scope)


def _host_field(scope: str) -> str:
    return "systemKeys" if scope == "systemkeys" else "functionKeys"


def _key(name: str) -> dict[str, Any]:
    return {"name": name, "value": new_key_value(), "encrypted": False}


def _public(key: dict[str, Any]) -> dict[str, str]:
    return {"name": str(key["name"]), "value": str(key["value"])}


def _same(presented: str, expected: Any) -> bool:
    return hmac.compare_digest(presented.encode("utf-8"), str(expected).encode("utf-8"))
