"""Tabular agents on batched environments: rollouts, GAE, clipped SGD and an A2C learner.

Agent parameters are plain tensors with a leading agent dimension B (one agent per level):
``{"pi": [B, S, A] policy logits, "y": [B, S, m] prediction logits}`` for LPG agents and
``{"pi": ..., "v": [B, S]}`` for A2C (GROOVE's tabular actor and critic: a bias-free dense layer
on a one-hot observation is a table). Updates are functional (``new = old - lr * clip(grad)``),
so the same code runs inside a differentiable meta-gradient unroll and under ``no_grad``.

The tabular optimiser is GROOVE's: SGD with learning rate 40 and a global-norm clip of 0.5 *per
agent* (each agent's gradient is clipped on its own, as if each ran its own optimiser).
:func:`train_a2c_program` swaps that SGD for an optimizer program (the clip is kept as part of
the task), and :class:`ProgramA2C` makes it a learner of :mod:`tasks.rl.protocol`.

Example::

    >>> from tasks.rl.gridworld import CPU_LEVELS, GridWorld, sample_levels
    >>> g = torch.Generator().manual_seed(0)
    >>> env = GridWorld(sample_levels(CPU_LEVELS, 2, g), n_envs=4, generator=g)
    >>> params = train_a2c(env, A2CConfig(lifetime=5), g)
    >>> tuple(params["pi"].shape)
    (2, 100, 5)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from primitives import Executor, Program

from .gridworld import GridWorld

__all__ = ["Rollout", "gather", "rollout", "gae", "clipped_sgd", "A2CConfig", "init_a2c",
           "a2c_loss", "a2c_update", "train_a2c", "mean_reward", "entropy", "episode_return",
           "train_a2c_program", "ProgramA2C"]


class Rollout(NamedTuple):
    """T steps of B agents x E environments, time last."""

    obs: torch.Tensor      # [B, E, T + 1] long (the last one is the bootstrap state)
    actions: torch.Tensor  # [B, E, T] long
    rewards: torch.Tensor  # [B, E, T] float
    dones: torch.Tensor    # [B, E, T] float, 1 where the episode ended after this step


def gather(table: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """Rows of ``table`` [B, S, *X] at ``obs`` [B, *I] -> [B, *I, *X]."""
    B, extra = obs.shape[0], table.shape[2:]
    flat = obs.reshape(B, -1)
    idx = flat.view(B, -1, *([1] * len(extra))).expand(B, flat.shape[1], *extra)
    return table.gather(1, idx).view(*obs.shape, *extra)


def entropy(logits: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(logits, -1)
    return -(logp.exp() * logp).sum(-1)


@torch.no_grad()
def rollout(env, pi: torch.Tensor, steps: int, generator: torch.Generator) -> Rollout:
    """Run ``steps`` steps of the policy table ``pi`` [B, S, A] on ``env`` (sampled actions)."""
    obs, actions, rewards, dones = [env.obs()], [], [], []
    for _ in range(steps):
        probs = torch.softmax(gather(pi, obs[-1]), -1)                 # [B, E, A]
        u = torch.rand(probs.shape[:-1], generator=generator, device=probs.device)
        a = (probs.cumsum(-1) < u[..., None]).sum(-1).clamp(max=probs.shape[-1] - 1)
        o, r, d = env.step(a)
        obs.append(o), actions.append(a), rewards.append(r), dones.append(d.float())
    return Rollout(torch.stack(obs, -1), torch.stack(actions, -1), torch.stack(rewards, -1),
                   torch.stack(dones, -1))


def gae(rewards, dones, values, gamma: float = 0.99, lam: float = 0.95):
    """Generalised advantage estimation over the last dim; ``values`` has T + 1 entries.

    Returns (advantages, value targets), both [..., T]. ``dones[t]`` cuts the bootstrap.
    """
    not_done = 1.0 - dones
    delta = rewards + gamma * values[..., 1:] * not_done - values[..., :-1]
    adv, last = torch.zeros_like(delta), torch.zeros_like(delta[..., 0])
    for t in reversed(range(delta.shape[-1])):
        last = delta[..., t] + gamma * lam * not_done[..., t] * last
        adv[..., t] = last
    return adv, adv + values[..., :-1]


def clipped_sgd(params: dict, grads: dict, lr: float, max_norm: float = 0.5) -> dict:
    """``p - lr * g * min(1, max_norm / |g|_b)`` with the norm taken per agent b (first dim)."""
    sq = sum(g.pow(2).flatten(1).sum(1) for g in grads.values())      # [B]
    scale = torch.clamp(max_norm / (sq + 1e-12).sqrt(), max=1.0)
    return {k: p - lr * grads[k] * scale.view(-1, *([1] * (p.dim() - 1)))
            for k, p in params.items()}


@dataclass
class A2CConfig:
    """A2C as GROOVE's antagonist: tabular actor-critic, GAE, entropy bonus, clipped SGD."""

    lifetime: int = 250      # agent updates
    rollout_len: int = 20    # steps per update
    lr: float = 40.0         # SGD learning rate (GROOVE's tabular value)
    max_norm: float = 0.5    # per-agent global-norm clip
    gamma: float = 0.99
    lam: float = 0.95        # GAE lambda
    entropy: float = 0.01    # entropy bonus
    value: float = 0.5       # value-loss weight


def init_a2c(n_agents: int, n_states: int, n_actions: int, device="cpu") -> dict:
    return {"pi": torch.zeros(n_agents, n_states, n_actions, device=device),
            "v": torch.zeros(n_agents, n_states, device=device)}


def a2c_loss(params: dict, ro: Rollout, cfg: A2CConfig) -> torch.Tensor:
    """Sum over agents of each agent's mean A2C loss (so each agent's gradient is its own)."""
    logits = gather(params["pi"], ro.obs[..., :-1])                   # [B, E, T, A]
    values = gather(params["v"], ro.obs)                              # [B, E, T + 1]
    adv, target = gae(ro.rewards, ro.dones, values.detach(), cfg.gamma, cfg.lam)
    mean, std = adv.mean((1, 2), keepdim=True), adv.std((1, 2), keepdim=True)
    adv = (adv - mean) / (std + 1e-8)
    logp = torch.log_softmax(logits, -1).gather(-1, ro.actions[..., None]).squeeze(-1)
    loss = -(logp * adv) + cfg.value * (values[..., :-1] - target).pow(2) \
        - cfg.entropy * entropy(logits)
    return loss.mean((1, 2)).sum()


def a2c_update(params: dict, ro: Rollout, cfg: A2CConfig) -> dict:
    with torch.enable_grad():
        leaves = {k: v.detach().requires_grad_() for k, v in params.items()}
        grads = torch.autograd.grad(a2c_loss(leaves, ro, cfg), list(leaves.values()))
    return clipped_sgd(params, dict(zip(leaves, grads)), cfg.lr, cfg.max_norm)


def train_a2c(env, cfg: A2CConfig, generator: torch.Generator, params: dict | None = None):
    """Train one A2C agent per level of ``env`` for ``cfg.lifetime`` updates; returns params."""
    if params is None:
        params = init_a2c(len(env.levels) if hasattr(env, "levels") else env.length.shape[0],
                          env.n_states, env.n_actions, env.device)
    for _ in range(cfg.lifetime):
        params = a2c_update(params, rollout(env, params["pi"], cfg.rollout_len, generator), cfg)
    return params


@torch.no_grad()
def mean_reward(env, pi: torch.Tensor, steps: int, generator: torch.Generator) -> torch.Tensor:
    """``[B]``: mean reward per step of each agent's policy over ``steps`` x E environment steps."""
    return rollout(env, pi, steps, generator).rewards.mean((1, 2))


@torch.no_grad()
def episode_return(env, pi: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``[B]``: mean return of the first episode of each freshly reset environment of ``env``."""
    steps = int(env.levels.max_steps.max())
    ro = rollout(env, pi, steps, generator)
    alive = torch.cumprod(1.0 - ro.dones, -1)
    alive = torch.cat([torch.ones_like(alive[..., :1]), alive[..., :-1]], -1)  # before the end
    return (ro.rewards * alive).sum(-1).mean(-1)


@torch.no_grad()
def train_a2c_program(program: Program, levels, n_envs: int, lrs, generator: torch.Generator,
                      cfg: A2CConfig | None = None) -> torch.Tensor:
    """``[len(lrs), B, S, A]``: A2C policies trained by ``program`` on each of the B ``levels``
    at each learning rate (``lrs = [None]``: the program's own hyperparameters).

    GROOVE's tabular actor-critic loss (:func:`a2c_loss`), each agent's gradient clipped to
    global norm ``cfg.max_norm``, then the program's update through
    :meth:`primitives.Executor.batched_update`, ``cfg.lifetime`` times (default: the levels'
    lifetime). Copy ``i * B + b`` is (learning rate i, level b); all copies step together. A
    copy whose update turns non-finite keeps its last finite parameters and state.
    """
    g = generator
    cfg = cfg or A2CConfig(lifetime=int(levels.lifetime.max()))
    B, L = len(levels), len(lrs)
    index = torch.arange(L * B) % B
    env = GridWorld(levels.select(index), n_envs, g)
    S, A = env.n_states, env.n_actions
    params = [torch.zeros(L * B, S, A), torch.zeros(L * B, S)]
    ex = Executor(program)
    hyper = {} if lrs[0] is None else {
        "lr": torch.tensor(lrs, dtype=torch.float32).repeat_interleave(B)}
    one = ex.init_state([p[0] for p in params], {k: float(v[0]) for k, v in hyper.items()})
    state = {k: [s.expand(L * B, *s.shape).clone() for s in v] for k, v in one.items()}
    for step in range(1, cfg.lifetime + 1):
        ro = rollout(env, params[0], cfg.rollout_len, g)
        with torch.enable_grad():
            leaves = [p.detach().requires_grad_() for p in params]
            grads = torch.autograd.grad(a2c_loss({"pi": leaves[0], "v": leaves[1]}, ro, cfg),
                                        leaves)
        norm = sum(x.pow(2).flatten(1).sum(1) for x in grads).sqrt()       # per copy
        scale = torch.clamp(cfg.max_norm / (norm + 1e-12), max=1.0)
        grads = [x * scale.view(-1, *([1] * (x.dim() - 1))) for x in grads]
        upd, state = ex.batched_update(params, grads, state, hyper, t=float(step))
        new = [p - u for p, u in zip(params, upd)]
        finite = torch.stack([torch.isfinite(x).flatten(1).all(1) for x in new]).all(0)
        params = [torch.where(finite.view(-1, *([1] * (p.dim() - 1))), n, p)
                  for n, p in zip(new, params)]
        state = {k: [torch.where(torch.isfinite(n), n, o) for n, o in zip(v, state[k])]
                 for k, v in state.items()}
    return params[0].view(L, B, S, A)


class ProgramA2C:
    """A :mod:`tasks.rl.protocol` learner: A2C trained by ``program``, one candidate per
    learning rate of ``lrs`` (only ``None``, the program's own, if it has no ``lr``)."""

    label = "A2C trained by"

    def __init__(self, program: Program, lrs):
        self.program = program
        self.lrs = tuple(lrs) if "lr" in Executor(program).hyperparameters() else (None,)

    def __call__(self, env, levels, generator: torch.Generator) -> torch.Tensor:
        return train_a2c_program(self.program, levels, env.n_envs, list(self.lrs), generator)
