"""Value types shared by the queueing models, the simulation and staffing.

Units: minutes everywhere, rates per minute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceTarget:
    """ "``share`` of all arrivals are called within ``within_minutes``" (80 % within 20 min).

    A citizen who abandons before being called counts as not met.
    """

    share: float = 0.8
    within_minutes: float = 20.0

    def __post_init__(self) -> None:
        if not 0.0 < self.share <= 1.0:
            raise ValueError(f"target share must be in (0, 1], got {self.share}")
        if not self.within_minutes >= 0.0:
            raise ValueError(f"within_minutes must be >= 0, got {self.within_minutes}")


DEFAULT_TARGET = ServiceTarget()


@dataclass(frozen=True)
class ItemLoad:
    """Demand for one service item (事项) in a period of steady rates."""

    code: str
    arrival_rate: float  # citizens per minute
    mean_handling: float  # minutes at the window
    mean_patience: float | None = None  # minutes before leaving unserved; None = never leaves
    target: ServiceTarget | None = None  # overrides the hall's target for this item

    def __post_init__(self) -> None:
        if not (self.arrival_rate >= 0.0 and math.isfinite(self.arrival_rate)):
            raise ValueError(f"{self.code}: arrival_rate must be finite and >= 0")
        if not self.mean_handling > 0.0:
            raise ValueError(f"{self.code}: mean_handling must be > 0")
        if self.mean_patience is not None and not self.mean_patience > 0.0:
            raise ValueError(f"{self.code}: mean_patience must be > 0 or None")

    @property
    def offered_load(self) -> float:
        """Busy windows needed on average (erlangs)."""
        return self.arrival_rate * self.mean_handling

    def target_or(self, default: ServiceTarget) -> ServiceTarget:
        return self.target if self.target is not None else default


@dataclass(frozen=True)
class WindowSkill:
    """A window and the items it may serve; ``items=None`` is a general window (综合窗口)."""

    code: str
    items: frozenset[str] | None = None

    @property
    def is_general(self) -> bool:
        return self.items is None

    def serves(self, item_code: str) -> bool:
        return self.items is None or item_code in self.items
