"""A pass of EM that Splink refuses (an m probability driven below 1e-300) leaves the
model as it was instead of failing the linking run."""

from __future__ import annotations

from typing import Any

import pytest

from govloop.subjects.linkage import train_person_model


class _Training:
    def __init__(self, refuse: str) -> None:
        self.refuse = refuse
        self.passes: list[Any] = []

    def estimate_u_using_random_sampling(self, **_kwargs: Any) -> None:
        pass

    def estimate_parameters_using_expectation_maximisation(self, rule: Any, **_: Any) -> None:
        self.passes.append(rule)
        if len(self.passes) == 2:
            raise ValueError(self.refuse)


class _Linker:
    def __init__(self, refuse: str) -> None:
        self.training = _Training(refuse)


def test_a_refused_em_pass_is_skipped_and_reported():
    linker = _Linker("m_probability value 2.19e-310 is below the minimum allowed value of 1e-300")
    assert train_person_model(linker) == ["name_py+birth_year"]
    assert len(linker.training.passes) == 2


def test_other_errors_still_fail_the_run():
    linker = _Linker("Binder Error: column not found")
    with pytest.raises(ValueError, match="Binder Error"):
        train_person_model(linker)
