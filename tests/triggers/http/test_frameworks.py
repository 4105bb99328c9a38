"""FastAPI and Flask apps served through AsgiFunctionApp/WsgiFunctionApp and the v1 middlewares."""

from __future__ import annotations

NO_PREFIX = {"version": "2.0", "extensions": {"http": {"routePrefix": ""}}}

FASTAPI_V2 = {
    "host.json": NO_PREFIX,
    "function_app.py": """
        import azure.functions as func
        from fastapi import FastAPI, Request

        fast_app = FastAPI()

        @fast_app.get("/return_http_no_body")
        async def return_http_no_body():
            return {"ok": True}

        @fast_app.get("/items/{item_id}")
        async def read_item(item_id: int, q: str | None = None):
            return {"item_id": item_id, "q": q}

        @fast_app.get("/wrong_length")
        async def wrong_length():
            from fastapi.responses import Response

            return Response("hello", headers={"Content-Length": "3"})

        @fast_app.post("/echo")
        async def echo(request: Request):
            return {"got": await request.json(), "path": request.url.path}

        app = func.AsgiFunctionApp(app=fast_app, http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=False)
        def beside_the_web_app(timer: func.TimerRequest) -> None:
            pass
    """,
}

FLASK_V2 = {
    "host.json": NO_PREFIX,
    "function_app.py": """
        import azure.functions as func
        from flask import Flask, request

        flask_app = Flask(__name__)

        @flask_app.get("/hello/<name>")
        def hello(name):
            return f"Hello, {name}! q={request.args.get('q')}"

        @flask_app.post("/json")
        def json_echo():
            return {"received": request.get_json()}

        app = func.WsgiFunctionApp(app=flask_app.wsgi_app, http_auth_level=func.AuthLevel.ANONYMOUS)
    """,
}

MIDDLEWARE_V1 = {
    "host.json": NO_PREFIX,
    "FastApi/function.json": {
        "scriptFile": "__init__.py",
        "bindings": [
            {
                "authLevel": "anonymous",
                "type": "httpTrigger",
                "direction": "in",
                "name": "req",
                "route": "fast/{*route}",
            },
            {"type": "http", "direction": "out", "name": "$return"},
        ],
    },
    "FastApi/__init__.py": """
        import azure.functions as func
        from fastapi import FastAPI

        fast_app = FastAPI()

        @fast_app.get("/fast/hello/{name}")
        async def hello(name: str):
            return {"hello": name}

        def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
            return func.AsgiMiddleware(fast_app).handle(req, context)
    """,
    "FlaskApp/function.json": {
        "scriptFile": "__init__.py",
        "bindings": [
            {
                "authLevel": "anonymous",
                "type": "httpTrigger",
                "direction": "in",
                "name": "req",
                "route": "flask/{*route}",
            },
            {"type": "http", "direction": "out", "name": "$return"},
        ],
    },
    "FlaskApp/__init__.py": """
        import azure.functions as func
        from flask import Flask

        flask_app = Flask(__name__)

        @flask_app.get("/flask/hi")
        def hi():
            return "hi from flask"

        def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
            return func.WsgiMiddleware(flask_app.wsgi_app).handle(req, context)
    """,
}


def test_fastapi_through_asgi_function_app(host, app_dir):
    process = host(app_dir(FASTAPI_V2))
    assert process.request("GET", "/items/5?q=x").json() == {"item_id": 5, "q": "x"}
    assert process.request("GET", "/items/notanint").status == 422
    assert process.request("POST", "/echo", '{"a": 1}', {"Content-Type": "application/json"}).json() == {
        "got": {"a": 1},
        "path": "/echo",
    }
    assert process.request("GET", "/no/such/route").status == 404
    assert "\tbeside_the_web_app: timerTrigger" in process.output
    wrong = process.request("GET", "/wrong_length")  # the host computes it from the body, as the real host does
    assert wrong.body == b"hello" and wrong.headers.get_all("content-length") == ["5"]
    assert "Response content longer than Content-Length" not in process.output
    # FastAPI sets Content-Length itself: the response carries one, the right one
    answer = process.request("GET", "/items/5?q=x")
    assert answer.headers.get_all("content-length") == [str(len(answer.body))]


def test_flask_through_wsgi_function_app(host, app_dir):
    process = host(app_dir(FLASK_V2))
    assert process.request("GET", "/hello/Ann?q=1").text == "Hello, Ann! q=1"
    assert process.request("POST", "/json", '{"x": [1]}', {"Content-Type": "application/json"}).json() == {
        "received": {"x": [1]}
    }


def test_v1_functions_with_asgi_and_wsgi_middleware(host, app_dir):
    process = host(app_dir(MIDDLEWARE_V1))
    assert process.request("GET", "/fast/hello/Bo").json() == {"hello": "Bo"}
    assert process.request("GET", "/flask/hi").text == "hi from flask"
