"""Learned update rules: RL objectives meta-trained on grid-worlds (the LPG family).

- :mod:`search.learned.lpg`: LPG's backward-GRU meta-network, the agent update toward its
  targets and the truncated meta-gradient; :class:`RuleLearner` scores a rule with
  :mod:`tasks.rl.protocol`;
- :mod:`search.learned.es`: OpenAI-ES with antithetic pairs (temporally-aware LPG);
- :mod:`search.learned.groove`: GROOVE's level buffer and algorithmic regret;
- :mod:`search.learned.config`: :class:`MetaTrainConfig`, loaded through one checked
  ``from_dict``;
- :mod:`search.learned.runs`: the runs (``lpg``, ``ta-lpg``, ``groove``, ``es-lpg``),
  checkpoints, resume, and the held-out score by :mod:`tasks.rl.protocol` at the end.

Example::

    >>> from search.learned import MetaTrainConfig, meta_train
    >>> run = "outputs/meta-train-lpg-seed0"
    >>> meta_train("lpg", MetaTrainConfig(steps=1000), run)  # doctest: +SKIP
"""

from .es import ESState, OpenES
from .groove import LevelBuffer, algorithmic_regret
from .lpg import LPGConfig, RuleLearner
from .config import DEFAULT_STEPS, KINDS, MetaTrainConfig
from .runs import initial_params, load_rule, meta_train

__all__ = [
    "ESState", "OpenES",
    "LevelBuffer", "algorithmic_regret",
    "LPGConfig", "RuleLearner",
    "DEFAULT_STEPS", "KINDS", "MetaTrainConfig", "initial_params", "load_rule", "meta_train",
]
