"""The micro tier: small analytic pressure tasks, closed-form gradients, many programs at once.

The first hurdle of a search's cascade must cost milliseconds per child. These tasks are the
pressure quadratics of :mod:`tasks.pressure_quadratics` shrunk (hundreds of coordinates, 100
steps) and their gradients come in closed form (``closed_form``: ``h (x - x*)`` or ``A (x - x*)``
for all stacked copies at once, no autograd); :func:`evaluate_micro` trains a batch of programs
on them together (:func:`tasks.population.evaluate_population`: one gradient for every copy of
every program, and the programs stepped by one generated function that runs each op once for
all the programs that have it, :class:`primitives.compile.GroupedStep`) and scores each against
Adam under the same protocol. The same program on the same task gives the same numbers as
:func:`tasks.protocol.evaluate` with autograd (float64: to rounding). ``discover bench
population`` prints the rate: about 100-125 trained evaluations (a program on a task) per second
on one loaded core for 16 search-like children (27 per second before op grouping).

- ``zipf_quadratic_micro``: 10 groups (1,023 coordinates, condition number 512), axis-aligned:
  per-coordinate step sizes pay.
- ``block_quadratic_micro``: 8 rotated blocks of 8, block scales over 3 decades.
- ``rotated_quadratic_micro``: one rotated block of 32, 3 decades of curvature: a control.

Measured (one seed, the default 8-point lr grid; heavy-ball = ``interp(g, m, beta)`` momentum,
best beta of {0, .5, .8, .9, .95, .99}; Adam = 1): Zipf 0.56, block 0.67, rotated 1.01. So
momentum cannot stand in for adaptivity on the first two, and keeps up on the control; the block
task is a little above the 0.6 line of the proxy-size pressure tasks (``discover bench
calibrate``), a smaller instance than theirs.

Example::

    >>> scores = evaluate_micro([ADAM, "def sgd(w, g, lr=0.1):\\n    return lr * g"])
    >>> round(scores[0]["zipf_quadratic_micro"], 3), scores[1]["zipf_quadratic_micro"] < 0.6
    (1.0, True)
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from primitives import Program, parse

from .population import evaluate_population
from .pressure_quadratics import BlockQuadraticTask, ZipfQuadraticTask
from .protocol import DEFAULT_LRS, normalised_score

__all__ = ["MICRO_TASKS", "ADAM", "evaluate_micro"]

#: the micro tier's tasks (small, analytic, full batch)
MICRO_TASKS = (
    ZipfQuadraticTask(name="zipf_quadratic_micro", size="proxy", groups=10, scale=10.0,
                      num_steps=100),
    BlockQuadraticTask(name="block_quadratic_micro", size="proxy", blocks=8, block_dim=8,
                       block_decades=3.0, within_decades=1.0, scale=10.0, num_steps=100),
    BlockQuadraticTask(name="rotated_quadratic_micro", size="proxy", blocks=1, block_dim=32,
                       block_decades=0.0, within_decades=3.0, scale=10.0, num_steps=100),
)

#: the baseline the micro scores are normalised by
ADAM = """def adam(w, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    return lr * (m / (1 - beta1 ** t)) / (sqrt(v / (1 - beta2 ** t)) + eps), m, v"""


def evaluate_micro(programs: Sequence[Program | str], tasks=MICRO_TASKS,
                   lrs: Sequence[float] = DEFAULT_LRS, seeds: Sequence[int] = (0,), *,
                   dtype: torch.dtype = torch.float32) -> list[dict[str, float]]:
    """Each program's normalised score (Adam = 1) on each micro task: ``[{task: score}]``.

    Adam is trained in the same population (its own copies), so one call is one batched
    computation per task.
    """
    programs = [parse(p) if isinstance(p, str) else p for p in programs]
    scores: list[dict[str, float]] = [{} for _ in programs]
    for task in tasks:
        results = evaluate_population([parse(ADAM), *programs], task, lrs=lrs, seeds=seeds,
                                      dtype=dtype, closed_form=True)
        base = results[0]
        for score, r in zip(scores, results[1:]):
            score[task.name] = (normalised_score(r.metric, base.metric, r.initial_metric)
                                if math.isfinite(base.metric) else 0.0)
    return scores
