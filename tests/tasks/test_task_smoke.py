"""One smoke test for every task of every suite (the suites drive it: a new task is tested free)."""

import math

import pytest
import torch

from tasks.protocol import evaluate, normalised_score
from tasks.suites import SUITES

ALL_TASKS = [task for suite in SUITES.values() for task in suite]

#: steps for the "Adam makes progress" check: the proxy budget, a short run for larger tasks
SMOKE_STEPS = {"proxy": None, "validation": 40, "test": 40}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("task", ALL_TASKS, ids=lambda t: t.name)
def test_init_and_batches_are_deterministic(task):
    p0 = task.init(0)
    assert _same(p0, task.init(0))
    assert not _same(p0, task.init(1)), "another seed must give another initialisation"
    assert all(v.dtype == torch.float32 for v in p0.values())
    assert all(v.dtype == torch.float64 for v in task.init(0, dtype=torch.float64).values())
    b = task.batches(0, 3)
    assert all(torch.equal(x, y) for x, y in zip(b, task.batches(0, 3)))
    if b:  # stochastic tasks: the step and the seed both change the batch
        assert not all(torch.equal(x, y) for x, y in zip(b, task.batches(0, 4)))
        assert not all(torch.equal(x, y) for x, y in zip(b, task.batches(1, 3)))


@pytest.mark.parametrize("task", ALL_TASKS, ids=lambda t: t.name)
def test_one_step_gives_finite_loss_gradients_and_metric(task):
    params = {k: v.requires_grad_() for k, v in task.init(0).items()}
    loss = task.loss(params, task.batches(0, 0))
    assert loss.shape == () and torch.isfinite(loss)
    loss.backward()
    for name, p in params.items():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert torch.isfinite(p.grad).all(), name
    assert math.isfinite(task.validate({k: v.detach() for k, v in params.items()}))
    assert task.family in ("synthetic", "vision", "language", "rl", "pressure_quadratics",
                           "pressure_logistic", "pressure_nets")


@pytest.mark.parametrize("task", ALL_TASKS, ids=lambda t: t.name)
def test_adam_makes_progress(task, adamw):
    steps = SMOKE_STEPS[task.size] or task.num_steps
    result = evaluate(adamw, task.with_steps(min(steps, task.num_steps)), lrs=(1e-3, 1e-2),
                      seeds=(0,))
    assert result.metric < result.initial_metric, result.metrics
    assert not any(any(row) for row in result.diverged)


@pytest.mark.parametrize("task", ALL_TASKS, ids=lambda t: t.name)
def test_divergence_is_a_worst_score_not_an_exception(task, sgd, nan_rule):
    absurd = evaluate(sgd, task.with_steps(4), lrs=(1e30,), seeds=(0,))
    assert not math.isnan(absurd.metric)
    assert normalised_score(absurd.metric, 0.5 * absurd.initial_metric, absurd.initial_metric) == 0.0
    nan = evaluate(nan_rule, task.with_steps(2), lrs=(0.1, 1.0), seeds=(0, 1))
    assert nan.metric == math.inf and nan.best_lr is None and nan.curve == ()
    assert all(all(row) for row in nan.diverged)
