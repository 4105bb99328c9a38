"""``funchost settings``: edit local.settings.json the way ``func settings`` does."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXAMPLES = """examples:
  funchost settings list                       names, values masked
  funchost settings list --showValue
  funchost settings add API_KEY s3cret
  funchost settings add Db "Server=..." --connectionString
  funchost settings delete API_KEY
  funchost settings encrypt                    encrypt every value (key kept outside the project)
  funchost settings decrypt
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "settings",
        help="list, add, delete, encrypt or decrypt local settings",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--script-root", dest="script_root", default=".")
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)
    listing = verbs.add_parser("list", help="list settings (values masked)")
    listing.add_argument("-a", "--showValue", dest="show_value", action="store_true")
    add = verbs.add_parser("add", help="add or change a setting")
    add.add_argument("name")
    add.add_argument("value", nargs="?")
    add.add_argument("--connectionString", dest="connection_string", action="store_true")
    add.add_argument("--providerName", dest="provider_name", default="System.Data.SqlClient")
    for verb in ("delete", "remove"):
        delete = verbs.add_parser(verb, help="delete a setting")
        delete.add_argument("name")
        delete.add_argument("--connectionString", dest="connection_string", action="store_true")
    verbs.add_parser("encrypt", help="encrypt every value")
    verbs.add_parser("decrypt", help="decrypt every value")


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"IsEncrypted": False, "Values": {}}
    from funchost.config.jsonfile import parse_json_text

    data: dict[str, Any] = parse_json_text(path.read_text(encoding="utf-8-sig") or "{}", path)
    data.setdefault("Values", {})
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _map_connection_strings(data: dict[str, Any], change: Callable[[str], str]) -> None:
    """Apply ``change`` to every connection string, in either of the file's two shapes."""
    for name, entry in (data.get("ConnectionStrings") or {}).items():
        if isinstance(entry, dict):
            entry["ConnectionString"] = change(str(entry.get("ConnectionString") or ""))
        else:
            data["ConnectionStrings"][name] = change(str(entry or ""))


def run(args: argparse.Namespace) -> int:
    from funchost.config.encryption import EncryptionError

    path = Path(args.script_root) / "local.settings.json"
    try:
        data = _read(path)
    except ValueError as error:
        print(f"local.settings.json is not valid JSON: {error}", file=sys.stderr)
        return 1
    verb = _VERBS["delete" if args.verb == "remove" else args.verb]
    try:
        return verb(args, path, data)
    except EncryptionError as error:
        print(str(error), file=sys.stderr)
        return 1


def _list(args: argparse.Namespace, path: Path, data: dict[str, Any]) -> int:
    from funchost.config.encryption import decrypt_value, is_ours

    def shown(value: str) -> str:
        if not args.show_value:
            return "*****"
        return decrypt_value(value) if data.get("IsEncrypted") and value and is_ours(value) else value

    print("App Settings:")
    for name, value in data["Values"].items():
        print(f"   -> Name: {name}\n      Value: {shown(value)}")
    print("\nConnection Strings:")
    for name, entry in (data.get("ConnectionStrings") or {}).items():
        value = entry.get("ConnectionString", "") if isinstance(entry, dict) else entry
        provider = entry.get("ProviderName", "System.Data.SqlClient") if isinstance(entry, dict) else ""
        print(f"   -> Name: {name}\n      Value: {shown(value)}\n      ProviderName: {provider}")
    return 0


def _add(args: argparse.Namespace, path: Path, data: dict[str, Any]) -> int:
    from funchost.config.encryption import encrypt_value

    value = args.value
    if value is None:
        value = (
            getpass.getpass(f"Please enter the value for {args.name}: ")
            if sys.stdin.isatty()
            else sys.stdin.readline().rstrip("\n")
        )
    stored = encrypt_value(value) if data.get("IsEncrypted") and value else value
    if args.connection_string:
        data.setdefault("ConnectionStrings", {})[args.name] = {
            "ConnectionString": stored,
            "ProviderName": args.provider_name,
        }
    else:
        data["Values"][args.name] = stored
    _write(path, data)
    return 0


def _delete(args: argparse.Namespace, path: Path, data: dict[str, Any]) -> int:
    container = data.get("ConnectionStrings", {}) if args.connection_string else data["Values"]
    if args.name not in container:
        print(f"No setting named '{args.name}' in {path}.", file=sys.stderr)
        return 1
    del container[args.name]
    _write(path, data)
    return 0


def _encrypt(args: argparse.Namespace, path: Path, data: dict[str, Any]) -> int:
    from funchost.config.encryption import encrypt_value

    if not data.get("IsEncrypted"):
        data["Values"] = {k: encrypt_value(v) if v else v for k, v in data["Values"].items()}
        _map_connection_strings(data, lambda v: encrypt_value(v) if v else v)
        data["IsEncrypted"] = True
        _write(path, data)
    return 0


def _decrypt(args: argparse.Namespace, path: Path, data: dict[str, Any]) -> int:
    from funchost.config.encryption import decrypt_value, is_ours

    if data.get("IsEncrypted"):
        data["Values"] = {k: decrypt_value(v) if v and is_ours(v) else v for k, v in data["Values"].items()}
        _map_connection_strings(data, lambda v: decrypt_value(v) if v and is_ours(v) else v)
        data["IsEncrypted"] = False
        _write(path, data)
    return 0


_VERBS: dict[str, Callable[[argparse.Namespace, Path, dict[str, Any]], int]] = {
    "list": _list,
    "add": _add,
    "delete": _delete,
    "encrypt": _encrypt,
    "decrypt": _decrypt,
}
