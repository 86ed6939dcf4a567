"""discover: an engine that discovers optimization algorithms.

The public API, which the command line (:mod:`discover.cli`) uses and nothing more:

- the library: :data:`REGISTRY` (name -> entry, each a program verified against a reference),
  :func:`get` (an entry by name), :func:`resolve` (a Program from a library name, a ``.py``
  file or program source) and :func:`verify` (check an entry against its reference);
- export: :func:`optimizer` (a ``torch.optim.Optimizer`` class that runs a program),
  :func:`export_source` and :func:`write_export` (the same as a standalone module);
- evaluation: :func:`evaluate_suite` (a leaderboard against AdamW on a task suite),
  :func:`write_leaderboard`, and :func:`evaluate_rl` (learned rules and A2C on grid-worlds, on
  an :class:`RLSuite`), :func:`write_rl_outputs`;
- search: :func:`run_search`, :func:`resume`, :func:`report`, :func:`run_figures`,
  :func:`run_log`, :func:`has_checkpoint`, :func:`parse_duration`, :func:`fitness_of` (a
  program's fitness under a search config) and :func:`fitness_protocol`; :func:`meta_train`
  and :class:`MetaTrainConfig` for the learned rules;
- :func:`outputs_dir` (``$DISCOVER_OUTPUTS`` or ``./outputs``) and :class:`UserError`, the base
  of every error that is the user's to fix.

>>> import discover
>>> discover.resolve("lion").name, discover.get("adam").name in discover.REGISTRY
('lion', True)
>>> discover.verify(discover.get("sgd"), steps=5).status
'passed'

``verify``, ``REGISTRY`` and ``get`` are imported with the package: a lazily loaded ``verify``
would be replaced by the submodule ``discover.verify`` as soon as anything imported that. The
rest is imported on first use (``discover.run_search`` loads the search, ``discover.optimizer``
the exporter), so ``import discover`` does not load the search, the tasks or the exporter.
"""

from __future__ import annotations

import importlib

from .errors import UserError
from .library import REGISTRY, get
from .verify import verify

__all__ = ["UserError", "REGISTRY", "get", "resolve", "verify", "optimizer", "export_source",
           "write_export", "evaluate_suite", "write_leaderboard", "evaluate_rl", "RLSuite",
           "write_rl_outputs", "MetaTrainConfig", "run_search",
           "resume", "report", "run_figures", "run_log", "has_checkpoint", "parse_duration",
           "fitness_of", "fitness_protocol", "meta_train", "outputs_dir"]

#: the rest of the API: name -> the module that defines it, imported on first use
_LAZY = {
    "resolve": "discover.programs",
    "optimizer": "discover.export", "export_source": "discover.export",
    "write_export": "discover.export",
    "evaluate_suite": "discover.evaluate", "write_leaderboard": "discover.evaluate",
    "evaluate_rl": "discover.rl", "RLSuite": "discover.rl", "write_rl_outputs": "discover.rl",
    "MetaTrainConfig": "search.learned",
    "run_search": "discover.runs", "resume": "discover.runs", "report": "discover.runs",
    "run_figures": "discover.runs", "run_log": "discover.runs",
    "has_checkpoint": "discover.runs", "parse_duration": "discover.runs",
    "fitness_of": "discover.runs", "fitness_protocol": "discover.runs",
    "meta_train": "search.learned",
    "outputs_dir": "discover.paths",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'discover' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
