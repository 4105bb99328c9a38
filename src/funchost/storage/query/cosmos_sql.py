"""The Cosmos DB SQL that bindings use, parsed with ``lark`` and run over documents (dicts):
how the embedded store answers a Cosmos DB input's ``sqlQuery``.

Supported: ``SELECT [TOP n] *`` / ``VALUE expr`` / ``expr [AS name], ...`` ``FROM <alias>``
``[WHERE ...]`` ``[ORDER BY expr [ASC|DESC], ...]``; property paths (``c.a.b``, ``c["a"]``,
``c.tags[0]``), literals, ``@parameters``; ``= != <> < <= > >=``, ``AND OR NOT``, ``IN (...)``,
``BETWEEN``, arithmetic ``+ - * / %`` and ``||``; functions ``CONTAINS``, ``STARTSWITH``,
``ENDSWITH``, ``LOWER``, ``UPPER``, ``LENGTH``, ``IS_DEFINED``, ``IS_NULL``, ``ARRAY_CONTAINS``,
``ARRAY_LENGTH``. Anything else (JOIN, GROUP BY, aggregates, subqueries, other functions) is
refused with a ``QueryError`` naming it. As in Cosmos DB, a missing property is *undefined*: a
comparison with it is false and a projection leaves it out.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from funchost.storage.roles import StorageError

GRAMMAR = r"""
start: _SELECT top? selection _FROM source where? order?
top: _TOP INT
selection: STAR -> select_all
         | _VALUE expr -> select_value
         | projection ("," projection)* -> select_fields
projection: expr (_AS? NAME)?
source: NAME (_AS? NAME)?
where: _WHERE expr
order: _ORDER _BY order_item ("," order_item)*
order_item: expr DIRECTION?

?expr: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr -> negation
         | comparison
?comparison: sum
           | sum COMPARE sum -> compare
           | sum _IN "(" expr ("," expr)* ")" -> within
           | sum _NOT _IN "(" expr ("," expr)* ")" -> not_within
           | sum _BETWEEN sum _AND sum -> between
?sum: product
    | sum ADD product -> arithmetic
?product: atom
        | product MULTIPLY atom -> arithmetic
?atom: path
     | literal
     | PARAMETER -> parameter
     | NAME "(" [expr ("," expr)*] ")" -> call
     | "(" expr ")"
     | "[" [expr ("," expr)*] "]" -> array
path: NAME (("." NAME) | ("[" (STRING | INT) "]"))*
?literal: STRING -> string
        | SIGNED_NUMBER -> number
        | _TRUE -> true
        | _FALSE -> false
        | _NULL -> null
        | _UNDEFINED -> undefined

_SELECT.2: /select\b/i
_TOP.2: /top\b/i
_VALUE.2: /value\b/i
_FROM.2: /from\b/i
_WHERE.2: /where\b/i
_ORDER.2: /order\b/i
_BY.2: /by\b/i
_AS.2: /as\b/i
_AND.2: /and\b/i
_OR.2: /or\b/i
_NOT.2: /not\b/i
_IN.2: /in\b/i
_BETWEEN.2: /between\b/i
_TRUE.2: /true\b/i
_FALSE.2: /false\b/i
_NULL.2: /null\b/i
_UNDEFINED.2: /undefined\b/i
DIRECTION.2: /(asc|desc)\b/i
STAR: "*"
COMPARE: "!=" | "<>" | "<=" | ">=" | "=" | "<" | ">"
ADD: "+" | "-" | "||"
MULTIPLY: "*" | "/" | "%"
PARAMETER: /@[A-Za-z_][A-Za-z0-9_]*/
STRING: /'(\\.|[^'\\])*'/ | /"(\\.|[^"\\])*"/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
INT: /\d+/
SIGNED_NUMBER: /-?\d+(\.\d+)?([eE][+-]?\d+)?/

%import common.WS
%ignore WS
"""

UNSUPPORTED = re.compile(r"\b(join|group\s+by|having|offset|limit|distinct|exists)\b", re.IGNORECASE)
STRINGS = re.compile(r"'(\\.|[^'\\])*'|\"(\\.|[^\"\\])*\"")
UNDEFINED = object()  # a property a document does not have
Document = dict[str, Any]
Evaluate = Callable[[Document], Any]


class QueryError(StorageError, ValueError):
    """A query the embedded store cannot run; the message names the part."""


@dataclass
class Query:
    """A parsed query, ready to run over a container's documents."""

    text: str
    select: Callable[[Document], Any]  # the projection of one matching document (UNDEFINED: left out)
    where: Callable[[Document], bool] | None = None
    order: list[tuple[Evaluate, bool]] = field(default_factory=list)  # (key, descending)
    top: int | None = None

    def run(self, documents: list[Document]) -> list[Any]:
        matching = [doc for doc in documents if self.where is None or self.where(doc) is True]
        for key, descending in reversed(self.order):  # stable sorts, last key first
            matching.sort(key=_sorting(key), reverse=descending)
        results = [value for value in (self.select(doc) for doc in matching) if value is not UNDEFINED]
        return results[: self.top] if self.top is not None else results


def _sorting(key: Evaluate) -> Callable[[Document], tuple[int, Any]]:
    return lambda doc: _sort_key(key(doc))


def _sort_key(value: Any) -> tuple[int, Any]:
    # Cosmos orders undefined < null < false/true < numbers < strings
    if value is UNDEFINED:
        return (0, 0)
    if value is None:
        return (1, 0)
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, (int, float)):
        return (3, value)
    if isinstance(value, str):
        return (4, value)
    return (5, str(value))


@functools.lru_cache(maxsize=1)
def _parser() -> Any:
    from lark import Lark

    return Lark(GRAMMAR, parser="lalr")


def _unquote(text: str) -> str:
    import ast

    body = text[1:-1]
    return str(ast.literal_eval('"' + body.replace('"', '\\"') + '"')) if "\\" in body else body


def _compare(operator: str, left: Any, right: Any) -> Any:
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    same_kind = type(left) is type(right) or (
        isinstance(left, (int, float))
        and isinstance(right, (int, float))
        and not isinstance(left, bool)
        and not isinstance(right, bool)
    )
    if operator in ("=", "!=", "<>"):
        equal = same_kind and left == right
        return equal if operator == "=" else not equal
    if not same_kind or not isinstance(left, (int, float, str)):
        return UNDEFINED
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[operator]


def _arithmetic(operator: str, left: Any, right: Any) -> Any:
    if operator == "||":
        return left + right if isinstance(left, str) and isinstance(right, str) else UNDEFINED
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right)):
        return UNDEFINED
    if operator in ("/", "%") and right == 0:
        return UNDEFINED
    return {"+": left + right, "-": left - right, "*": left * right, "/": left / right, "%": left % right}[operator]


def _string_function(check: Callable[[str, str], bool]) -> Callable[..., Any]:
    def run(text: Any, part: Any, ignore_case: Any = False) -> Any:
        if not isinstance(text, str) or not isinstance(part, str):
            return UNDEFINED
        return check(text.lower(), part.lower()) if ignore_case is True else check(text, part)

    return run


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "contains": _string_function(lambda text, part: part in text),
    "startswith": _string_function(str.startswith),
    "endswith": _string_function(str.endswith),
    "lower": lambda text: text.lower() if isinstance(text, str) else UNDEFINED,
    "upper": lambda text: text.upper() if isinstance(text, str) else UNDEFINED,
    "length": lambda text: len(text) if isinstance(text, str) else UNDEFINED,
    "is_defined": lambda value: value is not UNDEFINED,
    "is_null": lambda value: value is None,
    "array_contains": lambda items, value, partial=False: (
        UNDEFINED
        if not isinstance(items, list)
        else any(
            item == value
            or (
                partial is True
                and isinstance(item, dict)
                and isinstance(value, dict)
                and all(item.get(k, UNDEFINED) == v for k, v in value.items())
            )
            for item in items
        )
    ),
    "array_length": lambda items: len(items) if isinstance(items, list) else UNDEFINED,
}


def parse_query(text: str, parameters: dict[str, Any] | None = None) -> Query:
    """Parse ``text``; ``parameters`` gives the values of ``@name`` (the name with its ``@``)."""
    from lark import Tree
    from lark.exceptions import LarkError, UnexpectedInput, UnexpectedToken

    unsupported = UNSUPPORTED.search(STRINGS.sub("''", text))
    if unsupported:
        raise QueryError(
            f"the query {text!r} uses {' '.join(unsupported.group(0).upper().split())}, which the "
            "embedded store does not support"
        ) from None
    try:
        tree = _parser().parse(text)
    except UnexpectedToken as error:
        near = f"near {str(error.token)!r}" if str(error.token) else "at its end"
        raise QueryError(f"the query {text!r} cannot be read at column {error.column} ({near})") from None
    except UnexpectedInput as error:
        raise QueryError(f"the query {text!r} cannot be read at column {error.column}") from None
    except LarkError as error:
        raise QueryError(f"the query {text!r} cannot be read: {error}") from None
    source = next(node for node in tree.children if isinstance(node, Tree) and node.data == "source")
    compiler = _Compiler(text, str(source.children[-1]), dict(parameters or {}))
    query = Query(text, select=lambda doc: doc)
    for node in tree.children:
        if not isinstance(node, Tree):
            continue
        if node.data == "top":
            query.top = int(str(node.children[0]))
        elif node.data == "select_value":
            query.select = compiler.build(node.children[0])
        elif node.data == "select_fields":
            query.select = _projection(node, compiler.build)
        elif node.data == "where":
            condition = compiler.build(node.children[0])
            query.where = lambda doc, condition=condition: condition(doc) is True
        elif node.data == "order":
            for item in node.children:
                descending = len(item.children) > 1 and str(item.children[1]).lower() == "desc"
                query.order.append((compiler.build(item.children[0]), descending))
    return query


class _Compiler:
    """Turns a parse tree node into a function of a document, one method per node kind."""

    def __init__(self, text: str, alias: str, values: dict[str, Any]) -> None:
        self.text = text
        self.alias = alias
        self.values = values

    def build(self, node: Any) -> Evaluate:
        method = getattr(self, f"_{getattr(node, 'data', '')}", None)
        if method is None:
            raise QueryError(
                f"the query {self.text!r} has a part the embedded store does not support "
                f"({getattr(node, 'data', node)})"
            )
        evaluate: Evaluate = method(node)
        return evaluate

    def _path(self, node: Any) -> Evaluate:
        names = [
            str(part) if part.type == "NAME" else (_unquote(str(part)) if part.type == "STRING" else int(part))
            for part in node.children
        ]
        if names[0] != self.alias:
            raise QueryError(f"the query {self.text!r} names '{names[0]}', but its FROM alias is '{self.alias}'")
        steps = names[1:]

        def walk(doc: Document) -> Any:
            value: Any = doc
            for step in steps:
                if isinstance(step, int):
                    value = value[step] if isinstance(value, list) and step < len(value) else UNDEFINED
                else:
                    value = value.get(step, UNDEFINED) if isinstance(value, dict) else UNDEFINED
                if value is UNDEFINED:
                    break
            return value

        return walk

    def _string(self, node: Any) -> Evaluate:
        constant = _unquote(str(node.children[0]))
        return lambda doc: constant

    def _number(self, node: Any) -> Evaluate:
        text = str(node.children[0])
        number = float(text) if any(c in text for c in ".eE") else int(text)
        return lambda doc: number

    def _true(self, node: Any) -> Evaluate:
        return lambda doc: True

    def _false(self, node: Any) -> Evaluate:
        return lambda doc: False

    def _null(self, node: Any) -> Evaluate:
        return lambda doc: None

    def _undefined(self, node: Any) -> Evaluate:
        return lambda doc: UNDEFINED

    def _parameter(self, node: Any) -> Evaluate:
        name = str(node.children[0])
        if name not in self.values:
            raise QueryError(f"the query {self.text!r} uses {name}, which has no value")
        value = self.values[name]
        return lambda doc: value

    def _array(self, node: Any) -> Evaluate:
        items = [self.build(child) for child in node.children if child is not None]
        return lambda doc: [item(doc) for item in items]

    def _call(self, node: Any) -> Evaluate:
        function = FUNCTIONS.get(str(node.children[0]).lower())
        if function is None:
            raise QueryError(
                f"the query {self.text!r} calls {str(node.children[0]).upper()}, which the embedded "
                f"store does not support (it has {', '.join(f.upper() for f in FUNCTIONS)})"
            )
        arguments = [self.build(child) for child in node.children[1:] if child is not None]
        return lambda doc: function(*(argument(doc) for argument in arguments))

    def _compare(self, node: Any) -> Evaluate:
        left, operator, right = self.build(node.children[0]), str(node.children[1]), self.build(node.children[2])
        return lambda doc: _compare(operator, left(doc), right(doc))

    def _arithmetic(self, node: Any) -> Evaluate:
        left, operator, right = self.build(node.children[0]), str(node.children[1]), self.build(node.children[2])
        return lambda doc: _arithmetic(operator, left(doc), right(doc))

    def _within(self, node: Any, negate: bool = False) -> Evaluate:
        subject, options = self.build(node.children[0]), [self.build(child) for child in node.children[1:]]

        def within(doc: Document) -> Any:
            value = subject(doc)
            if value is UNDEFINED:
                return UNDEFINED
            return any(_compare("=", value, option(doc)) is True for option in options) != negate

        return within

    def _not_within(self, node: Any) -> Evaluate:
        return self._within(node, negate=True)

    def _between(self, node: Any) -> Evaluate:
        subject, low, high = (self.build(child) for child in node.children)

        def between(doc: Document) -> Any:
            lower, upper = _compare(">=", subject(doc), low(doc)), _compare("<=", subject(doc), high(doc))
            return UNDEFINED if UNDEFINED in (lower, upper) else lower and upper

        return between

    def _negation(self, node: Any) -> Evaluate:
        inner = self.build(node.children[0])

        def negation(doc: Document) -> Any:
            value = inner(doc)
            return (not value) if isinstance(value, bool) else UNDEFINED

        return negation

    def _and_expr(self, node: Any) -> Evaluate:
        parts = [self.build(child) for child in node.children]
        return lambda doc: all(part(doc) is True for part in parts)

    def _or_expr(self, node: Any) -> Evaluate:
        parts = [self.build(child) for child in node.children]
        return lambda doc: any(part(doc) is True for part in parts)


def _projection(node: Any, build: Callable[[Any], Evaluate]) -> Callable[[Document], Any]:
    fields = []
    for index, projection in enumerate(node.children):
        expression, *name = projection.children
        if name and name[0] is not None:
            label = str(name[0])
        elif expression.data == "path" and len(expression.children) > 1:
            label = str(expression.children[-1]).strip("'\"")
        else:
            label = f"${index + 1}"
        fields.append((label, build(expression)))

    def project(doc: Document) -> Any:
        result = {}
        for label, value in fields:
            found = value(doc)
            if found is not UNDEFINED:
                result[label] = found
        return result

    return project
