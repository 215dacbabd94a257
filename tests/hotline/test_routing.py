"""Routing: training on closed orders, model suggestions, the catalogue fallback, the CLI."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest
from govloop.demo.hotline.orders import GeneratedOrder, generate_orders
from govloop.hotline.catalogue import seed_catalogue
from govloop.hotline.cli import app
from govloop.hotline.models import HotlineCategory, OrderStatus, RoutingModel, WorkOrder
from govloop.hotline.orders import routing
from govloop.org.models import Department

WATER_TEXT = "您好，我们小区从昨天晚上开始停水，到现在还没来水，也没有任何通知，家里没水用。"
NOISE_TEXT = "楼下广场每天晚上都有人跳广场舞，音响开得很响，一直到十一点才结束，孩子没法睡觉。"


@cache
def _generated(count: int, seed: int = 11) -> tuple[GeneratedOrder, ...]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = datetime(2025, 4, 1, tzinfo=UTC)
    return tuple(generate_orders(seed=seed, count=count, start=start, end=end))


def _store(
    orders: Sequence[GeneratedOrder],
    *,
    status: OrderStatus = OrderStatus.CLOSED,
    department_of: dict[str, str] | None = None,
    first_number: int = 0,
) -> None:
    """Insert orders as rows; ``department_of`` moves a category's orders to another unit."""
    department_of = department_of or {}
    with unit_of_work() as session:
        categories = seed_catalogue(session=session)
        departments = {d.code: d.id for d in session.scalars(select(Department))}
        for i, order in enumerate(orders, start=first_number):
            department = department_of.get(order.category_code, order.department_code)
            session.add(
                WorkOrder(
                    number=f"T{i:06d}",
                    channel=order.channel,
                    order_type=order.order_type,
                    urgency=order.urgency,
                    title=order.title,
                    content=order.content,
                    category_id=categories[order.category_code],
                    department_id=departments[department],
                    status=status,
                    created_at=order.created_at,
                    district=order.district,
                )
            )


def _ids(table: type[HotlineCategory] | type[Department]) -> dict[str, int]:
    with unit_of_work(readonly=True) as session:
        return {row.code: row.id for row in session.scalars(select(table))}


def _train(seed: int = 0, min_orders: int = 50) -> routing.TrainReport:
    with unit_of_work() as session:
        return routing.train(session=session, seed=seed, min_orders=min_orders)


def _suggest(text: str) -> routing.Suggestion | None:
    with unit_of_work(readonly=True) as session:
        return routing.suggest(session=session, text=text)


def test_holdout_split_is_stratified_and_keeps_every_label_in_training():
    labels = ["a"] * 50 + ["b"] * 10 + ["c"]
    train, test = routing.holdout_split(labels, 0.2, seed=3)
    assert sorted(train + test) == list(range(len(labels)))
    assert Counter(labels[i] for i in test) == {"a": 10, "b": 2}
    assert "c" in {labels[i] for i in train}
    assert routing.holdout_split(labels, 0.2, seed=3) == (train, test)


def test_catalogue_words_stay_whole_tokens():
    assert "拖欠工资" in routing.tokenize("公司拖欠工资三个月了")
    assert routing.tokenize("欠了 3800 元！") == ("欠", "了", "<num>", "元")


def test_train_on_closed_orders_stores_an_accurate_active_model(db):
    _store(_generated(500))
    _store(_generated(40, seed=12), status=OrderStatus.IN_PROGRESS, first_number=1000)
    report = _train()
    assert report.n_train + report.n_test == 500  # open orders are not training data
    assert 80 <= report.n_test <= 120
    assert report.category_accuracy is not None and report.category_accuracy >= 0.85
    assert report.department_accuracy is not None and report.department_accuracy >= 0.85
    assert report.macro_f1 is not None and report.macro_f1 >= 0.8
    assert report.catalogue_accuracy is not None
    assert report.worst_categories and report.worst_categories[0]["name"]
    with unit_of_work(readonly=True) as session:
        row = session.get(RoutingModel, report.model_id)
        assert row is not None and row.active and len(row.model) > 1000
        assert row.category_accuracy == report.category_accuracy
        assert row.report["fitted_on"] == 500
        assert row.report["per_category"][0]["f1"] <= row.report["per_category"][-1]["f1"]


def test_suggest_uses_the_model_and_current_ids(db):
    _store(_generated(300))
    _train()
    categories, departments = _ids(HotlineCategory), _ids(Department)
    found = _suggest(WATER_TEXT)
    assert found is not None and found.source == "model"
    assert found.category_code == "SW-WATER"
    assert found.category_id == categories["SW-WATER"]
    assert found.department_id == departments["SWJT"]
    assert routing.THRESHOLD <= found.confidence <= 1
    # a category retired after training is never suggested
    with unit_of_work() as session:
        session.execute(
            update(HotlineCategory).where(HotlineCategory.code == "SW-WATER").values(active=False)
        )
    again = _suggest(WATER_TEXT)
    assert again is None or again.category_code != "SW-WATER"


def test_suggest_many_matches_single_suggestions(db):
    _store(_generated(300))
    _train()
    with unit_of_work(readonly=True) as session:
        many = routing.suggest_many(session=session, texts=[WATER_TEXT, NOISE_TEXT])
    assert [s.category_code if s else None for s in many] == ["SW-WATER", "CG-NOISE"]
    assert many[0] == _suggest(WATER_TEXT)


def test_department_follows_where_orders_were_finally_handled(db):
    # This center's noise orders end at the housing bureau, not at urban management.
    _store(_generated(300), department_of={"CG-NOISE": "ZJ"})
    report = _train()
    assert report.department_accuracy is not None and report.department_accuracy >= 0.85
    found = _suggest(NOISE_TEXT)
    assert found is not None and found.source == "model" and found.category_code == "CG-NOISE"
    assert found.department_id == _ids(Department)["ZJ"]


def test_without_a_model_the_catalogue_answers(db):
    with unit_of_work() as session:
        seed_catalogue(session=session)
    found = _suggest(NOISE_TEXT)
    assert found is not None and found.source == "catalogue"
    assert found.category_code == "CG-NOISE"
    assert found.department_id == _ids(Department)["CG"]
    assert _suggest("嗯，好的，谢谢。") is None


def test_when_the_model_is_unsure_the_catalogue_answers(db, monkeypatch):
    _store(_generated(300))
    _train()
    # nothing the model knows and no keyword: no suggestion at all
    assert _suggest("嗯，好的，谢谢。") is None
    monkeypatch.setattr(routing, "THRESHOLD", 1.01)  # no model answer is sure enough
    found = _suggest(NOISE_TEXT)
    assert found is not None and found.source == "catalogue"
    assert found.category_code == "CG-NOISE"


def _stored_models() -> int:
    with unit_of_work(readonly=True) as session:
        return session.scalar(select(func.count()).select_from(RoutingModel)) or 0


def test_too_few_orders_are_refused_and_nothing_is_stored(db):
    _store(_generated(300)[:30])
    with pytest.raises(BadRequest, match="至少需要 50 条"):
        _train()
    assert _stored_models() == 0


def test_a_single_category_is_refused(db):
    water = [o for o in _generated(300) if o.category_code == "SW-WATER"]
    _store(water)
    with pytest.raises(BadRequest, match="两个分类"):
        _train(min_orders=len(water))
    assert _stored_models() == 0


def test_retraining_deactivates_the_old_model_and_suggest_reloads(db):
    _store(_generated(300))
    first = _train(seed=0)
    assert _suggest(WATER_TEXT) is not None
    second = _train(seed=1)
    assert second.model_id > first.model_id
    with unit_of_work(readonly=True) as session:
        active = session.scalars(select(RoutingModel.id).where(RoutingModel.active)).all()
        router = routing._active_router(session)
    assert active == [second.model_id]
    assert routing._cached is not None and routing._cached[0][0] == second.model_id
    assert router is routing._cached[1]


def test_cli_train_prints_the_figures(db):
    runner = CliRunner()
    failed = runner.invoke(app, ["train"])
    assert failed.exit_code == 1 and "错误" in failed.output
    _store(_generated(300))
    result = runner.invoke(app, ["train", "--seed", "2"])
    assert result.exit_code == 0, result.output
    for label in ("训练工单", "分类准确率", "部门准确率", "表现最差的分类"):
        assert label in result.output
    as_json = runner.invoke(app, ["train", "--test-share", "0.25", "--json"])
    assert as_json.exit_code == 0, as_json.output
    figures = json.loads(as_json.stdout.strip().splitlines()[-1])
    assert figures["n_train"] + figures["n_test"] == 300
    assert 0 < figures["category_accuracy"] <= 1
    with unit_of_work(readonly=True) as session:
        row = session.get(RoutingModel, figures["model_id"])
        assert row is not None and row.active
        assert row.category_accuracy == figures["category_accuracy"]
    assert figures["report"]["test_share"] == 0.25
