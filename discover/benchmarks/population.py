"""``discover bench population``: B programs trained together against one at a time.

A search's children are trained in batches. :func:`tasks.population.evaluate_population` trains
a batch as one computation (one batched loss and gradient for every copy of every program, the
elementwise programs stepped by one op-grouped function); this prints what that buys over
:func:`tasks.protocol.evaluate` called once per program on the same tasks, and the micro tier's
rate (:func:`tasks.micro.evaluate_micro`), on one core (issue 12: >= 8x at B = 16; >= 50 micro
evaluations per second).

The programs are B children such as a search makes: parents AdamW, Lion and heavy-ball in turn,
each mutated ``--depth`` times by :func:`search.mutation.mutate_valid` with the search's default
settings (the update stays proportional to ``lr`` and reads the gradient), from a fixed seed.
An evaluation is one program on one task over the learning-rate grid (``--seeds``: one seed, as
the search's fitness). Times are CPU seconds of this process (the figure to trust on a shared
machine), the best of ``--rounds``, the two ways alternated so that load falls on both alike;
the best learning rates of the two ways are compared (float32: they may part where training is
chaotic), and the programs op-grouped on each task are counted (the others step one by one
inside the population: :func:`primitives.compile.groupable`).

Usage::

    discover bench population [--programs 16] [--suite pressure] [--tasks NAME ...]
                              [--steps N] [--rounds 1] [--threads 1] [--no-micro]
"""

from __future__ import annotations

import math
import random
import time
from typing import Sequence

import torch

from primitives import Program, parse
from primitives.compile import groupable
from search.mutation import MutationSettings, mutate_valid
from tasks.micro import MICRO_TASKS, evaluate_micro
from tasks.population import evaluate_population
from tasks.protocol import DEFAULT_LRS, evaluate

from ..library import get
from .calibrate import select_tasks

__all__ = ["HEAVY_BALL", "DEFAULT_TASKS", "children", "run"]

HEAVY_BALL = """\
def heavy_ball(w, g, m, lr=0.1, beta=0.9):
    m = interp(g, m, beta)
    return lr * m, m
"""

#: the pressure suite and the small proxy tasks (the transformer, CNN and CartPole are left out:
#: seconds per evaluation, where batching programs does not change the arithmetic)
DEFAULT_TASKS = ("zipf_quadratic_proxy", "block_quadratic_proxy", "sparse_logistic_proxy",
                 "rotated_quadratic_proxy", "homogeneous_blocks_proxy", "quadratic_proxy",
                 "rosenbrock_proxy", "nqm_proxy", "logistic_cancer_proxy", "mlp_digits_proxy")


def children(n: int = 16, seed: int = 0, depth: int = 2) -> list[Program]:
    """``n`` children of AdamW, Lion and heavy-ball (in turn), each ``depth`` valid mutations
    from its parent, drawn from ``seed``."""
    parents = [get("adamw").program, get("lion").program, parse(HEAVY_BALL)]
    rng = random.Random(seed)
    settings = MutationSettings(lr_proportional=True, needs_gradient=True)
    out = []
    for i in range(n):
        program = parents[i % len(parents)]
        for _ in range(depth):
            program, _ = mutate_valid(program, rng, settings)
        out.append(program)
    return out


def _cpu(fn):
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def _agree(alone, together) -> int:
    """Programs whose best learning rate is the same both ways."""
    return sum(a.best_lr == b.best_lr or (a.best_lr is None and b.best_lr is None)
               for a, b in zip(alone, together))


def run(tasks: Sequence | None = None, programs: int = 16, seed: int = 0, depth: int = 2,
        seeds: Sequence[int] = (0,), steps: int | None = None, rounds: int = 1,
        threads: int = 1, micro: bool = True, device="cpu") -> dict:
    """Print the table (and return its figures: task name -> (alone s, population s))."""
    torch.set_num_threads(threads)
    tasks = list(tasks) if tasks is not None else select_tasks(names=DEFAULT_TASKS)
    if steps is not None:
        tasks = [t.with_steps(steps) for t in tasks]
    progs = children(programs, seed, depth)
    print(f"{programs} programs (children of adamw, lion, heavy-ball; {depth} mutations each, "
          f"seed {seed}), {len(DEFAULT_LRS)} learning rates x {len(seeds)} seed(s), "
          f"{torch.get_num_threads()} thread(s), CPU seconds, best of {rounds}")
    print(f"  {'task':26s} {'steps':>5s} {'one at a time':>14s} {'population':>11s} "
          f"{'evals/min':>10s} {'evals/min':>10s} {'ratio':>6s}  same best lr  grouped")
    print(f"  {'':26s} {'':5s} {'s':>14s} {'s':>11s} {'alone':>10s} {'together':>10s}")
    figures = {}
    for task in tasks:
        small = task.with_steps(2)  # warm-up: data, caches, compiled steps
        evaluate(progs[0], small, seeds=seeds, device=device)
        evaluate_population(progs, small, seeds=seeds, device=device)
        best_alone = best_pop = math.inf
        for _ in range(rounds):
            t_alone, alone = _cpu(lambda: [evaluate(p, task, seeds=seeds, device=device)
                                           for p in progs])
            t_pop, together = _cpu(lambda: evaluate_population(progs, task, seeds=seeds,
                                                               device=device))
            best_alone, best_pop = min(best_alone, t_alone), min(best_pop, t_pop)
        figures[task.name] = (best_alone, best_pop)
        tensors = len(task.init(0))
        grouped = sum(groupable(p, tensors) for p in progs)
        print(f"  {task.name:26s} {task.num_steps:5d} {best_alone:14.2f} {best_pop:11.2f} "
              f"{60 * programs / best_alone:10.0f} {60 * programs / best_pop:10.0f} "
              f"{best_alone / best_pop:6.2f}  {_agree(alone, together):>7d}/{programs}"
              f"  {grouped:>5d}/{programs}", flush=True)
    if figures:
        total_alone = sum(a for a, _ in figures.values())
        total_pop = sum(p for _, p in figures.values())
        n = programs * len(figures)
        print(f"  {'all of the above':26s} {'':5s} {total_alone:14.2f} {total_pop:11.2f} "
              f"{60 * n / total_alone:10.0f} {60 * n / total_pop:10.0f} "
              f"{total_alone / total_pop:6.2f}")
    if micro:
        evaluate_micro(progs[:2], [t.with_steps(2) for t in MICRO_TASKS])  # warm-up
        best = math.inf
        for _ in range(rounds):
            seconds, _ = _cpu(lambda: evaluate_micro(progs))
            best = min(best, seconds)
        n = programs * len(MICRO_TASKS)
        print(f"micro tier: {programs} programs x {len(MICRO_TASKS)} tasks "
              f"({', '.join(t.name for t in MICRO_TASKS)}; Adam trained beside them) in "
              f"{best:.2f} CPU s: {n / best:.1f} trained evaluations per second")
        figures["micro"] = (best, n / best)
    return figures
