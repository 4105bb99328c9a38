"""Importing user code the way the Python worker does, and explaining import failures."""

from __future__ import annotations

import importlib
import sys
import traceback
import types
from pathlib import Path

APP_PACKAGE = "__app__"
PACKAGES_FOLDER = Path(".python_packages") / "lib" / "site-packages"  # where pack installs requirements.txt


def prepare_import_path(app_root: Path) -> None:
    """Put the app root first on ``sys.path`` (and ``.python_packages/lib/site-packages``, where
    ``funchost pack`` and Core Tools install an app's requirements, last) and map the ``__app__``
    package onto it.

    The worker imports v1 functions as ``__app__.<Folder>``: that makes both
    ``from shared_code import x`` (absolute) and ``from ..shared_code import x`` /
    ``from . import x`` (relative) work, as the developer guide shows. Modules imported
    earlier from this app (or from an app loaded before it) are forgotten, so loading
    again imports fresh code.
    """
    root = str(app_root)
    previous = sys.modules.get(APP_PACKAGE)
    for old_root in list(getattr(previous, "__path__", [])):
        forget_app_modules(Path(old_root))
        if old_root in sys.path:
            sys.path.remove(old_root)
    forget_app_modules(app_root)
    if root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)
    packages = app_root / PACKAGES_FOLDER
    if packages.is_dir() and str(packages) not in sys.path:
        # a packed app's dependencies, as on Azure; last, so what funchost itself runs on (azure-functions,
        # uvicorn, ...) keeps the version funchost was installed with
        sys.path.append(str(packages))
    package = types.ModuleType(APP_PACKAGE)
    package.__path__ = [root]
    package.__package__ = APP_PACKAGE
    sys.modules[APP_PACKAGE] = package
    importlib.invalidate_caches()


def forget_app_modules(app_root: Path) -> None:
    """Drop every module imported from the app folder, so a reload imports fresh code."""
    root = app_root.resolve()
    for name, module in list(sys.modules.items()):
        if name == APP_PACKAGE or name.startswith(APP_PACKAGE + "."):
            del sys.modules[name]
            continue
        file = getattr(module, "__file__", None)
        if file:
            try:
                Path(file).resolve().relative_to(root)
            except (ValueError, OSError):
                continue
            if ".venv" in Path(file).parts or "site-packages" in Path(file).parts:
                continue
            del sys.modules[name]


def describe_import_error(error: BaseException, app_root: Path) -> tuple[str, int | None, Path | None]:
    """A sentence for a failed import, with the app file and line where it happened."""
    file, line = _innermost_app_frame(error, app_root)
    if isinstance(error, ModuleNotFoundError) and error.name:
        top = error.name.split(".")[0]
        reason = (
            f"No module named '{error.name}'. Check that the package providing '{top}' is "
            f"listed in requirements.txt and installed for the Python running funchost "
            f"({sys.executable})."
        )
    elif isinstance(error, SyntaxError):
        reason = f"SyntaxError: {error.msg}"
        if error.filename:
            file, line = Path(error.filename), error.lineno
    else:
        reason = f"{type(error).__name__}: {error}"
    return reason, line, file


def _innermost_app_frame(error: BaseException, app_root: Path) -> tuple[Path | None, int | None]:
    root = str(app_root.resolve())
    found: tuple[Path | None, int | None] = (None, None)
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename.startswith(root):
            found = (Path(frame.filename), frame.lineno)
    return found
