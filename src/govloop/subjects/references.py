"""Who else refers to a master record. When a steward or the linkage moves records from one
master to another, the domains that hold references (cases and grants in access) follow.

Subjects sit below those domains, so each registers a repointer here instead of subjects
reading their tables.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

# (session, old master id, new master id) -> (cases repointed, grants repointed)
Repointer = Callable[[Session, int, int], tuple[int, int]]
_REPOINTERS: list[Repointer] = []


def register(repointer: Repointer) -> Repointer:
    if repointer not in _REPOINTERS:
        _REPOINTERS.append(repointer)
    return repointer


def repoint_references(session: Session, old_id: int, new_id: int) -> tuple[int, int]:
    """Every registered reference to master ``old_id`` refers to ``new_id`` instead."""
    cases = grants = 0
    for repointer in _REPOINTERS:
        c, g = repointer(session, old_id, new_id)
        cases, grants = cases + c, grants + g
    return cases, grants
