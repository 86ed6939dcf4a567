"""Regularized evolution: ask/tell semantics, aging, tournament, restarts, checkpoint round trip."""

import json
import math
import pickle
import random

import pytest

from primitives import parse
from search import WORST, RegularizedEvolution, SearchConfig, canonical, to_program
from search.evolution import state_from_json, state_to_json


def _fitness(ind):
    """A deterministic toy fitness of what the program computes (its live statements): more
    'sign' ops and fewer statements score higher."""
    program = canonical(to_program(ind))
    return sum(s.op == "sign" for s in program.body) - 0.01 * len(program.body)


def _rounds(search, state, n_rounds, batch=4):
    asked = []
    for _ in range(n_rounds):
        children, state = search.ask(state, batch)
        asked += [c.key for c in children]
        state = search.tell(state, children, [_fitness(c) for c in children])
    return asked, state


@pytest.fixture
def search(adamw, tiny):
    return RegularizedEvolution(SearchConfig(**tiny), [adamw], seed=0)


def test_first_ask_hands_out_the_start_programs(search, adamw):
    state = search.init()
    children, _ = search.ask(state, 3)
    assert to_program(children[0]) == adamw.__class__(**{**adamw.__dict__, "doc": ""})
    assert children[0].origin == "start"
    assert [c.origin for c in children[1:]] == ["mutation", "mutation"]
    assert [c.birth for c in children] == [0, 1, 2]


def test_ask_and_tell_do_not_modify_their_input_state(search):
    state = search.init()
    before = pickle.dumps(state)
    children, new = search.ask(state, 4)
    assert pickle.dumps(state) == before and new.asked == 4 and state.asked == 0
    before = pickle.dumps(new)
    told = search.tell(new, children, [0.0] * 4)
    assert pickle.dumps(new) == before
    for _ in range(3):  # with a population, a hall of fame and a logbook to share or copy
        before = pickle.dumps(told)
        children, asked = search.ask(told, 4)
        assert pickle.dumps(told) == before
        before = pickle.dumps(asked)
        told = search.tell(asked, children, [0.1, 0.2, 0.3, 0.4])
        assert pickle.dumps(asked) == before and len(told.logbook) == len(asked.logbook) + 1


def test_warm_start_fills_the_population_with_copies(search):
    state = search.init()
    children, state = search.ask(state, 1)
    state = search.tell(state, children, [1.0])
    assert len(state.population) == search.config.population_size
    assert {ind.key for ind in state.population} == {children[0].key}


def test_population_ages_out_the_oldest(search):
    state = search.init()
    _, state = _rounds(search, state, 6)
    size = search.config.population_size
    assert len(state.population) == size
    births = [ind.birth for ind in state.population]
    assert births == sorted(births) and births[-1] == state.asked - 1
    assert min(births) > 0  # the warm-start copies are gone


def test_tournament_parents_are_the_better_members(adamw, tiny):
    config = SearchConfig(**{**tiny, "tournament_size": 4})
    search = RegularizedEvolution(config, [adamw], seed=1)
    children, state = search.ask(search.init(), 8)
    state = search.tell(state, children, [float(i) for i in range(8)])  # fitness 0 .. 7
    assert sorted(ind.fitness.values[0] for ind in state.population) == list(range(8))
    picks = []
    select = search.toolbox.select

    def recording_select(population, k):
        chosen = select(population, k)
        picks.append(chosen[0].fitness.values[0])
        return chosen

    search.toolbox.select = recording_select
    search.ask(state, 60)
    # the best of 4 draws from 0..7 averages about 5.7; a uniform parent would average 3.5
    assert len(picks) == 60 and sum(picks) / len(picks) > 4.8


def test_nan_and_inf_fitness_are_the_worst(search):
    state = search.init()
    children, state = search.ask(state, 3)
    state = search.tell(state, children, [math.nan, math.inf, 0.5])
    values = sorted({ind.fitness.values[0] for ind in state.population})
    assert values[0] == WORST and state.best == 0.5


def test_hall_of_fame_keeps_distinct_programs_best_first(search):
    state = search.init()
    _, state = _rounds(search, state, 6)
    hof = list(state.hall_of_fame)
    assert len({ind.key for ind in hof}) == len(hof)
    values = [ind.fitness.values[0] for ind in hof]
    assert values == sorted(values, reverse=True)


def test_restart_after_a_plateau(adamw, tiny):
    config = SearchConfig(**{**tiny, "restart_after": 8, "restart_from": "alternate"})
    search = RegularizedEvolution(config, [adamw], seed=2)
    state = search.init()
    for _ in range(6):  # constant fitness: never improves after the first evaluation
        children, state = search.ask(state, 4)
        state = search.tell(state, children, [0.0] * 4)
    assert state.restarts >= 2
    origins = [o for _, o in state.queued]
    assert all(o == "restart" for o in origins)


def test_checkpoint_round_trip_asks_the_same(search):
    state = search.init()
    _, state = _rounds(search, state, 3)
    blob = pickle.dumps(state)
    random.seed(12345)  # the global stream must not matter
    uninterrupted, _ = _rounds(search, state, 4)
    resumed_state = pickle.loads(blob)
    random.seed(999)
    resumed, _ = _rounds(search, resumed_state, 4)
    assert resumed == uninterrupted


def test_json_round_trip_asks_the_same(adamw, tiny):
    """The checkpoint format: the state as JSON text and back continues exactly, restarts, hall
    of fame, queued programs, logbook and WORST fitnesses included."""
    config = SearchConfig(**{**tiny, "restart_after": 8, "restart_from": "alternate"})
    search = RegularizedEvolution(config, [adamw], seed=5)
    state = search.init()
    for i in range(7):
        children, state = search.ask(state, 4)
        fits = [_fitness(c) if i < 2 else 0.0 for c in children]
        state = search.tell(state, children, fits[:-1] + [math.nan])
    assert state.restarts >= 1 and len(state.hall_of_fame) > 0
    text = json.dumps(state_to_json(state), allow_nan=False)
    back = state_from_json(json.loads(text))
    assert json.dumps(state_to_json(back), allow_nan=False) == text
    assert list(back.logbook) == list(state.logbook) and back.kinds == state.kinds
    assert [i.fitness.values for i in back.hall_of_fame] == \
        [i.fitness.values for i in state.hall_of_fame]
    uninterrupted, end = _rounds(search, state, 6)
    resumed, end_back = _rounds(search, back, 6)
    assert resumed == uninterrupted
    assert json.dumps(state_to_json(end_back)) == json.dumps(state_to_json(end))


def test_search_does_not_touch_the_global_random_stream(search):
    random.seed(7)
    expected = random.random()
    random.seed(7)
    _rounds(search, search.init(), 3)
    assert random.random() == expected


def test_same_seed_same_search_different_seed_differs(adamw, tiny):
    config = SearchConfig(**tiny)
    a, _ = _rounds(RegularizedEvolution(config, [adamw], seed=3), RegularizedEvolution(
        config, [adamw], seed=3).init(), 4)
    search = RegularizedEvolution(config, [adamw], seed=3)
    b, _ = _rounds(search, search.init(), 4)
    other = RegularizedEvolution(config, [adamw], seed=4)
    c, _ = _rounds(other, other.init(), 4)
    assert a == b and a != c


def test_random_init_queues_p_random_programs(adamw, tiny):
    config = SearchConfig(**{**tiny, "init": "random", "random_length": 3})
    search = RegularizedEvolution(config, [adamw], seed=5)
    state = search.init()
    assert len(state.queued) == config.population_size
    children, state = search.ask(state, config.population_size)
    assert all(c.origin == "random" for c in children)
    assert all(to_program(c).params == adamw.params for c in children)


def test_logbook_records_each_tell(search):
    _, state = _rounds(search, search.init(), 3)
    assert [r["evals"] for r in state.logbook] == [4, 8, 12]
    keys = {"fitness_median", "fitness_max", "length_mean", "invalid_share"}
    assert keys <= set(state.logbook[0])


def test_tell_checks_lengths(search):
    children, state = search.ask(search.init(), 2)
    with pytest.raises(ValueError, match="2 children but 1 fitnesses"):
        search.tell(state, children, [0.0])


def test_needs_a_start_program(tiny):
    with pytest.raises(ValueError, match="start program"):
        RegularizedEvolution(SearchConfig(**tiny), [], seed=0)


def test_parse_round_trip_of_children(search):
    children, _ = search.ask(search.init(), 6)
    for c in children:
        p = to_program(c)
        assert parse(p.source) == p


def test_restart_on_the_last_child_of_a_batch(adamw, tiny):
    """A restart empties the population; the statistics of an empty population must not crash."""
    config = SearchConfig(**{**tiny, "restart_after": 3, "restart_from": "start"})
    search = RegularizedEvolution(config, [adamw], seed=0)
    state = search.init()
    for _ in range(12):  # batches of one: every restart fires on the batch's last child
        children, state = search.ask(state, 1)
        state = search.tell(state, children, [0.0])
    assert state.restarts >= 2


def test_checks_the_start_programs_fail_are_relaxed_with_a_note(tiny):
    blind = parse("def f(w, g, m, lr=0.1):\n    a = sign(w)\n    return lr * a, m\n")
    bent = parse("def f(w, g, m, lr=0.1):\n    a = expm1(lr)\n    return a * g, m\n")
    plain = parse("def f(w, g, m, lr=0.1):\n    return lr * g, m\n")
    cfg = SearchConfig(**tiny)
    assert RegularizedEvolution(cfg, [plain]).notes == []
    s = RegularizedEvolution(cfg, [plain]).settings
    assert s.needs_gradient and s.lr_proportional
    one = RegularizedEvolution(cfg, [blind])
    assert not one.settings.needs_gradient and one.settings.lr_proportional
    assert "require_gradient off" in one.notes[0]
    two = RegularizedEvolution(cfg, [bent])
    assert two.settings.needs_gradient and not two.settings.lr_proportional
    assert "lr_proportional off" in two.notes[0]
