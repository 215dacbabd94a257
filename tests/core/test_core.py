from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from govloop.core import calendar
from govloop.core.clock import frozen, local_today, now, to_local
from govloop.core.db import make_engine, unit_of_work
from govloop.core.settings import Settings


def test_default_secret_refused_outside_development():
    with pytest.raises(ValueError):
        Settings(environment="production")
    assert Settings(environment="production", secret_key="x" * 40).secret_key == "x" * 40


def test_calendar_knows_holidays_and_adjusted_workdays():
    assert not calendar.is_workday(date(2026, 10, 1))  # National Day
    assert not calendar.is_workday(date(2026, 11, 22))  # Sunday
    assert calendar.is_workday(date(2026, 11, 23))
    info = calendar.day_info(date(2026, 10, 2))
    assert info.from_official_calendar and info.holiday_name
    assert calendar.next_workday(date(2026, 11, 20)) == date(2026, 11, 23)


def test_calendar_falls_back_past_known_years_and_says_so():
    info = calendar.day_info(date(2031, 3, 4))
    assert not info.from_official_calendar
    assert info.is_workday  # a Tuesday
    assert not calendar.day_info(date(2031, 3, 8)).is_workday  # a Saturday


def test_frozen_clock_and_local_time():
    start = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)  # 00:30 next day in Shanghai
    with frozen(start) as clock:
        assert now() == start
        assert local_today() == date(2026, 11, 24)
        clock.advance(hours=1)
        assert now() == start + timedelta(hours=1)
    assert to_local(start).utcoffset() == timedelta(hours=8)


def test_timestamps_round_trip_as_utc(db):
    from govloop.core.models import User

    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=8)))
    with unit_of_work() as s:
        s.add(
            User(username="u", display_name="u", password_hash="x", role="admin", created_at=moment)
        )
    with unit_of_work() as s:
        stored = s.query(User).one().created_at
    assert stored.tzinfo is not None and stored == moment and stored.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(db):
    from govloop.core.models import User

    with pytest.raises(Exception, match="naive"), unit_of_work() as s:
        s.add(
            User(
                username="u",
                display_name="u",
                password_hash="x",
                role="admin",
                created_at=datetime(2026, 1, 1),
            )
        )
        s.flush()


def test_sqlite_pragmas(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/p.db")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()
