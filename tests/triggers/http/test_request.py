"""The request funchost hands a function is the library converter's request, part for part.

For each request of a corpus, one ``func.HttpRequest`` comes from the library's converter
(the ``http`` Datum decoded by ``HttpRequestConverter``, as the real worker does) and one from
funchost's ``Request`` (built lazily from the ASGI scope); every public attribute and method
result must be equal, including the exceptions raised.
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
import pytest
from azure.functions.http import HttpRequestConverter

from funchost.triggers.http import messages
from funchost.triggers.http.request import Request, request_datum, request_url

BOUNDARY = "----funchost-test-boundary"
MULTIPART = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue one\r\n'
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue two\r\n'
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="upload"; filename="a.bin"\r\n'
    "Content-Type: application/octet-stream\r\n\r\n\x00\x01binary\r\n"
    f"--{BOUNDARY}--\r\n"
).encode("latin-1")

# (method, raw path, query string, raw headers, route values, body)
CORPUS: list[tuple[str, bytes, bytes, list[tuple[bytes, bytes]], dict[str, str | None], bytes]] = [
    ("GET", b"/api/hello", b"", [(b"host", b"127.0.0.1:7071")], {}, b""),
    ("GET", b"/api/hello", b"name=Ann&name=Bob&x=1", [(b"host", b"localhost")], {}, b""),
    (
        "GET",
        b"/api/q",
        b"a%20b=c%26d&empty=&flag&plus=1+2&%C3%A9=%E2%82%AC&bad=%ZZ",
        [(b"host", b"localhost")],
        {},
        b"",
    ),
    ("GET", b"/api/items/a%2Fb/7", b"", [(b"host", b"localhost")], {"id": "a/b", "n": "7"}, b""),
    ("GET", b"/api/opt", b"", [(b"host", b"localhost")], {"id": None}, b""),
    (
        "GET",
        b"/api/h",
        b"",
        [
            (b"Host", b"Example.COM:8080"),
            (b"X-Custom-Header", b"One"),
            (b"x-custom-header", b"Two"),
            (b"ACCEPT", b"text/html"),
            (b"Cookie", b"session=abc; theme=dark"),
            (b"Cookie", b"extra=1"),
        ],
        {},
        b"",
    ),
    ("GET", b"/api/nohost", b"v=1", [], {}, b""),
    (
        "POST",
        b"/api/json",
        b"",
        [(b"host", b"localhost"), (b"content-type", b"application/json")],
        {},
        json.dumps({"name": "Ann", "tags": [1, 2], "nested": {"ok": True}}).encode(),
    ),
    ("POST", b"/api/json", b"", [(b"host", b"localhost"), (b"content-type", b"application/json")], {}, b'{"broken": '),
    ("POST", b"/api/empty", b"", [(b"host", b"localhost"), (b"content-length", b"0")], {}, b""),
    (
        "PUT",
        b"/api/bin",
        b"",
        [(b"host", b"localhost"), (b"content-type", b"application/octet-stream")],
        {},
        bytes(range(256)),
    ),
    (
        "POST",
        b"/api/text",
        b"",
        [(b"host", b"localhost"), (b"content-type", b"text/plain; charset=utf-8")],
        {},
        "héllo wörld €".encode(),
    ),
    (
        "POST",
        b"/api/form",
        b"q=1",
        [(b"host", b"localhost"), (b"content-type", b"application/x-www-form-urlencoded")],
        {},
        b"name=Ann&name=Bob&city=New+York&sym=%26%3D",
    ),
    (
        "POST",
        b"/api/upload",
        b"",
        [(b"host", b"localhost"), (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())],
        {},
        MULTIPART,
    ),
    (
        "DELETE",
        b"/api/things/%E2%82%AC",
        b"force=true",
        [(b"host", b"localhost"), (b"x-empty", b"")],
        {"name": "\u20ac"},
        b"",
    ),
    (
        "PATCH",
        b"/api/latin",
        b"",
        [(b"host", b"localhost"), (b"x-latin", "caf\xe9".encode("latin-1"))],
        {},
        b"[1, 2, 3]",
    ),
]


def scope_of(method: str, raw_path: bytes, query: bytes, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    from urllib.parse import unquote

    return {
        "type": "http",
        "method": method,
        "path": unquote(raw_path.decode("latin-1")),
        "raw_path": raw_path,
        "query_string": query,
        "headers": headers,
        "scheme": "http",
        "server": ("127.0.0.1", 7071),
        "client": ("127.0.0.1", 5555),
        "http_version": "1.1",
        "root_path": "",
    }


def converter_request(scope: dict[str, Any], route: dict[str, str | None], body: bytes) -> Any:
    """What the library's converter makes of the Datum the real host sends."""
    headers = messages.headers_to_dict(scope["headers"])
    query = messages.query_to_dict(scope["query_string"])
    datum = messages.trigger_datum(scope["method"], request_url(scope, headers), headers, query, route, body)
    return HttpRequestConverter.decode(datum, trigger_metadata={})


def funchost_request(scope: dict[str, Any], route: dict[str, str | None], body: bytes) -> Request:
    return Request(scope, messages.headers_to_dict(scope["headers"]), route, body)


def observed(request: Any) -> dict[str, Any]:
    """Everything user code can see of a request, as plain values (exceptions as type and text)."""
    seen: dict[str, Any] = {}
    for name in public_names(request):
        try:
            value = getattr(request, name)
            if callable(value):
                value = value()
        except Exception as error:  # noqa: BLE001 - the error itself is what is compared
            seen[name] = ("raised", type(error).__name__, str(error))
            continue
        seen[name] = plain(value)
    return seen


def plain(value: Any) -> Any:
    if hasattr(value, "lists"):  # werkzeug MultiDict (a dict): every value of every key, in order
        return (type(value).__name__, [(key, [plain(v) for v in values]) for key, values in value.lists()])
    if isinstance(value, (str, bytes, int, float, bool, type(None), list, dict)):
        return value
    if hasattr(value, "filename"):  # werkzeug FileStorage
        return ("file", value.filename, value.name, value.content_type, value.stream.read())
    if hasattr(value, "items"):
        return (type(value).__name__, sorted(value.items(), key=lambda item: item[0]))
    return repr(value)


def public_names(request: Any) -> list[str]:
    return sorted(name for name in dir(type(request)) if not name.startswith("_"))


@pytest.mark.parametrize("case", CORPUS, ids=[f"{c[0]} {c[1].decode()}?{c[2].decode()}" for c in CORPUS])
def test_every_public_attribute_equals_the_converters(case):
    method, raw_path, query, headers, route, body = case
    scope = scope_of(method, raw_path, query, headers)
    expected = converter_request(scope, route, body)
    actual = funchost_request(scope, route, body)
    assert isinstance(actual, type(expected)) and isinstance(actual, func.HttpRequest)
    assert public_names(actual) == public_names(expected)
    assert observed(actual) == observed(expected)
    # the mappings are the library's own types (read-only views, case-insensitive headers)
    for name in ("headers", "params", "route_params"):
        assert type(getattr(actual, name)) is type(getattr(expected, name))
    assert actual.headers.get("HOST") == expected.headers.get("HOST")
    with pytest.raises(TypeError):
        actual.params["new"] = "x"  # type: ignore[index]


@pytest.mark.parametrize("case", CORPUS, ids=[f"{c[0]} {c[1].decode()}?{c[2].decode()}" for c in CORPUS])
def test_the_lazy_datum_is_the_datum_the_real_host_sends(case):
    method, raw_path, query, headers, route, body = case
    scope = scope_of(method, raw_path, query, headers)
    header_values = messages.headers_to_dict(headers)
    expected = messages.trigger_datum(
        method, request_url(scope, header_values), header_values, messages.query_to_dict(query), route, body
    )
    datum = request_datum(funchost_request(scope, route, body))
    assert datum.type == expected.type == "http"
    assert datum.value == expected.value
    # decoding it with the library's converter gives the same request again
    assert observed(HttpRequestConverter.decode(datum, trigger_metadata={})) == observed(
        HttpRequestConverter.decode(expected, trigger_metadata={})
    )


def test_reading_the_form_twice_and_after_the_body_gives_the_same_answer():
    scope = scope_of("POST", b"/api/form", b"", [(b"content-type", b"application/x-www-form-urlencoded")])
    request = funchost_request(scope, {}, b"a=1&a=2")
    assert request.get_body() == b"a=1&a=2"
    assert request.form.getlist("a") == ["1", "2"]
    assert request.form is request.form and request.files is request.files
