"""A real Kannel (bearerbox, smsbox, ``fakesmsc`` as the operator) and a live govloop for
it to call back, against the test's database. The processes are the benchmark's
(``govloop.bench.kannel``); this module adds what the tests need around them."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from govloop.bench.kannel import (
    PASSWORD,
    SENDER,
    USERNAME,
    KannelGateway,
    live_govloop,
    missing_binaries,
)
from govloop.core.settings import get_settings
from govloop.notify.channels.kannel import INBOUND_PATH, KannelChannel

INBOUND_TOKEN = "kannel-test-inbound-token"


def skip_without_kannel() -> None:
    missing = missing_binaries()
    if missing:
        pytest.skip(f"Kannel not installed (apt-get install kannel kannel-extras): {missing}")


def database_url_for(engine: Engine) -> str:
    """The URL another process uses to reach the test's database (on PostgreSQL, the
    test's own schema through ``search_path``)."""
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name != "postgresql":
        return url
    with engine.connect() as conn:
        schema = conn.execute(text("select current_schema()")).scalar_one()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@dataclass
class KannelStack:
    gateway: KannelGateway
    base_url: str  # the live govloop Kannel calls back
    channel: KannelChannel

    def texts_to(self, phone: str) -> list[str]:
        return [r.text for r in self.gateway.received() if r.receiver == phone]


@contextlib.contextmanager
def kannel_stack(engine: Engine, folder: Path) -> Iterator[KannelStack]:
    skip_without_kannel()
    with live_govloop(
        database_url_for(engine), folder, env={"GOVLOOP_KANNEL_INBOUND_TOKEN": INBOUND_TOKEN}
    ) as base:
        gateway = KannelGateway(
            folder / "kannel", inbound_url=f"{base}{INBOUND_PATH}?token={INBOUND_TOKEN}"
        )
        channel = KannelChannel(
            sendsms_url=gateway.sendsms_url,
            username=USERNAME,
            password=PASSWORD,
            sender=SENDER,
            public_base_url=base,
            secret_key=get_settings().secret_key,
            timeout_s=5,
            connect_timeout_s=1,
        )
        try:
            gateway.start()
            yield KannelStack(gateway, base, channel)
        finally:
            gateway.stop()
            channel.close()


def wait_for(check: Callable[[], object], timeout: float = 20.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
        time.sleep(0.1)
