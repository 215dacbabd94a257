"""Full-text search of the knowledge base (知识库智能检索).

Texts are cut with jieba's search mode; stopwords and punctuation are dropped. The
``kb_search`` index holds one row per served article: on SQLite an FTS5 row of tokens
(title and keywords repeated, so bm25 weighs them more), on PostgreSQL a tsvector built
with ``to_tsvector('simple', …)`` whose title, keywords, question and answer carry the
weights A, B, C and D. Every piece of dialect-specific SQL of the knowledge base is here;
user text only ever reaches it as bound parameters.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Protocol

import jieba
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from govloop.core.clock import local_today
from govloop.hotline.models import HotlineCategory, KbArticle, KbArticleVersion

MIN_QUERY_CHARS, MAX_QUERY_CHARS, MAX_QUERY_TOKENS = 2, 200, 24
SNIPPET_CHARS = 80
TITLE_REPEAT, KEYWORD_REPEAT = 3, 2  # SQLite: bm25 weight by repetition (one column)
# jieba cuts each run of these characters on its own; cutting runs once each is the same.
BLOCK = re.compile(r"[\u4e00-\u9fd5a-zA-Z0-9+#&._%\-]+")
WORD = re.compile(r"\w")
_STOPWORDS = (
    "的 了 是 在 和 与 及 或 并 而 我 你 您 他 她 它 我们 你们 他们 咱 吗 呢 吧 啊 呀 么 嘛 哦 "
    "怎么 怎样 怎么样 怎么办 如何 什么 啥 哪 哪里 哪儿 哪些 哪个 为什么 为何 请问 请 想 想要 要 "
    "能 能否 能不能 可以 可不可以 是否 是不是 有 有没有 没有 一下 这个 那个 这 那 这些 那些 就 "
    "都 也 还 又 很 太 挺 被 把 给 对 向 从 到 为 以 之 其 等 个 些 多少 几 一 不 会 该 应该 需要 "
    "办 我家 自己 现在 已经 时候 情况 问题 咨询 谢谢 你好 您好 麻烦 一个 一些 里 上 下 问 问一下"
)
STOPWORDS = frozenset(_STOPWORDS.split())

jieba.setLogLevel(logging.WARNING)


# --- tokens --------------------------------------------------------------------------


def _keep(token: str) -> bool:
    if token in STOPWORDS or not WORD.search(token):
        return False
    return not (len(token) == 1 and token.isascii())


@lru_cache(maxsize=200_000)
def _cut_block(block: str) -> tuple[str, ...]:
    return tuple(t for t in jieba.cut_for_search(block) if _keep(t))


def tokenize(value: str) -> list[str]:
    """jieba search-mode tokens, lower-cased, without stopwords and punctuation."""
    tokens: list[str] = []
    for block in BLOCK.findall(value.lower()):
        tokens.extend(_cut_block(block))
    return tokens


def query_tokens(query: str) -> list[str]:
    """Distinct tokens of a query, in order; empty for an empty or too-short query."""
    query = query.strip()[:MAX_QUERY_CHARS]
    if len(query) < MIN_QUERY_CHARS:
        return []
    return list(dict.fromkeys(tokenize(query)))[:MAX_QUERY_TOKENS]


@dataclass(frozen=True)
class KbHit:
    article_id: int
    version_id: int
    title: str
    snippet: str
    answer: str
    score: float  # higher is better: -bm25 on SQLite, ts_rank on PostgreSQL
    category: str | None
    category_code: str | None


# --- index (the only dialect-specific SQL) -------------------------------------------


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


class IndexedText(Protocol):
    """What the index reads: a version, or a benchmark article about to be written."""

    @property
    def title(self) -> str: ...
    @property
    def question(self) -> str: ...
    @property
    def answer(self) -> str: ...
    @property
    def keywords(self) -> Sequence[str]: ...


def index_parts(source: IndexedText) -> dict[str, str]:
    """Space-joined tokens of each weighted part of a text."""
    return {
        "title": " ".join(tokenize(source.title)),
        "keywords": " ".join(tokenize(" ".join(source.keywords))),
        "question": " ".join(tokenize(source.question)),
        "answer": " ".join(tokenize(source.answer)),
    }


def _sqlite_tokens(parts: dict[str, str]) -> str:
    title, keywords = [parts["title"]] * TITLE_REPEAT, [parts["keywords"]] * KEYWORD_REPEAT
    return " ".join([*title, *keywords, parts["question"], parts["answer"]])


def write_index(
    session: Session, rows: Sequence[tuple[int, IndexedText]], *, replace: bool = True
) -> None:
    """Index these articles' published texts; ``replace`` drops their old rows first."""
    params: list[dict[str, Any]] = [{"id": aid, **index_parts(v)} for aid, v in rows]
    if not params:
        return
    if replace:
        for p in params:
            remove_from_index(session, p["id"])
    if _is_postgres(session):
        session.execute(
            text(
                "INSERT INTO kb_search (article_id, document) VALUES (:id,"
                " setweight(to_tsvector('simple', :title), 'A')"
                " || setweight(to_tsvector('simple', :keywords), 'B')"
                " || setweight(to_tsvector('simple', :question), 'C')"
                " || setweight(to_tsvector('simple', :answer), 'D'))"
            ),
            params,
        )
    else:
        # rowid = article id: replacing one row is a key lookup, not a scan.
        session.execute(
            text("INSERT INTO kb_search (rowid, article_id, tokens) VALUES (:id, :id, :tokens)"),
            [{"id": p["id"], "tokens": _sqlite_tokens(p)} for p in params],
        )


def optimize_index(session: Session) -> None:
    """Index upkeep after a bulk load: FTS5 merges its segments; PostgreSQL moves the GIN
    index's pending entries into the index and refreshes the statistics search reads."""
    if _is_postgres(session):
        session.execute(text("SELECT gin_clean_pending_list('ix_kb_search_document'::regclass)"))
        session.execute(text("ANALYZE kb_search"))
        _pg_stats.pop(session.get_bind().engine, None)
    else:
        session.execute(text("INSERT INTO kb_search (kb_search) VALUES ('optimize')"))


def remove_from_index(session: Session, article_id: int) -> None:
    key = "article_id" if _is_postgres(session) else "rowid"
    session.execute(text(f"DELETE FROM kb_search WHERE {key} = :id"), {"id": article_id})


# Search ranks candidates, not the whole index: the candidates are the articles holding
# any of the query's rarest words, as many words as keep them under CANDIDATES articles;
# all the query's words that are not too common (COMMON) then rank them, by bm25 on
# SQLite and on PostgreSQL by ts_rank (weights A-D), ts_rank_cd breaking its ties; on
# the benchmark, ordering by ts_rank_cd alone found the asked-for article less often
# (top-5: 0.96 against 0.98) and cost more. PostgreSQL drops expired articles from the
# best POOL, which is cheaper than joining every candidate with kb_articles. A query of
# common words only ranks the newest CANDIDATES articles that hold its rarest words.
CANDIDATES = 1500
COMMON = 5000
POOL = 50
STATS_TTL_S = 300.0
_pg_stats: weakref.WeakKeyDictionary[Engine, tuple[float, dict[str, int]]] = (
    weakref.WeakKeyDictionary()
)


def _phrase(token: str) -> str:
    """A token as an FTS5 string: quoted, quotes doubled, never parsed as syntax."""
    return '"' + token.replace('"', '""') + '"'


def _filters(category_id: int | None) -> str:
    sql = " AND NOT a.retired AND (a.expires_on IS NULL OR a.expires_on >= :today)"
    return sql + (" AND a.category_id = :category_id" if category_id is not None else "")


def _pg_common_words(session: Session) -> dict[str, int]:
    """PostgreSQL's own statistics of the index's most common lexemes (ANALYZE), as
    estimated article counts; cached for a few minutes per engine."""
    engine = session.get_bind().engine
    cached = _pg_stats.get(engine)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    row = session.execute(
        text(
            "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples"
            " FROM pg_stats s JOIN pg_class c ON c.oid = to_regclass('kb_search')"
            " WHERE s.schemaname = current_schema() AND s.tablename = 'kb_search'"
            " AND s.attname = 'document'"
        )
    ).first()
    common: dict[str, int] = {}
    if row is not None and row[0]:
        total = max(float(row[2]), 0.0)
        common = {e: max(1, int(f * total)) for e, f in zip(row[0], row[1], strict=False)}
    _pg_stats[engine] = (time.monotonic() + STATS_TTL_S, common)
    return common


def _doc_counts(session: Session, tokens: list[str]) -> dict[str, int]:
    """How many indexed articles hold each token, counted up to COMMON + 1."""
    pg = _is_postgres(session)
    counts = {t: n for t, n in (_pg_common_words(session) if pg else {}).items() if t in tokens}
    rest = [t for t in tokens if t not in counts]
    if rest:
        match = "document @@ plainto_tsquery('simple', :t{i})" if pg else "kb_search MATCH :t{i}"
        sql = " UNION ALL ".join(
            f"SELECT {i} AS i, (SELECT count(*) FROM (SELECT 1 FROM kb_search"
            f" WHERE {match.format(i=i)} LIMIT :cap) AS x{i}) AS n"
            for i in range(len(rest))
        )
        params: dict[str, Any] = {f"t{i}": t if pg else _phrase(t) for i, t in enumerate(rest)}
        for i, n in session.execute(text(sql), {**params, "cap": COMMON + 1}):
            counts[rest[i]] = int(n)
    return counts


def _ranked(
    session: Session,
    candidates: list[str],
    ranking: list[str],
    *,
    capped: bool,
    limit: int,
    filters: dict[str, Any],
) -> list[tuple[int, float]]:
    """Articles holding any ``candidates`` word, ranked by all ``ranking`` words, best
    first, with a score where higher is better; ``capped``: only the newest CANDIDATES."""
    params = {**filters, "limit": limit, "cap": CANDIDATES, "pool": max(POOL, limit)}
    where = _filters(filters.get("category_id"))
    if _is_postgres(session):
        params |= {f"c{i}": w for i, w in enumerate(candidates)}
        params |= {f"r{i}": w for i, w in enumerate(ranking)}
        match = " || ".join(f"plainto_tsquery('simple', :c{i})" for i in range(len(candidates)))
        rank = " || ".join(f"plainto_tsquery('simple', :r{i})" for i in range(len(ranking)))
        inner = "" if filters.get("category_id") is None else where
        found = (
            "SELECT s.article_id, s.document FROM kb_search s"
            + (" JOIN kb_articles a ON a.id = s.article_id" if inner else "")
            + f" WHERE s.document @@ ({match}){inner}"
            + (" ORDER BY s.article_id DESC LIMIT :cap" if capped else "")
        )
        best = (
            f"SELECT f.article_id, f.document, ts_rank(f.document, ({rank})) AS score"
            f" FROM ({found}) AS f ORDER BY score DESC, f.article_id LIMIT :pool"
        )
        sql = (
            f"SELECT b.article_id, b.score FROM ({best}) AS b"
            f" JOIN kb_articles a ON a.id = b.article_id WHERE TRUE{where}"
            f" ORDER BY b.score DESC, ts_rank_cd(b.document, ({rank})) DESC, b.article_id"
            " LIMIT :limit"
        )
    else:
        match = " OR ".join(_phrase(w) for w in candidates)
        if ranking != candidates:  # phrases of both groups count in bm25
            match = f"({match}) AND ({' OR '.join(_phrase(w) for w in ranking)})"
        params["m"] = match
        base = (
            "FROM kb_search JOIN kb_articles a ON a.id = kb_search.article_id"
            f" WHERE kb_search MATCH :m{where}"
        )
        if capped:
            newest = f"SELECT kb_search.rowid {base} ORDER BY kb_search.rowid DESC"
            cutoff = session.scalar(text(newest + " LIMIT 1 OFFSET :cap"), params)
            if cutoff is not None:
                base, params["cutoff"] = base + " AND kb_search.rowid > :cutoff", cutoff
        sql = (
            f"SELECT kb_search.article_id, -bm25(kb_search) AS score {base}"
            " ORDER BY score DESC, kb_search.article_id LIMIT :limit"
        )
    return [(int(a), float(s)) for a, s in session.execute(text(sql), params)]


def _snippet(answer: str, tokens: list[str]) -> str:
    flat = " ".join(answer.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    found = [p for p in (flat.find(t) for t in tokens) if p >= 0]
    start = max(0, min(found) - 20) if found else 0
    start = min(start, len(flat) - SNIPPET_CHARS)
    piece = flat[start : start + SNIPPET_CHARS]
    return ("…" if start else "") + piece + ("…" if start + SNIPPET_CHARS < len(flat) else "")


def search(
    *,
    session: Session,
    query: str,
    limit: int = 5,
    category_id: int | None = None,
    today: date | None = None,
) -> list[KbHit]:
    """Published, live, unexpired articles best matching ``query``, best first."""
    tokens = query_tokens(query)
    if not tokens:
        return []
    limit = max(1, min(limit, 50))
    today = today or local_today()
    counts = _doc_counts(session, tokens)
    # Words that match nothing go; so does a word inside a longer query word held by the
    # same articles (jieba's search mode yields 公积 and 积金 with 公积金): it adds nothing.
    held = [t for t in tokens if counts.get(t, 0) > 0]
    live = sorted(
        (t for t in held if not any(t != o and t in o and counts[o] == counts[t] for o in held)),
        key=lambda t: (counts[t], -len(t)),
    )
    if not live:
        return []
    candidates: list[str] = []
    for word in live:
        if candidates and sum(counts[w] for w in [*candidates, word]) > CANDIDATES:
            break
        candidates.append(word)
    ranking = [w for w in live if counts[w] <= COMMON or w in candidates]
    filters = {
        "today": today if _is_postgres(session) else today.isoformat(),
        "category_id": category_id,
    }
    capped = sum(counts[w] for w in candidates) > CANDIDATES
    found = dict(_ranked(session, candidates, ranking, capped=capped, limit=limit, filters=filters))
    if not found:
        return []
    rows = session.execute(
        select(KbArticle.id, KbArticleVersion, HotlineCategory.name, HotlineCategory.code)
        .join(KbArticleVersion, KbArticleVersion.id == KbArticle.published_version_id)
        .outerjoin(HotlineCategory, HotlineCategory.id == KbArticle.category_id)
        .where(KbArticle.id.in_(list(found)))
    ).all()
    by_id = {int(aid): (version, name, code) for aid, version, name, code in rows}
    return [
        KbHit(
            article_id=aid,
            version_id=by_id[aid][0].id,
            title=by_id[aid][0].title,
            snippet=_snippet(by_id[aid][0].answer, tokens),
            answer=by_id[aid][0].answer,
            score=round(score, 6),
            category=by_id[aid][1],
            category_code=by_id[aid][2],
        )
        for aid, score in found.items()
        if aid in by_id
    ]
