"""``discover eval --suite rl``: learned RL rules beside A2C trained by optimizer programs.

Wiring only: the rows are learners of :mod:`tasks.rl.protocol` (the one held-out evaluator, which
also scores every ``meta-train`` run at its end), built here from what a user names:

- a **learned rule** (an LPG-family meta-network from a ``meta-train`` run, or an untrained one):
  :class:`search.learned.RuleLearner`, agents updated toward the rule's pi_hat / y_hat;
- **A2C trained by a program** (``adam``, ``sgd``, ``lion``, any program file):
  :class:`tasks.rl.ProgramA2C`, the best learning rate of ``suite.lrs`` by mean return.

:func:`evaluate_rl` gives the :class:`~tasks.rl.RLTable`; :func:`format_rl_table`,
:func:`plot_distribution` and :func:`write_rl_outputs` present it.

Example::

    >>> suite = RLSuite(levels=2, lifetime=3, envs=2, eval_envs=2, a2c_seeds=1, lrs=(0.1,))
    >>> table = evaluate_rl({}, {"sgd": "sgd"}, suite, progress=False)
    >>> sorted(table.rows)
    ['a2c', 'random', 'sgd']
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import torch

from search.learned import LPGConfig, RuleLearner, load_rule
from search.learned.lpg import init_params
from tasks.base import generator as seeded
from tasks.rl import ProgramA2C, RLSuite, RLTable, evaluate_learners

from .errors import MissingRun
from .programs import resolve

__all__ = ["RLSuite", "RLTable", "evaluate_rl", "format_rl_table", "plot_distribution",
           "write_rl_outputs"]


def _rule(rule, suite: RLSuite) -> RuleLearner:
    if rule is None:  # an untrained meta-network
        lcfg = LPGConfig()
        return RuleLearner(init_params(lcfg, seeded("rl-suite", "untrained", suite.seed)), lcfg)
    if isinstance(rule, tuple):
        return RuleLearner(*rule)
    try:
        return RuleLearner(*load_rule(rule))
    except FileNotFoundError as exc:
        raise MissingRun(str(exc)) from None


def evaluate_rl(rules: dict, programs: dict, suite: RLSuite | None = None,
                progress: bool = True) -> RLTable:
    """Score ``rules`` (name -> ``meta-train`` run dir or ``(params, LPGConfig)``; ``None`` gives
    an untrained meta-network) and ``programs`` (name -> Program, library name or file) on the
    held-out levels; ``a2c`` and ``random`` rows are always added."""
    suite = suite or RLSuite()
    start = time.perf_counter()

    def say(msg):
        if progress:
            print(f"[rl {time.perf_counter() - start:5.0f}s] {msg}", file=sys.stderr, flush=True)

    learners = {name: _rule(rule, suite) for name, rule in rules.items()}
    learners.update({name: ProgramA2C(resolve(p), suite.lrs) for name, p in programs.items()})
    return evaluate_learners(learners, suite, say)


def format_rl_table(table: RLTable, mask: torch.Tensor | None = None) -> str:
    """One line per row: median and share >= 0.75 of the A2C-normalised return, mean, levels."""
    names = sorted((n for n in table.rows if n != "random"),
                   key=lambda n: -table.summary(n, mask)["median"]
                   if not math.isnan(table.summary(n, mask)["median"]) else math.inf)
    w = max(8, *(len(n) for n in names))
    lines = [f"{'row':<{w}}  {'median':>7}  {'>=0.75':>7}  {'mean':>7}  {'levels':>6}  best lr",
             "-" * (w + 46)]
    for n in names:
        s = table.summary(n, mask)
        lr = table.best_lr.get(n)
        lines.append(f"{n:<{w}}  {s['median']:>7.3f}  {s['share_ge_0.75']:>7.2f}  "
                     f"{s['mean']:>7.3f}  {s['n']:>6d}  {'' if lr is None else f'{lr:g}'}")
    lines += ["", "A2C-normalised return per held-out level: (row - random) / (A2C - random); "
              f"levels where A2C beats random by more than {table.suite.min_gap} "
              f"({int(table.usable().sum())} of {len(table.optimal)})"]
    return "\n".join(lines)


def plot_distribution(table: RLTable, path: Path, names=None, mask=None) -> Path | None:
    """A box and the points per row: the per-level A2C-normalised return (PNG)."""
    from .plots import pyplot  # noqa: PLC0415 - matplotlib is optional

    plt = pyplot()
    if plt is None:
        return None
    names = names or [n for n in table.rows if n != "random"]
    keep = table.usable() if mask is None else table.usable() & mask
    data = [table.normalised(n)[keep].clamp(-1.5, 2.0).tolist() for n in names]
    fig, ax = plt.subplots(figsize=(1.2 * len(names) + 2, 4))
    ax.boxplot(data, showfliers=False)
    for i, ys in enumerate(data, 1):
        xs = (torch.rand(len(ys), generator=torch.Generator().manual_seed(i)) - 0.5) * 0.3 + i
        ax.scatter(xs.tolist(), ys, s=8, alpha=0.6)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right")
    ax.axhline(0.75, ls="--", lw=0.8, color="grey")
    ax.set_ylabel("A2C-normalised return (clipped to [-1.5, 2])")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_rl_outputs(table: RLTable, out_dir: Path) -> list[Path]:
    """``rl_table.md``, ``rl_results.json`` and ``rl_distribution.png`` in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "rl_table.md"
    md.write_text("```\n" + format_rl_table(table) + "\n```\n")
    js = out_dir / "rl_results.json"
    js.write_text(json.dumps(table.to_dict(), indent=1))
    png = plot_distribution(table, out_dir / "rl_distribution.png")
    return [p for p in (md, js, png) if p is not None]
