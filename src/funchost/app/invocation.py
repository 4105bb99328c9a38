"""One invocation and what it produced: the data every layer from listener to binder passes on.

They live here, below ``invoke`` and ``bindings``, so that listeners, the invoker and the
binders all speak of the same two dataclasses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from azure.functions import meta

from funchost.app.compat import abstract
from funchost.app.model import FunctionSpec

Datum = meta.Datum

_ready_ids: list[str] = []
# the variant nibble of a version 4 UUID: its top two bits are 10, so 8, 9, a or b
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_invocation_id() -> str:
    """A random (version 4) UUID, like the real host's invocation ids.

    Made 256 at a time from one ``os.urandom`` call: less than half the cost of
    ``str(uuid.uuid4())``, which makes a system call per id on the HTTP hot path.
    """
    if not _ready_ids:
        _ready_ids.extend(_make_ids(256))
    return _ready_ids.pop()


def _make_ids(count: int) -> list[str]:
    digits = os.urandom(16 * count).hex()
    return [
        f"{digits[i : i + 8]}-{digits[i + 8 : i + 12]}-4{digits[i + 13 : i + 16]}-"
        f"{_VARIANT[digits[i + 16]]}{digits[i + 17 : i + 20]}-{digits[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


def _forget_random_pool() -> None:
    _ready_ids.clear()  # a forked child must not repeat its parent's ids


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_forget_random_pool)


@dataclass(eq=False)  # compared and hashed by identity: binders cache per invocation
class Invocation:
    """One event for one function: the trigger's data and metadata, as the real host sends them."""

    function: FunctionSpec
    trigger_data: Datum
    trigger_metadata: dict[str, Datum] = field(default_factory=dict)
    reason: str = ""
    invocation_id: str = field(default_factory=new_invocation_id)
    trace_parent: str | None = None  # the caller's W3C trace context (an HTTP header, a message's Diagnostic-Id)
    trace_state: str | None = None
    # the invocation's own span while OpenTelemetry traces it: what its outgoing messages carry
    span_trace_parent: str | None = None
    retry_count: int = 0
    max_retry_count: int = 0
    previous_error: BaseException | None = None
    # what the trigger's parameter receives when the listener built it itself (the HTTP request):
    # the same object the library's converter would make of ``trigger_data``, made cheaper
    trigger_value: object = None


@dataclass
class Outcome:
    """What an invocation produced.

    ``outputs`` holds the encoded value of every output binding the function set (``$return``
    included), except HTTP responses, which stay as the Python object in ``http_response``
    so the HTTP listener can send them without another conversion.
    """

    invocation_id: str
    succeeded: bool
    duration_ms: float
    return_value: object = None
    outputs: dict[str, Datum] = field(default_factory=dict)
    http_response: str | abstract.HttpResponse | None = None  # an HTTP function's response, unconverted
    error: BaseException | None = None

    @property
    def error_message(self) -> str:
        if self.error is None:
            return ""
        return f"{type(self.error).__name__}: {self.error}"
