"""``funchost pack``: the app as a zip that runs elsewhere, as Core Tools' ``func pack`` makes it.

The app's ``requirements.txt`` is installed into ``.python_packages/lib/site-packages``
(``pip install --target``, as Core Tools' local build does; ``PIP_EXTRA_INDEX_URL`` and the
other pip settings pass through) unless ``--no-build``; then every file not matched by
``.funcignore`` (gitignore syntax) goes into the zip. funchost puts
``.python_packages/lib/site-packages`` on ``sys.path`` when an app has it, as the real worker
does, so the unpacked app runs on a machine that has only funchost.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from funchost.app.imports import PACKAGES_FOLDER

ALWAYS_LEFT_OUT = (".funchost/", "__pycache__/", "*.pyc")  # funchost's state and byte code

EXAMPLES = """examples:
  funchost pack                        install requirements.txt into .python_packages, zip to ./<app>.zip
  funchost pack -o dist/app.zip        choose the zip's path
  funchost pack --no-build             zip as it is (with .python_packages built before, or none)
"""


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "pack",
        help="zip the app with its dependencies, ready to run elsewhere",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("directory", nargs="?", default=".", help="the function app folder (default: here)")
    parser.add_argument("-o", "--output", help="the zip to write (default: ./<app folder name>.zip)")
    parser.add_argument(
        "--no-build", dest="no_build", action="store_true", help="do not install requirements.txt into .python_packages"
    )
    parser.add_argument(
        "--build-native-deps",
        dest="build_native_deps",
        action="store_true",
        help="Core Tools builds in a container image; funchost cannot (see the error)",
    )


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    root = Path(args.directory).resolve()
    if not (root / "host.json").is_file():
        return fail(f"'{root}' is not a function app (it has no host.json).")
    if not (root / "requirements.txt").is_file():
        return fail(f"'{root}' has no requirements.txt; a Python app needs one to be packed.")
    has_v2 = (root / "function_app.py").is_file()
    if has_v2 and any(root.glob("*/function.json")):
        return fail(
            "Cannot mix Python V1 and V2 programming models: the app has both function_app.py and */function.json."
        )
    if args.build_native_deps:
        return fail(
            "--build-native-deps builds the dependencies inside a Linux container image, which funchost "
            "does not run. Pack on a machine like the one the app will run on, or use a container "
            "(funchost init --docker)."
        )
    output = Path(args.output).resolve() if args.output else Path.cwd() / f"{root.name}.zip"
    if not args.no_build and install_requirements(root) != 0:
        return 1
    packages = root / PACKAGES_FOLDER
    if args.no_build and (not packages.is_dir() or not any(packages.iterdir())):
        print(
            f"Warning: {PACKAGES_FOLDER} is missing or empty; the app will need its requirements installed "
            "where it runs.",
            file=sys.stderr,
        )
    files = packed_files(root, output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(root).as_posix())
    print(f"Created {output} ({len(files)} files).")
    return 0


def install_requirements(root: Path) -> int:
    target = root / PACKAGES_FOLDER
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--upgrade",
        "--target",
        str(target),
        "-r",
        str(root / "requirements.txt"),
    ]
    print(f"Installing requirements.txt into {PACKAGES_FOLDER} ...")
    done = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-4000:], sep="\n", file=sys.stderr)
        return fail(f"pip could not install requirements.txt (exit {done.returncode}); nothing was packed.")
    return 0


def packed_files(root: Path, output: Path) -> list[Path]:
    """Every file of the app that ``.funcignore`` does not leave out, in a stable order."""
    import pathspec

    ignore = root / ".funcignore"
    patterns = [*ALWAYS_LEFT_OUT, *(ignore.read_text().splitlines() if ignore.is_file() else [])]
    spec = pathspec.PathSpec.from_lines("gitwildmatch", patterns)
    files = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.resolve() == output:
            continue
        relative = path.relative_to(root).as_posix()
        kept_packages = relative.startswith(".python_packages/")  # built for the package: never left out
        if kept_packages or not spec.match_file(relative):
            files.append(path)
    return files
