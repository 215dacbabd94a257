"""Adopting a recommendation pre-fills the action's title in the viewer's language, with
item names instead of codes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from govloop.core.i18n import set_locale
from govloop.insight.recommend_pages import adopt_link, adopt_title

NAMES = {"SB01": "社会保障卡申领", "GA01": "居民身份证申领"}


def test_titles_are_chinese_with_item_names():
    set_locale("zh_CN")
    try:
        assert adopt_title({"kind": "open_windows", "windows": 4, "half": "am"}, NAMES) == (
            "上午高峰增开 4 个窗口"
        )
        assert adopt_title({"kind": "cross_train", "windows": ["7"], "items": ["GA01"]}, NAMES) == (
            "7 号窗口人员学习办理居民身份证申领"
        )
        assert "社会保障卡申领" in adopt_title({"kind": "self_service", "items": ["SB01"]}, NAMES)
        link = adopt_link("DEMO", {"kind": "best_time", "title": "publish the best time"}, NAMES)
        title = parse_qs(urlsplit(link).query)["title"][0]
        assert title == "发布错峰办事的推荐时段"
    finally:
        set_locale("zh_CN")


def test_english_keeps_english():
    set_locale("en")
    try:
        assert adopt_title({"kind": "open_windows", "windows": 2, "half": "pm"}, NAMES) == (
            "Open 2 more windows in the afternoon peak"
        )
    finally:
        set_locale("zh_CN")
