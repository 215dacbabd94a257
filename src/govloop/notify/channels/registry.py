"""Which adapter carries each channel, from the settings. Adapters are built once per
process (they hold connection pools)."""

from __future__ import annotations

import threading

from govloop.core.errors import BadRequest
from govloop.core.settings import get_settings
from govloop.notify.channels.base import Channel
from govloop.notify.channels.simulated import SimulatedChannel
from govloop.notify.models import ChannelName

_lock = threading.Lock()
_built: dict[str, Channel] = {}


def _build(channel: str) -> Channel:
    s = get_settings()
    if channel == ChannelName.SMS:
        if s.sms_gateway == "kannel":
            from govloop.notify.channels.kannel import KannelChannel

            return KannelChannel.from_settings(s)
        if s.sms_gateway == "simulated":
            return SimulatedChannel(ChannelName.SMS)
        raise BadRequest(f"未知的短信网关：{s.sms_gateway}", code="unknown_gateway")
    if channel == ChannelName.EMAIL:
        if s.email_gateway == "smtp":
            from govloop.notify.channels.email import SmtpChannel

            return SmtpChannel.from_settings(s)
        if s.email_gateway == "simulated":
            return SimulatedChannel(ChannelName.EMAIL)
        raise BadRequest(f"未知的邮件网关：{s.email_gateway}", code="unknown_gateway")
    raise BadRequest(f"未知的通知渠道：{channel}", code="unknown_channel")


def channel_for(name: str) -> Channel:
    with _lock:
        if name not in _built:
            _built[name] = _build(name)
        return _built[name]


def install(name: str, channel: Channel | None) -> None:
    """Tests and the benchmark put a particular adapter in place (None: from settings)."""
    with _lock:
        if channel is None:
            _built.pop(name, None)
        else:
            _built[name] = channel


def is_simulated(name: str) -> bool:
    return isinstance(channel_for(name), SimulatedChannel)
