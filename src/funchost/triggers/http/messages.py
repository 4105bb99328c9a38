"""Between ASGI and the functions model: the trigger Datum in, the response out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from azure.functions import HttpResponse, meta

from funchost.app.compat import abstract
from funchost.app.model import FunctionSpec

Datum = meta.Datum

# (status, headers, body) as sent to ASGI
RawResponse = tuple[int, list[tuple[bytes, bytes]], bytes]

TEXT_PLAIN = (b"content-type", b"text/plain; charset=utf-8")


def headers_to_dict(raw_headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Request headers, one value per name; repeated headers are joined with ``,`` as .NET does."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw_headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            headers[name] = f"{headers[name]},{value}"
        else:
            headers[name] = value
    return headers


def query_to_dict(query_string: bytes) -> dict[str, str]:
    """Query parameters, one value per name; repeated keys are joined with ``,`` as .NET does."""
    params: dict[str, str] = {}
    if not query_string:
        return params
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name in params:
            params[name] = f"{params[name]},{value}"
        else:
            params[name] = value
    return params


def trigger_datum(
    method: str,
    url: str,
    headers: dict[str, str],
    query: dict[str, str],
    route_params: dict[str, str | None],
    body: bytes,
) -> Datum:
    """The ``http`` Datum the real host sends for an HTTP trigger, for the library's converter."""
    return Datum(http_datum_value(method, url, headers, query, route_params, body), "http")


def http_datum_value(
    method: str,
    url: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    route_params: Mapping[str, str | None],
    body: bytes,
) -> dict[str, Any]:
    """The value of the ``http`` Datum, as the library's converter reads it."""
    return {
        "method": Datum(method, "string"),
        "url": Datum(url, "string"),
        "headers": {name: Datum(value, "string") for name, value in headers.items()},
        "query": {name: Datum(value, "string") for name, value in query.items()},
        "params": {name: Datum(value, "string") for name, value in route_params.items()},
        "body": Datum(body, "bytes"),
    }


def trigger_metadata(
    headers: dict[str, str], query: dict[str, str], route_params: dict[str, str | None]
) -> dict[str, Datum]:
    """Binding data for expressions in other bindings: route and query values, and headers."""
    metadata: dict[str, Datum] = {}
    for name, value in query.items():
        metadata[name] = Datum(value, "string")
    for name, route_value in route_params.items():
        if route_value is not None:
            metadata[name] = Datum(route_value, "string")
    metadata["Headers"] = Datum(headers, "headers")
    metadata["Query"] = Datum(query, "query")
    return metadata


def empty_response_status(spec: FunctionSpec) -> int:
    """The status when an HTTP function gives no response: 204 for a v1 function whose output is
    HTTP or that has no output at all, 200 when its outputs go elsewhere (a blob, a queue) and
    in the v2 model."""
    if spec.model != "v1":
        return 200
    outputs = spec.output_bindings
    if not outputs or any(binding.type.lower() == "http" for binding in outputs):
        return 204
    return 200


class ResponseConversionError(TypeError):
    """A function returned something that is not an HTTP response."""


def to_raw_response(result: Any, no_content_status: int) -> RawResponse:
    """Turn what an HTTP function returned into status, headers and body.

    Repeated headers (several ``Set-Cookie``) stay separate, which the library's ``http``
    converter would collapse.
    """
    if result is None:
        return no_content_status, [], b""
    if isinstance(result, str):
        return 200, [TEXT_PLAIN], result.encode("utf-8")
    if type(result) is HttpResponse or isinstance(result, abstract.HttpResponse):
        raw_headers = []
        has_content_type = False
        headers = result.headers
        for name, value in headers.items() if len(headers) else ():
            lowered = name.lower()
            if lowered == "set-cookie" and not str(value).strip():
                continue  # the worker parses cookies, and an empty one is no cookie at all
            if lowered == "content-length":
                continue  # the host sends the body's length, as the real host computes it
            # compared here: ``in`` on the library's (werkzeug) headers raises and catches a KeyError
            has_content_type = has_content_type or lowered == "content-type"
            raw_headers.append((lowered.encode("latin-1"), str(value).encode("latin-1")))
        if not has_content_type:
            mimetype: str = result.mimetype or "text/plain"
            if mimetype == "text/plain" and result.charset in ("utf-8", None):
                raw_headers.append(TEXT_PLAIN)
            elif mimetype.startswith("text/"):
                content_type = f"{mimetype}; charset={result.charset or 'utf-8'}"
                raw_headers.append((b"content-type", content_type.encode("latin-1")))
            else:
                raw_headers.append((b"content-type", mimetype.encode("latin-1")))
        body = result.get_body()
        return int(result.status_code), raw_headers, body if body is not None else b""
    raise ResponseConversionError(f"an HTTP function must return func.HttpResponse or str, not {type(result).__name__}")
