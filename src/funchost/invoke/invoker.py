"""Run one invocation: decode inputs, call the user function, encode outputs."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol

from azure.functions import HttpResponse, meta

from funchost.app.compat import abstract
from funchost.app.invocation import Invocation, Outcome
from funchost.app.model import BindingSpec, FunctionSpec, ParamKind
from funchost.app.signature import GenericConverter, converter_for, registered_converter
from funchost.invoke import logs
from funchost.invoke.context import Context, Out, RetryContext, thread_local_storage
from funchost.invoke.extensions import Extensions
from funchost.invoke.logs import (
    HostLineSink,
    InvocationScope,
    InvocationStream,
    current_scope,
    flush_invocation_output,
)
from funchost.invoke.telemetry import Telemetry
from funchost.invoke.threads import FunctionThreads
from funchost.invoke.timeout import Watchdog

Datum = meta.Datum


class BindingIO(Protocol):
    """Reads input bindings and writes output bindings (implemented in ``bindings``)."""

    async def read_input(self, binding: BindingSpec, invocation: Invocation) -> Datum: ...

    async def write_output(self, binding: BindingSpec, value: Datum, invocation: Invocation) -> None: ...

    def takes_json(self, binding_type: str) -> bool:
        """Whether outputs of this type take JSON values where the library's converter takes only text."""
        ...


class InvocationError(Exception):
    """An invocation failed for a reason outside the user function (bindings, conversion)."""


class FunctionTimeoutError(InvocationError):
    """The function ran past functionTimeout."""


@dataclass
class _Plan:
    """What the invoker needs per function, worked out once instead of per call."""

    inputs: list[tuple[str, ParamKind, Any, BindingSpec | None]]
    outputs: list[tuple[str, BindingSpec, Any, Any]]  # name, binding, converter, pytype
    function_logger: logging.Logger
    user_logger: logging.Logger
    hooks: bool
    return_converter: Any = None  # for the $return binding, when there is one
    # v2 HTTP functions: @app.route adds an HTTP $return, and the worker fails an invocation
    # that returns nothing for it
    response_required: bool = False
    # the console's sink for the Executing/Executed lines (None: they go through logging), and
    # whether host.json's levels show them
    host_lines: HostLineSink | None = None
    host_lines_shown: bool = False
    # a function whose only inputs are its trigger (and context) and whose only output is its
    # return value runs through _run_direct: no loops over bindings, no binder calls
    direct: bool = False
    trigger_param: str | None = None
    trigger_converter: Any = None
    # the trigger parameter takes the object the listener built (Invocation.trigger_value):
    # true when its converter is the library's own, which would build the same object
    trigger_prepared: bool = False
    context_param: str | None = None
    return_http: bool = False  # the return value is the HTTP response


def _make_plan(spec: FunctionSpec, extensions: Extensions) -> _Plan:
    inputs: list[tuple[str, ParamKind, Any, BindingSpec | None]] = []
    outputs: list[tuple[str, BindingSpec, Any, Any]] = []
    trigger_param = context_param = None
    trigger_converter: Any = None
    trigger_prepared = False
    other_inputs = False
    for param in spec.params:
        if param.kind is ParamKind.INPUT:
            assert param.binding is not None
            converter = GenericConverter if param.generic else converter_for(param.binding.type)
            inputs.append((param.name, param.kind, converter, param.binding))
            if param.binding.is_trigger:
                trigger_param, trigger_converter = param.name, converter
                trigger_prepared = not param.generic and converter is registered_converter(param.binding.type)
            else:
                other_inputs = True
        else:
            inputs.append((param.name, param.kind, None, param.binding))
            if param.kind is ParamKind.CONTEXT:
                context_param = param.name
        if param.kind is ParamKind.OUTPUT:
            assert param.binding is not None
            converter = GenericConverter if param.generic else converter_for(param.binding.type)
            outputs.append((param.name, param.binding, converter, param.pytype))
    hooks = extensions.enabled and extensions.has_invocation_hooks(spec.name)
    return_http = spec.return_binding is not None and spec.return_binding.type.lower() == "http"
    return _Plan(
        inputs=inputs,
        outputs=outputs,
        function_logger=logging.getLogger(f"Function.{spec.name}"),
        user_logger=logging.getLogger(f"Function.{spec.name}.User"),
        hooks=hooks,
        return_converter=None
        if spec.return_binding is None
        else GenericConverter
        if spec.return_generic
        else converter_for(spec.return_binding.type),
        response_required=spec.model == "v2" and spec.http_type == "function" and return_http,
        host_lines=logs.host_lines,
        host_lines_shown=logs.host_lines is not None and logs.host_lines.enabled(f"Function.{spec.name}"),
        # no output binding but an HTTP $return (Out parameters and other $return types are outputs)
        direct=not other_inputs and not hooks and len(spec.output_bindings) == (1 if return_http else 0),
        trigger_param=trigger_param,
        trigger_converter=trigger_converter,
        trigger_prepared=trigger_prepared,
        context_param=context_param,
        return_http=return_http,
    )


class Invoker:
    """Runs invocations of an app's functions: sync ones in ``executor``, async ones on the loop."""

    def __init__(
        self,
        executor: Executor,
        extensions: Extensions | None = None,
        binding_io: BindingIO | None = None,
        timeout: float | None = None,
        on_sync_timeout: Callable[[str], None] | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.executor = executor
        self.extensions = extensions or Extensions(enabled=False)
        self.binding_io = binding_io
        self.timeout = timeout  # functionTimeout in seconds; None: no limit
        self.watchdog = Watchdog(timeout) if timeout is not None else None
        self.on_sync_timeout = on_sync_timeout
        self.telemetry = telemetry  # OpenTelemetry spans and metrics, when asked for
        self._plans: dict[int, _Plan] = {}
        self.running = 0  # invocations in progress (read by the load monitor and the status)
        self.sync_running = 0  # of which sync ones, in a thread or waiting for one

    def prepare(self, functions: list[FunctionSpec]) -> None:
        """Work out the plan of every function at load, so the first call pays nothing extra."""
        for spec in functions:
            self._plan(spec)

    def _plan(self, spec: FunctionSpec) -> _Plan:
        plan = self._plans.get(id(spec))
        if plan is None:
            plan = self._plans[id(spec)] = _make_plan(spec, self.extensions)
        return plan

    async def invoke(self, invocation: Invocation) -> Outcome:
        """Run the invocation with its ``Executing``/``Executed`` log lines; never raises."""
        spec = invocation.function
        plan = self._plans.get(id(spec)) or self._plan(spec)
        invocation_id = invocation.invocation_id
        scope = InvocationScope(spec.name, invocation_id)
        token = current_scope.set(scope)
        started = time.perf_counter()
        host_lines = plan.host_lines
        if plan.host_lines_shown:
            assert host_lines is not None
            host_lines.write(f"Executing 'Functions.{spec.name}' (Reason='{invocation.reason}', Id={invocation_id})")
        elif host_lines is None and plan.function_logger.isEnabledFor(logging.INFO):
            plan.function_logger.info(
                "Executing 'Functions.%s' (Reason='%s', Id=%s)", spec.name, invocation.reason, invocation_id
            )
        self.running += 1
        telemetry = self.telemetry
        own_trace = None
        if telemetry is not None:
            span, span_token, own_trace = telemetry.start(invocation)
            invocation.span_trace_parent = own_trace
        try:
            if plan.direct:
                outcome = await self._run_direct(invocation, plan, own_trace)
            else:
                outcome = await self._run(invocation, plan, own_trace)
        except BaseException as error:  # user code may raise anything; report, never crash
            if isinstance(error, (KeyboardInterrupt, SystemExit, asyncio.CancelledError)):
                if telemetry is not None:
                    telemetry.end(
                        span, span_token, invocation, Outcome(invocation_id, False, 0.0, error=error), started
                    )
                current_scope.reset(token)
                raise
            outcome = Outcome(invocation_id, False, 0.0, error=error)
        finally:
            self.running -= 1
        if telemetry is not None:
            telemetry.end(span, span_token, invocation, outcome, started)
        outcome.duration_ms = duration_ms = (time.perf_counter() - started) * 1000
        if InvocationStream.pending_anywhere:
            flush_invocation_output(scope)
        if not outcome.succeeded:
            log_failure(spec.name, invocation_id, duration_ms, outcome.error)
        elif plan.host_lines_shown:
            assert host_lines is not None
            host_lines.write(
                f"Executed 'Functions.{spec.name}' (Succeeded, Id={invocation_id}, Duration={int(duration_ms)}ms)"
            )
        elif host_lines is None and plan.function_logger.isEnabledFor(logging.INFO):
            plan.function_logger.info(
                "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)", spec.name, invocation_id, duration_ms
            )
        current_scope.reset(token)
        return outcome

    async def _run_direct(self, invocation: Invocation, plan: _Plan, own_trace: str | None) -> Outcome:
        """The plan of a function with nothing but its trigger (and context) in and its result out."""
        args: dict[str, Any] = {}
        if plan.trigger_param is not None:
            args[plan.trigger_param] = _trigger_argument(invocation, plan)
        if plan.context_param is not None:
            args[plan.context_param] = _context(invocation, own_trace)
        result = await self._call(invocation, plan, args)
        outcome = Outcome(invocation.invocation_id, True, 0.0, return_value=result)
        if plan.return_http and type(result) is HttpResponse:
            outcome.http_response = result  # what _collect_return would find, without its checks
        else:
            self._collect_return(outcome, invocation.function, plan, result)
        return outcome

    async def _run(self, invocation: Invocation, plan: _Plan, own_trace: str | None = None) -> Outcome:
        """The general plan: every input binding read, every output collected and written."""
        spec = invocation.function
        context = _context(invocation, own_trace)
        args: dict[str, Any] = {}
        outs: dict[str, Out[Any]] = {}
        for name, kind, converter, binding in plan.inputs:
            if kind is ParamKind.INPUT:
                assert binding is not None
                if name == plan.trigger_param:
                    args[name] = _trigger_argument(invocation, plan)
                else:
                    data = await self._read_input(binding, invocation)
                    args[name] = converter.decode(data, trigger_metadata={})
            elif kind is ParamKind.CONTEXT:
                args[name] = context
            else:
                outs[name] = args[name] = Out()
        result = await self._call(invocation, plan, args, context)
        outcome = Outcome(invocation.invocation_id, True, 0.0, return_value=result)
        for name, binding, converter, pytype in plan.outputs:
            value = outs[name].get()
            if value is not None:  # an Out that was never set writes nothing, as in the worker
                self._collect(outcome, binding, value, pytype, converter)
        self._collect_return(outcome, spec, plan, result)
        if self.binding_io is not None and outcome.outputs:
            for binding in spec.output_bindings:
                datum = outcome.outputs.get(binding.name)
                if datum is not None:
                    await self.binding_io.write_output(binding, datum, invocation)
        return outcome

    async def _call(
        self, invocation: Invocation, plan: _Plan, args: dict[str, Any], context: Context | None = None
    ) -> Any:
        """Call the user function (async on the loop, sync in a pool thread) within functionTimeout.

        Past functionTimeout the watchdog cancels the call; a ``TimeoutError`` the function
        raises itself stays the function's own error.
        """
        spec = invocation.function
        awaitable: Awaitable[Any]
        if spec.is_async:
            if plan.hooks:
                assert context is not None  # functions with hooks run the general plan, which made it
                awaitable = self._call_async(spec, plan, context, args)
            else:
                thread_local_storage().invocation_id = invocation.invocation_id
                awaitable = spec.func(**args)
        else:
            call = contextvars.copy_context().run
            if isinstance(self.executor, FunctionThreads):
                awaitable = self.executor.run(call, self._call_sync, spec, plan, invocation, context, args)
            else:
                awaitable = asyncio.get_running_loop().run_in_executor(
                    self.executor, call, self._call_sync, spec, plan, invocation, context, args
                )
            self.sync_running += 1
        watchdog = self.watchdog
        watched = watchdog.watch(spec.name, invocation.invocation_id) if watchdog is not None else None
        try:
            return await awaitable
        except asyncio.CancelledError:
            if watched is None or not watchdog.expired(watched):  # type: ignore[union-attr]  # set with watched
                raise
        finally:
            if watched is not None:
                watchdog.release(watched)  # type: ignore[union-attr]
            if not spec.is_async:
                self.sync_running -= 1
        if not spec.is_async and self.on_sync_timeout is not None:
            self.on_sync_timeout(invocation.invocation_id)
        assert self.timeout is not None
        raise FunctionTimeoutError(timeout_message(spec.name, invocation.invocation_id, self.timeout))

    def _collect_return(self, outcome: Outcome, spec: FunctionSpec, plan: _Plan, result: Any) -> None:
        if spec.return_binding is not None:
            if result is not None:
                self._collect(outcome, spec.return_binding, result, None, plan.return_converter)
            elif plan.response_required:
                raise InvocationError(
                    f"function {spec.name!r} returned None: an HTTP function must return func.HttpResponse or str"
                )
        elif result is not None and spec.http_type == "function":
            raise InvocationError(f"function {spec.name!r} without a $return binding returned a non-None value")

    def _collect(self, outcome: Outcome, binding: BindingSpec, value: Any, pytype: Any, converter: Any) -> None:
        kind = binding.type.lower()
        json_values = kind != "http" and self.binding_io is not None and self.binding_io.takes_json(kind)
        if kind == "http":
            # the HTTP listener sends the object itself; the library's converter accepts these two
            if isinstance(value, (str, abstract.HttpResponse)):
                outcome.http_response = value
                return
            datum = None
        elif isinstance(value, dict) and json_values:
            datum = _as_json(value)  # the Event Grid converter would take a dict for a list of its keys
        else:
            datum = _encoded(converter, value, pytype)
            if datum is None and json_values and isinstance(value, (list, int, float, bool)):
                datum = _as_json(value)  # the real host sends these as JSON where the converter takes only text
        if datum is None:
            raise InvocationError(
                f"cannot convert the value of type {type(value).__name__} set for the "
                f"'{binding.name}' binding ({binding.type})"
            )
        outcome.outputs[binding.name] = datum

    async def _read_input(self, binding: BindingSpec, invocation: Invocation) -> Datum:
        if self.binding_io is None:
            raise InvocationError(
                f"the input binding '{binding.name}' ({binding.type}) cannot be read: no binding provider is configured"
            )
        return await self.binding_io.read_input(binding, invocation)

    def _call_sync(
        self, spec: FunctionSpec, plan: _Plan, invocation: Invocation, context: Context | None, args: dict[str, Any]
    ) -> Any:
        thread_local_storage().invocation_id = invocation.invocation_id
        if not plan.hooks:
            return spec.func(**args)
        assert context is not None  # functions with hooks run the general plan, which made it
        self.extensions.pre_invocation(spec.name, plan.user_logger, context, args)
        result = spec.func(**args)
        self.extensions.post_invocation(spec.name, plan.user_logger, context, args, result)
        return result

    async def _call_async(self, spec: FunctionSpec, plan: _Plan, context: Context, args: dict[str, Any]) -> Any:
        """An async function with worker extensions' pre and post hooks around it."""
        thread_local_storage().invocation_id = context.invocation_id
        func: Callable[..., Awaitable[Any]] = spec.func
        self.extensions.pre_invocation(spec.name, plan.user_logger, context, args)
        result = await func(**args)
        self.extensions.post_invocation(spec.name, plan.user_logger, context, args, result)
        return result


def _trigger_argument(invocation: Invocation, plan: _Plan) -> Any:
    """The trigger parameter's value: the listener's own object when it built one the library's
    converter would build alike (the HTTP request), else the converter's decoding of the data."""
    value = invocation.trigger_value
    if value is None or not plan.trigger_prepared:
        value = plan.trigger_converter.decode(invocation.trigger_data, trigger_metadata=invocation.trigger_metadata)
    return value


def _context(invocation: Invocation, own_trace: str | None) -> Context:
    return Context(
        invocation.invocation_id,
        invocation.function.name,
        invocation.function.directory,
        invocation.trace_parent,
        invocation.trace_state,
        RetryContext.of(invocation.retry_count, invocation.max_retry_count, invocation.previous_error),
        own_trace,
    )


def _encoded(converter: Any, value: Any, pytype: Any) -> Datum | None:
    """The converter's datum for ``value``; None when it refuses it (the library's converters raise
    NotImplementedError or TypeError, and the Event Hubs one returns a datum without a type)."""
    try:
        datum = converter.encode(value, expected_type=pytype)
    except (NotImplementedError, TypeError):
        return None
    return datum if datum is not None and datum.type is not None else None


def _as_json(value: Any) -> Datum | None:
    try:
        return Datum(json.dumps(value), "json")
    except (TypeError, ValueError):
        return None


def timeout_message(function_name: str, invocation_id: str, timeout: float) -> str:
    """The real host's words for an invocation past functionTimeout."""
    from funchost.invoke.retry import format_timespan

    return (
        f"Timeout value of {format_timespan(timeout)} exceeded by function 'Functions.{function_name}' "
        f"(Id: '{invocation_id}'). Initiating cancellation."
    )


def log_failure(function_name: str, invocation_id: str, duration_ms: float, error: BaseException | None) -> None:
    """The ``Executed ... (Failed ...)`` line with the worker's failure text."""
    logging.getLogger(f"Function.{function_name}").error(
        "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)\n%s",
        function_name,
        invocation_id,
        duration_ms,
        format_failure(error),
    )


def format_failure(error: BaseException | None) -> str:
    """The worker's failure text: ``Result: Failure``, ``Exception: <Type>: <msg>``, ``Stack:``."""
    if error is None:
        return "Result: Failure"
    stack = "".join(traceback.format_tb(error.__traceback__)).rstrip()
    return f"Result: Failure\nException: {type(error).__name__}: {error}\nStack: {stack}"
