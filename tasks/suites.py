"""Suites: the task lists the protocol scores a program on, built explicitly (no registration).

- ``proxy``: what the search trains on; a full evaluation (8 learning rates x 2 seeds) takes
  seconds per task on two CPU cores.
- ``validation``: the same kinds about ten times larger, for funnel selection of search winners.
- ``test``: held out from search: larger instances and workload variants (a deeper GELU MLP,
  a wider CNN, a 3-layer transformer, a condition number of 1e4, a 32-D Rosenbrock, an NQM with
  another noise level, L2-regularised logistic regression, an A2C agent with tanh networks and
  1000-step CartPole episodes).
- ``pressure``: tasks where ``discover bench calibrate`` measured tuned heavy-ball at <= 0.6 of
  Adam and the Adam-class rules at >= 0.8 (per-coordinate adaptivity is necessary), plus
  controls where momentum beats Adam (see :mod:`tasks.pressure_quadratics` and its siblings).

Example::

    >>> [t.name for t in get_suite("proxy")][:2]
    ['quadratic_proxy', 'rosenbrock_proxy']
"""

from __future__ import annotations

from primitives.errors import InvalidValue

from .base import Task
from .language import transformer
from .pressure_logistic import sparse_logistic
from .pressure_quadratics import (block_quadratic, homogeneous_blocks, rotated_quadratic,
                                  zipf_quadratic)
from .rl.cartpole import cartpole
from .synthetic import logistic, noisy_quadratic, quadratic, rosenbrock
from .vision import cnn, mlp

__all__ = ["SUITES", "get_suite"]


def _suite(size: str) -> tuple[Task, ...]:
    return (quadratic(size), rosenbrock(size), noisy_quadratic(size), logistic(size),
            mlp(size), cnn(size), transformer(size), cartpole(size))


#: suite name -> tasks
SUITES: dict[str, tuple[Task, ...]] = {
    "proxy": _suite("proxy"),
    "validation": _suite("validation"),
    "test": _suite("test"),
    # the tasks calibrate confirmed (pressure), then the controls
    "pressure": (zipf_quadratic("proxy"), block_quadratic("proxy"), sparse_logistic("proxy"),
                 rotated_quadratic("proxy"), homogeneous_blocks("proxy")),
}


def get_suite(name: str) -> tuple[Task, ...]:
    """The tasks of suite ``name``; a one-line error names the suites that exist."""
    if name not in SUITES:
        raise InvalidValue(f"unknown suite {name!r}; choose one of {list(SUITES)}")
    return SUITES[name]
