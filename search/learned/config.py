"""The settings of a meta-training run: :class:`MetaTrainConfig`, saved as the run's
``config.json`` and loaded back through one checked :meth:`MetaTrainConfig.from_dict` (unknown
keys are a one-line :class:`~search.config.ConfigError` with a did-you-mean, as for
:class:`search.SearchConfig`).

Example::

    >>> MetaTrainConfig.from_dict({"kind": "groove", "lifetim": 100})
    Traceback (most recent call last):
    ...
    search.config.ConfigError: unknown config key 'lifetim' (did you mean lifetime?)
    >>> MetaTrainConfig(kind="ta-lpg").steps
    100
"""

from __future__ import annotations

from dataclasses import dataclass
import torch

from ..config import ConfigError, known_keys, read_json_object
from .lpg import LPGConfig

__all__ = ["KINDS", "ES_KINDS", "DEFAULT_STEPS", "MetaTrainConfig"]

KINDS = ("lpg", "ta-lpg", "groove", "es-lpg")
#: the kinds meta-trained by evolution strategies
ES_KINDS = ("ta-lpg", "es-lpg")
#: the CPU-scale run length per kind: about 4-5 minutes of one core for LPG and GROOVE (200-250
#: meta-steps/min) and 6-8 for the ES kinds (13-17 generations/min); the README's figures
DEFAULT_STEPS = {"lpg": 1000, "groove": 1000, "ta-lpg": 100, "es-lpg": 100}


@dataclass
class MetaTrainConfig:
    """Settings of a meta-training run (defaults sized for a 2-core CPU)."""

    kind: str = "lpg"
    steps: int | None = None      # meta-steps (ES: generations); None: DEFAULT_STEPS[kind]
    seed: int = 0
    device: str = "cpu"
    agents: int = 16              # parallel lifetimes
    envs: int = 16                # environments per lifetime
    hidden: int = 64              # GRU width
    m: int = 8                    # prediction vector size
    lifetime: int = 250           # agent updates per lifetime (lpg, groove)
    meta_lr: float = 1e-3         # Adam on the meta-parameters (lpg, groove)
    es_pairs: int = 8             # antithetic pairs (ta-lpg, es-lpg): population 16
    es_sigma: float = 0.1
    es_lr: float = 0.01
    ta_lifetimes: tuple = (10, 250)   # log-uniform lifetime range (ta-lpg, es-lpg)
    buffer_size: int = 1000       # groove
    replay_prob: float = 0.5      # groove
    eval_levels: int = 64         # held-out levels scored at the end (tasks.rl.protocol)
    eval_steps: int = 50          # rollout steps per env of the rewards in training (GROOVE's
                                  # regret, ES fitness)
    log_every: int = 10
    checkpoint_every: int = 50

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"meta-train: unknown kind {self.kind!r}; choose one of {KINDS}")
        if self.steps is None:
            self.steps = DEFAULT_STEPS[self.kind]
        if self.steps < 1:
            raise ConfigError(f"meta-train: steps must be >= 1, got {self.steps}")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except (RuntimeError, ValueError):
                raise ConfigError(f"meta-train: device {self.device!r} names no device; use "
                                  "cpu, cuda, cuda:N or auto") from None
        self.ta_lifetimes = tuple(self.ta_lifetimes)

    @classmethod
    def from_dict(cls, data: dict) -> "MetaTrainConfig":
        """The config of a saved ``config.json``'s settings; unknown keys are a one-line error."""
        return cls(**known_keys(cls, data))

    @classmethod
    def load(cls, path, **overrides) -> "MetaTrainConfig":
        """The config saved in ``path`` (a run's ``config.json``), with ``overrides`` applied."""
        return cls.from_dict({**read_json_object(path), **overrides})

    def lpg(self) -> LPGConfig:
        return LPGConfig(hidden=self.hidden, m=self.m, temporal=self.kind == "ta-lpg")
