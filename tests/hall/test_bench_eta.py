"""`govloop bench eta`: a small scenario end to end on each backend, the metrics on a
hand-made example, and clear errors for bad scenario files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from govloop.bench.cli import bench_app
from govloop.bench.eta.metrics import coverage, goals, rrase, score, utilisation
from govloop.bench.eta.run import run_scenario
from govloop.bench.eta.scenario import Scenario, ScenarioError, load_scenario, shipped
from govloop.bench.eta.simulate import DayRecord, TicketRecord, WindowRecord
from govloop.hall.models import EventKind, HallEvent, Ticket, TicketStatus

SMALL: dict = {
    "name": "small",
    "days": 1,
    "warmup_days": 1,
    "hours": ["09:00-09:40", "10:10-10:30"],
    "items": [
        {"code": "AA", "prefix": "A", "share": 2, "handling_minutes": 4, "handling_cv": 0.8},
        {"code": "BB", "prefix": "B", "share": 1, "handling_minutes": 6, "handling_cv": 1.2},
    ],
    "windows": [{"items": ["AA"]}, {"items": ["BB"]}, {"general": True, "speed": 1.2}],
    "arrivals": [{"09:00-09:40": 30}, {"10:10-10:30": 30}],
    "citizens": {"priority_share": 0.15, "absent_base": 0.1},
    "pauses": {"per_hour": 0.5, "minutes": [3, 6]},
    "appointments": {"items": ["BB"], "slot_minutes": 20, "per_slot": 2},
}


# --- end to end ------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_small_scenario_runs_end_to_end(db: Engine) -> None:
    scenario = Scenario.model_validate(SMALL)
    figures = run_scenario(db, scenario, seed=3)

    assert figures["n_tickets"] > 15
    for key in ("rrase", "baseline_rrase", "les_rrase", "rrase_ratio", "coverage_10_90"):
        assert figures[key] is not None and math.isfinite(figures[key]), key
    assert 0.0 <= figures["coverage_10_90"] <= 1.0
    assert figures["mean_realized_wait_s"] > 0
    assert figures["peak_utilisation"] > 0
    assert set(figures["goals_met"]) == {"rrase_ratio", "coverage_10_90"}
    assert "errors" not in figures
    assert figures["days"]["left_waiting"] == 0
    tickets = figures["tickets"]
    assert tickets["kind_priority"] > 0 and tickets.get("kind_appointment", 0) > 0

    # Everything went through the hall's services: each ticket issued, called and ended.
    with Session(db) as session:
        statuses = dict(
            session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all()
        )
        kinds = dict(
            session.execute(select(HallEvent.kind, func.count()).group_by(HallEvent.kind)).all()
        )
        shown = session.scalar(select(func.count()).where(Ticket.eta_seconds.is_not(None)))
    assert set(statuses) <= {TicketStatus.FINISHED, TicketStatus.NO_SHOW}
    assert kinds[EventKind.ISSUED] == sum(statuses.values())
    assert kinds[EventKind.FINISHED] == statuses[TicketStatus.FINISHED]
    assert kinds[EventKind.CALLED] == kinds[EventKind.FINISHED] + kinds.get(EventKind.NO_SHOW, 0)
    assert kinds[EventKind.WINDOW_PAUSED] == kinds[EventKind.WINDOW_RESUMED] > 0
    assert kinds[EventKind.APPOINTMENT_BOOKED] > 0
    assert shown == sum(statuses.values())  # the estimate stored on every slip


# --- metrics ---------------------------------------------------------------------------


def _record(
    n: int, waited: float, eta: float, low: float, high: float, **kw: object
) -> TicketRecord:
    record = TicketRecord(
        ticket_id=n,
        day=1,
        scored=True,
        item="AA",
        kind=str(kw.get("kind", "regular")),
        issued_s=36000.0,
        eta=eta,
        low=low,
        high=high,
        baseline=float(kw.get("baseline", 0.0)),  # type: ignore[arg-type]
        les=float(kw.get("les", 0.0)),  # type: ignore[arg-type]
        first_call_s=36000.0 + waited,
        calls=1,
        served=bool(kw.get("served", True)),
    )
    return record


def test_metrics_on_a_hand_made_example() -> None:
    records = [
        _record(1, 100, 120, 60, 200, baseline=300, les=50),
        _record(2, 300, 240, 200, 280, baseline=300, les=100),
        _record(3, 0, 0, 0, 0, baseline=100, les=0),
        _record(4, 200, 200, 100, 300, baseline=100, les=400, kind="priority"),
        _record(5, 999, 1, 1, 1, served=False),  # not served: left out
    ]
    figures = score(records)
    # realized 100, 300, 0, 200: mean 150
    assert figures["n_tickets"] == 4
    assert figures["mean_realized_wait_s"] == 150.0
    shown = math.sqrt((20**2 + 60**2 + 0 + 0) / 4) / 150
    base = math.sqrt((200**2 + 0 + 100**2 + 100**2) / 4) / 150
    les = math.sqrt((50**2 + 200**2 + 0 + 200**2) / 4) / 150
    assert figures["rrase"] == pytest.approx(shown, abs=1e-4)
    assert figures["baseline_rrase"] == pytest.approx(base, abs=1e-4)
    assert figures["les_rrase"] == pytest.approx(les, abs=1e-4)
    assert figures["rrase_ratio"] == pytest.approx(shown / min(base, les), abs=1e-3)
    # inside: 100 ∈ [60, 200], 0 ∈ [0, 0], 200 ∈ [100, 300]; 300 ∉ [200, 280]
    assert figures["coverage_10_90"] == 0.75
    assert figures["excluded"] == {"not_served": 1}
    assert figures["by_kind"]["priority"]["n"] == 1
    assert goals(figures) == {"rrase_ratio": True, "coverage_10_90": True}
    assert goals({"rrase_ratio": 0.9, "coverage_10_90": 0.9}) == {
        "rrase_ratio": False,
        "coverage_10_90": False,
    }
    assert rrase([1.0], [2.0]) == pytest.approx(0.5)
    assert math.isnan(rrase([], []))
    assert coverage([0, 0], [1, 1], [0.5, 2]) == 0.5


def test_utilisation_of_a_hand_made_day() -> None:
    # One window open 09:00-10:00, busy 30 min with a ticket issued at 09:10 and paused 20
    # min: 40 min open, 30 min of work → ρ 0.75, busy share 0.75.
    window = WindowRecord(1, frozenset({"AA"}), 1.0, 1)
    window.busy.append((9 * 3600.0 + 600, 9 * 3600.0 + 2400))
    window.paused.append((9 * 3600.0 + 2400, 9 * 3600.0 + 3600))
    day = DayRecord(1, None, True, [window], [(9 * 3600.0, 10 * 3600.0)], 1, 0)  # type: ignore[arg-type]
    ticket = _record(1, 0, 0, 0, 0)
    ticket.issued_s, ticket.occupied_s = 9 * 3600.0 + 600, 1800.0
    figures = utilisation([day], [ticket])
    assert figures["peak_period"] == "09:00-10:00"
    assert figures["peak_utilisation"] == pytest.approx(0.75)
    assert figures["peak_busy_share"] == pytest.approx(0.75)


# --- scenario files --------------------------------------------------------------------


def test_shipped_scenarios_load_and_are_busy_enough() -> None:
    names = set(shipped())
    assert {"district", "busy", "multiskill"} <= names
    for name in names:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.days >= 3 and scenario.warmup_days >= 1


def _write(tmp_path: Path, data: object, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"windows": [{"items": ["ZZ"]}]}, "windows[0] serves unknown items: ZZ"),
        ({"hours": ["10:00-09:00"]}, "ends before it starts"),
        ({"arrivals": [{"08:00-09:30": 10}]}, "outside the opening hours"),
        ({"items": []}, "items: List should have at least 1 item"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
        ({"windows": [{"items": ["AA"], "general": True}]}, "give general or items"),
        ({"citizens": {"priority_share": 2}}, "citizens.priority_share"),
        ({"priority_rule": {"vip": 10}}, "unknown categories vip"),
    ],
)
def test_bad_fields_are_reported_by_name(tmp_path: Path, change: dict, message: str) -> None:
    path = _write(tmp_path, {**SMALL, **change})
    with pytest.raises(ScenarioError) as exc:
        load_scenario(str(path))
    assert str(path) in str(exc.value) and message in str(exc.value), str(exc.value)


def test_unreadable_scenarios(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"not a shipped name .* nor an existing file"):
        load_scenario(str(tmp_path / "missing.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("items: [\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(str(broken))
    with pytest.raises(ScenarioError, match="a scenario is a mapping"):
        load_scenario(str(_write(tmp_path, ["a", "list"], "list.yaml")))


@pytest.mark.parametrize(
    "args",
    [
        ["--scenario", "no-such-scenario"],
        ["--scenario", "BAD_FILE"],
        ["--database-url", "sqlite:///somewhere.db"],
    ],
)
def test_cli_errors_are_clear_with_exit_code_2(tmp_path: Path, args: list[str]) -> None:
    bad = _write(tmp_path, {**SMALL, "windows": [{"items": ["ZZ"]}]})
    args = [str(bad) if a == "BAD_FILE" else a for a in args]
    result = CliRunner().invoke(bench_app, ["eta", *args, "--json"])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
