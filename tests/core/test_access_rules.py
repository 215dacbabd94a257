"""What a route declares is read from its dependency tree (the matrix test relies on it)."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI

from govloop.core.access_rules import DEVICE_KEY, declarations, declares, perm, rule_of
from govloop.core.auth import Permission
from govloop.core.deps import current_user, optional_user, public, require, secret_link
from govloop.core.models import User


def _rules(app: FastAPI) -> dict[str, tuple[str, ...]]:
    return {d.key: d.rules for d in declarations(app)}


def test_require_exposes_its_permission():
    check = require(Permission.HALL_VIEW)
    assert check.permission is Permission.HALL_VIEW
    assert rule_of(check) == "perm:hall.view" == perm(Permission.HALL_VIEW)
    assert rule_of(current_user) == "signed_in"
    assert rule_of(optional_user) is None


def test_unknown_rules_are_refused():
    with pytest.raises(ValueError, match="unknown access rule"):
        declares("perm:nonsense")


def test_rules_are_found_through_wrappers_and_not_below_a_declaration():
    check = require(Permission.HALL_MANAGE)

    def page_guard(viewer: User | None = Depends(optional_user), user: User = Depends(check)):
        return user

    @declares(DEVICE_KEY)
    def device(user: User | None = Depends(optional_user)) -> None:
        return None

    router = APIRouter(prefix="/r")

    @router.get("/page")
    def page(user: User = Depends(page_guard)) -> None: ...

    @router.post("/beat", dependencies=[Depends(device)])
    def beat() -> None: ...

    @router.get("/mixed", dependencies=[Depends(public)])
    def mixed(user: User = Depends(current_user)) -> None: ...

    @router.api_route("/nothing", methods=["GET", "PUT"])
    def nothing() -> None: ...

    app = FastAPI()
    app.include_router(router)
    app.include_router(
        APIRouter(routes=router.routes[:1]), prefix="/open", dependencies=[Depends(secret_link)]
    )
    assert _rules(app) == {
        "GET /r/page": ("perm:hall.manage",),
        "POST /r/beat": ("device_key",),
        "GET /r/mixed": ("public", "signed_in"),
        "GET /r/nothing": (),
        "PUT /r/nothing": (),
        "GET /open/r/page": ("secret_link", "perm:hall.manage"),
    }
