"""Table input and output bindings through real host processes, on the embedded store and on
Azure Storage (Azurite), in both models."""

from __future__ import annotations

import json

TABLE_APP = {
    "function_app.py": """
        import json
        import azure.functions as func

        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.route(route="people/{team}", methods=["POST"])
        @app.table_output(arg_name="out", table_name="People", partition_key="{team}", connection="AzureWebJobsStorage")
        def add(req: func.HttpRequest, out: func.Out[str]) -> str:
            out.set(req.get_body().decode())  # one entity or an array; the route gives the PartitionKey
            return "stored"

        @app.route(route="people/{team}/{id}", methods=["GET"])
        @app.table_input(arg_name="person", table_name="People", partition_key="{team}", row_key="{id}",
                         connection="AzureWebJobsStorage")
        def one(req: func.HttpRequest, person: str) -> func.HttpResponse:
            if person is None:
                return func.HttpResponse("no such person", status_code=404)
            return func.HttpResponse(person, mimetype="application/json")

        @app.route(route="teams/{team}", methods=["GET"])
        @app.table_input(arg_name="people", table_name="People", partition_key="{team}",
                         connection="AzureWebJobsStorage")
        def team(req: func.HttpRequest, people: str) -> str:
            return json.dumps([person["Name"] for person in json.loads(people)])

        @app.route(route="seniors", methods=["GET"])
        @app.table_input(arg_name="people", table_name="People", filter="Age gt {Query.age}", take="2",
                         connection="AzureWebJobsStorage")
        def seniors(req: func.HttpRequest, people: str) -> str:
            return json.dumps([person["Name"] for person in json.loads(people)])

        @app.route(route="broken", methods=["GET"])
        @app.table_input(arg_name="people", table_name="People", filter="Age gt", connection="AzureWebJobsStorage")
        def broken(req: func.HttpRequest, people: str) -> str:
            return people
    """,
}

V1_APP = {
    "Save/function.json": {
        "bindings": [
            {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous", "methods": ["post"]},
            {
                "type": "table",
                "direction": "out",
                "name": "row",
                "tableName": "Notes",
                "partitionKey": "notes",
                "connection": "AzureWebJobsStorage",
            },
            {"type": "http", "direction": "out", "name": "$return"},
        ]
    },
    "Save/__init__.py": """
        import json
        import azure.functions as func

        def main(req: func.HttpRequest, row: func.Out[str]) -> func.HttpResponse:
            row.set(json.dumps({"RowKey": req.params["id"], "Text": req.get_body().decode()}))
            return func.HttpResponse("saved")
    """,
    "Read/function.json": {
        "bindings": [
            {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous", "methods": ["get"]},
            {
                "type": "table",
                "direction": "in",
                "name": "note",
                "tableName": "Notes",
                "partitionKey": "notes",
                "rowKey": "{Query.id}",
                "connection": "AzureWebJobsStorage",
            },
            {"type": "http", "direction": "out", "name": "$return"},
        ]
    },
    "Read/__init__.py": """
        import json
        import azure.functions as func

        def main(req: func.HttpRequest, note: str) -> func.HttpResponse:
            return func.HttpResponse(json.loads(note)["Text"])
    """,
}


def test_table_round_trips_by_route_partition_and_filter(backend, host, app_dir):
    process = host(app_dir(TABLE_APP), env=backend.env())
    people = [
        {"RowKey": "1", "Name": "Ann", "Age": 31},
        {"RowKey": "2", "Name": "Bo", "Age": 64},
        {"RowKey": "3", "Name": "Cy", "Age": 70},
    ]
    assert process.request("POST", "/api/people/red", json.dumps(people)).text == "stored"
    assert (
        process.request("POST", "/api/people/blue", json.dumps({"RowKey": "1", "Name": "Dee", "Age": 50})).status == 200
    )
    ann = process.request("GET", "/api/people/red/1").json()
    assert (ann["PartitionKey"], ann["RowKey"], ann["Name"], ann["Age"]) == ("red", "1", "Ann", 31)
    assert ann["Timestamp"]
    assert process.request("GET", "/api/people/red/9").status == 404  # no entity: None
    assert process.request("GET", "/api/teams/red").json() == ["Ann", "Bo", "Cy"]  # the whole partition
    assert process.request("GET", "/api/seniors?age=40").json() == ["Dee", "Bo"]  # filter, take 2, key order
    assert process.request("GET", "/api/broken").status == 500
    process.wait_for_output("the 'people' binding (table 'People'): the filter 'Age gt' cannot be read")


def test_an_entity_without_a_row_key_is_a_clear_error(backend, host, app_dir):
    process = host(app_dir(TABLE_APP), env=backend.env())
    assert process.request("POST", "/api/people/red", json.dumps({"Name": "Nobody"})).status == 500
    process.wait_for_output("an entity for the 'out' binding (table) has no RowKey")


def test_v1_table_output_then_input(backend, host, app_dir):
    process = host(app_dir(V1_APP), env=backend.env())
    assert process.request("POST", "/api/Save?id=n1", "remember the milk").text == "saved"
    assert process.request("GET", "/api/Read?id=n1").text == "remember the milk"
