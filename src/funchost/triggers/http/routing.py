"""Route templates as the real host (ASP.NET Core routing) understands them, and a router.

``{name}``, ``{name?}``, ``{name=default}``, ``{*rest}``/``{**rest}``, several parameters in
one segment (``{a}.{b}``) and the inline constraints of ASP.NET's default resolver.

Precedence differs from the real host on purpose: the real host takes the first match in
function-name order, so a catch-all in function ``a`` shadows a literal route in ``b``.
Here more specific routes win (literal over constrained parameter over parameter over
optional over catch-all), whatever the function names.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote


class RouteTemplateError(ValueError):
    """The template cannot be parsed or uses an unknown constraint."""


@dataclass(frozen=True)
class Parameter:
    name: str
    optional: bool = False
    default: str | None = None
    catch_all: bool = False
    constraints: tuple[tuple[str, Callable[[str], bool]], ...] = ()


@dataclass
class Route:
    """One function's route, compiled."""

    template: str
    target: Any
    methods: frozenset[str] | None  # None: every method
    pattern: re.Pattern[str]
    parameters: dict[str, Parameter]
    precedence: tuple[int, ...]
    literal_path: str | None = None  # set when the route has no parameters at all

    def match(self, path: str) -> dict[str, str | None] | None:
        """Route values for ``path`` (without leading/trailing ``/``), or None."""
        found = self.pattern.match(path)
        if found is None:
            return None
        values: dict[str, str | None] = {}
        for name, parameter in self.parameters.items():
            raw = found.group(name)
            if raw is None or raw == "":
                value = parameter.default
                if value is None and not (parameter.optional or parameter.catch_all):
                    return None
            else:
                value = unquote(raw)
                for _, check in parameter.constraints:
                    if not check(value):
                        return None
            values[name] = value
        return values

    def allows(self, method: str) -> bool:
        return self.methods is None or method in self.methods


def _int_in(bits: int) -> Callable[[str], bool]:
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def check(value: str) -> bool:
        if not re.fullmatch(r"[+-]?\d+", value.strip()):
            return False
        return low <= int(value) <= high

    return check


def _is_float(value: str) -> bool:
    return re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", value) is not None


def _is_decimal(value: str) -> bool:
    if not re.fullmatch(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*", value):
        return False
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


def _is_guid(value: str) -> bool:
    text = value.strip("{}()")
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        datetime.fromisoformat(text)
        return True
    except ValueError:
        pass
    for fmt in ("%m/%d/%Y", "%m/%d/%Y %H:%M:%S", "%Y/%m/%d"):
        try:
            datetime.strptime(text, fmt)
            return True
        except ValueError:
            continue
    return False


def _numbers(args: str, count: int, name: str) -> list[int]:
    parts = [p.strip() for p in args.split(",")] if args else []
    if len(parts) != count or not all(re.fullmatch(r"-?\d+", p) for p in parts):
        raise RouteTemplateError(f"the constraint '{name}' expects {count} whole number(s)")
    return [int(p) for p in parts]


def _make_constraint(name: str, args: str | None) -> Callable[[str], bool]:
    key = name.lower()
    simple: dict[str, Callable[[str], bool]] = {
        "int": _int_in(32),
        "long": _int_in(64),
        "bool": lambda v: v.strip().lower() in ("true", "false"),
        "guid": _is_guid,
        "datetime": _is_datetime,
        "decimal": _is_decimal,
        "double": _is_float,
        "float": _is_float,
        "alpha": lambda v: bool(re.fullmatch(r"[a-zA-Z]+", v)),
        "required": lambda v: v != "",
        "file": lambda v: "." in v.rsplit("/", 1)[-1],
        "nonfile": lambda v: "." not in v.rsplit("/", 1)[-1],
    }
    if key in simple and args is None:
        return simple[key]
    if args is not None:
        if key == "minlength":
            (n,) = _numbers(args, 1, name)
            return lambda v: len(v) >= n
        if key == "maxlength":
            (n,) = _numbers(args, 1, name)
            return lambda v: len(v) <= n
        if key == "length":
            if "," in args:
                low, high = _numbers(args, 2, name)
                return lambda v: low <= len(v) <= high
            (n,) = _numbers(args, 1, name)
            return lambda v: len(v) == n
        if key in ("min", "max", "range"):
            count = 2 if key == "range" else 1
            bounds = _numbers(args, count, name)
            is_long = _int_in(64)
            if key == "min":
                return lambda v: is_long(v) and int(v) >= bounds[0]
            if key == "max":
                return lambda v: is_long(v) and int(v) <= bounds[0]
            return lambda v: is_long(v) and bounds[0] <= int(v) <= bounds[1]
        if key == "regex":
            # braces in a template are doubled ("{{3}}"), as ASP.NET requires
            pattern = args.replace("{{", "{").replace("}}", "}")
            try:
                expression = re.compile(pattern, re.IGNORECASE)
            except re.error as error:
                raise RouteTemplateError(f"the regex constraint '{args}' is invalid: {error}") from None
            return lambda v: expression.search(v) is not None
    raise RouteTemplateError("unknown")


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _split_constraints(body: str) -> list[str]:
    """``id:int:min(1)`` -> ``['id', 'int', 'min(1)']``, keeping ``:`` inside parentheses."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in body:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == ":" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _parse_parameter(body: str, template: str) -> Parameter:
    catch_all = False
    if body.startswith("**"):
        body, catch_all = body[2:], True
    elif body.startswith("*"):
        body, catch_all = body[1:], True
    default = None
    optional = False
    # a default value or ``?`` follows the last constraint (outside parentheses)
    depth = 0
    for position, char in enumerate(body):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "=" and depth == 0:
            default = body[position + 1 :]
            body = body[:position]
            break
    if default is None and body.endswith("?"):
        optional, body = True, body[:-1]
    name, *constraint_texts = _split_constraints(body)
    if not _NAME.match(name):
        raise RouteTemplateError(f"The route parameter name '{name}' is invalid in the route template '{template}'.")
    constraints = []
    for text in constraint_texts:
        match = re.fullmatch(r"(\w+)(?:\((.*)\))?", text, re.DOTALL)
        if not match:
            raise _unresolved(name, text, template)
        try:
            constraints.append((text, _make_constraint(match.group(1), match.group(2))))
        except RouteTemplateError as error:
            if str(error) == "unknown":
                raise _unresolved(name, text, template) from None
            raise RouteTemplateError(f"In the route template '{template}': {error}") from None
    return Parameter(name, optional, default, catch_all, tuple(constraints))


def _unresolved(name: str, constraint: str, template: str) -> RouteTemplateError:
    return RouteTemplateError(
        f"The constraint entry '{name}' - '{constraint}' on the route '{template}' could not be "
        "resolved by the constraint resolver of type 'DefaultInlineConstraintResolver'."
    )


_SEGMENT_PART = re.compile(r"\{([^{}]*(?:\([^)]*\)[^{}]*)*)\}")


def compile_route(template: str, target: Any, methods: Iterable[str] | None = None) -> Route:
    """Compile a full template (route prefix included, without leading ``/``)."""
    text = template.strip().strip("/")
    segments = text.split("/") if text else []
    pieces: list[str] = []
    parameters: dict[str, Parameter] = {}
    precedence: list[int] = []
    for position, segment in enumerate(segments):
        if segment == "":
            raise RouteTemplateError(f"The route template '{template}' contains an empty segment ('//').")
        parts = _tokenize_segment(segment, template)
        params_here = [p for p in parts if isinstance(p, Parameter)]
        for parameter in params_here:
            if parameter.name.lower() in (n.lower() for n in parameters):
                raise RouteTemplateError(
                    f"The route parameter name '{parameter.name}' appears more than one time "
                    f"in the route template '{template}'."
                )
            parameters[parameter.name] = parameter
        if any(p.catch_all for p in params_here) and (position != len(segments) - 1 or len(parts) != 1):
            raise RouteTemplateError(
                f"A catch-all parameter can only appear as the last segment of the route template '{template}'."
            )
        separator = "/" if position else ""
        if not params_here:
            pieces.append(re.escape(separator + segment))
            precedence.append(0)
            continue
        if len(parts) == 1:
            parameter = params_here[0]
            if parameter.catch_all:
                body = f"(?P<{parameter.name}>.*)"
                precedence.append(5)
            else:
                body = f"(?P<{parameter.name}>[^/]+)"
                precedence.append(
                    4 if parameter.optional or parameter.default is not None else 2 if parameter.constraints else 3
                )
            if parameter.catch_all or parameter.optional or parameter.default is not None:
                pieces.append(f"(?:{re.escape(separator)}{body})?")
            else:
                pieces.append(re.escape(separator) + body)
            continue
        # a complex segment such as {name}.{ext}
        regex = "".join(f"(?P<{p.name}>[^/]+?)" if isinstance(p, Parameter) else re.escape(p) for p in parts)
        if isinstance(parts[-1], Parameter):
            regex = regex[: -len("+?)")] + "+)"
        pieces.append(re.escape(separator) + regex)
        precedence.append(1)
    pattern = re.compile("^" + "".join(pieces) + "$", re.IGNORECASE | re.DOTALL)
    method_set = frozenset(m.upper() for m in methods) if methods else None
    literal = text.lower() if not parameters else None
    return Route(template, target, method_set, pattern, parameters, tuple(precedence), literal)


def _tokenize_segment(segment: str, template: str) -> list[str | Parameter]:
    parts: list[str | Parameter] = []
    position = 0
    for match in _SEGMENT_PART.finditer(segment):
        if match.start() > position:
            parts.append(segment[position : match.start()])
        parts.append(_parse_parameter(match.group(1), template))
        position = match.end()
    if position < len(segment):
        parts.append(segment[position:])
    for literal in (p for p in parts if isinstance(p, str)):
        if "{" in literal or "}" in literal:
            raise RouteTemplateError(f"The route template '{template}' has an unmatched '{{' or '}}' in '{segment}'.")
    params = [p for p in parts if isinstance(p, Parameter)]
    if len(parts) > 1 and any(p.optional for p in params[:-1]):
        raise RouteTemplateError(
            f"An optional parameter must be at the end of the segment '{segment}' in the route template '{template}'."
        )
    return parts


@dataclass
class Router:
    """Finds the route for a path and method, most specific first."""

    routes: list[Route] = field(default_factory=list)
    _literal: dict[str, list[Route]] = field(default_factory=dict)
    _dynamic: list[Route] = field(default_factory=list)

    def add(self, route: Route) -> None:
        self.routes.append(route)
        if route.literal_path is not None:
            self._literal.setdefault(route.literal_path, []).append(route)
        else:
            self._dynamic.append(route)
            self._dynamic.sort(key=lambda r: (r.precedence, -len(r.precedence)))

    def match(self, raw_path: str, method: str) -> tuple[Route, dict[str, str | None]] | None:
        """The route for ``raw_path`` (still percent-encoded, as sent) and ``method``; None means 404.

        Parameters match the raw segments and are decoded once, so ``a%2Fb`` is the one value
        ``a/b`` and ``a%2520b`` is ``a%20b``.
        """
        trimmed = raw_path.strip("/")
        literal = unquote(trimmed) if "%" in trimmed else trimmed
        for route in self._literal.get(literal.lower(), ()):
            if route.allows(method):
                return route, {}
        for route in self._dynamic:
            if not route.allows(method):
                continue
            values = route.match(trimmed)
            if values is not None:
                return route, values
        return None
