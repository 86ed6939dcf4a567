"""Mutations: every child is valid, round-trips through source, and changes what it should."""

import random

import pytest

from primitives import OPS, ProgramError, check_valid, parse, to_source
from search.mutation import (SEARCH_OPS, MutationSettings, mutate, mutate_valid, perturb_constant,
                             random_program)

SIMPLE = parse("def f(w, g, m, lr=0.1, beta=0.9):\n    m = interp(g, m, beta)\n"
               "    return lr * m, m\n")


def _constants(p):
    return sorted([d for d in p.hyperparameters.values()] +
                  [a for s in p.body for a in s.args if not isinstance(a, str)])


def test_many_random_mutations_are_valid_and_round_trip(adamw):
    rng = random.Random(0)
    parent, seen = adamw, set()
    for _ in range(80):
        child, info = mutate_valid(parent, rng)
        assert not info.failed
        check_valid(child)  # raises if invalid
        assert parse(to_source(child)) == child
        targets = [s.target for s in child.body]
        assert len(set(targets)) == len(targets)  # SSA: one definition per name
        assert child != parent
        seen.add(info.kind)
        parent = child if rng.random() < 0.8 else adamw  # random walks, restarted now and then
    assert seen == {"insert", "delete", "modify", "constant"}


@pytest.mark.parametrize("kind, delta", [("insert", 1), ("delete", -1), ("modify", 0),
                                         ("constant", 0)])
def test_each_kind_changes_length_as_expected(adamw, kind, delta):
    weights = tuple(1.0 if k == kind else 0.0 for k in ("insert", "delete", "modify", "constant"))
    settings = MutationSettings(weights=weights)
    rng = random.Random(1)
    for _ in range(20):
        child, got = mutate(adamw, rng, settings)
        assert got == kind
        assert len(child.body) == len(adamw.body) + delta


def test_constant_mutation_changes_exactly_one_constant_and_never_lr(adamw):
    settings = MutationSettings(weights=(0, 0, 0, 1))
    rng = random.Random(2)
    for _ in range(50):
        child, _ = mutate(adamw, rng, settings)
        before, after = _constants(adamw), _constants(child)
        assert len(set(before) ^ set(after)) <= 2  # one value out, one in
        assert child.hyperparameters["lr"] == adamw.hyperparameters["lr"]
        assert [s.op for s in child.body] == [s.op for s in adamw.body]


def test_perturb_constant_scales_by_powers_of_two_or_resamples():
    rng = random.Random(3)
    scaled = [perturb_constant(0.5, rng, scale_prob=1.0) for _ in range(200)]
    assert all(v > 0 for v in scaled) and len(set(scaled)) == 200
    fresh = [perturb_constant(1e6, rng, scale_prob=0.0) for _ in range(200)]
    assert max(abs(v) for v in fresh) < 10  # N(0, 1) draws, the old value forgotten


def test_insertion_disabled_at_the_length_cap(adamw):
    settings = MutationSettings(max_length=len(adamw.body))
    rng = random.Random(4)
    kinds = {mutate(adamw, rng, settings)[1] for _ in range(100)}
    assert "insert" not in kinds and {"delete", "modify", "constant"} <= kinds


def test_insertions_use_only_the_given_ops(adamw):
    settings = MutationSettings(ops=("sign", "add"), weights=(1, 0, 0, 0))
    rng = random.Random(5)
    for _ in range(30):
        child, _ = mutate(adamw, rng, settings)
        old = {s.target for s in adamw.body}
        new = [s.op for s in child.body if s.target not in old]
        assert new and set(new) <= {"sign", "add"}


def test_delete_rewires_uses_to_a_defined_value(adamw):
    settings = MutationSettings(weights=(0, 1, 0, 0))
    rng = random.Random(6)
    for _ in range(30):
        child, _ = mutate(adamw, rng, settings)
        check_valid(child)  # every use still refers to something defined before it


def test_modify_can_repoint_returned_values():
    rng = random.Random(7)
    settings = MutationSettings(weights=(0, 0, 1, 0))
    returns = {mutate(SIMPLE, rng, settings)[0].returns for _ in range(200)}
    assert any(r[0] != SIMPLE.returns[0] for r in returns)
    assert any(r[1] != SIMPLE.returns[1] for r in returns)


def test_invalid_children_are_re_mutated_and_counted():
    # clip_by_global_norm needs per-parameter lists: on scalars it fails the meta check
    settings = MutationSettings(ops=("clip_by_global_norm",), weights=(1, 0, 1, 0))
    rng = random.Random(8)
    total = 0
    for _ in range(40):
        child, info = mutate_valid(SIMPLE, rng, settings)
        check_valid(child)
        total += info.invalid
        assert len(info.errors) == info.invalid
    assert total > 0


def test_gives_up_after_max_attempts_and_returns_the_parent(monkeypatch):
    import search.mutation as mutation

    def never_valid(program):
        raise ProgramError("invalid")

    monkeypatch.setattr(mutation, "check_valid", never_valid)
    child, info = mutate_valid(SIMPLE, random.Random(0), MutationSettings(max_attempts=5))
    assert info.failed and child is SIMPLE
    assert 0 < info.invalid <= 5


def test_same_seed_same_children(adamw):
    a = [mutate_valid(adamw, r)[0] for r in [random.Random(9)] * 10]
    b = [mutate_valid(adamw, r)[0] for r in [random.Random(9)] * 10]
    assert a == b


def test_random_programs_are_valid_with_the_template_signature(adamw):
    rng = random.Random(10)
    for _ in range(10):
        p = random_program(adamw, rng, 6)
        check_valid(p)
        assert p.params == adamw.params and len(p.body) == 6


def test_default_op_set_is_the_registry_search_set():
    assert set(SEARCH_OPS) == {n for n, op in OPS.items() if op.search}
    assert "pdiv" in SEARCH_OPS and "div" not in SEARCH_OPS


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="unknown op"):
        MutationSettings(ops=("nope",))
    with pytest.raises(ValueError, match="weights"):
        MutationSettings(weights=(0, 0, 0, 0))


def test_lr_proportional_children_keep_the_update_proportional_to_lr():
    from primitives import scales_with_lr

    start = parse("def f(w, g, m, v, lr=0.1):\n    return lr * g, m, v\n")
    settings = MutationSettings(lr_proportional=True)
    rng, parent = random.Random(1), start
    for _ in range(60):
        child, info = mutate_valid(parent, rng, settings)
        assert scales_with_lr(child), to_source(child)
        # lr is never drawn as a fresh argument: it stays in the one `lr * x` it started in
        assert sum(a == "lr" for s in child.body for a in s.args) <= 1
        parent = child
    # without the setting, a walk soon bends lr (exp(lr), lr-free updates, ...)
    rng, parent, bent = random.Random(1), start, 0
    for _ in range(60):
        parent, _ = mutate_valid(parent, rng)
        bent += not scales_with_lr(parent)
    assert bent > 0


def test_inplace_insertions_transform_the_value_they_replace():
    settings = MutationSettings(weights=(1.0, 0.0, 0.0, 0.0), overwrite_prob=1.0,
                                inplace_prob=1.0, constant_prob=0.0)
    rng = random.Random(3)
    for _ in range(30):
        child, _ = mutate_valid(SIMPLE, rng, settings)
        i = next(k for k, s in enumerate(child.body) if s not in SIMPLE.body)
        new = child.body[i]
        if OPS[new.op].arity:
            # the first argument is the replaced value: every later use now reads the new one
            first = new.args[0]
            later = [a for s in child.body[i + 1:] for a in s.args] + list(child.returns)
            assert isinstance(first, str) and first not in later, to_source(child)


def test_smooth_turns_a_state_into_a_moving_average_and_sometimes_wires_it_in():
    start = parse("def f(w, g, m, v, lr=0.1):\n    return lr * g, m, v\n")
    settings = MutationSettings(weights=(0, 0, 0, 0, 1))
    rng, wired = random.Random(0), 0
    for _ in range(40):
        child, info = mutate_valid(start, rng, settings)
        assert info.kind == "smooth"
        (new,) = [s for s in child.body if s.op == "interp"]
        state = child.state_names[child.returns[1:].index(new.target)]
        x, old, beta = new.args
        assert old == state and x in ("g", "tmp1") and 0.68 < beta < 0.9991
        wired += child.body[-1].args != start.body[-1].args  # lr * g now reads the average
        check_valid(child)
    assert 5 < wired < 35


def test_four_weights_mean_no_smoothing():
    assert MutationSettings(weights=(1, 1, 1, 1)).weights == (1, 1, 1, 1, 0.0)
    with pytest.raises(ValueError, match="4 or 5"):
        MutationSettings(weights=(1, 1, 1))
