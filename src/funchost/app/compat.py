"""The private parts of ``azure.functions`` funchost uses, in one place.

The library has no public name for these; each is used because a host needs it (the worker
reaches the same names). ``tests/app/test_compat.py`` fails when one of them moves, and
``pyproject.toml`` bounds the library to the majors tested (1.x and 2.x).

- ``_abc``: the abstract classes a host implements (``Context``, ``TraceContext``,
  ``RetryContext``, ``RpcException``) and the abstract ``HttpResponse`` a function may return.
- ``_http.HttpRequestHeaders``: the case-insensitive header view ``func.HttpRequest`` gives.
- ``_jsonutils.json``: the JSON module the library's converters use (orjson when installed).
- ``HttpRequest``'s name-mangled state (``_HttpRequest__method``, ``__body_bytes``,
  ``__form_parsed``, ...): ``triggers/http/request.py`` subclasses the request and sets it as
  the library's constructor does (``REQUEST_STATE`` lists the names the test checks; the
  corpus test in ``tests/triggers/http/test_request.py`` compares every public attribute).
- ``FunctionApp._function_builders``: a v2 app's functions one by one (so one broken function
  does not fail the app); ``._middleware``: its ASGI/WSGI middleware. azure-functions 1.26
  keeps the middleware as ``middleware``, so this finds none there and the lifespan shutdown
  is never forwarded (unchanged here; see the issue note).
"""

from __future__ import annotations

from typing import Any

from azure.functions import _abc as abstract
from azure.functions._http import HttpRequestHeaders
from azure.functions._jsonutils import json as library_json

__all__ = ["REQUEST_STATE", "HttpRequestHeaders", "abstract", "asgi_middleware", "function_builders", "library_json"]

# the name-mangled attributes of func.HttpRequest that triggers/http/request.py sets itself
REQUEST_STATE = ("_HttpRequest__method", "_HttpRequest__body_bytes", "_HttpRequest__form_parsed")


def function_builders(app: Any) -> list[Any]:
    """A v2 app's function builders, in registration order."""
    return list(getattr(app, "_function_builders", []))


def asgi_middleware(app: Any) -> Any:
    """The middleware of an ``AsgiFunctionApp``/``WsgiFunctionApp``, or None."""
    return getattr(app, "_middleware", None)
