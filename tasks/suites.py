"""Suites: the task lists the protocol scores a program on, built explicitly (no registration).

- ``proxy``: what the search trains on (proxy suite v2): the three pressure tasks (where only a
  rule that normalises per coordinate reaches Adam), the noisy quadratic, Rosenbrock, logistic
  regression, the rotated quadratic (momentum's control), the digits MLP, and a small CNN and
  char transformer; each at most about a second per evaluation (K = 8 learning rates x 2
  seeds) on one core. CartPole is left out (``proxy_rl``): its score is mostly seed noise at
  this size.
- ``proxy_v1``: the proxy suite before v2 (the eight kinds of the validation and test suites at
  proxy size; its transformer alone took 15 s per evaluation), kept for ``discover bench
  fidelity``'s comparison.
- ``light``: the cascade's middle stage: the pressure tasks and the noisy quadratic (``proxy``'s
  first four tasks, its cheapest).
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
    ['zipf_quadratic_proxy', 'block_quadratic_proxy']
"""

from __future__ import annotations

from dataclasses import replace

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


def _fast_nets() -> tuple[Task, ...]:
    """The CNN and transformer of the proxy size cut to about a second per evaluation
    (narrower, shorter)."""
    return (replace(cnn("proxy"), name="cnn_digits_fast", channels=(4, 8), num_steps=120),
            replace(transformer("proxy"), name="char_transformer_fast", width=16, context=16,
                    batch_size=8, num_steps=100, validation_windows=64))


#: CartPole cut to about a second (not in ``proxy``: its normalised score moved by up to 1.0
#: from one seed to the next, e.g. Lion 1.24 / 0.65 / 0.39 on seeds 0 / 1 / 2, more than the
#: differences selection has to see)
CARTPOLE_FAST = replace(cartpole("proxy"), name="cartpole_a2c_fast", hidden=(16, 16), num_envs=8,
                        rollout_steps=16, num_steps=80, episode_cap=100, eval_episodes=32)


def _light() -> tuple[Task, ...]:
    return (zipf_quadratic("proxy"), block_quadratic("proxy"), sparse_logistic("proxy"),
            noisy_quadratic("proxy"))


#: suite name -> tasks
SUITES: dict[str, tuple[Task, ...]] = {
    "proxy": (*_light(), rosenbrock("proxy"), logistic("proxy"), quadratic("proxy"), mlp("proxy"),
              *_fast_nets()),
    "proxy_v1": _suite("proxy"),
    "light": _light(),
    "proxy_rl": (CARTPOLE_FAST,),
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
