"""``funchost init``, ``new`` and ``templates list``: creating apps and functions."""

from __future__ import annotations

import argparse
import json
import keyword
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from funchost.triggers.templates import Template

HOST_JSON = {
    "version": "2.0",
    "logging": {
        "logLevel": {"default": "Information"},
        "applicationInsights": {"samplingSettings": {"isEnabled": True, "excludedTypes": "Request"}},
    },
    "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"},
}

LOCAL_SETTINGS = {
    "IsEncrypted": False,
    # an empty AzureWebJobsStorage means funchost's embedded store (SQLite + files under .funchost/);
    # "UseDevelopmentStorage=true" would mean Azurite
    "Values": {"FUNCTIONS_WORKER_RUNTIME": "python", "AzureWebJobsStorage": ""},
}

GITIGNORE = """.venv/
venv/
__pycache__/
*.pyc
.python_packages/
local.settings.json
# funchost's embedded store and function keys
.funchost/
__azurite_db*__.json
__blobstorage__/
__queuestorage__/
.pytest_cache/
"""

FUNCIGNORE = """.git*
.vscode
.venv
.funchost
__azurite_db*__.json
__blobstorage__
__queuestorage__
local.settings.json
tests
"""

V2_APP = """import azure.functions as func

app = func.FunctionApp()
"""

TEST_FILE = '''"""Tests of the app, run in-process by funchost's test client: pytest tests/

Call functions with client.get("/api/<route>"), client.post(...) or client.invoke("<name>", "data").
"""

from pathlib import Path

from funchost.testing import TestClient

APP = Path(__file__).resolve().parent.parent


def test_the_app_loads_without_errors():
    with TestClient(APP) as client:
        assert client.errors == []
'''

DOCKERFILE = """# Build: docker build -t my-function-app .    Run: docker run -p 8080:80 my-function-app
# FUNCHOST is what pip installs funchost from: a version ("funchost==0.1.0"), a wheel copied into
# the build context, or a VCS URL (docker build --build-arg FUNCHOST=... .)
FROM python:{python}-slim

ARG FUNCHOST=funchost
ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    AzureWebJobsScriptRoot=/home/site/wwwroot

WORKDIR /home/site/wwwroot
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt "${{FUNCHOST}}"

COPY . .
RUN useradd --create-home --uid 1000 functions && chown -R 1000 /home/site/wwwroot
USER 1000

# port 80 on all interfaces, as the Azure Functions images listen
EXPOSE 80
HEALTHCHECK --interval=30s --timeout=5s \\
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:80/admin/host/ping')"]
CMD ["funchost", "start", "--production", "--address", "0.0.0.0", "--port", "80"]
"""

DOCKERIGNORE = """.git*
.venv
.funchost
__pycache__
local.settings.json
"""

INIT_EXAMPLES = """examples:
  funchost init my-app                 a v2 app (function_app.py, no function yet)
  funchost init my-app --model v1      a v1 app (a folder per function)
  funchost init my-app --docker        with a Dockerfile that runs 'funchost start --production'
then: funchost new --template "HTTP trigger" --name hello
"""

NEW_EXAMPLES = """examples:
  funchost new --template "HTTP trigger" --name orders --authlevel anonymous
  funchost new -t "Queue trigger" -n process_order
  funchost new -t timer -n nightly --blueprint jobs     (v2: into jobs.py, registered in function_app.py)
"""


def add_parsers(commands: Any) -> None:
    init = commands.add_parser(
        "init",
        help="create a new function app",
        epilog=INIT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("directory", nargs="?", default=".")
    init.add_argument(
        "-m", "--model", choices=["v1", "v2", "V1", "V2"], default="v2", help="programming model (default v2)"
    )
    init.add_argument(
        "--worker-runtime", "--worker_runtime", dest="worker_runtime", default="python", help="only python is supported"
    )
    init.add_argument(
        "--python", dest="worker_runtime", action="store_const", const="python", help="same as --worker-runtime python"
    )
    init.add_argument("-l", "--language", help="only python is supported")
    init.add_argument("--docker", action="store_true", help="also write a Dockerfile (and .dockerignore)")
    init.add_argument("--force", action="store_true", help="overwrite existing files")

    new = commands.add_parser(
        "new",
        help="add a function from a template",
        epilog=NEW_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    new.add_argument("-t", "--template", help="template name (see 'funchost templates list')")
    new.add_argument("-n", "--name", help="function name")
    new.add_argument(
        "-a",
        "--authlevel",
        choices=["function", "anonymous", "admin"],
        default="function",
        help="authLevel of an HTTP trigger (default function)",
    )
    new.add_argument("--blueprint", help="v2: put the function in this blueprint file (created if needed)")
    new.add_argument("--script-root", dest="script_root", default=".", help="the function app folder")
    new.add_argument("-l", "--language", help="only python is supported")
    new.add_argument("--force", action="store_true", help="overwrite an existing v1 function folder")

    docker = commands.add_parser(
        "docker", help="add a Dockerfile (and .dockerignore) to an existing app, like Core Tools' init --docker-only"
    )
    docker.add_argument("directory", nargs="?", default=".")
    docker.add_argument("--force", action="store_true", help="overwrite an existing Dockerfile")

    templates = commands.add_parser("templates", help="list function templates")
    templates.add_argument("verb", choices=["list"], nargs="?", default="list")


def run_docker(args: argparse.Namespace) -> int:
    root = Path(args.directory)
    if not (root / "host.json").is_file():
        return fail(f"'{root.resolve()}' is not a function app (it has no host.json).")
    files = {
        "Dockerfile": DOCKERFILE.format(python=f"{sys.version_info.major}.{sys.version_info.minor}"),
        ".dockerignore": DOCKERIGNORE,
    }
    for name, content in files.items():
        if (root / name).exists() and not args.force:
            print(f"{name} already exists. Skipped!")
            continue
        (root / name).write_text(content)
        print(f"Wrote {root / name}")
    return 0


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def _check_python(*values: str | None) -> str | None:
    """An error for a language or worker runtime other than Python, else None."""
    for value in values:
        if value is not None and value.lower() not in ("python", "py"):
            return f"funchost runs Python function apps only, not '{value}'."
    return None


def run_init(args: argparse.Namespace) -> int:
    error = _check_python(args.worker_runtime, args.language)
    if error:
        return fail(error)
    root = Path(args.directory)
    model = args.model.lower()
    files: dict[str, str] = {
        "host.json": json.dumps(HOST_JSON, indent=2) + "\n",
        "local.settings.json": json.dumps(LOCAL_SETTINGS, indent=2) + "\n",
        "requirements.txt": "# Do not include azure-functions-worker: the host provides the worker.\nazure-functions\n",
        ".gitignore": GITIGNORE,
        ".funcignore": FUNCIGNORE,
        "tests/__init__.py": "",
        "tests/test_app.py": TEST_FILE,
    }
    if model == "v2":
        files["function_app.py"] = V2_APP
    if args.docker:
        files["Dockerfile"] = DOCKERFILE.format(python=f"{sys.version_info.major}.{sys.version_info.minor}")
        files[".dockerignore"] = DOCKERIGNORE
    written = []
    for name, content in files.items():
        path = root / name
        if path.exists() and not args.force:
            print(f"{name} already exists. Skipped!")  # Core Tools' words
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(name)
    if written:
        print(f"Wrote a {model} Python function app in {root.resolve()}:")
        for name in written:
            print(f"  {name}")
    print(
        'Next: funchost new --template "HTTP trigger" --name hello, then funchost start'
        + ("" if root.resolve() == Path.cwd().resolve() else f" (in {root})")
        + "."
    )
    return 0


def _ensure_imports(code: str, template: Template) -> str:
    """The import lines the template needs that ``code`` does not have yet."""
    missing = [line for line in template.imports if not re.search(rf"^{re.escape(line)}\s*$", code, re.MULTILINE)]
    return "".join(f"{line}\n" for line in missing)


def _detect_model(root: Path) -> str:
    if (root / "function_app.py").is_file():
        return "v2"
    if any(p.is_dir() and (p / "function.json").is_file() for p in root.iterdir()):
        return "v1"
    if (root / "host.json").is_file():
        return "v1"
    return "none"


def _pick(prompt: str, options: list[str]) -> str | None:
    print(prompt)
    for number, option in enumerate(options, 1):
        print(f"  {number}. {option}")
    answer = input("Choose a number: ").strip()
    if answer.isdigit() and 1 <= int(answer) <= len(options):
        return options[int(answer) - 1]
    return None


_V2_NAME = re.compile(r"""function_name\(\s*(?:name\s*=\s*)?["']([^"']+)["']""")
_V2_DEF = re.compile(r"^(?:async\s+)?def\s+(\w+)\s*\(", re.MULTILINE)


def _function_names(root: Path, model: str) -> list[str]:
    """The names of the app's functions, read without importing it: v1 folders, and for v2 the
    functions and ``function_name(...)`` decorators of the app's top-level modules."""
    if model == "v1":
        return [p.name for p in root.iterdir() if p.is_dir() and (p / "function.json").is_file()]
    names: list[str] = []
    for module in sorted(root.glob("*.py")):
        code = module.read_text(encoding="utf-8", errors="replace")
        names += _V2_DEF.findall(code) + _V2_NAME.findall(code)
    return names


def run_new(args: argparse.Namespace) -> int:
    from funchost.app.build import FUNCTION_NAME
    from funchost.cli.templates import all_templates, find_template, v1_files, v2_function

    root = Path(args.script_root)
    if not root.is_dir():
        return fail(f"The folder '{root}' does not exist (--script-root).")
    model = _detect_model(root)
    if model == "none":
        return fail(f"'{root.resolve()}' is not a function app (no host.json). Run 'funchost init' first.")
    template_name, name = args.template, args.name
    if (template_name is None or name is None) and sys.stdin.isatty():
        template_name = template_name or _pick("Select a template:", [t.name for t in all_templates()])
        name = name or input("Function name: ").strip()
    if not template_name or not name:
        return fail("Give --template and --name (see 'funchost templates list').")
    error = _check_python(args.language)
    if error:
        return fail(error)
    template = find_template(template_name)
    if template is None:
        return fail(f"Unknown template '{template_name}'. Templates: {', '.join(t.name for t in all_templates())}.")
    if not FUNCTION_NAME.match(name) or (model == "v2" and not name.isidentifier()):
        return fail(f"'{name}' is not a valid function name: use letters, digits and '_', starting with a letter.")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return fail(f"'{name}' is a Python keyword and cannot be a function name; choose another name.")
    clash = next((existing for existing in _function_names(root, model) if existing.lower() == name.lower()), None)
    if clash is not None and not (model == "v1" and args.force and clash == name):
        return fail(
            f"The app already has a function named '{clash}' (function names are not case-sensitive); "
            "choose another name."
        )
    if model == "v1":
        folder = root / name
        if folder.exists() and not args.force:
            return fail(f"{folder} already exists; use --force to overwrite.")
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, content in v1_files(template, name, args.authlevel).items():
            (folder / file_name).write_text(content)
        print(f"Created {folder}/function.json and {folder}/__init__.py ({template.name}).")
        return 0
    app_file = root / "function_app.py"
    if args.blueprint:
        return _new_in_blueprint(root, args.blueprint, template, name, args.authlevel)
    code = app_file.read_text()
    code = _ensure_imports(code, template) + code
    app_file.write_text(code.rstrip("\n") + "\n" + v2_function(template, name, "app", args.authlevel))
    print(f"Appended '{name}' ({template.name}) to {app_file}.")
    return 0


def _new_in_blueprint(root: Path, blueprint: str, template: Template, name: str, auth_level: str) -> int:
    from funchost.cli.templates import v2_function

    module = blueprint.removesuffix(".py")
    if not module.isidentifier():
        return fail(f"'{blueprint}' is not a valid module name for a blueprint.")
    path = root / f"{module}.py"
    code = path.read_text() if path.exists() else "import azure.functions as func\n\nbp = func.Blueprint()\n"
    code = _ensure_imports(code, template) + code
    path.write_text(code.rstrip("\n") + "\n" + v2_function(template, name, "bp", auth_level))
    app_file = root / "function_app.py"
    registration = f"app.register_functions({module}.bp)"
    lines = app_file.read_text().splitlines()
    if registration not in lines:
        app_line = next((i for i, line in enumerate(lines) if re.match(r"^app\s*=.*FunctionApp\(.*\)\s*$", line)), None)
        if app_line is None:
            return fail(
                "function_app.py has no one-line 'app = func.FunctionApp(...)' to register the blueprint "
                f"with; add '{registration}' yourself."
            )
        lines.insert(app_line + 1, registration)
        last_import = max(
            (i for i, line in enumerate(lines[:app_line]) if line.startswith(("import ", "from "))), default=-1
        )
        lines.insert(last_import + 1, f"import {module}")
        app_file.write_text("\n".join(lines) + "\n")
    print(f"Added '{name}' ({template.name}) to the blueprint in {path.name}, registered in function_app.py.")
    return 0


def run_templates(args: argparse.Namespace) -> int:
    from funchost.cli.templates import all_templates

    print("Python Templates:")
    for template in all_templates():
        print(f"  {template.name}")
    return 0
