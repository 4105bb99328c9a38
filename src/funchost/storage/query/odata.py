"""OData ``$filter`` expressions of Azure Table storage, parsed with ``lark`` and evaluated
against entities (dicts): how the embedded store answers a table input's ``filter``.

Supported as the Table service supports them: ``eq ne gt ge lt le`` between a property and
a literal (either side), ``and``, ``or``, ``not``, parentheses; literals ``'text'`` (``''``
for a quote), integers (``42``, ``42L``), decimals, ``true``/``false``, ``datetime'...'``
and ``guid'...'``. A comparison with a property the entity lacks, or with a value of
another type, is false, as in the service.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any

from funchost.config import parse_time
from funchost.storage.roles import StorageError

Entity = dict[str, Any]
Predicate = Callable[[Entity], bool]

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr -> negation
         | comparison
         | "(" or_expr ")"
comparison: operand OPERATOR operand
?operand: PROPERTY -> property
        | STRING -> string
        | DATETIME -> datetime
        | GUID -> guid
        | NUMBER -> number
        | BOOLEAN -> boolean

_OR.2: /or\b/i
_AND.2: /and\b/i
_NOT.2: /not\b/i
OPERATOR.2: /(eq|ne|gt|ge|lt|le)\b/i
BOOLEAN.2: /(true|false)\b/i
DATETIME.3: /datetime'[^']*'/i
GUID.3: /guid'[^']*'/i
STRING: /'([^']|'')*'/
NUMBER: /-?\d+(\.\d+)?([eE][+-]?\d+)?[lLdDmM]?/
PROPERTY: /[A-Za-z_][A-Za-z0-9_]*/

%import common.WS
%ignore WS
"""

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_MIRRORED = {"gt": "lt", "ge": "le", "lt": "gt", "le": "ge", "eq": "eq", "ne": "ne"}


class FilterError(StorageError, ValueError):
    """A filter the grammar does not accept; the message points at the place."""


class _Property(str):
    """A property name, told apart from a string literal."""


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    from lark import Lark

    return Lark(GRAMMAR, parser="lalr")


def _literal(token: Any) -> Any:
    kind, text = token.type, str(token)
    if kind == "STRING":
        return text[1:-1].replace("''", "'")
    if kind == "DATETIME":
        return parse_time(text[len("datetime'") : -1])
    if kind == "GUID":
        return text[len("guid'") : -1].lower()
    if kind == "BOOLEAN":
        return text.lower() == "true"
    number = text.rstrip("lLdDmM")
    return float(number) if any(mark in number for mark in ".eE") else int(number)


def _compare(value: Any, literal: Any, name: str) -> bool:
    if isinstance(literal, datetime):
        if isinstance(value, str):
            try:
                value = parse_time(value)
            except ValueError:
                return False
        if not isinstance(value, datetime):
            return False
    elif isinstance(literal, bool) or isinstance(value, bool):
        if not (isinstance(literal, bool) and isinstance(value, bool)) or name not in ("eq", "ne"):
            return False
    elif isinstance(literal, (int, float)):
        if not isinstance(value, (int, float)):
            return False
    elif not isinstance(value, str):
        return False
    return _OPERATORS[name](value, literal)


def compile_filter(text: str) -> Predicate:
    """A predicate for the filter; FilterError naming the unexpected part when it does not parse."""
    from lark import Token, Tree
    from lark.exceptions import LarkError, UnexpectedInput

    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        raise FilterError(
            f"the filter {text!r} cannot be read at column {error.column}: {error.get_context(text).strip()!r}"
        ) from None
    except LarkError as error:
        raise FilterError(f"the filter {text!r} cannot be read: {error}") from None

    def build(node: Any) -> Any:
        if isinstance(node, Token):
            return _literal(node)
        assert isinstance(node, Tree)
        kind = node.data
        if kind == "property":
            return _Property(str(node.children[0]))
        if kind in ("string", "datetime", "guid", "number", "boolean"):
            return _literal(node.children[0])
        if kind == "comparison":
            return comparison(node)
        parts = [build(child) for child in node.children]
        if kind == "or_expr":
            return lambda entity: any(part(entity) for part in parts)
        if kind == "and_expr":
            return lambda entity: all(part(entity) for part in parts)
        return lambda entity: not parts[0](entity)  # negation

    def comparison(node: Any) -> Predicate:
        name, left, right = str(node.children[1]).lower(), build(node.children[0]), build(node.children[2])
        if isinstance(right, _Property) and not isinstance(left, _Property):
            left, right, name = right, left, _MIRRORED[name]
        if not isinstance(left, _Property) or isinstance(right, _Property):
            what = "two properties" if isinstance(right, _Property) else "two values"
            raise FilterError(f"the filter {text!r} compares {what}; a comparison is between a property and a value")
        prop, literal = str(left), right
        return lambda entity: prop in entity and entity[prop] is not None and _compare(entity[prop], literal, name)

    return build(tree)  # type: ignore[no-any-return]
