"""``funchost storage``: look inside the store an app uses, and drive its triggers by hand."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from funchost.storage.roles import BrokerInspection, DocumentStore, EventHubs, ServiceBusStore, StorageProvider

EXAMPLES = """examples:
  funchost storage queues                       queues with their lengths (poison queues too)
  funchost storage put outqueue "hello"         put a message (starts a queue trigger)
  funchost storage peek outqueue -n 5           look at messages without taking them
  funchost storage blobs greetings              list the blobs of a container
  funchost storage upload samples/a.txt ./a.txt upload a file as a blob (starts a blob trigger)
  funchost storage get samples/a.txt -o out.txt download a blob
  funchost storage tables                       list tables
  funchost storage entities People --filter "PartitionKey eq 'red'"
  funchost storage cosmos                       Cosmos DB databases, containers (leases too), documents
  funchost storage cosmos-create shop leases    create a container (a change feed trigger's lease container)
  funchost storage cosmos-query shop items "SELECT * FROM c WHERE c.price < 10"
  funchost storage bus                          Service Bus queues, topics, subscriptions, dead-letter queues
  funchost storage bus-send orders "hello"      send a message (starts a Service Bus trigger)
  funchost storage bus-send events "hi" --topic --property kind=greeting
  funchost storage bus-peek orders/$DeadLetterQueue
  funchost storage hubs                         event hubs, partitions, last sequence numbers, checkpoints
  funchost storage hub-send telemetry '{"t": 21}' --partition-key device-1
  funchost storage hub-peek telemetry --partition 0
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "storage",
        help="look inside the app's store and broker: queues, blobs, Service Bus, Event Hubs",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--script-root", dest="script_root", default=".", help="the function app folder")
    parser.add_argument(
        "--connection", default=None, help="the connection setting to use (default AzureWebJobsStorage)"
    )
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>", required=True)
    # the same options after the verb too ('funchost storage queues --script-root app'); SUPPRESS
    # keeps what was given before the verb when they are not repeated
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--script-root", dest="script_root", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    shared.add_argument("--connection", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def verb(name: str, **options: Any) -> argparse.ArgumentParser:
        made: argparse.ArgumentParser = verbs.add_parser(name, parents=[shared], **options)
        return made

    verb("queues", help="list queues with their lengths")
    verb("poison", help="list poison queues with their lengths")
    peek = verb("peek", help="show visible messages of a queue")
    peek.add_argument("queue")
    peek.add_argument("-n", "--count", type=int, default=10)
    put = verb("put", help="put a message into a queue")
    put.add_argument("queue")
    put.add_argument("text", nargs="?", help="message text (or --file)")
    put.add_argument("--file", help="read the message from a file")
    blobs = verb("blobs", help="list containers, or the blobs of one")
    blobs.add_argument("container", nargs="?")
    get = verb("get", help="download a blob (container/name)")
    get.add_argument("path")
    get.add_argument("-o", "--output", help="write to this file instead of standard output")
    upload = verb("upload", help="upload a file as a blob (container/name)")
    upload.add_argument("path")
    upload.add_argument("file")
    verb("tables", help="list tables")
    entities = verb("entities", help="show the entities of a table")
    entities.add_argument("table")
    entities.add_argument("--filter", help="an OData filter, e.g. \"PartitionKey eq 'a' and Age gt 30\"")
    entities.add_argument("-n", "--count", type=int, default=20)
    verb("cosmos", help="list Cosmos DB databases and containers with their document counts")
    cosmos_create = verb("cosmos-create", help="create a Cosmos DB container (and its database)")
    cosmos_create.add_argument("database")
    cosmos_create.add_argument("container")
    cosmos_create.add_argument("--partition-key", dest="partition_key", default="/id", help="its path (default /id)")
    cosmos_query = verb("cosmos-query", help="run a query over a Cosmos DB container")
    cosmos_query.add_argument("database")
    cosmos_query.add_argument("container")
    cosmos_query.add_argument("query", nargs="?", default="SELECT * FROM c")
    verb("bus", help="list Service Bus queues, topics and subscriptions with their message counts")
    bus_peek = verb("bus-peek", help="show the messages of a Service Bus queue or subscription")
    bus_peek.add_argument("entity", help="queue, <topic>/Subscriptions/<name>, or either with /$DeadLetterQueue")
    bus_peek.add_argument("-n", "--count", type=int, default=10)
    bus_send = verb("bus-send", help="send a message to a Service Bus queue or topic")
    bus_send.add_argument("entity")
    bus_send.add_argument("text", nargs="?", help="message text (or --file, or standard input)")
    bus_send.add_argument("--file", help="read the message from a file")
    bus_send.add_argument("--topic", action="store_true", help="the entity is a topic")
    bus_send.add_argument("--session-id", dest="session_id")
    bus_send.add_argument("--content-type", dest="content_type")
    bus_send.add_argument(
        "--property", action="append", default=[], metavar="KEY=VALUE", help="an application property (repeatable)"
    )
    verb("hubs", help="list event hubs with their partitions and checkpoints")
    hub_peek = verb("hub-peek", help="show the events of an event hub")
    hub_peek.add_argument("hub")
    hub_peek.add_argument("--partition", help="one partition (default: all)")
    hub_peek.add_argument("-n", "--count", type=int, default=10, help="events per partition")
    hub_send = verb("hub-send", help="send an event to an event hub")
    hub_send.add_argument("hub")
    hub_send.add_argument("text", nargs="?", help="event body (or --file, or standard input)")
    hub_send.add_argument("--file", help="read the event from a file")
    hub_send.add_argument("--partition-key", dest="partition_key")


def run(args: argparse.Namespace) -> int:
    from funchost.config import AppSettings, apply_to_environ, load_local_settings
    from funchost.storage.auto import StorageResolver
    from funchost.storage.roles import StorageError

    root = Path(args.script_root).resolve()
    if not root.is_dir():
        print(f"The folder '{root}' does not exist (--script-root).", file=sys.stderr)
        return 1
    apply_to_environ(load_local_settings(root), os.environ)
    resolver = StorageResolver(root, AppSettings())
    try:
        import asyncio

        return asyncio.run(_run(resolver, args))
    except StorageError as error:
        print(str(error), file=sys.stderr)
        return 1


async def _run(resolver: Any, args: argparse.Namespace) -> int:
    """Open the store (or broker) the verb works on, run it, close everything opened."""
    try:
        if args.verb.startswith("cosmos"):
            documents = resolver.resolve(DocumentStore, args.connection)
            await documents.open()
            return await _COSMOS_VERBS[args.verb](documents, args)
        if args.verb in _BROKER_VERBS:
            broker = (
                resolver.resolve(ServiceBusStore, args.connection)
                if args.verb.startswith("bus")
                else resolver.resolve(EventHubs, args.connection)
            )
            await broker.open()
            if args.verb in ("hubs",):
                storage = resolver.resolve(StorageProvider, None)  # checkpoints live in the app's store
                await storage.open()
                return await _hubs(broker, storage, args)
            return await _BROKER_VERBS[args.verb](broker, args)
        provider = resolver.resolve(StorageProvider, args.connection)
        await provider.open()
        verb: Callable[[Any, argparse.Namespace], Awaitable[int]] = _VERBS[args.verb]
        return await verb(provider, args)
    finally:
        await resolver.close()


def _body(args: argparse.Namespace) -> bytes:
    if args.file:
        return Path(args.file).read_bytes()
    if args.text is not None:
        return str(args.text).encode("utf-8")
    return sys.stdin.buffer.read()


def _embedded_only(broker: Any, what: str) -> bool:
    if isinstance(broker, BrokerInspection):
        return True
    print(
        f"Listing {what} works on the embedded broker; this connection names a real namespace "
        "(use the Azure portal or the Azure CLI there).",
        file=sys.stderr,
    )
    return False


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
    message = await provider.put(args.queue, _body(args))
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


async def _bus(broker: Any, args: argparse.Namespace) -> int:
    if not _embedded_only(broker, "Service Bus entities"):
        return 1
    entities = await broker.entities()
    for entity in entities:
        dead = "" if entity.kind in ("topic", "deadletter") else f"\t{entity.dead_lettered} dead-lettered"
        count = "" if entity.kind == "topic" else f"\t{entity.active} messages"
        print(f"{entity.path}\t{entity.kind}{count}{dead}")
    if not entities:
        print("(no Service Bus queues or topics)")
    return 0


async def _bus_peek(broker: Any, args: argparse.Namespace) -> int:
    if not _embedded_only(broker, "Service Bus messages"):
        return 1
    for message in await broker.peek(args.entity, args.count):
        body = message.body.decode("utf-8", errors="replace")
        extra = f"\t{message.dead_letter_reason}" if message.dead_letter_reason else ""
        session = f"\tsession {message.session_id}" if message.session_id else ""
        print(
            f"{message.sequence_number}\t{message.message_id}\tdelivered {message.delivery_count}x{session}"
            f"{extra}\t{body}"
        )
    return 0


async def _bus_send(broker: Any, args: argparse.Namespace) -> int:
    from funchost.storage.roles import OutgoingMessage

    properties = {}
    for pair in args.property:
        key, separator, value = pair.partition("=")
        if not separator:
            print(f"--property takes KEY=VALUE, not '{pair}'.", file=sys.stderr)
            return 1
        properties[key] = value
    message = OutgoingMessage(
        _body(args), session_id=args.session_id, content_type=args.content_type, application_properties=properties
    )
    await broker.send(args.entity, [message], topic=args.topic)
    print(f"sent a message to {'topic' if args.topic else 'queue'} '{args.entity}'")
    return 0


async def _hubs(broker: Any, storage: Any, args: argparse.Namespace) -> int:
    from funchost.triggers.eventhub import Checkpoints

    if not _embedded_only(broker, "event hubs"):
        return 1
    hubs = await broker.hubs()
    for hub, partitions, last in hubs:
        print(f"{hub}\t{partitions} partitions")
        checkpoints = await Checkpoints.of_hub(storage, broker.namespace, hub)
        for partition in map(str, range(partitions)):
            newest = last.get(partition)
            marks = ", ".join(
                f"{group} at {sequence}" for group, sequence in sorted(checkpoints.get(partition, {}).items())
            )
            print(
                f"  partition {partition}\tlast sequence number "
                f"{'-' if newest is None else newest}\tcheckpoints: {marks or 'none'}"
            )
    if not hubs:
        print("(no event hubs)")
    return 0


async def _hub_peek(broker: Any, args: argparse.Namespace) -> int:
    if not _embedded_only(broker, "events"):
        return 1
    partitions = [args.partition] if args.partition else await broker.partition_ids(args.hub)
    for partition in partitions:
        for event in await broker.read(args.hub, partition, -1, args.count):
            key = f"\tkey {event.partition_key}" if event.partition_key else ""
            print(
                f"partition {partition}\t{event.sequence_number}\t{event.enqueued_time:%Y-%m-%d %H:%M:%S}{key}"
                f"\t{event.body.decode('utf-8', errors='replace')}"
            )
    return 0


async def _hub_send(broker: Any, args: argparse.Namespace) -> int:
    from funchost.storage.roles import OutgoingEvent

    await broker.send_events(args.hub, [OutgoingEvent(_body(args), args.partition_key)])
    print(f"sent an event to event hub '{args.hub}'")
    return 0


async def _tables(provider: Any, args: argparse.Namespace) -> int:
    names = await provider.list_tables()
    for name in names:
        print(name)
    if not names:
        print("(no tables)")
    return 0


async def _entities(provider: Any, args: argparse.Namespace) -> int:
    for entity in await provider.query_entities(args.table, args.filter, args.count):
        print(json.dumps(entity))
    return 0


async def _cosmos(documents: Any, args: argparse.Namespace) -> int:
    found = await documents.containers()
    for database, container, partition_key_path, count in found:
        print(f"{database}/{container}\tpartition key {partition_key_path}\t{count} documents")
    if not found:
        print("(no Cosmos DB containers)")
    return 0


async def _cosmos_create(documents: Any, args: argparse.Namespace) -> int:
    await documents.create_container(args.database, args.container, args.partition_key)
    print(f"container '{args.database}/{args.container}' (partition key {args.partition_key}) is there")
    return 0


async def _cosmos_query(documents: Any, args: argparse.Namespace) -> int:
    for result in await documents.query_documents(args.database, args.container, args.query):
        print(json.dumps(result))
    return 0


_COSMOS_VERBS: dict[str, Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    "cosmos": _cosmos,
    "cosmos-create": _cosmos_create,
    "cosmos-query": _cosmos_query,
}

_BROKER_VERBS: dict[str, Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    "bus": _bus,
    "bus-peek": _bus_peek,
    "bus-send": _bus_send,
    "hubs": _bus,
    "hub-peek": _hub_peek,
    "hub-send": _hub_send,
}

_VERBS: dict[str, Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    "queues": _queues,
    "poison": _queues,
    "peek": _peek,
    "put": _put,
    "blobs": _blobs,
    "get": _get,
    "upload": _upload,
    "tables": _tables,
    "entities": _entities,
}
