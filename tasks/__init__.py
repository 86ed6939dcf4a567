"""Proxy tasks and the evaluation protocol that scores an update rule.

- :mod:`tasks.base`: the :class:`Task` interface and :class:`TaskFamily`, seeds and devices;
- :mod:`tasks.synthetic`, :mod:`tasks.vision`, :mod:`tasks.language`, :mod:`tasks.rl.cartpole`:
  one family per file;
- :mod:`tasks.suites`: the ``proxy``, ``validation`` and ``test`` task lists;
- :mod:`tasks.protocol`: :func:`evaluate` (learning-rate grid x seeds as one batched run, see
  :mod:`tasks.batched`) and :func:`normalised_score`;
- :mod:`tasks.rl`: everything reinforcement learning: CartPole, the tabular grid-worlds and
  agents of the learned rules, and :mod:`tasks.rl.protocol`, the one held-out RL evaluator.

Example: SGD on the quadratic for 20 steps, its learning rate tuned on the default grid (a
whole suite is ``[evaluate(program, task) for task in get_suite("proxy")]``)::

    >>> from primitives import parse
    >>> from tasks.synthetic import quadratic
    >>> sgd = parse("def sgd(w, g, lr=0.1):\\n    return lr * g")
    >>> result = evaluate(sgd, quadratic("proxy").with_steps(20), seeds=(0,))
    >>> result.best_lr in DEFAULT_LRS, result.metric < result.initial_metric
    (True, True)
"""

from .base import SIZES, Task, TaskFamily, derive_seed, generator, resolve_device
from .protocol import DEFAULT_LRS, WORST_METRIC, Result, evaluate, normalised_score
from .suites import SUITES, get_suite

__all__ = [
    "SIZES", "Task", "TaskFamily", "derive_seed", "generator", "resolve_device",
    "DEFAULT_LRS", "WORST_METRIC", "Result", "evaluate", "normalised_score",
    "SUITES", "get_suite",
]
