"""Translations: gettext catalogs (.po) under ``govloop/locales``, compiled in memory.

Message ids are English; Simplified Chinese is the default locale.
"""

from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
SUPPORTED = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"

_current: ContextVar[str] = ContextVar("govloop_locale", default=DEFAULT_LOCALE)


def read_catalog(locale: str) -> Catalog | None:
    """messages.po, with one catalog per domain (ingest.po, catalog.po, …) merged in."""
    folder = LOCALES_DIR / locale / "LC_MESSAGES"
    paths = sorted(folder.glob("*.po"), key=lambda p: (p.name != "messages.po", p.name))
    if not paths:
        return None
    with paths[0].open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    for extra_path in paths[1:]:
        with extra_path.open("rb") as fh:
            for message in read_po(fh, locale=locale):
                if message.id:
                    catalog[message.id] = message
    return catalog


@lru_cache
def translations(locale: str) -> gettext.NullTranslations:
    catalog = read_catalog(locale)
    if catalog is None:
        return gettext.NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def normalize_locale(value: str | None) -> str:
    if not value:
        return DEFAULT_LOCALE
    value = value.replace("-", "_")
    if value in SUPPORTED:
        return value
    return "en" if value.lower().startswith("en") else DEFAULT_LOCALE


def set_locale(locale: str) -> None:
    _current.set(normalize_locale(locale))


def get_locale() -> str:
    return _current.get()


def gettext_(message: str) -> str:
    return translations(get_locale()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return translations(get_locale()).ngettext(singular, plural, n)


_ = gettext_


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


WEEKDAY_NAMES = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
