"""The CartPole A2C task: dynamics, the protocol's batch/loss contract, learning, divergence."""

import math

import pytest
import torch

from tasks.protocol import evaluate, normalised_score
from tasks.rl.cartpole import FAMILY, cartpole, cartpole_step

TASK = cartpole("proxy")


def gym_step(state, push_right):
    """Gym's CartPole-v1 ``step`` for one state, in plain Python floats (the reference)."""
    x, x_dot, theta, theta_dot = state
    force = 10.0 if push_right else -10.0
    cos, sin = math.cos(theta), math.sin(theta)
    temp = (force + 0.05 * theta_dot ** 2 * sin) / 1.1
    theta_acc = (9.8 * sin - cos * temp) / (0.5 * (4.0 / 3.0 - 0.1 * cos ** 2 / 1.1))
    x_acc = temp - 0.05 * theta_acc * cos / 1.1
    nxt = (x + 0.02 * x_dot, x_dot + 0.02 * x_acc, theta + 0.02 * theta_dot,
           theta_dot + 0.02 * theta_acc)
    done = abs(nxt[0]) > 2.4 or abs(nxt[2]) > 12 * 2 * math.pi / 360
    return nxt, done


def test_one_step_from_rest_matches_hand_computed_numbers():
    # pushing right from rest: temp = 10/1.1, theta_acc = -temp / (0.5 (4/3 - 0.1/1.1))
    # = -14.634146, x_acc = temp + 0.05 * 14.634146 / 1.1 = 9.756098; velocities move by 0.02 x acc
    nxt, done = cartpole_step(torch.zeros(4, dtype=torch.float64), torch.tensor(True))
    assert nxt.tolist() == pytest.approx([0.0, 0.19512195, 0.0, -0.29268293], abs=1e-8)
    assert not bool(done)


def test_steps_match_gym_and_end_episodes_at_the_bounds():
    states = [(0.1, -0.2, 0.05, 0.3), (-1.0, 1.5, -0.15, -1.2), (2.39, 1.0, 0.0, 0.0),
              (0.0, 0.0, 0.2, 0.5), (0.0, 0.0, -0.2, -0.5)]
    pushes = [False, True, True, False, True]
    nxt, done = cartpole_step(torch.tensor(states, dtype=torch.float64), torch.tensor(pushes))
    for i, (state, push) in enumerate(zip(states, pushes)):
        ref, ref_done = gym_step(state, push)
        assert nxt[i].tolist() == pytest.approx(ref, rel=1e-12, abs=1e-12)
        assert bool(done[i]) == ref_done
    assert done.tolist() == [False, False, True, True, True]  # x past 2.4; |theta| past 12 degrees


def test_vectorised_gae_equals_the_backward_recursion():
    task = cartpole("proxy")
    t, n = task.rollout_steps, 5
    g = torch.Generator().manual_seed(0)
    values = torch.rand(t + 1, n, generator=g, dtype=torch.float64)
    dones = torch.rand(t, n, generator=g) < 0.2
    adv = task._gae(values, dones)
    running, expected = torch.zeros(n, dtype=torch.float64), []
    for s in reversed(range(t)):
        live = (~dones[s]).double()
        delta = (1 - task.gamma) + task.gamma * values[s + 1] * live - values[s]
        running = delta + task.gamma * task.gae_lambda * live * running
        expected.append(running)
    torch.testing.assert_close(adv, torch.stack(expected[::-1]))


def test_rollouts_restart_ended_episodes_from_the_batch():
    params = TASK.init(0)
    start, restart, uniform = TASK.batches(0, 0)
    states, actions, dones = TASK._rollout(params, start, restart, uniform)
    assert states.shape == (TASK.rollout_steps + 1, TASK.num_envs, 4)
    assert bool(dones.any()), "the wide start box should end some episodes within a rollout"
    torch.testing.assert_close(states[1:][dones], restart[dones])
    assert bool(actions.any()) and not bool(actions.all())  # a near-uniform policy at init


def test_batches_and_loss_are_deterministic_and_depend_on_seed_and_step():
    params = TASK.init(0)
    a, b = TASK.batches(3, 7), TASK.batches(3, 7)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert all(not torch.equal(x, y) for x, y in zip(a, TASK.batches(3, 8)))
    assert all(not torch.equal(x, y) for x, y in zip(a, TASK.batches(4, 7)))
    assert torch.equal(TASK.loss(params, a), TASK.loss(params, b))
    assert TASK.validate(params) == TASK.validate(TASK.init(0))


def test_loss_and_metric_under_vmap_equal_per_copy_values():
    names = list(TASK.init(0))
    copies = [TASK.init(s, dtype=torch.float64) for s in range(3)]
    batches = [TASK.batches(s, 0, dtype=torch.float64) for s in range(3)]
    stacked = [torch.stack([c[n] for c in copies]) for n in names]
    stacked_batch = tuple(torch.stack(parts) for parts in zip(*batches))

    def loss(p, b):
        return TASK.loss(dict(zip(names, p)), b)

    losses = torch.func.vmap(loss)(stacked, stacked_batch)
    grads = torch.func.vmap(torch.func.grad(loss))(stacked, stacked_batch)
    val = TASK.validation_batch(dtype=torch.float64)
    metrics = torch.func.vmap(lambda p: TASK.metric(dict(zip(names, p)), val))(stacked)
    for i, (params, batch) in enumerate(zip(copies, batches)):
        assert float(losses[i]) == pytest.approx(float(TASK.loss(params, batch)), rel=1e-12)
        assert float(metrics[i]) == pytest.approx(float(TASK.metric(params, val)), rel=1e-12)
        single = torch.func.grad(loss)([params[n] for n in names], batch)
        for gb, gs in zip(grads, single):
            torch.testing.assert_close(gb[i], gs)


def test_adam_learns_to_balance_within_the_proxy_budget(adamw):
    result = evaluate(adamw, TASK, lrs=(3e-3, 1e-2), seeds=(0,))
    # the metric is (cap - mean steps balanced) / cap + floor: the return at least quadruples
    steps_before = (1 + TASK.metric_floor - result.initial_metric) * TASK.episode_cap
    steps_after = (1 + TASK.metric_floor - result.metric) * TASK.episode_cap
    assert steps_after > 4 * steps_before and steps_after > 100, (steps_before, steps_after)
    assert normalised_score(result.metric, result.metric, result.initial_metric) == 1.0


def test_nan_and_absurd_learning_rates_score_worst(sgd, nan_rule):
    nan = evaluate(nan_rule, TASK.with_steps(3), lrs=(0.1,), seeds=(0, 1))
    assert nan.metric == math.inf and nan.best_lr is None and all(nan.diverged[0])
    absurd = evaluate(sgd, TASK.with_steps(3), lrs=(1e30,), seeds=(0,))
    assert absurd.metric == math.inf
    assert normalised_score(absurd.metric, 0.5, absurd.initial_metric) == 0.0


def test_family_sizes_and_errors():
    tasks = FAMILY.tasks("validation")
    assert [t.name for t in tasks] == ["cartpole_a2c_validation"] and tasks[0].family == "rl"
    assert cartpole("test").episode_cap > cartpole("proxy").episode_cap
    with pytest.raises(ValueError, match="unknown size 'huge'"):
        cartpole("huge")
