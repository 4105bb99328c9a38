"""The private parts of azure.functions that funchost uses (funchost/app/compat.py) are still
there and still shaped as funchost expects: this fails first when the library moves one."""

from __future__ import annotations

import inspect

import azure.functions as func

from funchost.app import compat


def test_the_abstract_classes_a_host_implements_are_there():
    for name in ("Context", "TraceContext", "RetryContext", "RpcException", "HttpResponse", "Out"):
        assert inspect.isclass(getattr(compat.abstract, name)), name
    assert issubclass(func.HttpResponse, compat.abstract.HttpResponse)
    assert func.Context is compat.abstract.Context


def test_the_header_view_and_the_json_module_are_the_libraries_own():
    headers = compat.HttpRequestHeaders({"content-type": "text/plain"})
    assert headers["Content-Type"] == "text/plain"  # case-insensitive, as func.HttpRequest's
    request = func.HttpRequest("GET", "http://localhost/", headers={"X-A": "1"}, body=b"")
    assert type(request.headers) is compat.HttpRequestHeaders
    assert compat.library_json.loads(compat.library_json.dumps({"a": [1]})) == {"a": [1]}


def test_the_request_state_funchost_sets_is_where_the_library_keeps_it():
    request = func.HttpRequest("POST", "http://localhost/api/x", body=b"a=1")
    for name in compat.REQUEST_STATE:
        assert hasattr(request, name), name
    assert request._HttpRequest__method == "POST" and request._HttpRequest__body_bytes == b"a=1"  # type: ignore[attr-defined]


def test_a_v2_app_gives_its_function_builders():
    app = func.FunctionApp()

    @app.route(route="one")
    def one(req: func.HttpRequest) -> str:
        return "1"

    @app.route(route="two")
    def two(req: func.HttpRequest) -> str:
        return "2"

    builders = compat.function_builders(app)
    assert [builder._function.get_function_name() for builder in builders] == ["one", "two"]
