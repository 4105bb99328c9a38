"""App settings: the environment, looked up the way the real host does."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from funchost.config.values import setting_is_on

_PERCENT = re.compile(r"%([^%]+)%")


class MissingSettingError(KeyError):
    """A ``%Setting%`` names an app setting that is not set."""

    def __str__(self) -> str:
        return f"The app setting '{self.args[0]}' used in '%{self.args[0]}%' is not set."


class AppSettings:
    """Read-only view of app settings (the process environment by default).

    Names match case-insensitively, and ``:`` and ``__`` are the same separator, as in
    .NET configuration (``AzureWebJobs:fn:Disabled`` == ``AzureWebJobs__fn__Disabled``).
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def get(self, name: str, default: str | None = None) -> str | None:
        if name in self._environ:
            return self._environ[name]
        wanted = _normalise(name)
        for key, value in self._environ.items():
            if _normalise(key) == wanted:
                return value
        return default

    def is_true(self, name: str) -> bool:
        return setting_is_on(self.get(name))

    def resolve(self, text: str) -> str:
        """Replace every ``%Name%`` with its setting; raise MissingSettingError if unset."""

        def replace(match: re.Match[str]) -> str:
            value = self.get(match.group(1))
            if value is None:
                raise MissingSettingError(match.group(1))
            return value

        return _PERCENT.sub(replace, text)

    def is_function_disabled(self, function_name: str) -> bool:
        """``AzureWebJobs.<name>.Disabled`` (or ``_``/``__`` forms) set to true or 1."""
        for separator in (".", "_", "__", ":"):
            if self.is_true(f"AzureWebJobs{separator}{function_name}{separator}Disabled"):
                return True
        return False


def _normalise(name: str) -> str:
    return name.replace("__", ":").lower()
