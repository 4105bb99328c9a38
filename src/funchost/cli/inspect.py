"""``funchost list``, ``check`` and ``invoke``: look at an app and run a function without a server."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

INVOKE_EXAMPLES = """examples:
  funchost invoke hello --data '{"name": "Ann"}'          POST the data to an HTTP function
  funchost invoke hello --method GET --query name=Ann
  funchost invoke process_order --data 'order-42'         a queue message
  funchost invoke nightly                                  a timer tick
"""


def add_parsers(commands: Any) -> None:
    for name, aliases in (("list", ["functions"]),):
        listing = commands.add_parser(name, aliases=aliases, help="list the app's functions and load errors")
        listing.add_argument("verb", nargs="?", choices=["list"], help=argparse.SUPPRESS)
        listing.add_argument("--script-root", dest="script_root", default=".")
        listing.add_argument("--json", action="store_true", help="machine-readable output")
    check = commands.add_parser("check", help="load the app as 'start' would; exit 1 on any error (for CI)")
    check.add_argument("--script-root", dest="script_root", default=".")
    invoke = commands.add_parser(
        "invoke",
        help="run one function in-process, no server",
        epilog=INVOKE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    invoke.add_argument("function")
    invoke.add_argument("--script-root", dest="script_root", default=".")
    source = invoke.add_mutually_exclusive_group()
    source.add_argument("--data", help="the trigger value (an HTTP body, a queue message, ...)")
    source.add_argument("--file", help="read the trigger value from a file")
    invoke.add_argument("--header", action="append", default=[], help="HTTP header K:V (repeatable)")
    invoke.add_argument("--method", help="HTTP method (default POST with data, else GET)")
    invoke.add_argument("--query", action="append", default=[], help="HTTP query parameter k=v (repeatable)")
    invoke.add_argument("--route", action="append", default=[], help="HTTP route value k=v (repeatable)")


def _load(root: str) -> Any:
    from funchost.host.console import flush_console
    from funchost.host.instance import HostInstance
    from funchost.host.options import HostOptions

    instance = HostInstance(HostOptions(script_root=Path(root)))
    instance.load()
    flush_console()  # load warnings before what the command prints
    return instance


def _describe(instance: Any) -> list[dict[str, Any]]:
    described = []
    base = instance.display_base_url()
    for spec in sorted(instance.index.functions.values(), key=lambda s: s.name.lower()):
        entry: dict[str, Any] = {
            "name": spec.name,
            "trigger": spec.trigger_type,
            "disabled": spec.disabled,
            "script": str(spec.script_file),
            "entryPoint": spec.entry_point,
            "bindings": [{"name": b.name, "type": b.type, "direction": b.direction.value} for b in spec.bindings],
        }
        if spec.is_http:
            entry["route"] = str(spec.trigger.setting("route") or spec.name)
            entry["methods"] = [str(m).upper() for m in spec.trigger.setting("methods") or []] or None
            entry["url"] = instance.http_app.function_url(spec, base)
        described.append(entry)
    return described


def run_list(args: argparse.Namespace) -> int:
    from funchost.config import EncryptedSettingsError, HostConfigError

    try:
        instance = _load(args.script_root)
    except (HostConfigError, EncryptedSettingsError) as error:
        print(str(error), file=sys.stderr)
        return 1
    functions = _describe(instance)
    errors = [str(e) for e in instance.load_errors()]
    if args.json:
        print(json.dumps({"functions": functions, "errors": errors}, indent=2))
        return 0
    for entry in functions:
        where = f" {entry['url']}" if "url" in entry else ""
        methods = f" [{','.join(entry['methods'])}]" if entry.get("methods") else ""
        disabled = " (disabled)" if entry["disabled"] else ""
        print(f"{entry['name']}: {entry['trigger']}{methods}{where}{disabled}")
        for binding in entry["bindings"]:
            print(f"    {binding['direction']:5} {binding['type']:14} {binding['name']}")
    for message in errors:
        print(f"error: {message}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from funchost.config import EncryptedSettingsError, HostConfigError

    try:
        instance = _load(args.script_root)
    except (HostConfigError, EncryptedSettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    # one verdict per function: one whose route or listener failed is an error, not also ok
    failed = {*instance.http_app.route_errors, *instance.listeners.errors}
    for entry in _describe(instance):
        if entry["name"] not in failed:
            print(f"ok: {entry['name']} ({entry['trigger']})")
    errors = [str(e) for e in instance.load_errors()]
    unreadable = instance.host_settings.local.unreadable
    if unreadable is not None:
        errors.insert(0, unreadable)
    for message in errors:
        print(f"error: {message}", file=sys.stderr)
    if not instance.index.functions and not errors:
        print("error: the app has no functions", file=sys.stderr)
        return 1
    print(f"{len(instance.index.functions)} function(s), {len(errors)} error(s)")
    return 1 if errors else 0


def run_invoke(args: argparse.Namespace) -> int:
    from funchost.config import EncryptedSettingsError, HostConfigError
    from funchost.host.console import flush_console
    from funchost.storage.roles import StorageError
    from funchost.triggers.common.manual import ManualInvocationError
    from funchost.triggers.http import messages

    try:
        instance = _load(args.script_root)
    except (HostConfigError, EncryptedSettingsError) as error:
        print(str(error), file=sys.stderr)
        return 1
    spec = instance.index.get(args.function)
    if spec is None:
        known = ", ".join(sorted(instance.index.functions)) or "none"
        for load_error in instance.load_errors():
            print(f"error: {load_error}", file=sys.stderr)
        print(f"No function named '{args.function}' (functions: {known}).", file=sys.stderr)
        return 1
    data = Path(args.file).read_bytes() if args.file else (args.data or "").encode("utf-8")
    if spec.is_http:
        headers = {"host": "localhost"}
        for header in args.header:
            key, _, value = header.partition(":")
            headers[key.strip().lower()] = value.strip()
        query = dict(q.split("=", 1) if "=" in q else (q, "") for q in args.query)
        route: dict[str, str | None] = dict(r.split("=", 1) if "=" in r else (r, "") for r in args.route)
        method = (args.method or ("POST" if data else "GET")).upper()
        url = instance.http_app.function_url(spec, "http://localhost")
        invocation = messages_invocation(spec, messages, method, url, headers, query, route, data)
    else:
        invocation = None
    assert instance.invoker is not None
    import asyncio

    try:
        outcome = asyncio.run(_invoke(instance, spec, invocation, data.decode("utf-8")))
        flush_console()  # the invocation's log lines before its result
    except (ManualInvocationError, StorageError) as error:
        print(f"Cannot run '{spec.name}': {error}", file=sys.stderr)
        return 1
    if spec.is_http and outcome.succeeded:
        status, headers_out, body = messages.to_raw_response(
            outcome.http_response, messages.empty_response_status(spec)
        )
        print(f"HTTP {status}")
        for key, value in headers_out:
            print(f"{key.decode()}: {value.decode()}")
        print()
        sys.stdout.flush()
        sys.stdout.buffer.write(body + b"\n")
    elif outcome.return_value is not None and not spec.is_http:
        print(f"returned: {outcome.return_value!r}")
    for name, datum in outcome.outputs.items():
        binding = next(b for b in spec.bindings if b.name == name)
        target = binding.setting("queueName") or binding.setting("path") or ""
        print(f"output {name} ({binding.type} {target}): {_show(datum.value)}")
    if not outcome.succeeded:
        print(f"Failed: {outcome.error_message}", file=sys.stderr)
        return 1
    return 0


def messages_invocation(
    spec: Any,
    messages: Any,
    method: str,
    url: str,
    headers: dict[str, str],
    query: dict[str, str],
    route: dict[str, str | None],
    body: bytes,
) -> Any:
    from funchost.invoke import Invocation

    if query:
        from urllib.parse import urlencode

        url = f"{url}?{urlencode(query)}"
    return Invocation(
        function=spec,
        trigger_data=messages.trigger_datum(method, url, headers, query, route, body),
        trigger_metadata=messages.trigger_metadata(headers, query, route),
        reason="Invoked with funchost invoke.",
    )


async def _invoke(instance: Any, spec: Any, invocation: Any, input_text: str) -> Any:
    from funchost.triggers.common.manual import invocation_by_hand

    try:
        if invocation is None:
            invocation = await invocation_by_hand(
                spec, input_text, instance.resolver, instance.settings, reason="Invoked with funchost invoke."
            )
        return await instance.invoker.invoke(invocation)
    finally:
        await instance.resolver.close()


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return f"<{len(value)} bytes>"
    return str(value)
