"""Probabilistic person linkage (Splink on DuckDB) on a generated population."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from govloop.subjects.generate import population
from govloop.subjects.linkage import (
    LinkageInputError,
    LinkResult,
    link_persons,
    match_new_records,
    prepare_persons,
)


def _pairs(keys: pd.Series, labels: pd.Series) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for _, group in pd.DataFrame({"k": keys, "g": labels}).groupby("g"):
        out.update(itertools.combinations(sorted(group["k"]), 2))
    return out


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    base = population(600, seed=3)
    # one more record of person 0: spaced with full-width spaces, no ID, no phone
    variant = base.iloc[0].copy()
    variant["record_key"] = "test-variant"
    variant["source"] = "test"
    variant["name"] = "　".join(str(variant["name"]))
    variant["id_number"] = None
    variant["phone"] = None
    return pd.concat([base, variant.to_frame().T], ignore_index=True)


@pytest.fixture(scope="module")
def linked(records: pd.DataFrame) -> LinkResult:
    return link_persons(records)


def test_link_persons_finds_the_people(records: pd.DataFrame, linked: LinkResult) -> None:
    truth = _pairs(records["record_key"], records["person_id"])
    cluster = linked.cluster_of()
    found = _pairs(records["record_key"], records["record_key"].map(cluster))
    tp = len(truth & found)
    precision, recall = tp / len(found), tp / len(truth)
    assert 2 * precision * recall / (precision + recall) >= 0.95
    # far better than exact name + birth date, which misses every typo
    exact = records["name"].astype(str) + "|" + records["birth_date"].astype(str)
    assert tp > len(truth & _pairs(records["record_key"], exact))


def test_clusters_cover_every_record_once(records: pd.DataFrame, linked: LinkResult) -> None:
    clusters = linked.clusters
    assert sorted(clusters["record_key"]) == sorted(records["record_key"])
    assert clusters["record_key"].is_unique
    assert clusters["cluster_id"].nunique() < len(records)
    # pairs come scored and ordered, probabilities in [0, 1]
    assert linked.pairs["match_probability"].between(0, 1).all()
    assert linked.pairs["match_probability"].is_monotonic_decreasing
    assert set(linked.model) >= {"comparisons", "blocking_rules_to_generate_predictions"}


def test_a_spaced_name_without_id_or_phone_still_links(
    records: pd.DataFrame, linked: LinkResult
) -> None:
    cluster = linked.cluster_of()
    assert cluster["test-variant"] == cluster[records.iloc[0]["record_key"]]


def test_prepare_aligns_rows_whatever_the_index(records: pd.DataFrame) -> None:
    subset = records.iloc[::7]
    prepared = prepare_persons(subset)
    assert prepared["record_key"].tolist() == subset["record_key"].tolist()
    from govloop.subjects.normalize import normalize_name

    assert prepared["name_n"].tolist() == [normalize_name(n) for n in subset["name"]]
    assert prepared["dob"].iloc[1:].notna().sum() > 0


def test_match_new_records_against_existing(records: pd.DataFrame, linked: LinkResult) -> None:
    new = records[records["source"] == "卫健"]
    existing = records[records["source"] != "卫健"]
    matches = match_new_records(new, existing, model=linked.model)
    best = matches[matches["best"]]
    assert set(best["new_record_key"]) <= set(new["record_key"])
    assert set(best["existing_record_key"]) <= set(existing["record_key"])
    person = records.set_index("record_key")["person_id"]
    right = (
        best["new_record_key"].map(person).to_numpy()
        == best["existing_record_key"].map(person).to_numpy()
    )
    assert right.mean() >= 0.97
    # most new records whose person is already known get their match
    known = new[new["person_id"].isin(set(existing["person_id"]))]
    assert best["new_record_key"].isin(known["record_key"]).mean() >= 0.97
    assert len(best) >= 0.9 * len(known)


def test_match_new_records_trains_when_no_model_is_given(records: pd.DataFrame) -> None:
    small = records[records["person_id"] < 120]
    new = small[small["source"] == "社保"]
    existing = small[small["source"] != "社保"]
    matches = match_new_records(new, existing)
    assert not matches.empty
    assert matches["match_probability"].min() >= 0.9


def test_bad_input_is_refused(records: pd.DataFrame) -> None:
    with pytest.raises(LinkageInputError, match="missing columns: phone"):
        prepare_persons(records.drop(columns=["phone"]))
    doubled = pd.concat([records.head(3), records.head(1)])
    with pytest.raises(LinkageInputError, match="duplicate record_key"):
        link_persons(doubled)
    with pytest.raises(LinkageInputError, match="in both new and existing"):
        match_new_records(records.head(5), records.head(10))
    with pytest.raises(LinkageInputError, match="threshold"):
        link_persons(records.head(5), threshold=1.5)
    with pytest.raises(LinkageInputError, match="unknown backend"):
        link_persons(records.head(50), backend="oracle")  # type: ignore[arg-type]


def test_prepare_fills_birth_date_and_sex_from_a_valid_id() -> None:
    frame = pd.DataFrame(
        {
            "record_key": ["a"],
            "source": ["x"],
            "name": ["張 偉"],
            "birth_date": [None],
            "sex": [None],
            "phone": ["+86 138 1234 5678"],
            "address": ["北京市朝阳区建国路1号3号楼"],
            "id_number": ["11010519491231002x"],
        }
    )
    row = prepare_persons(frame).iloc[0]
    assert row["name_n"] == "张伟"
    assert row["name_py"] == "zhangwei"
    assert row["dob"] == "1949-12-31"
    assert row["sex_n"] == "F"
    assert row["id_n"] == "11010519491231002X"
    assert row["phone_n"] == "13812345678"
    assert row["addr_n"] == "朝阳区建国路1号3栋"


def test_a_handful_of_records_still_gets_clusters(records: pd.DataFrame) -> None:
    # too few records to learn from must not fail: every record still gets a cluster
    for n in (1, 3):
        result = link_persons(records.head(n))
        assert sorted(result.clusters["record_key"]) == sorted(records.head(n)["record_key"])
