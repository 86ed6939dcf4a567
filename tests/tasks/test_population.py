"""B programs trained together give, per program, what evaluate gives it alone."""

import math

import pytest
import torch

from primitives import parse
from tasks.population import evaluate_population
from tasks.protocol import evaluate
from tasks.synthetic import logistic, quadratic
from tasks.vision import mlp

from .test_task_protocol import PATH_PROGRAMS

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

ADAMW = """def adamw(w, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, wd=0.01):
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    return lr * (m / (1 - beta1 ** t) / (sqrt(v / (1 - beta2 ** t)) + eps) + wd * w), m, v"""
#: every update path of tasks.batched, plus a rule that diverges at the large learning rates
PROGRAMS = [parse(ADAMW)] + [parse(s) for s in PATH_PROGRAMS.values() if s] + [
    parse("def wild(w, g, m, lr=0.1):\n    m = m + g\n    return lr * exp(m) * g, m")]
LRS = (1e-3, 1e-1, 3.0)


def _same(a, b):
    """Results equal to float64 rounding (1e-9 relative), non-finite where the other is."""
    assert (a.program, a.best_lr, a.diverged) == (b.program, b.best_lr, b.diverged)
    for x, y in zip([v for row in a.metrics_per_seed for v in row] + list(a.curve),
                    [v for row in b.metrics_per_seed for v in row] + list(b.curve)):
        if math.isfinite(y):
            assert abs(x - y) <= 1e-9 * max(1.0, abs(y)), (a.program, x, y)
        else:
            assert not math.isfinite(x), (a.program, x, y)


@pytest.mark.parametrize("task", [quadratic("proxy").with_steps(12),
                                  logistic("proxy").with_steps(8), mlp("proxy").with_steps(4)],
                         ids=lambda t: t.name)
def test_population_equals_each_program_alone(task):
    alone = [evaluate(p, task, lrs=LRS, seeds=(0, 1), dtype=torch.float64) for p in PROGRAMS]
    together = evaluate_population(PROGRAMS, task, lrs=LRS, seeds=(0, 1), dtype=torch.float64)
    assert len(together) == len(PROGRAMS)
    for a, b in zip(together, alone):
        _same(a, b)


def test_population_size_and_order_do_not_change_a_result():
    task = quadratic("proxy").with_steps(10)
    full = evaluate_population(PROGRAMS, task, lrs=LRS, dtype=torch.float64)
    pair = evaluate_population([PROGRAMS[3], PROGRAMS[0]], task, lrs=LRS, dtype=torch.float64)
    single = evaluate_population([PROGRAMS[3]], task, lrs=LRS, dtype=torch.float64)
    _same(pair[0], full[3])
    _same(pair[1], full[0])
    _same(single[0], full[3])
    wild = full[-1]  # diverges at the large learning rates, alone in its copies
    assert any(wild.diverged[-1]) and not any(wild.diverged[0])
    assert all(not any(row) for r in full[:-1] for row in r.diverged[:1])


def test_population_errors_are_one_line():
    task = quadratic("proxy").with_steps(2)
    with pytest.raises(ValueError, match="at least one program"):
        evaluate_population([], task)
    with pytest.raises(ValueError, match="2 hyperparameter sets for 1 programs"):
        evaluate_population(PROGRAMS[:1], task, hypers=[None, None])
