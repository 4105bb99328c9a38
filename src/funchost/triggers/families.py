"""Every binding family funchost runs, one descriptor each.

A descriptor holds everything funchost knows about a family: its trigger and binding types,
the modules that serve them (imported only when an app uses the family), whether retry
policies apply, its webhook, its OpenTelemetry ``faas.trigger``, its KEDA scaler, whether
dict outputs are sent as JSON, its ``funchost new`` templates and whether it runs by hand.
No other list names binding types. Adding a family is one ``Family`` here (or a call to
``register`` from outside, as a test does) plus its modules.

The module loaders are small functions so that mypy checks each module against its
contract (``TriggerModule``, ``InputBinder``, ...): modules implement Protocols.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from funchost.app.model import BindingSpec
from funchost.config import HostConfig
from funchost.storage.azure import EVENTHUB_CHECKPOINT_CONTAINER
from funchost.triggers import templates

if TYPE_CHECKING:
    from funchost.bindings.binders import Binder, InputBinder, OutputBinder
    from funchost.triggers.base import (
        ByHandModule,
        ByHandTrigger,
        SampledTrigger,
        SampleModule,
        TriggerModule,
        WebhookModule,
        WebhookTrigger,
    )

Metadata = dict[str, str]


@dataclass(frozen=True)
class KedaScaler:
    """The KEDA scaler that scales a family's trigger, and the metadata it needs per function."""

    type: str
    metadata: Callable[[BindingSpec, HostConfig], Metadata]
    # a second secret the scaler reads (Event Hubs checkpoints live in the app's storage)
    storage_connection: bool = False


@dataclass(frozen=True, eq=False)  # a family is itself: compared and hashed by identity
class Family:
    """One binding family: its types, its modules and what the rest of funchost asks about it."""

    name: str
    trigger: str | None = None  # the trigger binding type
    binding: str | None = None  # the input/output binding type
    listen: Callable[[], TriggerModule] | None = None  # None: the HTTP app serves the trigger
    reads: Callable[[], InputBinder] | None = None
    writes: Callable[[], OutputBinder] | None = None
    # an invocation by hand built from text alone, or one that reads storage (a blob trigger)
    sample: Callable[[], SampleModule] | None = None
    by_hand: Callable[[], ByHandModule] | None = None
    # the real host applies @app.retry / host.json retry policies to these triggers only; the
    # others retry in their own way (dequeue counts, blob receipts, delivery counts)
    retry_policy: bool = False
    # served by the HTTP app at /runtime/webhooks/<webhook>, with the <webhook>_extension key
    webhook: str | None = None
    webhook_module: Callable[[], WebhookModule] | None = None
    faas_trigger: str = "other"  # OpenTelemetry's faas.trigger
    # the connection setting a binding without ``connection`` uses (for the Kubernetes secret and scaler)
    default_connection: str | None = None
    keda: KedaScaler | None = None
    # nothing external says when it fires (a timer): a scaled-out worker keeps one replica up for it
    always_on: bool = False
    # outputs whose library converters take only text, where the real host also takes JSON values
    json_outputs: bool = False
    templates: tuple[templates.Template, ...] = field(default=())

    def types(self) -> list[str]:
        return [name for name in (self.trigger, self.binding) if name]


def _timer() -> SampledTrigger:
    from funchost.triggers import timer

    return timer


def _queue() -> SampledTrigger:
    from funchost.triggers import queue

    return queue


def _queue_out() -> OutputBinder:
    from funchost.bindings import queue

    return queue


def _blob() -> ByHandTrigger:
    from funchost.triggers import blob

    return blob


def _blob_io() -> Binder:
    from funchost.bindings import blob

    return blob


def _servicebus() -> SampledTrigger:
    from funchost.triggers import servicebus

    return servicebus


def _servicebus_out() -> OutputBinder:
    from funchost.bindings import servicebus

    return servicebus


def _eventhub() -> SampledTrigger:
    from funchost.triggers import eventhub

    return eventhub


def _eventhub_out() -> OutputBinder:
    from funchost.bindings import eventhub

    return eventhub


def _eventgrid() -> WebhookTrigger:
    from funchost.triggers import eventgrid

    return eventgrid


def _eventgrid_out() -> OutputBinder:
    from funchost.bindings import eventgrid

    return eventgrid


def _table_io() -> Binder:
    from funchost.bindings import table

    return table


def _cosmosdb() -> SampledTrigger:
    from funchost.triggers import cosmosdb

    return cosmosdb


def _cosmosdb_io() -> Binder:
    from funchost.bindings import cosmosdb

    return cosmosdb


def _queue_scaler(trigger: BindingSpec, host_config: HostConfig) -> Metadata:
    batch = host_config.get("extensions.queues.batchSize") or 16
    return {"queueName": str(trigger.setting("queueName")), "queueLength": str(batch)}


def _blob_scaler(trigger: BindingSpec, host_config: HostConfig) -> Metadata:
    container, _, prefix = str(trigger.setting("path") or "").partition("/")
    metadata = {"blobContainerName": container, "blobCount": "5"}
    literal = prefix.split("{", 1)[0]
    if literal:
        metadata["blobPrefix"] = literal
    return metadata


def _servicebus_scaler(trigger: BindingSpec, host_config: HostConfig) -> Metadata:
    if trigger.setting("queueName"):
        metadata = {"queueName": str(trigger.setting("queueName"))}
    else:
        metadata = {
            "topicName": str(trigger.setting("topicName")),
            "subscriptionName": str(trigger.setting("subscriptionName")),
        }
    metadata["messageCount"] = "5"
    return metadata


def _eventhub_scaler(trigger: BindingSpec, host_config: HostConfig) -> Metadata:
    return {
        "eventHubName": str(trigger.setting("eventHubName")),
        "consumerGroup": str(trigger.setting("consumerGroup") or "$Default"),
        "checkpointStrategy": "azureFunction",
        "blobContainer": EVENTHUB_CHECKPOINT_CONTAINER,
        "unprocessedEventThreshold": "64",
    }


FAMILIES: list[Family] = [
    Family("http", "httpTrigger", "http", faas_trigger="http", templates=(templates.HTTP,)),
    Family(
        "timer",
        "timerTrigger",
        listen=_timer,
        sample=_timer,
        retry_policy=True,
        faas_trigger="timer",
        always_on=True,
        templates=(templates.TIMER,),
    ),
    Family(
        "queue",
        "queueTrigger",
        "queue",
        listen=_queue,
        writes=_queue_out,
        sample=_queue,
        faas_trigger="pubsub",
        keda=KedaScaler("azure-queue", _queue_scaler),
        default_connection="AzureWebJobsStorage",
        templates=(templates.QUEUE,),
    ),
    Family(
        "blob",
        "blobTrigger",
        "blob",
        listen=_blob,
        reads=_blob_io,
        writes=_blob_io,
        by_hand=_blob,
        faas_trigger="datasource",
        keda=KedaScaler("azure-blob", _blob_scaler),
        default_connection="AzureWebJobsStorage",
        templates=(templates.BLOB,),
    ),
    Family(
        "serviceBus",
        "serviceBusTrigger",
        "serviceBus",
        listen=_servicebus,
        writes=_servicebus_out,
        sample=_servicebus,
        faas_trigger="pubsub",
        json_outputs=True,
        keda=KedaScaler("azure-servicebus", _servicebus_scaler),
        default_connection="AzureWebJobsServiceBus",
        templates=(templates.SERVICE_BUS_QUEUE, templates.SERVICE_BUS_TOPIC),
    ),
    Family(
        "eventHub",
        "eventHubTrigger",
        "eventHub",
        listen=_eventhub,
        writes=_eventhub_out,
        sample=_eventhub,
        retry_policy=True,
        faas_trigger="pubsub",
        json_outputs=True,
        keda=KedaScaler("azure-eventhub", _eventhub_scaler, storage_connection=True),
        templates=(templates.EVENT_HUB,),
    ),
    Family(
        "eventGrid",
        "eventGridTrigger",
        "eventGrid",
        listen=_eventgrid,
        writes=_eventgrid_out,
        sample=_eventgrid,
        webhook="eventgrid",
        webhook_module=_eventgrid,
        faas_trigger="pubsub",
        json_outputs=True,
        templates=(templates.EVENT_GRID,),
    ),
    Family("table", binding="table", reads=_table_io, writes=_table_io, default_connection="AzureWebJobsStorage"),
    Family(
        "cosmosDB",
        "cosmosDBTrigger",
        "cosmosDB",
        listen=_cosmosdb,
        reads=_cosmosdb_io,
        writes=_cosmosdb_io,
        sample=_cosmosdb,
        retry_policy=True,
        faas_trigger="datasource",
        json_outputs=True,
        templates=(templates.COSMOS_DB,),
    ),
]

# types the extension bundle registers that funchost does not run yet: they are load errors
# that say so, rather than "not registered"
NOT_YET = (
    "orchestrationTrigger", "activityTrigger", "entityTrigger", "durableClient", "orchestrationClient",
    "signalR", "signalRConnectionInfo", "signalRTrigger", "sendGrid", "twilioSms", "notificationHub",
    "kafkaTrigger", "kafka", "rabbitMQTrigger", "rabbitMQ", "sqlTrigger", "sql", "mysqlTrigger", "mysql",
    "redisPubSubTrigger", "redisListTrigger", "redisStreamTrigger", "redis", "webPubSubTrigger", "webPubSub",
    "webPubSubConnection", "webPubSubContext", "daprServiceInvocationTrigger", "daprBindingTrigger",
    "daprTopicTrigger", "daprState", "daprSecret", "daprInvoke", "daprPublish", "daprBinding", "warmupTrigger",
    "mobileTable", "documentDB",
)  # fmt: skip


class Catalog:
    """The families, looked up by binding type (case-insensitive, as the real host matches)."""

    def __init__(self, families: list[Family]) -> None:
        self._families: list[Family] = []
        self._by_type: dict[str, Family] = {}
        self._not_yet = {name.lower() for name in NOT_YET}
        for family in families:
            self.register(family)

    def register(self, family: Family) -> None:
        """Run ``family`` from now on; its types then load in apps."""
        self._families = [known for known in self._families if known.name != family.name] + [family]
        for binding_type in family.types():
            self._by_type[binding_type.lower()] = family
            self._not_yet.discard(binding_type.lower())

    def unregister(self, name: str) -> None:
        """Forget the family ``name`` (tests put the catalog back as they found it)."""
        self._families = [family for family in self._families if family.name != name]
        self._by_type = {key: family for key, family in self._by_type.items() if family.name != name}

    def __iter__(self) -> Iterator[Family]:
        return iter(list(self._families))

    def of(self, binding_type: str) -> Family | None:
        """The family a trigger or binding type belongs to."""
        return self._by_type.get(binding_type.lower())

    def trigger(self, binding_type: str) -> Family | None:
        """The family whose trigger this type is (not its input/output binding)."""
        family = self.of(binding_type)
        return family if family is not None and (family.trigger or "").lower() == binding_type.lower() else None

    def unsupported_reason(self, binding_types: list[str]) -> str | None:
        """Why bindings of these types cannot load, or None when funchost runs them all."""
        unknown = [t for t in binding_types if t.lower() not in self._by_type and t.lower() not in self._not_yet]
        if unknown:
            return (
                f"The binding type(s) '{', '.join(unknown)}' are not registered. "
                "Please ensure the type is correct and the binding extension is installed."
            )
        not_yet = [t for t in binding_types if t.lower() in self._not_yet]
        if not_yet:
            runs = ", ".join(name for family in self._families for name in family.types())
            return f"The binding type(s) '{', '.join(not_yet)}' are not supported by funchost yet (it runs: {runs})."
        return None

    def webhooks(self) -> dict[str, Family]:
        """The families the HTTP app serves as webhooks, by the path's extension name."""
        return {family.webhook: family for family in self._families if family.webhook}

    def applies_retry_policy(self, trigger_type: str) -> bool:
        family = self.trigger(trigger_type)
        return family is not None and family.retry_policy

    def faas_trigger(self, trigger_type: str) -> str:
        family = self.trigger(trigger_type)
        return family.faas_trigger if family is not None else "other"

    def sends_json(self, binding_type: str) -> bool:
        family = self.of(binding_type)
        return family is not None and family.json_outputs

    def input_binder(self, binding_type: str) -> InputBinder | None:
        family = self.of(binding_type)
        return family.reads() if family is not None and family.reads is not None else None

    def output_binder(self, binding_type: str) -> OutputBinder | None:
        family = self.of(binding_type)
        return family.writes() if family is not None and family.writes is not None else None

    def templates(self) -> list[templates.Template]:
        return [template for family in self._families for template in family.templates]


CATALOG = Catalog(FAMILIES)
