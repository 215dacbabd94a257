"""Email over SMTP: the second channel adapter. One connection per message (the sender hands
several messages at once from its threads, and an SMTP session is not shared between threads);
STARTTLS and login when the settings ask for them. The subject and body are UTF-8 Chinese.

Failures are told apart the way the sender needs: a server that cannot be reached, a
temporary (4xx) answer or a refused login is ``GatewayUnavailable`` (tried again later; an
operator fixes the settings meanwhile); a recipient or a message the server refuses for good
(5xx) is ``Rejected``."""

from __future__ import annotations

import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from govloop.core.settings import Settings
from govloop.notify.channels.base import GatewayUnavailable, Outgoing, Rejected

DEFAULT_SUBJECT = "政务服务通知"
TIMEOUT_S = 10.0
_SIGNATURE = re.compile(r"^【([^】]{1,20})】")


def subject_of(body: str) -> str:
    """The signature of the message (【政务服务】) names the subject: 政务服务通知."""
    found = _SIGNATURE.match(body)
    return f"{found[1]}通知" if found else DEFAULT_SUBJECT


@dataclass(eq=False)  # adapters are told apart by identity (the sender keys its limits on them)
class SmtpChannel:
    host: str
    port: int
    sender: str
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout_s: float = TIMEOUT_S
    # the TLS context of STARTTLS (tests pass one that trusts their own certificate)
    tls_context: ssl.SSLContext | None = None
    sender_name: str = "政务服务中心"
    name: str = "email"

    @classmethod
    def from_settings(cls, s: Settings) -> SmtpChannel:
        return cls(
            host=s.smtp_host,
            port=s.smtp_port,
            sender=s.smtp_sender,
            starttls=s.smtp_starttls,
            username=s.smtp_username,
            password=s.smtp_password,
        )

    def compose(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        domain = self.sender.rpartition("@")[2] or "govloop.local"
        mail["Message-ID"] = make_msgid(idstring=f"n{message.notification_id}", domain=domain)
        mail["From"] = formataddr((self.sender_name, self.sender))
        mail["To"] = message.recipient
        mail["Subject"] = subject_of(message.body)
        mail.set_content(message.body, charset="utf-8")
        return mail

    def send(self, message: Outgoing) -> str:
        mail = self.compose(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.tls_context or ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            detail = "; ".join(f"{c} {t!r}" for c, t in exc.recipients.values())
            if codes and all(c >= 500 for c in codes):
                raise Rejected(f"recipient refused: {detail}"[:300]) from exc
            raise GatewayUnavailable(f"recipient deferred: {detail}"[:300]) from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise GatewayUnavailable(f"SMTP login refused: {exc.smtp_code}") from exc
        except smtplib.SMTPSenderRefused as exc:  # the settings' sender: not this message's fault
            raise GatewayUnavailable(f"sender refused: {exc.smtp_code}") from exc
        except smtplib.SMTPResponseException as exc:
            text = f"{exc.smtp_code} {exc.smtp_error!r}"[:300]
            if exc.smtp_code >= 500 and isinstance(exc, smtplib.SMTPDataError):
                raise Rejected(f"message refused: {text}") from exc
            raise GatewayUnavailable(text) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timed out, TLS
            raise GatewayUnavailable(f"{exc.__class__.__name__}: {exc}"[:300]) from exc
        return str(mail["Message-ID"]).strip("<>")
