"""The fitness cache: equivalent programs hit, different ones miss, and hits are not re-trained."""

import random

import pytest

from primitives import parse
from search import FitnessCache, RegularizedEvolution, SearchConfig, canonical, program_keys
from search.parallel import evaluation_pool
from search.run import _Run

BASE = """def f(w, g, m, lr=0.1, beta=0.9):
    m = interp(g, m, beta)
    d = sign(m)
    u = d + 0.01 * w
    return lr * u, m
"""

EQUIVALENT = {
    "renamed": """def other(w, g, mom, alpha=0.1, b=0.9):
    mom = interp(g, mom, b)
    s = sign(mom)
    step = s + 0.01 * w
    return alpha * step, mom
""",
    "dead code": """def f(w, g, m, lr=0.1, beta=0.9):
    junk = exp(g) * m
    m = interp(g, m, beta)
    d = sign(m)
    more = d - junk
    u = d + 0.01 * w
    return lr * u, m
""",
    "commutative swap": """def f(w, g, m, lr=0.1, beta=0.9):
    m = interp(g, m, beta)
    d = sign(m)
    u = w * 0.01 + d
    return u * lr, m
""",
    "same behaviour, other structure": """def f(w, g, m, lr=0.1, beta=0.9):
    m = interp(g, m, beta)
    d = sign(m)
    u = d + w / 100.0
    return lr * u, m
""",
}

DIFFERENT = {
    "other constant": BASE.replace("0.01", "0.02"),
    "other op": BASE.replace("sign(m)", "tanh(m)"),
    "operands swapped in a non-commutative op": BASE.replace("interp(g, m, beta)",
                                                             "interp(m, g, beta)"),
}


@pytest.mark.parametrize("name", EQUIVALENT)
def test_equivalent_programs_hit(name):
    cache = FitnessCache()
    cache.store(program_keys(parse(BASE)), 0.75)
    assert cache.lookup(program_keys(parse(EQUIVALENT[name]))) == 0.75
    assert cache.hits == 1 and cache.hit_rate == 1.0


def test_fingerprint_hit_is_reported_as_such():
    cache = FitnessCache()
    cache.store(program_keys(parse(BASE)), 0.5)
    _, via = cache.peek(program_keys(parse(EQUIVALENT["same behaviour, other structure"])))
    assert via == "fingerprint"
    _, via = cache.peek(program_keys(parse(EQUIVALENT["renamed"])))
    assert via == "hash"


@pytest.mark.parametrize("name", DIFFERENT)
def test_different_programs_miss(name):
    cache = FitnessCache()
    cache.store(program_keys(parse(BASE)), 0.75)
    assert cache.lookup(program_keys(parse(DIFFERENT[name]))) is None
    assert cache.hits == 0 and cache.lookups == 1


def test_canonical_program_has_no_dead_code():
    p = canonical(parse(EQUIVALENT["dead code"]))
    assert [s.op for s in p.body] == [s.op for s in parse(BASE).body]
    assert p.name == "candidate"


class _Recorder:
    """A fitness that records what it is asked to train (runs in-process: workers=1)."""

    def __init__(self):
        self.sources = []

    def __call__(self, source):
        self.sources.append(source)
        return float(len(self.sources))


def test_equivalent_children_are_not_retrained(adamw, tiny, tmp_path):
    programs = [parse(BASE)] + [parse(s) for s in EQUIVALENT.values()] + [parse(BASE)]
    config = SearchConfig(**tiny)
    search = RegularizedEvolution(config, programs, seed=0)
    fitness = _Recorder()
    ckpt = {"state": search.init(), "cache": FitnessCache(), "fitness": fitness}
    run = _Run(tmp_path, config, search, adamw, ckpt, False, None)
    children, _ = search.ask(run.state, len(programs))
    with evaluation_pool("loky", workers=1) as pool:
        values, admitted, lines = run._score(pool, fitness, children, {})
    assert len(fitness.sources) == 1  # six equivalent programs, one training
    assert values == [1.0] * len(programs) and all(admitted)
    assert [line["cache_hit"] for line in lines] == [False] + [True] * (len(programs) - 1)
    # a later batch hits the stored value
    with evaluation_pool("loky", workers=1) as pool:
        values, _, _ = run._score(pool, fitness, children[:2], {})
    assert len(fitness.sources) == 1 and values == [1.0, 1.0]


def test_cache_pickles_with_its_counts():
    import pickle

    cache = FitnessCache()
    keys = program_keys(parse(BASE))
    cache.store(keys, 0.3)
    cache.lookup(keys)
    cache.lookup(program_keys(parse(DIFFERENT["other op"])))
    back = pickle.loads(pickle.dumps(cache))
    assert back.lookup(keys) == 0.3 and back.hits == 2 and back.lookups == 3


def test_cache_json_round_trip_keeps_values_and_counts():
    import json
    import math

    cache = FitnessCache()
    keys = program_keys(parse(BASE))
    other = program_keys(parse(DIFFERENT["other op"]))
    cache.store(keys, 0.3)
    cache.store(other, -math.inf)
    cache.lookup(keys)
    back = FitnessCache.from_json(json.loads(json.dumps(cache.to_json(), allow_nan=False)))
    assert back == cache and back.lookup(other) == -math.inf and back.hits == 2


def test_mutations_of_dead_code_are_cache_hits(adamw):
    """A mutation that only touches dead statements leaves both keys unchanged."""
    p = parse(EQUIVALENT["dead code"])
    keys = program_keys(p)
    rng = random.Random(0)
    from search.mutation import MutationSettings, mutate

    hits = 0
    for _ in range(40):
        child, _ = mutate(p, rng, MutationSettings(weights=(0, 0, 1, 0)))
        if canonical(child) == canonical(p):  # only dead code changed
            assert program_keys(child) == keys
            hits += 1
    assert hits > 0
