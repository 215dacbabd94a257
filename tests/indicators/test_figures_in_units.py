"""Figures as people read them: a ratio as a percentage, and a value beside its target never
prints the same as the target when the verdict says they differ."""

from __future__ import annotations

import pytest

from govloop.web.templating import templates

MACROS = templates.env.get_template("indicators/_macros.html").module


@pytest.mark.parametrize(
    ("value", "unit", "against", "shown"),
    [
        (0.912, "ratio", None, "91.2%"),
        (0.0104, "ratio", 0.01, "1.04%"),  # 1.0% ≤ 1.0% would contradict 未达目标
        (0.01, "ratio", 0.0104, "1.00%"),
        (0.01001, "ratio", 0.01, "1.001%"),
        (0.0104, "ratio", 0.0104, "1.0%"),  # equal figures need no more digits
        (12.34, "min", 12.3, "12.34 分钟"),  # the UI speaks Chinese by default
        (4.5, "level", 4.5, "4.50"),
        (None, "ratio", 0.01, "–"),
    ],
)
def test_value_in_its_unit_with_enough_digits(value, unit, against, shown) -> None:
    assert str(MACROS.value(value, unit, against)).strip() == shown
