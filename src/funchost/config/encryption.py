"""Encrypted values in local.settings.json (``IsEncrypted: true``), with a key kept outside the project.

The key file is ``~/.config/funchost/local-settings.key`` (``FUNCHOST_SETTINGS_KEY_FILE``
overrides it), created on first use and readable only by its owner. Values are Fernet tokens
(AES-128-CBC + HMAC-SHA256, from the ``cryptography`` package) prefixed with ``funchost:``,
so they are unreadable without the key. Values encrypted by Core Tools (.NET Data Protection)
have no such prefix and cannot be read outside .NET.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PREFIX = "funchost:"


class EncryptionError(Exception):
    """A value cannot be encrypted or decrypted; the message says what to do."""


def key_path() -> Path:
    configured = os.environ.get("FUNCHOST_SETTINGS_KEY_FILE")
    if configured:
        return Path(configured)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "funchost" / "local-settings.key"


def _fernet(create: bool) -> Any:
    try:
        from cryptography.fernet import Fernet
    except ImportError:
        raise EncryptionError(
            "Encrypted settings need the 'cryptography' package: pip install 'funchost[encrypt]'"
        ) from None
    path = key_path()
    if not path.is_file():
        if not create:
            raise EncryptionError(
                f"The key to decrypt local.settings.json ({path}) does not exist on this machine. "
                "Encrypted settings can only be read where they were encrypted."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(Fernet.generate_key())
    return Fernet(path.read_bytes().strip())


def is_ours(value: str) -> bool:
    return value.startswith(PREFIX)


def encrypt_value(value: str) -> str:
    token: bytes = _fernet(create=True).encrypt(value.encode("utf-8"))
    return PREFIX + token.decode("ascii")


def decrypt_value(value: str) -> str:
    if not is_ours(value):
        raise EncryptionError("not a funchost-encrypted value")
    from cryptography.fernet import InvalidToken

    try:
        clear: bytes = _fernet(create=False).decrypt(value[len(PREFIX) :].encode("ascii"))
        return clear.decode("utf-8")
    except InvalidToken:
        raise EncryptionError(
            f"A value in local.settings.json was encrypted with another key than {key_path()}."
        ) from None
