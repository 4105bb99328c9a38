"""Concrete ``Context``, ``TraceContext``, ``RetryContext`` and ``Out`` for user code."""

from __future__ import annotations

import os
import re
import threading
import traceback
from typing import Any, Generic, TypeVar

from funchost.app.compat import abstract

T = TypeVar("T")

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

# One per thread, as the worker does: ``context.thread_local_storage.invocation_id``.
_thread_local = threading.local()


def thread_local_storage() -> threading.local:
    return _thread_local


class Out(abstract.Out[T], Generic[T]):
    """The value a function sets on a ``func.Out[T]`` parameter."""

    __slots__ = ("_value",)

    def __init__(self) -> None:
        self._value: T | None = None

    def set(self, val: T) -> None:
        self._value = val

    def get(self) -> T:
        return self._value  # type: ignore[return-value]  # None until set, as azure.functions.Out


class TraceContext(abstract.TraceContext):
    """W3C trace context of the invocation."""

    def __init__(self, trace_parent: str, trace_state: str = "", attributes: dict[str, str] | None = None):
        self._trace_parent = trace_parent
        self._trace_state = trace_state
        self._attributes = attributes or {}

    @property
    def Traceparent(self) -> str:
        return self._trace_parent

    @property
    def Tracestate(self) -> str:
        return self._trace_state

    @property
    def Attributes(self) -> dict[str, str]:
        return self._attributes

    @property
    def trace_parent(self) -> str:
        return self._trace_parent

    @property
    def trace_state(self) -> str:
        return self._trace_state

    @property
    def attributes(self) -> dict[str, str]:
        return self._attributes


def new_trace_context(trace_parent: str | None = None, trace_state: str | None = None) -> TraceContext:
    """Continue an incoming W3C ``traceparent`` (a child span of it), or start a new trace."""
    span_id = os.urandom(8).hex()
    match = _TRACEPARENT.match(trace_parent.strip().lower()) if trace_parent else None
    if match and match.group(1) != "0" * 32:
        parent = f"00-{match.group(1)}-{span_id}-{match.group(3)}"
        return TraceContext(parent, trace_state or "", {"OperationName": ""})
    return TraceContext(f"00-{os.urandom(16).hex()}-{span_id}-01", trace_state or "", {})


class RpcException(abstract.RpcException):
    def __init__(self, error: BaseException | None) -> None:
        self._error = error
        self._message = f"{type(error).__name__}: {error}" if error else ""
        self._stack = "".join(traceback.format_tb(error.__traceback__)) if error else ""

    @property
    def source(self) -> str:
        return type(self._error).__module__ if self._error else ""

    @property
    def stack_trace(self) -> str:
        return self._stack

    @property
    def message(self) -> str:
        return self._message


class RetryContext(abstract.RetryContext):
    """Which attempt this is, out of how many, and the previous attempt's exception."""

    @classmethod
    def of(cls, retry_count: int, max_retry_count: int, exception: BaseException | None) -> RetryContext:
        if retry_count == 0 and max_retry_count == 0 and exception is None:
            return _FIRST_ATTEMPT
        return cls(retry_count, max_retry_count, exception)

    def __init__(self, retry_count: int = 0, max_retry_count: int = 0, exception: BaseException | None = None):
        self._retry_count = retry_count
        self._max_retry_count = max_retry_count
        self._exception = RpcException(exception)

    @property
    def retry_count(self) -> int:
        return self._retry_count

    @property
    def max_retry_count(self) -> int:
        return self._max_retry_count

    @property
    def exception(self) -> RpcException:
        return self._exception


_FIRST_ATTEMPT = RetryContext()


class Context(abstract.Context):
    """The ``context`` argument of a function.

    The trace context is made on first use: most functions never look at it.
    """

    __slots__ = (
        "_function_directory",
        "_function_name",
        "_invocation_id",
        "_retry_context",
        "_trace_context",
        "_trace_parent",
        "_trace_state",
    )

    def __init__(
        self,
        invocation_id: str,
        function_name: str,
        function_directory: Any,
        trace_parent: str | None,
        trace_state: str | None,
        retry_context: RetryContext,
        own_trace_parent: str | None = None,
    ) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._trace_parent = trace_parent
        self._trace_state = trace_state
        # the invocation's own span when OpenTelemetry traces it: the trace context is that span
        self._trace_context: TraceContext | None = (
            TraceContext(own_trace_parent, trace_state or "", {}) if own_trace_parent else None
        )
        self._retry_context = retry_context

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> threading.local:  # type: ignore[override]
        return _thread_local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return str(self._function_directory)

    @property
    def trace_context(self) -> TraceContext:
        if self._trace_context is None:
            self._trace_context = new_trace_context(self._trace_parent, self._trace_state)
        return self._trace_context

    @property
    def retry_context(self) -> RetryContext:
        return self._retry_context
