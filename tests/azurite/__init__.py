"""Azurite (the Azure Storage emulator, from npm) for the tests and the benchmarks.

``package.json`` and ``package-lock.json`` here pin it; ``install_azurite`` runs ``npm ci``
when it is missing. Each ``Azurite`` runs on free loopback ports with its own data folder and
is stopped by PID.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from pathlib import Path

from tests.waiting import wait_until

FOLDER = Path(__file__).resolve().parent
AZURITE = FOLDER / "node_modules" / ".bin" / "azurite"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def install_azurite() -> bool:
    """Install Azurite from the npm registry when npm is there; True when it is installed."""
    if not AZURITE.exists() and shutil.which("npm"):
        subprocess.run(
            ["npm", "ci", "--prefix", str(FOLDER), "--no-audit", "--no-fund"],
            check=False,
            capture_output=True,
            timeout=600,
        )
    return AZURITE.exists()


def stop_process(process: subprocess.Popen, grace: float = 15) -> int:
    """SIGTERM a process we started, by its PID; SIGKILL it after ``grace`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Azurite:
    """Azurite from tests/azurite (npm), on free loopback ports with its own data folder."""

    def __init__(self, folder: Path) -> None:
        self.blob_port, self.queue_port, self.table_port = _free_port(), _free_port(), _free_port()
        self.log = open(folder / "azurite.log", "wb")  # noqa: SIM115 - closed in stop()
        # no --skipApiVersionCheck: funchost must pin an API version the emulator accepts
        self.process = subprocess.Popen(
            [
                str(AZURITE),
                "--silent",
                "--location",
                str(folder),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.blob_port),
                "--queueHost",
                "127.0.0.1",
                "--queuePort",
                str(self.queue_port),
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                str(self.table_port),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

        def accepting() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"Azurite exited with {self.process.returncode}: "
                    f"{(folder / 'azurite.log').read_text(errors='replace')}"
                )
            return all(_accepts(port) for port in (self.blob_port, self.queue_port))

        try:
            wait_until(accepting, 30, "Azurite did not start")
        except AssertionError:
            self.stop()
            raise

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.blob_port}/devstoreaccount1;"
            f"QueueEndpoint=http://127.0.0.1:{self.queue_port}/devstoreaccount1;"
            f"TableEndpoint=http://127.0.0.1:{self.table_port}/devstoreaccount1;"
        )

    def stop(self) -> None:
        stop_process(self.process, 10)
        self.log.close()


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
