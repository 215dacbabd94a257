"""Audited reads served from a read-only unit of work.

A read of case data writes nothing but its audit entries, so those entries need not wait
for the request's own transaction: the read runs in a read-only unit of work and its
entries are committed by the process's group appender (``audit.group``), which lets
concurrent reads share one commit of the chain. The entries are committed before the data
is returned, and a failed append fails the read: nothing is answered that is not logged.

A read that turns out to need another write (a grant whose time or case has ended:
``service.WriteNeeded``, raised before anything is appended) is done again in the
request's own unit of work, where its entries commit with that write as they always did.
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

    What ``session`` holds so far (the sign-in's bookkeeping) is committed first: on SQLite
    its write lock would stall the group appender, which needs that lock to commit."""
    session.commit()
    try:
        with unit_of_work(readonly=True) as readonly:
            return read(readonly)
    except WriteNeeded:
        if readonly.info.get(APPENDED):  # the read would be logged twice
            raise RuntimeError("a read asked to write after its entries were appended") from None
        return read(session)
