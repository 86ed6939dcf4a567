"""The evaluation cascade: cheap stages stop most children before the expensive one.

Most children of a search are worse than their parents, and a few milliseconds can tell. A
child is scored stage by stage (the issue's "micro -> light -> full proxy"):

1. ``micro``: the micro tier (:mod:`tasks.micro`): small analytic pressure quadratics with
   closed-form gradients, a whole batch of children trained as one population
   (:func:`tasks.micro.evaluate_micro`), scored against Adam;
2. a suite stage (default ``light``): the cheapest tasks of the search's own suite, one job per
   (child, task), scored against the search's baseline like the full fitness;
3. ``full``: the rest of the search's suite; the child's fitness aggregates every task's score
   (the light stage's scores are reused, not recomputed).

A child goes on only if its stage score is at least the rolling ``quantile`` (default the 75th
percentile) of the last ``window`` scores of that stage (its own batch's included), once
``warmup`` scores are in; with the default that lets about a quarter through each hurdle. Start and restart programs skip the
hurdles (they are the reference every child is measured against). A stopped child is told to
the evolution as not admitted (:meth:`search.evolution.RegularizedEvolution.tell`): it never
joins the population or the hall of fame, so selection acts on full fitnesses only.

The windows take a batch's scores in child order and are part of the evolution state
(checkpointed), so a run gives the same result for any number of workers and when resumed.

In the fitness cache a stopped child is stored as :func:`stopped_value` (a negative code: full
fitnesses are never negative), so an equivalent child later is stopped again without training.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from primitives import parse

from .fitness import SuiteFitness, aggregate_scores, score_source
from .fitness import quantile as _quantile

__all__ = ["Outcome", "Cascade", "stopped_value", "stopped_at", "hurdle", "build_cascade",
           "single_stage", "alpha_of"]

#: the name of the last stage (the whole suite)
FULL = "full"


def stopped_value(stage: int) -> float:
    """The cache value of a child stopped at stage ``stage`` (0-based): ``-(stage + 1)``."""
    return -float(stage + 1)


def stopped_at(value: float) -> int | None:
    """The stage a cached ``value`` stopped at, or None for a full fitness (or a failure)."""
    if math.isfinite(value) and value < 0 and value == int(value):
        return int(-value) - 1
    return None


def hurdle(window: Sequence[float], quantile: float, warmup: int) -> float:
    """The score a child needs: the ``quantile`` of ``window`` (-inf before ``warmup`` scores)."""
    if len(window) < max(1, warmup):
        return -math.inf
    return _quantile(window, quantile)


@dataclass
class Outcome:
    """One child's evaluation: its fitness (when admitted) and how far it got."""

    value: float  # the full fitness, or stopped_value(stage) when stopped
    admitted: bool
    stage: str  # the last stage it was scored at
    stage_scores: dict = field(default_factory=dict)  # stage name -> stage score
    scores: dict = field(default_factory=dict)  # task name -> normalised score (suite stages)
    seconds: float = 0.0
    cpu: float = 0.0
    error: str = ""
    alpha: float = math.nan  # adaptivity exponent (primitives.adaptivity_exponent)

    def summary(self) -> dict:
        """The mean, median and 25th percentile of the task scores (None when stopped)."""
        if not self.admitted or not self.scores:
            return {}
        return {f"fitness_{h}": round(aggregate_scores(self.scores.values(), h), 6)
                for h in ("mean", "median", "p25")}


@dataclass(frozen=True)
class _Stage:
    name: str
    tasks: tuple[str, ...] = ()  # suite stages: the tasks first scored here


def alpha_of(source: str) -> float:
    """The adaptivity exponent of a program (1: SGD and momentum, 0: Adam, sign rules); NaN
    when it is undefined or the program cannot run it."""
    from primitives import adaptivity_exponent  # noqa: PLC0415

    try:
        return float(adaptivity_exponent(parse(source), steps=16, dim=96, shape=(8, 12)))
    except Exception:  # noqa: BLE001 - an analysis, never a reason to fail a child
        return math.nan


def _micro_job(sources: Sequence[str], lrs, seeds, num_steps, threads: int):
    """Micro-tier scores (mean over the micro tasks, against Adam) of a chunk of children, with
    the chunk's seconds; a chunk that fails as a whole is retried one child at a time."""
    import torch  # noqa: PLC0415 - in the worker

    from tasks.micro import MICRO_TASKS, evaluate_micro  # noqa: PLC0415

    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    start, cpu = time.perf_counter(), time.process_time()
    tasks = MICRO_TASKS if num_steps is None else tuple(t.with_steps(min(num_steps, t.num_steps))
                                                        for t in MICRO_TASKS)
    try:
        try:
            rows = [(_mean(r), "") for r in evaluate_micro([parse(s) for s in sources], tasks,
                                                           lrs=lrs, seeds=seeds)]
        except Exception:  # noqa: BLE001 - one bad child must not fail the others
            rows = []
            for s in sources:
                try:
                    rows.append((_mean(evaluate_micro([parse(s)], tasks, lrs=lrs,
                                                      seeds=seeds)[0]), ""))
                except Exception as exc:  # noqa: BLE001 - a failing program is an outcome
                    first = str(exc).splitlines()[0] if str(exc) else ""
                    rows.append((math.nan, f"{type(exc).__name__}: {first}"))
        alphas = [alpha_of(s) for s in sources]  # logged for every trained child
    finally:
        torch.set_num_threads(saved)
    return rows, time.perf_counter() - start, time.process_time() - cpu, alphas


#: what search.parallel returns for a chunk whose worker hung or died (search.limits.lost_result)
_micro_job.failed = lambda error, sources, *args: (
    [(math.nan, error)] * len(sources), 0.0, 0.0, [math.nan] * len(sources))


def _mean(scores: dict) -> float:
    return sum(scores.values()) / len(scores) if scores else math.nan


class Cascade:
    """Scores children stage by stage through a pool; see the module docstring.

    Args:
        fitness: the search's full :class:`SuiteFitness` (with its baseline metrics).
        stages: stage names before the full suite: ``"micro"`` or a suite name (its tasks that
            are also the search's; a suite stage that would cover none or all of them is
            dropped).
        quantile, window, warmup: the hurdle (see :func:`hurdle`).
        micro_chunk: children per micro-tier job.
    """

    def __init__(self, fitness: SuiteFitness, stages: Sequence[str] = ("micro", "light"),
                 quantile: float = 0.75, window: int = 200, warmup: int = 16,
                 micro_chunk: int = 16):
        from tasks.suites import get_suite  # noqa: PLC0415 - keeps `import search` light

        self.fitness = fitness
        self.quantile, self.window, self.warmup = quantile, window, warmup
        self.micro_chunk = micro_chunk
        built, covered = [], set()
        for name in stages:
            if name == "micro":
                if fitness.lrs is None:
                    continue  # the micro tier tunes lr on the grid: off without one
                built.append(_Stage("micro"))
                continue
            tasks = tuple(t.name for t in get_suite(name) if t.name in fitness.tasks
                          and t.name not in covered)
            if tasks and len(covered) + len(tasks) < len(fitness.tasks):
                built.append(_Stage(name, tasks))
                covered.update(tasks)
        rest = tuple(t for t in fitness.tasks if t not in covered)
        self.stages = (*built, _Stage(FULL, rest))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    def evaluate(self, pool, sources: Sequence[str], bypass: Sequence[bool],
                 hurdles: dict) -> list[Outcome]:
        """Outcomes of ``sources`` (``bypass``: skip the hurdles); ``hurdles`` (stage name ->
        recent scores) is updated in place with this batch's stage scores, in order."""
        outcomes = [Outcome(math.nan, False, "") for _ in sources]
        if self.stages[0].name != "micro":  # else the micro jobs compute it, in the workers
            for out, source in zip(outcomes, sources):
                out.alpha = alpha_of(source)
        alive = list(range(len(sources)))
        for index, stage in enumerate(self.stages):
            if not alive:
                break
            scores = self._run_stage(pool, stage, [sources[i] for i in alive],
                                     [outcomes[i] for i in alive])
            window = hurdles.setdefault(stage.name, [])
            if stage.name != FULL:  # the batch's own scores count (in order): a first batch
                window.extend(x if math.isfinite(x) else 0.0 for x in scores)  # is screened too
                del window[:-self.window]
            bar = hurdle(window, self.quantile, self.warmup)
            survivors = []
            for i, score in zip(alive, scores):
                out = outcomes[i]
                out.stage = stage.name
                out.stage_scores[stage.name] = score
                if stage.name == FULL:  # a task that raised fails the child, as alone
                    value = aggregate_scores(out.scores.values(), self.fitness.aggregate)
                    out.value = (math.nan if out.error else
                                 value if math.isfinite(value) else 0.0)
                    out.admitted = True
                    continue
                if (math.isfinite(score) and score >= bar) or bypass[i]:
                    survivors.append(i)
                else:
                    out.value = stopped_value(index)
            alive = survivors
        return outcomes

    def _run_stage(self, pool, stage: _Stage, sources, outcomes) -> list[float]:
        """Each child's score at ``stage`` (NaN on failure); adds time and errors to ``outcomes``."""
        f = self.fitness
        if stage.name == "micro":
            chunks = [sources[i:i + self.micro_chunk]
                      for i in range(0, len(sources), self.micro_chunk)]
            results = pool(_micro_job, [(c, f.lrs, (0,), f.num_steps, f.threads) for c in chunks])
            scores = []
            for chunk, (rows, seconds, cpu, alphas) in zip(chunks, results):
                for out, (score, error), alpha in zip(outcomes[len(scores):], rows, alphas):
                    out.seconds += seconds / len(chunk)
                    out.cpu += cpu / len(chunk)
                    out.error = out.error or error
                    out.alpha = alpha
                    scores.append(score)
            return scores
        jobs = [(f.subset((task,)), s) for s in sources for task in stage.tasks]
        results = pool(score_source, jobs)
        k = len(stage.tasks)
        scores = []
        for n, out in enumerate(outcomes):
            part = results[n * k:(n + 1) * k]
            for task, (value, seconds, cpu, error) in zip(stage.tasks, part):
                out.scores[task] = value if math.isfinite(value) else 0.0
                out.seconds += seconds
                out.cpu += cpu
                out.error = out.error or error
            failed = any(not math.isfinite(v) for v, *_ in part)
            stage_scores = [out.scores[t] for t in stage.tasks]
            scores.append(math.nan if failed else aggregate_scores(stage_scores,
                                                                   f.aggregate))
        return scores


def build_cascade(cfg, fitness) -> Cascade | None:
    """The cascade a config asks for, or None (no stages, or a caller's own fitness function)."""
    if not isinstance(fitness, SuiteFitness) or not cfg.cascade:
        return None
    cascade = Cascade(fitness, cfg.cascade, cfg.cascade_quantile, cfg.cascade_window,
                      cfg.cascade_warmup)
    return cascade if len(cascade.stages) > 1 else None


def single_stage(pool, fitness: Callable[[str], float], sources: Sequence[str]) -> list[Outcome]:
    """Outcomes without a cascade: ``fitness(source)`` for every child, all admitted."""
    results = pool(score_source, [(fitness, s) for s in sources])
    return [Outcome(value, True, FULL, {}, {}, seconds, cpu, error, alpha_of(source))
            for (value, seconds, cpu, error), source in zip(results, sources)]
