"""The device listener at a broker that authenticates its clients, like the deployment kit's
Mosquitto: a private broker with a password file on a free port (skipped, with the reason,
when the mosquitto binaries are not installed)."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govloop.cli import app
from govloop.ingest.devices.mqtt import DeviceListener

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[int]:
    if not Path(MOSQUITTO).exists() or MOSQUITTO_PASSWD is None:
        pytest.skip("mosquitto and mosquitto_passwd are not installed (apt-get install mosquitto)")
    passwd = tmp_path / "passwd"
    subprocess.run([MOSQUITTO_PASSWD, "-c", "-b", str(passwd), "listener", "s3cret"], check=True)
    passwd.chmod(0o600)
    port = _free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwd}\n"
        # started as root, mosquitto would switch to its own user, who cannot read tmp_path
        f"persistence false\nuser {getpass.getuser()}\n"
    )
    broker = subprocess.Popen(
        [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        broker.terminate()
        broker.wait(10)


def _listener(port: int, **credentials: str) -> DeviceListener:
    tag = uuid.uuid4().hex[:8]
    got = DeviceListener(
        host="127.0.0.1", port=port, client_id=f"cred-{tag}", prefix=f"cred-{tag}", **credentials
    )
    got.start()
    return got


def test_the_listener_signs_in_with_its_credentials(db, secured_broker):
    sub = _listener(secured_broker, username="listener", password="s3cret")
    try:
        assert sub.wait_subscribed(10)
    finally:
        sub.stop()


@pytest.mark.parametrize("credentials", [{}, {"username": "listener", "password": "wrong"}])
def test_without_the_right_credentials_the_broker_refuses(db, secured_broker, credentials):
    sub = _listener(secured_broker, **credentials)
    try:
        assert not sub.wait_subscribed(2)
        assert not sub.connected.is_set()
    finally:
        sub.stop()


def test_the_command_takes_its_credentials_from_the_environment():
    runner = CliRunner()
    shown = runner.invoke(app, ["devices", "listen", "--help"], terminal_width=200)
    assert shown.exit_code == 0
    for name in ("GOVLOOP_MQTT_USERNAME", "GOVLOOP_MQTT_PASSWORD", "GOVLOOP_MQTT_TLS_CA"):
        assert name in shown.output
    missing = runner.invoke(app, ["devices", "listen", "--tls-ca", "/nonexistent/ca.pem"])
    assert missing.exit_code == 2
