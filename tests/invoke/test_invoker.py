"""Invoking functions with trigger data, as the real host would send it."""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor

import azure.functions as func
import pytest
from azure.functions import meta

from funchost.app import load_app
from funchost.config import AppSettings, HostConfig
from funchost.invoke import Extensions, Invocation, Invoker, install_log_capture
from funchost.invoke.logs import uninstall_log_capture
from funchost.triggers.common.manual import manual_invocation
from funchost.triggers.families import CATALOG
from funchost.triggers.http import messages
from tests.conftest import EXAMPLES


def index_of(root):
    index = load_app(root, AppSettings({}), HostConfig(), CATALOG)
    assert index.errors == [], index.errors
    return index


def run(invocation: Invocation, extensions: Extensions | None = None):
    with ThreadPoolExecutor(4) as executor:
        return asyncio.run(Invoker(executor, extensions).invoke(invocation))


def http_invocation(spec, method="GET", path="/api/x", query=None, body=b"", headers=None, route=None):
    query = query or {}
    headers = {"host": "localhost", **(headers or {})}
    datum = messages.trigger_datum(method, f"http://localhost{path}", headers, query, route or {}, body)
    return Invocation(
        spec, datum, messages.trigger_metadata(headers, query, route or {}), trace_parent=headers.get("traceparent")
    )


def test_v1_http_function_with_shared_code_imports():
    index = index_of(EXAMPLES / "v1_app")
    outcome = run(http_invocation(index.functions["HttpTrigger"], query={"name": "Ann", "loud": "1"}))
    assert outcome.succeeded, outcome.error
    assert isinstance(outcome.http_response, func.HttpResponse)
    assert outcome.http_response.get_body() == (b"HELLO, ANN. THIS HTTP TRIGGERED FUNCTION EXECUTED SUCCESSFULLY.")


def test_v1_out_parameter_context_and_global_state():
    index = index_of(EXAMPLES / "v1_app")
    spec = index.functions["AltEntry"]
    first = run(http_invocation(spec, route={"id": "7"}))
    second = run(http_invocation(spec, route={"id": "8"}))
    assert first.succeeded and second.succeeded
    assert first.http_response.get_body().decode() == (f"id=7 fn=AltEntry first={first.invocation_id}")
    # CACHED_DATA was set by the first call and kept for the second
    assert second.http_response.get_body().decode() == f"id=8 fn=AltEntry first={first.invocation_id}"


def test_v2_http_post_json_and_async_function():
    index = index_of(EXAMPLES / "v2_app")
    body = json.dumps({"name": "Bo"}).encode()
    outcome = run(http_invocation(index.functions["hello"], method="POST", body=body))
    assert outcome.http_response.get_body() == b"Hello, Bo. This HTTP triggered function executed successfully."
    products = run(http_invocation(index.functions["products"], route={"category": "shoes", "id": None}))
    assert json.loads(products.http_response.get_body()) == {"category": "shoes", "id": None}


QUEUE_APP = {
    "function_app.py": """
        import logging
        import threading
        import typing
        import azure.functions as func

        app = func.FunctionApp()
        SEEN = []

        @app.queue_trigger(arg_name="msg", queue_name="in", connection="AzureWebJobsStorage")
        @app.queue_output(arg_name="out", queue_name="out", connection="AzureWebJobsStorage")
        def relay(msg: func.QueueMessage, out: func.Out[str], context: func.Context) -> None:
            logging.getLogger("my.module").warning("relaying %s", msg.get_body().decode())
            print("printed line")
            SEEN.append({
                "id": msg.id, "dequeue_count": msg.dequeue_count, "pop_receipt": msg.pop_receipt,
                "invocation_id": context.invocation_id,
                "thread_invocation_id": context.thread_local_storage.invocation_id,
                "function_name": context.function_name,
                "traceparent": context.trace_context.Traceparent,
                "retry": (context.retry_context.retry_count, context.retry_context.max_retry_count),
                "thread": threading.current_thread().name,
            })
            out.set(msg.get_body().decode().upper())

        @app.function_name("as_text")
        @app.queue_trigger(arg_name="msg", queue_name="t", connection="AzureWebJobsStorage")
        @app.queue_output(arg_name="$return", queue_name="out", connection="AzureWebJobsStorage")
        def as_text(msg: str) -> bytes:
            return (type(msg).__name__ + ":" + msg).encode()

        @app.queue_trigger(arg_name="msg", queue_name="f", connection="AzureWebJobsStorage")
        def fails(msg: func.QueueMessage) -> None:
            raise ValueError("cannot handle " + msg.get_body().decode())

        @app.queue_trigger(arg_name="msg", queue_name="l", connection="AzureWebJobsStorage")
        @app.queue_output(arg_name="out", queue_name="out", connection="AzureWebJobsStorage")
        async def many(msg: func.QueueMessage, out: func.Out[typing.List[str]]) -> None:
            out.set(["a", "b"])

        @app.queue_trigger(arg_name="msg", queue_name="loop", connection="AzureWebJobsStorage")
        def own_loop(msg: str) -> None:
            import asyncio

            async def inner():
                await asyncio.sleep(0)
                return 42

            SEEN.append(asyncio.run(inner()))
    """,
}


def test_queue_trigger_out_binding_context_logs_and_thread_pool(app_dir, caplog):
    # installed for this test only: left in place, it outlives pytest's own stdout capture
    installed = install_log_capture()
    try:
        index = index_of(app_dir(QUEUE_APP))
        spec = index.functions["relay"]
        invocation = manual_invocation(spec, "hello")
        invocation.trace_parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        with caplog.at_level(logging.INFO):
            outcome = run(invocation)
        assert outcome.succeeded, outcome.error
        assert outcome.outputs["out"] == meta.Datum("HELLO", "string")
        import function_app

        seen = function_app.SEEN[-1]
        assert seen["dequeue_count"] == 1 and seen["id"] == invocation.trigger_metadata["Id"].value
        assert seen["invocation_id"] == seen["thread_invocation_id"] == outcome.invocation_id
        assert seen["function_name"] == "relay"
        assert seen["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
        assert seen["traceparent"] != invocation.trace_parent  # a child span of the caller's
        assert seen["retry"] == (0, 0)
        assert seen["thread"].startswith("ThreadPoolExecutor")
        user = [r for r in caplog.records if r.name == "my.module"]
        assert user and user[0].getMessage() == "relaying hello"
        assert user[0].invocation_id == outcome.invocation_id and user[0].function_name == "relay"
        printed = [r for r in caplog.records if r.getMessage() == "printed line"]
        assert printed and printed[0].name == "Function.relay.User"
        messages_ = [r.getMessage() for r in caplog.records]
        assert f"Executing 'Functions.relay' (Reason='{invocation.reason}', Id={outcome.invocation_id})" in messages_
        assert any(
            m.startswith(f"Executed 'Functions.relay' (Succeeded, Id={outcome.invocation_id}, Duration=")
            for m in messages_
        )
    finally:
        if installed:
            uninstall_log_capture()


def test_generic_str_annotation_and_return_binding(app_dir):
    index = index_of(app_dir(QUEUE_APP))
    outcome = run(manual_invocation(index.functions["as_text"], "hi"))
    assert outcome.outputs["$return"] == meta.Datum(b"str:hi", "bytes")


def test_failure_is_logged_with_exception_and_stack(app_dir, caplog):
    index = index_of(app_dir(QUEUE_APP))
    with caplog.at_level(logging.INFO):
        outcome = run(manual_invocation(index.functions["fails"], "this"))
    assert not outcome.succeeded
    assert isinstance(outcome.error, ValueError)
    failed = [r for r in caplog.records if "(Failed," in r.getMessage()]
    assert failed and failed[0].levelno == logging.ERROR
    text = failed[0].getMessage()
    assert "Exception: ValueError: cannot handle this" in text and "Stack:" in text
    assert "function_app.py" in text


def test_async_function_with_list_output(app_dir):
    index = index_of(app_dir(QUEUE_APP))
    outcome = run(manual_invocation(index.functions["many"], "x"))
    assert outcome.succeeded
    assert json.loads(outcome.outputs["out"].value) == ["a", "b"]


def test_sync_function_may_run_its_own_event_loop(app_dir):
    index = index_of(app_dir(QUEUE_APP))
    assert run(manual_invocation(index.functions["own_loop"], "x")).succeeded
    import function_app

    assert function_app.SEEN[-1] == 42


def test_v1_return_without_return_binding_fails(app_dir):
    root = app_dir(
        {
            "Q/function.json": {
                "bindings": [{"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": "q"}]
            },
            "Q/__init__.py": "def main(msg):\n    return 'oops'\n",
        }
    )
    outcome = run(manual_invocation(index_of(root).functions["Q"], "x"))
    assert not outcome.succeeded
    assert "without a $return binding returned a non-None value" in str(outcome.error)


def test_timer_trigger_gets_timer_request(app_dir):
    root = app_dir(
        {
            "function_app.py": """
            import azure.functions as func
            app = func.FunctionApp()
            GOT = []

            @app.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False)
            def tick(timer: func.TimerRequest) -> None:
                GOT.append(timer.past_due)
        """,
        }
    )
    assert run(manual_invocation(index_of(root).functions["tick"], "")).succeeded
    import function_app

    assert function_app.GOT == [False]


def test_worker_extensions_are_called(app_dir):
    root = app_dir(
        {
            "function_app.py": """
            import azure.functions as func
            from azure.functions import AppExtensionBase
            CALLS = []

            class Recorder(AppExtensionBase):
                @classmethod
                def pre_invocation_app_level(cls, logger, context, func_args=None, *a, **k):
                    CALLS.append(("pre", context.function_name, sorted(func_args)))

                @classmethod
                def post_invocation_app_level(cls, logger, context, func_args=None, func_ret=None, *a, **k):
                    CALLS.append(("post", context.function_name, func_ret))

            app = func.FunctionApp()

            @app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
            @app.queue_output(arg_name="$return", queue_name="o", connection="AzureWebJobsStorage")
            def hooked(msg: str) -> str:
                return "ret"
        """,
        }
    )
    spec = index_of(root).functions["hooked"]
    assert run(manual_invocation(spec, "x"), Extensions(enabled=True)).succeeded
    import function_app

    assert function_app.CALLS == [("pre", "hooked", ["msg"]), ("post", "hooked", "ret")]
    function_app.CALLS.clear()
    run(manual_invocation(spec, "x"), Extensions(enabled=False))
    assert function_app.CALLS == []


@pytest.mark.parametrize("value", ["yes", "no"])
def test_contextvars_reach_sync_functions(app_dir, value):
    root = app_dir(
        {
            "function_app.py": """
            import contextvars
            import azure.functions as func
            app = func.FunctionApp()
            VAR = contextvars.ContextVar("v", default="unset")

            @app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
            @app.queue_output(arg_name="$return", queue_name="o", connection="AzureWebJobsStorage")
            def read(msg: str) -> str:
                VAR.set(msg)
                return VAR.get()
        """,
        }
    )
    outcome = run(manual_invocation(index_of(root).functions["read"], value))
    assert outcome.outputs["$return"].value == value


TIMEOUT_APP = {
    "function_app.py": """
        import asyncio
        import time

        import azure.functions as func

        app = func.FunctionApp()


        @app.queue_trigger(arg_name="msg", queue_name="q", connection="AzureWebJobsStorage")
        async def sleepy(msg: func.QueueMessage) -> None:
            await asyncio.sleep(30)


        @app.queue_trigger(arg_name="msg", queue_name="q2", connection="AzureWebJobsStorage")
        async def raises_timeout(msg: func.QueueMessage) -> None:
            raise TimeoutError("the function's own timeout")


        @app.queue_trigger(arg_name="msg", queue_name="q3", connection="AzureWebJobsStorage")
        def stuck(msg: func.QueueMessage) -> None:
            time.sleep(2)
    """,
}


def test_function_timeout_cancels_async_and_reports_sync_overruns(app_dir):
    index = index_of(app_dir(TIMEOUT_APP))
    overruns: list[str] = []

    async def invoke_all():
        with ThreadPoolExecutor(2) as executor:
            invoker = Invoker(executor, timeout=1.0, on_sync_timeout=overruns.append)
            return [
                await invoker.invoke(manual_invocation(index.functions[name], "x"))
                for name in ("sleepy", "raises_timeout", "stuck")
            ]

    sleepy, raises_timeout, stuck = asyncio.run(invoke_all())
    assert not sleepy.succeeded and sleepy.duration_ms < 5000
    assert str(sleepy.error) == (
        f"Timeout value of 00:00:01 exceeded by function 'Functions.sleepy' "
        f"(Id: '{sleepy.invocation_id}'). Initiating cancellation."
    )
    assert type(raises_timeout.error) is TimeoutError and str(raises_timeout.error) == "the function's own timeout"
    assert not stuck.succeeded and "exceeded by function 'Functions.stuck'" in str(stuck.error)
    assert overruns == [stuck.invocation_id]


def test_invocation_ids_are_distinct_version_4_uuids():
    import uuid

    from funchost.app.invocation import new_invocation_id

    ids = [new_invocation_id() for _ in range(2000)]  # crosses several refills of the random pool
    assert len(set(ids)) == len(ids)
    for text in ids[:600]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122
