"""Cosmos DB trigger, input and output end to end: real host processes on the embedded store."""

from __future__ import annotations

import json
from collections import Counter

from tests.cli.test_workflow import funchost
from tests.triggers.test_eventhub import peek_seen
from tests.waiting import wait_until

COSMOS_APP = {
    "function_app.py": """
        import json
        import os
        import azure.functions as func

        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.route(route="items", methods=["POST"])
        @app.cosmos_db_output(arg_name="out", database_name="shop", container_name="items",
                              connection="CosmosConnection", create_if_not_exists=True, partition_key="/category")
        def add(req: func.HttpRequest, out: func.Out[func.DocumentList]) -> str:
            body = req.get_json()
            documents = body if isinstance(body, list) else [body]
            out.set(func.DocumentList(func.Document.from_dict(d) for d in documents))
            return "stored"

        @app.route(route="items/{category}/{id}")
        @app.cosmos_db_input(arg_name="docs", database_name="shop", container_name="items",
                             connection="CosmosConnection", id="{id}", partition_key="{category}")
        def get(req: func.HttpRequest, docs: func.DocumentList) -> func.HttpResponse:
            if not docs:
                return func.HttpResponse("no such item", status_code=404)
            return func.HttpResponse(docs[0].to_json(), mimetype="application/json")

        @app.route(route="categories/{category}")
        @app.cosmos_db_input(arg_name="docs", database_name="shop", container_name="items",
                             connection="CosmosConnection",
                             sql_query=("SELECT c.id, c.price FROM c WHERE c.category = {category} "
                                        "ORDER BY c.price DESC"))
        def by_category(req: func.HttpRequest, docs: func.DocumentList) -> str:
            return json.dumps([dict(d) for d in docs])

        @app.route(route="broken")
        @app.cosmos_db_input(arg_name="docs", database_name="shop", container_name="items",
                             connection="CosmosConnection", sql_query="SELECT * FROM c JOIN t IN c.tags")
        def broken(req: func.HttpRequest, docs: func.DocumentList) -> str:
            return "never"

        @app.cosmos_db_trigger(arg_name="docs", database_name="shop", container_name="items",
                               connection="CosmosConnection", lease_container_name="leases",
                               start_from_beginning=True, feed_poll_delay=500)
        @app.queue_output(arg_name="$return", queue_name="seen", connection="AzureWebJobsStorage")
        def changes(docs: func.DocumentList) -> str:
            return json.dumps([f"{d['id']} {d['_etag']} {d['_lsn']} {os.getpid()}" for d in docs])
    """,
}


def test_output_then_reads_by_route_parameter_and_by_query(host, app_dir):
    process = host(app_dir(COSMOS_APP))
    items = [
        {"id": "hammer", "category": "tools", "price": 12},
        {"id": "saw", "category": "tools", "price": 30},
        {"id": "ball", "category": "toys", "price": 3},
    ]
    assert process.request("POST", "/api/items", json.dumps(items)).text == "stored"
    hammer = process.request("GET", "/api/items/tools/hammer").json()
    assert (hammer["id"], hammer["price"]) == ("hammer", 12)
    assert hammer["_rid"] and hammer["_self"].startswith("dbs/") and hammer["_etag"].startswith('"')
    assert isinstance(hammer["_ts"], int) and "_lsn" not in hammer  # point reads carry no _lsn
    assert process.request("GET", "/api/items/toys/hammer").status == 404  # wrong partition: not found
    assert process.request("GET", "/api/categories/tools").json() == [
        {"id": "saw", "price": 30},
        {"id": "hammer", "price": 12},
    ]
    quoted = process.request("GET", "/api/categories/tools%27%20OR%20c.category%20%3D%20%27toys")  # a value, not SQL
    assert quoted.status == 200 and quoted.json() == []
    again = {"id": "hammer", "category": "tools", "price": 14}
    assert process.request("POST", "/api/items", json.dumps(again)).text == "stored"
    updated = process.request("GET", "/api/items/tools/hammer").json()
    assert updated["price"] == 14 and updated["_etag"] != hammer["_etag"]
    assert process.request("GET", "/api/broken").status == 500
    process.wait_for_output("uses JOIN, which the embedded store does not support")


def test_the_change_feed_reaches_one_of_two_hosts_exactly_once_and_again_after_an_upsert(host, app_dir):
    app = app_dir(COSMOS_APP)
    created = funchost("storage", "cosmos-create", "shop", "items", "--partition-key", "/category", cwd=app)
    assert created.returncode == 0
    assert funchost("storage", "cosmos-create", "shop", "leases", cwd=app).returncode == 0
    first, second = host(app, "--verbose"), host(app, "--verbose")
    for process in (first, second):  # the four feed ranges shared out before anything is written
        wait_until(lambda p=process: p.output.count("is now processed by") >= 2, 30, "the ranges were not shared")
    items = [{"id": f"item{index}", "category": f"c{index % 7}", "price": index} for index in range(40)]
    assert first.request("POST", "/api/items", json.dumps(items)).text == "stored"
    wait_until(lambda: len(changes(app)) == 40, 30, "not every change arrived")
    seen = changes(app)
    assert Counter(line.split()[0] for line in seen) == Counter(f"item{index}" for index in range(40))  # once each
    assert len({line.split()[3] for line in seen}) == 2  # both hosts took part
    etag = next(line.split()[1] for line in seen if line.startswith("item5 "))
    upsert = json.dumps({"id": "item5", "category": "c5", "price": 99})
    assert second.request("POST", "/api/items", upsert).status == 200
    wait_until(lambda: len(changes(app)) == 41, 30, "the upsert did not come through the feed")
    latest = changes(app)[-1].split()
    assert latest[0] == "item5" and latest[1] != etag and int(latest[2]) > 40


def changes(app) -> list[str]:
    """What the trigger saw: "<id> <etag> <lsn> <pid>" per document (a JSON array output is a message each)."""
    return peek_seen(app)


def test_a_missing_lease_container_is_named_and_creating_it_starts_the_trigger(host, app_dir):
    app = app_dir(COSMOS_APP)
    process = host(app)
    assert process.request("POST", "/api/items", json.dumps({"id": "a", "category": "x", "price": 1})).status == 200
    process.wait_for_output(
        "The listener for function 'Functions.changes' was unable to start. The lease container "
        "'leases' does not exist in database 'shop': create it, or set "
        "create_lease_container_if_not_exists",
        timeout=15,
    )
    assert process.request("GET", "/api/items/x/a").status == 200  # the rest of the app serves
    waiting = process.request("GET", "/admin/host/ready")
    assert waiting.status == 503 and waiting.json() == {"ready": False, "waitingFor": ["Functions.changes"]}
    assert funchost("storage", "cosmos-create", "shop", "leases", cwd=app).returncode == 0
    wait_until(lambda: [line.split()[0] for line in changes(app)] == ["a"], 30, "the trigger did not start")
    ready = process.request("GET", "/admin/host/ready")
    assert ready.status == 200 and ready.json() == {"ready": True, "waitingFor": []}


V1_APP = {
    "Watch/function.json": {
        "bindings": [
            {
                "type": "cosmosDBTrigger",
                "direction": "in",
                "name": "docs",
                "databaseName": "notes",
                "collectionName": "entries",
                "connectionStringSetting": "Cosmos",
                "leaseCollectionName": "leases",
                "createLeaseCollectionIfNotExists": True,
                "startFromBeginning": True,
                "feedPollDelay": 500,
            },
            {
                "type": "cosmosDB",
                "direction": "out",
                "name": "$return",
                "databaseName": "notes",
                "collectionName": "audit",
                "connectionStringSetting": "Cosmos",
                "createIfNotExists": True,
            },
        ]
    },
    "Watch/__init__.py": """
        import azure.functions as func

        def main(docs: func.DocumentList) -> func.Document:
            return func.Document.from_dict({"id": "audit-" + docs[0]["id"], "seen": [d["id"] for d in docs]})
    """,
    "Read/function.json": {
        "bindings": [
            {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous"},
            {
                "type": "cosmosDB",
                "direction": "in",
                "name": "docs",
                "databaseName": "notes",
                "collectionName": "audit",
                "connectionStringSetting": "Cosmos",
                "id": "{Query.id}",
                "partitionKey": "{Query.id}",
            },
            {"type": "http", "direction": "out", "name": "$return"},
        ]
    },
    "Read/__init__.py": """
        import azure.functions as func

        def main(req: func.HttpRequest, docs: func.DocumentList) -> func.HttpResponse:
            return func.HttpResponse(",".join(docs[0]["seen"]) if docs else "none")
    """,
}


def test_v1_function_json_trigger_output_and_input(host, app_dir):
    app = app_dir(V1_APP)
    assert funchost("storage", "cosmos-create", "notes", "entries", cwd=app).returncode == 0
    process = host(app)
    import asyncio

    from funchost.storage.embedded.documents import EmbeddedDocuments

    async def write() -> None:
        store = EmbeddedDocuments(app / ".funchost" / "storage")
        await store.upsert_documents("notes", "entries", [{"id": "n1", "text": "hello"}])
        await store.close()

    asyncio.run(write())
    wait_until(lambda: process.request("GET", "/api/Read?id=audit-n1").text == "n1", 30, "the v1 chain did not run")
