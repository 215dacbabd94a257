"""Who may use a route: every route declares it, and the declaration is read by introspection.

A route declares its access through its dependencies. A dependency declares when it carries
an ``access_rule`` attribute; the route's declaration is the set of rules found walking its
dependency tree from the top, not descending below a dependency that declares (so
``require(p)`` declares ``perm:p``, not also the ``signed_in`` of the ``current_user`` it
uses). The rules:

``public``
    Anyone, signed in or not: citizens' pages, kiosk and display board, Open311 reads,
    static assets and probes (``Depends(deps.public)``).
``secret_link``
    Anyone holding an unguessable link or code handed to one citizen — a ticket's
    ``public_id``, an appointment code: knowing it is the authority
    (``Depends(deps.secret_link)``).
``signed_in``
    Any signed-in user (``Depends(deps.current_user)``); finer rules, if any, are the
    service's.
``perm:<permission>``
    A signed-in user whose role holds the permission (``Depends(deps.require(p))``).
``api_key``
    A partner system presenting its key (ingest push, Open311 submissions); the endpoint
    checks it and refuses without it (``Depends(deps.api_key)``).
``device_key``
    A registered hall device presenting its credential; declared by the dependency that
    checks it (``@declares(DEVICE_KEY)``).

A route that checks finer rules in its service (the case a clerk holds, the department of a
rating case) still declares the rule its route enforces. ``declarations(app)`` lists every
API route with what it declares; ``tests/core/test_route_matrix.py`` requires exactly one
rule per route and compares them with the expected table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from govloop.core.auth import Permission

PUBLIC = "public"
SECRET_LINK = "secret_link"
SIGNED_IN = "signed_in"
API_KEY = "api_key"
DEVICE_KEY = "device_key"
PERM_PREFIX = "perm:"
ACCESS_ATTR = "access_rule"

RULES: frozenset[str] = frozenset(
    {PUBLIC, SECRET_LINK, SIGNED_IN, API_KEY, DEVICE_KEY}
    | {PERM_PREFIX + p.value for p in Permission}
)

F = TypeVar("F", bound=Callable[..., Any])


def perm(permission: Permission) -> str:
    return PERM_PREFIX + permission.value


def declares(rule: str) -> Callable[[F], F]:
    """Mark a dependency as the declaration of who may use the routes that depend on it."""
    if rule not in RULES:
        raise ValueError(f"unknown access rule {rule!r}; known: {sorted(RULES)}")

    def mark(call: F) -> F:
        setattr(call, ACCESS_ATTR, rule)
        return call

    return mark


def rule_of(call: object) -> str | None:
    rule = getattr(call, ACCESS_ATTR, None)
    return rule if isinstance(rule, str) else None


def _rules(dependant: Dependant) -> Iterator[str]:
    for dep in dependant.dependencies:
        rule = rule_of(dep.call)
        if rule is not None:
            yield rule
        else:
            yield from _rules(dep)


def _rules_of_depends(depends: Iterable[params.Depends], path: str) -> Iterator[str]:
    for d in depends:
        rule = rule_of(d.dependency)
        if rule is not None:
            yield rule
        elif d.dependency is not None:
            yield from _rules(get_dependant(path=path, call=d.dependency))


@dataclass(frozen=True)
class RouteDeclaration:
    method: str
    path: str
    endpoint: str
    rules: tuple[str, ...]  # distinct, in the order found; exactly one is expected
    route: APIRoute = field(compare=False, repr=False)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _walk(
    routes: Sequence[BaseRoute], prefix: str, outer: tuple[params.Depends, ...]
) -> Iterator[tuple[str, APIRoute, tuple[params.Depends, ...]]]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route, outer
            continue
        included = getattr(route, "original_router", None)  # FastAPI's _IncludedRouter
        if included is not None:
            context = route.include_context  # type: ignore[attr-defined]
            yield from _walk(
                included.routes,
                prefix + context.prefix,
                (*outer, *context.dependencies),
            )


def declarations(app: Any) -> list[RouteDeclaration]:
    """Every API route of the application (one entry per method) with the rules it declares."""
    found = []
    for path, route, outer in _walk(app.routes, "", ()):
        rules = [*_rules_of_depends(outer, path), *_rules(route.dependant)]
        distinct = tuple(dict.fromkeys(rules))
        endpoint = f"{route.endpoint.__module__}.{route.endpoint.__qualname__}"
        for method in sorted(route.methods or ()):
            found.append(RouteDeclaration(method, path, endpoint, distinct, route))
    return found
