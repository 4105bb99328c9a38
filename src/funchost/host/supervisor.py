"""The supervisor: N host instances as processes on one listening socket.

It binds the socket, starts the instances, restarts one that dies (with back-off, and a
clear report when it keeps crashing), replaces one that asks to be recycled (a sync function
overran ``functionTimeout``, or the health monitor gave up on it), reloads the app on file
changes in development, and on SIGTERM/SIGINT lets every instance drain, then exits 0.

It imports nothing heavy: the instances load the app, the supervisor only manages them.
Instances talk back on a pipe, one line per message: ``ready`` and ``recycle <reason>``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

from funchost.host.options import HostOptions

RECYCLE_EXIT_CODE = 75
CRASH_WINDOW = 60.0
CRASH_LIMIT = 5
WATCHED_SUFFIXES = {".py"}
WATCHED_NAMES = {"function.json", "host.json", "local.settings.json"}
IGNORED_FOLDERS = {".funchost", ".venv", "venv", "__pycache__", ".git", "node_modules", ".python_packages",
                   ".pytest_cache", ".mypy_cache"}


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
    started: float
    buffer: bytes = b""
    ready: bool = False
    retiring: bool = False


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
        self.generation = 0
        self.fatal: int | None = None
        self.ever_ready = False

    # -- instances -----------------------------------------------------------------------

    def spawn(self, slot: int, banner: bool) -> Instance:
        read_end, write_end = os.pipe()
        env = {
            **os.environ,
            "FUNCHOST_LISTEN_FD": str(self.sock.fileno()),
            "FUNCHOST_CONTROL_FD": str(write_end),
            "FUNCHOST_INSTANCE": str(slot),
            "FUNCHOST_BANNER": "1" if banner else "",
        }
        options = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(self.options).items()}
        process = subprocess.Popen(
            [sys.executable, "-m", "funchost", "_instance", json.dumps(options)],
            pass_fds=(self.sock.fileno(), write_end), env=env,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )
        os.close(write_end)
        os.set_blocking(read_end, False)
        instance = Instance(slot, process, read_end, time.monotonic())
        self.instances[process.pid] = instance
        self.selector.register(read_end, selectors.EVENT_READ, instance)
        return instance

    def forget(self, instance: Instance) -> None:
        self.instances.pop(instance.process.pid, None)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(instance.control)
        os.close(instance.control)

    def retire(self, instance: Instance) -> None:
        """Ask an instance to drain and stop (SIGTERM)."""
        if not instance.retiring and instance.process.poll() is None:
            instance.retiring = True
            instance.process.send_signal(signal.SIGTERM)

    def active_slots(self) -> set[int]:
        return {i.slot for i in self.instances.values() if not i.retiring}

    # -- messages from instances ---------------------------------------------------------

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
        if message == "ready":
            instance.ready = True
            self.ever_ready = True
            # a reload: the new generation is up, the one it replaces can go
            for other in list(self.instances.values()):
                if other.slot == instance.slot and other is not instance and not other.retiring:
                    self.retire(other)
        elif message.startswith("recycle"):
            say(f"Recycling instance {instance.slot} (pid {instance.process.pid}): {message[8:]}")
            instance.retiring = True  # it drains and exits by itself
            if not self.stopping:
                self.spawn(instance.slot, banner=False)

    # -- the loop ------------------------------------------------------------------------

    def reap(self) -> None:
        for instance in list(self.instances.values()):
            code = instance.process.poll()
            if code is None:
                continue
            self.forget(instance)
            if self.stopping or instance.retiring or code == RECYCLE_EXIT_CODE:
                continue
            self.on_crash(instance, code)

    def on_crash(self, instance: Instance, code: int) -> None:
        reason = f"signal {-code}" if code < 0 else f"exit code {code}"
        if instance.slot in self.active_slots():
            return  # the instance it was replacing still serves (a reload that failed to start)
        if not instance.ready and code == 1:
            # it could not start (host.json, settings, ...): it printed why; restarting won't help
            if self.reload and self.ever_ready:
                say("The app could not start; fix the error above and save to reload.", error=True)
                self.next_start[instance.slot] = float("inf")
            else:
                self.fatal = 1
            return
        history = self.crashes.setdefault(instance.slot, deque(maxlen=CRASH_LIMIT))
        now = time.monotonic()
        history.append(now)
        recent = [t for t in history if now - t < CRASH_WINDOW]
        if len(recent) >= CRASH_LIMIT:
            delay = 30.0
            say(f"Instance {instance.slot} keeps crashing ({len(recent)} times in the last {CRASH_WINDOW:.0f} s, "
                f"last: {reason}). Not restarting it for {delay:.0f} s; check the log above"
                + (", or save a fix to reload." if self.reload else "."), error=True)
            history.clear()
        else:
            delay = min(10.0, 0.1 * (2 ** (len(recent) - 1)))
            say(f"Instance {instance.slot} (pid {instance.process.pid}) stopped unexpectedly ({reason}); "
                f"restarting it in {delay:.1f} s.", error=True)
        self.next_start[instance.slot] = now + delay

    def start_missing(self) -> None:
        now = time.monotonic()
        for slot in range(self.workers):
            if slot in self.active_slots():
                continue
            if self.next_start.get(slot, 0) <= now:
                self.next_start.pop(slot, None)
                self.spawn(slot, banner=slot == 0)

    def on_change(self, changed: list[str]) -> None:
        shown = ", ".join(sorted({str(Path(c).name) for c in changed}))
        say(f"Change detected in {shown}; reloading.")
        self.generation += 1
        self.next_start.clear()
        for slot in range(self.workers):
            self.spawn(slot, banner=slot == 0)  # the old instance of the slot retires when this one is ready

    def watch(self, stop: threading.Event) -> None:
        from watchfiles import watch

        root = self.options.script_root.resolve()
        for changes in watch(root, stop_event=stop, debounce=50, step=20, raise_interrupt=False,
                             watch_filter=lambda _change, path: relevant_change(path, root)):
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
        while not received and self.fatal is None:
            self.read_messages(0.05)
            self.reap()
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
        return 0


def _die_with_parent() -> None:
    """Linux: an instance gets SIGKILL when the supervisor dies, so none is left orphaned."""
    import ctypes

    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
