"""Which courier carries govloop's parcels, from its own settings (``GOVLOOP_COURIER_*``).
The adapter is built once per process (it holds a connection pool; the simulator its
state) and can be replaced by the tests."""

from __future__ import annotations

import hashlib
import hmac
import threading
from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from govloop.core.settings import analytics_settings, get_settings
from govloop.matters.delivery.base import Courier
from govloop.matters.delivery.sf import SANDBOX_URL, SfCourier
from govloop.matters.delivery.simulator import SimulatedSf

SIMULATOR_CODE = "simulator"
SIMULATOR_PARTNER = "GOVLOOP-SIM"


class CourierSettings(BaseSettings):
    """``GOVLOOP_COURIER_KIND=sf`` with the partner id and check word SF's open platform
    gave (顾客编码, 校验码) sends parcels through SF; ``simulator`` (the default) through the
    local simulator."""

    model_config = SettingsConfigDict(
        env_prefix="GOVLOOP_COURIER_", env_file=".env", extra="ignore"
    )

    kind: Literal["simulator", "sf"] = "simulator"
    # SF open platform (丰桥)
    sf_partner_id: str = ""
    sf_check_word: SecretStr = SecretStr("")
    sf_base_url: str = SANDBOX_URL
    sf_monthly_card: str = ""  # 月结卡号: the hall's account the postage is charged to
    sf_express_type: int = 1  # expressTypeId: 1 顺丰特快, 2 顺丰标快
    timeout_s: float = 10.0
    # a push older (or newer) than this by its own timestamp is refused as a replay
    push_max_age_s: float = 86400.0
    # the sender's telephone printed on the waybill (the center's service line)
    sender_phone: str = "12345"
    # the sender's address when a matter has no hall or its hall no address
    sender_address: str = ""
    # simulator: its state file (default <data_dir>/courier-simulator.json); its check word
    # defaults to one derived from GOVLOOP_SECRET_KEY
    simulator_state: str = ""  # empty: courier-simulator.json in the data directory
    simulator_check_word: SecretStr = SecretStr("")


class CourierNotConfigured(Exception):
    """The configured courier lacks its credentials, or a code names no courier."""


_lock = threading.Lock()
_courier: Courier | None = None
_simulator: SimulatedSf | None = None


def courier_settings() -> CourierSettings:
    return CourierSettings()


def _simulator_check_word(s: CourierSettings) -> str:
    given = s.simulator_check_word.get_secret_value()
    if given:
        return given
    key = get_settings().secret_key.encode()
    return hmac.new(key, b"govloop-courier-simulator", hashlib.sha256).hexdigest()[:32]


def _build() -> tuple[Courier, SimulatedSf | None]:
    s = courier_settings()
    if s.kind == "sf":
        if not s.sf_partner_id or not s.sf_check_word.get_secret_value():
            raise CourierNotConfigured(
                "顺丰快递未配置：请设置 GOVLOOP_COURIER_SF_PARTNER_ID 和"
                " GOVLOOP_COURIER_SF_CHECK_WORD"
            )
        return (
            SfCourier(
                partner_id=s.sf_partner_id,
                check_word=s.sf_check_word.get_secret_value(),
                base_url=s.sf_base_url,
                monthly_card=s.sf_monthly_card or None,
                express_type=s.sf_express_type,
                timeout_s=s.timeout_s,
                push_max_age_s=s.push_max_age_s,
            ),
            None,
        )
    path = (
        Path(s.simulator_state)
        if s.simulator_state
        else Path(analytics_settings().data_dir) / "courier-simulator.json"
    )
    sim = SimulatedSf(
        partner_id=SIMULATOR_PARTNER, check_word=_simulator_check_word(s), state_path=path
    )
    return simulator_courier(sim, push_max_age_s=s.push_max_age_s), sim


def simulator_courier(sim: SimulatedSf, *, push_max_age_s: float = 86400.0) -> SfCourier:
    """The SF adapter speaking to the simulator in-process."""
    return SfCourier(
        partner_id=sim.partner_id,
        check_word=sim.check_word,
        base_url="http://courier-simulator.invalid/std/service",
        code=SIMULATOR_CODE,
        name="模拟快递",
        push_max_age_s=push_max_age_s,
        transport=sim.transport(),
    )


def _built() -> tuple[Courier, SimulatedSf | None]:
    global _courier, _simulator
    with _lock:
        if _courier is None:
            _courier, _simulator = _build()
        return _courier, _simulator


def current() -> Courier:
    """The courier new parcels go with (raises ``CourierNotConfigured``)."""
    return _built()[0]


def courier_for(code: str) -> Courier:
    """The courier whose pushes arrive at ``/api/v1/couriers/{code}/push``."""
    courier = current()
    if courier.code != code:
        raise CourierNotConfigured(f"未配置快递：{code}")
    return courier


def simulator() -> SimulatedSf | None:
    """The running simulator, when the courier is the simulator."""
    return _built()[1]


def install(courier: Courier | None, sim: SimulatedSf | None = None) -> None:
    """Tests put a courier in place (None: from the settings at the next use)."""
    global _courier, _simulator
    with _lock:
        _courier, _simulator = courier, sim
