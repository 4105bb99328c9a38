"""``funchost init``, ``new`` and ``templates list``: creating apps and functions."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from funchost.cli.templates import Template

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

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
"""

TEST_FILE = '''"""Tests of the app, run in-process by funchost's test client: pytest tests/"""

from pathlib import Path

from funchost.testing import TestClient

APP = Path(__file__).resolve().parent.parent


def test_the_app_loads_without_errors():
    with TestClient(APP) as client:
        assert client.errors == []


def test_hello_greets_by_name():
    with TestClient(APP) as client:
        response = client.get("/api/hello?name=Test")
        assert response.status_code == 200
        assert response.text.startswith("Hello, Test.")
'''

INIT_EXAMPLES = """examples:
  funchost init my-app                 a v2 app (function_app.py) with a first HTTP function
  funchost init my-app --model v1      a v1 app (a folder per function)
"""

NEW_EXAMPLES = """examples:
  funchost new --template "HTTP trigger" --name orders --authlevel anonymous
  funchost new -t "Queue trigger" -n process_order
  funchost new -t timer -n nightly --blueprint jobs     (v2: into jobs.py, registered in function_app.py)
"""


def add_parsers(commands: Any) -> None:
    init = commands.add_parser("init", help="create a new function app", epilog=INIT_EXAMPLES,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    init.add_argument("directory", nargs="?", default=".")
    init.add_argument("-m", "--model", choices=["v1", "v2", "V1", "V2"], default="v2",
                      help="programming model (default v2)")
    init.add_argument("--worker-runtime", default="python", help="only python is supported")
    init.add_argument("--force", action="store_true", help="overwrite existing files")

    new = commands.add_parser("new", help="add a function from a template", epilog=NEW_EXAMPLES,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    new.add_argument("-t", "--template", help="template name (see 'funchost templates list')")
    new.add_argument("-n", "--name", help="function name")
    new.add_argument("-a", "--authlevel", choices=["function", "anonymous", "admin"], default="function",
                     help="authLevel of an HTTP trigger (default function)")
    new.add_argument("--blueprint", help="v2: put the function in this blueprint file (created if needed)")
    new.add_argument("--script-root", dest="script_root", default=".", help="the function app folder")
    new.add_argument("--force", action="store_true", help="overwrite an existing v1 function folder")

    templates = commands.add_parser("templates", help="list function templates")
    templates.add_argument("verb", choices=["list"], nargs="?", default="list")


def fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def run_init(args: argparse.Namespace) -> int:
    from funchost.cli.templates import TEMPLATES, v1_files, v2_function

    if args.worker_runtime.lower() != "python":
        return fail(f"Only the python worker runtime is supported, not '{args.worker_runtime}'.")
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
    http = TEMPLATES[0]
    if model == "v2":
        files["function_app.py"] = _ensure_imports("", http) + V2_APP + v2_function(http, "hello", "app", "function")
    else:
        for name, content in v1_files(http, "hello", "function").items():
            files[f"hello/{name}"] = content
    existing = [name for name in files if (root / name).exists()]
    if existing and not args.force:
        return fail(f"{root / existing[0]} already exists; use --force to overwrite.")
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    print(f"Created a {model} Python function app in {root.resolve()}:")
    for name in files:
        print(f"  {name}")
    print("Next: cd into it, then 'funchost start' (and 'pytest tests' for the tests).")
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


def run_new(args: argparse.Namespace) -> int:
    from funchost.app.build import FUNCTION_NAME
    from funchost.cli.templates import TEMPLATES, find_template, v1_files, v2_function

    root = Path(args.script_root)
    if not root.is_dir():
        return fail(f"The folder '{root}' does not exist (--script-root).")
    model = _detect_model(root)
    if model == "none":
        return fail(f"'{root.resolve()}' is not a function app (no host.json). Run 'funchost init' first.")
    template_name, name = args.template, args.name
    if (template_name is None or name is None) and sys.stdin.isatty():
        template_name = template_name or _pick("Select a template:", [t.name for t in TEMPLATES])
        name = name or input("Function name: ").strip()
    if not template_name or not name:
        return fail("Give --template and --name (see 'funchost templates list').")
    template = find_template(template_name)
    if template is None:
        return fail(f"Unknown template '{template_name}'. Templates: {', '.join(t.name for t in TEMPLATES)}.")
    if not FUNCTION_NAME.match(name) or (model == "v2" and not name.isidentifier()):
        return fail(f"'{name}' is not a valid function name: use letters, digits and '_', starting with a letter.")
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
    if re.search(rf"^(async )?def {re.escape(name)}\(", app_file.read_text(), re.MULTILINE):
        return fail(f"function_app.py already has a function named '{name}'.")
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
    if re.search(rf"^(async )?def {re.escape(name)}\(", code, re.MULTILINE):
        return fail(f"{path.name} already has a function named '{name}'.")
    code = _ensure_imports(code, template) + code
    path.write_text(code.rstrip("\n") + "\n" + v2_function(template, name, "bp", auth_level))
    app_file = root / "function_app.py"
    registration = f"app.register_functions({module}.bp)"
    lines = app_file.read_text().splitlines()
    if registration not in lines:
        app_line = next((i for i, line in enumerate(lines) if re.match(r"^app\s*=.*FunctionApp\(.*\)\s*$", line)),
                        None)
        if app_line is None:
            return fail("function_app.py has no one-line 'app = func.FunctionApp(...)' to register the blueprint "
                        f"with; add '{registration}' yourself.")
        lines.insert(app_line + 1, registration)
        last_import = max((i for i, line in enumerate(lines[:app_line]) if line.startswith(("import ", "from "))),
                          default=-1)
        lines.insert(last_import + 1, f"import {module}")
        app_file.write_text("\n".join(lines) + "\n")
    print(f"Added '{name}' ({template.name}) to the blueprint in {path.name}, registered in function_app.py.")
    return 0


def run_templates(args: argparse.Namespace) -> int:
    from funchost.cli.templates import TEMPLATES

    print("Python Templates:")
    for template in TEMPLATES:
        print(f"  {template.name}")
    return 0
