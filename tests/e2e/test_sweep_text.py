"""The page sweep's check for untranslated codes finds them, and only them."""

from __future__ import annotations

from tests.e2e.sweep_text import untranslated


def test_codes_english_and_reprs_are_found() -> None:
    found = untranslated(
        ["grant_opened", "状态 Closed", "{'moved': [3]}", "on_post_rate = a / b", "值 None"]
    )
    codes = {f.split(" in «")[0].strip("'\"") for f in found}
    assert codes == {"grant_opened", "Closed", "{'moved': ", "on_post_rate", "None"}


def test_ordinary_text_is_not_a_code() -> None:
    assert (
        untranslated(
            [
                "已办结",
                "Linux x86_64",  # a token in a user agent
                "policy.yaml",
                "/catalog/hall_tickets",
                "应为以下之一：'no_show'",  # a value the source must send, quoted
                "Open311 接口",
                "SERVQUAL 问卷",
                "admin@example.org",
            ]
        )
        == []
    )
