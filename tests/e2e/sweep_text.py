"""Untranslated codes in what a zh-CN page shows: snake_case tokens (status and reason codes,
field names), English words of the message catalogue (a msgid left untranslated, or shown
without going through gettext) and Python reprs (a dict printed as it is)."""

from __future__ import annotations

import re
from functools import cache

from govloop.core.i18n import read_catalog

# A code is a word of its own: not inside a path, a file name, an address, a dotted key, a
# quoted value or a token like x86_64; each of its parts starts with a letter.
SNAKE = re.compile(r"(?<![\w./:@'\"-])[a-z][a-z0-9]*(?:_[a-z][a-z0-9]*)+(?![\w/@'\"-]|\.\w)")
# Python's repr of a dict, a list of dicts or a constant: data printed instead of shown
PYTHON_REPR = re.compile(r"\{'\w+': |\[\{|(?<![\w-])(?:None|True|False)(?![\w-])")
ENGLISH_MSGID = re.compile(r"[A-Z][A-Za-z]*(?: [A-Za-z]+)*")

# The visible text of a page: text nodes that are rendered, outside code and form values,
# plus placeholders and the labels of icon buttons.
VISIBLE_TEXT_JS = """
() => {
  const skip = 'script,style,pre,code,kbd,samp,textarea,noscript,svg,[data-raw]';
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest(skip) || !el.checkVisibility()) continue;
    const text = n.textContent.trim();
    if (text) out.push(text);
  }
  for (const el of document.querySelectorAll('[placeholder], [aria-label]')) {
    if (el.checkVisibility()) {
      out.push(el.getAttribute('placeholder') || '', el.getAttribute('aria-label') || '');
    }
  }
  return out.filter(Boolean);
}
"""


@cache
def english_words() -> re.Pattern[str]:
    """The catalogue's English msgids that zh-CN translates (capitalised words: labels,
    statuses, buttons); one of them shown as is on a zh-CN page was not translated."""
    catalogue = read_catalog("zh_CN")
    assert catalogue is not None
    words = set()
    for message in catalogue:
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        translated = message.string[0] if isinstance(message.string, tuple) else message.string
        if (
            msgid
            and translated
            and translated != msgid
            and len(msgid) >= 3
            and ENGLISH_MSGID.fullmatch(msgid)
        ):
            words.add(msgid)
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9_-])(?:{alternatives})(?![A-Za-z0-9_-])")


def untranslated(texts: list[str]) -> list[str]:
    """Each code or English catalogue word found, with the text it stands in."""
    found: dict[str, str] = {}
    english = english_words()
    for text in texts:
        for match in [*SNAKE.finditer(text), *english.finditer(text), *PYTHON_REPR.finditer(text)]:
            found.setdefault(match.group(0), text[:80])
    return [f"{code!r} in «{context}»" for code, context in sorted(found.items())]
