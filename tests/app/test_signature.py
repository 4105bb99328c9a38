"""Every rule analyse_signature checks, with the reason and the binding a user is shown."""

from __future__ import annotations

from typing import Any

import azure.functions as func
import pytest

from funchost.app.model import BindingSpec, Direction, ParamKind
from funchost.app.signature import SignatureError, analyse_signature

QUEUE = BindingSpec("msg", "queueTrigger", Direction.IN)
HTTP = BindingSpec("req", "httpTrigger", Direction.IN)
HTTP_OUT = BindingSpec("$return", "http", Direction.OUT)
QUEUE_OUT = BindingSpec("out", "queue", Direction.OUT)


def refused(func_: Any, bindings: list[BindingSpec]) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        analyse_signature(func_, bindings)
    return caught.value


def test_a_valid_function_gets_its_plan():
    def main(msg: func.QueueMessage, out: func.Out[str], context: func.Context) -> None:
        pass

    plan, return_binding, generic = analyse_signature(main, [QUEUE, QUEUE_OUT])
    assert [(p.name, p.kind) for p in plan] == [
        ("msg", ParamKind.INPUT),
        ("out", ParamKind.OUTPUT),
        ("context", ParamKind.CONTEXT),
    ]
    assert return_binding is None and generic is False


def test_a_signature_that_cannot_be_read():
    def main(msg: func.QueueMessage) -> None:
        pass

    main.__signature__ = "not a signature"  # type: ignore[attr-defined]
    error = refused(main, [QUEUE])
    assert error.reason.startswith("cannot read the function's signature:")


def test_a_parameter_named_context_of_another_type():
    def main(msg: func.QueueMessage, context: str) -> None:
        pass

    error = refused(main, [QUEUE])
    assert error.reason == 'the "context" parameter is expected to be of type azure.functions.Context, got str'


def test_a_parameter_without_a_binding():
    def main(msg: func.QueueMessage, extra: str) -> None:
        pass

    error = refused(main, [QUEUE])
    assert error.reason == "the following parameters are declared in Python but not in the bindings: 'extra'"
    assert error.binding == "extra"


def test_a_binding_without_a_parameter():
    def main(msg: func.QueueMessage) -> None:
        pass

    error = refused(main, [QUEUE, QUEUE_OUT])
    assert error.reason == "the following bindings are declared but have no parameter in Python: 'out'"
    assert error.binding == "out"


def test_an_out_annotation_without_one_type():
    def main(msg: func.QueueMessage, out: func.Out) -> None:  # type: ignore[type-arg]
        pass

    error = refused(main, [QUEUE, QUEUE_OUT])
    assert error.reason.startswith("binding out has invalid Out annotation") and error.binding == "out"


def test_an_output_binding_not_annotated_out():
    def main(msg: func.QueueMessage, out: str) -> None:
        pass

    error = refused(main, [QUEUE, QUEUE_OUT])
    assert error.reason == (
        'binding out is declared to have the "out" direction, but its annotation in Python '
        "is not a subclass of azure.functions.Out"
    )


def test_an_input_binding_annotated_out():
    def main(msg: func.Out[str]) -> None:
        pass

    error = refused(main, [QUEUE])
    assert error.reason == (
        'binding msg is declared to have the "in" direction in the binding definition, but '
        "its annotation is azure.functions.Out in Python"
    )


def test_an_annotation_that_is_not_a_type():
    def main(msg: 42) -> None:  # type: ignore[valid-type]
        pass

    error = refused(main, [QUEUE])
    assert error.reason == "binding msg has invalid non-type annotation 42" and error.binding == "msg"


def test_an_annotation_the_bindings_converter_refuses():
    def main(msg: func.HttpRequest) -> None:
        pass

    error = refused(main, [QUEUE])
    assert error.reason == 'type of msg binding "queueTrigger" does not match its Python annotation "HttpRequest"'


def test_a_return_annotated_out():
    def main(req: func.HttpRequest) -> func.Out[str]:
        raise AssertionError("never called")

    error = refused(main, [HTTP, HTTP_OUT])
    assert error.reason == "return annotation should not be azure.functions.Out" and error.binding == "$return"


def test_a_return_annotation_that_is_not_a_type():
    def main(req: func.HttpRequest) -> 42:  # type: ignore[valid-type]
        pass

    error = refused(main, [HTTP, HTTP_OUT])
    assert error.reason == "has invalid non-type return annotation 42"


def test_a_return_annotation_the_bindings_converter_refuses():
    def main(req: func.HttpRequest) -> func.QueueMessage:
        raise AssertionError("never called")

    error = refused(main, [HTTP, HTTP_OUT])
    assert error.reason == 'Python return annotation "QueueMessage" does not match binding type "http"'


def test_a_return_annotation_without_a_return_binding():
    def main(msg: func.QueueMessage) -> str:
        return ""

    error = refused(main, [QUEUE])
    assert error.reason == (
        'the function has a return annotation ("str") but no "$return" output binding to send the value to'
    )
