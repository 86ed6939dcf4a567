"""Fitness of a program: its mean normalised score over a task list, against a baseline.

``fitness(p) = aggregate over tasks of normalised_score(metric_p, metric_AdamW, metric_init)``
(:func:`tasks.protocol.normalised_score`): 1 is as good as AdamW, 0 no progress or divergence,
at most 2 per task; the aggregate is the mean (default), the median or the 25th percentile
(:func:`aggregate_scores`: a rule that wins by a lot on one task and loses on the others has a
high mean but a low 25th percentile). The baseline's metrics are computed once per run (:func:`baseline_metrics`)
and then travel inside the :class:`SuiteFitness` object.

Workers receive only a :class:`SuiteFitness` (task *names* and numbers) and program source, both
picklable, and rebuild the tasks from the suites by name: nothing made by DEAP's ``creator``
crosses a process boundary.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import torch

from primitives import Program, parse, to_source
from primitives.errors import InvalidValue
from tasks.protocol import DEFAULT_LRS, evaluate, normalised_score
from tasks.suites import SUITES, get_suite

__all__ = ["SuiteFitness", "task_by_name", "task_names", "baseline_metrics", "baseline_for",
           "lr_grid", "score_source", "make_fitness", "per_task", "aggregate_scores",
           "quantile", "AGGREGATES"]

#: how per-task scores become one fitness
AGGREGATES = ("mean", "median", "p25")


def aggregate_scores(scores: Sequence[float], how: str = "mean") -> float:
    """One fitness from per-task scores: their ``mean``, ``median`` or ``p25`` (the 25th
    percentile, linear interpolation); NaN for no scores.

    >>> [aggregate_scores([0.0, 1.0, 2.0, 5.0], h) for h in AGGREGATES]
    [2.0, 1.5, 0.75]
    """
    values = sorted(float(x) for x in scores)
    if how not in AGGREGATES:
        raise InvalidValue(f"unknown aggregate {how!r}; choose one of {list(AGGREGATES)}")
    if not values:
        return math.nan
    if how == "mean":
        return math.fsum(values) / len(values)
    return quantile(values, 0.5 if how == "median" else 0.25)


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile of ``values`` (not empty), linear interpolation as numpy's default."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def task_by_name(name: str, num_steps: int | None = None):
    """The task called ``name`` in any suite, optionally with another step budget."""
    for suite in SUITES.values():
        for task in suite:
            if task.name == name:
                return task.with_steps(num_steps) if num_steps else task
    known = sorted({t.name for s in SUITES.values() for t in s})
    raise InvalidValue(f"unknown task {name!r}; known tasks: {', '.join(known)}")


def task_names(suite: str | None = None, tasks: Sequence[str] | None = None) -> tuple[str, ...]:
    """The explicit ``tasks`` (checked) or the names of ``suite``'s tasks."""
    if tasks:
        for name in tasks:
            task_by_name(name)
        return tuple(tasks)
    return tuple(t.name for t in get_suite(suite or "proxy"))


@contextlib.contextmanager
def _threads(n: int):
    """torch uses ``n`` threads inside (restored after), so a result does not depend on whether
    it was computed in the parent process or in a worker."""
    saved = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


#: task sets this process has warmed up (see :meth:`SuiteFitness.warm_up`)
_WARMED: set = set()

_SGD = "def sgd(w, g, lr=0.1):\n    return lr * g\n"


@dataclass(frozen=True)
class SuiteFitness:
    """Picklable fitness: ``fitness(source) -> float`` (higher is better; NaN never escapes)."""

    tasks: tuple[str, ...]
    baseline: tuple[tuple[float, float], ...]  # per task: (baseline metric, initial metric)
    lrs: tuple[float, ...] | None = DEFAULT_LRS  # None: the program's own lr
    seeds: tuple[int, ...] = (0, 1)
    num_steps: int | None = None
    device: str = "cpu"
    threads: int = 1
    warm: tuple[str, ...] = ()  # tasks to warm up in a fresh worker (default: ``tasks``)
    aggregate: str = "mean"  # of the per-task scores: mean, median or p25 (aggregate_scores)

    def metrics(self, program: Program | str) -> tuple[tuple[float, float], ...]:
        """Per task ``(metric at the best lr, metric at initialisation)``."""
        program = parse(program) if isinstance(program, str) else program
        lrs = self.lrs if "lr" in program.hyperparameters else None
        self.warm_up()
        with _threads(self.threads):
            return tuple((r.metric, r.initial_metric) for r in (
                evaluate(program, task_by_name(name, self.num_steps), lrs=lrs, seeds=self.seeds,
                         device=self.device) for name in self.tasks))

    def scores(self, program: Program | str) -> dict[str, float]:
        """Task name -> normalised score (0 for a task whose evaluation diverges)."""
        return {name: normalised_score(metric, base, initial) for name, (metric, _), (base, initial)
                in zip(self.tasks, self.metrics(program), self.baseline)}

    def __call__(self, source: str) -> float:
        value = aggregate_scores(self.scores(source).values(), self.aggregate)
        return value if math.isfinite(value) else 0.0

    def subset(self, names: Sequence[str]) -> "SuiteFitness":
        """This fitness on ``names`` only (tasks of this one: their baseline metrics are kept);
        workers still warm up every task of this fitness."""
        index = {n: i for i, n in enumerate(self.tasks)}
        baseline = tuple(self.baseline[index[n]] for n in names) if self.baseline else ()
        return replace(self, tasks=tuple(names), baseline=baseline, warm=self.warm or self.tasks)

    def warm_up(self) -> None:
        """Once per process: one training step on every task (SGD, the same K copies).

        A worker's memory then reaches its working size (datasets, allocator pools) on its
        first job: loky restarts a worker whose memory grows by more than 300 MB after its
        first job, and a restart costs a fresh import of torch and the tasks.
        """
        key = (self.warm or self.tasks, self.lrs, self.seeds, self.device)
        if key in _WARMED:
            return
        _WARMED.add(key)
        with _threads(self.threads):
            for name in key[0]:
                evaluate(parse(_SGD), task_by_name(name).with_steps(1),
                         lrs=self.lrs, seeds=self.seeds, device=self.device)


def baseline_metrics(program: Program | str, tasks: Sequence[str], lrs=DEFAULT_LRS, seeds=(0, 1),
                     num_steps: int | None = None, device: str = "cpu",
                     threads: int = 1) -> tuple[tuple[float, float], ...]:
    """Per task ``(metric, initial metric)`` of ``program`` (AdamW) under the same protocol."""
    fitness = SuiteFitness(tuple(tasks), (), None if lrs is None else tuple(lrs), tuple(seeds),
                           num_steps, device, threads)
    return fitness.metrics(program)


def make_fitness(baseline: Program, tasks: Sequence[str], lrs=DEFAULT_LRS, seeds=(0, 1),
                 num_steps: int | None = None, device: str = "cpu",
                 threads: int = 1) -> SuiteFitness:
    """A :class:`SuiteFitness` on ``tasks`` with ``baseline``'s metrics computed now."""
    metrics = baseline_metrics(baseline, tasks, lrs, seeds, num_steps, device, threads)
    return SuiteFitness(tuple(tasks), metrics, None if lrs is None else tuple(lrs),
                        tuple(seeds), num_steps, device, threads)


def per_task(fitness: SuiteFitness, baseline=None) -> list[SuiteFitness]:
    """One fitness per task of ``fitness`` (jobs that balance better over workers), each
    warming up all of ``fitness``'s tasks."""
    if baseline is not None:
        fitness = replace(fitness, baseline=tuple(baseline))
    return [fitness.subset((name,)) for name in fitness.tasks]


def _metrics_job(fitness: SuiteFitness, source: str):
    return fitness.metrics(source)


def score_source(fitness: Callable[[str], float],
                 source: str) -> tuple[float, float, float, str]:
    """Worker entry point: ``(fitness, seconds, cpu seconds, error)``; an exception is a NaN
    fitness, never a crash."""
    start, cpu = time.perf_counter(), time.process_time()
    try:
        value, error = float(fitness(source)), ""
    except Exception as exc:  # noqa: BLE001 - a failing program is an outcome, not a crash
        first = str(exc).splitlines()[0] if str(exc) else ""
        value, error = math.nan, f"{type(exc).__name__}: {first}"
    return value, time.perf_counter() - start, time.process_time() - cpu, error


#: what search.parallel returns for a call whose worker hung or died (search.limits.lost_result)
score_source.failed = lambda error, *args: (math.nan, 0.0, 0.0, error)


def lr_grid(cfg) -> tuple[float, ...] | None:
    """The learning-rate grid a config asks for (None: each program's own ``lr``)."""
    if not cfg.tune_lr:
        return None
    return tuple(cfg.lrs) if cfg.lrs is not None else DEFAULT_LRS


def _json(x: float):
    return x if math.isfinite(x) else None


def _float(x) -> float:
    return math.inf if x is None else float(x)


def baseline_for(baseline: Program, fitness: SuiteFitness, pool, path: Path):
    """Per-task ``(metric, initial)`` of ``baseline`` under ``fitness``'s protocol (one task per
    job through ``pool``), cached in the JSON file ``path`` and recomputed only if the tasks,
    the protocol settings or the baseline differ."""
    key = {"tasks": list(fitness.tasks), "lrs": fitness.lrs and list(fitness.lrs),
           "seeds": list(fitness.seeds), "num_steps": fitness.num_steps,
           "device": fitness.device, "baseline": to_source(baseline)}
    if path.exists():
        stored = json.loads(path.read_text())
        if stored.get("key") == key:
            return tuple((_float(m), _float(i)) for m, i in stored["metrics"])
    for name in fitness.tasks:
        task_by_name(name)  # a bad name fails here, in the parent, in one line
    parts = pool(_metrics_job, [(f, key["baseline"]) for f in per_task(fitness)])
    metrics = tuple(p[0] for p in parts)
    path.write_text(json.dumps({"key": key, "metrics": [[_json(m), _json(i)] for m, i in metrics]},
                               indent=2) + "\n")
    return metrics
