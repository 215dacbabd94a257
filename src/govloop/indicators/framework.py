"""Loading and validating an indicator framework file (YAML).

Every problem is reported with the file, the line and the indicator it concerns; a file
with any problem is refused whole, so the framework in force stays as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from govloop.core.errors import BadRequest
from govloop.indicators import formula as fml
from govloop.indicators.measures import MEASURES, RELATIONS
from govloop.indicators.schemas import SERVQUAL_DIMENSIONS, FrameworkFile, IndicatorSpec

DEFAULT_FRAMEWORK_PATH = Path(__file__).resolve().parent / "frameworks" / "default.yaml"
WEIGHT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    indicator: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        what = f" indicator {self.indicator}:" if self.indicator else ""
        return f"{where}:{what} {self.message}"


class FrameworkInvalid(BadRequest):
    code = "framework_invalid"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "；".join(str(p) for p in problems[:5])
        more = f"（另有 {len(problems) - 5} 处）" if len(problems) > 5 else ""
        super().__init__(
            f"指标体系文件有误：{shown}{more}",
            problems=[
                {"file": p.file, "line": p.line, "indicator": p.indicator, "message": p.message}
                for p in problems
            ],
        )


# --- the compiled framework ------------------------------------------------------------


@dataclass
class Node:
    code: str
    spec: IndicatorSpec | None  # None for a dimension
    dimension: str
    weight: float  # normalized: siblings add up to 1
    children: list[Node] = field(default_factory=list)
    tree: fml.Node | None = None
    measures: tuple[fml.MeasureRef, ...] = ()
    applies_to: frozenset[str] = frozenset()

    @property
    def is_leaf(self) -> bool:
        return self.tree is not None

    @property
    def higher_is_better(self) -> bool:
        return self.spec is not None and self.spec.direction == "higher"

    @property
    def target(self) -> float | None:
        return self.spec.target if self.spec else None


@dataclass
class Framework:
    name: str
    label: str
    valid_from: date | None
    text: str
    sha256: str
    spec: FrameworkFile
    dimensions: list[Node]
    nodes: dict[str, Node]

    def leaves(self) -> list[Node]:
        return [n for n in self.walk() if n.is_leaf]

    def walk(self) -> Iterator[Node]:
        def visit(node: Node) -> Iterator[Node]:
            yield node
            for child in node.children:
                yield from visit(child)

        for dim in self.dimensions:
            yield from visit(dim)

    def measure_refs(self) -> list[fml.MeasureRef]:
        seen: dict[str, fml.MeasureRef] = {}
        for leaf in self.leaves():
            for ref in leaf.measures:
                seen.setdefault(ref.key, ref)
        return list(seen.values())


# --- YAML with line numbers -------------------------------------------------------------


def _lines(
    node: yaml.Node,
    path: tuple[Any, ...],
    out: dict[tuple[Any, ...], int],
    duplicates: list[tuple[tuple[Any, ...], int]],
) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                duplicates.append(((*path, key), key_node.start_mark.line + 1))
            seen.add(key)
            out[(*path, key)] = key_node.start_mark.line + 1
            _lines(value_node, (*path, key), out, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), out, duplicates)


def _line_for(lines: dict[tuple[Any, ...], int], path: tuple[Any, ...]) -> int | None:
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


def _indicator_code(raw: Any, path: tuple[Any, ...]) -> str | None:
    if len(path) >= 2 and path[0] in ("indicators", "dimensions") and isinstance(path[1], int):
        try:
            code = raw[path[0]][path[1]].get("code")
        except (KeyError, IndexError, TypeError, AttributeError):
            return None
        return str(code) if code is not None else None
    return None


def parse_framework(text: str, file: str = "<framework>") -> Framework:
    """Parse and validate framework YAML; raise :class:`FrameworkInvalid` on any problem."""
    try:
        raw = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise FrameworkInvalid(
            [Problem(file, line, None, f"not valid YAML: {exc.problem or exc}")]
        ) from None
    except yaml.YAMLError as exc:
        raise FrameworkInvalid([Problem(file, None, None, f"not valid YAML: {exc}")]) from None
    if not isinstance(raw, dict) or root is None:
        raise FrameworkInvalid([Problem(file, 1, None, "the file must hold a mapping")])
    lines: dict[tuple[Any, ...], int] = {}
    duplicates: list[tuple[tuple[Any, ...], int]] = []
    _lines(root, (), lines, duplicates)
    problems = [
        Problem(file, line, _indicator_code(raw, path), f"duplicate key {path[-1]!r}")
        for path, line in duplicates
    ]
    try:
        spec = FrameworkFile.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            field_path = ".".join(str(p) for p in loc)
            message = err.get("msg", "invalid")
            if err.get("type") == "extra_forbidden":
                message = f"unknown field {loc[-1]!r}"
            problems.append(
                Problem(
                    file,
                    _line_for(lines, loc),
                    _indicator_code(raw, loc),
                    f"{field_path}: {message}",
                )
            )
        raise FrameworkInvalid(problems) from None
    if problems:
        raise FrameworkInvalid(problems)
    return _compile(spec, text, file, lines)


def load_framework_file(path: str | Path) -> Framework:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise FrameworkInvalid([Problem(str(p), None, None, f"cannot read: {exc}")]) from None
    return parse_framework(text, str(p))


def default_framework() -> Framework:
    return load_framework_file(DEFAULT_FRAMEWORK_PATH)


# --- semantic checks --------------------------------------------------------------------


def _check_measures(spec: IndicatorSpec, tree: fml.Node, say: Any) -> tuple[fml.MeasureRef, ...]:
    refs = fml.measures_of(tree)
    ok = True
    for ref in refs:
        measure = MEASURES.get(ref.name)
        if measure is None:
            say(("formula",), f"unknown measure {ref.name!r} in formula")
            ok = False
            continue
        if len(ref.params) != len(measure.params):
            say(
                ("formula",),
                f"measure {ref.name} takes {len(measure.params)} argument(s), "
                f"got {len(ref.params)}",
            )
            ok = False
            continue
        for param, value in zip(measure.params, ref.params, strict=True):
            if not param.low <= value <= param.high:
                say(
                    ("formula",),
                    f"{ref.name}({param.name}) must be within {param.low}–{param.high}",
                )
                ok = False
        relation = RELATIONS[measure.relation]
        if relation.event_table not in spec.source:
            say(
                ("source",),
                f"measure {ref.name} reads {relation.event_table}, "
                f"which the source list {spec.source} does not declare",
            )
            ok = False
        missing = set(spec.applies_to) - relation.objects
        if missing:
            say(
                ("applies_to",),
                f"measure {ref.name} cannot be computed per {', '.join(sorted(missing))}",
            )
            ok = False
    return tuple(refs) if ok else ()


def _compile(
    spec: FrameworkFile, text: str, file: str, lines: dict[tuple[Any, ...], int]
) -> Framework:
    problems: list[Problem] = []
    total = float(spec.weight_total)

    def problem(path: tuple[Any, ...], indicator: str | None, message: str) -> None:
        problems.append(Problem(file, _line_for(lines, path), indicator, message))

    # Dimensions: each SERVQUAL dimension exactly once.
    dims: dict[str, Node] = {}
    for i, d in enumerate(spec.dimensions):
        if d.code in dims:
            problem(("dimensions", i, "code"), d.code, f"dimension {d.code} declared twice")
            continue
        dims[d.code] = Node(d.code, None, d.code, d.weight / total)
    for code in SERVQUAL_DIMENSIONS:
        if code not in dims:
            problem(("dimensions",), None, f"SERVQUAL dimension {code!r} is missing")
    dim_sum = sum(d.weight for d in spec.dimensions)
    if abs(dim_sum - total) > WEIGHT_TOLERANCE * total:
        problem(
            ("dimensions",),
            None,
            f"dimension weights add up to {dim_sum:g}, not {spec.weight_total}",
        )

    # Indicators and groups.
    index: dict[str, int] = {}
    for i, ind in enumerate(spec.indicators):
        if ind.code in index or ind.code in dims:
            problem(("indicators", i, "code"), ind.code, f"code {ind.code!r} is used twice")
        else:
            index[ind.code] = i
    has_children = {ind.parent for ind in spec.indicators if ind.parent}
    nodes: dict[str, Node] = {}
    for code, i in index.items():
        ind = spec.indicators[i]

        def say(path: tuple[Any, ...], message: str, _i: int = i, _code: str = code) -> None:
            problem(("indicators", _i, *path), _code, message)

        node = Node(code, ind, ind.dimension, ind.weight / total)
        if ind.formula is None:
            if code not in has_children:
                say(("code",), "has neither a formula nor child indicators")
            for attr in ("unit", "direction", "target"):
                if getattr(ind, attr) is not None:
                    say((attr,), f"a group (no formula) takes no {attr}")
        else:
            if code in has_children:
                say(("formula",), "an indicator with a formula cannot have child indicators")
            for attr in ("unit", "direction", "target"):
                if getattr(ind, attr) is None:
                    say(("code",), f"{attr} is required")
            if ind.target is not None and ind.target < 0:
                say(("target",), "target must not be negative")
            if not ind.applies_to:
                say(("code",), "applies_to is required (hall, department, window, …)")
            if not ind.source:
                say(("code",), "source is required (the event tables it reads)")
            try:
                node.tree = fml.parse(ind.formula)
            except fml.FormulaError as exc:
                say(("formula",), f"formula does not parse: {exc}")
            else:
                node.measures = _check_measures(ind, node.tree, say)
            node.applies_to = frozenset(ind.applies_to)
        unknown_sources = set(ind.source) - {r.event_table for r in RELATIONS.values()}
        if unknown_sources:
            say(("source",), f"unknown data source(s): {', '.join(sorted(unknown_sources))}")
        nodes[code] = node

    # Parents: exist, are groups of the same dimension, and never form a cycle.
    for code in nodes:
        ind = spec.indicators[index[code]]
        if ind.parent is None:
            continue
        parent_spec = spec.indicators[index[ind.parent]] if ind.parent in index else None
        if parent_spec is None:
            problem(
                ("indicators", index[code], "parent"),
                code,
                f"parent {ind.parent!r} is not an indicator group of this file",
            )
        elif parent_spec.dimension != ind.dimension:
            problem(
                ("indicators", index[code], "parent"),
                code,
                f"parent {ind.parent} belongs to {parent_spec.dimension}, not {ind.dimension}",
            )
    reported: set[str] = set()
    for code in nodes:
        chain = [code]
        current = spec.indicators[index[code]].parent
        while current is not None and current in index:
            if current in chain:
                cycle = [*chain[chain.index(current) :], current]
                if not reported & set(cycle):
                    problem(
                        ("indicators", index[current], "parent"),
                        current,
                        "cycle in the indicator tree: " + " → ".join(cycle),
                    )
                    reported.update(cycle)
                break
            chain.append(current)
            current = spec.indicators[index[current]].parent
    if problems:
        raise FrameworkInvalid(problems)

    # Link the tree and check that sibling weights add up.
    for code, node in nodes.items():
        parent = spec.indicators[index[code]].parent
        (nodes[parent] if parent else dims[node.dimension]).children.append(node)

    def check_weights(parent: Node, path: tuple[Any, ...], label: str) -> None:
        if not parent.children:
            if parent.spec is None:
                problem(path, None, f"dimension {parent.code} has no indicators")
            return
        raw_sum = sum(c.weight for c in parent.children) * total
        if abs(raw_sum - total) > WEIGHT_TOLERANCE * total:
            first = parent.children[0].code
            problem(
                ("indicators", index[first], "weight"),
                first,
                f"weights of the children of {label} add up to {raw_sum:g}, "
                f"not {spec.weight_total} ({', '.join(c.code for c in parent.children)})",
            )
        for child in parent.children:
            if child.children:
                check_weights(child, ("indicators", index[child.code]), child.code)

    for i, dim in enumerate(spec.dimensions):
        if dim.code in dims:
            check_weights(dims[dim.code], ("dimensions", i), f"dimension {dim.code}")

    # A group applies to the objects any of its children applies to.
    def applies(node: Node) -> frozenset[str]:
        if node.children:
            node.applies_to = frozenset().union(*(applies(c) for c in node.children))
        return node.applies_to

    for dim_node in dims.values():
        applies(dim_node)
    if problems:
        raise FrameworkInvalid(problems)
    ordered = [dims[c] for c in SERVQUAL_DIMENSIONS]
    return Framework(
        name=spec.framework,
        label=spec.label,
        valid_from=spec.valid_from,
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        spec=spec,
        dimensions=ordered,
        nodes={**{d.code: d for d in ordered}, **nodes},
    )
