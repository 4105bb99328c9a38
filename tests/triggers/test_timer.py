"""Timer trigger end to end: real host processes sharing one store (embedded, or Azurite)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections import Counter
from datetime import datetime, timedelta, timezone

from tests.waiting import stays, wait_until

TIMER_APP = {
    "host.json": {"version": "2.0", "singleton": {"listenerLockPeriod": "00:00:03"}},
    "function_app.py": """
        import logging
        import os
        from datetime import datetime, timezone
        import azure.functions as func

        app = func.FunctionApp()

        @app.timer_trigger(schedule="%TICK_SCHEDULE%", arg_name="timer", run_on_startup=False)
        def ticker(timer: func.TimerRequest) -> None:
            now = datetime.now(timezone.utc)
            logging.info("tick %s pid=%d past_due=%s", now.strftime("%H:%M:%S"), os.getpid(), timer.past_due)
    """,
}

MONITORED_APP = {
    "function_app.py": """
        import logging
        import azure.functions as func

        app = func.FunctionApp()

        @app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=False, use_monitor=True)
        def yearly(timer: func.TimerRequest) -> None:
            status = timer.schedule_status
            logging.info("yearly past_due=%s last=%s", timer.past_due, status.get("Last") if status else None)

        @app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
        def at_start(timer: func.TimerRequest) -> None:
            logging.info("at_start ran past_due=%s", timer.past_due)

        @app.timer_trigger(schedule="not a cron", arg_name="timer")
        def broken(timer: func.TimerRequest) -> None:
            pass
    """,
}


def ticks(output: str) -> list[tuple[str, str]]:
    return re.findall(r"tick (\d\d:\d\d:\d\d) pid=(\d+)", output)


def test_every_second_timer_ticks_once_per_second(host, app_dir):
    process = host(app_dir(TIMER_APP), env={"TICK_SCHEDULE": "*/1 * * * * *"})
    wait_until(lambda: len(ticks(process.output)) >= 3, 20, "fewer than three ticks")
    seconds = [second for second, _ in ticks(process.output)]
    assert len(seconds) >= 3
    assert len(seconds) == len(set(seconds))  # never twice in one second
    assert "The next 5 occurrences of the 'ticker' schedule (Cron: '*/1 * * * * *') will be:" in process.output


def test_three_hosts_one_tick_each_and_lease_takeover(backend, host, app_dir):
    app = app_dir(TIMER_APP)
    env = backend.env(TICK_SCHEDULE="*/1 * * * * *")
    period = 3 if backend.name == "embedded" else 15  # Azure blob leases last 15 s at least
    processes = [host(app, env=env) for _ in range(3)]
    wait_until(
        lambda: len({second for p in processes for second, _ in ticks(p.output)}) >= 3, 30, "fewer than three ticks"
    )
    everything = [t for p in processes for t in ticks(p.output)]
    per_second = Counter(second for second, _ in everything)
    assert len(per_second) >= 3 and max(per_second.values()) == 1
    holders = {pid for _, pid in everything}
    assert len(holders) == 1
    holder = next(p for p in processes if ticks(p.output))
    holder.process.send_signal(signal.SIGKILL)  # the supervisor; its instance dies with it
    holder.process.wait()
    survivors = [p for p in processes if p is not holder]
    # within the lease period, plus a poll (the bound is generous: a loaded machine is slow)
    wait_until(lambda: any(ticks(p.output) for p in survivors), period + 10, "no instance took the timer over")
    wait_until(lambda: len({s for p in survivors for s, _ in ticks(p.output)}) >= 2, 20, "the survivor stopped")
    after = Counter(second for p in survivors for second, _ in ticks(p.output))
    assert max(after.values()) == 1


def _seed_status(backend, app, host_id_key: str, status: dict) -> None:
    async def seed() -> None:
        store = backend.store(app)
        await store.open()
        await store.set_state(host_id_key, json.dumps(status))
        await store.close()

    asyncio.run(seed())


def _status_keys(backend, app) -> dict[str, dict]:
    async def read() -> dict[str, dict]:
        store = backend.store(app)
        await store.open()
        try:
            if backend.name == "embedded":
                rows = await store._run(
                    lambda c: c.execute("SELECT key, value FROM state WHERE key LIKE 'timers/%'").fetchall()
                )
            else:  # blobs in azure-webjobs-hosts, named as the real host names them
                names = [b.name for b in await store.list_blobs("azure-webjobs-hosts", "timers/")]
                rows = [(name, await store.get_state(name)) for name in names]
        finally:
            await store.close()
        return {key: json.loads(value) for key, value in rows}

    return asyncio.run(read())


def test_monitoring_past_due_catch_up_and_run_on_startup(backend, host, app_dir):
    app = app_dir(MONITORED_APP)
    first = host(app, env=backend.env())
    first.wait_for_output("at_start ran past_due=False")
    assert "Function 'at_start' is configured to run on startup. Executing now." in first.output
    assert (
        "The 'broken' function is in error: The schedule expression 'not a cron' was not recognized as a "
        "valid cron expression or timespan string."
    ) in first.output
    wait_until(
        lambda: any(k.endswith("Host.Functions.yearly/status") for k in _status_keys(backend, app)),
        10,
        "no schedule status written",
    )
    assert "yearly past_due" not in first.output
    assert first.stop() == 0
    key, status = next(
        (k, v) for k, v in _status_keys(backend, app).items() if k.endswith("Host.Functions.yearly/status")
    )
    assert status["Next"].startswith(f"{datetime.now(timezone.utc).year + 1}-01-01T00:00:00")
    # the host was down when the recorded Next passed: it runs once at start, past due
    missed = datetime.now(timezone.utc) - timedelta(days=2)
    _seed_status(backend, app, key, {"Last": None, "Next": missed.isoformat(), "LastUpdated": missed.isoformat()})
    second = host(app, env=backend.env())
    second.wait_for_output("yearly past_due=True")
    assert "Function 'yearly' is past due on startup. Executing now." in second.output
    # a second past-due run would follow the first at once: a second is long enough to rule it out
    stays(lambda: second.output.count("yearly past_due=True") == 1, 1.0, "the past-due run came twice")


RETRY_APP = {
    "function_app.py": """
        import logging
        import azure.functions as func

        app = func.FunctionApp()
        attempts = []

        @app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True, use_monitor=False)
        @app.retry(strategy="fixed_delay", max_retry_count="3", delay_interval="00:00:01")
        def retried(timer: func.TimerRequest, context: func.Context) -> None:
            attempts.append(1)
            logging.info("attempt %d retry_count=%d max=%d", len(attempts), context.retry_context.retry_count,
                         context.retry_context.max_retry_count)
            if len(attempts) < 3:
                raise RuntimeError(f"failure {len(attempts)}")
    """,
}


def test_a_retry_policy_reruns_a_failed_timer_invocation(host, app_dir):
    process = host(app_dir(RETRY_APP))
    output = process.wait_for_output("attempt 3 retry_count=2 max=3", timeout=20)
    assert "attempt 1 retry_count=0 max=3" in output and "attempt 2 retry_count=1 max=3" in output
    assert (
        "Waiting for `00:00:01` before retrying function execution. Next attempt: '1'. Max retry count: '3'."
    ) in output
    process.wait_for_output("Executed 'Functions.retried' (Succeeded", timeout=10)
    assert output.count("RuntimeError: failure") == 2
