"""The function templates ``funchost new`` writes (v1 folders and v2 decorated functions), as data.

Each family's descriptor (``triggers/families.py``) names its templates; ``cli/templates.py``
renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Template:
    name: str  # as Core Tools lists it
    aliases: tuple[str, ...]
    v1_bindings: tuple[dict[str, Any], ...]
    v1_body: str  # the body of main(); {name} is the function name
    v1_signature: str
    v2_decorators: str  # {prefix} is "app" or "bp"
    v2_signature: str
    imports: tuple[str, ...] = ("import logging",)


HTTP_BODY = """    logging.info("Python HTTP trigger function processed a request.")

    name = req.params.get("name")
    if not name:
        try:
            name = req.get_json().get("name")
        except (ValueError, AttributeError):
            name = None

    if name:
        return func.HttpResponse(f"Hello, {{name}}. This HTTP triggered function executed successfully.")
    return func.HttpResponse(
        "This HTTP triggered function executed successfully. "
        "Pass a name in the query string or in the request body for a personalized response.",
        status_code=200,
    )
"""

TIMER_BODY = """    if timer.past_due:
        logging.info("The timer is past due!")
    logging.info("Python timer trigger function ran at %s", datetime.now(timezone.utc).isoformat())
"""

QUEUE_BODY = """    body = msg.get_body().decode("utf-8")
    logging.info("Python queue trigger function processed a message: %s", body)
"""

BLOB_BODY = """    logging.info("Python blob trigger function processed blob %s (%s bytes)", blob.name, blob.length)
"""

SERVICE_BUS_BODY = """    body = msg.get_body().decode("utf-8")
    logging.info("Python ServiceBus trigger processed a message: %s", body)
"""

EVENT_HUB_BODY = """    logging.info("Python EventHub trigger processed an event: %s", event.get_body().decode("utf-8"))
"""

EVENT_GRID_BODY = """    logging.info("Python EventGrid trigger processed an event: %s", json.dumps({{
        "id": event.id, "subject": event.subject, "event_type": event.event_type, "data": event.get_json()}}))
"""

COSMOS_BODY = """    if documents:
        logging.info("Python CosmosDB trigger: %d document(s) changed, the first is %s", len(documents),
                     documents[0]["id"])
"""

HTTP = Template(
    "HTTP trigger",
    ("http", "httptrigger", "http trigger"),
    (
        {
            "authLevel": "{auth_level}",
            "type": "httpTrigger",
            "direction": "in",
            "name": "req",
            "methods": ["get", "post"],
        },
        {"type": "http", "direction": "out", "name": "$return"},
    ),
    HTTP_BODY,
    "req: func.HttpRequest) -> func.HttpResponse",
    '@{prefix}.route(route="{name}", auth_level=func.AuthLevel.{auth_upper})\n',
    "req: func.HttpRequest) -> func.HttpResponse",
)

TIMER = Template(
    "Timer trigger",
    ("timer", "timertrigger", "timer trigger"),
    ({"type": "timerTrigger", "direction": "in", "name": "timer", "schedule": "0 */5 * * * *"},),
    TIMER_BODY,
    "timer: func.TimerRequest) -> None",
    '@{prefix}.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False, use_monitor=False)\n',
    "timer: func.TimerRequest) -> None",
    ("import logging", "from datetime import datetime, timezone"),
)

QUEUE = Template(
    "Queue trigger",
    ("queue", "queuetrigger", "queue trigger", "azure queue storage trigger"),
    (
        {
            "type": "queueTrigger",
            "direction": "in",
            "name": "msg",
            "queueName": "myqueue-items",
            "connection": "AzureWebJobsStorage",
        },
    ),
    QUEUE_BODY,
    "msg: func.QueueMessage) -> None",
    '@{prefix}.queue_trigger(arg_name="msg", queue_name="myqueue-items", connection="AzureWebJobsStorage")\n',
    "msg: func.QueueMessage) -> None",
)

BLOB = Template(
    "Blob trigger",
    ("blob", "blobtrigger", "blob trigger", "azure blob storage trigger"),
    (
        {
            "type": "blobTrigger",
            "direction": "in",
            "name": "blob",
            "path": "samples-workitems/{{name}}",
            "connection": "AzureWebJobsStorage",
        },
    ),
    BLOB_BODY,
    "blob: func.InputStream) -> None",
    '@{prefix}.blob_trigger(arg_name="blob", path="samples-workitems/{{name}}", connection="AzureWebJobsStorage")\n',
    "blob: func.InputStream) -> None",
)

SERVICE_BUS_QUEUE = Template(
    "Azure Service Bus Queue trigger",
    ("servicebus queue trigger", "service bus queue trigger", "servicebusqueuetrigger", "servicebus queue"),
    (
        {
            "type": "serviceBusTrigger",
            "direction": "in",
            "name": "msg",
            "queueName": "mysbqueue",
            "connection": "ServiceBusConnection",
        },
    ),
    SERVICE_BUS_BODY,
    "msg: func.ServiceBusMessage) -> None",
    '@{prefix}.service_bus_queue_trigger(arg_name="msg", queue_name="mysbqueue", connection="ServiceBusConnection")\n',
    "msg: func.ServiceBusMessage) -> None",
)

SERVICE_BUS_TOPIC = Template(
    "Azure Service Bus Topic trigger",
    ("servicebus topic trigger", "service bus topic trigger", "servicebustopictrigger", "servicebus topic"),
    (
        {
            "type": "serviceBusTrigger",
            "direction": "in",
            "name": "msg",
            "topicName": "mysbtopic",
            "subscriptionName": "mysubscription",
            "connection": "ServiceBusConnection",
        },
    ),
    SERVICE_BUS_BODY,
    "msg: func.ServiceBusMessage) -> None",
    '@{prefix}.service_bus_topic_trigger(arg_name="msg", topic_name="mysbtopic", '
    'subscription_name="mysubscription", connection="ServiceBusConnection")\n',
    "msg: func.ServiceBusMessage) -> None",
)

EVENT_HUB = Template(
    "Azure Event Hub trigger",
    ("eventhub trigger", "event hub trigger", "eventhubtrigger", "eventhub", "event hub"),
    (
        {
            "type": "eventHubTrigger",
            "direction": "in",
            "name": "event",
            "eventHubName": "myeventhub",
            "connection": "EventHubConnection",
            "cardinality": "one",
            "consumerGroup": "$Default",
        },
    ),
    EVENT_HUB_BODY,
    "event: func.EventHubEvent) -> None",
    '@{prefix}.event_hub_message_trigger(arg_name="event", event_hub_name="myeventhub", '
    'connection="EventHubConnection")\n',
    "event: func.EventHubEvent) -> None",
)

EVENT_GRID = Template(
    "Azure Event Grid trigger",
    ("eventgrid trigger", "event grid trigger", "eventgridtrigger", "eventgrid"),
    ({"type": "eventGridTrigger", "direction": "in", "name": "event"},),
    EVENT_GRID_BODY,
    "event: func.EventGridEvent) -> None",
    '@{prefix}.event_grid_trigger(arg_name="event")\n',
    "event: func.EventGridEvent) -> None",
    ("import json", "import logging"),
)

COSMOS_DB = Template(
    "Azure Cosmos DB trigger",
    ("cosmosdb trigger", "cosmos db trigger", "cosmosdbtrigger", "cosmosdb", "cosmos"),
    (
        {
            "type": "cosmosDBTrigger",
            "direction": "in",
            "name": "documents",
            "connection": "CosmosDBConnection",
            "databaseName": "my-database",
            "containerName": "my-container",
            "leaseContainerName": "leases",
            "createLeaseContainerIfNotExists": True,
        },
    ),
    COSMOS_BODY,
    "documents: func.DocumentList) -> None",
    '@{prefix}.cosmos_db_trigger(arg_name="documents", connection="CosmosDBConnection", '
    'database_name="my-database", container_name="my-container", lease_container_name="leases", '
    "create_lease_container_if_not_exists=True)\n",
    "documents: func.DocumentList) -> None",
)
