"""The held-out RL protocol: the one evaluator that scores every learner on grid levels.

A **learner** is a callable ``train(env, levels, generator) -> pi``. It gets a fresh
:class:`~tasks.rl.gridworld.GridWorld` of the held-out ``levels`` (``suite.envs`` training
environments per level) and the generator of its run, trains one tabular agent per level for
``levels.lifetime`` updates and returns the policy logits ``[B, S, A]``. A learner that tunes a
learning rate returns ``[K, B, S, A]``, one candidate per entry of its ``lrs`` attribute; the
protocol keeps the candidate with the best mean return over the levels (as :mod:`tasks.protocol`
picks the best of its grid) and records it in :attr:`RLTable.best_lr`. So the protocol knows no
learner: a meta-trained rule (:class:`search.learned.lpg.RuleLearner`) and A2C trained by an
optimizer program (:class:`tasks.rl.agents.ProgramA2C`) are scored the same way.

Score per level: the mean undiscounted return of one full episode, over ``eval_envs`` freshly
reset environments, sampled actions. The **A2C-normalised return** of a row on a level is
``(row - random) / (a2c - random)``, where ``a2c`` is the reference learner (built-in A2C:
SGD lr 40, clip 0.5; mean over ``a2c_seeds`` agents) and ``random`` the uniform policy. Levels
where A2C does not beat random by ``min_gap`` are reported but left out of the summaries (there
is nothing to normalise by); a summary is the median over levels and the share of levels at
>= 0.75 (GROOVE Fig. 5's threshold). Held-out levels come from
:data:`tasks.rl.gridworld.CPU_LEVELS` with a generator no meta-training run uses.

Each level also gets its exact optimal return (:func:`tasks.rl.value_iteration.optimal_return`)
and a **hardness** that does not depend on any learner: ``1 - (a2c - random) / (optimal -
random)``, the share of the attainable improvement that A2C misses.

Example::

    >>> from tasks.rl.agents import A2CConfig, train_a2c
    >>> suite = RLSuite(levels=2, lifetime=3, envs=2, eval_envs=2, a2c_seeds=1)
    >>> a2c = lambda env, levels, g: train_a2c(env, A2CConfig(lifetime=3), g)["pi"]
    >>> sorted(evaluate_learners({"mine": a2c}, suite).rows)
    ['a2c', 'mine', 'random']
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch

from ..base import generator as seeded
from .agents import A2CConfig, episode_return, train_a2c
from .gridworld import CPU_LEVELS, GridWorld, Levels, sample_levels, with_lifetime
from .value_iteration import optimal_return

__all__ = ["Learner", "RLSuite", "RLTable", "held_out_levels", "score_policy", "learner_row",
           "evaluate_learners"]

#: ``train(env, levels, generator) -> pi``: ``[B, S, A]`` logits, or ``[K, B, S, A]`` candidates
Learner = Callable[[GridWorld, Levels, torch.Generator], torch.Tensor]


@dataclass
class RLSuite:
    """Settings of the held-out protocol (defaults: the CPU scale of ``meta-train``)."""

    levels: int = 64                 # held-out random levels
    level_seed: str = "rl-suite"     # names the held-out generator (no meta-train run uses it)
    lifetime: int = 250              # agent updates per lifetime
    envs: int = 16                   # training environments per level
    eval_envs: int = 64              # evaluation episodes per level (GROOVE: 64 workers)
    a2c_seeds: int = 2               # reference A2C agents per level (their mean normalises)
    rule_seeds: int = 1              # agents per level for every other row (mean)
    lrs: tuple = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)  # grid for learners that tune an lr
    min_gap: float = 0.05            # A2C must beat random by this much for a level to count
    seed: int = 0


@dataclass
class RLTable:
    """Per-level returns of every row (``a2c`` and ``random`` included) on the suite's levels."""

    suite: RLSuite
    rows: dict                        # name -> [levels] mean episode return
    optimal: list                     # [levels] exact optimal return
    best_lr: dict = field(default_factory=dict)  # learner with lrs -> chosen learning rate

    def gap(self) -> torch.Tensor:
        return torch.tensor(self.rows["a2c"]) - torch.tensor(self.rows["random"])

    def usable(self) -> torch.Tensor:
        return self.gap() > self.suite.min_gap

    def normalised(self, name: str) -> torch.Tensor:
        """``[levels]`` A2C-normalised return (meaningful where :meth:`usable`)."""
        gap = self.gap()
        return (torch.tensor(self.rows[name]) - torch.tensor(self.rows["random"])) / torch.where(
            gap.abs() > 1e-8, gap, torch.ones_like(gap))

    def hardness(self) -> torch.Tensor:
        """``1 - (a2c - random) / (optimal - random)``: what A2C misses (learner-independent)."""
        room = torch.tensor(self.optimal) - torch.tensor(self.rows["random"])
        return 1 - self.gap() / room.clamp(min=1e-8)

    def summary(self, name: str, mask: torch.Tensor | None = None) -> dict:
        """Median, share >= 0.75 and mean of the A2C-normalised return over the usable levels."""
        keep = self.usable() if mask is None else self.usable() & mask
        x = self.normalised(name)[keep]
        if x.numel() == 0:
            return {"median": math.nan, "share_ge_0.75": math.nan, "mean": math.nan, "n": 0}
        return {"median": float(x.median()), "share_ge_0.75": float((x >= 0.75).float().mean()),
                "mean": float(x.mean()), "n": int(x.numel())}

    def to_dict(self) -> dict:
        return {"suite": asdict(self.suite), "rows": self.rows, "optimal": self.optimal,
                "best_lr": self.best_lr, "usable": self.usable().tolist(),
                "hardness": self.hardness().tolist(),
                "normalised": {n: self.normalised(n).tolist() for n in self.rows}}


def held_out_levels(suite: RLSuite) -> Levels:
    """The suite's held-out levels, every lifetime set to ``suite.lifetime``."""
    levels = sample_levels(CPU_LEVELS, suite.levels, seeded("held-out", suite.level_seed))
    return with_lifetime(levels, suite.lifetime)


def score_policy(levels: Levels, pi: torch.Tensor, suite: RLSuite, g) -> torch.Tensor:
    """``[B]``: mean return of one episode of ``pi`` over ``suite.eval_envs`` environments."""
    return episode_return(GridWorld(levels, suite.eval_envs, g), pi, g)


def learner_row(train: Learner, levels: Levels, suite: RLSuite) -> tuple[torch.Tensor, int]:
    """``([B] mean return over suite.rule_seeds agents, index of the best candidate)``."""
    runs = []
    for s in range(suite.rule_seeds):
        g = seeded("rl-suite", "agents", suite.seed, s)
        pis = train(GridWorld(levels, suite.envs, g), levels, g)
        pis = pis[None] if pis.dim() == 3 else pis                          # [K, B, S, A]
        runs.append(torch.stack([score_policy(levels, pi, suite, g) for pi in pis]))
    per_candidate = torch.stack(runs).mean(0)                               # [K, B]
    best = int(per_candidate.mean(1).argmax())
    return per_candidate[best], best


def _reference_rows(levels: Levels, suite: RLSuite) -> dict:
    a2c = []
    for s in range(suite.a2c_seeds):
        g = seeded("rl-suite", "a2c", suite.seed, s)
        pi = train_a2c(GridWorld(levels, suite.envs, g), A2CConfig(lifetime=suite.lifetime), g)
        a2c.append(score_policy(levels, pi["pi"], suite, g))
    g = seeded("rl-suite", "random", suite.seed)
    zeros = torch.zeros(suite.levels, GridWorld(levels, 1, g).n_states, GridWorld.n_actions)
    return {"a2c": torch.stack(a2c).mean(0).tolist(),
            "random": score_policy(levels, zeros, suite, g).tolist()}


def evaluate_learners(learners: dict, suite: RLSuite | None = None,
                      say: Callable[[str], None] | None = None) -> RLTable:
    """Score ``learners`` (name -> :data:`Learner`) on the suite's held-out levels beside the
    ``a2c`` and ``random`` reference rows; ``say`` gets one progress line per row."""
    suite = suite or RLSuite()
    say = say or (lambda msg: None)
    levels = held_out_levels(suite)
    say(f"A2C reference on {suite.levels} levels")
    rows, best_lr = _reference_rows(levels, suite), {}
    for name, train in learners.items():
        say(f"{getattr(train, 'label', 'learner')} {name}")
        row, best = learner_row(train, levels, suite)
        rows[name] = row.tolist()
        if hasattr(train, "lrs"):
            best_lr[name] = train.lrs[best]
    say("done")
    return RLTable(suite, rows, optimal_return(levels).tolist(), best_lr)
