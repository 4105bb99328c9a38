"""funchost pack: requirements installed into .python_packages, .funcignore honoured, and the
unpacked app served by a funchost that does not have the app's dependencies."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.cli.test_workflow import funchost
from tests.conftest import write_app


def make_wheel(folder: Path) -> Path:
    """A tiny wheel, so pip installs it without reaching any index."""
    wheel = folder / "greeting-1.0-py3-none-any.whl"
    files = {
        "greeting/__init__.py": "def hello(name):\n    return f'Hello from a packed dependency, {name}'\n",
        "greeting-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: greeting\nVersion: 1.0\n",
        "greeting-1.0.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{name},,\n" for name in files) + "greeting-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, content in {**files, "greeting-1.0.dist-info/RECORD": record}.items():
            archive.writestr(name, content)
    return wheel


def test_pack_builds_zips_and_the_unpacked_app_runs_without_installed_dependencies(tmp_path, host):
    wheel = make_wheel(tmp_path)
    app = write_app(
        tmp_path / "app",
        {
            "function_app.py": """
            import azure.functions as func
            import greeting

            app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

            @app.route(route="hello")
            def hello(req: func.HttpRequest) -> str:
                return greeting.hello(req.params.get("name", "you"))
        """,
            "requirements.txt": f"{wheel}\n",  # a local wheel: no index needed
            ".funcignore": "local.settings.json\nnotes/\n*.secret\n",
            "local.settings.json": {"IsEncrypted": False, "Values": {"SECRET": "do not ship"}},
            "notes/todo.txt": "private notes",
            "keys.secret": "private",
            "shared/util.py": "VALUE = 1\n",
        },
    )
    (app / ".funchost").mkdir()
    (app / ".funchost" / "state.txt").write_text("host state")
    assert subprocess.run([sys.executable, "-c", "import greeting"], capture_output=True).returncode != 0
    packed = funchost("pack", str(app), "-o", str(tmp_path / "out" / "app.zip"), cwd=tmp_path)
    assert packed.returncode == 0, packed.stdout + packed.stderr
    with zipfile.ZipFile(tmp_path / "out" / "app.zip") as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "deployed")
    assert {
        "function_app.py",
        "host.json",
        "requirements.txt",
        "shared/util.py",
        ".python_packages/lib/site-packages/greeting/__init__.py",
    } <= names
    assert not any(
        name.startswith(("notes/", ".funchost/")) or name.endswith(".secret") or name == "local.settings.json"
        for name in names
    )
    process = host(tmp_path / "deployed")
    assert process.request("GET", "/api/hello?name=Ann").text == "Hello from a packed dependency, Ann"


def test_pack_refuses_what_core_tools_refuses(tmp_path):
    app = write_app(tmp_path / "app", {"function_app.py": "import azure.functions as func\napp = func.FunctionApp()\n"})
    missing = funchost("pack", str(app), cwd=tmp_path)
    assert missing.returncode == 1 and "has no requirements.txt" in missing.stderr
    (app / "requirements.txt").write_text("azure-functions\n")
    (app / "Old").mkdir()
    (app / "Old" / "function.json").write_text(json.dumps({"bindings": []}))
    mixed = funchost("pack", str(app), "--no-build", cwd=tmp_path)
    assert mixed.returncode == 1 and "Cannot mix Python V1 and V2 programming models" in mixed.stderr
    (app / "Old" / "function.json").unlink()
    native = funchost("pack", str(app), "--build-native-deps", cwd=tmp_path)
    assert native.returncode == 1 and "container image" in native.stderr
    unbuilt = funchost("pack", str(app), "--no-build", cwd=tmp_path)
    assert unbuilt.returncode == 0 and ".python_packages/lib/site-packages is missing or empty" in unbuilt.stderr
    assert (tmp_path / "app.zip").is_file()
