"""Knowledge graph (知识图谱): persons, enterprises, projects, service items, departments,
halls, windows, staff and work orders, and the relations between them, built with
networkx from ``catalog/sources.py`` on demand (so it never drifts from the data).

Relations are stored once, with the direction they are read in (``source`` → ``target``);
neighbourhood and path queries treat the graph as undirected.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import networkx as nx
from sqlalchemy.orm import Session

from govloop.catalog import sources
from govloop.catalog.entities import ENTITY_TYPES, entity_id, mask_id_number, parse_entity
from govloop.core.errors import NotFound
from govloop.core.i18n import N_

RELATIONS: dict[str, str] = {
    "legal_rep": N_("Legal representative"),  # 法定代表人: enterprise → person
    "project_owner": N_("Project owner"),  # 项目单位: project → enterprise
    "applied_for": N_("Applied for"),  # 申办: person → item
    "handled_by": N_("Handled by"),  # 办理人: person / order → staff
    "filed": N_("Filed"),  # 反映: person → order
    "order_department": N_("Handling unit"),  # 承办单位: order → department
    "item_department": N_("Responsible department"),  # 主管部门: item → department
    "located_at": N_("Located at"),  # 位于: window → hall
    "serves_item": N_("Can handle"),  # 可办理: window → item
    "staffed_by": N_("Staffed by"),  # 在岗: window → staff
}
MAX_DEPTH = 3
MAX_NODES = 150


def _add_edge(g: nx.MultiGraph, a: str, b: str, relation: str, count: int = 1) -> None:
    if a not in g or b not in g:
        return
    if g.has_edge(a, b, key=relation):
        g.edges[a, b, relation]["count"] += count
    else:
        g.add_edge(a, b, key=relation, relation=relation, source=a, target=b, count=count)


def build_graph(*, session: Session) -> nx.MultiGraph:
    g: nx.MultiGraph = nx.MultiGraph()
    people = sources.persons(session=session)
    index = sources.SubjectIndex.build(people)
    for p in people:
        g.add_node(
            entity_id("person", p.key),
            type="person",
            key=p.key,
            label=p.name,
            detail={
                "id_number": mask_id_number(p.id_number),
                "phone": mask_id_number(p.phone),
                "sex": p.sex,
                "birth_date": p.birth_date.isoformat() if p.birth_date else None,
            },
        )
    firms = sources.enterprises(session=session)
    for e in firms:
        g.add_node(
            entity_id("enterprise", e.key),
            type="enterprise",
            key=e.key,
            label=e.name,
            detail={"credit_code": e.credit_code, "address": e.address},
        )
    for e in firms:
        rep_id = e.legal_rep_id_number
        if rep_id and sources.valid_id_number(rep_id):
            rep = entity_id("person", rep_id.upper())
            if rep not in g:
                # The enterprise record names its representative: a person, even if no
                # population record of them has arrived yet.
                g.add_node(
                    rep,
                    type="person",
                    key=rep_id.upper(),
                    label=e.legal_rep_name or rep_id,
                    detail={"id_number": mask_id_number(rep_id)},
                )
            _add_edge(g, entity_id("enterprise", e.key), rep, "legal_rep")
    for pr in sources.projects(session=session):
        node = entity_id("project", pr.key)
        g.add_node(node, type="project", key=pr.key, label=pr.name, detail={"address": pr.address})
        if pr.enterprise_credit_code:
            _add_edge(g, node, entity_id("enterprise", pr.enterprise_credit_code), "project_owner")

    org = sources.organisation(session=session)
    for _id, (code, name) in org.departments.items():
        g.add_node(entity_id("department", code), type="department", key=code, label=name)
    for _id, (code, name) in org.halls.items():
        g.add_node(entity_id("hall", code), type="hall", key=code, label=name)
    for code, (name, dept_id) in org.items.items():
        g.add_node(entity_id("item", code), type="item", key=code, label=name)
        if dept_id in org.departments:
            dept = entity_id("department", org.departments[dept_id][0])
            _add_edge(g, entity_id("item", code), dept, "item_department")
    for username, name in org.staff.items():
        g.add_node(entity_id("staff", username), type="staff", key=username, label=name)
    for wid, (hall_id, _number, name, staff) in org.windows.items():
        node = entity_id("window", str(wid))
        hall_code = org.halls[hall_id][0]
        g.add_node(node, type="window", key=str(wid), label=f"{name}", detail={"hall": hall_code})
        _add_edge(g, node, entity_id("hall", hall_code), "located_at")
        if staff:
            _add_edge(g, node, entity_id("staff", staff), "staffed_by")
    for wid, code in org.window_items:
        _add_edge(g, entity_id("window", str(wid)), entity_id("item", code), "serves_item")

    applied: Counter[tuple[str, str]] = Counter()
    served: Counter[tuple[str, str]] = Counter()
    for v in sources.visits(session=session):
        key = index.person_for_phone(v.phone)
        if key is None:
            continue
        person = entity_id("person", key)
        applied[(person, entity_id("item", v.item_code))] += 1
        if v.staff_username:
            served[(person, entity_id("staff", v.staff_username))] += 1
    for (a, b), n in applied.items():
        _add_edge(g, a, b, "applied_for", n)
    for (a, b), n in served.items():
        _add_edge(g, a, b, "handled_by", n)

    for c in sources.hotline_calls(session=session):
        node = entity_id("order", c.number)
        g.add_node(node, type="order", key=c.number, label=c.title, detail={"status": c.status})
        key = index.person_for_phone(c.phone) if c.phone else None
        if key:
            _add_edge(g, entity_id("person", key), node, "filed")
        if c.department_code:
            _add_edge(g, node, entity_id("department", c.department_code), "order_department")
        if c.handler_username:
            _add_edge(g, node, entity_id("staff", c.handler_username), "handled_by")
    return g


@dataclass(frozen=True)
class GraphView:
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    center: str | None = None
    total_nodes: int = 0
    truncated: bool = False
    build_ms: float = 0.0


def _node_out(g: nx.MultiGraph, node: str, distance: int | None = None) -> dict[str, Any]:
    data = g.nodes[node]
    out = {
        "id": node,
        "type": data["type"],
        "key": data["key"],
        "label": data["label"],
        "degree": g.degree(node),
        "detail": {k: v for k, v in data.get("detail", {}).items() if v},
    }
    if distance is not None:
        out["distance"] = distance
    return out


def _edges_out(g: nx.MultiGraph, keep: set[str]) -> list[dict[str, Any]]:
    return [
        {
            "source": d["source"],
            "target": d["target"],
            "relation": d["relation"],
            "count": d["count"],
        }
        for a, b, d in g.edges(data=True)
        if a in keep and b in keep
    ]


def _require_node(g: nx.MultiGraph, value: str) -> str:
    kind, key = parse_entity(value)
    node = entity_id(kind, key)
    if node not in g:
        raise NotFound(f"知识图谱中没有该实体：{node}", code="unknown_entity")
    return node


def neighborhood(
    *, session: Session, entity: str, depth: int = 2, max_nodes: int = MAX_NODES
) -> GraphView:
    """The entity and everything within ``depth`` hops; nearest (then best connected)
    nodes first when there are more than ``max_nodes``, and the view says so."""
    parse_entity(entity)  # a malformed id is refused before any work
    started = time.perf_counter()
    g = build_graph(session=session)
    center = _require_node(g, entity)
    distances = nx.single_source_shortest_path_length(g, center, cutoff=depth)
    ranked = sorted(distances, key=lambda n: (distances[n], -g.degree(n), n))
    keep = ranked[:max_nodes]
    kept = set(keep)
    return GraphView(
        nodes=[_node_out(g, n, distances[n]) for n in keep],
        edges=_edges_out(g, kept),
        center=center,
        total_nodes=len(distances),
        truncated=len(distances) > len(keep),
        build_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def path(*, session: Session, source: str, target: str) -> GraphView:
    """A shortest chain of relations between two entities; no nodes when none exists."""
    parse_entity(source)
    parse_entity(target)
    started = time.perf_counter()
    g = build_graph(session=session)
    a, b = _require_node(g, source), _require_node(g, target)
    try:
        chain = nx.shortest_path(g, a, b)
    except nx.NetworkXNoPath:
        chain = []
    edges = []
    for x, y in itertools.pairwise(chain):
        first = min(g.get_edge_data(x, y).values(), key=lambda d: d["relation"])
        edges.append(
            {
                "source": first["source"],
                "target": first["target"],
                "relation": first["relation"],
                "count": first["count"],
            }
        )
    return GraphView(
        nodes=[_node_out(g, n, i) for i, n in enumerate(chain)],
        edges=edges,
        center=a,
        total_nodes=len(chain),
        build_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def search(*, session: Session, query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Entities whose name contains the query or whose key starts with it."""
    text = query.strip()
    if not text:
        return []
    g = build_graph(session=session)
    found = [
        n
        for n, d in g.nodes(data=True)
        if text in d["label"] or str(d["key"]).upper().startswith(text.upper())
    ]
    found.sort(key=lambda n: (list(ENTITY_TYPES).index(g.nodes[n]["type"]), -g.degree(n), n))
    return [_node_out(g, n) for n in found[:limit]]


def stats(*, session: Session) -> dict[str, Any]:
    started = time.perf_counter()
    g = build_graph(session=session)
    return {
        "nodes": g.number_of_nodes(),
        "edges": g.number_of_edges(),
        "by_type": dict(Counter(d["type"] for _n, d in g.nodes(data=True))),
        "by_relation": dict(Counter(d["relation"] for _a, _b, d in g.edges(data=True))),
        "build_ms": round((time.perf_counter() - started) * 1000, 1),
    }


def starting_entity(*, session: Session) -> str | None:
    """Where the graph page opens: the best-connected enterprise (its legal representative,
    projects and departments make a readable first picture), else any entity."""
    g = build_graph(session=session)
    enterprises = [n for n, d in g.nodes(data=True) if d["type"] == "enterprise"]
    pool = enterprises or list(g.nodes)
    return max(pool, key=lambda n: (g.degree(n), n)) if pool else None
