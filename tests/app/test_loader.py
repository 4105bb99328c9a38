"""Loading v1 and v2 apps into the index, and the errors for broken functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from funchost.app import Direction, ParamKind, load_app
from funchost.config import AppSettings, HostConfig
from funchost.triggers.families import CATALOG
from tests.conftest import EXAMPLES


def load(root: Path, env: dict[str, str] | None = None, host: dict | None = None):
    return load_app(root, AppSettings(env or {}), HostConfig(host or {"version": "2.0"}), CATALOG)


def errors_of(index) -> dict[str | None, str]:
    return {e.function: str(e) for e in index.errors}


def test_v1_example_index():
    index = load(EXAMPLES / "v1_app")
    assert index.model == "v1"
    assert index.errors == []
    assert sorted(index.functions) == ["AltEntry", "HttpTrigger"]
    http = index.functions["HttpTrigger"]
    assert http.entry_point == "main"
    assert http.script_file.name == "__init__.py"
    assert http.trigger.type == "httpTrigger" and http.trigger.name == "req"
    assert http.return_binding is not None and http.return_binding.type == "http"
    assert [(p.name, p.kind) for p in http.params] == [("req", ParamKind.INPUT)]
    alt = index.functions["AltEntry"]
    assert alt.script_file.name == "handlers.py" and alt.entry_point == "handle"
    assert [(p.name, p.kind) for p in alt.params] == [
        ("request", ParamKind.INPUT),
        ("response", ParamKind.OUTPUT),
        ("context", ParamKind.CONTEXT),
    ]
    assert alt.return_binding is None


def test_v2_example_index_with_blueprint_and_function_name():
    index = load(EXAMPLES / "v2_app")
    assert index.model == "v2"
    assert index.errors == []
    assert set(index.functions) == {
        "hello",
        "echo",
        "products",
        "default_template",
        "HttpExample",
        "queue_trigger",
        "blob_trigger",
    }
    echo = index.functions["echo"]
    assert echo.entry_point == "echo_json"
    assert echo.trigger.setting("methods") == ["POST"]
    assert [b.direction for b in echo.bindings] == [Direction.IN, Direction.OUT]
    assert index.functions["products"].is_async
    assert index.functions["default_template"].script_file.name == "http_blueprint.py"


def test_v1_disabled_by_function_json_and_by_setting(app_dir):
    root = app_dir(
        {
            "A/function.json": {
                "disabled": True,
                "bindings": [{"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": "q"}],
            },
            "A/__init__.py": "def main(msg):\n    pass\n",
            "B/function.json": {
                "bindings": [{"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": "q"}]
            },
            "B/__init__.py": "def main(msg):\n    pass\n",
        }
    )
    index = load(root, env={"AzureWebJobs.B.Disabled": "true"})
    assert index.functions["A"].disabled and index.functions["B"].disabled
    assert not load(root).functions["B"].disabled


def test_host_json_functions_allow_list_is_case_insensitive(app_dir):
    root = app_dir(
        {
            "function_app.py": """
            import azure.functions as func
            app = func.FunctionApp()

            @app.route()
            def one(req): return "1"

            @app.route()
            def two(req): return "2"
        """,
        }
    )
    index = load(root, host={"version": "2.0", "functions": ["ONE"]})
    assert list(index.functions) == ["one"]


BROKEN_V1 = {
    "Good/function.json": {
        "bindings": [
            {"type": "httpTrigger", "direction": "in", "name": "req"},
            {"type": "http", "direction": "out", "name": "$return"},
        ]
    },
    "Good/__init__.py": "def main(req):\n    return 'ok'\n",
    "Unbound/function.json": {
        "bindings": [
            {"type": "httpTrigger", "direction": "in", "name": "req"},
            {"type": "http", "direction": "out", "name": "$return"},
        ]
    },
    "Unbound/__init__.py": "def main(req, extra):\n    return 'x'\n",
    "NoParam/function.json": {
        "bindings": [
            {"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": "q"},
            {"type": "blob", "direction": "in", "name": "doc", "path": "c/b"},
        ]
    },
    "NoParam/__init__.py": "def main(msg):\n    pass\n",
    "OutOnIn/function.json": {
        "bindings": [{"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": "q"}]
    },
    "OutOnIn/__init__.py": "import azure.functions as func\ndef main(msg: func.Out[str]):\n    pass\n",
    "ReturnNoBinding/function.json": {
        "bindings": [{"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": "q"}]
    },
    "ReturnNoBinding/__init__.py": "def main(msg) -> str:\n    return 'x'\n",
    "BadAnnotation/function.json": {
        "bindings": [{"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": "q"}]
    },
    "BadAnnotation/__init__.py": "def main(msg: dict):\n    pass\n",
    "TwoTriggers/function.json": {
        "bindings": [
            {"type": "queueTrigger", "direction": "in", "name": "a", "queueName": "q"},
            {"type": "timerTrigger", "direction": "in", "name": "b", "schedule": "* * * * * *"},
        ]
    },
    "TwoTriggers/__init__.py": "def main(a, b):\n    pass\n",
    "NoTrigger/function.json": {"bindings": [{"type": "blob", "direction": "in", "name": "doc", "path": "c/b"}]},
    "NoTrigger/__init__.py": "def main(doc):\n    pass\n",
    "MissingModule/function.json": {"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"}]},
    "MissingModule/__init__.py": "import does_not_exist\n\ndef main(req):\n    pass\n",
    "BadJson/function.json": "{not json",
    "BadJson/__init__.py": "def main(req):\n    pass\n",
    "NoEntry/function.json": {
        "entryPoint": "run",
        "bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"}],
    },
    "NoEntry/__init__.py": "def main(req):\n    pass\n",
    "Raises/function.json": {"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"}]},
    "Raises/__init__.py": "x = 1\nraise RuntimeError('boom at import')\n",
}


def test_broken_v1_functions_are_reported_and_the_rest_loads(app_dir):
    root = app_dir(BROKEN_V1)
    index = load(root)
    assert list(index.functions) == ["Good"]
    errors = errors_of(index)
    assert set(errors) == {name.split("/")[0] for name in BROKEN_V1} - {"Good"}
    assert "'extra'" in errors["Unbound"] and "declared in Python but not in the bindings" in errors["Unbound"]
    assert "binding 'extra'" in errors["Unbound"]
    assert "Unbound/function.json" in errors["Unbound"]
    assert "'doc'" in errors["NoParam"] and "no parameter in Python" in errors["NoParam"]
    assert '"in" direction' in errors["OutOnIn"] and "binding 'msg'" in errors["OutOnIn"]
    assert 'return annotation ("str")' in errors["ReturnNoBinding"]
    assert 'does not match its Python annotation "dict"' in errors["BadAnnotation"]
    assert "more than one trigger" in errors["TwoTriggers"]
    assert "no trigger binding" in errors["NoTrigger"]
    assert "No module named 'does_not_exist'" in errors["MissingModule"]
    assert "requirements.txt" in errors["MissingModule"]
    assert "MissingModule/__init__.py:1" in errors["MissingModule"]
    assert "not valid JSON" in errors["BadJson"]
    assert "function run() is not present" in errors["NoEntry"]
    assert "RuntimeError: boom at import" in errors["Raises"] and "Raises/__init__.py:2" in errors["Raises"]


def test_broken_v2_function_does_not_take_the_app_down(app_dir):
    root = app_dir(
        {
            "function_app.py": """
            import azure.functions as func
            app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

            @app.route(route="ok")
            def ok(req: func.HttpRequest) -> func.HttpResponse:
                return func.HttpResponse("ok")

            @app.route(route="bad")
            def bad(req: func.HttpRequest, other: str) -> func.HttpResponse:
                return func.HttpResponse("bad")

            @app.function_name("ok")
            @app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
            def duplicate(msg: func.QueueMessage) -> None:
                pass

            @app.function_name("bad name!")
            @app.route()
            def invalid_name(req):
                return "x"

            @app.queue_output(arg_name="out", queue_name="q", connection="AzureWebJobsStorage")
            def no_trigger(out: func.Out[str]) -> None:
                pass
        """,
        }
    )
    index = load(root)
    assert list(index.functions) == ["ok"]
    errors = [str(e) for e in index.errors]
    assert len(errors) == 4, errors
    assert any("Function 'bad'" in e and "'other'" in e and "function_app.py:8" in e for e in errors)
    assert any("The function or proxy name 'ok' must be unique" in e for e in errors)
    assert any("'bad name!' is not a valid function name" in e for e in errors)
    assert any("Function 'no_trigger'" in e and "does not have a trigger" in e for e in errors)


def test_v2_missing_module_names_the_module(app_dir):
    root = app_dir({"function_app.py": "import azure.functions as func\nimport nothere_pkg.sub\n"})
    index = load(root)
    assert index.functions == {}
    (error,) = index.errors
    assert "No module named 'nothere_pkg'" in str(error) and "requirements.txt" in str(error)


def test_v2_script_file_name_setting(app_dir):
    root = app_dir(
        {
            "main_app.py": """
            import azure.functions as func
            app = func.FunctionApp()

            @app.route()
            def custom(req): return "x"
        """,
        }
    )
    index = load(root, env={"PYTHON_SCRIPT_FILE_NAME": "main_app.py"})
    assert list(index.functions) == ["custom"]


@pytest.mark.parametrize("flavour", ["asgi", "wsgi"])
def test_asgi_and_wsgi_apps_register_one_catch_all_function(app_dir, flavour):
    if flavour == "asgi":
        code = """
            import azure.functions as func

            async def web(scope, receive, send):
                pass

            app = func.AsgiFunctionApp(app=web, http_auth_level=func.AuthLevel.ANONYMOUS)
        """
    else:
        code = """
            import azure.functions as func

            def web(environ, start_response):
                return []

            app = func.WsgiFunctionApp(app=web, http_auth_level=func.AuthLevel.ANONYMOUS)
        """
    index = load(app_dir({"function_app.py": code}))
    spec = index.functions["http_app_func"]
    assert spec.http_type == flavour
    assert spec.trigger.setting("route") == "/{*route}"
    assert [p.kind for p in spec.params] == [ParamKind.INPUT, ParamKind.CONTEXT]
