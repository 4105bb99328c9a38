"""Run one invocation: decode inputs, call the user function, encode outputs."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

from azure.functions import meta

from funchost.app.model import BindingSpec, FunctionSpec, ParamKind
from funchost.app.signature import GenericConverter, converter_for
from funchost.invoke.context import Context, Out, RetryContext, new_trace_context, thread_local_storage
from funchost.invoke.extensions import Extensions
from funchost.invoke.logs import InvocationScope, current_scope, flush_invocation_output

Datum = meta.Datum


@dataclass
class Invocation:
    """One event for one function: the trigger's data and metadata, as the real host sends them."""

    function: FunctionSpec
    trigger_data: Datum
    trigger_metadata: dict[str, Datum] = field(default_factory=dict)
    reason: str = ""
    invocation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    trace_parent: str | None = None
    trace_state: str | None = None
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
    return_value: Any = None
    outputs: dict[str, Datum] = field(default_factory=dict)
    http_response: Any = None
    error: BaseException | None = None

    @property
    def error_message(self) -> str:
        if self.error is None:
            return ""
        return f"{type(self.error).__name__}: {self.error}"


class BindingIO(Protocol):
    """Reads input bindings and writes output bindings (implemented in ``bindings``)."""

    async def read_input(self, binding: BindingSpec, invocation: Invocation) -> Datum: ...

    async def write_output(self, binding: BindingSpec, value: Datum, invocation: Invocation) -> None: ...


class InvocationError(Exception):
    """An invocation failed for a reason outside the user function (bindings, conversion)."""


class Invoker:
    """Runs invocations of an app's functions: sync ones in ``executor``, async ones on the loop."""

    def __init__(
        self,
        executor: Executor,
        extensions: Extensions | None = None,
        binding_io: BindingIO | None = None,
    ) -> None:
        self.executor = executor
        self.extensions = extensions or Extensions(enabled=False)
        self.binding_io = binding_io

    async def invoke(self, invocation: Invocation) -> Outcome:
        """Run the invocation with its ``Executing``/``Executed`` log lines; never raises."""
        spec = invocation.function
        function_logger = logging.getLogger(f"Function.{spec.name}")
        scope = InvocationScope(spec.name, invocation.invocation_id)
        token = current_scope.set(scope)
        started = time.perf_counter()
        function_logger.info(
            "Executing 'Functions.%s' (Reason='%s', Id=%s)",
            spec.name,
            invocation.reason,
            invocation.invocation_id,
        )
        try:
            outcome = await self._run(invocation)
        except BaseException as error:  # user code may raise anything; report, never crash
            if isinstance(error, (KeyboardInterrupt, SystemExit, asyncio.CancelledError)):
                current_scope.reset(token)
                raise
            outcome = Outcome(invocation.invocation_id, False, 0.0, error=error)
        outcome.duration_ms = (time.perf_counter() - started) * 1000
        flush_invocation_output(scope)
        if outcome.succeeded:
            function_logger.info(
                "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)",
                spec.name,
                invocation.invocation_id,
                outcome.duration_ms,
            )
        else:
            function_logger.error(
                "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)\n%s",
                spec.name,
                invocation.invocation_id,
                outcome.duration_ms,
                format_failure(outcome.error),
            )
        current_scope.reset(token)
        return outcome

    async def _run(self, invocation: Invocation) -> Outcome:
        spec = invocation.function
        context = Context(
            invocation.invocation_id,
            spec.name,
            str(spec.directory),
            new_trace_context(invocation.trace_parent, invocation.trace_state),
            RetryContext(invocation.retry_count, invocation.max_retry_count, invocation.previous_error),
        )
        args: dict[str, Any] = {}
        outs: dict[str, Out[Any]] = {}
        for param in spec.params:
            if param.kind is ParamKind.CONTEXT:
                args[param.name] = context
            elif param.kind is ParamKind.OUTPUT:
                outs[param.name] = args[param.name] = Out()
            else:
                assert param.binding is not None
                converter = GenericConverter if param.generic else converter_for(param.binding.type)
                if param.binding.is_trigger:
                    data, metadata = invocation.trigger_data, invocation.trigger_metadata
                else:
                    data, metadata = await self._read_input(param.binding, invocation), {}
                args[param.name] = converter.decode(data, trigger_metadata=metadata)

        hooks = self.extensions.enabled and self.extensions.has_invocation_hooks(spec.name)
        if spec.is_async:
            result = await self._call_async(spec, context, args, hooks)
        else:
            loop = asyncio.get_running_loop()
            call = contextvars.copy_context().run
            result = await loop.run_in_executor(
                self.executor, call, self._call_sync, spec, context, args, hooks
            )

        outcome = Outcome(invocation.invocation_id, True, 0.0, return_value=result)
        for name, out in outs.items():
            value = out.get()
            if value is None:
                continue  # an Out that was never set writes nothing, as in the worker
            param = next(p for p in spec.params if p.name == name)
            assert param.binding is not None
            self._collect(outcome, param.binding, value, param.pytype, param.generic)
        if spec.return_binding is not None:
            if result is not None:
                self._collect(
                    outcome, spec.return_binding, result, None, spec.return_generic
                )
        elif result is not None and spec.http_type == "function":
            raise InvocationError(
                f"function {spec.name!r} without a $return binding returned a non-None value"
            )
        if self.binding_io is not None:
            for binding in spec.output_bindings:
                datum = outcome.outputs.get(binding.name)
                if datum is not None:
                    await self.binding_io.write_output(binding, datum, invocation)
        return outcome

    def _collect(
        self, outcome: Outcome, binding: BindingSpec, value: Any, pytype: Any, generic: bool
    ) -> None:
        if binding.type.lower() == "http":
            outcome.http_response = value
            return
        converter = GenericConverter if generic else converter_for(binding.type)
        try:
            outcome.outputs[binding.name] = converter.encode(value, expected_type=pytype)
        except NotImplementedError:
            raise InvocationError(
                f"cannot convert the value of type {type(value).__name__} set for the "
                f"'{binding.name}' binding ({binding.type})"
            ) from None

    async def _read_input(self, binding: BindingSpec, invocation: Invocation) -> Datum:
        if self.binding_io is None:
            raise InvocationError(
                f"the input binding '{binding.name}' ({binding.type}) cannot be read: "
                "no binding provider is configured"
            )
        return await self.binding_io.read_input(binding, invocation)

    def _call_sync(self, spec: FunctionSpec, context: Context, args: dict[str, Any], hooks: bool) -> Any:
        thread_local_storage().invocation_id = context.invocation_id
        if not hooks:
            return spec.func(**args)
        user_logger = logging.getLogger(f"Function.{spec.name}.User")
        self.extensions.pre_invocation(spec.name, user_logger, context, args)
        result = spec.func(**args)
        self.extensions.post_invocation(spec.name, user_logger, context, args, result)
        return result

    async def _call_async(
        self, spec: FunctionSpec, context: Context, args: dict[str, Any], hooks: bool
    ) -> Any:
        thread_local_storage().invocation_id = context.invocation_id
        func: Callable[..., Awaitable[Any]] = spec.func
        if not hooks:
            return await func(**args)
        user_logger = logging.getLogger(f"Function.{spec.name}.User")
        self.extensions.pre_invocation(spec.name, user_logger, context, args)
        result = await func(**args)
        self.extensions.post_invocation(spec.name, user_logger, context, args, result)
        return result


def format_failure(error: BaseException | None) -> str:
    """The worker's failure text: ``Result: Failure``, ``Exception: <Type>: <msg>``, ``Stack:``."""
    if error is None:
        return "Result: Failure"
    stack = "".join(traceback.format_tb(error.__traceback__)).rstrip()
    return f"Result: Failure\nException: {type(error).__name__}: {error}\nStack: {stack}"
