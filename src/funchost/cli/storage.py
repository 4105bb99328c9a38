"""``funchost storage``: look inside the store an app uses, and drive its triggers by hand."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

EXAMPLES = """examples:
  funchost storage queues                       queues with their lengths (poison queues too)
  funchost storage put outqueue "hello"         put a message (starts a queue trigger)
  funchost storage peek outqueue -n 5           look at messages without taking them
  funchost storage blobs greetings              list the blobs of a container
  funchost storage upload samples/a.txt ./a.txt upload a file as a blob (starts a blob trigger)
  funchost storage get samples/a.txt -o out.txt download a blob
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "storage", help="look inside the app's store: queues, messages, blobs",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--script-root", dest="script_root", default=".", help="the function app folder")
    parser.add_argument("--connection", default=None,
                        help="the connection setting to use (default AzureWebJobsStorage)")
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)
    verbs.add_parser("queues", help="list queues with their lengths")
    verbs.add_parser("poison", help="list poison queues with their lengths")
    peek = verbs.add_parser("peek", help="show visible messages of a queue")
    peek.add_argument("queue")
    peek.add_argument("-n", "--count", type=int, default=10)
    put = verbs.add_parser("put", help="put a message into a queue")
    put.add_argument("queue")
    put.add_argument("text", nargs="?", help="message text (or --file)")
    put.add_argument("--file", help="read the message from a file")
    blobs = verbs.add_parser("blobs", help="list containers, or the blobs of one")
    blobs.add_argument("container", nargs="?")
    get = verbs.add_parser("get", help="download a blob (container/name)")
    get.add_argument("path")
    get.add_argument("-o", "--output", help="write to this file instead of standard output")
    upload = verbs.add_parser("upload", help="upload a file as a blob (container/name)")
    upload.add_argument("path")
    upload.add_argument("file")


def run(args: argparse.Namespace) -> int:
    from funchost.config import AppSettings, apply_to_environ, load_local_settings
    from funchost.storage.auto import StorageResolver
    from funchost.storage.base import StorageError

    root = Path(args.script_root).resolve()
    if not root.is_dir():
        print(f"The folder '{root}' does not exist (--script-root).", file=sys.stderr)
        return 1
    apply_to_environ(load_local_settings(root), os.environ)
    resolver = StorageResolver(root, AppSettings())
    try:
        provider = resolver.for_connection(args.connection)
        import asyncio

        return asyncio.run(_run(provider, args))
    except StorageError as error:
        print(str(error), file=sys.stderr)
        return 1


async def _run(provider: Any, args: argparse.Namespace) -> int:
    try:
        await provider.open()
        verb: Callable[[Any, argparse.Namespace], Awaitable[int]] = _VERBS[args.verb]
        return await verb(provider, args)
    finally:
        await provider.close()


async def _queues(provider: Any, args: argparse.Namespace) -> int:
    names = await provider.list_queues()
    if args.verb == "poison":
        names = [n for n in names if n.endswith("-poison")]
    for name in names:
        print(f"{name}\t{await provider.length(name)}")
    if not names:
        print("(no queues)")
    return 0


async def _peek(provider: Any, args: argparse.Namespace) -> int:
    for message in await provider.peek(args.queue, args.count):
        body = message.body.decode("utf-8", errors="replace")
        print(f"{message.id}\tdequeued {message.dequeue_count}x\t{body}")
    return 0


async def _put(provider: Any, args: argparse.Namespace) -> int:
    if args.file:
        body = Path(args.file).read_bytes()
    elif args.text is not None:
        body = args.text.encode("utf-8")
    else:
        body = sys.stdin.buffer.read()
    message = await provider.put(args.queue, body)
    print(f"put message {message.id} into '{args.queue}'")
    return 0


async def _blobs(provider: Any, args: argparse.Namespace) -> int:
    if not args.container:
        for name in await provider.list_containers():
            print(name)
        return 0
    for blob in await provider.list_blobs(args.container):
        print(f"{blob.name}\t{blob.length} bytes\t{blob.etag}\t{blob.last_modified:%Y-%m-%d %H:%M:%S}")
    return 0


async def _get(provider: Any, args: argparse.Namespace) -> int:
    container, _, name = args.path.partition("/")
    found = await provider.get_blob(container, name)
    if found is None:
        print(f"No blob '{args.path}'.", file=sys.stderr)
        return 1
    if args.output:
        Path(args.output).write_bytes(found[0])
    else:
        sys.stdout.buffer.write(found[0])
    return 0


async def _upload(provider: Any, args: argparse.Namespace) -> int:
    container, _, name = args.path.partition("/")
    if not name:
        print("Give the blob as container/name.", file=sys.stderr)
        return 1
    properties = await provider.put_blob(container, name, Path(args.file).read_bytes())
    print(f"uploaded {args.path} ({properties.length} bytes, ETag {properties.etag})")
    return 0


_VERBS: dict[str, Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    "queues": _queues, "poison": _queues, "peek": _peek, "put": _put, "blobs": _blobs, "get": _get,
    "upload": _upload,
}
