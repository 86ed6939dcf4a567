"""The leaderboard of ``discover eval``: scores normalised to AdamW and the performance profile.

Pure functions of the results (no training, no files, no plots), so that
:mod:`discover.evaluate`, which runs the suite, and :mod:`discover.plots`, which draws it, both
import them without importing each other.

The performance profile follows AlgoPerf (``reference/algoperf.md``) at small scale, counting
steps: the time to result of a program on a task is the first step at which its training-loss
curve (best learning rate, mean over seeds, smoothed by a trailing mean over 5% of the steps so
that minibatch noise does not decide it) reaches AdamW's final smoothed training loss on that
task (infinite if never); ratios to the fastest program above ``r_max = 4`` count as infinite;
``rho(tau)`` is the share of tasks with ratio <= tau, and the score is its normalised integral
over [1, 4].

>>> smooth([4.0, 2.0, 0.0, 2.0], fraction=0.5)
[4.0, 3.0, 1.0, 1.0]
>>> time_to_result([3.0, 2.0, 1.0], target=2.0), time_to_result([3.0], target=1.0)
(2.0, inf)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tasks.protocol import Result, normalised_score

__all__ = ["Leaderboard", "BASELINE", "R_MAX", "smooth", "time_to_result", "performance_profile",
           "format_leaderboard"]

#: the baseline every score is normalised against
BASELINE = "adamw"
R_MAX = 4.0


@dataclass
class Leaderboard:
    """Results of every program on every task of a suite (the baseline's row included)."""

    suite: str
    tasks: list[str]
    programs: list[str]
    results: dict[tuple[str, str], Result]  # (program, task) -> result

    def score(self, program: str, task: str) -> float:
        r, base = self.results[(program, task)], self.results[(BASELINE, task)]
        return normalised_score(r.metric, base.metric, r.initial_metric)

    def mean_score(self, program: str) -> float:
        return sum(self.score(program, t) for t in self.tasks) / len(self.tasks)

    def ranked(self) -> list[str]:
        return sorted(self.programs, key=lambda p: -self.mean_score(p))

    def table(self) -> str:
        """The leaderboard as text (:func:`format_leaderboard`)."""
        return format_leaderboard(self)


def smooth(curve, fraction: float = 0.05) -> list[float]:
    """Trailing mean over ``max(1, fraction * len(curve))`` steps (non-finite values propagate)."""
    window = max(1, int(len(curve) * fraction))
    out, acc = [], 0.0
    for i, x in enumerate(curve):
        acc += x
        if i >= window:
            acc -= curve[i - window]
        out.append(acc / min(i + 1, window) if math.isfinite(acc) else math.nan)
    return out


def time_to_result(curve, target: float) -> float:
    """First step (1-based) whose training loss is <= ``target``; ``inf`` if none."""
    for i, loss in enumerate(curve, 1):
        if math.isfinite(loss) and loss <= target:
            return float(i)
    return math.inf


def performance_profile(board: Leaderboard, taus=None) -> tuple[list[float], dict[str, list[float]],
                                                                dict[str, float]]:
    """``(taus, rho per program, integrated score per program)`` (AlgoPerf, in steps)."""
    taus = taus or [1.0 + (R_MAX - 1.0) * i / 99 for i in range(100)]
    ratios = {p: [] for p in board.programs}
    for task in board.tasks:
        base_curve = smooth(board.results[(BASELINE, task)].curve)
        finite = [x for x in base_curve if math.isfinite(x)]
        target = finite[-1] if finite else -math.inf
        times = {p: time_to_result(smooth(board.results[(p, task)].curve), target)
                 for p in board.programs}
        best = min(times.values())
        for p, t in times.items():
            r = t / best if math.isfinite(t) and math.isfinite(best) else math.inf
            ratios[p].append(r if r <= R_MAX else math.inf)
    rho = {p: [sum(r <= tau for r in rs) / len(rs) for tau in taus] for p, rs in ratios.items()}
    scores = {}
    for p, ys in rho.items():  # trapezoid rule, normalised to [0, 1]
        area = sum((taus[i + 1] - taus[i]) * (ys[i] + ys[i + 1]) / 2 for i in range(len(taus) - 1))
        scores[p] = area / (R_MAX - 1.0)
    return taus, rho, scores


def format_leaderboard(board: Leaderboard) -> str:
    """Rows: programs (best first); columns: normalised score per task, mean, profile score."""
    _, _, profile = performance_profile(board)
    short = [t.rsplit("_", 1)[0] for t in board.tasks]
    width = max(9, *(len(s) for s in short))
    name_w = max(8, *(len(p) for p in board.programs))
    head = f"{'program':<{name_w}}  " + "  ".join(f"{s:>{width}}" for s in short)
    lines = [head + f"  {'mean':>6}  {'profile':>7}", "-" * (len(head) + 17)]
    for p in board.ranked():
        cells = "  ".join(f"{board.score(p, t):>{width}.3f}" for t in board.tasks)
        lines.append(f"{p:<{name_w}}  {cells}  {board.mean_score(p):>6.3f}  {profile[p]:>7.3f}")
    lines.append("")
    lines.append("scores: normalised to AdamW (1 = AdamW, 0 = no progress or diverged); "
                 "profile: AlgoPerf integrated performance profile in steps "
                 "(1 = fastest everywhere)")
    return "\n".join(lines)
