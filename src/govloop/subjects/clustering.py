"""Clustering scored record pairs into persons under cannot-link constraints.

Connected components over pairwise links chain households together: the husband links to
the wife through a shared phone, the wife to her twin children through the address. Here
pairs are taken strongest first, and two clusters merge only when

- no record of one has a hard conflict with a record of the other (``identity.hard_conflict``:
  two valid IDs, a sex from an ID, birth dates no typo explains), and no pair across them
  was marked "not the same person";
- the surviving identities of the two clusters (their most common name and birth date, the
  valid ID if any) agree (``identity.identity_agrees``): a record joins a master because it
  matches the master, not merely one of its records.

A link refused by these rules is the weakest link of what would have been an impossible
cluster; every refusal is returned with its reason so that it can be recorded.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from govloop.subjects.identity import PersonKey, dob_level, hard_conflict, identity_agrees


@dataclass(frozen=True)
class Refusal:
    key_a: str
    key_b: str
    probability: float
    # a hard-conflict code (identity.CONFLICT_LABELS), "two_masters" or "identity"
    reason: str


@dataclass
class ClusterResult:
    # record key → cluster label (the anchor, else the smallest key of the cluster)
    labels: dict[str, str]
    refused: list[Refusal] = field(default_factory=list)

    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for key, label in self.labels.items():
            out[label].append(key)
        return dict(out)


class _Cluster:
    __slots__ = ("dobs", "ids", "indices", "members", "names", "sexes")

    def __init__(self, index: int, person: PersonKey) -> None:
        self.indices = [index]
        self.members = [person]
        self.ids = {person.id_number} if person.id_number else set()
        self.sexes = {person.sex} if person.sex else set()
        self.dobs: Counter[str] = Counter([person.dob] if person.dob else [])
        self.names: Counter[tuple[str, str]] = Counter(
            [(person.name, person.name_py or "")] if person.name else []
        )

    def identities(self) -> list[PersonKey]:
        """The cluster's surviving identity: its most common name (every name tied for
        most common, so that the order records arrived in decides nothing) and birth date."""
        ids = sorted(self.ids)
        dob = self.dobs.most_common(1)[0][0] if self.dobs else None
        sex = next(iter(self.sexes)) if len(self.sexes) == 1 else None
        top = max(self.names.values(), default=0)
        names: list[tuple[str | None, str]] = [
            n for n, count in self.names.items() if count == top
        ] or [(None, "")]
        return [
            PersonKey(
                key="",
                name=name,
                name_py=py or None,
                dob=dob,
                sex=sex,
                sex_from_id=bool(ids),
                id_number=ids[0] if len(ids) == 1 else None,
            )
            for name, py in names
        ]

    def absorb(self, other: _Cluster) -> None:
        self.indices.extend(other.indices)
        self.members.extend(other.members)
        self.ids |= other.ids
        self.sexes |= other.sexes
        self.dobs.update(other.dobs)
        self.names.update(other.names)


def merge_refusal(a: _Cluster, b: _Cluster, *, require_identity: bool = True) -> str | None:
    """Why clusters ``a`` and ``b`` cannot be one person, or None."""
    if len(a.ids | b.ids) > 1:
        return "two_valid_ids"
    if len(a.sexes | b.sexes) > 1:
        return "sex"
    for x in a.dobs:
        for y in b.dobs:
            if dob_level(x, y) == "far":
                return "birth_date"
    if (a.ids and a.ids == b.ids) or not require_identity:
        return None  # the same valid ID: one person, whatever the names say
    if _independently_different_names(a, b):
        return "identity"
    agree = any(
        not hard_conflict(ia, ib) and identity_agrees(ia, ib)
        for ia in a.identities()
        for ib in b.identities()
    )
    return None if agree else "identity"


def _independently_different_names(a: _Cluster, b: _Cluster) -> bool:
    """Both clusters spell the name the same way in at least two records each, and the two
    spellings differ (李思锋 twice, 李思峰 twice): a typo is one clerk's slip, not two
    departments agreeing on it, so these are two people whose names sound alike (twins)."""
    top_a = max(a.names.values(), default=0)
    top_b = max(b.names.values(), default=0)
    if top_a < 2 or top_b < 2:
        return False
    names_a = {n for (n, _), count in a.names.items() if count == top_a}
    names_b = {n for (n, _), count in b.names.items() if count == top_b}
    return not names_a & names_b


def constrained_clusters(
    persons: Sequence[PersonKey],
    pairs: Iterable[tuple[str, str, float]],
    *,
    cannot_link: Iterable[tuple[str, str]] = (),
    anchors: dict[str, str] | None = None,
    require_identity: bool = True,
) -> ClusterResult:
    """Cluster ``persons`` (every record, singletons too) from scored ``pairs`` (key_a,
    key_b, probability), strongest first, never breaking a constraint.

    ``anchors`` (record key → master label) start the records of existing masters together;
    two anchored clusters never merge (a new record does not join two masters into one).
    ``require_identity=False`` checks the hard constraints only (re-checking a master).
    """
    index = {p.key: i for i, p in enumerate(persons)}
    parent = list(range(len(persons)))
    clusters: dict[int, _Cluster] = {i: _Cluster(i, p) for i, p in enumerate(persons)}
    anchor_of: dict[int, str] = {}
    first_of_anchor: dict[str, int] = {}
    for key, label in (anchors or {}).items():
        if key not in index:
            continue
        i = index[key]
        if label in first_of_anchor:
            root = first_of_anchor[label]
            parent[i] = root
            clusters[root].absorb(clusters.pop(i))
        else:
            first_of_anchor[label] = i
            anchor_of[i] = label
    apart: dict[int, set[int]] = defaultdict(set)
    for a, b in cannot_link:
        if a in index and b in index:
            apart[index[a]].add(index[b])
            apart[index[b]].add(index[a])

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    refused: list[Refusal] = []
    for key_a, key_b, probability in sorted(pairs, key=lambda p: -p[2]):
        if key_a not in index or key_b not in index:
            continue
        ra, rb = find(index[key_a]), find(index[key_b])
        if ra == rb:
            continue
        ca, cb = clusters[ra], clusters[rb]
        small, other_root = (ca, rb) if len(ca.indices) <= len(cb.indices) else (cb, ra)
        apart_across = any(find(j) == other_root for i in small.indices for j in apart.get(i, ()))
        if apart_across:
            reason: str | None = "not_same"
        elif ra in anchor_of and rb in anchor_of:
            reason = "two_masters"
        else:
            reason = merge_refusal(ca, cb, require_identity=require_identity)
        if reason:
            refused.append(Refusal(key_a, key_b, float(probability), reason))
            continue
        if len(ca.members) < len(cb.members):
            ra, rb, ca, cb = rb, ra, cb, ca
        parent[rb] = ra
        ca.absorb(cb)
        del clusters[rb]
        if rb in anchor_of:
            anchor_of[ra] = anchor_of.pop(rb)
    labels: dict[str, str] = {}
    for root, cluster in clusters.items():
        label = anchor_of.get(root) or min(p.key for p in cluster.members)
        for p in cluster.members:
            labels[p.key] = label
    return ClusterResult(labels, refused)
