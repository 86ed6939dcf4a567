"""The learning-rate scaling check, update-only fingerprints and the fast shape probes."""

import pytest
import torch

from discover.library import REGISTRY
from primitives import Executor, ProgramError, check_lr_scaling, fingerprint, parse, \
    scales_with_lr
from primitives.execute import broadcast_shapes, probe_tensor

SGD = "def f(w, g, m, lr=0.1):\n    return lr * g, m\n"


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "lion", "adagrad", "rmsprop"])
def test_library_rules_that_multiply_by_lr_pass(name):
    check_lr_scaling(REGISTRY[name].program)


@pytest.mark.parametrize("body, why", [
    ("    a = arcsin(lr)\n    return a * g, m", "not proportional"),   # ~lr near 0, curved
    ("    a = expm1(lr)\n    return a * g, m", "not proportional"),
    ("    a = sinh(g)\n    return a * 0.001, m", "not proportional"),   # ignores lr
    ("    u = lr * g\n    return u * u, m", "not proportional"),        # lr squared
    ("    m1 = m + lr\n    u = sqrt(abs(m1)) * g\n    return u, m1", "not proportional"),
    ("    u = m * g\n    return u, m", "zero at every step"),           # m stays 0
])
def test_bent_or_missing_lr_fails_with_a_reason(body, why):
    program = parse(f"def f(w, g, m, lr=0.1):\n{body}\n")
    with pytest.raises(ProgramError, match=why):
        check_lr_scaling(program)
    assert not scales_with_lr(program)


def test_lr_kept_in_state_linearly_passes():
    # m accumulates lr * g: later updates read m and still double with lr
    check_lr_scaling(parse("def f(w, g, m, lr=0.1):\n    m1 = interp(lr * g, m, 0.9)\n"
                           "    return m1, m1\n"))


def test_a_program_without_lr_is_reported():
    with pytest.raises(ProgramError, match="no hyperparameter 'lr'"):
        check_lr_scaling(parse("def f(w, g, eta=0.1):\n    return eta * g\n"))


def test_update_only_fingerprint_ignores_state_the_update_does_not_read():
    plain = parse(SGD)
    busy = parse("def f(w, g, m, lr=0.1):\n    m1 = interp(g, m, 0.9)\n    return lr * g, m1\n")
    assert fingerprint(plain, state=False) == fingerprint(busy, state=False)
    assert fingerprint(plain) != fingerprint(busy)  # the full fingerprint still tells them apart
    momentum = parse("def f(w, g, m, lr=0.1):\n    m1 = interp(g, m, 0.9)\n    return lr * m1, m1\n")
    assert fingerprint(momentum, steps=4, state=False) != fingerprint(plain, steps=4, state=False)


def test_probe_tensors_are_real_for_small_shapes_and_meta_for_large():
    assert probe_tensor((5, 3))((5, 3)).device.type == "cpu"
    assert probe_tensor((4096, 4096))((4096, 4096)).device.type == "meta"


@pytest.mark.parametrize("shape", [(6, 4), (3000, 2000)])
def test_state_shapes_agree_on_both_probes(shape):
    program = parse("def f(w, g, r, lr=0.1):\n    r1 = interp(row_mean(square(g)), r, 0.9)\n"
                    "    return lr * g, r1\n")
    assert Executor(program).state_shapes(shape)["r"] == (shape[0], 1)


@pytest.mark.parametrize("a, b", [((3, 1), (1, 4)), ((), (5, 3)), ((5, 3), (3,)),
                                  ((2, 1, 3), (4, 1)), ((7,), (7,))])
def test_broadcast_shapes_matches_torch(a, b):
    assert broadcast_shapes(a, b) == tuple(torch.broadcast_shapes(a, b))


def test_broadcast_shapes_rejects_what_torch_rejects():
    with pytest.raises(RuntimeError):
        broadcast_shapes((3,), (4,))


def test_a_rule_that_ignores_the_gradient_is_rejected():
    from primitives import check_reads_gradient

    check_reads_gradient(REGISTRY["adam"].program)
    check_reads_gradient(parse("def f(w, g, lr=0.1):\n    return lr * abs(g) * sign(w)\n"))
    with pytest.raises(ProgramError, match="does not depend on the gradient"):
        check_reads_gradient(parse("def f(w, g, m, lr=0.1):\n    u = sign(w)\n"
                                   "    return lr * u, g\n"))  # g only reaches the state


def test_cross_entropy_stays_exact_for_huge_logits():
    import math

    from tasks.base import cross_entropy

    logits = torch.full((4, 10), -1.1368e8)  # all equal: the loss is log(10) however large
    assert cross_entropy(logits, torch.zeros(4, dtype=torch.long)).item() == \
        pytest.approx(math.log(10), rel=1e-6)
    x = torch.randn(3, 5, 10, dtype=torch.float64)
    y = torch.randint(10, (3, 5))
    ref = torch.nn.functional.cross_entropy(x.reshape(-1, 10), y.reshape(-1))
    assert cross_entropy(x, y).item() == pytest.approx(ref.item(), rel=1e-12)
