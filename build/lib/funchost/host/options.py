"""What the command line decides about a host (kept light: the supervisor imports it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECYCLE_EXIT_CODE = 75  # an instance that asked to be replaced: the supervisor counts no crash


@dataclass
class HostOptions:
    script_root: Path = field(default_factory=Path.cwd)
    port: int | None = None
    address: str | None = None
    enable_auth: bool = False
    production: bool = False
    cors: list[str] | None = None
    cors_credentials: bool | None = None
    verbose: bool = False
    functions: list[str] | None = None
    workers: int | None = None  # None: FUNCTIONS_WORKER_PROCESS_COUNT, else 1 (start) or cores (production)
    reload: bool = True
    drain_timeout: float = 30.0
    startup_timeout: float | None = None  # -t/--timeout: give up when no instance serves by then

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> HostOptions:
        values = dict(values)
        values["script_root"] = Path(values["script_root"])
        return cls(**values)
