"""A new trigger family is one module and one registration: no existing module changes."""

from __future__ import annotations

import asyncio
import time

from funchost.host.instance import HostInstance
from funchost.host.options import HostOptions
from funchost.testing import TestClient
from funchost.triggers.registry import TriggerKind, register_trigger, trigger_kind
from tests.conftest import write_app

APP = {"function_app.py": """
    import azure.functions as func

    app = func.FunctionApp()
    seen = []

    @app.generic_trigger(arg_name="tick", type="tickTrigger")
    def on_tick(tick: str) -> None:
        seen.append(tick)
"""}


def test_a_trigger_registered_from_outside_loads_listens_and_runs_by_hand(tmp_path):
    app = write_app(tmp_path / "app", APP)
    assert trigger_kind("tickTrigger") is None
    with TestClient(app) as client:  # before registration: a load error naming the type
        assert any("The binding type(s) 'tickTrigger' are not registered" in error for error in client.errors)
    register_trigger(TriggerKind("tickTrigger", "tests.triggers.tick_trigger"))
    instance = HostInstance(HostOptions(script_root=app))
    instance.load()
    assert instance.load_errors() == []
    import function_app  # the app's module, as the host imported it

    async def run() -> None:
        await instance.run_listeners()
        deadline = time.monotonic() + 10
        while len(function_app.seen) < 3:
            assert time.monotonic() < deadline, function_app.seen
            await asyncio.sleep(0.01)
        await instance.stop_listeners(1)

    asyncio.run(run())
    assert function_app.seen == ["tick 1", "tick 2", "tick 3"]
    with TestClient(app) as client:  # run by hand through the module's sample_invocation
        assert client.invoke("on_tick", "by hand").succeeded
