"""Route templates and precedence."""

from __future__ import annotations

import pytest

from funchost.triggers.http.routing import Router, RouteTemplateError, compile_route


def match(template: str, path: str):
    route = compile_route(template, None)
    return route.match(path.strip("/"))


@pytest.mark.parametrize(
    ("template", "path", "expected"),
    [
        ("api/hello", "api/HELLO", {}),
        ("api/items/{id}", "api/items/42", {"id": "42"}),
        ("api/items/{id}", "api/items", None),
        ("api/items/{id?}", "api/items", {"id": None}),
        ("api/items/{id=5}", "api/items", {"id": "5"}),
        ("api/files/{*rest}", "api/files/a/b/c.txt", {"rest": "a/b/c.txt"}),
        ("api/files/{**rest}", "api/files", {"rest": None}),
        ("api/{name}.{ext}", "api/report.pdf", {"name": "report", "ext": "pdf"}),
        ("api/p/{category:alpha}/{id:int?}", "api/p/shoes/12", {"category": "shoes", "id": "12"}),
        ("api/p/{category:alpha}/{id:int?}", "api/p/shoes", {"category": "shoes", "id": None}),
        ("api/p/{category:alpha}/{id:int?}", "api/p/sh0es", None),
        ("api/p/{category:alpha}/{id:int?}", "api/p/shoes/x", None),
        ("api/n/{v:int}", "api/n/2147483648", None),
        ("api/n/{v:long}", "api/n/2147483648", {"v": "2147483648"}),
        ("api/n/{v:bool}", "api/n/True", {"v": "True"}),
        ("api/n/{v:bool}", "api/n/yes", None),
        ("api/n/{v:guid}", "api/n/0f8fad5b-d9cb-469f-a165-70867728950e", {"v": "0f8fad5b-d9cb-469f-a165-70867728950e"}),
        ("api/n/{v:guid}", "api/n/nope", None),
        ("api/n/{v:datetime}", "api/n/2024-05-01", {"v": "2024-05-01"}),
        ("api/n/{v:decimal}", "api/n/1.50", {"v": "1.50"}),
        ("api/n/{v:double}", "api/n/1e3", {"v": "1e3"}),
        ("api/n/{v:float}", "api/n/abc", None),
        ("api/n/{v:minlength(3)}", "api/n/ab", None),
        ("api/n/{v:maxlength(3)}", "api/n/abc", {"v": "abc"}),
        ("api/n/{v:length(2)}", "api/n/abc", None),
        ("api/n/{v:length(2,4)}", "api/n/abc", {"v": "abc"}),
        ("api/n/{v:min(10)}", "api/n/9", None),
        ("api/n/{v:max(10)}", "api/n/10", {"v": "10"}),
        ("api/n/{v:range(1,3)}", "api/n/4", None),
        ("api/n/{v:regex(^\\d{{3}}$)}", "api/n/123", {"v": "123"}),
        ("api/n/{v:regex(^[a-z]+$)}", "api/n/ABC", {"v": "ABC"}),  # case-insensitive, like .NET
        ("api/n/{v:int:min(5)}", "api/n/4", None),
        ("api/n/{v}", "api/n/a%20b", {"v": "a b"}),
    ],
)
def test_templates(template, path, expected):
    assert match(template, path) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("api/{id:nope}", "could not be resolved by the constraint resolver"),
        ("api/{*rest}/more", "catch-all parameter can only appear as the last segment"),
        ("api/{a}/{A}", "appears more than one time"),
        ("api/{a", "unmatched"),
        ("api//x", "empty segment"),
    ],
)
def test_invalid_templates(template, message):
    with pytest.raises(RouteTemplateError, match=message):
        compile_route(template, None)


def test_more_specific_routes_win_whatever_the_names():
    router = Router()
    router.add(compile_route("api/{*path}", "a_catch_all"))
    router.add(compile_route("api/items/{id}", "b_param"))
    router.add(compile_route("api/items/{id:int}", "c_constrained"))
    router.add(compile_route("api/items/special", "d_literal"))
    assert target_of(router, "/api/items/special", "GET") == "d_literal"
    assert target_of(router, "/api/items/12", "GET") == "c_constrained"
    assert target_of(router, "/api/items/abc", "GET") == "b_param"
    assert target_of(router, "/api/other/thing", "GET") == "a_catch_all"


def target_of(router: Router, path: str, method: str) -> object:
    found = router.match(path, method)
    assert found is not None, path
    return found[0].target


def test_methods_restrict_and_mismatch_is_no_match():
    router = Router()
    router.add(compile_route("api/x", "post_only", ["POST"]))
    assert router.match("/api/x", "GET") is None
    assert target_of(router, "/api/x", "POST") == "post_only"
