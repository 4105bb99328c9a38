"""The supervisor: N host instances as processes on one listening socket.

It binds the socket, starts the instances, restarts one that dies (with back-off, and a
clear report when it keeps crashing), replaces one that asks to be recycled (a sync function
overran ``functionTimeout``, or the health monitor gave up on it), reloads the app on file
changes in development, and on SIGTERM/SIGINT lets every instance drain, then exits 0.

It imports nothing heavy: the instances load the app, the supervisor only manages them.
Instances talk back on a pipe, one line per message: ``ready``, ``failed`` (could not start,
and printed why), ``recycle <reason>`` and
``status <json>`` (their load samples, see health.py). The supervisor keeps what it knows of
every instance in a JSON file (``FUNCHOST_STATUS_FILE``) that ``/admin/host/status`` shows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

from funchost.host.options import RECYCLE_EXIT_CODE, HostOptions

CRASH_WINDOW = 60.0
CRASH_LIMIT = 5
WATCHED_SUFFIXES = {".py"}
RETIRE_MARGIN = 5.0  # seconds past --drain-timeout before a retiring instance is killed
WATCHED_NAMES = {"function.json", "host.json", "local.settings.json"}
IGNORED_FOLDERS = {
    ".funchost",
    ".venv",
    "venv",
    "__pycache__",
    ".git",
    "node_modules",
    ".python_packages",
    ".pytest_cache",
    ".mypy_cache",
}


def say(message: str, error: bool = False) -> None:
    moment = datetime.now(timezone.utc)
    stamp = moment.strftime("[%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z] "
    colour = os.environ.get("NO_COLOR") is None and sys.stdout.isatty()
    line = stamp + message
    if error and colour:
        line = f"\033[31m{line}\033[0m"
    print(line, flush=True)


@dataclasses.dataclass
class Instance:
    slot: int
    process: subprocess.Popen[bytes]
    control: int  # read end of the pipe
    started: float  # wall clock (time.time()): the instances compute their uptime from it
    buffer: bytes = b""
    ready: bool = False
    retiring: bool = False
    retire_by: float | None = None  # time.monotonic() after which a retiring instance is killed
    failed: bool = False  # it said it could not start (a load error it printed)
    errors: int = 0  # functions in error when it was ready
    sample: dict[str, Any] = dataclasses.field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        state = "Draining" if self.retiring else "Running" if self.ready else "Starting"
        return {
            "instance": self.slot,
            "pid": self.process.pid,
            "state": state,
            "startedAt": self.started,
            **self.sample,
        }


def relevant_change(path: str, root: Path) -> bool:
    """A change that should reload the app: code, function.json, host.json, local settings."""
    relative = Path(path)
    try:
        relative = Path(path).resolve().relative_to(root)
    except ValueError:
        return False
    if any(part in IGNORED_FOLDERS for part in relative.parts):
        return False
    return relative.suffix in WATCHED_SUFFIXES or relative.name in WATCHED_NAMES


class Supervisor:
    def __init__(self, options: HostOptions, sock: Any, workers: int, reload: bool) -> None:
        self.options = options
        self.sock = sock
        self.workers = max(1, workers)
        self.reload = reload
        self.instances: dict[int, Instance] = {}  # by pid
        self.selector = selectors.DefaultSelector()
        self.crashes: dict[int, deque[float]] = {}
        self.next_start: dict[int, float] = {}
        self.stopping = False
        self.changes: SimpleQueue[str] = SimpleQueue()
        self.fatal: int | None = None
        self.ever_ready = False
        self.restarts: dict[int, int] = {}
        self.status_dir = tempfile.mkdtemp(prefix="funchost-status-")
        self.status_file = os.path.join(self.status_dir, "instances.json")

    def spawn(self, slot: int, banner: bool) -> Instance:
        read_end, write_end = os.pipe()
        env = {
            **os.environ,
            "FUNCHOST_LISTEN_FD": str(self.sock.fileno()),
            "FUNCHOST_CONTROL_FD": str(write_end),
            "FUNCHOST_INSTANCE": str(slot),
            "FUNCHOST_BANNER": "1" if banner else "",
            "FUNCHOST_STATUS_FILE": self.status_file,
            "FUNCHOST_SUPERVISOR_PID": str(os.getpid()),
        }
        options = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self.options).items()}
        process = subprocess.Popen(
            [sys.executable, "-m", "funchost", "_instance", json.dumps(options)],
            pass_fds=(self.sock.fileno(), write_end),
            env=env,
        )
        os.close(write_end)
        os.set_blocking(read_end, False)
        instance = Instance(slot, process, read_end, time.time())
        self.instances[process.pid] = instance
        self.selector.register(read_end, selectors.EVENT_READ, instance)
        self.write_status()
        return instance

    def write_status(self) -> None:
        """Every instance (and every slot waiting for a restart) for ``/admin/host/status``."""
        now = time.monotonic()
        entries = [
            {**i.describe(), "restarts": self.restarts.get(i.slot, 0)}
            for i in sorted(self.instances.values(), key=lambda i: (i.slot, i.started))
        ]
        for slot in range(self.workers):
            if slot not in self.active_slots():
                wait = self.next_start.get(slot)
                entries.append(
                    {
                        "instance": slot,
                        "state": "Stopped",
                        "restarts": self.restarts.get(slot, 0),
                        "restartInSeconds": None if wait in (None, float("inf")) else round(max(0.0, wait - now), 1),
                    }
                )
        temporary = self.status_file + ".tmp"
        with contextlib.suppress(OSError):
            with open(temporary, "w", encoding="utf-8") as handle:
                json.dump(entries, handle)
            os.replace(temporary, self.status_file)

    def forget(self, instance: Instance) -> None:
        self.instances.pop(instance.process.pid, None)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(instance.control)
        os.close(instance.control)
        self.write_status()

    def retire(self, instance: Instance) -> None:
        """Ask an instance to drain and stop (SIGTERM); it is killed if it outlives its drain."""
        if not instance.retiring and instance.process.poll() is None:
            self.mark_retiring(instance)
            instance.process.send_signal(signal.SIGTERM)
            self.write_status()

    def mark_retiring(self, instance: Instance) -> None:
        instance.retiring = True
        instance.retire_by = time.monotonic() + self.options.drain_timeout + RETIRE_MARGIN

    def kill_overdue(self) -> None:
        """A retiring instance past its drain deadline (a blocked event loop cannot even see
        SIGTERM) is killed, so an old generation never lingers."""
        now = time.monotonic()
        for instance in list(self.instances.values()):
            if instance.retire_by is not None and now > instance.retire_by and instance.process.poll() is None:
                say(
                    f"Instance {instance.slot} (pid {instance.process.pid}) did not stop within its drain "
                    f"timeout ({self.options.drain_timeout:g} s); killing it.",
                    error=True,
                )
                instance.process.kill()
                instance.retire_by = None

    def active_slots(self) -> set[int]:
        return {i.slot for i in self.instances.values() if not i.retiring}

    def read_messages(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            instance: Instance = key.data
            try:
                chunk = os.read(instance.control, 4096)
            except BlockingIOError:
                continue
            if not chunk:
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(instance.control)
                continue
            instance.buffer += chunk
            while b"\n" in instance.buffer:
                line, instance.buffer = instance.buffer.split(b"\n", 1)
                self.on_message(instance, line.decode("utf-8", "replace"))

    def on_message(self, instance: Instance, message: str) -> None:
        if message.startswith("status "):
            with contextlib.suppress(ValueError):
                instance.sample = json.loads(message[7:])
                self.write_status()
        elif message == "failed":
            instance.failed = True
        elif message.startswith("ready"):
            instance.ready = True
            instance.errors = int(message[6:] or 0) if message[6:].isdigit() else 0
            self.ever_ready = True
            # a reload: the new generation is up, the one it replaces can go, unless the change
            # broke what loaded before: then the previous version keeps serving until a fix
            previous = [
                other
                for other in self.instances.values()
                if other.slot == instance.slot and other is not instance and not other.retiring
            ]
            if any(other.ready and other.errors < instance.errors for other in previous):
                if instance.slot == 0:
                    say(
                        "The change did not load (errors above); the previous version keeps serving. "
                        "Save a fix to reload.",
                        error=True,
                    )
                self.retire(instance)
            else:
                for other in previous:
                    self.retire(other)
            self.write_status()
        elif message.startswith("recycle"):
            say(f"Recycling instance {instance.slot} (pid {instance.process.pid}): {message[8:]}")
            self.mark_retiring(instance)  # it drains and exits by itself
            self.restarts[instance.slot] = self.restarts.get(instance.slot, 0) + 1
            if not self.stopping:
                self.spawn(instance.slot, banner=False)

    def reap(self) -> None:
        for instance in list(self.instances.values()):
            code = instance.process.poll()
            if code is None:
                continue
            self.forget(instance)
            if self.stopping or instance.retiring or code == RECYCLE_EXIT_CODE:
                continue
            self.on_crash(instance, code)
            self.write_status()

    def on_crash(self, instance: Instance, code: int) -> None:
        reason = f"signal {-code}" if code < 0 else f"exit code {code}"
        if instance.slot in self.active_slots():
            return  # the instance it was replacing still serves (a reload that failed to start)
        if instance.failed:
            # it could not start (host.json, settings, ...): it printed why; restarting won't help
            if self.reload and self.ever_ready:
                say("The app could not start; fix the error above and save to reload.", error=True)
                self.next_start[instance.slot] = float("inf")
            else:
                self.fatal = 1
            return
        self.restarts[instance.slot] = self.restarts.get(instance.slot, 0) + 1
        history = self.crashes.setdefault(instance.slot, deque(maxlen=CRASH_LIMIT))
        now = time.monotonic()
        history.append(now)
        recent = [t for t in history if now - t < CRASH_WINDOW]
        if len(recent) >= CRASH_LIMIT:
            delay = 30.0
            say(
                f"Instance {instance.slot} keeps crashing ({len(recent)} times in the last {CRASH_WINDOW:.0f} s, "
                f"last: {reason}). Not restarting it for {delay:.0f} s; check the log above"
                + (", or save a fix to reload." if self.reload else "."),
                error=True,
            )
            history.clear()
        else:
            delay = min(10.0, 0.1 * (2 ** (len(recent) - 1)))
            say(
                f"Instance {instance.slot} (pid {instance.process.pid}) stopped unexpectedly ({reason}); "
                f"restarting it in {delay:.1f} s.",
                error=True,
            )
        self.next_start[instance.slot] = now + delay

    def start_missing(self) -> None:
        now = time.monotonic()
        for slot in range(self.workers):
            if slot in self.active_slots():
                continue
            if self.next_start.get(slot, 0) <= now:
                self.next_start.pop(slot, None)
                self.spawn(slot, banner=False)

    def on_change(self, changed: list[str]) -> None:
        shown = ", ".join(sorted({str(Path(c).name) for c in changed}))
        say(f"Change detected in {shown}; reloading.")
        self.next_start.clear()
        for slot in range(self.workers):
            self.spawn(slot, banner=slot == 0)  # the old instance of the slot retires when this one is ready

    def watch(self, stop: threading.Event) -> None:
        from watchfiles import watch

        root = self.options.script_root.resolve()
        for changes in watch(
            root,
            stop_event=stop,
            debounce=50,
            step=20,
            raise_interrupt=False,
            watch_filter=lambda _change, path: relevant_change(path, root),
        ):
            self.changes.put(json.dumps([path for _, path in changes]))

    def run(self) -> int:
        received: list[int] = []

        def on_signal(signum: int, frame: Any) -> None:
            received.append(signum)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        stop_watching = threading.Event()
        if self.reload:
            threading.Thread(target=self.watch, args=(stop_watching,), daemon=True, name="reloader").start()
        for slot in range(self.workers):
            self.spawn(slot, banner=slot == 0)
        timeout = self.options.startup_timeout
        give_up_at = time.monotonic() + timeout if timeout else None
        while not received and self.fatal is None:
            if give_up_at is not None and not self.ever_ready and time.monotonic() > give_up_at:
                say(f"The host did not start within {timeout:g} seconds (-t/--timeout).", error=True)
                self.fatal = 1
                break
            self.read_messages(0.05)
            self.reap()
            self.kill_overdue()
            try:
                changed = json.loads(self.changes.get_nowait())
            except Empty:
                changed = None
            if changed:
                self.on_change(changed)
            self.start_missing()
        stop_watching.set()
        code = self.shutdown()
        return self.fatal if self.fatal is not None else code

    def shutdown(self) -> int:
        self.stopping = True
        for instance in list(self.instances.values()):
            if instance.process.poll() is None:
                instance.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.options.drain_timeout + 5
        for instance in list(self.instances.values()):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                instance.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                say(f"Instance {instance.slot} did not stop within the drain timeout; killing it.", error=True)
                instance.process.kill()
                instance.process.wait()
            self.forget(instance)
        shutil.rmtree(self.status_dir, ignore_errors=True)
        return 0
