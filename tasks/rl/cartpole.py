"""Reinforcement-learning tasks: an actor-critic agent (A2C) balancing a pole on a cart.

The environment is the classic CartPole (Barto, Sutton & Anderson, 1983; the dynamics and
constants of Gym's ``CartPole-v1``) written as batched torch ops: gravity 9.8, cart mass 1.0, pole
mass 0.1, pole half-length 0.5, force +-10 N, Euler steps of 0.02 s, an episode ends when
``|x| > 2.4`` or ``|theta| > 12 degrees``, reward 1 per step.

**How an RL task fits the protocol.** The protocol needs ``batches(seed, step)`` to be
deterministic and independent of the parameters, and ``loss(params, batch)`` to be a pure function
that runs under ``torch.func.vmap``. So the batch of a step is the *randomness* of that step's
rollout, drawn from ``(task.name, "batch", seed, step)``: start states of ``num_envs`` parallel
environments, the states they restart from after an episode ends, and uniform numbers that pick
the actions by inverse CDF. :meth:`CartPoleTask.loss` plays the rollout of ``rollout_steps`` steps
with the *current* policy (no gradient flows through the sampling or the dynamics: actions are
discrete), computes GAE advantages with the critic (Schulman et al., 2016) and returns the A2C
surrogate (Mnih et al., 2016)::

    loss = mean_envs sum_t [-log pi(a_t|s_t) A_t + c_v (V(s_t) - R_t)^2 - c_e H(pi(.|s_t))]

with ``A`` the normalised GAE advantages and ``R = A_gae + V`` the value targets, both detached,
``c_v = value_coef`` and ``c_e = entropy_coef``. The sum over the rollout's steps is the
REINFORCE form (a mean over steps would be 1/T of it); it also puts tuned SGD's learning rate
inside the protocol's grid. There are no Python branches on tensor values: an ended episode restarts
through ``torch.where``. Every update starts its environments afresh from the batch's start
states, drawn from a wide box (``start_high``: the cart anywhere on the track, moving, the pole
tilted and turning), so the agent meets the states of long episodes although each rollout is
short; the critic bootstraps the return beyond the rollout.

The metric (lower is better) is the failure rate of the policy over ``eval_episodes`` fixed
episodes of at most ``episode_cap`` steps, started from the same box, actions sampled with fixed
uniforms: ``(cap - mean steps balanced) / cap + metric_floor``. It is a Monte-Carlo estimate of
the objective A2C optimises (the undiscounted return of the sampled policy), so there is no gap
between what is trained and what is scored. Gym's narrow start states and a greedy policy would
be the usual evaluation, but CartPole is then solved outright within the budget at most learning
rates, and every solved run scores the same; from the wide box some starts are hard or doomed,
and the score stays graded by how well the controller recovers. The floor keeps the log-scale
normalisation (:func:`tasks.protocol.normalised_score`) from rewarding the last few steps
without bound should every episode be held.

Example::

    >>> task = cartpole("proxy")
    >>> params = task.init(seed=0)
    >>> sorted(params)[:3]
    ['pi0.b', 'pi0.w', 'pi1.b']
    >>> 0.0 < task.validate(params) <= 1.0 + task.metric_floor
    True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..base import Batch, Params, Task, TaskFamily, check_size, generator

__all__ = ["CartPoleTask", "cartpole", "cartpole_step", "FAMILY"]

# classic CartPole constants (Gym CartPole-v1)
GRAVITY, CART_MASS, POLE_MASS, HALF_LENGTH, FORCE, TAU = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
X_LIMIT, THETA_LIMIT = 2.4, 12.0 * 2.0 * math.pi / 360.0
_TOTAL_MASS = CART_MASS + POLE_MASS
_POLE_MOMENT = POLE_MASS * HALF_LENGTH

#: bounds of (x, x_dot, theta, theta_dot) beyond which an episode ends
_LIMITS = (X_LIMIT, math.inf, THETA_LIMIT, math.inf)
#: multiplies (x, x_dot, theta, theta_dot) so the networks see inputs of order one
_OBS_SCALE = (1.0 / X_LIMIT, 0.5, 1.0 / THETA_LIMIT, 0.5)
_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


def cartpole_step(state: torch.Tensor, push_right: torch.Tensor):
    """One Euler step of the CartPole dynamics: ``(next_state, done)``.

    ``state`` is ``[..., 4]`` = (x, x_dot, theta, theta_dot); ``push_right`` is bool ``[...]``.
    ``done`` says the *next* state is out of bounds (the step that ends an episode still earns
    its reward, as in Gym). Gym's formulas, with the constants folded (fewer ops per step)::

        temp = (F + m l theta_dot^2 sin) / M
        theta_acc = (g sin - cos temp) / (l (4/3 - m cos^2 / M))
        x_acc = temp - m l theta_acc cos / M
    """
    _, x_dot, theta, theta_dot = state.unbind(-1)
    right, left = _constant((FORCE / _TOTAL_MASS, -FORCE / _TOTAL_MASS), state)  # in the state's
    force = torch.where(push_right, right, left)  # dtype (Python floats would give float32)
    cos, sin = torch.cos(theta), torch.sin(theta)
    temp = force + (_POLE_MOMENT / _TOTAL_MASS) * theta_dot.square() * sin
    theta_acc = (GRAVITY * sin - cos * temp) / (
        HALF_LENGTH * 4.0 / 3.0 - (_POLE_MOMENT / _TOTAL_MASS) * cos.square())
    x_acc = temp - (_POLE_MOMENT / _TOTAL_MASS) * theta_acc * cos
    rates = torch.stack((x_dot, x_acc, theta_dot, theta_acc), -1)  # [..., 4]
    nxt = state + TAU * rates  # Euler: positions move with the old velocities
    done = (nxt.abs() > _constant(_LIMITS, nxt)).any(-1)
    return nxt, done


@functools.lru_cache(maxsize=16)
def _constant_on(values: tuple[float, ...], device, dtype) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, device=device)


def _constant(values: tuple[float, ...], like: torch.Tensor) -> torch.Tensor:
    """``values`` as a tensor on ``like``'s device and dtype, made once (not per rollout step)."""
    return _constant_on(values, like.device, like.dtype)


def _uniform_states(g: torch.Generator, shape: tuple[int, ...], high) -> torch.Tensor:
    """States uniform in the box ``+-high`` (per component): ``[*shape, 4]``."""
    u = torch.rand(*shape, 4, generator=g, dtype=torch.float64)
    return (2.0 * u - 1.0) * torch.tensor(high, dtype=torch.float64)


def _logit(uniform: torch.Tensor) -> torch.Tensor:
    """Thresholds for inverse-CDF sampling: ``u < sigmoid(z)  <=>  logit(u) < z``, so pushing
    right with probability ``sigmoid(z)`` is one comparison per step."""
    return torch.logit(uniform.clamp(1e-6, 1.0 - 1e-6))


@functools.lru_cache(maxsize=16)
def _discounts(steps: int, decay: float, device, dtype) -> torch.Tensor:
    """``[t, s]``: ``decay ** (s - t)`` for ``s >= t``, else 0."""
    lag = torch.arange(steps, dtype=torch.float64)
    lag = lag.unsqueeze(0) - lag.unsqueeze(1)  # s - t
    return torch.where(lag >= 0, decay ** lag.clamp(min=0), 0.0).to(device, dtype)


@dataclass(frozen=True)
class CartPoleTask(Task):
    """A2C on ``num_envs`` CartPoles: a policy MLP ``4 -> hidden -> 1`` (the logit of pushing
    right) and a separate critic MLP ``4 -> hidden -> 1``, trained on rollouts of ``rollout_steps``.

    Rewards are scaled by ``1 - gamma`` so values lie in [0, 1], the scale of the policy term.
    """

    family = "rl"
    hidden: tuple[int, ...] = (32, 32)
    #: "relu" or "tanh" (tanh costs about 20x ReLU per element on CPU: most of a step's time)
    activation: str = "relu"
    num_envs: int = 16
    rollout_steps: int = 32
    gamma: float = 0.99
    gae_lambda: float = 0.95
    value_coef: float = 0.5
    entropy_coef: float = 0.01
    #: half-widths of the box training rollouts start in: (x, x_dot, theta, theta_dot)
    start_high: tuple[float, float, float, float] = (2.0, 1.0, 0.1, 1.0)
    #: evaluation episodes, from the start box, with their own fixed action uniforms
    eval_episodes: int = 64
    #: steps of an evaluation episode (its return is at most this)
    episode_cap: int = 200
    metric_floor: float = 0.01

    # ---- networks -------------------------------------------------------------------------------

    def init(self, seed, device="cpu", dtype=torch.float32):
        g = generator(self.name, "init", seed)
        widths = (4, *self.hidden, 1)
        params, gain = {}, (2.0 if self.activation == "relu" else 1.0) ** 0.5
        for net, head_gain in (("pi", 0.01), ("v", 1.0)):
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
                # weights ~ N(0, gain^2 / fan_in): He for ReLU, LeCun for tanh; a small policy head
                # starts near uniform (as PPO implementations do), so early actions explore
                std = (head_gain if i == len(widths) - 2 else gain) / a ** 0.5
                params[f"{net}{i}.w"] = torch.randn(a, b, generator=g) * std
                params[f"{net}{i}.b"] = torch.zeros(b)
        return {k: v.to(device, dtype) for k, v in params.items()}

    def _mlp(self, params: Params, net: str, state: torch.Tensor) -> torch.Tensor:
        """``[..., 4]`` states -> ``[...]`` outputs of network ``net`` ("pi" or "v")."""
        h = state * _constant(_OBS_SCALE, state)
        n, act = len(self.hidden), _ACTIVATIONS[self.activation]
        for i in range(n):
            h = act(h @ params[f"{net}{i}.w"] + params[f"{net}{i}.b"])
        return (h @ params[f"{net}{n}.w"] + params[f"{net}{n}.b"]).squeeze(-1)

    # ---- training -------------------------------------------------------------------------------

    def batches(self, seed, step, device="cpu", dtype=torch.float32) -> Batch:
        """(start ``[N, 4]``, restarts ``[T, N, 4]``, uniforms ``[T, N]``): the step's rollout."""
        g = generator(self.name, "batch", seed, step)
        n, t = self.num_envs, self.rollout_steps
        start = _uniform_states(g, (n,), self.start_high)
        restart = _uniform_states(g, (t, n), self.start_high)
        uniform = torch.rand(t, n, generator=g, dtype=torch.float64)
        return tuple(x.to(device, dtype) for x in (start, restart, uniform))

    def _rollout(self, params: Params, start, restart, uniform):
        """States ``[T + 1, N, 4]``, actions ``[T, N]`` and episode ends ``[T, N]``."""
        threshold = _logit(uniform)  # [T, N]
        states, actions, dones = [start], [], []
        state = start
        for t in range(self.rollout_steps):
            push_right = self._mlp(params, "pi", state) > threshold[t]  # [N]
            nxt, done = cartpole_step(state, push_right)
            state = torch.where(done.unsqueeze(-1), restart[t], nxt)
            states.append(state)
            actions.append(push_right)
            dones.append(done)
        return torch.stack(states), torch.stack(actions), torch.stack(dones)

    def _gae(self, values: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
        """GAE advantages ``[T, N]`` from values ``[T + 1, N]``, rewards ``1 - gamma`` per step (so
        returns lie in [0, 1]), no bootstrap across an episode end.

        ``A_t = sum_{s >= t} (gamma lambda)^(s - t) delta_s`` over the s before the episode's end:
        one weighted sum instead of T sequential steps (each a few vmapped ops).
        """
        live = (~dones).to(values.dtype)
        deltas = (1.0 - self.gamma) + self.gamma * values[1:] * live - values[:-1]  # [T, N]
        ends = dones.to(values.dtype)
        ends_before = torch.cumsum(ends, 0) - ends  # [T, N]: episode ends strictly before t
        # delta_s reaches A_t iff no episode ended in [t, s): the same count of ends before both
        same_episode = ends_before.unsqueeze(0) == ends_before.unsqueeze(1)  # [t, s, N]
        weights = _discounts(self.rollout_steps, self.gamma * self.gae_lambda,
                             values.device, values.dtype)  # [t, s]
        return (weights.unsqueeze(-1) * same_episode * deltas.unsqueeze(0)).sum(1)

    def loss(self, params, batch):
        start, restart, uniform = batch
        with torch.no_grad():
            frozen = {k: v.detach() for k, v in params.items()}
            states, actions, dones = self._rollout(frozen, start, restart, uniform)
        values = self._mlp(params, "v", states)  # [T + 1, N]
        with torch.no_grad():
            advantages = self._gae(values.detach(), dones)  # [T, N]
            returns = advantages + values[:-1].detach()
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        logit = self._mlp(params, "pi", states[:-1])  # [T, N]
        # log sigmoid(+-z) as -softplus(-+z): F.logsigmoid's backward warns under the Hessian
        # path's vmap(jvp(grad))
        log_prob = -F.softplus(torch.where(actions, -logit, logit))
        entropy = F.softplus(logit) - torch.sigmoid(logit) * logit  # Bernoulli entropy
        per_step = (-log_prob * advantages + self.value_coef * (values[:-1] - returns) ** 2
                    - self.entropy_coef * entropy)  # [T, N]
        return per_step.sum(0).mean()  # summed over the rollout's steps, averaged over envs

    # ---- validation -----------------------------------------------------------------------------

    def validation_batch(self, device="cpu", dtype=torch.float32) -> Batch:
        g = generator(self.name, "validation")
        start = _uniform_states(g, (self.eval_episodes,), self.start_high)
        uniform = torch.rand(self.episode_cap, self.eval_episodes, generator=g, dtype=torch.float64)
        return tuple(x.to(device, dtype) for x in (start, uniform))

    def metric(self, params, batch):
        """``(cap - mean steps balanced) / cap + metric_floor`` of the policy (sampled actions)."""
        state, uniform = batch
        threshold = _logit(uniform)  # [cap, E]
        alive = torch.ones_like(state[..., 0])  # [E]
        balanced = torch.zeros_like(alive)
        for t in range(self.episode_cap):
            state, done = cartpole_step(state, self._mlp(params, "pi", state) > threshold[t])
            balanced = balanced + alive  # the step that ends the episode counts (Gym's reward)
            alive = alive * (~done).to(alive.dtype)
        return (self.episode_cap - balanced.mean()) / self.episode_cap + self.metric_floor


# ---- constructors -------------------------------------------------------------------------------

_CARTPOLE = {
    "proxy": dict(hidden=(32, 32), num_envs=16, rollout_steps=32, num_steps=100),
    # wider, twice the environments, 500-step evaluation episodes (about 8x the proxy's time)
    "validation": dict(hidden=(64, 64), num_envs=32, rollout_steps=32, num_steps=250,
                       episode_cap=500),
    # held out: another activation, rollouts twice as long, 1000-step evaluation episodes
    "test": dict(hidden=(64, 64), activation="tanh", num_envs=32, rollout_steps=64,
                 num_steps=250, episode_cap=1000),
}


def cartpole(size: str = "proxy") -> CartPoleTask:
    check_size(size, _CARTPOLE, "cartpole")
    return CartPoleTask(name=f"cartpole_a2c_{size}", size=size, **_CARTPOLE[size])


FAMILY = TaskFamily("rl", {"cartpole": cartpole})
