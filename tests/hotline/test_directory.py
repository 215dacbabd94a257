"""The per-process dispatch directory: read once, rebuilt only when the category or
department tables change, and changes made elsewhere are seen by the very next order."""

from __future__ import annotations

from sqlalchemy import select, update

from govloop.core.db import unit_of_work
from govloop.hotline.catalogue import seed_catalogue
from govloop.hotline.models import HotlineCategory
from govloop.hotline.orders import directory, queries, routing
from govloop.org.models import Department

NOISE_TEXT = "楼下广场每天晚上都有人跳广场舞，音响开得很响，一直到十一点才结束，孩子没法睡觉。"


def _current() -> directory.Directory:
    with unit_of_work(readonly=True) as session:
        return directory.current(session)


def _suggest(text: str) -> routing.Suggestion | None:
    with unit_of_work(readonly=True) as session:
        return routing.suggest(session=session, text=text)


def test_directory_matches_the_tables_and_is_reused_while_they_do_not_change(db):
    with unit_of_work() as session:
        seed_catalogue(session=session)
    first = _current()
    assert _current() is first  # nothing changed: not rebuilt
    with unit_of_work(readonly=True) as session:
        rows = list(session.scalars(select(HotlineCategory)))
        departments = {d.id: d.name for d in session.scalars(select(Department))}
    assert {c.id: (c.code, c.name, c.department_id) for c in rows} == {
        c.id: (c.code, c.name, c.department_id) for c in first.categories.values()
    }
    assert first.department_names == departments
    noise = first.active_by_code["CG-NOISE"]
    assert noise.keywords == tuple(next(c for c in rows if c.code == "CG-NOISE").keywords)
    assert [c.code for c in first.active] == sorted(c.code for c in rows if c.active)


def test_changes_are_seen_by_the_next_suggestion_and_view(db):
    with unit_of_work() as session:
        seed_catalogue(session=session)
    found = _suggest(NOISE_TEXT)
    assert found is not None and found.category_code == "CG-NOISE"
    before = _current()
    # another process retires the category and renames a department: plain UPDATEs
    with unit_of_work() as session:
        session.execute(
            update(HotlineCategory).where(HotlineCategory.code == "CG-NOISE").values(active=False)
        )
        session.execute(update(Department).where(Department.code == "CG").values(name="城管局"))
    after = _current()
    assert after is not before
    assert "CG-NOISE" not in after.active_by_code
    assert after.categories[found.category_id].active is False  # old orders still name it
    again = _suggest(NOISE_TEXT)
    assert again is None or again.category_code != "CG-NOISE"
    with unit_of_work(readonly=True) as session:
        departments, categories = queries.names(session)
        cg = session.scalar(select(Department.id).where(Department.code == "CG"))
    assert cg is not None and departments[cg] == "城管局"
    assert categories[found.category_id][0] == "CG-NOISE"


def test_new_keywords_take_effect_at_once(db):
    with unit_of_work() as session:
        seed_catalogue(session=session)
    assert _suggest("月球基地的信号塔坏了") is None
    with unit_of_work() as session:
        session.execute(
            update(HotlineCategory)
            .where(HotlineCategory.code == "CG-NOISE")
            .values(keywords=["月球基地"])
        )
    found = _suggest("月球基地的信号塔坏了")
    assert found is not None and found.category_code == "CG-NOISE"
