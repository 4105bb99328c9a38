"""One invocation and what it produced: the data every layer from listener to binder passes on.

They live here, below ``invoke`` and ``bindings``, so that listeners, the invoker and the
binders all speak of the same two dataclasses.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from azure.functions import meta
from azure.functions._abc import HttpResponse

from funchost.app.model import FunctionSpec

Datum = meta.Datum

_random_pool = b""
_random_position = 0


def new_invocation_id() -> str:
    """A random (version 4) UUID, like the real host's invocation ids.

    Drawn from a pool of ``os.urandom`` bytes refilled every 256 ids: a third of the cost
    of ``str(uuid.uuid4())``, which makes a system call per id on the HTTP hot path.
    """
    global _random_pool, _random_position
    if _random_position >= len(_random_pool):
        _random_pool, _random_position = os.urandom(16 * 256), 0
    number = int.from_bytes(_random_pool[_random_position:_random_position + 16], "big")
    _random_position += 16
    number = (number & ~(0xF000 << 64) & ~(0xC000 << 48)) | (0x4000 << 64) | (0x8000 << 48)
    text = f"{number:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _forget_random_pool() -> None:
    global _random_pool
    _random_pool = b""  # a forked child must not repeat its parent's ids


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
    http_response: str | HttpResponse | None = None  # an HTTP function's response, unconverted
    error: BaseException | None = None

    @property
    def error_message(self) -> str:
        if self.error is None:
            return ""
        return f"{type(self.error).__name__}: {self.error}"
