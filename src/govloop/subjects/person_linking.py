"""Person records into person masters, under the hard constraints (``identity.py``).

An increment: new records whose valid ID already has a master join it. Every other new
record is scored (the matcher: Splink) against the records already linked and against the
other new records; the scored pairs are clustered with the masters they touch as anchored
clusters (``clustering.constrained_clusters``): a record joins a master only when it agrees
with the master's surviving identity and breaks no constraint with any of its records, and
a new record never joins two masters into one. Afterwards every touched master is checked
again; one that breaks a constraint (a legacy merge, an ID number that arrived later) is
split at its weakest links, the largest part keeping the id.

A full relink (``relink_persons``) clusters every person record again, keeping the records a
steward placed where they are and every "not the same person" decision, and gives each
cluster the master it overlaps most, so ids stay stable.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.ingest import records as ingest_records
from govloop.ingest.records import StoredRecord
from govloop.subjects import identifiers as ids
from govloop.subjects.clustering import ClusterResult, Refusal, constrained_clusters
from govloop.subjects.identity import (
    CONFLICT_LABELS,
    PersonKey,
    dob_level,
    hard_conflict,
    identity_agrees,
    name_level,
    person_key,
)
from govloop.subjects.models import (
    DecisionKind,
    LinkMethod,
    SubjectDecision,
    SubjectLink,
    SubjectMaster,
)
from govloop.subjects.references import repoint_references
from govloop.subjects.stewardship import cannot_link_pairs

# new rows and linked rows (dicts of ``person_row``) → scored pairs (key_a, key_b, p): new
# against linked, and new against new
Matcher = Callable[[list[dict[str, Any]], list[dict[str, Any]]], list[tuple[str, str, float]]]
THRESHOLD = 0.9  # linkage.DEFAULT_THRESHOLD (not imported: it loads pandas)


def record_key(record_id: int) -> str:
    return f"r{record_id}"


def record_id_of(key: str) -> int:
    return int(key[1:])


def person_row(key: str, payload: dict[str, Any], source: str = "") -> dict[str, Any]:
    """The columns the person matcher compares."""
    id_check = ids.check_resident_id(str(payload.get("id_number") or ""))
    return {
        "record_key": key,
        "source": source,
        "name": payload.get("name") or "",
        "birth_date": payload.get("birth_date"),
        "sex": payload.get("sex"),
        "phone": payload.get("phone"),
        "address": payload.get("address"),
        "id_number": id_check.value if id_check.valid else None,
    }


def cannot_links(session: Session, record_ids: Iterable[int]) -> list[tuple[str, str]]:
    """The stewards' "not the same person" pairs touching these records, as record keys."""
    pairs = cannot_link_pairs(session, record_ids)
    return [(record_key(a), record_key(b)) for a, b in sorted(pairs)]


def _person_links(session: Session) -> list[tuple[int, int, str]]:
    return [
        (record_id, master_id, method)
        for record_id, master_id, method in session.execute(
            select(SubjectLink.record_id, SubjectLink.master_id, SubjectLink.method)
            .join(SubjectMaster, SubjectMaster.id == SubjectLink.master_id)
            .where(SubjectMaster.kind == "person")
        ).all()
    ]


def _keep_agreeing(
    pairs: Iterable[tuple[str, str, float]], persons: dict[str, PersonKey], threshold: float
) -> list[tuple[str, str, float]]:
    """Pairs at or above the threshold whose name and birth date agree: a shared phone or
    address alone never links two records (that is what a family shares)."""
    return [
        (a, b, p)
        for a, b, p in pairs
        if p >= threshold
        and a in persons
        and b in persons
        and identity_agrees(persons[a], persons[b])
    ]


def _same_valid_id_pairs(persons: Iterable[PersonKey]) -> list[tuple[str, str, float]]:
    first: dict[str, str] = {}
    out = []
    for p in persons:
        if p.id_number:
            if p.id_number in first:
                out.append((first[p.id_number], p.key, 1.0))
            else:
                first[p.id_number] = p.key
    return out


class PersonLinker:
    """One increment or relink within one session (``linking.link_new_records`` calls it)."""

    def __init__(self, session: Session, stamp: datetime, new_master: Callable[..., int]):
        self.session = session
        self.stamp = stamp
        self.new_master = new_master  # (record, identifier) → master id
        self.touched: set[int] = set()
        self.new_masters = 0
        self.probabilistic = 0
        self.by_identifier = 0

    # --- an increment ------------------------------------------------------------------

    def link_increment(self, records: list[StoredRecord], matcher: Matcher) -> None:
        links = _person_links(self.session)
        master_of = {record_key(r): m for r, m, _ in links}
        existing = ingest_records.records_by_id(session=self.session, ids=[r for r, _, _ in links])
        existing_rows = [
            person_row(record_key(r.id), r.payload, r.source_key) for r in existing.values()
        ]
        new_rows = [person_row(record_key(r.id), r.payload, r.source_key) for r in records]
        scored = matcher(new_rows, existing_rows) if new_rows else []
        new_persons = {record_key(r.id): person_key(record_key(r.id), r.payload) for r in records}
        # the masters the scored pairs reach: their records start as anchored clusters
        reached = {master_of[k] for a, b, _ in scored for k in (a, b) if k in master_of}
        members: dict[int, list[str]] = defaultdict(list)
        for key, master_id in master_of.items():
            if master_id in reached:
                members[master_id].append(key)
        anchored = {
            key: person_key(key, existing[record_id_of(key)].payload)
            for keys in members.values()
            for key in keys
            if record_id_of(key) in existing
        }
        persons = {**anchored, **new_persons}
        pairs = _keep_agreeing(scored, persons, THRESHOLD)
        pairs += _same_valid_id_pairs(new_persons.values())
        result = constrained_clusters(
            list(persons.values()),
            pairs,
            cannot_link=cannot_links(self.session, [record_id_of(k) for k in persons]),
            anchors={key: f"m{master_of[key]}" for key in anchored},
        )
        best = _best_probability(pairs)
        by_record = {record_key(r.id): r for r in records}
        cluster_master: dict[str, int] = {}
        for label, keys in sorted(result.groups().items()):
            fresh = sorted((k for k in keys if k in by_record), key=record_id_of)
            if not fresh:
                continue
            anchored_to = int(label[1:]) if label.startswith("m") else None
            if anchored_to is None:
                valid = {persons[k].id_number for k in keys if persons[k].id_number}
                master_id = self.new_master(
                    by_record[fresh[0]], valid.pop() if len(valid) == 1 else None
                )
                self.new_masters += 1
            else:
                master_id = anchored_to
            cluster_master[label] = master_id
            id_counts = Counter(persons[k].id_number for k in keys if persons[k].id_number)
            for i, key in enumerate(fresh):
                own_id = persons[key].id_number
                if anchored_to is None and i == 0:
                    method = LinkMethod.NEW  # the master carries its valid ID, if it has one
                    self.by_identifier += bool(own_id)
                elif own_id and id_counts[own_id] > 1:
                    method = LinkMethod.IDENTIFIER  # another record of it has this valid ID
                    self.by_identifier += 1
                else:
                    method = LinkMethod.PROBABILISTIC
                    self.probabilistic += 1
                probability = None if method == LinkMethod.IDENTIFIER else best.get(key)
                self._link(record_id_of(key), master_id, method, probability)
            self.touched.add(master_id)
        self.session.flush()
        self._record_refusals(result, cluster_master, master_of)
        self._claim_identifiers(sorted(cluster_master.values()))

    def _link(self, record_id: int, master_id: int, method: str, p: float | None) -> None:
        self.session.add(
            SubjectLink(
                record_id=record_id,
                master_id=master_id,
                method=method,
                probability=p,
                linked_at=self.stamp,
            )
        )

    def _record_refusals(
        self, result: ClusterResult, cluster_master: dict[str, int], master_of: dict[str, int]
    ) -> None:
        """A link the hard constraints refused is written down on the masters it concerned."""

        def master(key: str) -> int | None:
            label = result.labels.get(key)
            return cluster_master.get(label or "") or master_of.get(key)

        seen: set[tuple[int, int, str]] = set()
        for refusal in result.refused:
            if refusal.reason not in CONFLICT_LABELS:
                continue
            a, b = master(refusal.key_a), master(refusal.key_b)
            if a is None or b is None or (a, b, refusal.reason) in seen:
                continue
            seen.add((a, b, refusal.reason))
            self.session.add(_refusal_decision(refusal, a, b, self.stamp))

    def _claim_identifiers(self, master_ids: list[int]) -> None:
        """A master without an identifier takes the valid ID its records now carry (the ID
        record arrived after the others), when no other master holds it."""
        if not master_ids:
            return
        masters = self.session.scalars(
            select(SubjectMaster).where(
                SubjectMaster.id.in_(master_ids), SubjectMaster.identifier.is_(None)
            )
        ).all()
        for master in masters:
            valid = {p.id_number for p in self._persons_of(master.id) if p.id_number}
            if len(valid) != 1:
                continue
            identifier = valid.pop()
            taken = self.session.scalar(
                select(SubjectMaster.id).where(
                    SubjectMaster.kind == "person", SubjectMaster.identifier == identifier
                )
            )
            if taken is None:
                master.identifier = identifier
                self.session.flush()

    def _persons_of(self, master_id: int) -> list[PersonKey]:
        record_ids = self.session.scalars(
            select(SubjectLink.record_id).where(SubjectLink.master_id == master_id)
        ).all()
        stored = ingest_records.records_by_id(session=self.session, ids=list(record_ids))
        return [person_key(record_key(r.id), r.payload) for r in stored.values()]

    # --- re-checking masters -------------------------------------------------------------

    def recheck(self, master_ids: Iterable[int]) -> list[int]:
        """Split every one of these masters that breaks a hard constraint; returns the new
        masters. The largest part keeps the master's id."""
        created: list[int] = []
        for master_id in sorted(set(master_ids)):
            persons = self._persons_of(master_id)
            parts = consistent_parts(
                persons,
                cannot_links(self.session, [record_id_of(p.key) for p in persons]),
            )
            if len(parts) <= 1:
                continue
            created.extend(self._split(master_id, parts, persons))
        return created

    def _split(self, master_id: int, parts: list[list[str]], persons: list[PersonKey]) -> list[int]:
        parts = sorted(parts, key=lambda keys: (-len(keys), min(map(record_id_of, keys))))
        created = []
        reasons = _violations(persons)
        for keys in parts[1:]:
            record_ids = sorted(record_id_of(k) for k in keys)
            stored = ingest_records.records_by_id(session=self.session, ids=record_ids[:1])
            new_id = self.new_master(stored[record_ids[0]], None)
            for link in self.session.scalars(
                select(SubjectLink).where(SubjectLink.record_id.in_(record_ids))
            ):
                link.master_id = new_id
            self.session.add(
                SubjectDecision(
                    kind=DecisionKind.AUTO_SPLIT,
                    master_id=master_id,
                    other_master_id=new_id,
                    record_ids=record_ids,
                    reason="；".join(CONFLICT_LABELS[r] for r in reasons)[:500] or "自动拆分",
                    actor_id=None,
                    details={"reasons": reasons},
                    created_at=self.stamp,
                )
            )
            created.append(new_id)
            self.new_masters += 1
            self.touched.add(new_id)
        self.touched.add(master_id)
        self.session.flush()
        master = self.session.get(SubjectMaster, master_id)
        had = master.identifier if master else None
        # each part takes its own valid ID (the master's may now belong to a new part)
        self._reassign_identifiers([master_id, *created])
        if had:
            # cases were attached by ID number: they follow the part that carries it
            for new_id in created:
                holder = self.session.get(SubjectMaster, new_id)
                if holder is not None and holder.identifier == had:
                    repoint_references(self.session, master_id, new_id)
        return created

    # --- a full relink -------------------------------------------------------------------

    def relink_all(self, matcher: Matcher) -> dict[str, int]:
        """Cluster every person record again (see the module's description)."""
        links = _person_links(self.session)
        if not links:
            return {"records": 0, "moved": 0, "new_masters": 0}
        stored = ingest_records.records_by_id(session=self.session, ids=[r for r, _, _ in links])
        rows = [person_row(record_key(r.id), r.payload, r.source_key) for r in stored.values()]
        persons = {
            record_key(r.id): person_key(record_key(r.id), r.payload) for r in stored.values()
        }
        current = {record_key(r): m for r, m, _ in links}
        pinned = {record_key(r): f"m{m}" for r, m, method in links if method == LinkMethod.STEWARD}
        pairs = _keep_agreeing(matcher(rows, []), persons, THRESHOLD)
        pairs += _same_valid_id_pairs(persons.values())
        result = constrained_clusters(
            list(persons.values()),
            pairs,
            cannot_link=cannot_links(self.session, [r for r, _, _ in links]),
            anchors=pinned,
        )
        assignment = _assign_masters(result.groups(), current)
        moved: dict[tuple[int, int], list[int]] = defaultdict(list)
        for label, keys in result.groups().items():
            target = assignment.get(label)
            for key in sorted(keys, key=record_id_of):
                if target is None:
                    first = stored[record_id_of(key)]
                    target = self.new_master(first, None)
                    self.new_masters += 1
                if current[key] != target:
                    moved[(current[key], target)].append(record_id_of(key))
                self.touched.add(current[key])
                self.touched.add(target)
        changed = [r for ids_ in moved.values() for r in ids_]
        target_of = {r: t for (_, t), ids_ in moved.items() for r in ids_}
        for link in self.session.scalars(
            select(SubjectLink).where(SubjectLink.record_id.in_(changed or [-1]))
        ):
            link.master_id = target_of[link.record_id]
            link.method = LinkMethod.PROBABILISTIC
            link.linked_at = self.stamp
        for (source, target), record_ids in moved.items():
            self.session.add(
                SubjectDecision(
                    kind=DecisionKind.RELINK,
                    master_id=source,
                    other_master_id=target,
                    record_ids=sorted(record_ids),
                    reason="全量重新关联：记录归入与其身份一致的主记录",
                    actor_id=None,
                    details={"relink": True},
                    created_at=self.stamp,
                )
            )
        self.session.flush()
        before = {
            master_id: str(identifier)
            for master_id, identifier in self.session.execute(
                select(SubjectMaster.id, SubjectMaster.identifier).where(
                    SubjectMaster.id.in_(sorted(self.touched)),
                    SubjectMaster.identifier.is_not(None),
                )
            ).all()
        }
        self._reassign_identifiers(sorted(self.touched))
        self._follow_identifiers(before)
        return {"records": len(links), "moved": len(changed), "new_masters": self.new_masters}

    def _follow_identifiers(self, before: dict[int, str]) -> None:
        """Cases and grants follow the ID number they were attached by to its new master."""
        if not before:
            return
        now_held = dict(
            self.session.execute(
                select(SubjectMaster.identifier, SubjectMaster.id).where(
                    SubjectMaster.kind == "person",
                    SubjectMaster.identifier.in_(sorted(before.values())),
                )
            ).all()
        )
        for old_id, identifier in before.items():
            new_id = now_held.get(identifier)
            if new_id is not None and new_id != old_id:
                repoint_references(self.session, old_id, new_id)

    def _reassign_identifiers(self, master_ids: list[int]) -> None:
        masters = self.session.scalars(
            select(SubjectMaster).where(SubjectMaster.id.in_(master_ids))
        ).all()
        wanted: dict[int, str | None] = {}
        for master in masters:
            valid = {p.id_number for p in self._persons_of(master.id) if p.id_number}
            wanted[master.id] = valid.pop() if len(valid) == 1 else None
        for master in masters:
            if master.identifier != wanted[master.id]:
                master.identifier = None
        self.session.flush()
        for master in masters:
            if wanted[master.id] and master.identifier is None:
                master.identifier = wanted[master.id]
        self.session.flush()


def _best_probability(pairs: list[tuple[str, str, float]]) -> dict[str, float]:
    best: dict[str, float] = {}
    for a, b, p in pairs:
        for key in (a, b):
            if p > best.get(key, 0.0):
                best[key] = p
    return best


def _assign_masters(groups: dict[str, list[str]], current: dict[str, int]) -> dict[str, int]:
    """Cluster label → the master it keeps: anchored clusters their anchor, the others the
    master they share most records with (the largest overlaps first, each master once)."""
    assignment: dict[str, int] = {}
    used: set[int] = set()
    for label in groups:
        if label.startswith("m"):
            assignment[label] = int(label[1:])
            used.add(int(label[1:]))
    overlaps = sorted(
        (
            (-count, master_id, label)
            for label, keys in groups.items()
            if label not in assignment
            for master_id, count in Counter(current[k] for k in keys).items()
        ),
    )
    for _, master_id, label in overlaps:
        if label in assignment or master_id in used:
            continue
        assignment[label] = master_id
        used.add(master_id)
    return assignment


def _pair_strength(a: PersonKey, b: PersonKey) -> float:
    """How strongly two records of one master hold together, for splitting it at its
    weakest links (no model needed: the records were already judged one person)."""
    if a.id_number and a.id_number == b.id_number:
        return 1.0
    names = {"exact": 0.5, "homophone": 0.4, "one_char": 0.2}.get(name_level(a, b), 0.0)
    dobs = {"exact": 0.3, "swap": 0.2, "typo": 0.2, "missing": 0.1}.get(
        dob_level(a.dob, b.dob), 0.0
    )
    return names + dobs


def consistent_parts(
    persons: list[PersonKey], cannot_link: Iterable[tuple[str, str]] = ()
) -> list[list[str]]:
    """The records of one master as parts that break no hard constraint (one part when the
    master is consistent)."""
    if len(persons) < 2:
        return [[p.key for p in persons]]
    pairs = [
        (a.key, b.key, _pair_strength(a, b))
        for i, a in enumerate(persons)
        for b in persons[i + 1 :]
    ]
    result = constrained_clusters(persons, pairs, cannot_link=cannot_link, require_identity=False)
    return list(result.groups().values())


def _violations(persons: list[PersonKey]) -> list[str]:
    found = {
        reason
        for i, a in enumerate(persons)
        for b in persons[i + 1 :]
        if (reason := hard_conflict(a, b))
    }
    return sorted(found)


def _refusal_decision(refusal: Refusal, master_a: int, master_b: int, at: datetime) -> Any:
    return SubjectDecision(
        kind=DecisionKind.REFUSED,
        master_id=master_a,
        other_master_id=master_b if master_b != master_a else None,
        record_ids=sorted({record_id_of(refusal.key_a), record_id_of(refusal.key_b)}),
        reason=CONFLICT_LABELS[refusal.reason],
        actor_id=None,
        details={"probability": round(refusal.probability, 4), "rule": refusal.reason},
        created_at=at,
    )
