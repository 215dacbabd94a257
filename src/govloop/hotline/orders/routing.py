"""Routing suggestions: which category and department an order belongs to.

A classifier trained on the center's own closed orders suggests first: TF-IDF over jieba
words, word pairs and character n-grams, and a linear classifier with logistic loss
(trained by SGD: a second for thousands of orders) whose class probability is the
confidence the agent sees. A second classifier on the same features suggests the
department, because the unit that finally handled an order is not always the category's
default unit. When no model is trained, or the model's best guess is below
``THRESHOLD``, the dispatch catalogue's keyword rules answer. An agent always confirms.

The pure fitting and prediction (:func:`fit_router`, :class:`Router`, :func:`evaluate`)
work on plain lists, so the benchmark can run them without a database.
"""

from __future__ import annotations

import io
import itertools
import logging
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jieba
import joblib
import numpy as np
import sklearn
from sklearn.base import ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from govloop.core.errors import BadRequest
from govloop.hotline.catalogue import load_catalogue
from govloop.hotline.models import DONE_STATUSES, HotlineCategory, RoutingModel, WorkOrder
from govloop.hotline.orders import directory
from govloop.org.models import Department

# Below this top probability the model defers to the catalogue's keyword rules.
THRESHOLD = 0.35
# L2 regularisation of the classifiers, chosen on generated orders (bench_routing).
ALPHA = 2e-5
MAX_FEATURES = 30_000


@dataclass(frozen=True)
class Suggestion:
    category_id: int
    category_code: str
    department_id: int | None
    confidence: float  # 0..1
    source: str  # "model" | "catalogue"


# ---- tokens ----------------------------------------------------------------------------

jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter
_jieba_lock = threading.Lock()
_jieba_words: set[str] = set()


def add_words(words: Sequence[str]) -> None:
    """Teach jieba domain words (catalogue keywords) so they stay whole tokens."""
    new = {w for w in words if w and w not in _jieba_words}
    if not new:
        return
    with _jieba_lock:
        for word in sorted(new):
            jieba.add_word(word, freq=2000)
        _jieba_words.update(new)
        tokenize.cache_clear()  # cached tokens may have split a new word


@lru_cache(maxsize=4096)  # repeated suggestions while an agent edits the form
def tokenize(text: str) -> tuple[str, ...]:
    """jieba words without punctuation or spaces; every number becomes "<num>"."""
    if not _jieba_words:
        add_words([w for spec in load_catalogue().categories for w in spec.keywords])
    tokens = []
    for word in jieba.lcut(text, HMM=False):  # HMM guesses names: slower, no help here
        word = word.strip().lower()
        if not word or not any(ch.isalnum() for ch in word):
            continue
        tokens.append("<num>" if word.isdigit() else word)
    return tuple(tokens)


def order_text(title: str | None, content: str | None) -> str:
    return f"{title or ''}。{content or ''}"


# ---- fitting and prediction (no database) --------------------------------------------


@dataclass(frozen=True)
class Prediction:
    categories: tuple[tuple[str, float], ...]  # (code, probability), best first
    department: str | None
    department_confidence: float


@dataclass
class Router:
    """Fitted features and classifiers, pickled into ``RoutingModel.model``."""

    features: TfidfVectorizer
    category: ClassifierMixin
    department: ClassifierMixin | None
    words: tuple[str, ...] = ()  # jieba words the features were built with

    def predict(self, texts: Sequence[str], top: int = 3) -> list[Prediction]:
        add_words(self.words)
        with sklearn.config_context(assume_finite=True):  # TF-IDF values are always finite
            x = self.features.transform(list(texts))
            cat_proba = self.category.predict_proba(x)
            dep_proba = None if self.department is None else self.department.predict_proba(x)
        cat_classes = [str(c) for c in self.category.classes_]
        results = []
        for i in range(len(texts)):
            order = cat_proba[i].argsort()[::-1][:top]
            ranked = tuple((cat_classes[j], round(float(cat_proba[i][j]), 4)) for j in order)
            department, dep_conf = None, 0.0
            if dep_proba is not None and self.department is not None:
                j = int(dep_proba[i].argmax())
                department, dep_conf = str(self.department.classes_[j]), float(dep_proba[i][j])
            results.append(Prediction(ranked, department, round(dep_conf, 4)))
        return results


def analyze(text: str) -> list[str]:
    """The features of a text: jieba words, adjacent word pairs and character 2- and
    3-grams (which catch words jieba splits differently, such as new compound names)."""
    words = tokenize(text)
    features = list(words)
    features += [f"{a} {b}" for a, b in itertools.pairwise(words)]
    for n in (2, 3):
        features += ["#" + text[i : i + n] for i in range(len(text) - n + 1)]
    return features


def _classifier(labels: Sequence[str], seed: int) -> ClassifierMixin:
    if len(set(labels)) < 2:  # one unit handles everything: nothing to learn
        return DummyClassifier(strategy="most_frequent")
    return SGDClassifier(loss="log_loss", alpha=ALPHA, random_state=seed)


def _fit(classifier: ClassifierMixin, x: Any, labels: list[str]) -> ClassifierMixin:
    classifier.fit(x, labels)
    if isinstance(classifier, SGDClassifier):
        # Scoring multiplies float32 features by coef_.T: stored as column-major float32
        # that is a view, not a multi-megabyte copy on every suggestion (and half the bytes
        # in the database).
        classifier.coef_ = np.asfortranarray(classifier.coef_, dtype=np.float32)
    return classifier


def fit_router(
    texts: Sequence[str],
    categories: Sequence[str],
    departments: Sequence[str | None],
    *,
    words: Sequence[str] = (),
    seed: int = 0,
) -> Router:
    """Fit on order texts with their category and department codes (None = unknown)."""
    add_words(words)
    # Once there is enough data, n-grams seen only once add size and noise, not accuracy;
    # the cap keeps a large center's model a few megabytes.
    features = TfidfVectorizer(
        analyzer=analyze,
        sublinear_tf=True,
        min_df=2 if len(texts) >= 1000 else 1,
        max_features=MAX_FEATURES,
        dtype=np.float32,
    )
    x = features.fit_transform(list(texts))
    category = _fit(_classifier(categories, seed), x, list(categories))
    known = [i for i, d in enumerate(departments) if d is not None]
    department = None
    if known:
        dep_labels = [str(departments[i]) for i in known]
        department = _fit(_classifier(dep_labels, seed), x[known], dep_labels)
    return Router(features, category, department, tuple(words))


def holdout_split(
    labels: Sequence[str], test_share: float, seed: int
) -> tuple[list[int], list[int]]:
    """Stratified train/test indices: each label keeps about ``test_share`` of its orders
    for testing, but always at least one for training."""
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    rng = random.Random(seed)
    train: list[int] = []
    test: list[int] = []
    for label in sorted(by_label):
        indices = by_label[label]
        rng.shuffle(indices)
        n_test = min(round(len(indices) * test_share), len(indices) - 1)
        test += indices[:n_test]
        train += indices[n_test:]
    return sorted(train), sorted(test)


def evaluate(predicted: Sequence[str | None], actual: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-label figures and the most frequent confusions."""
    pred = [p if p is not None else "<none>" for p in predicted]
    labels = sorted(set(actual))
    if not actual:
        return {"accuracy": None, "macro_f1": None, "per_label": [], "confusions": []}
    accuracy = sum(p == a for p, a in zip(pred, actual, strict=True)) / len(actual)
    precision, recall, f1, support = precision_recall_fscore_support(
        actual, pred, labels=labels, zero_division=0
    )
    per_label = [
        {
            "code": label,
            "support": int(support[i]),
            "precision": round(float(precision[i]), 4),
            "recall": round(float(recall[i]), 4),
            "f1": round(float(f1[i]), 4),
        }
        for i, label in enumerate(labels)
    ]
    per_label.sort(key=lambda r: (r["f1"], r["code"]))
    confusions = Counter((a, p) for p, a in zip(pred, actual, strict=True) if p != a)
    return {
        "accuracy": round(accuracy, 4),
        "macro_f1": round(float(f1_score(actual, pred, labels=labels, average="macro")), 4),
        "per_label": per_label,  # worst first
        "confusions": [
            {"actual": a, "predicted": p, "count": n} for (a, p), n in confusions.most_common(10)
        ],
    }


def match_keywords(
    text: str, rules: Sequence[tuple[str, Sequence[str]]]
) -> tuple[str, float] | None:
    """The dispatch catalogue's rule: the code whose keywords occur most often in the text;
    confidence is its share of all hits. Ties go to the smallest code."""
    hits = []
    for code, keywords in rules:
        count = sum(text.count(word) for word in keywords if word)
        if count:
            hits.append((count, code))
    if not hits:
        return None
    hits.sort(key=lambda h: (-h[0], h[1]))
    best_count, best = hits[0]
    return best, round(best_count / sum(h[0] for h in hits), 3)


# ---- the center's models (database) --------------------------------------------------

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainReport:
    model_id: int
    n_train: int  # orders the held-out figures were fitted on
    n_test: int
    category_accuracy: float | None
    department_accuracy: float | None
    macro_f1: float | None
    catalogue_accuracy: float | None  # keyword rules alone on the same held-out orders
    report: dict[str, Any] = field(default_factory=dict)  # as stored on the RoutingModel

    @property
    def worst_categories(self) -> list[dict[str, Any]]:
        return list(self.report.get("per_category", []))[:5]


def _closed_orders(session: Session) -> list[tuple[str, str, str | None]]:
    """(text, category code, department code) of every closed order with a category."""
    rows = session.execute(
        select(WorkOrder.title, WorkOrder.content, HotlineCategory.code, Department.code)
        .join(HotlineCategory, HotlineCategory.id == WorkOrder.category_id)
        .outerjoin(Department, Department.id == WorkOrder.department_id)
        .where(WorkOrder.status.in_([s.value for s in DONE_STATUSES]))
        .order_by(WorkOrder.id)
    ).all()
    return [(order_text(title, content), cat, dep) for title, content, cat, dep in rows]


def _keyword_rules(
    categories: Sequence[HotlineCategory] | Sequence[directory.Category],
) -> list[tuple[str, Sequence[str]]]:
    return [(c.code, c.keywords or ()) for c in categories]


def train(
    *, session: Session, test_share: float = 0.2, seed: int = 0, min_orders: int = 50
) -> TrainReport:
    """Train on the center's closed orders, measure on a stratified hold-out, store the
    model as the active one.

    The stored model is refitted on every closed order: the held-out figures describe
    how well this way of training does, the refit uses the 20 % it would otherwise waste.
    """
    if not 0 < test_share < 1:
        raise BadRequest("留出测试的比例须大于 0 且小于 1")
    orders = _closed_orders(session)
    if len(orders) < min_orders:
        raise BadRequest(
            f"已办结且有分类的工单只有 {len(orders)} 条，至少需要 {min_orders} 条才能训练分派模型",
            code="too_few_orders",
        )
    texts = [o[0] for o in orders]
    cats = [o[1] for o in orders]
    deps = [o[2] for o in orders]
    if len(set(cats)) < 2:
        raise BadRequest(
            "已办结工单只涉及一个分类，至少需要两个分类才能训练分派模型",
            code="too_few_categories",
        )
    categories = list(session.scalars(select(HotlineCategory).order_by(HotlineCategory.code)))
    catalogue_words = [w for spec in load_catalogue().categories for w in spec.keywords]
    words = sorted({*catalogue_words, *(w for c in categories for w in c.keywords or ())})

    train_idx, test_idx = holdout_split(cats, test_share, seed)
    router = fit_router(
        [texts[i] for i in train_idx],
        [cats[i] for i in train_idx],
        [deps[i] for i in train_idx],
        words=words,
        seed=seed,
    )
    predictions = router.predict([texts[i] for i in test_idx])
    cat_eval = evaluate([p.categories[0][0] for p in predictions], [cats[i] for i in test_idx])
    known = [(p, d) for p, i in zip(predictions, test_idx, strict=True) if (d := deps[i])]
    dep_eval = evaluate([p.department for p, _ in known], [d for _, d in known])
    rules = _keyword_rules([c for c in categories if c.active])
    guesses = [match_keywords(texts[i], rules) for i in test_idx]
    kw_eval = evaluate([g[0] if g else None for g in guesses], [cats[i] for i in test_idx])

    production = fit_router(texts, cats, deps, words=words, seed=seed)
    names = {c.code: c.name for c in categories}
    report = {
        "macro_f1": cat_eval["macro_f1"],
        "department_macro_f1": dep_eval["macro_f1"],
        "catalogue_accuracy": kw_eval["accuracy"],
        "per_category": [{**r, "name": names.get(r["code"], "")} for r in cat_eval["per_label"]],
        "confusions": cat_eval["confusions"],
        "test_share": test_share,
        "seed": seed,
        "fitted_on": len(orders),
        "categories": len(set(cats)),
        "departments": len({d for d in deps if d}),
        "threshold": THRESHOLD,
        "method": "TF-IDF of jieba words, word pairs, char 2-3-grams; SGD logistic regression",
    }
    session.execute(update(RoutingModel).where(RoutingModel.active.is_(True)).values(active=False))
    row = RoutingModel(
        n_train=len(train_idx),
        n_test=len(test_idx),
        category_accuracy=cat_eval["accuracy"],
        department_accuracy=dep_eval["accuracy"],
        report=report,
        model=_dump(production),
        active=True,
    )
    session.add(row)
    session.flush()
    return TrainReport(
        model_id=row.id,
        n_train=row.n_train,
        n_test=row.n_test,
        category_accuracy=row.category_accuracy,
        department_accuracy=row.department_accuracy,
        macro_f1=cat_eval["macro_f1"],
        catalogue_accuracy=kw_eval["accuracy"],
        report=report,
    )


def _dump(router: Router) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(router, buffer, compress=3)
    return buffer.getvalue()


_cache_lock = threading.Lock()
_cached: tuple[tuple[int, Any], Router | None] | None = None


def clear_model_cache() -> None:
    global _cached
    with _cache_lock:
        _cached = None


def _active_router(session: Session, known: directory.Directory | None = None) -> Router | None:
    """The newest active model, unpickled once per process: the directory's fingerprint
    query names it, so checking for a new one costs no query of its own."""
    global _cached
    # trained_at too: ids restart in a rebuilt database
    key = (known or directory.current(session)).routing_model
    if key is None:
        return None
    cached = _cached
    if cached is not None and cached[0] == key:
        return cached[1]
    with _cache_lock:
        if _cached is not None and _cached[0] == key:
            return _cached[1]
        blob = session.scalar(select(RoutingModel.model).where(RoutingModel.id == key[0]))
        router: Router | None = None
        try:
            # Our own bytes, written by train() into our own database.
            router = joblib.load(io.BytesIO(blob or b""))
        except Exception:  # e.g. pickled by another scikit-learn: the catalogue answers
            log.exception("routing model %s cannot be loaded; using the catalogue", key[0])
        _cached = (key, router)
        return router


def _by_keywords(text: str, categories: Sequence[directory.Category]) -> Suggestion | None:
    match = match_keywords(text, _keyword_rules(categories))
    if match is None:
        return None
    best = next(c for c in categories if c.code == match[0])
    return Suggestion(best.id, best.code, best.department_id, match[1], "catalogue")


def _by_model(
    prediction: Prediction,
    categories: dict[str, directory.Category],
    departments: dict[str, int],
) -> Suggestion | None:
    """The model's best category that still exists, if the model is sure enough."""
    for code, probability in prediction.categories:
        if code not in categories:
            continue  # retired since training
        if probability < THRESHOLD:
            return None
        category = categories[code]
        department_id = category.department_id
        # Where such orders finally went, when the department model is sure of it.
        if prediction.department and prediction.department_confidence >= THRESHOLD:
            department_id = departments.get(prediction.department, department_id)
        return Suggestion(category.id, code, department_id, probability, "model")
    return None


def suggest_from_catalogue(*, session: Session, text: str) -> Suggestion | None:
    """The category whose keywords occur most often; confidence is its share of all hits."""
    return _by_keywords(text, directory.current(session).active)


def suggest_many(
    *, session: Session, texts: Sequence[str], known: directory.Directory | None = None
) -> list[Suggestion | None]:
    """One suggestion per text: the model when it is sure, else the keyword rules.
    ``known``: the directory the caller already read in this transaction."""
    current = known or directory.current(session)
    categories = current.active
    router = _active_router(session, current) if texts else None
    if router is None:
        return [_by_keywords(text, categories) for text in texts]
    return [
        _by_model(prediction, current.active_by_code, current.department_ids)
        or _by_keywords(text, categories)
        for text, prediction in zip(texts, router.predict(texts), strict=True)
    ]


def suggest(
    *, session: Session, text: str, known: directory.Directory | None = None
) -> Suggestion | None:
    if not text.strip():
        return None
    return suggest_many(session=session, texts=[text], known=known)[0]
