"""Readiness: can this process serve writes right now?

``/healthz`` says the process is alive; ``/readyz`` says the database answers, accepts
writes, and carries every migration this code expects — what a proxy or orchestrator should
ask before sending traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from govloop.core.migrate import alembic_config


@dataclass
class Readiness:
    checks: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(v == "ok" for v in self.checks.values())


def expected_heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _writable(engine: Engine) -> str:
    """Write to the database and roll back: a read-only file, directory, disk or server
    fails here exactly as a citizen's request would."""
    with engine.connect() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
        conn.rollback()
    return "ok"


def check(engine: Engine) -> Readiness:
    result = Readiness()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            conn.rollback()
        result.checks["database"] = "ok"
    except SQLAlchemyError as exc:
        result.checks["database"] = f"unreachable: {exc.__class__.__name__}"
        return result
    try:
        result.checks["writable"] = _writable(engine)
    except SQLAlchemyError as exc:
        result.checks["writable"] = f"failed: {exc.__class__.__name__}"
    try:
        with engine.connect() as conn:
            stored = {
                row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))
            }
            conn.rollback()
        result.checks["migrations"] = "ok" if stored == expected_heads() else "not_at_head"
    except SQLAlchemyError:
        result.checks["migrations"] = "not_at_head"
    return result
