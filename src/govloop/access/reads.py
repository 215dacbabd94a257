"""Audited reads served from a read-only unit of work.

A read of case data writes nothing but its audit entries, so those entries need not wait
for the request's own transaction: the read runs in a read-only unit of work and its
entries are committed by the process's group appender (``audit.group``), which lets
concurrent reads share one commit of the chain. The entries are committed before the data
is returned, and a failed append fails the read: nothing is answered that is not logged.

A read that turns out to need another write (a grant whose time or case has ended:
``service.WriteNeeded``, raised before anything is appended) is done again in the
request's own unit of work, where its entries commit with that write as they always did.

On SQLite a read stays in the request's unit of work: a signed-in request holds the
process's write turn (``core.db.sqlite_write_turn``) from its sign-in lookup to its
response, so reads of one process never wait for a commit together and the group
appender could not batch them — it only added a second transaction (bench access, 16
callers: 160 reads/s through it against 338/s in the request's transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from govloop.access.service import APPENDED, WriteNeeded
from govloop.core.db import unit_of_work

T = TypeVar("T")


def served(session: Session, read: Callable[[Session], T]) -> T:
    """``read`` in a read-only unit of work, else (``WriteNeeded``) in ``session``, the
    request's writing one.

    What ``session`` holds so far (the sign-in's bookkeeping) is committed first, so the
    request holds no transaction and no pooled connection while its read waits for the
    group commit. On SQLite, ``read`` runs in ``session`` (see the module's docstring)."""
    if session.get_bind().dialect.name == "sqlite":
        return read(session)
    session.commit()
    try:
        with unit_of_work(readonly=True) as readonly:
            return read(readonly)
    except WriteNeeded:
        if readonly.info.get(APPENDED):  # the read would be logged twice
            raise RuntimeError("a read asked to write after its entries were appended") from None
        return read(session)
