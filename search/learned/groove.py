"""GROOVE's level curriculum (Jackson et al., 2023): replay levels of high algorithmic regret.

Algorithmic regret of a level is ``V(A2C) - V(learned rule)``: the return of an A2C antagonist
trained on the level for the same lifetime minus that of the agent the learned rule trained
(``algorithmic_regret``). :class:`LevelBuffer` keeps scored levels; :meth:`LevelBuffer.sample`
returns, for each requested slot, a replayed level with probability ``replay_prob`` (once at least
``min_scored`` levels are scored), drawn by rank prioritisation (PLR: ``P(i) ~ rank_i^(-1/T)``),
and otherwise a fresh level from the distribution. ``replay_prob = 0`` is plain domain
randomisation (uniform sampling: LPG). When full, a new score replaces the lowest-scoring entry
if it is higher. Defaults are sized for a CPU (GROOVE: buffer 4000, replay 0.5, top-k replay).

Example::

    >>> from tasks.rl.gridworld import CPU_LEVELS
    >>> buf = LevelBuffer(CPU_LEVELS, capacity=8)
    >>> levels, ids = buf.sample(4, torch.Generator().manual_seed(0))
    >>> buf.record(levels, ids, torch.rand(4))
    >>> len(buf)
    4
"""

from __future__ import annotations

import torch

from tasks.rl.gridworld import LevelDistribution, Levels, sample_levels

__all__ = ["LevelBuffer", "algorithmic_regret"]


def algorithmic_regret(antagonist_return: torch.Tensor, rule_return: torch.Tensor) -> torch.Tensor:
    """GROOVE Eq. 4: ``V(A) - V(eta)`` per level."""
    return antagonist_return - rule_return


class LevelBuffer:
    def __init__(self, dist: LevelDistribution, capacity: int = 1000, replay_prob: float = 0.5,
                 temperature: float = 1.0, min_scored: int = 16):
        if not 0.0 <= replay_prob <= 1.0:
            raise ValueError(f"LevelBuffer: replay_prob must be in [0, 1], got {replay_prob}")
        self.dist, self.capacity, self.replay_prob = dist, capacity, replay_prob
        self.temperature, self.min_scored = temperature, min_scored
        self.levels: Levels | None = None
        self.scores = torch.zeros(0)

    def __len__(self) -> int:
        return self.scores.shape[0]

    def priorities(self) -> torch.Tensor:
        ranks = (-self.scores).argsort().argsort().float() + 1     # 1 = highest regret
        w = ranks.pow(-1.0 / self.temperature)
        return w / w.sum()

    def sample(self, n: int, generator: torch.Generator):
        """-> (levels [n], ids [n]): buffer index of a replayed level, -1 for a fresh one."""
        fresh = sample_levels(self.dist, n, generator)
        ids = torch.full((n,), -1, dtype=torch.long)
        if len(self) >= max(self.min_scored, 1) and self.replay_prob > 0:
            replay = torch.rand(n, generator=generator) < self.replay_prob
            k = int(replay.sum())
            if k:
                pick = torch.multinomial(self.priorities(), k, replacement=k > len(self),
                                         generator=generator)
                ids[replay] = pick
                fresh = fresh.where(replay, fresh.put(replay, self.levels.select(pick)))
        return fresh, ids

    def record(self, levels: Levels, ids: torch.Tensor, scores: torch.Tensor) -> None:
        """Write the scores of finished lifetimes: update replayed entries, insert fresh ones."""
        scores = scores.detach().float().cpu()
        levels = levels.to("cpu")
        old = ids >= 0
        if old.any():
            self.scores[ids[old]] = scores[old]
        for i in torch.nonzero(~old).flatten().tolist():
            one = levels.select(slice(i, i + 1))
            if len(self) < self.capacity:
                self.levels = one if self.levels is None else Levels.cat([self.levels, one])
                self.scores = torch.cat([self.scores, scores[i:i + 1]])
            else:
                low = int(self.scores.argmin())
                if scores[i] > self.scores[low]:
                    self.levels = self.levels.put(torch.arange(len(self)) == low, one)
                    self.scores[low] = scores[i]

    def state_dict(self) -> dict:
        return {"levels": None if self.levels is None else self.levels.state_dict(),
                "scores": self.scores}

    def load_state_dict(self, state: dict) -> None:
        self.levels = None if state["levels"] is None else Levels(**state["levels"])
        self.scores = state["scores"]

