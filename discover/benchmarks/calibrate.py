"""``discover bench calibrate``: which tasks make per-coordinate adaptivity necessary.

For every task, each reference rule runs the search's own protocol (:func:`tasks.protocol.evaluate`
over the learning-rate grid, one seed per evaluation, as the search's fitness does) and is scored
with :func:`tasks.protocol.normalised_score` against **Adam** on the same seed (1 = Adam, 0 = no
progress or divergence, at most 2). The rules: tuned SGD, heavy-ball tuned over
``beta in {0, .5, .8, .9, .95, .99}`` (the library's ``sgd`` with ``momentum = beta``), Adam, Adam
without bias correction (written here: the library has none), RMSprop with momentum, signum,
AdaGrad and Lion (library programs otherwise).

A task is a **pressure task** when, on every seed, tuned heavy-ball scores <= 0.6 and each
Adam-class rule (Adam without bias correction, RMSprop with momentum) >= 0.8: only a rule that
normalises per coordinate reaches Adam there (issue 12; ``reference/discovery.md`` R1). A
**control** is a task where tuned heavy-ball scores >= 1 on every seed (momentum is all it takes).
A best learning rate on the grid's edge is flagged (``*``): the task should be rescaled until it
is interior. The spread is max - min of the per-seed scores: how much one seed's fitness moves.

Usage::

    discover bench calibrate [--suite pressure] [--tasks NAME ...] [--seeds 0 1 2] [--steps N]
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from primitives import Program
from primitives.errors import InvalidValue
from search.report import pyplot
from tasks import pressure_logistic, pressure_nets, pressure_quadratics
from tasks.base import SIZES, resolve_device
from tasks.protocol import DEFAULT_LRS, evaluate, normalised_score
from tasks.suites import SUITES, get_suite

from ..library import get
from ..programs import resolve

__all__ = ["RULES", "BETAS", "ADAM_NO_BIAS_CORRECTION", "Rule", "calibrate", "verdict",
           "format_table", "write_outputs", "run", "select_tasks"]

#: heavy-ball momentum values tuned over (0 is plain SGD)
BETAS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)

ADAM_NO_BIAS_CORRECTION = """\
def adam_no_bias_correction(w, g, m, v, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08):
    \"\"\"Adam without its bias correction: m / (sqrt(v) + eps) from zero-started averages.\"\"\"
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    return lr * m / (sqrt(v) + eps), m, v
"""

#: the pressure-task thresholds (scores against Adam)
MOMENTUM_AT_MOST, ADAM_CLASS_AT_LEAST = 0.6, 0.8


@dataclass(frozen=True)
class Rule:
    """One row of the table: a program tuned over ``settings`` (besides the lr grid)."""

    label: str
    program: str  # a library name or program source
    settings: tuple[dict, ...] = ({},)
    adam_class: bool = False  # counts for the pressure verdict

    def parsed(self) -> Program:
        return resolve(self.program)


def _rules(betas: Sequence[float]) -> tuple[Rule, ...]:
    return (
        Rule("sgd", "sgd", ({"momentum": 0.0},)),
        Rule("heavy_ball", "sgd", tuple({"momentum": float(b)} for b in betas)),
        Rule("adam", "adam"),
        Rule("adam_no_bc", ADAM_NO_BIAS_CORRECTION, adam_class=True),
        Rule("rmsprop_mom", "rmsprop_momentum", adam_class=True),
        Rule("signum", "signum"),
        Rule("adagrad", "adagrad"),
        Rule("lion", "lion"),
    )


RULES = _rules(BETAS)

#: families whose tasks ``--tasks`` may name besides the suites' (candidates not in a suite)
_CANDIDATES = (pressure_quadratics.FAMILY, pressure_logistic.FAMILY, pressure_nets.FAMILY)


def select_tasks(suite: str = "pressure", names=None) -> list:
    """The tasks called ``names`` (any suite's, or any size of a pressure family's), else the
    tasks of ``suite``; one-line errors name what exists."""
    if not names:
        return list(get_suite(suite))
    known = {t.name: t for s in SUITES.values() for t in s}
    for family in _CANDIDATES:
        known.update((t.name, t) for size in SIZES for t in family.tasks(size))
    missing = [n for n in names if n not in known]
    if missing:
        raise InvalidValue(f"unknown task {missing[0]!r}; known tasks: {', '.join(sorted(known))}")
    return [known[n] for n in names]


@dataclass
class Cell:
    """One rule on one task: per seed, the best setting's metric, lr and score."""

    scores: list[float] = field(default_factory=list)
    metrics: list[float] = field(default_factory=list)
    best_lrs: list[float | None] = field(default_factory=list)
    settings: list[dict] = field(default_factory=list)
    edge: bool = False  # a best lr on the grid's edge (or every lr diverged) on some seed

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores)

    @property
    def spread(self) -> float:
        return max(self.scores) - min(self.scores)


def _best(program, task, lrs, seed, settings, device, cache):
    """The best of ``settings`` (lowest metric) for one seed: (Result, setting)."""
    best = None
    for setting in settings:
        key = (program.source, tuple(sorted(setting.items())), task.name, seed)
        if key not in cache:
            cache[key] = evaluate(program, task, lrs, seeds=(seed,), device=device, hyper=setting)
        result = cache[key]
        if best is None or result.metric < best[0].metric:
            best = (result, setting)
    return best


def calibrate(tasks, rules: Sequence[Rule] = RULES, *, seeds: Sequence[int] = (0, 1, 2),
              lrs: Sequence[float] = DEFAULT_LRS, device="cpu", progress=None) -> dict:
    """``{task name: {rule label: Cell}}``, scores against the rule labelled ``adam``."""
    device = resolve_device(device)
    lrs = tuple(lrs)
    programs = {r.label: r.parsed() for r in rules}
    table, cache = {}, {}
    for task in tasks:
        raw = {}
        for rule in rules:
            if progress:
                progress(f"{task.name}: {rule.label}")
            raw[rule.label] = [_best(programs[rule.label], task, lrs, s, rule.settings, device,
                                     cache) for s in seeds]
        adam = raw["adam"]
        row = {}
        for label, per_seed in raw.items():
            cell = row[label] = Cell()
            for (result, setting), (base, _) in zip(per_seed, adam):
                cell.scores.append(normalised_score(result.metric, base.metric,
                                                    result.initial_metric))
                cell.metrics.append(result.metric)
                cell.best_lrs.append(result.best_lr)
                cell.settings.append(setting)
                cell.edge |= result.best_lr is None or result.best_lr in (lrs[0], lrs[-1])
        table[task.name] = row
    return table


def verdict(row: dict, rules: Sequence[Rule] = RULES) -> str:
    """``pressure``, ``control`` or ``neither`` (the thresholds above, on every seed)."""
    momentum = row["heavy_ball"].scores
    adaptive = [s for r in rules if r.adam_class for s in row[r.label].scores]
    if max(momentum) <= MOMENTUM_AT_MOST and min(adaptive) >= ADAM_CLASS_AT_LEAST:
        return "pressure"
    if min(momentum) >= 1.0:
        return "control"
    return "neither"


def seconds_per_evaluation(task, device="cpu", seeds=(0, 1)) -> float:
    """Wall seconds of one Adam evaluation on the default grid (K = 8 lrs x 2 seeds = 16)."""
    adam = get("adam").program
    evaluate(adam, task.with_steps(2), seeds=seeds, device=device)  # warm-up (data, kernels)
    start = time.perf_counter()
    evaluate(adam, task, seeds=seeds, device=device)
    return time.perf_counter() - start


def format_table(table: dict, rules: Sequence[Rule] = RULES, timing: dict | None = None) -> str:
    """Mean score vs Adam over seeds ``+-`` half the spread; ``*``: a best lr on the grid edge."""
    labels = [r.label for r in rules]
    head = f"{'task':26s}" + "".join(f"{lab:>14s}" for lab in labels) + "  verdict"
    if timing:
        head += "   s/eval(K=16)"
    lines = [head, "-" * len(head)]
    for task, row in table.items():
        cells = "".join(f"{row[lab].mean:8.2f}+-{row[lab].spread / 2:4.2f}"
                        f"{'*' if row[lab].edge else ' '}" for lab in labels)
        line = f"{task:26s}{cells}  {verdict(row, rules):8s}"
        if timing:
            line += f"   {timing[task]:6.2f}"
        lines.append(line)
    lines.append("score = normalised_score vs Adam on the same seed (1 = Adam), mean over seeds "
                 "+- half the max-min spread; * = a best lr on the grid's edge on some seed; "
                 f"pressure: heavy_ball <= {MOMENTUM_AT_MOST} and "
                 + ", ".join(r.label for r in rules if r.adam_class)
                 + f" >= {ADAM_CLASS_AT_LEAST} on every seed; control: heavy_ball >= 1")
    return "\n".join(lines)


def _to_json(table, rules, timing, seeds, lrs) -> dict:
    tasks = {}
    for task, row in table.items():
        tasks[task] = {"verdict": verdict(row, rules),
                       "seconds_per_evaluation_k16": (timing or {}).get(task),
                       "rules": {lab: {"mean": c.mean, "spread": c.spread, "scores": c.scores,
                                       "metrics": [m if m != float("inf") else None
                                                   for m in c.metrics],
                                       "best_lrs": c.best_lrs, "settings": c.settings,
                                       "edge": c.edge} for lab, c in row.items()}}
    return {"seeds": list(seeds), "lrs": list(lrs), "baseline": "adam",
            "thresholds": {"heavy_ball_at_most": MOMENTUM_AT_MOST,
                           "adam_class_at_least": ADAM_CLASS_AT_LEAST},
            "tasks": tasks}


def _plot(table, rules, path: Path) -> Path | None:
    """Grouped bars: each rule's mean score per task, whiskers from the seed min to max."""
    plt = pyplot()
    if plt is None:
        return None
    labels = [r.label for r in rules]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(table) * len(labels) / 4), 4.0))
    width = 0.8 / len(labels)
    for i, lab in enumerate(labels):
        xs = [t + (i - len(labels) / 2 + 0.5) * width for t in range(len(table))]
        cells = [row[lab] for row in table.values()]
        means = [c.mean for c in cells]
        err = [[m - min(c.scores) for m, c in zip(means, cells)],
               [max(c.scores) - m for m, c in zip(means, cells)]]
        ax.bar(xs, means, width, yerr=err, label=lab, capsize=1.5)
    for y, style in ((MOMENTUM_AT_MOST, ":"), (ADAM_CLASS_AT_LEAST, "--"), (1.0, "-")):
        ax.axhline(y, color="grey", lw=0.8, ls=style)
    ax.set_xticks(range(len(table)))
    ax.set_xticklabels([f"{t}\n({verdict(r, rules)})" for t, r in table.items()], fontsize=7)
    ax.set_ylabel("normalised score vs Adam")
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_outputs(table, out_dir: Path, rules=RULES, timing=None, seeds=(0, 1, 2),
                  lrs=DEFAULT_LRS) -> list[Path]:
    """``results.json``, ``table.txt`` and (with matplotlib) ``calibrate.png`` in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "results.json", out_dir / "table.txt"]
    written[0].write_text(json.dumps(_to_json(table, rules, timing, seeds, lrs), indent=1))
    written[1].write_text(format_table(table, rules, timing) + "\n")
    plot = _plot(table, rules, out_dir / "calibrate.png")
    return written + ([plot] if plot else [])


def run(tasks, out_dir: Path, *, seeds=(0, 1, 2), lrs=DEFAULT_LRS, betas=BETAS, device="cpu",
        threads: int = 1, timing: bool = True, progress=None) -> dict:
    """Calibrate ``tasks``, print the table and write the outputs; returns the table."""
    torch.set_num_threads(threads)
    rules = _rules(betas)
    table = calibrate(tasks, rules, seeds=seeds, lrs=lrs, device=device, progress=progress)
    times = ({t.name: seconds_per_evaluation(t, device) for t in tasks} if timing else None)
    print(f"{len(tasks)} tasks, seeds {list(seeds)}, {len(lrs)} learning rates, "
          f"{torch.get_num_threads()} thread(s), device {resolve_device(device)}")
    print(format_table(table, rules, times))
    files = write_outputs(table, out_dir, rules, times, seeds, lrs)
    print("\nwrote " + ", ".join(str(f) for f in files))
    return table
