"""The vectorised resident ID check gives exactly the scalar check's results."""

from __future__ import annotations

from datetime import date

import numpy as np

from govloop.subjects.generate import generate_persons
from govloop.subjects.identifiers import check_resident_id, check_resident_ids


def test_batch_equals_scalar_on_valid_and_corrupted_numbers() -> None:
    ids = generate_persons(3000, seed=9)["id_number"].tolist()
    rng = np.random.default_rng(1)
    corrupted = []
    for number in ids[:1500]:
        i = int(rng.integers(0, 18))
        corrupted.append(number[:i] + "0123456789X"[int(rng.integers(0, 11))] + number[i + 1 :])
    odd = [
        "11010519491231002x",  # lower-case x
        "１１０１０５１９４９１２３１００２Ｘ",  # full width
        "110105 19491231 002X",
        "110105491231002",  # 15 digits
        "11010519491231002",
        "",
        "11010519490231002X",  # 31 February
        "99010519491231002X",  # unknown region
        "11010518991231002X",  # before 1900
        "11010530001231002X",  # in the future
        "1101051949123100ZX",
        "110105194912310０2X",
    ]
    values = ids + corrupted + odd
    today = date(2026, 1, 1)
    batch = check_resident_ids(values, today=today)
    scalar = [check_resident_id(v, today=today) for v in values]
    assert batch.value == [s.value for s in scalar]
    assert batch.valid.tolist() == [s.valid for s in scalar]
    assert batch.reason_code == [s.reason_code for s in scalar]
    # the sample really exercises both outcomes and several reasons
    assert batch.valid.sum() >= 3000
    assert {"id_checksum", "id_birth_date", "id_region", "id_length", "id_chars"} <= set(
        batch.reason_code
    )


def test_empty_batch() -> None:
    batch = check_resident_ids([])
    assert batch.value == [] and batch.reason_code == [] and len(batch.valid) == 0
