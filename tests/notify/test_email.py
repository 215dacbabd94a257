"""The email channel against a real SMTP server in this process (aiosmtpd): UTF-8 Chinese
subject and body, STARTTLS and login, and failures told apart as the sender needs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select

from govloop.core.db import unit_of_work
from govloop.core.settings import get_settings
from govloop.notify import dispatch, outbox
from govloop.notify.channels import registry
from govloop.notify.channels.base import GatewayUnavailable, Outgoing, Rejected
from govloop.notify.channels.email import SmtpChannel
from govloop.notify.models import Notification, NotificationStatus

aiosmtpd_controller = pytest.importorskip(
    "aiosmtpd.controller", reason="aiosmtpd is not installed (pip install aiosmtpd)"
)
from aiosmtpd.smtp import AuthResult  # noqa: E402

BODY = "【政务服务】您的办件BJ0001（社会保障卡申领）结果已可领取，请携带身份证件到市民中心领取。"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    """Accepts mail, but refuses gone@ for good (550), defers busy@ (451) and refuses a
    message that says 拒收 (554)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("gone@"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        text = message_from_bytes(envelope.original_content, policy=policy.default).get_content()
        if "拒收" in text:
            return "554 5.7.1 content refused"
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = _free_port()
    controller = aiosmtpd_controller.Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def _channel(port: int, **kwargs) -> SmtpChannel:
    return SmtpChannel(host="127.0.0.1", port=port, sender="noreply@govloop.local", **kwargs)


def test_a_message_arrives_with_chinese_subject_and_body(smtp_server):
    box, port = smtp_server
    ref = _channel(port).send(Outgoing(7, "citizen@example.cn", BODY))
    assert len(box.received) == 1
    mail_from, rcpt, raw = box.received[0]
    assert (mail_from, rcpt) == ("noreply@govloop.local", ["citizen@example.cn"])
    mail = message_from_bytes(raw, policy=policy.default)
    assert mail["Subject"] == "政务服务通知"
    assert mail.get_content().strip() == BODY
    assert mail.get_content_charset() == "utf-8"
    assert mail["From"].addresses[0].display_name == "政务服务中心"
    assert mail["Message-ID"].strip("<>") == ref and ref.endswith("@govloop.local")


def test_a_recipient_refused_for_good_is_rejected(smtp_server):
    _box, port = smtp_server
    with pytest.raises(Rejected, match="550"):
        _channel(port).send(Outgoing(1, "gone@example.cn", BODY))


def test_a_message_refused_for_good_is_rejected(smtp_server):
    _box, port = smtp_server
    with pytest.raises(Rejected, match="554"):
        _channel(port).send(Outgoing(1, "citizen@example.cn", BODY + "拒收"))


def test_a_temporary_refusal_is_retried(smtp_server):
    _box, port = smtp_server
    with pytest.raises(GatewayUnavailable, match="451"):
        _channel(port).send(Outgoing(1, "busy@example.cn", BODY))


def test_no_server_is_gateway_unavailable():
    with pytest.raises(GatewayUnavailable):
        _channel(_free_port(), timeout_s=2).send(Outgoing(1, "citizen@example.cn", BODY))


def test_from_settings_reads_the_smtp_settings(monkeypatch):
    s = get_settings()
    for key, value in {
        "smtp_host": "mail.example.cn",
        "smtp_port": 587,
        "smtp_starttls": True,
        "smtp_username": "gov",
        "smtp_password": "pw",
        "smtp_sender": "notice@example.cn",
    }.items():
        monkeypatch.setattr(s, key, value)
    ch = SmtpChannel.from_settings(s)
    assert (ch.host, ch.port, ch.starttls, ch.username, ch.password, ch.sender) == (
        "mail.example.cn",
        587,
        True,
        "gov",
        "pw",
        "notice@example.cn",
    )


# --- STARTTLS and login ---------------------------------------------------------------------


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_starttls_and_login(tmp_path):
    pytest.importorskip("cryptography", reason="cryptography makes the test certificate")
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    logins: list[tuple[str, str]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        user, password = auth_data.login.decode(), auth_data.password.decode()
        logins.append((user, password))
        return AuthResult(success=(user, password) == ("gov", "secret"), handled=False)

    box = Mailbox()
    port = _free_port()
    controller = aiosmtpd_controller.Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        good = _channel(
            port, starttls=True, username="gov", password="secret", tls_context=client_tls
        )
        good.send(Outgoing(1, "citizen@example.cn", BODY))
        assert len(box.received) == 1
        # a wrong password is the settings' fault: tried again later, not dead at once
        wrong = _channel(
            port, starttls=True, username="gov", password="nope", tls_context=client_tls
        )
        with pytest.raises(GatewayUnavailable, match="login"):
            wrong.send(Outgoing(2, "citizen@example.cn", BODY))
        # no STARTTLS where the server requires it: refused, retried later
        with pytest.raises(GatewayUnavailable):
            _channel(port, username="gov", password="secret").send(
                Outgoing(3, "citizen@example.cn", BODY)
            )
        # a certificate the client does not trust
        with pytest.raises(GatewayUnavailable):
            _channel(port, starttls=True, username="gov", password="secret").send(
                Outgoing(4, "citizen@example.cn", BODY)
            )
        assert len(box.received) == 1
        assert logins[:2] == [("gov", "secret"), ("gov", "nope")]
    finally:
        controller.stop()


# --- through the sender ---------------------------------------------------------------------


def test_the_sender_delivers_email_and_dead_letters_a_refused_address(db, smtp_server):
    box, port = smtp_server
    registry.install("email", _channel(port))
    try:
        with unit_of_work() as s:
            ok = outbox.enqueue(
                session=s,
                event_key="m:1:ready",
                template="matter_ready",
                to="Citizen@Example.cn",
                channel="email",
                params={"number": "BJ0001", "item": "社保卡", "hall": "市民中心"},
            ).id
            gone = outbox.enqueue(
                session=s,
                event_key="m:2:ready",
                template="matter_ready",
                to="gone@example.cn",
                channel="email",
                params={"number": "BJ0002", "item": "社保卡", "hall": "市民中心"},
            ).id
        report = dispatch.drain()
        assert (report.sent, report.dead) == (1, 1)
    finally:
        registry.install("email", None)
    with unit_of_work() as s:
        rows = {n.id: n for n in s.scalars(select(Notification))}
        assert rows[ok].status == NotificationStatus.SENT
        assert rows[ok].gateway_ref and "@" in rows[ok].gateway_ref
        assert (rows[gone].status, rows[gone].reason) == (NotificationStatus.DEAD, "rejected")
    assert [r[1] for r in box.received] == [["citizen@example.cn"]]
