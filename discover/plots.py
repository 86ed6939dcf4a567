"""Plots for ``discover eval``: learning curves per task and the performance profile (PNG).

matplotlib is optional (``pip install matplotlib``); without it the functions return ``None`` and
the leaderboard is still written as text and CSV.
"""

from __future__ import annotations

import math
from pathlib import Path

from search.report import pyplot

from .leaderboard import performance_profile, smooth

__all__ = ["plot_curves", "plot_profile", "pyplot"]


def plot_curves(board, path: Path) -> Path | None:
    """One panel per task: training loss (best learning rate, mean over seeds, smoothed)."""
    plt = pyplot()
    if plt is None:
        return None
    n = len(board.tasks)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, task in zip(axes.flat, board.tasks):
        for program in board.ranked():
            r = board.results[(program, task)]
            curve = [x if math.isfinite(x) and x > 0 else float("nan") for x in smooth(r.curve)]
            label = f"{program} (lr {r.best_lr:.2g})" if r.best_lr else f"{program} (diverged)"
            ax.plot(range(1, len(curve) + 1), curve, label=label, lw=1.2)
        ax.set_yscale("log")
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].set_ylabel("training loss (trailing mean)")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_profile(board, path: Path) -> Path | None:
    """AlgoPerf-style performance profile: share of tasks within tau of the fastest program."""
    plt = pyplot()
    if plt is None:
        return None
    taus, rho, scores = performance_profile(board)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for program in sorted(rho, key=lambda p: -scores[p]):
        ax.step(taus, rho[program], where="post", label=f"{program} ({scores[program]:.3f})")
    ax.set_xlabel("tau (steps to reach AdamW's final loss / fastest program's)")
    ax.set_ylabel("share of tasks")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"performance profile, suite {board.suite}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
