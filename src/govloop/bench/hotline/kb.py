"""Knowledge-base search benchmark: ``kb_search_p99_ms`` over 50,000 articles.

A throw-away database (a temporary SQLite file, or a fresh schema on PostgreSQL) is
migrated and filled with generated district- and street-level articles through the bulk
loader; about 5 % of them have expired. Then the same mix of queries runs through
:func:`govloop.hotline.kb.service.search` and through a naive baseline, a ranked ``LIKE '%…%'``
scan of the answer text. Half the queries are typed the way callers speak; the other half
are written from one known article each, which gives the recall figure: how often that
article is among the first five hits (``top5_hit_rate``), for the search and the baseline.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Engine, case, create_engine, or_, select, text
from sqlalchemy.orm import Session

from govloop.core.clock import local_today
from govloop.core.db import make_engine
from govloop.core.migrate import upgrade
from govloop.demo.hotline.kb import bulk_load, caller_queries, generate_articles
from govloop.hotline.kb import service as kb
from govloop.hotline.models import KbArticle, KbArticleVersion
from govloop.registry import import_all_models

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BASELINE_MAX_QUERIES = 100  # the scan is slow; a sample of the same queries is enough
WARMUP_QUERIES = 5


@contextmanager
def _database(database_url: str | None) -> Iterator[Engine]:
    """A migrated, empty database that is dropped afterwards."""
    if not database_url or database_url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="govloop-kb-bench-") as folder:
            engine = make_engine(f"sqlite:///{Path(folder) / 'kb.db'}")
            try:
                upgrade(engine)
                yield engine
            finally:
                engine.dispose()
        return
    probe = create_engine(database_url, connect_args={"connect_timeout": 5})
    schema = f"govloop_kb_bench_{uuid.uuid4().hex[:10]}"
    with probe.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(database_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with probe.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        probe.dispose()


def naive_search(*, session: Session, query: str, limit: int = 5, today: date) -> list[int]:
    """The baseline: served articles whose answer contains the most query tokens
    (``LIKE '%token%'``), found by scanning every answer."""
    tokens = kb.query_tokens(query)
    if not tokens:
        return []
    answer = KbArticleVersion.answer
    hits = [answer.contains(t, autoescape=True) for t in tokens]
    score: ColumnElement[int] = case((hits[0], 1), else_=0)
    for hit in hits[1:]:
        score = score + case((hit, 1), else_=0)
    q = (
        select(KbArticle.id)
        .join(KbArticleVersion, KbArticleVersion.id == KbArticle.published_version_id)
        .where(~KbArticle.retired, or_(*hits))
        .where(KbArticle.expires_on.is_(None) | (KbArticle.expires_on >= today))
        .order_by(score.desc(), KbArticle.id)
        .limit(limit)
    )
    return list(session.scalars(q))


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


def _timed(search: Callable[[str], list[int]], query: str) -> tuple[float, list[int]]:
    start = time.perf_counter()
    found = search(query)
    return (time.perf_counter() - start) * 1000, found


def _figures(prefix: str, times: list[float]) -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": round(statistics.median(times), 3) if times else 0.0,
        f"{prefix}_p99_ms": round(_percentile(times, 0.99), 3),
    }


def bench_kb_search(
    *,
    database_url: str | None = None,
    articles: int = 50_000,
    queries: int = 500,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Load ``articles`` generated articles and time ``queries`` searches; JSON-able."""
    import_all_models()
    say = progress or (lambda _message: None)
    today = local_today()
    rng = random.Random(seed)
    specs = generate_articles(seed, articles, today)
    with _database(database_url) as engine:
        backend = engine.dialect.name
        say(f"loading {articles} articles into {backend}")
        start = time.perf_counter()
        with Session(engine) as session:
            ids = bulk_load(session=session, specs=specs)
            session.commit()
        if backend == "postgresql":  # what autovacuum does soon after a bulk load
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE kb_articles, kb_article_versions, kb_search"))
        load_s = time.perf_counter() - start

        # Half the queries as callers type them, half written from one live article each.
        live = [i for i, s in enumerate(specs) if s.expires_on is None or s.expires_on >= today]
        n_probe = queries // 2
        probes = [(specs[i].probe, ids[i]) for i in rng.sample(live, min(n_probe, len(live)))]
        mixed: list[tuple[str, int | None]] = [
            (q, None) for q in caller_queries(seed, queries - len(probes))
        ]
        mixed += probes
        rng.shuffle(mixed)

        say(f"running {len(mixed)} searches")
        with Session(engine) as session:

            def indexed(query: str) -> list[int]:
                return [h.article_id for h in kb.search(session=session, query=query, today=today)]

            def scanned(query: str) -> list[int]:
                return naive_search(session=session, query=query, today=today)

            for query, _target in mixed[:WARMUP_QUERIES]:
                indexed(query)
            times, hits_top5 = [], 0
            for query, target in mixed:
                ms, found = _timed(indexed, query)
                times.append(ms)
                hits_top5 += target is not None and target in found
            say("running the LIKE baseline")
            sample = mixed[:BASELINE_MAX_QUERIES]
            base_times, base_top5, base_probes = [], 0, 0
            for query, target in sample:
                ms, found = _timed(scanned, query)
                base_times.append(ms)
                base_probes += target is not None
                base_top5 += target is not None and target in found

    result: dict[str, Any] = {
        "backend": backend,
        "articles": articles,
        "queries": len(mixed),
        "load_s": round(load_s, 2),
        **_figures("kb_search", times),
        "top5_hit_rate": round(hits_top5 / len(probes), 4) if probes else None,
        "recall_queries": len(probes),
        "baseline": "ranked LIKE '%token%' scan of the answer text",
        "baseline_queries": len(sample),
        **_figures("baseline", base_times),
        "baseline_top5_hit_rate": round(base_top5 / base_probes, 4) if base_probes else None,
    }
    p99 = result["kb_search_p99_ms"]
    result["baseline_p99_ratio"] = round(result["baseline_p99_ms"] / p99, 1) if p99 else None
    return result
