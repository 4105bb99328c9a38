"""The request an HTTP function receives, built part by part when the function reads it.

The library's converter turns the host's ``http`` Datum into ``azure.functions.http.HttpRequest``
by copying every header, query value and route value into new dicts and mappings: about a
third of funchost's own work per request for a function that reads none of them. ``Request``
is that same class (a subclass, so ``isinstance`` and every method behave the same), whose
URL, headers, query and route values are made on first read from what the server already
parsed. ``RequestDatum`` is the ``http`` Datum for the same request, built only if something
asks for it (a generic binding, binding expressions). ``tests/triggers/http/test_request.py``
compares every public attribute with the converter's output on a corpus of requests.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

from azure.functions import http as azf_http
from azure.functions import meta

from funchost.app.compat import HttpRequestHeaders
from funchost.triggers.http.messages import http_datum_value, query_to_dict

Datum = meta.Datum
Scope = dict[str, Any]


def request_url(scope: Scope, headers: Mapping[str, str]) -> str:
    """The URL as the real host passes it: scheme, the Host header, the path as sent, the query."""
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("localhost", 80)
        host = f"{server[0]}:{server[1]}"
    path = scope.get("raw_path")
    path_text = path.decode("latin-1") if path else scope["path"]
    query = scope["query_string"]
    url = f"{scope.get('scheme', 'http')}://{host}{path_text}"
    return f"{url}?{query.decode('latin-1')}" if query else url


class Request(azf_http.HttpRequest):
    """``func.HttpRequest`` as the library's converter makes it, with its parts built when read.

    The library keeps its state in name-mangled attributes (``_HttpRequest__...``, shared by
    ``azure.functions.http.HttpRequest`` and its base): the body, method and form state are
    set the way its constructor sets them, so ``get_body``, ``get_json``, ``form`` and
    ``files`` are the library's own code; ``url``, ``headers``, ``params`` and
    ``route_params`` are built here on first read, with the same types and values.
    """

    # what the converter's constructor sets for a request whose body came as bytes
    _HttpRequest__body_type = "bytes"
    _HttpRequest__body_str = None
    _HttpRequest__form_parsed = False
    _url: str | None = None
    _query: dict[str, str] | None = None
    _headers_view: HttpRequestHeaders | None = None
    _params_view: Mapping[str, str] | None = None
    _route_view: Mapping[str, str] | None = None

    def __init__(  # the library's constructor is skipped on purpose: it copies every part up front
        self,
        scope: Scope,
        headers: dict[str, str],
        route_values: dict[str, str | None],
        body: bytes,
    ) -> None:
        self._scope = scope
        self._header_values = headers  # lower-case names, repeated headers joined (messages.headers_to_dict)
        self._route_values = route_values
        self._HttpRequest__method = scope["method"]
        self._HttpRequest__body_bytes = body

    @property
    def url(self) -> str:
        url = self._url
        if url is None:
            url = self._url = request_url(self._scope, self._header_values)
        return url

    @property
    def headers(self) -> Any:
        view = self._headers_view
        if view is None:
            view = self._headers_view = HttpRequestHeaders(self._header_values)
        return view

    @property
    def params(self) -> Mapping[str, str]:
        view = self._params_view
        if view is None:
            view = self._params_view = types.MappingProxyType(dict(self._query_values()))
        return view

    @property
    def route_params(self) -> Mapping[str, str]:  # an optional parameter left out is None, as in the library
        view = self._route_view
        if view is None:
            view = self._route_view = types.MappingProxyType(dict(self._route_values))  # type: ignore[arg-type]
        return view

    def _query_values(self) -> dict[str, str]:
        query = self._query
        if query is None:
            query = self._query = query_to_dict(self._scope["query_string"])
        return query


# for the host, as functions: user code sees no public name the library's request lacks


def query_values(request: Request) -> dict[str, str]:
    """The query as one value per name (repeated names joined with ``,`` as .NET does)."""
    return request._query_values()


def request_datum(request: Request) -> RequestDatum:
    """The ``http`` Datum of ``request``, made when first read."""
    return RequestDatum(request)


class RequestDatum(Datum):
    """The ``http`` Datum the real host sends for this request, built on first read of ``value``."""

    def __init__(self, request: Request) -> None:  # the value is made later, so Datum's init is not used
        self.type = "http"
        self._request = request
        self._value: dict[str, Any] | None = None

    @property  # type: ignore[override]
    def value(self) -> dict[str, Any]:
        value = self._value
        if value is None:
            request = self._request
            value = self._value = http_datum_value(
                request.method,
                request.url,
                request._header_values,
                request._query_values(),
                request._route_values,
                request.get_body(),
            )
        return value

    @value.setter
    def value(self, new_value: dict[str, Any]) -> None:
        self._value = new_value
