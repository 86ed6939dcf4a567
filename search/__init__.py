"""Discovery methods: symbolic evolution and learned update rules.

Symbolic evolution (Lion-style regularized evolution on DEAP's pieces)::

    from discover.library import get
    from search import SearchConfig, run_search, resume, report

    adamw = get("adamw").program
    result = run_search(SearchConfig(budget=48), [adamw], baseline=adamw)
    print(result.best)          # the winner, also in outputs/<run>/best_program.py

The pieces: :mod:`search.mutation` (insert/delete/modify/constant, re-mutate until valid),
:mod:`search.evolution` (ask/tell over explicit state, saved as JSON), :mod:`search.cache` (dead
code removed, fitness keyed by structural hash and fingerprint), :mod:`search.fitness` (mean
normalised score on a suite), :mod:`search.parallel` (joblib: loky, dask, ray),
:mod:`search.run` (the run loop, checkpoints, resume), :mod:`search.funnel` and
:mod:`search.simplify` (selection that generalises), :mod:`search.report`.

Learned update rules (LPG, temporally-aware LPG, GROOVE) are :mod:`search.learned`.
"""

from .cache import CacheKeys, FitnessCache, canonical, program_keys
from .config import ConfigError, SearchConfig, load_config, save_config
from .evolution import WORST, EvolutionState, RegularizedEvolution, to_individual, to_program
from .fitness import SuiteFitness, make_fitness, task_by_name
from .funnel import finish, suite_scores
from .mutation import (MUTATION_KINDS, SEARCH_OPS, MutationInfo, MutationSettings, mutate,
                       mutate_valid, random_program)
from .parallel import evaluation_pool
from .report import report, run_figures
from .run import RunResult, resume, run_search
from .simplify import Simplified, simplify
from .learned import (ESState, LevelBuffer, LPGConfig, MetaTrainConfig, OpenES, RuleLearner,
                      algorithmic_regret, meta_train)

__all__ = [
    "CacheKeys", "FitnessCache", "canonical", "program_keys",
    "ConfigError", "SearchConfig", "load_config", "save_config",
    "WORST", "EvolutionState", "RegularizedEvolution", "to_individual", "to_program",
    "SuiteFitness", "make_fitness", "task_by_name",
    "finish", "suite_scores",
    "MUTATION_KINDS", "SEARCH_OPS", "MutationInfo", "MutationSettings", "mutate", "mutate_valid",
    "random_program",
    "evaluation_pool",
    "report", "run_figures",
    "RunResult", "resume", "run_search",
    "Simplified", "simplify",
    # learned rules (LPG family), from search.learned
    "ESState", "OpenES", "LevelBuffer", "algorithmic_regret", "LPGConfig", "RuleLearner",
    "MetaTrainConfig", "meta_train",
]
