"""Helpers of the notification tests: channels that fail on demand and count every send."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from govloop.notify.channels import registry
from govloop.notify.channels.base import GatewayUnavailable, Outgoing, Rejected


class FakeChannel:
    """Accepts, or fails with ``GatewayUnavailable`` / ``Rejected`` while told to; counts every
    message it was handed, by notification id."""

    def __init__(self, name: str = "sms") -> None:
        self.name = name
        self.mode = "accept"  # accept | down | reject
        self.calls: Counter[int] = Counter()
        self._lock = threading.Lock()

    def send(self, message: Outgoing) -> str:
        with self._lock:
            self.calls[message.notification_id] += 1
        if self.mode == "down":
            raise GatewayUnavailable("connection refused")
        if self.mode == "reject":
            raise Rejected("number does not exist")
        return f"fake-{message.notification_id}-{self.calls[message.notification_id]}"


@pytest.fixture
def fake_sms() -> Iterator[FakeChannel]:
    channel = FakeChannel("sms")
    registry.install("sms", channel)
    try:
        yield channel
    finally:
        registry.install("sms", None)


@pytest.fixture(scope="module")
def kannel(engine, tmp_path_factory):
    """A real Kannel with ``fakesmsc`` and a live govloop on the test's database, one per
    module and backend; tests use it with ``db`` (the same engine), and install
    ``kannel.channel`` as the SMS channel themselves. Skipped when Kannel is missing."""
    from tests.notify.kannel_harness import kannel_stack

    with kannel_stack(engine, tmp_path_factory.mktemp("kannel")) as stack:
        yield stack


@pytest.fixture
def kannel_sms(kannel, monkeypatch):
    """``kannel`` as this process's SMS channel, with its inbound token configured."""
    from tests.notify.kannel_harness import INBOUND_TOKEN

    monkeypatch.setenv("GOVLOOP_KANNEL_INBOUND_TOKEN", INBOUND_TOKEN)
    if not kannel.gateway.running():
        kannel.gateway.start()
    registry.install("sms", kannel.channel)
    try:
        yield kannel
    finally:
        registry.install("sms", None)
