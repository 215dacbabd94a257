"""Every UI message has a Simplified Chinese translation, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

import govloop
from govloop.core.i18n import LOCALES_DIR, read_catalog

PACKAGE = Path(govloop.__file__).resolve().parent
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def extracted_msgids() -> dict[str, list[str]]:
    with (LOCALES_DIR / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE), method_map, options_map
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def catalog(locale: str):
    merged = read_catalog(locale)
    assert merged is not None
    return merged


def test_extraction_finds_templates_and_python():
    found = extracted_msgids()
    places = {loc.split(":")[0] for locs in found.values() for loc in locs}
    assert any(p.endswith(".html") for p in places)
    assert any(p.endswith(".py") for p in places)
    assert "Take a ticket" in found and "Waiting" in found


def test_every_msgid_has_a_zh_cn_translation():
    zh = catalog("zh_CN")
    missing = [
        f"{msgid!r} ({', '.join(locs)})"
        for msgid, locs in extracted_msgids().items()
        if not (zh.get(msgid) and zh.get(msgid).string and not zh.get(msgid).fuzzy)
    ]
    assert missing == [], "untranslated:\n" + "\n".join(missing)


def test_translations_keep_placeholders():
    zh = catalog("zh_CN")
    wrong = []
    for message in zh:
        if not message.id or not message.string:
            continue
        if sorted(PLACEHOLDER.findall(str(message.id))) != sorted(
            PLACEHOLDER.findall(str(message.string))
        ):
            wrong.append(f"{message.id!r} → {message.string!r}")
    assert wrong == []


def test_english_catalog_lists_the_same_messages():
    en = {m.id for m in catalog("en") if m.id}
    assert set(extracted_msgids()) <= en


# msgids that mean different things in different domains' catalogs, to be split with message
# contexts (the list may only shrink: a new double meaning fails the test).
KNOWN_DOUBLE_MEANINGS = {"Decision", "Person", "Enterprise"}


def test_no_new_msgid_carries_two_meanings():
    from pathlib import Path

    from babel.messages.pofile import read_po

    import govloop

    folder = Path(govloop.__file__).parent / "locales" / "zh_CN" / "LC_MESSAGES"
    seen: dict[object, tuple[str, str]] = {}
    doubled = set()
    for path in sorted(folder.glob("*.po")):
        with path.open("rb") as fh:
            for message in read_po(fh, locale="zh_CN"):
                if not message.id or not message.string:
                    continue
                key = (message.context, message.id)
                if key in seen and seen[key][1] != message.string:
                    doubled.add(message.id)
                seen.setdefault(key, (path.name, str(message.string)))
    assert doubled - KNOWN_DOUBLE_MEANINGS == set()
    assert doubled >= KNOWN_DOUBLE_MEANINGS, "a double meaning was split: shrink the list"


def test_states_of_windows_work_orders_and_devices_say_what_they_mean():
    from govloop.core.i18n import translations
    from govloop.hall.pages import LABELS as HALL_LABELS
    from govloop.hotline.orders.pages import LABELS as ORDER_LABELS
    from govloop.ingest.devices.pages import EVENT_LABELS

    zh = translations("zh_CN").gettext
    assert zh(ORDER_LABELS["status"]["closed"]) == "已办结"  # not a window's 未开放
    assert zh("Open") == "未办结"  # the work-order filter, not a window's 空闲
    window = HALL_LABELS["window_state"]
    assert (zh(window["logged_out"]), zh(window["idle"])) == ("未开放", "空闲")
    assert zh(EVENT_LABELS["online"]) == "在线"  # not 网上取号
