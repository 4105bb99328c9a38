"""Rendering the families' templates for ``funchost new`` (v1 folders and v2 decorated functions)."""

from __future__ import annotations

from typing import Any

from funchost.triggers.families import CATALOG
from funchost.triggers.templates import Template


def all_templates() -> list[Template]:
    """Every family's templates, in the families' order."""
    return CATALOG.templates()


def find_template(name: str) -> Template | None:
    wanted = " ".join(name.lower().split())
    return next((t for t in all_templates() if wanted == t.name.lower() or wanted in t.aliases), None)


def v2_function(template: Template, name: str, prefix: str, auth_level: str) -> str:
    decorator = template.v2_decorators.format(prefix=prefix, name=name, auth_upper=auth_level.upper())
    body = template.v1_body.format(name=name)
    return f"\n\n{decorator}def {name}({template.v2_signature}:\n{body}"


def v1_files(template: Template, name: str, auth_level: str) -> dict[str, Any]:
    import json

    bindings = json.loads(
        json.dumps(list(template.v1_bindings)).replace("{auth_level}", auth_level).replace("{{name}}", "{name}")
    )
    config = {"scriptFile": "__init__.py", "bindings": bindings}
    imports = "\n".join(template.imports)
    code = (
        f"{imports}\n\nimport azure.functions as func\n\n\n"
        f"def main({template.v1_signature}:\n{template.v1_body.format(name=name)}"
    )
    return {"function.json": json.dumps(config, indent=2) + "\n", "__init__.py": code}
