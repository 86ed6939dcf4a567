"""Suites and families: explicit lists, unique names, sizes, one-line errors."""

import pytest

from tasks import language, synthetic, vision
from tasks.base import SIZES, check_size
from tasks.rl import cartpole
from tasks.suites import SUITES, get_suite

FAMILIES = (synthetic.FAMILY, vision.FAMILY, language.FAMILY, cartpole.FAMILY)


def test_the_sized_suites_hold_every_kind_at_their_size():
    assert list(SUITES) == ["proxy", "proxy_v1", "light", "proxy_rl", "validation", "test",
                            "pressure"]
    for name, size in (("proxy_v1", "proxy"), ("validation", "validation"), ("test", "test")):
        suite = get_suite(name)
        assert all(task.size == size for task in suite)
        kinds = sum(len(family.constructors) for family in FAMILIES)
        assert len(suite) == kinds
        assert {t.name for t in suite} == {t.name for f in FAMILIES for t in f.tasks(size)}


def test_proxy_v2_holds_the_pressure_tasks_and_each_supervised_family_and_light_is_its_head():
    proxy = get_suite("proxy")
    names = [t.name for t in proxy]
    assert all(t.size == "proxy" for t in proxy)
    assert {t.name for t in get_suite("pressure")[:3]} <= set(names)
    assert {t.family for t in proxy} >= {"synthetic", "vision", "language"}
    assert "rl" not in {t.family for t in proxy}  # CartPole's score is seed noise at this size
    light = [t.name for t in get_suite("light")]
    assert names[:len(light)] == light


def test_a_task_name_means_one_task_in_every_suite():
    seen = {}
    for suite in SUITES.values():
        for task in suite:
            assert seen.setdefault(task.name, task) == task, task.name


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
