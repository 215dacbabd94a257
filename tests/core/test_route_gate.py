"""The route gate rules out only routers a path cannot reach: for a sample path of every
route of the application, and for paths of no route, each router answers exactly as it
does without its gate."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Match

from govloop.app import create_app
from govloop.core import route_gate


def _scope(path: str, method: str = "GET") -> dict:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }


@pytest.fixture(scope="module")
def app():
    return create_app(run_jobs=False)


def _samples(app) -> list[str]:
    paths = [p for node in app.router.routes for p in route_gate._leaf_paths([node]) if p]
    filled = {re.sub(r"\{[^}]+\}", "x1", p) for p in paths}
    # and paths no route has, near ones included
    return sorted(filled | {"/", "/api", "/api/v1", "/api/v1/nothing", "/nope/x", "/hall/"})


def test_the_routers_are_gated(app):
    gated = [n for n in app.router.routes if hasattr(n.matches, "__wrapped__")]
    assert len(gated) >= 20


def test_a_gate_never_changes_what_a_router_answers(app):
    nodes = [n for n in app.router.routes if hasattr(n.matches, "__wrapped__")]
    checked = 0
    for path in _samples(app):
        for method in ("GET", "POST"):
            for node in nodes:
                gated, _ = node.matches(_scope(path, method))
                original, _ = node.matches.__wrapped__(_scope(path, method))
                assert gated == original, (path, method)
                checked += gated != Match.NONE
    assert checked > 300  # the sample paths did reach their routes


@pytest.mark.parametrize(
    ("path", "head"),
    [
        ("/api/v1/halls/{hall_code}/tickets", ("api", "v1", "halls")),
        ("/open311/v2/discovery.{fmt}", ("open311", "v2")),
        ("/insight/{hall_code}/loop", ("insight",)),
        ("/field/", ("field",)),
        ("/", ()),
    ],
)
def test_the_literal_head_stops_at_the_first_parameter(path, head):
    assert route_gate.literal_head(path) == head


def test_reachable_compares_leading_segments():
    heads = frozenset({("api", "v1", "halls"), ("hall",)})
    assert route_gate.reachable(heads, "/api/v1/halls/H1/tickets")
    assert route_gate.reachable(heads, "/hall/H1/window/3")
    assert not route_gate.reachable(heads, "/api/v1/hotline/orders")
    assert not route_gate.reachable(heads, "/halls")
