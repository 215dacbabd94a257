"""What govloop asks of a courier, whichever it is: make a waybill for a parcel (the same
order twice gives the same waybill), cancel it before pickup, and turn a tracking push into
updates. Adapters raise ``CourierUnavailable`` for what is worth retrying and
``CourierRejected`` for what is not; a push that fails its check raises ``BadSignature`` or
``Malformed``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from govloop.matters.models import ShipmentStatus

# what is in the parcel: a certificate or licence, or a written decision
CARGO = "证照/决定书"


@dataclass(frozen=True)
class Party:
    """A sender or a recipient as the courier needs them."""

    name: str
    phone: str
    address: str
    company: str | None = None


@dataclass(frozen=True)
class WaybillRequest:
    """One parcel. ``order_ref`` is govloop's order id at the courier (idempotent create);
    ``customer_ref`` the matter number the courier prints as the customer's reference."""

    order_ref: str
    customer_ref: str
    sender: Party
    recipient: Party
    cargo: str = CARGO
    parcels: int = 1


@dataclass(frozen=True)
class WaybillResult:
    order_ref: str
    waybill_no: str
    # False when the courier already had this order and returned its waybill again
    created: bool = True


@dataclass(frozen=True)
class TrackingUpdate:
    """One tracking event as the courier reported it; ``external_id`` is the courier's id
    of the event (a push sent twice carries the same ids)."""

    waybill_no: str
    external_id: str
    status: ShipmentStatus
    description: str  # in Chinese, as the courier wrote it
    location: str | None
    at: datetime  # timezone-aware
    order_ref: str | None = None
    op_code: str | None = None


class CourierError(Exception):
    """Base of the adapters' errors; ``message`` is shown to staff (Chinese)."""

    def __init__(self, message: str, *, code: str = "courier_error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class CourierUnavailable(CourierError):
    """The courier could not be reached or answered with a temporary error: retry later."""


class CourierRejected(CourierError):
    """The courier refused the request for good (address out of its area, order unknown,
    already picked up)."""


class BadSignature(CourierError):
    """A push whose signature does not check out (or carries none)."""


class Malformed(CourierError):
    """A push that is not in the courier's format."""


class Courier(Protocol):
    code: str  # govloop's name for the courier (Shipment.courier, the push URL)
    name: str  # as the citizen reads it in a message (顺丰速运)

    def create_waybill(self, request: WaybillRequest) -> WaybillResult: ...

    def cancel(self, waybill_no: str, *, order_ref: str) -> None: ...

    def verify_and_parse_push(
        self, headers: Mapping[str, str], body: bytes
    ) -> list[TrackingUpdate]: ...

    def push_reply(self) -> dict[str, str]:
        """What the courier expects back when a push was taken."""
        ...
