"""The MQTT benchmark in quick mode: its own broker, a crash and a broker restart, no loss."""

from __future__ import annotations

from pathlib import Path

import pytest

from govloop.bench.ingest.mqtt import MOSQUITTO, bench_mqtt


def test_bench_mqtt_quick_loses_nothing():
    if not Path(MOSQUITTO).exists():
        pytest.skip(f"mosquitto is not installed at {MOSQUITTO}")
    out = bench_mqtt(quick=True)
    for key in ("mqtt_msgs_per_s", "mqtt_lost", "mqtt_duplicates", "mqtt_messages"):
        assert key in out, key
    assert out["mqtt_messages"] == 3_500
    assert out["mqtt_backlog"] >= 1_000  # what was published while the listener was down
    assert out["mqtt_lost"] == 0
    assert out["mqtt_msgs_per_s"] > 0
