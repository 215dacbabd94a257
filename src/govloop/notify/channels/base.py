"""The interface every channel adapter implements, and how the sender tells a failure that
is worth retrying (the gateway is down) from one that is not (the gateway refused it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    notification_id: int
    recipient: str
    body: str


class GatewayUnavailable(Exception):
    """The gateway could not be reached or answered with a temporary error: retry later."""


class Rejected(Exception):
    """The gateway refused this message for good (bad number, content refused)."""


class Channel(Protocol):
    name: str

    def send(self, message: Outgoing) -> str:
        """Hand the message to the gateway; returns the gateway's reference for it."""
        ...
