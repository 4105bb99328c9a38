"""A new binding family is one descriptor plus its modules: it loads, runs, shows in ``list``
and gets its KEDA scaler, with no file of funchost changed (``tick_family.py`` is the modules)."""

from __future__ import annotations

import json

import pytest

from funchost.app.model import BindingSpec
from funchost.bindings.binders import InputBinder, OutputBinder
from funchost.cli.main import main
from funchost.config import HostConfig
from funchost.host.console import flush_console
from funchost.host.instance import HostInstance
from funchost.testing import TestClient
from funchost.triggers.base import SampleModule, TriggerModule
from funchost.triggers.families import CATALOG, Family, KedaScaler
from tests.conftest import write_app
from tests.triggers import tick_family
from tests.waiting import eventually

APP = {
    "function_app.py": """
    import azure.functions as func

    app = func.FunctionApp()

    @app.generic_trigger(arg_name="tick", type="tickTrigger")
    @app.generic_input_binding(arg_name="count", type="tally", tallyName="ticks")
    @app.generic_output_binding(arg_name="out", type="tally", tallyName="ticks")
    def on_tick(tick: str, count: str, out: func.Out[str]) -> None:
        out.set(f"{tick} after {count}")
"""
}


def _listen() -> TriggerModule:
    return tick_family


def _sample() -> SampleModule:
    return tick_family


def _reads() -> InputBinder:
    return tick_family


def _writes() -> OutputBinder:
    return tick_family


def _tick_scaler(trigger: BindingSpec, host_config: HostConfig) -> dict[str, str]:
    return {"ticksPerMinute": "3"}


TICK = Family(
    "tick", "tickTrigger", "tally", listen=_listen, reads=_reads, writes=_writes, sample=_sample,
    keda=KedaScaler("tick-scaler", _tick_scaler), default_connection="TickConnection",
)  # fmt: skip


@pytest.fixture
def tick_family_registered():
    CATALOG.register(TICK)
    tick_family.tallies.clear()
    yield
    CATALOG.unregister(TICK.name)  # the catalog as the other tests expect it


def test_an_unknown_family_is_a_load_error(tmp_path):
    app = write_app(tmp_path / "app", APP)
    assert CATALOG.of("tickTrigger") is None
    with TestClient(app) as client:
        assert any(
            "The binding type(s) 'tally, tally, tickTrigger' are not registered" in error for error in client.errors
        ), client.errors


def test_a_family_added_from_outside_loads_runs_lists_and_scales(tmp_path, tick_family_registered, capfd):
    app = write_app(tmp_path / "app", APP)

    async def run(instance: HostInstance) -> None:  # the listener fires; each run reads the tally and writes it
        await instance.run_listeners()
        await eventually(lambda: len(tick_family.tallies.get("ticks", [])) >= tick_family.TICKS, 10, "three ticks")
        await instance.stop_listeners(1)

    with TestClient(app) as client:  # loads as funchost start does, and puts the process back after
        assert client.errors == []
        client.loop.run_until_complete(run(client.instance))
    assert tick_family.tallies["ticks"] == ["tick 1 after 0", "tick 2 after 1", "tick 3 after 2"]

    with TestClient(app) as client:  # run by hand through the module's sample_invocation
        assert client.invoke("on_tick", "by hand").succeeded
    assert tick_family.tallies["ticks"][-1] == "by hand after 3"

    capfd.readouterr()  # the invocations' log lines
    assert main(["list", "--script-root", str(app), "--json"]) == 0
    flush_console()  # what the command printed goes through the host's console writer
    listed = json.loads(capfd.readouterr().out)
    assert [(f["name"], f["trigger"]) for f in listed["functions"]] == [("on_tick", "tickTrigger")]

    assert main(["kubernetes", "manifests", "--script-root", str(app), "--json"]) == 0
    flush_console()
    documents = json.loads(capfd.readouterr().out)
    scaled = next(d for d in documents if d["kind"] == "ScaledObject")
    assert scaled["spec"]["triggers"][0]["type"] == "tick-scaler"
    assert scaled["spec"]["minReplicaCount"] == 0  # not always_on: it scales to zero
    assert scaled["spec"]["triggers"][0]["metadata"] == {"ticksPerMinute": "3"}
    secret = next(d for d in documents if d["kind"] == "Secret")
    assert "TickConnection" in secret["stringData"]
