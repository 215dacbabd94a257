"""Databases of their own that tests create on the PostgreSQL server, and their removal."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import URL, make_url

# DROP DATABASE makes the server write out every dirty buffer it holds, for all its
# databases, and waits for that checkpoint: seconds on a quiet machine, minutes on a busy
# one (77 s and 148 s were measured in test teardowns), for nothing a test looks at.
_DROP = """
import sys
import psycopg
from psycopg import sql

with psycopg.connect(sys.argv[1], autocommit=True, connect_timeout=10) as conn:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
        sql.Identifier(sys.argv[2])))
"""


def drop_database_in_background(url: str | URL, name: str) -> None:
    """Drop database ``name`` from a process of its own, connected through ``url`` (another
    database of the server), without waiting for it: the test goes on at once. The name
    is a new one each time, so nothing waits for it to be gone."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.Popen(
        [sys.executable, "-c", _DROP, dsn, name],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives the test process if the suite ends first
    )
