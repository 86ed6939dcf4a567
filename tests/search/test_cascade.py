"""The evaluation cascade: hurdles, stage construction, and equality with the plain fitness."""

import json
import math
import random

import numpy as np
import pytest

from primitives import parse, to_source
from search.cascade import (FULL, Cascade, alpha_of, build_cascade, hurdle, single_stage,
                            stopped_at, stopped_value)
from search.config import ConfigError, SearchConfig
from search.fitness import make_fitness
from search.mutation import MutationSettings, mutate_valid
from search.parallel import evaluation_pool
from search.run import run_search

from .conftest import ADAMW

SGD = "def sgd(w, g, m, v, lr=0.1):\n    return lr * g, m, v\n"
TASKS = ("zipf_quadratic_proxy", "rotated_quadratic_proxy", "rosenbrock_proxy")


def test_stopped_values_round_trip_and_never_look_like_a_fitness():
    assert [stopped_at(stopped_value(i)) for i in range(3)] == [0, 1, 2]
    for fitness in (0.0, 0.5, 1.0, 2.0, math.nan, -math.inf):
        assert stopped_at(fitness) is None


def test_hurdle_is_the_quantile_of_the_window_after_warmup():
    window = [random.Random(0).random() for _ in range(50)]
    assert hurdle(window, 0.75, 16) == pytest.approx(np.percentile(window, 75))
    assert hurdle(window[:10], 0.75, 16) == -math.inf


@pytest.fixture(scope="module")
def fitness():
    return make_fitness(parse(ADAMW), TASKS, lrs=(0.01, 0.1), seeds=(0,), num_steps=10)


def test_stages_cover_each_task_once_and_drop_what_does_not_apply(fitness):
    cascade = Cascade(fitness, ["micro", "pressure", "light"])
    assert cascade.names == ("micro", "pressure", FULL)  # light: no task left but the rest
    assert cascade.stages[1].tasks == ("zipf_quadratic_proxy", "rotated_quadratic_proxy")
    assert cascade.stages[2].tasks == ("rosenbrock_proxy",)
    assert Cascade(fitness, ["validation"]).names == (FULL,)  # no overlap: dropped
    no_grid = make_fitness(parse(ADAMW), TASKS[:1], lrs=None, num_steps=2)
    assert Cascade(no_grid, ["micro"]).names == (FULL,)
    cfg = SearchConfig(tasks=list(TASKS), cascade=[])
    assert build_cascade(cfg, fitness) is None and build_cascade(SearchConfig(), len) is None


def _children(n):
    rng = random.Random(1)
    settings = MutationSettings(frozen=("lr",))
    out, parent = [], parse(ADAMW)
    while len(out) < n:
        child, _ = mutate_valid(parent, rng, settings)
        out.append(to_source(child))
    return out


def test_cascade_admits_the_top_of_each_stage_with_the_plain_fitness(fitness):
    sources = [to_source(parse(ADAMW)), SGD, *_children(10)]
    bypass = [True] + [False] * (len(sources) - 1)
    hurdles = {}
    cascade = Cascade(fitness, ["micro", "pressure"], quantile=0.5, warmup=0)
    with evaluation_pool("loky", 1) as pool:
        outcomes = cascade.evaluate(pool, sources, bypass, hurdles)
        plain = single_stage(pool, fitness, sources)
    assert [len(hurdles[s]) for s in ("micro", "pressure")] == \
        [len(sources), sum(o.stage != "micro" for o in outcomes)]
    micro_bar = np.percentile(hurdles["micro"], 50)
    for out, alone, skip in zip(outcomes, plain, bypass):
        passed = out.stage_scores["micro"] >= micro_bar or skip
        assert (out.stage != "micro") == passed
        if out.admitted:  # scored on every task: the same number as the fitness alone
            assert out.stage == FULL and out.value == pytest.approx(alone.value, abs=1e-12)
            assert set(out.scores) == set(TASKS)
        else:
            assert stopped_at(out.value) == cascade.names.index(out.stage)
    assert outcomes[0].admitted  # the start program skips the hurdles
    assert 0 < sum(o.admitted for o in outcomes) < len(sources)


def test_a_search_with_a_cascade_logs_stages_and_admits_only_full_scores(tmp_path):
    cfg = SearchConfig(tasks=list(TASKS), num_steps=10, lrs=[0.01, 0.1], seeds=[0],
                       population_size=8, batch_size=8, budget=24, workers=1, simplify=False,
                       restart_after=None, cascade=["micro", "pressure"], cascade_warmup=4,
                       cascade_quantile=0.5)
    result = run_search(cfg, [parse(ADAMW)], run_dir=tmp_path / "r", progress=False)
    lines = [json.loads(x) for x in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    stages = [x["stage"] for x in lines]
    assert set(stages) <= {"micro", "pressure", FULL} and "micro" in stages
    assert result.state.admitted == stages.count(FULL)
    assert all((x["fitness"] is None) == (x["stage"] != FULL) for x in lines)
    trained_full = [x for x in lines if x["stage"] == FULL and not x["cache_hit"]
                    and x["origin"] == "mutation"]
    assert all({"fitness_mean", "fitness_median", "fitness_p25"} <= set(x) for x in trained_full)
    admitted_fitness = {x["hash"] for x in lines if x["stage"] == FULL}
    assert all(ind.key[:16] in admitted_fitness for ind in result.state.hall_of_fame)
    assert len(result.state.hurdles["micro"]) > 0
    trained = [x for x in lines if not x["cache_hit"]]
    assert trained and all(isinstance(x["alpha"], float) for x in trained)
    hof = (tmp_path / "r" / "hall_of_fame.csv").read_text().splitlines()
    assert hof[0].split(",")[6] == "alpha"


def test_alpha_separates_sgd_from_adam():
    assert alpha_of(SGD) == pytest.approx(1.0, abs=1e-6)
    assert abs(alpha_of(ADAMW)) < 0.05
    assert math.isnan(alpha_of("def z(w, g, lr=0.1):\n    return 0.0 * g"))


def test_cascade_stage_names_are_checked():
    with pytest.raises(ConfigError, match="cascade: unknown stage 'nano'"):
        SearchConfig(cascade=["nano"])
    with pytest.raises(ConfigError, match="cascade_quantile"):
        SearchConfig(cascade_quantile=1.5)


def test_the_fitness_aggregates_task_scores_as_configured(fitness):
    from dataclasses import replace

    from search.fitness import aggregate_scores

    scores = fitness.scores(SGD)
    for how in ("mean", "median", "p25"):
        assert replace(fitness, aggregate=how)(SGD) == pytest.approx(
            aggregate_scores(scores.values(), how), abs=1e-12)
    assert aggregate_scores(scores.values(), "p25") <= aggregate_scores(scores.values(), "median")
