"""Reinforcement learning: CartPole for the task suites, grid-worlds and the held-out RL protocol.

- :mod:`tasks.rl.cartpole`: an A2C agent balancing a pole, one family of the proxy suites
  (exported as the module, like :mod:`tasks.synthetic`: ``cartpole.FAMILY``);
- :mod:`tasks.rl.gridworld`: batched tabular grid-worlds (LPG's and GROOVE's levels) and
  delayed-chain MDPs;
- :mod:`tasks.rl.agents`: tabular agents (rollouts, GAE, clipped SGD, A2C, A2C trained by an
  optimizer program);
- :mod:`tasks.rl.value_iteration`: a level's exact optimal return;
- :mod:`tasks.rl.protocol`: the one held-out evaluator; a learner is a callable
  ``train(env, levels, generator) -> pi``, so the protocol knows no learned rule.

Example::

    >>> from tasks.rl import ProgramA2C, RLSuite, evaluate_learners  # doctest: +SKIP
    >>> evaluate_learners({"sgd": ProgramA2C(sgd_program, RLSuite().lrs)})  # doctest: +SKIP
"""

from .agents import (A2CConfig, ProgramA2C, Rollout, a2c_loss, episode_return, mean_reward,
                     rollout, train_a2c, train_a2c_program)
from . import cartpole  # the family module (its factory is tasks.rl.cartpole.cartpole)
from .cartpole import CartPoleTask, cartpole_step
from .gridworld import (CPU_LEVELS, GROOVE_LEVELS, DelayedChain, GridWorld, LevelDistribution,
                        Levels, lpg_levels, sample_levels, with_lifetime)
from .protocol import (Learner, RLSuite, RLTable, evaluate_learners, held_out_levels,
                       learner_row, score_policy)
from .value_iteration import optimal_return

__all__ = [
    "A2CConfig", "ProgramA2C", "Rollout", "a2c_loss", "episode_return", "mean_reward", "rollout",
    "train_a2c", "train_a2c_program",
    "CartPoleTask", "cartpole", "cartpole_step",
    "CPU_LEVELS", "GROOVE_LEVELS", "DelayedChain", "GridWorld", "LevelDistribution", "Levels",
    "lpg_levels", "sample_levels", "with_lifetime",
    "Learner", "RLSuite", "RLTable", "evaluate_learners", "held_out_levels", "learner_row",
    "score_policy",
    "optimal_return",
]
