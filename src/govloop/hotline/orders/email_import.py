"""Email intake: messages from the center's mailbox (an mbox file or a folder of .eml files)
become work orders. The Message-ID makes an import idempotent; a message that cannot become
an order is reported with its reason and left where it is, never dropped silently."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy.orm import Session

from govloop.core.errors import BadRequest, Conflict, GovloopError
from govloop.core.models import User
from govloop.hotline.models import Channel
from govloop.hotline.orders import intake

_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    return re.sub(r"\n\s*\n+", "\n", "".join(parser.parts)).strip()


def message_body(message: EmailMessage) -> str:
    """The plain-text body; an HTML-only message is reduced to its text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if part.get_content_type() == "text/html":
        return html_to_text(content)
    return str(content).strip()


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)  # order numbers
    already_imported: list[str] = field(default_factory=list)  # message ids
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)


def _messages(source: Path) -> Iterator[tuple[str, EmailMessage]]:
    parser = BytesParser(policy=policy.default)
    if source.is_dir():
        for path in sorted(source.glob("*.eml")):
            with path.open("rb") as handle:
                yield path.name, parser.parse(handle)
        return
    box = mailbox.mbox(source)
    try:
        for index, key in enumerate(box.keys()):
            yield f"{source.name}#{index + 1}", parser.parsebytes(box.get_bytes(key))
    finally:
        box.close()


def order_input(message: EmailMessage) -> intake.OrderInput:
    name, address = parseaddr(str(message.get("From", "")))
    body = message_body(message)
    phone = _MOBILE_IN_TEXT.search(body)
    sent = message.get("Date")
    created = None
    if sent:
        try:
            created = parsedate_to_datetime(str(sent)).astimezone(UTC)
        except (TypeError, ValueError):
            created = None
    subject = str(message.get("Subject", "")).strip()
    return intake.OrderInput(
        channel=Channel.EMAIL,
        content=body,
        title=subject[: intake.TITLE_MAX] or None,
        caller_name=name or None,
        caller_email=address or None,
        caller_phone=phone.group(1) if phone else None,
        external_ref=str(message.get("Message-ID", "")).strip() or None,
        created_at=created,
    )


def import_mailbox(*, session: Session, source: Path, actor: User | None) -> ImportReport:
    """Import every message; each in its own savepoint so one bad message stops nothing."""
    report = ImportReport()
    for where, message in _messages(source):
        try:
            data = order_input(message)
            if data.external_ref is None:
                raise BadRequest("邮件缺少 Message-ID，无法保证不重复导入")
            with session.begin_nested():
                order = intake.create_order(session=session, data=data, actor=actor)
            report.imported.append(order.number)
        except Conflict:
            report.already_imported.append(data.external_ref or where)
        except GovloopError as exc:
            report.rejected.append((where, exc.message))
    return report
