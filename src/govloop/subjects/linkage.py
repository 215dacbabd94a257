"""Probabilistic person linkage with Splink (Fellegi–Sunter, m/u trained on the data itself).

Records whose resident ID is valid are linked deterministically elsewhere; this module links
the rest — and uses a valid ID, when present, as strong evidence. Input: a pandas DataFrame
with ``record_key, source, name, birth_date, sex, phone, address`` and optionally
``id_number``. Every attribute is normalized first (``subjects.normalize``), then:

- blocking (candidate pairs): same valid ID; same birth date and pinyin surname; same pinyin
  name and birth year; same phone; same pinyin name and normalized address;
- comparisons: name (exact / same pinyin / one character apart / pinyin Jaro-Winkler),
  birth date (exact / day and month swapped / one digit apart / same year), sex, phone
  (exact / one digit apart), address (exact / Jaro-Winkler ≥ 0.92 / ≥ 0.8), ID (same valid
  number / one character apart / an invalid number on a side / two valid numbers that differ);
- training: the prior from deterministic rules (``estimate_prior``), u by random sampling
  (fixed seed), m by expectation maximisation on two blockings that leave every comparison
  trained once;
- clustering: connected components of pairs at or above the match-probability threshold.

DuckDB runs it by default; ``backend="spark"`` runs the same model on Spark (local mode
here, a cluster when one machine is outgrown). ``match_new_records`` scores new records
against existing ones only (Splink's ``predict_between``), so an increment does not re-link
everything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from govloop.subjects import normalize as nz
from govloop.subjects.clustering import ClusterResult, Refusal, constrained_clusters
from govloop.subjects.identifiers import clean
from govloop.subjects.identity import PersonKey, from_columns, identity_agrees

Backend = Literal["duckdb", "spark"]
LinkType = Literal["dedupe_only", "link_only", "link_and_dedupe"]
REQUIRED_COLUMNS = ("record_key", "source", "name", "birth_date", "sex", "phone", "address")
LINK_COLUMNS = (
    "record_key",
    "source",
    "name_n",
    "name_py",
    "surname_py",
    "dob",
    "birth_year",
    "sex_n",
    "phone_n",
    "addr_n",
    "id_n",
    "id_c",
)
# columns whose exact agreement is weighed by how common the value is
TF_COLUMNS = ("name_n", "phone_n", "addr_n")
# below this many records the counts say nothing (a name seen 3 times in 12 records is not a
# common name): the model is used without term-frequency weights
TF_MIN_RECORDS = 2_000
DEFAULT_THRESHOLD = 0.9
SEED = 20240601


class LinkageInputError(ValueError):
    """The records cannot be linked as given (missing columns, duplicate keys…)."""


@dataclass
class LinkResult:
    pairs: pd.DataFrame  # record_key_l, record_key_r, match_probability, match_weight
    clusters: pd.DataFrame  # record_key, cluster_id (every input record, singletons too)
    model: dict[str, Any]  # the trained Splink settings, reusable by match_new_records
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)
    refused: list[Refusal] = field(default_factory=list)  # links the constraints refused

    def cluster_of(self) -> dict[str, str]:
        return dict(zip(self.clusters["record_key"], self.clusters["cluster_id"], strict=True))


def _map_unique(series: pd.Series, fn: Any) -> pd.Series:
    """Apply ``fn`` once per distinct value (records repeat names, dates, addresses a lot)."""
    values = series.astype(object).where(series.notna(), None)
    uniques = pd.unique(values.dropna())
    table = {v: fn(v) for v in uniques}
    return values.map(lambda v: table.get(v) if v is not None else None)


def prepare_persons(df: pd.DataFrame) -> pd.DataFrame:
    """Validated, normalized columns Splink compares (the input frame is left untouched)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise LinkageInputError(f"missing columns: {', '.join(missing)}")
    # positional alignment from here on, whatever index the caller's frame has
    df = df.reset_index(drop=True)
    keys = df["record_key"].astype(str)
    if df["record_key"].isna().any():
        raise LinkageInputError("record_key must not be empty")
    duplicated = keys[keys.duplicated()]
    if len(duplicated):
        raise LinkageInputError(f"duplicate record_key: {', '.join(duplicated.head(5))}")
    out = pd.DataFrame({"record_key": keys, "source": df["source"].astype(str)})
    out["name_n"] = _map_unique(df["name"], nz.normalize_name)
    out["name_py"] = _map_unique(out["name_n"], nz.name_pinyin)
    out["surname_py"] = _map_unique(out["name_n"], nz.surname_pinyin)
    ids = df["id_number"] if "id_number" in df.columns else pd.Series([None] * len(df))
    out["id_c"] = _map_unique(ids, lambda v: clean(str(v)) or None)
    out["id_n"] = _valid_ids(out["id_c"])
    dob = _map_unique(df["birth_date"], nz.normalize_date)
    sex = _map_unique(df["sex"], nz.normalize_sex)
    # a valid ID carries the birth date and sex: fill them where the record has none
    from_id = out["id_n"].notna()
    id_dob = (
        out["id_n"]
        .where(from_id)
        .map(lambda v: f"{v[6:10]}-{v[10:12]}-{v[12:14]}" if isinstance(v, str) else None)
    )
    id_sex = (
        out["id_n"]
        .where(from_id)
        .map(lambda v: ("M" if int(v[16]) % 2 else "F") if isinstance(v, str) else None)
    )
    # … and is checked (region, date, check character): where the record also states a
    # birth date or sex, the ID's wins (the stated one is the likelier typo)
    out["dob"] = id_dob.where(from_id, dob)
    out["sex_n"] = id_sex.where(from_id, sex)
    out["birth_year"] = out["dob"].map(lambda v: v[:4] if isinstance(v, str) else None)
    out["phone_n"] = _map_unique(df["phone"], nz.normalize_phone_or_none)
    out["addr_n"] = _map_unique(df["address"], nz.normalize_address)
    # every column is text: a column that happens to be all empty must not reach DuckDB as
    # an integer column (the string comparisons would not bind)
    return out[list(LINK_COLUMNS)].astype("string")


def _valid_ids(cleaned: pd.Series) -> pd.Series:
    from govloop.subjects.identifiers import check_resident_ids

    present = cleaned.notna()
    result = pd.Series([None] * len(cleaned), index=cleaned.index, dtype=object)
    if present.any():
        values = cleaned[present].astype(str)
        uniques = pd.unique(values)
        valid = check_resident_ids(list(uniques)).valid
        table = {u: u for u, ok in zip(uniques, valid, strict=True) if ok}
        result[present] = values.map(table.get)
    return result


def person_settings(
    *,
    link_type: LinkType = "dedupe_only",
    max_iterations: int = 25,
    prior: float = 1e-4,
    term_frequencies: bool = True,
) -> Any:
    """The Splink model for persons (untrained)."""
    tf = term_frequencies
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_n"),
            # term frequencies: 张伟 agreeing says less than 欧阳思远 agreeing
            cll.ExactMatchLevel("name_n", term_frequency_adjustments=tf),
            cll.ExactMatchLevel("name_py"),
            cll.DamerauLevenshteinLevel("name_n", 1),
            cll.JaroWinklerLevel("name_py", 0.88),
            cll.ElseLevel(),
        ],
    )
    dob = cl.CustomComparison(
        output_column_name="dob",
        comparison_levels=[
            cll.NullLevel("dob"),
            cll.ExactMatchLevel("dob"),
            cll.CustomLevel(
                "substr(dob_l, 1, 4) = substr(dob_r, 1, 4) "
                "and substr(dob_l, 6, 2) = substr(dob_r, 9, 2) "
                "and substr(dob_l, 9, 2) = substr(dob_r, 6, 2)",
                label_for_charts="day and month swapped",
            ),
            cll.DamerauLevenshteinLevel("dob", 1),
            cll.CustomLevel("substr(dob_l, 1, 4) = substr(dob_r, 1, 4)", "same year"),
            cll.ElseLevel(),
        ],
    )
    sex = cl.ExactMatch("sex_n")
    phone = cl.CustomComparison(
        output_column_name="phone",
        comparison_levels=[
            cll.NullLevel("phone_n"),
            # a phone given by a whole family (or a shop for its customers) says little
            cll.ExactMatchLevel("phone_n", term_frequency_adjustments=tf),
            cll.DamerauLevenshteinLevel("phone_n", 1),
            cll.ElseLevel(),
        ],
    )
    address = cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.NullLevel("addr_n"),
            cll.ExactMatchLevel("addr_n", term_frequency_adjustments=tf),
            cll.JaroWinklerLevel("addr_n", 0.92),
            cll.JaroWinklerLevel("addr_n", 0.8),
            cll.ElseLevel(),
        ],
    )
    identifier = cl.CustomComparison(
        output_column_name="id",
        comparison_levels=[
            cll.NullLevel("id_c"),
            cll.ExactMatchLevel("id_n"),
            cll.DamerauLevenshteinLevel("id_c", 1),
            cll.CustomLevel("id_n_l is null or id_n_r is null", "an invalid ID, otherwise unlike"),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="record_key",
        blocking_rules_to_generate_predictions=[
            block_on("id_n"),
            block_on("dob", "surname_py"),
            block_on("name_py", "birth_year"),
            block_on("phone_n"),
            block_on("name_py", "addr_n"),
        ],
        comparisons=[name, dob, sex, phone, address, identifier],
        additional_columns_to_retain=["source"],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
        max_iterations=max_iterations,
        probability_two_random_records_match=prior,
    )


@contextmanager
def _db_api(backend: Backend, spark: Any = None) -> Iterator[Any]:
    if backend == "duckdb":
        import duckdb
        from splink import DuckDBAPI

        con = duckdb.connect(config={"threads": 2, "memory_limit": "6GB"})
        try:
            yield DuckDBAPI(connection=con)
        finally:
            con.close()
    elif backend == "spark":
        from splink.backends.spark import SparkAPI

        session = spark if spark is not None else local_spark_session()
        yield SparkAPI(
            spark_session=session, break_lineage_method="persist", num_partitions_on_repartition=2
        )
    else:
        raise LinkageInputError(f"unknown backend {backend!r}: use 'duckdb' or 'spark'")


def local_spark_session() -> Any:
    """A small local Spark with Splink's similarity UDF jar (Jaro-Winkler…), UI off."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    return (
        SparkSession.builder.master("local[2]")
        .appName("govloop-linkage")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "1g")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.jars", similarity_jar_location())
        .getOrCreate()
    )


def _quiet_splink() -> None:
    logging.getLogger("splink").setLevel(logging.WARNING)


def estimate_prior(prepared: pd.DataFrame, *, recall: float = 0.8) -> float:
    """Probability that two random records match, from the deterministic rules (same valid
    ID; same name, birth date and sex) assumed to find ``recall`` of the true pairs.

    Splink's own estimator refuses small inputs where the rules find "too many" matches;
    this one clamps instead, so a handful of records still gets a model.
    """
    n = len(prepared)
    total = n * (n - 1) / 2
    if total == 0:
        return 0.5

    def pairs(columns: list[str]) -> float:
        sizes = prepared.dropna(subset=columns).groupby(columns).size()
        return float((sizes * (sizes - 1) / 2).sum())

    found = max(pairs(["id_n"]), pairs(["name_n", "dob", "sex_n"]))
    return float(min(0.5, max(1.0 / total, found / recall / total)))


_log = logging.getLogger(__name__)


def train_person_model(linker: Any, *, max_pairs_u: float = 2e6) -> list[str]:
    """Train u by random sampling and m by two EM passes; returns the passes that could
    not be trained (their comparisons keep the values they had)."""
    from splink import block_on

    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs_u, seed=SEED)
    skipped: list[str] = []
    # each EM blocking leaves the other's columns free to be trained; not on the phone:
    # pairs sharing a phone are mostly members of one household, and EM would learn
    # "household" as the match class (shared phone and address, any name)
    for columns in (("dob", "surname_py"), ("name_py", "birth_year")):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*columns), estimate_without_term_frequencies=True
            )
        except ValueError as error:
            # Splink refuses an m probability EM drove below 1e-300 (a level no pair of
            # that blocking reaches): keep the model as it was rather than fail the run
            if "m_probability" not in str(error) and "u_probability" not in str(error):
                raise
            _log.warning("EM pass blocked on %s not trained: %s", "+".join(columns), error)
            skipped.append("+".join(columns))
    return skipped


def link_persons(
    df: pd.DataFrame,
    *,
    backend: Backend = "duckdb",
    threshold: float = DEFAULT_THRESHOLD,
    spark: Any = None,
    model: dict[str, Any] | None = None,
    cannot_link: Iterable[tuple[str, str]] = (),
) -> LinkResult:
    """Train the model on ``df``, score candidate pairs and cluster at ``threshold`` under
    the hard constraints (``clustering.py``); ``cannot_link`` adds pairs of record keys a
    steward said are different people.

    With ``model`` (``LinkResult.model`` of an earlier run, e.g. trained on DuckDB) the
    training is skipped and that model scores the records.
    """
    if not 0.0 < threshold < 1.0:
        raise LinkageInputError("threshold must be a probability strictly between 0 and 1")
    from splink import Linker

    _quiet_splink()
    started = time.perf_counter()
    prepared = prepare_persons(df)
    if len(prepared) < 2:
        clusters = pd.DataFrame({"record_key": prepared["record_key"]})
        clusters["cluster_id"] = clusters["record_key"]
        return LinkResult(_empty_pairs(), clusters, {}, time.perf_counter() - started)
    prepare_seconds = time.perf_counter() - started
    with _db_api(backend, spark) as api:
        table = _register(api, prepared, backend, "persons")
        if model:
            linker = Linker(
                table, _model_for(model, backend, len(prepared)), log_level=logging.WARNING
            )
        else:
            # Spark pays a job per EM iteration: fewer, on the data sizes it is used for here
            settings = person_settings(
                max_iterations=8 if backend == "spark" else 25,
                prior=estimate_prior(prepared),
                term_frequencies=len(prepared) >= TF_MIN_RECORDS,
            )
            linker = Linker(table, settings, log_level=logging.WARNING)
            train_person_model(linker, max_pairs_u=min(2e6, max(1e4, len(prepared) * 5.0)))
        predictions = linker.inference.predict(threshold_match_probability=min(threshold, 0.5))
        pairs = _pairs_frame(predictions.as_pandas_dataframe())
        model = linker.misc.save_model_to_json()
    scored_seconds = time.perf_counter() - started
    persons = person_keys(prepared)
    result = cluster_pairs(persons, pairs, threshold=threshold, cannot_link=cannot_link)
    clusters = pd.DataFrame(
        {"record_key": list(result.labels), "cluster_id": list(result.labels.values())}
    )
    return LinkResult(
        pairs=pairs,
        clusters=clusters.astype({"record_key": str, "cluster_id": str}),
        model=model,
        seconds=time.perf_counter() - started,
        stats={
            "prepare_seconds": prepare_seconds,
            "score_seconds": scored_seconds - prepare_seconds,
            "records": len(prepared),
            "refused_links": len(result.refused),
        },
        refused=result.refused,
    )


def person_keys(prepared: pd.DataFrame) -> list[PersonKey]:
    """The identity of every prepared record (``prepare_persons``), for the constraints."""
    frame = prepared[["record_key", "name_n", "name_py", "dob", "sex_n", "id_n"]]
    frame = frame.astype(object).where(frame.notna(), None)
    return [
        from_columns(key, name=name, name_py=py, dob=dob, sex=sex, id_number=id_n)
        for key, name, py, dob, sex, id_n in frame.itertuples(index=False, name=None)
    ]


def cluster_pairs(
    persons: list[PersonKey],
    pairs: pd.DataFrame,
    *,
    threshold: float,
    cannot_link: Iterable[tuple[str, str]] = (),
) -> ClusterResult:
    """Keep the pairs at or above ``threshold`` whose name and birth date agree (household
    attributes alone never link two records), then cluster them under the constraints."""
    by_key = {p.key: p for p in persons}
    strong = pairs[pairs["match_probability"] >= threshold]
    kept = [
        (a, b, p)
        for a, b, p in zip(
            strong["record_key_l"].astype(str),
            strong["record_key_r"].astype(str),
            strong["match_probability"].astype(float),
            strict=True,
        )
        if identity_agrees(by_key[a], by_key[b])
    ]
    return constrained_clusters(persons, kept, cannot_link=cannot_link)


def without_term_frequencies(model: dict[str, Any]) -> dict[str, Any]:
    """A copy of a saved model whose comparison levels carry no term-frequency weights."""
    out = dict(model)
    out["comparisons"] = [
        {
            **comparison,
            "comparison_levels": [
                {k: v for k, v in level.items() if not k.startswith("tf_adjustment")}
                for level in comparison["comparison_levels"]
            ],
        }
        for comparison in model["comparisons"]
    ]
    return out


def _model_for(model: dict[str, Any], backend: Backend, records: int) -> dict[str, Any]:
    fitted = model_for_backend(model, backend)
    return fitted if records >= TF_MIN_RECORDS else without_term_frequencies(fitted)


def model_for_backend(model: dict[str, Any], backend: Backend) -> dict[str, Any]:
    """A saved person model rewritten for another backend's SQL dialect.

    Splink saves comparison levels as SQL in the dialect they were trained in (DuckDB's
    double-quoted identifiers are string literals to Spark, its function names differ) and
    does not translate them when the model is loaded elsewhere. So the model is rebuilt from
    ``person_settings`` for the target dialect and the trained parameters copied over, level
    by level.
    """
    if model.get("sql_dialect", "duckdb") == backend:
        return model
    fresh = person_settings(
        link_type=model.get("link_type", "dedupe_only"),
        max_iterations=int(model.get("max_iterations", 25)),
    ).create_settings_dict(backend)
    trained = {c["output_column_name"]: c["comparison_levels"] for c in model["comparisons"]}
    for comparison in fresh["comparisons"]:
        levels = trained.get(comparison["output_column_name"])
        if levels is None or len(levels) != len(comparison["comparison_levels"]):
            raise LinkageInputError("the saved model is not a person model of this version")
        for level, saved in zip(comparison["comparison_levels"], levels, strict=True):
            for key in ("m_probability", "u_probability"):
                if key in saved:
                    level[key] = saved[key]
    fresh["probability_two_random_records_match"] = model["probability_two_random_records_match"]
    return fresh


def _register(api: Any, prepared: pd.DataFrame, backend: Backend, name: str) -> Any:
    if backend == "spark":
        session = api.spark
        frame = prepared.astype(object).where(prepared.notna(), None)
        schema = ", ".join(f"{c} string" for c in frame.columns)
        sdf = session.createDataFrame(frame.to_numpy().tolist(), schema=schema)
        return api.register(sdf, dataset_display_name=name)
    return api.register(prepared, dataset_display_name=name)


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_key_l": pd.Series(dtype=str),
            "record_key_r": pd.Series(dtype=str),
            "match_probability": pd.Series(dtype=float),
            "match_weight": pd.Series(dtype=float),
        }
    )


def _pairs_frame(raw: pd.DataFrame) -> pd.DataFrame:
    if raw.empty:
        return _empty_pairs()
    pairs = raw[["record_key_l", "record_key_r", "match_probability", "match_weight"]].copy()
    return pairs.sort_values("match_probability", ascending=False, ignore_index=True)


def match_new_records(
    new_df: pd.DataFrame,
    existing_df: pd.DataFrame,
    *,
    model: dict[str, Any] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    backend: Backend = "duckdb",
    spark: Any = None,
) -> pd.DataFrame:
    """Score new records against existing ones only (never existing × existing).

    With ``model`` (``LinkResult.model`` of an earlier run) nothing is retrained; without it
    the model is trained on both sets first. Returns one row per candidate at or above
    ``threshold``: new_record_key, existing_record_key, match_probability, match_weight,
    best (the most probable existing record for that new record).
    """
    if not 0.0 < threshold < 1.0:
        raise LinkageInputError("threshold must be a probability strictly between 0 and 1")
    from splink import Linker

    _quiet_splink()
    new = prepare_persons(new_df)
    existing = prepare_persons(existing_df)
    clash = set(new["record_key"]) & set(existing["record_key"])
    if clash:
        raise LinkageInputError(
            f"record_key in both new and existing records: {', '.join(sorted(clash)[:5])}"
        )
    columns = ["new_record_key", "existing_record_key", "match_probability", "match_weight"]
    if new.empty or existing.empty:
        return pd.DataFrame({c: [] for c in [*columns, "best"]})
    with _db_api(backend, spark) as api:
        existing_table = _register(api, existing, backend, "existing_persons")
        new_table = _register(api, new, backend, "new_persons")
        # the linker sees every record: term frequencies (how many records share a name, a
        # phone, an address) are counted over both sets
        both = pd.concat([existing, new], ignore_index=True)
        all_table = _register(api, both, backend, "all_persons")
        weighted = len(both) >= TF_MIN_RECORDS
        if model:
            linker = Linker(
                all_table, _model_for(model, backend, len(both)), log_level=logging.WARNING
            )
        else:
            settings = person_settings(prior=estimate_prior(both), term_frequencies=weighted)
            linker = Linker(all_table, settings, log_level=logging.WARNING)
            train_person_model(linker, max_pairs_u=min(2e6, max(1e4, len(both) * 5.0)))
        for column in TF_COLUMNS if weighted else ():
            linker.table_management.compute_tf_table(column)
        scored = linker.inference.predict_between(
            existing_table, new_table, threshold_match_probability=threshold
        ).as_pandas_dataframe()
    if scored.empty:
        return pd.DataFrame({c: [] for c in [*columns, "best"]})
    existing_keys = set(existing["record_key"])
    left_is_existing = scored["record_key_l"].isin(existing_keys)
    out = pd.DataFrame(
        {
            "new_record_key": np.where(
                left_is_existing, scored["record_key_r"], scored["record_key_l"]
            ),
            "existing_record_key": np.where(
                left_is_existing, scored["record_key_l"], scored["record_key_r"]
            ),
            "match_probability": scored["match_probability"].astype(float),
            "match_weight": scored["match_weight"].astype(float),
        }
    )
    out = out.sort_values(["new_record_key", "match_probability"], ascending=[True, False])
    out["best"] = ~out.duplicated("new_record_key")
    return out.reset_index(drop=True)
