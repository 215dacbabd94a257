"""`govloop bench access`: the cost of purpose-bound delivery and of the audit chain.

On a fresh SQLite database in a temporary folder (``--backend postgresql``: a throw-away
schema on the server, dropped after the run):

- ``filter_overhead_p99_ms``: p99 of a granted fetch (grant check, subject lookup, field
  filter and masking — the audit append is measured on its own) minus p99 of the same
  subject lookup unfiltered, over the same subjects in the same run;
- ``appends_per_s``: accesses of ``--appenders`` concurrent callers (16 by default; the
  baseline holds a connection for each), one entry per access,
  each waiting until its entry is committed, through the group appender (``audit.group``:
  concurrent entries share one transaction); ``baseline_appends_per_s`` the same callers
  in the same run with one transaction per access (``log.append`` in the caller's unit of
  work, as a request writes it), and ``appends_ratio`` the quotient;
- ``read_appends_per_s``: the same callers reading a subject of a case through the real read
  path — what ``GET /api/v1/access/data`` runs, without HTTP: the request's unit of work
  loads the signed-in user, ``access.reads.served`` runs ``service.fetch`` (grant token
  check, case lookup, subject values, field filter) in a read-only unit of work and its one
  entry is committed by the group appender before the view is returned;
  ``read_baseline_per_s`` the same reads with the entry in the request's own transaction
  (the route before group commit), ``read_ratio`` the quotient — on SQLite each read holds
  the process's write turn as a signed-in request does — and
  ``read_entries_per_access`` the entries the reads left divided by the reads (1.0). Alongside,
  ``single_appends_per_s`` (one caller, one transaction per access) and
  ``audit_batch_appends_per_s`` (one caller, 500 entries per transaction);
- ``verify_million_seconds``: verifying a log of 1,000,000 entries (``--quick``: 20,000,
  scaled linearly and flagged as such);
- ``tamper_detected``: out of 8, each found at the right position: a modified, a deleted,
  a reordered and a truncated entry (the database's own checks), and — against an anchor
  exported before the tampering — the tail cut off with its checkpoints and head row, the
  log rewritten and re-chained, re-signed with the key derived from the session secret,
  and wiped.

Signing keys and anchors live in the temporary folder too (``GOVLOOP_AUDIT_KEY_DIR`` and
``GOVLOOP_AUDIT_ANCHOR_DIR`` are set for the run and restored after it).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, func, select, text, update
from sqlalchemy.engine import make_url

from govloop.access import cases, reads, service
from govloop.access.cases import CaseInfo
from govloop.access.models import Grant
from govloop.access.policy import FieldSet
from govloop.audit import anchor, anchor_export, group
from govloop.audit import keys as audit_keys
from govloop.audit import log as audit
from govloop.audit.log import Entry
from govloop.audit.models import AuditCheckpoint, AuditEntry, AuditHead, AuditKey
from govloop.core import auth
from govloop.core.db import get_engine, make_engine, set_engine, unit_of_work
from govloop.core.migrate import upgrade
from govloop.core.models import User
from govloop.subjects import service as subjects
from govloop.subjects.models import SubjectMaster

ATTRS = {
    "name": "张三",
    "id_number": "11010519491231002X",
    "phone": "13800138000",
    "address": "北京市朝阳区建国路88号",
    "birth_date": "1949-12-31",
    "sex": "F",
}


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) > 1 else samples[0]


def _timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _filter_overhead(samples: int) -> dict[str, float]:
    with unit_of_work() as s:
        masters = [
            SubjectMaster(
                kind="person", identifier=None, display_name="张三", attributes=ATTRS, provenance={}
            )
            for _ in range(50)
        ]
        s.add_all(masters)
        staff = auth.create_user(
            session=s, username="bench", password="access-Key-2026", role="window_staff"
        )
        s.flush()
        ids = [m.id for m in masters]
        grant = _grant(staff.id, ids, "bench", "ticket", "bench", timedelta(hours=1))
        s.add(grant)
        s.flush()
        grant_id = grant.id
    field_set = FieldSet(frozenset({"name"}), frozenset({"id_number", "phone"}))
    i = 0

    def unfiltered() -> None:
        nonlocal i
        i += 1
        with unit_of_work(readonly=True) as s:
            subjects.subject_values(session=s, master_ids=[ids[i % len(ids)]])

    def filtered() -> None:
        nonlocal i
        i += 1
        with unit_of_work(readonly=True) as s:
            g = s.get(Grant, grant_id)
            assert g is not None and g.status == "active"
            subject_id = ids[i % len(ids)]
            assert subject_id in g.subject_ids
            values = subjects.subject_values(session=s, master_ids=[subject_id])[subject_id]
            service.filter_values(values.attributes, field_set)

    _timed(unfiltered, 200)  # warm up
    _timed(filtered, 200)
    base, with_filter = [], []
    for _ in range(samples // 100):  # interleaved, so load affects both alike
        base += _timed(unfiltered, 100)
        with_filter += _timed(filtered, 100)
    only = _timed(lambda: service.filter_values(ATTRS, field_set), samples)
    return {
        "filter_overhead_p99_ms": round(_p99(with_filter) - _p99(base), 4),
        "filtered_fetch_p99_ms": round(_p99(with_filter), 4),
        "unfiltered_fetch_p99_ms": round(_p99(base), 4),
        "filter_only_p99_ms": round(_p99(only), 5),
    }


APPENDERS = 16  # concurrent callers, as a web worker's thread pool serves requests
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _access_entry(j: int) -> Entry:
    return Entry(
        actor_id=1,
        actor="bench",
        action="read",
        subject_id=j,
        fields=["id_number", "name"],
        case_type="ticket",
        case_id=j,
    )


def _raw_access(grouped: bool) -> Callable[[int], None]:
    """One access's entry, waiting for its commit: through the group appender, or in a unit
    of work of its own."""
    appender = group.appender()

    def access(j: int) -> None:
        if grouped:
            appender.append([_access_entry(j)])
        else:
            with unit_of_work() as s:
                audit.append(session=s, entries=[_access_entry(j)])

    return access


BENCH_CASE = "bench"


def _grant(
    staff_id: int,
    subject_ids: list[int],
    token_hash: str,
    case_type: str,
    label: str,
    lifetime: timedelta,
) -> Grant:
    """An open grant on the bench's subjects: names in full, ID number and phone masked."""
    return Grant(
        token_hash=token_hash,
        staff_id=staff_id,
        case_type=case_type,
        case_id=1,
        case_label=label,
        policy_key="ticket:default",
        purpose="bench",
        subject_ids=subject_ids,
        fields={"person": {"full": ["name"], "masked": ["id_number", "phone"]}},
        status="active",
        opened_at=datetime.now(UTC),
        expires_at=datetime.now(UTC) + lifetime,
        device_key="0" * 64,
        break_glass=False,
    )


def _bench_case(session: Any, case_id: int, user: Any) -> CaseInfo:
    # the case's own domain answers here (a ticket costs its hall one or two queries more)
    return CaseInfo(BENCH_CASE, case_id, True, True, None, "bench case")


def _read_world(subjects_n: int = 50) -> tuple[int, str, list[int]]:
    """A staff member holding an open case of ``subjects_n`` subjects, and a live grant on it:
    (staff id, grant token, subject ids)."""
    cases.register_case_type(BENCH_CASE, _bench_case)
    token = secrets.token_urlsafe(32)
    with unit_of_work() as s:
        masters = [
            SubjectMaster(
                kind="person", identifier=None, display_name="张三", attributes=ATTRS, provenance={}
            )
            for _ in range(subjects_n)
        ]
        s.add_all(masters)
        staff = auth.create_user(
            session=s, username="bench-reader", password="access-Key-2026", role="window_staff"
        )
        s.flush()
        ids = [m.id for m in masters]
        token_hash = hashlib.sha256(token.encode()).hexdigest()
        s.add(_grant(staff.id, ids, token_hash, BENCH_CASE, "bench case", timedelta(days=1)))
        return staff.id, token, ids


def _read_access(
    world: tuple[int, str, list[int]], grouped: bool, turn: AbstractContextManager[Any]
) -> Callable[[int], None]:
    """One read of one subject as ``GET /api/v1/access/data?subject_id=`` runs it: the
    request's unit of work loads the user; the read is served from a read-only unit of work
    with its entry committed by the group appender (``reads.served``), or — the baseline, the
    route before group commit — in the request's own transaction. ``turn``: on SQLite the
    process's write turn, which a signed-in request holds from its sign-in lookup to its
    response (``core.db.sqlite_write_turn``)."""
    staff_id, token, ids = world

    def access(j: int) -> None:
        subject_id = ids[j % len(ids)]
        with turn, unit_of_work() as request:
            user = request.get(User, staff_id)
            assert user is not None

            def read(s: Any) -> list[service.SubjectView]:
                return service.fetch(session=s, user=user, token=token, subject_id=subject_id)

            views = reads.served(request, read) if grouped else read(request)
        assert len(views) == 1 and views[0].values["name"] == "张三"

    return access


def _concurrent_rate(n: int, callers: int, access: Callable[[int], None]) -> float:
    """``callers`` threads make ``n`` accesses in all, each waiting for its entry's commit."""
    start = threading.Barrier(callers + 1)
    errors: list[BaseException] = []

    def caller(k: int) -> None:
        start.wait()
        try:
            for j in range(k, n, callers):
                access(j)
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(callers)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    if errors:
        raise errors[0]
    return n / seconds


def _entry_count() -> int:
    with unit_of_work(readonly=True) as s:
        return int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def _appends(n: int, callers: int) -> dict[str, Any]:
    """Raw appends and reads through the real read path, each through the group appender
    against one transaction per access, interleaved in two rounds so that load on the
    machine affects all alike."""
    world = _read_world()
    sqlite = get_engine().dialect.name == "sqlite"
    turn: AbstractContextManager[Any] = threading.Lock() if sqlite else nullcontext()
    paths = {
        "raw": (_raw_access(True), _raw_access(False)),
        "read": (_read_access(world, True, turn), _read_access(world, False, turn)),
    }
    rates: dict[tuple[str, bool], list[float]] = {}
    batches: dict[str, int] = {}
    entries = {"read": 0}
    for grouped_access, one_by_one in paths.values():  # warm up every path
        _concurrent_rate(min(200, n), callers, grouped_access)
        _concurrent_rate(min(200, n), callers, one_by_one)
    for _ in range(2):
        for name, (grouped_access, one_by_one) in paths.items():
            rates.setdefault((name, False), []).append(
                _concurrent_rate(n // 2, callers, one_by_one)
            )
            before, count = group.appender().batches, _entry_count()
            rates.setdefault((name, True), []).append(_concurrent_rate(n, callers, grouped_access))
            batches[name] = batches.get(name, 0) + group.appender().batches - before
            if name == "read":
                entries["read"] += _entry_count() - count
    mean = {key: statistics.mean(value) for key, value in rates.items()}
    with unit_of_work(readonly=True) as s:
        chain_ok = audit.verify(session=s).ok
    return {
        "appenders": callers,
        "appends_per_s": round(mean["raw", True], 1),
        "baseline_appends_per_s": round(mean["raw", False], 1),
        "appends_ratio": round(mean["raw", True] / mean["raw", False], 2),
        "entries_per_group_commit": round(2 * n / max(batches["raw"], 1), 1),
        "read_appends_per_s": round(mean["read", True], 1),
        "read_baseline_per_s": round(mean["read", False], 1),
        "read_ratio": round(mean["read", True] / mean["read", False], 2),
        # None on SQLite, where a read's entry commits in the request's transaction
        "read_entries_per_group_commit": (
            round(2 * n / batches["read"], 1) if batches["read"] else None
        ),
        "read_entries_per_access": round(entries["read"] / (2 * n), 3),
        "chain_verifies": chain_ok,
    }


def _append_rate(n: int, batch: int) -> float:
    start = time.perf_counter()
    for k in range(0, n, batch):
        with unit_of_work() as s:
            audit.append(
                session=s,
                entries=[
                    Entry(
                        actor_id=1,
                        actor="bench",
                        action="read",
                        subject_id=j,
                        fields=["id_number", "name"],
                        case_type="ticket",
                        case_id=j,
                    )
                    for j in range(k, min(k + batch, n))
                ],
            )
    return n / (time.perf_counter() - start)


def _bulk_log(n: int) -> None:
    """A log of n entries written fast (bulk inserts), checkpointed like production."""
    with unit_of_work() as s:
        s.execute(delete(AuditEntry))
        s.execute(delete(AuditCheckpoint))
        s.execute(delete(AuditHead))
    chunk = 20_000
    for k in range(0, n, chunk):
        with unit_of_work() as s:
            audit.append(
                session=s,
                entries=[
                    Entry(
                        actor_id=j % 97,
                        actor=f"staff{j % 97}",
                        action="read",
                        subject_id=j,
                        fields=["name"],
                        case_type="ticket",
                        case_id=j // 3,
                        at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=j),
                    )
                    for j in range(k, min(k + chunk, n))
                ],
            )


def _tamper_checks(folder: Path) -> dict[str, bool]:
    found = {}
    cases: dict[str, tuple[Callable[[Any], None], str]] = {
        "modify": (
            lambda s: s.execute(update(AuditEntry).where(AuditEntry.seq == 500).values(actor="x")),
            "modified",
        ),
        "delete": (lambda s: s.execute(delete(AuditEntry).where(AuditEntry.seq == 700)), "deleted"),
        "reorder": (_swap, "reordered"),
        "truncate": (
            lambda s: s.execute(delete(AuditEntry).where(AuditEntry.seq > 1500)),
            "truncated",
        ),
        "truncate_with_checkpoints": (_cut_tail, "anchor_missing"),
        "rewrite_rechain": (_rewrite, "anchor_mismatch"),
        "resign_secret": (_resign_with_secret, "untrusted_key"),
        "wipe": (_wipe, "anchor_missing"),
    }
    for name, (tamper, expected) in cases.items():
        _bulk_log(2_500)  # checkpoints at 1000 and 2000
        with unit_of_work() as s:
            audit.checkpoint_now(session=s)  # and at 2500, exported with the others
        with unit_of_work(readonly=True) as s:
            assert anchor_export.export(session=s, to=folder / name).ok
        with unit_of_work() as s:
            tamper(s)
        with unit_of_work(readonly=True) as s:
            report = audit.verify(session=s, anchor=anchor.read(folder / name))
        found[name] = any(p.kind == expected for p in report.problems)
    return found


def _cut_tail(s: Any) -> None:
    s.execute(delete(AuditEntry).where(AuditEntry.seq > 1500))
    s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.seq > 1500))
    last = s.scalar(select(AuditEntry.hash).where(AuditEntry.seq == 1500))
    s.execute(update(AuditHead).values(seq=1500, hash=last))


def _rewrite(s: Any) -> None:
    """Change entry 10 and recompute every hash after it, as a tamperer who knows the
    format; the checkpoints, which the tamperer cannot sign, are dropped."""
    s.execute(update(AuditEntry).where(AuditEntry.seq == 10).values(actor="x"))
    prev = audit.GENESIS
    for row in s.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
        if row.seq >= 10:
            values = {c: getattr(row, c) for c in audit.CONTENT_FIELDS}
            row.prev_hash, row.hash = prev, audit.entry_hash(prev, values, fmt=row.format)
        prev = row.hash
    s.flush()
    s.execute(delete(AuditCheckpoint))
    s.execute(update(AuditHead).values(hash=prev))


def _resign_with_secret(s: Any) -> None:
    """The rewrite, re-signed with the key the old code derived from the session secret."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from govloop.core.settings import get_settings

    checkpoints = {cp.seq: cp.at for cp in s.scalars(select(AuditCheckpoint))}
    _rewrite(s)
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"govloop-audit", info=b"checkpoint-ed25519"
    ).derive(get_settings().secret_key.encode())
    forged = Ed25519PrivateKey.from_private_bytes(seed)
    key = audit_keys.SigningKey(
        audit_keys.KeyRecord(
            audit_keys.key_id_of(forged.public_key()),
            audit_keys.public_b64(forged.public_key()),
            audit.canonical_at(datetime.now(UTC)),
        ),
        forged,
    )
    audit.register_key(session=s, record=key.record)
    for seq, at in checkpoints.items():
        digest = s.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq))
        s.add(
            AuditCheckpoint(
                seq=seq,
                hash=digest,
                at=at,
                key_id=key.record.key_id,
                signature=key.sign(audit.head_statement(seq, digest, key.record.key_id, at)),
            )
        )


def _wipe(s: Any) -> None:
    for model in (AuditEntry, AuditCheckpoint, AuditHead, AuditKey):
        s.execute(delete(model))


def _swap(s: Any) -> None:
    s.execute(update(AuditEntry).where(AuditEntry.seq == 900).values(seq=-900))
    s.execute(update(AuditEntry).where(AuditEntry.seq == 901).values(seq=900))
    s.execute(update(AuditEntry).where(AuditEntry.seq == -900).values(seq=901))


@contextmanager
def _database(
    tmp: str, backend: str, postgres_url: str | None, appenders: int = APPENDERS
) -> Iterator[Engine]:
    """A fresh, migrated database: a SQLite file in ``tmp`` or a throw-away schema."""
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()
        return
    url = postgres_url or os.environ.get("GOVLOOP_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    schema = f"govloop_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, connect_args={"connect_timeout": 5})
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(
        make_url(url)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False),
        pool_size=appenders + 4,  # the baseline holds one connection per caller
    )
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run(
    *,
    quick: bool = False,
    backend: str = "sqlite",
    postgres_url: str | None = None,
    appends_only: bool = False,
    appenders: int = APPENDERS,
    accesses: int | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """``accesses``: per grouped round (default 10,000, ``quick`` 1,000)."""
    names = ("GOVLOOP_AUDIT_KEY_DIR", "GOVLOOP_AUDIT_ANCHOR_DIR")
    saved = {name: os.environ.get(name) for name in names}
    with (
        tempfile.TemporaryDirectory(prefix="govloop-bench-access-") as tmp,
        _restored(saved),
    ):
        os.environ["GOVLOOP_AUDIT_KEY_DIR"] = str(Path(tmp) / "audit-keys")
        os.environ.pop("GOVLOOP_AUDIT_ANCHOR_DIR", None)  # never append to a real anchor
        audit_keys.keygen()
        with _database(tmp, backend, postgres_url, appenders) as engine:
            set_engine(engine)
            try:
                result = _measure(tmp, backend, quick, appends_only, appenders, accesses, progress)
            finally:
                group.appender().close()  # its connection, before the schema is dropped
                set_engine(None)
    goals = {
        "appends_per_s": result["appends_per_s"] >= 5_000,
        "read_appends_per_s": result["read_appends_per_s"] >= 5_000,
    }
    if not appends_only:
        goals |= {
            "filter_overhead_p99_ms": result["filter_overhead_p99_ms"] <= 1,
            "verify_million_seconds": result["verify_million_seconds"] <= 10,
            "tamper_detected": result["tamper_detected"] == len(result["tamper_cases"]),
        }
    result["goals"] = goals
    return result


@contextmanager
def _restored(saved: dict[str, str | None]) -> Iterator[None]:
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _measure(
    tmp: str,
    backend: str,
    quick: bool,
    appends_only: bool,
    appenders: int,
    accesses: int | None,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    result: dict[str, Any] = {"benchmark": "access", "backend": backend}
    if not appends_only:
        progress("字段过滤开销")
        result |= _filter_overhead(1_000 if quick else 10_000)
    progress("审计日志追加")
    result |= _appends(accesses or (1_000 if quick else 10_000), appenders)
    n_single = min(500 if quick else 5_000, accesses or 5_000)
    result["single_appends_per_s"] = round(_append_rate(n_single, 1), 1)
    result["audit_batch_appends_per_s"] = round(_append_rate(n_single * 5, 500), 1)
    if appends_only:
        return result
    n_verify = 20_000 if quick else 1_000_000
    progress(f"写入 {n_verify} 条审计记录")
    _bulk_log(n_verify)
    progress("校验")
    start = time.perf_counter()
    with unit_of_work(readonly=True) as s:
        report = audit.verify(session=s)
    seconds = time.perf_counter() - start
    assert report.ok and report.entries == n_verify
    result["verify_entries"] = n_verify
    result["verify_seconds"] = round(seconds, 3)
    result["verify_million_seconds"] = round(seconds * 1_000_000 / n_verify, 3)
    result["verify_million_measured"] = n_verify == 1_000_000
    result["checkpoints_per_million"] = round(report.checkpoints * 1_000_000 / n_verify)
    progress("篡改检测")
    detected = _tamper_checks(Path(tmp) / "anchors")
    result["tamper_detected"] = sum(detected.values())
    result["tamper_cases"] = detected
    return result
