"""Retry policies (``fixedDelay``, ``exponentialBackoff``) as the real host runs them."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from funchost.config import parse_timespan

logger = logging.getLogger("funchost.retry")


class RetryPolicyError(ValueError):
    """A retry policy is incomplete or malformed."""


@dataclass(frozen=True)
class RetryPolicy:
    strategy: str  # "fixedDelay" or "exponentialBackoff"
    max_retry_count: int  # -1: forever
    delay_interval: timedelta | None = None
    minimum_interval: timedelta | None = None
    maximum_interval: timedelta | None = None

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        if self.strategy == "fixedDelay":
            assert self.delay_interval is not None
            return self.delay_interval.total_seconds()
        assert self.minimum_interval is not None and self.maximum_interval is not None
        minimum = self.minimum_interval.total_seconds()
        backoff = minimum * (2.0 ** (attempt - 1)) * random.uniform(0.8, 1.2)
        return min(minimum + backoff, self.maximum_interval.total_seconds())


_STRATEGIES = {
    "fixeddelay": "fixedDelay",
    "fixed_delay": "fixedDelay",
    "exponentialbackoff": "exponentialBackoff",
    "exponential_backoff": "exponentialBackoff",
}


def parse_retry_policy(raw: dict[str, Any] | None) -> RetryPolicy | None:
    """Read ``retry`` from host.json or function.json, or ``@app.retry`` settings (snake_case)."""
    if not raw:
        return None
    lowered = {str(k).replace("_", "").lower(): v for k, v in raw.items()}
    strategy = _STRATEGIES.get(str(lowered.get("strategy", "")).replace("-", "").lower())
    if strategy is None:
        raise RetryPolicyError(
            f"retry strategy '{lowered.get('strategy')}' is not one of fixedDelay, exponentialBackoff"
        )
    if lowered.get("maxretrycount") in (None, ""):
        raise RetryPolicyError("the retry policy needs maxRetryCount (-1 retries forever)")
    try:
        count = int(lowered["maxretrycount"])
    except (TypeError, ValueError):
        raise RetryPolicyError(f"maxRetryCount '{lowered['maxretrycount']}' is not a whole number") from None

    def span(key: str, label: str) -> timedelta:
        value = lowered.get(key)
        if value in (None, ""):
            raise RetryPolicyError(f"the {strategy} retry policy needs {label}")
        try:
            parsed = parse_timespan(str(value))
        except ValueError as error:
            raise RetryPolicyError(f"{label}: {error}") from None
        if parsed is None:
            raise RetryPolicyError(f"{label} cannot be -1")
        return parsed

    if strategy == "fixedDelay":
        return RetryPolicy(strategy, count, delay_interval=span("delayinterval", "delayInterval"))
    return RetryPolicy(
        strategy,
        count,
        minimum_interval=span("minimuminterval", "minimumInterval"),
        maximum_interval=span("maximuminterval", "maximumInterval"),
    )


def format_timespan(seconds: float) -> str:
    whole = int(seconds)
    fraction = round((seconds - whole) * 10_000_000)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{text}.{fraction:07d}" if fraction else text


async def invoke_with_retries(invoker: Any, invocation: Any, policy: RetryPolicy | None) -> Any:
    """Run the invocation, and again after each failure as the policy allows."""
    if policy is None:
        return await invoker.invoke(invocation)
    invocation.max_retry_count = policy.max_retry_count
    attempt = 0
    while True:
        outcome = await invoker.invoke(invocation)
        if outcome.succeeded:
            return outcome
        if policy.max_retry_count != -1 and attempt >= policy.max_retry_count:
            return outcome
        attempt += 1
        delay = policy.delay(attempt)
        logging.getLogger(f"Function.{invocation.function.name}").info(
            "Waiting for `%s` before retrying function execution. Next attempt: '%d'. Max retry count: '%d'.",
            format_timespan(delay),
            attempt,
            policy.max_retry_count,
        )
        await asyncio.sleep(delay)
        invocation.retry_count = attempt
        invocation.previous_error = outcome.error
        invocation.invocation_id = _new_id()


def _new_id() -> str:
    import uuid

    return str(uuid.uuid4())
