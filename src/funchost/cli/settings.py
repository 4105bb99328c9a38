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
    parser = commands.add_parser("settings", help="list, add, delete, encrypt or decrypt local settings",
                                 epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
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

    data = parse_json_text(path.read_text(encoding="utf-8-sig") or "{}", path)
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
    from funchost.config.encryption import EncryptionError, decrypt_value, encrypt_value, is_ours

    path = Path(args.script_root) / "local.settings.json"
    try:
        data = _read(path)
    except ValueError as error:
        print(f"local.settings.json is not valid JSON: {error}", file=sys.stderr)
        return 1
    encrypted = bool(data.get("IsEncrypted", False))
    values: dict[str, str] = data["Values"]
    try:
        if args.verb == "list":
            print("App Settings:")
            for name, value in values.items():
                shown = value if args.show_value else "*****"
                if args.show_value and encrypted and is_ours(value):
                    shown = decrypt_value(value)
                print(f"   -> Name: {name}\n      Value: {shown}")
            print("\nConnection Strings:")
            for name, entry in (data.get("ConnectionStrings") or {}).items():
                value = entry.get("ConnectionString", "") if isinstance(entry, dict) else entry
                provider = entry.get("ProviderName", "System.Data.SqlClient") if isinstance(entry, dict) else ""
                if args.show_value and encrypted and value and is_ours(value):
                    value = decrypt_value(value)
                print(f"   -> Name: {name}\n      Value: {value if args.show_value else '*****'}\n"
                      f"      ProviderName: {provider}")
        elif args.verb == "add":
            value = args.value
            if value is None:
                value = getpass.getpass(f"Please enter the value for {args.name}: ") if sys.stdin.isatty() \
                    else sys.stdin.readline().rstrip("\n")
            if args.connection_string:
                data.setdefault("ConnectionStrings", {})[args.name] = {
                    "ConnectionString": encrypt_value(value) if encrypted and value else value,
                    "ProviderName": args.provider_name}
            else:
                values[args.name] = encrypt_value(value) if encrypted and value else value
            _write(path, data)
        elif args.verb in ("delete", "remove"):
            container = data.get("ConnectionStrings", {}) if args.connection_string else values
            if args.name not in container:
                print(f"No setting named '{args.name}' in {path}.", file=sys.stderr)
                return 1
            del container[args.name]
            _write(path, data)
        elif args.verb == "encrypt":
            if not encrypted:
                data["Values"] = {k: encrypt_value(v) if v else v for k, v in values.items()}
                _map_connection_strings(data, lambda v: encrypt_value(v) if v else v)
                data["IsEncrypted"] = True
                _write(path, data)
        elif args.verb == "decrypt" and encrypted:
            data["Values"] = {k: decrypt_value(v) if v and is_ours(v) else v for k, v in values.items()}
            _map_connection_strings(data, lambda v: decrypt_value(v) if v and is_ours(v) else v)
            data["IsEncrypted"] = False
            _write(path, data)
    except EncryptionError as error:
        print(str(error), file=sys.stderr)
        return 1
    return 0
