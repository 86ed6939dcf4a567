"""Suites and families: explicit lists, unique names, sizes, one-line errors."""

import pytest

from tasks import language, synthetic, vision
from tasks.base import SIZES, check_size
from tasks.rl import cartpole
from tasks.suites import SUITES, get_suite

FAMILIES = (synthetic.FAMILY, vision.FAMILY, language.FAMILY, cartpole.FAMILY)


def test_suites_hold_every_kind_at_their_size():
    assert list(SUITES) == [*SIZES, "pressure"]
    for size in SIZES:
        suite = get_suite(size)
        assert all(task.size == size for task in suite)
        kinds = sum(len(family.constructors) for family in FAMILIES)
        assert len(suite) == kinds
        assert {t.name for t in suite} == {t.name for f in FAMILIES for t in f.tasks(size)}


def test_task_names_are_unique_across_suites():
    names = [task.name for suite in SUITES.values() for task in suite]
    assert len(names) == len(set(names))


def test_larger_sizes_train_longer():
    for family in FAMILIES:
        for kind in family.constructors:
            proxy, validation = family.make(kind, "proxy"), family.make(kind, "validation")
            assert validation.num_steps > proxy.num_steps, kind


def test_errors_name_the_choices():
    with pytest.raises(ValueError, match="unknown suite 'nope'.*proxy"):
        get_suite("nope")
    with pytest.raises(ValueError, match="no task 'mlp'"):
        synthetic.FAMILY.make("mlp")
    with pytest.raises(ValueError, match="unknown size 'huge'"):
        vision.mlp("huge")
    with pytest.raises(ValueError, match="choose one of"):
        check_size("x", {"proxy": {}}, "kind")


def test_with_steps_keeps_the_task_and_changes_the_budget():
    task = vision.cnn("proxy")
    short = task.with_steps(7)
    assert short.num_steps == 7 and short.name == task.name and short.channels == task.channels
