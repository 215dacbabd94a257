"""A gateway in this process, for development and the demo when no real gateway is set up:
it accepts every message and remembers it; nothing leaves the machine. Pages say so."""

from __future__ import annotations

import threading
import uuid

from govloop.notify.channels.base import Outgoing


class SimulatedChannel:
    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self.accepted: list[tuple[str, Outgoing]] = []

    def send(self, message: Outgoing) -> str:
        ref = f"sim-{uuid.uuid4().hex[:16]}"
        with self._lock:
            self.accepted.append((ref, message))
        return ref
