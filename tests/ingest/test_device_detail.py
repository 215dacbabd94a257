"""A device event's detail reads as words on the device page, nested messages included."""

from __future__ import annotations

from govloop.ingest.devices.pages import detail_lines


def test_known_keys_and_values_are_labelled_and_a_device_message_is_flattened() -> None:
    lines = detail_lines(
        {
            "reason": "heartbeat_timeout",
            "detected_at": "2026-12-07T09:15:02+08:00",
            "message": {"message": "信号源丢失", "code": 7},
        }
    )
    assert lines == [
        ("原因", "心跳超时"),
        ("发现时间", "2026-12-07 09:15:02"),
        ("消息", "信号源丢失"),
        ("code", "7"),  # a key the device invented stays as sent
    ]


def test_no_detail_no_lines() -> None:
    assert detail_lines(None) == [] and detail_lines({}) == []
