"""Routing benchmark: the routing model against the dispatch catalogue's keyword rules on
generated orders it has not seen (no database needed)."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from typing import Any

from govloop.demo.hotline.orders import generate_orders
from govloop.hotline.catalogue import load_catalogue
from govloop.hotline.orders import routing

TEST_SHARE = 0.2
TIMED_SUGGESTIONS = 300


def bench_routing(*, seed: int, n_orders: int = 6000) -> dict[str, Any]:
    """Generate ``n_orders``, hold out 20 % per category, train on the rest and report
    category and department accuracy on the held-out orders, the keyword rules' accuracy
    on the same orders, training time and the latency of one suggestion."""
    orders = generate_orders(
        seed=seed,
        count=n_orders,
        start=datetime(2025, 1, 1, tzinfo=UTC),
        end=datetime(2025, 7, 1, tzinfo=UTC),
    )
    texts = [routing.order_text(o.title, o.content) for o in orders]
    categories = [o.category_code for o in orders]
    departments = [o.department_code for o in orders]
    train, test = routing.holdout_split(categories, TEST_SHARE, seed)
    catalogue = load_catalogue()
    words = [w for spec in catalogue.categories for w in spec.keywords]
    routing.tokenize("预热")  # load jieba's dictionary outside the timings

    started = time.perf_counter()
    router = routing.fit_router(
        [texts[i] for i in train],
        [categories[i] for i in train],
        [departments[i] for i in train],
        words=words,
        seed=seed,
    )
    train_s = time.perf_counter() - started

    test_texts = [texts[i] for i in test]
    predictions = router.predict(test_texts)
    by_category = routing.evaluate(
        [p.categories[0][0] for p in predictions], [categories[i] for i in test]
    )
    by_department = routing.evaluate(
        [p.department for p in predictions], [departments[i] for i in test]
    )
    rules = [(spec.code, spec.keywords) for spec in catalogue.categories]
    guesses = [routing.match_keywords(text, rules) for text in test_texts]
    by_keywords = routing.evaluate(
        [g[0] if g else None for g in guesses], [categories[i] for i in test]
    )

    # One text at a time, as an agent's form asks; cold token cache so nothing is reused.
    routing.tokenize.cache_clear()
    latencies = []
    for text in test_texts[:TIMED_SUGGESTIONS]:
        started = time.perf_counter()
        router.predict([text])
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()

    accuracy = by_category["accuracy"] or 0.0
    baseline = by_keywords["accuracy"] or 0.0
    train_texts = {texts[i] for i in train}
    confident = [p.categories[0][1] >= routing.THRESHOLD for p in predictions]
    return {
        "seed": seed,
        "n_orders": len(orders),
        "n_train": len(train),
        "n_test": len(test),
        "n_categories": len(set(categories)),
        "routing_accuracy": accuracy,
        "department_accuracy": by_department["accuracy"],
        "macro_f1": by_category["macro_f1"],
        "catalogue_accuracy": baseline,
        "model_vs_catalogue": round(accuracy / baseline, 3) if baseline else None,
        "model_confident_share": round(sum(confident) / len(confident), 4),
        # held-out texts that also occur verbatim among the training texts
        "test_seen_in_train": round(sum(t in train_texts for t in test_texts) / len(test), 4),
        "train_s": round(train_s, 3),
        "suggest_p50_ms": round(statistics.median(latencies), 3),
        "suggest_p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 3),
        "worst_categories": by_category["per_label"][:5],
        "confusions": by_category["confusions"][:5],
    }
