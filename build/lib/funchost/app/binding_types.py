"""Which binding types exist, and which of them funchost runs.

The real host refuses, at load, a function whose binding type no installed extension
registers; funchost does the same, and also refuses types it knows from the extension
bundle but does not run yet, so that neither is first found out at call time.
"""

from __future__ import annotations

# binding types funchost runs: triggers it listens to, inputs it reads, outputs it writes
SUPPORTED = ("httpTrigger", "http", "timerTrigger", "queueTrigger", "queue", "blobTrigger", "blob",
             "serviceBusTrigger", "serviceBus", "eventHubTrigger", "eventHub", "eventGridTrigger", "eventGrid", "table",
             "cosmosDBTrigger", "cosmosDB")

# types the extension bundle registers that funchost does not run yet
NOT_YET = (
    "orchestrationTrigger", "activityTrigger", "entityTrigger",
    "durableClient", "orchestrationClient", "signalR", "signalRConnectionInfo", "signalRTrigger",
    "sendGrid", "twilioSms", "notificationHub", "kafkaTrigger", "kafka", "rabbitMQTrigger", "rabbitMQ",
    "sqlTrigger", "sql", "mysqlTrigger", "mysql", "redisPubSubTrigger", "redisListTrigger",
    "redisStreamTrigger", "redis", "webPubSubTrigger", "webPubSub", "webPubSubConnection", "webPubSubContext",
    "daprServiceInvocationTrigger", "daprBindingTrigger", "daprTopicTrigger", "daprState", "daprSecret",
    "daprInvoke", "daprPublish", "daprBinding", "warmupTrigger", "mobileTable", "documentDB",
)

_SUPPORTED = {name.lower() for name in SUPPORTED}
_NOT_YET = {name.lower() for name in NOT_YET}


def register(binding_type: str) -> None:
    """funchost runs this type from now on (a trigger or binder registered beside the built-in ones)."""
    _SUPPORTED.add(binding_type.lower())
    _NOT_YET.discard(binding_type.lower())


def is_supported(binding_type: str) -> bool:
    return binding_type.lower() in _SUPPORTED


def unsupported_reason(binding_types: list[str]) -> str | None:
    """Why bindings of these types cannot load, or None when funchost runs them all."""
    unknown = [t for t in binding_types if t.lower() not in _SUPPORTED and t.lower() not in _NOT_YET]
    if unknown:
        return (f"The binding type(s) '{', '.join(unknown)}' are not registered. "
                "Please ensure the type is correct and the binding extension is installed.")
    not_yet = [t for t in binding_types if t.lower() in _NOT_YET]
    if not_yet:
        return (f"The binding type(s) '{', '.join(not_yet)}' are not supported by funchost yet "
                f"(it runs: {', '.join(SUPPORTED)}).")
    return None
