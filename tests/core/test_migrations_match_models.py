"""The migrations build the tables and columns the models describe, on both databases.

Compared: tables, columns and nullability. The knowledge base's full-text index tables
(``kb_search*``) exist only in the migrations (SQLite FTS5 / a PostgreSQL tsvector table), as do
the monthly partitions of the event tables on PostgreSQL; constraint and index naming is not
compared.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from govloop.core.db import Base
from govloop.core.partitions import is_partition_name
from govloop.registry import import_all_models

COMPARED = {"add_table", "remove_table", "add_column", "remove_column", "modify_nullable"}


def _kind(difference: Any) -> str:
    # column changes come as a list of tuples, table changes as one tuple
    return str(difference[0][0] if isinstance(difference, list) else difference[0])


def _table_name(difference: Any) -> str:
    first = difference[0] if isinstance(difference, list) else difference
    table = first[1] if first[0].endswith("_table") else first[2]
    return str(getattr(table, "name", table))


def test_migrated_tables_and_columns_match_the_models(db: Engine) -> None:
    import_all_models()
    with db.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = [
            d
            for d in compare_metadata(context, Base.metadata)
            if _kind(d) in COMPARED
            and not _table_name(d).startswith("kb_search")
            and not is_partition_name(_table_name(d))
        ]
    assert differences == []
