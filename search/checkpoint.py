"""A run's checkpoint file: its name and how to read it back.

``checkpoint.pkl`` holds the evolution state (DEAP individuals among them), the fitness cache,
the elapsed time and the RNG states; :mod:`search.run` writes it atomically after every batch.
Unpickling needs the classes it holds, so this module imports them from :mod:`search.evolution`
(importing it also defines DEAP's ``creator`` classes): whoever reads a checkpoint imports this
module instead of importing ``evolution`` for its side effect.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from .cache import FitnessCache
from .evolution import EvolutionState

__all__ = ["CHECKPOINT", "load_checkpoint", "read_checkpoint"]

CHECKPOINT = "checkpoint.pkl"


def load_checkpoint(run_dir: str | Path) -> dict:
    """The checkpoint of the run in ``run_dir``: ``state`` (an :class:`EvolutionState`),
    ``cache`` (a :class:`FitnessCache`), ``elapsed``, ``log_bytes``, ``done``, ``rng``, ..."""
    with open(Path(run_dir) / CHECKPOINT, "rb") as fh:
        ckpt = pickle.load(fh)
    assert isinstance(ckpt["state"], EvolutionState) and isinstance(ckpt["cache"], FitnessCache)
    return ckpt


def read_checkpoint(run_dir: str | Path) -> dict | None:
    """:func:`load_checkpoint`, or None when the run has none yet."""
    return load_checkpoint(run_dir) if (Path(run_dir) / CHECKPOINT).exists() else None
