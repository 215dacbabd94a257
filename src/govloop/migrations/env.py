"""Alembic environment: runs against the engine handed in by govloop.core.migrate."""

from __future__ import annotations

from alembic import context

from govloop.core.db import Base, make_engine
from govloop.core.partitions import is_partition_name
from govloop.registry import import_all_models

import_all_models()
config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs batch mode for ALTER TABLE
        compare_type=True,
        # monthly partitions (PostgreSQL) are made by the migrations and the partitions duty
        include_name=lambda name, kind, _parent: (
            not (kind == "table" and name is not None and is_partition_name(name))
        ),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `govloop db upgrade`")
run_migrations_online()
