"""The configuration of a search run: one typed dataclass, saved with the run as ``config.json``.

Each field carries a one-line docstring (cleanrl style). Loading rejects unknown keys and values
of the wrong type or range with a one-line :class:`ConfigError`, so a typo never becomes a silent
default. The defaults run ``discover search`` on a 2-core CPU in a few minutes.

Example::

    >>> cfg = SearchConfig(budget=16, population_size=8)
    >>> SearchConfig.from_dict(cfg.to_dict()) == cfg
    True
    >>> SearchConfig.from_dict({"popsize": 8})
    Traceback (most recent call last):
    ...
    search.config.ConfigError: unknown config key 'popsize' (did you mean population_size?)
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from primitives import HERO_OPS, OPS
from primitives.errors import UserError

from .mutation import SEARCH_OPS, MutationSettings

__all__ = ["ConfigError", "SearchConfig", "known_keys", "load_config", "save_config"]

BACKENDS = ("loky", "dask", "ray")


class ConfigError(UserError, ValueError):
    """A bad configuration: unknown key, wrong type, value out of range. One line."""


@dataclass
class SearchConfig:
    """Everything that decides a search run (with the start and baseline programs)."""

    name: str | None = None
    """run name: the run writes outputs/<name>/ (default: search-<date>-<time>)"""
    seed: int = 0
    """seed of the search's random stream; same seed and config give the same run"""
    budget: int | None = 480
    """children to score (None: stop on time_limit only)"""
    stop_at: float | None = None
    """stop early once the best fitness reaches this (None: run the whole budget)"""
    require_gradient: bool = True
    """keep only children whose update depends on the gradient (no lr * sign(w))"""
    count_cache_hits: bool = True
    """the budget counts every scored child; False: only children actually trained (misses)"""
    time_limit: float | None = None
    """seconds of searching before stopping (None: stop on budget only)"""
    start: list[str] = field(default_factory=lambda: ["adamw"])
    """warm-start programs: library names or .py files"""
    baseline: str = "adamw"
    """the program scores are normalised against (library name or .py file)"""
    init: str = "start"
    """first population: 'start' (copies of the start programs, as Lion) or 'random'"""
    random_length: int = 6
    """statements of each random program when init is 'random'"""
    population_size: int = 16
    """P: programs kept alive; each child replaces the oldest"""
    tournament_size: int = 2
    """T: members drawn per tournament; the best becomes the parent"""
    batch_size: int = 32
    """children asked, evaluated in parallel and told per round (not tied to workers)"""
    mutation_weights: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0, 1.0])
    """relative odds of insert, delete, modify, constant and (optional 5th) smooth mutations"""
    inplace_prob: float = 0.0
    """chance that an overwriting insertion transforms the value it replaces (x_1 = op(x, ...))"""
    max_program_length: int = 30
    """no insertions once a program has this many statements"""
    max_mutation_attempts: int = 100
    """re-mutations of a parent until a valid child, before keeping the parent"""
    ops: str | list[str] = "search"
    """op set: 'search' (ops marked search=True), 'hero' (Lion's 45) or a list of names"""
    restart_after: int | None = 200
    """restart when the best has not improved for this many evaluations (None: never)"""
    restart_from: str = "alternate"
    """restart from 'best' so far, from the 'start' programs, or 'alternate' (best first)"""
    hall_of_fame_size: int = 10
    """best distinct programs kept"""
    cache_fingerprint: bool = True
    """also key the fitness cache by behavioural fingerprint, not only structure"""
    suite: str = "proxy"
    """task suite the search scores on (tasks.suites)"""
    tasks: list[str] | None = None
    """task names (from any suite) to use instead of the suite"""
    num_steps: int | None = None
    """train every task (search, funnel, test) this many steps instead of its own (cheap runs)"""
    tune_lr: bool = True
    """score each program at its best learning rate on a grid (False: lr is a mutable constant)"""
    lrs: list[float] | None = None
    """learning-rate grid when tune_lr (None: tasks.protocol.DEFAULT_LRS)"""
    lr_proportional: bool = True
    """with tune_lr, keep only children whose update is proportional to lr (no exp(lr), tan(lr)
    or lr-free updates that step off the grid); off by itself if a start program is not"""
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    """training seeds per task (two: one seed's score moves by up to 0.2 on the proxy suite)"""
    device: str = "cpu"
    """device the evaluations train on: cpu, cuda or auto"""
    workers: int = 2
    """parallel evaluations (joblib n_jobs); results do not depend on it"""
    threads_per_worker: int = 1
    """torch threads inside one evaluation"""
    eval_timeout: float | None = 600.0
    """seconds one evaluation may take; a child past it fails (NaN fitness); None: no limit"""
    eval_memory_mb: int | None = 4096
    """memory (MB) one evaluation may add to its process, CPU only; more fails the child"""
    max_state_slots: int | None = 32
    """state variables a program may have; more fails the child (None: no limit)"""
    max_state_elements: int | None = 2**24
    """numbers a program's state may hold per model copy; more fails the child (None: no limit)"""
    backend: str = "loky"
    """joblib backend: loky (local processes), dask or ray"""
    address: str | None = None
    """scheduler address for dask (HOST:PORT) or ray; None starts a local cluster"""
    aggregate: str = "mean"
    """how per-task scores become the fitness: mean, median or p25 (25th percentile)"""
    cascade: list[str] = field(default_factory=lambda: ["micro", "light"])
    """stages before the full suite: 'micro' (the micro tier) or suite names ([]: no cascade)"""
    cascade_quantile: float = 0.75
    """a child goes on past a stage only at or above this quantile of the stage's recent scores"""
    cascade_window: int = 200
    """recent scores per stage the hurdle's quantile is taken over"""
    cascade_warmup: int = 16
    """scores a stage collects before its hurdle applies (every child goes on until then)"""
    validation_suite: str = "validation"
    """suite the funnel re-scores the best programs on"""
    validation_tasks: list[str] | None = None
    """task names to funnel on instead of the validation suite"""
    funnel_top_k: int = 0
    """best programs (by search fitness) funnelled onto the validation suite (0: skip)"""
    test_suite: str = "test"
    """held-out suite the finalists are scored on at the end"""
    test_tasks: list[str] | None = None
    """task names to test on instead of the test suite"""
    test_top_k: int = 0
    """finalists scored on the test suite against the baseline (0: skip)"""
    simplify: bool = True
    """simplify the winner: dead code, then greedy statement removal"""
    simplify_tolerance: float = 0.02
    """a removal is kept while the score stays within this of the unsimplified score"""
    simplify_budget: int = 8
    """evaluations simplification may spend"""

    def __post_init__(self):
        check(self)

    # ---- conversions ------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SearchConfig":
        return cls(**known_keys(cls, data))

    def replace(self, **changes) -> "SearchConfig":
        """A checked copy with ``changes`` (unknown keys are an error)."""
        return SearchConfig.from_dict({**self.to_dict(), **changes})

    # ---- derived settings -------------------------------------------------------------------

    def op_names(self) -> tuple[str, ...]:
        if self.ops == "search":
            return SEARCH_OPS
        if self.ops == "hero":
            return HERO_OPS
        return tuple(self.ops)

    def mutation_settings(self) -> MutationSettings:
        return MutationSettings(ops=self.op_names(), weights=tuple(self.mutation_weights),
                                max_length=self.max_program_length,
                                max_attempts=self.max_mutation_attempts,
                                frozen=("lr",) if self.tune_lr else (),
                                lr_proportional=self.tune_lr and self.lr_proportional,
                                needs_gradient=self.require_gradient,
                                inplace_prob=self.inplace_prob)


# ---- checking -------------------------------------------------------------------------------


def known_keys(cls, data: dict) -> dict:
    """``data`` unchanged if every key is a field of the dataclass ``cls``; else a one-line
    :class:`ConfigError` naming the first unknown key and the closest field (the ``from_dict``
    of every config: :class:`SearchConfig`, ``search.learned.MetaTrainConfig``)."""
    if not isinstance(data, dict):
        raise ConfigError(f"a config is a JSON object of settings, not {type(data).__name__}")
    known = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = (f" (did you mean {close[0]}?)" if close
                    else f"; known keys: {', '.join(known)}")
            raise ConfigError(f"unknown config key {key!r}{hint}")
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):  # types first: a config's own checks may compare them
        if f.name in data and not _type_ok(data[f.name], hints[f.name]):
            raise ConfigError(f"config {f.name}: expected {_type_name(hints[f.name])}, "
                              f"got {_shown(data[f.name])}")
    return data


def _shown(value) -> str:
    """``repr(value)``, cut to one short line (a fuzzed config can hold anything)."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
    return text if len(text) <= 80 else text[:80] + "..."


def _type_ok(value, hint) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if hint is float:
        try:
            return (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and math.isfinite(value))
        except OverflowError:  # an integer too large for a float
            return False
    if hint is tuple:  # a JSON list
        return isinstance(value, (list, tuple))
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


_CHOICES = {"init": ("start", "random"), "restart_from": ("best", "start", "alternate"),
            "aggregate": ("mean", "median", "p25"),
            "backend": BACKENDS, "device": ("cpu", "cuda", "auto")}
_AT_LEAST = {"random_length": 0, "population_size": 1, "tournament_size": 1, "batch_size": 1,
             "max_program_length": 1, "max_mutation_attempts": 1, "restart_after": 1,
             "hall_of_fame_size": 1, "num_steps": 1, "workers": 1, "threads_per_worker": 1,
             "funnel_top_k": 0, "test_top_k": 0, "budget": 0, "simplify_budget": 0,
             "eval_memory_mb": 1, "max_state_slots": 0, "max_state_elements": 1,
             "cascade_window": 1, "cascade_warmup": 0}


def check(cfg: SearchConfig) -> None:
    """Raise :class:`ConfigError` naming the first bad field."""
    hints = typing.get_type_hints(SearchConfig)
    for f in dataclasses.fields(SearchConfig):
        value = getattr(cfg, f.name)
        if not _type_ok(value, hints[f.name]):
            raise ConfigError(f"config {f.name}: expected {_type_name(hints[f.name])}, "
                              f"got {_shown(value)}")
        if f.name in _CHOICES and value not in _CHOICES[f.name]:
            raise ConfigError(f"config {f.name}: {value!r} is not one of {list(_CHOICES[f.name])}")
        if f.name in _AT_LEAST and value is not None and value < _AT_LEAST[f.name]:
            raise ConfigError(f"config {f.name}: must be >= {_AT_LEAST[f.name]}, got {value!r}")
    if cfg.tournament_size > cfg.population_size:
        raise ConfigError(f"config tournament_size ({cfg.tournament_size}) must not exceed "
                          f"population_size ({cfg.population_size})")
    if cfg.budget is None and cfg.time_limit is None:
        raise ConfigError("config: give a budget (evaluations) or a time_limit (seconds), or both")
    if cfg.time_limit is not None and cfg.time_limit <= 0:
        raise ConfigError(f"config time_limit: must be > 0 seconds, got {cfg.time_limit!r}")
    if cfg.eval_timeout is not None and cfg.eval_timeout <= 0:
        raise ConfigError(f"config eval_timeout: must be > 0 seconds (or null: no limit), got "
                          f"{cfg.eval_timeout!r}")
    if len(cfg.mutation_weights) not in (4, 5) or min(cfg.mutation_weights) < 0 \
            or sum(cfg.mutation_weights) <= 0:
        raise ConfigError("config mutation_weights: 4 or 5 non-negative numbers (insert, delete, "
                          f"modify, constant[, smooth]), not all 0; got {cfg.mutation_weights!r}")
    if isinstance(cfg.ops, str) and cfg.ops not in ("search", "hero"):
        raise ConfigError(f"config ops: 'search', 'hero' or a list of op names, got {cfg.ops!r}")
    if isinstance(cfg.ops, list):
        unknown = [o for o in cfg.ops if o not in OPS]
        if unknown or not cfg.ops:
            raise ConfigError(f"config ops: unknown op(s) {unknown} (see `discover ops`)"
                              if unknown else "config ops: the list is empty")
    if not cfg.seeds:
        raise ConfigError("config seeds: give at least one seed")
    if cfg.lrs is not None and (not cfg.lrs or min(cfg.lrs) <= 0):
        raise ConfigError(f"config lrs: positive learning rates, got {cfg.lrs!r}")
    for key in ("tasks", "validation_tasks", "test_tasks"):
        if getattr(cfg, key) is not None and not getattr(cfg, key):
            raise ConfigError(f"config {key}: give at least one task name, or null for the suite")
    if not cfg.start:
        raise ConfigError("config start: give at least one start program (e.g. [\"adamw\"])")
    _check_tasks(cfg)
    if not 0.0 <= cfg.cascade_quantile <= 1.0:
        raise ConfigError(f"config cascade_quantile: a quantile in [0, 1], got "
                          f"{cfg.cascade_quantile}")
    if not 0.0 <= cfg.inplace_prob <= 1.0:
        raise ConfigError(f"config inplace_prob: a probability in [0, 1], got {cfg.inplace_prob}")
    if cfg.simplify_tolerance < 0:
        raise ConfigError(f"config simplify_tolerance: must be >= 0, got {cfg.simplify_tolerance}")


def _check_tasks(cfg: SearchConfig) -> None:
    from tasks.suites import SUITES  # noqa: PLC0415 - keeps `import search.config` light

    for key in ("suite", "validation_suite", "test_suite"):
        if getattr(cfg, key) not in SUITES:
            raise ConfigError(f"config {key}: unknown suite {getattr(cfg, key)!r}; choose one "
                              f"of {list(SUITES)}")
    bad = [s for s in cfg.cascade if s != "micro" and s not in SUITES]
    if bad:
        raise ConfigError(f"config cascade: unknown stage {bad[0]!r}; stages are 'micro' or "
                          f"suite names {list(SUITES)}")
    known = {t.name for suite in SUITES.values() for t in suite}
    for key in ("tasks", "validation_tasks", "test_tasks"):
        bad = [n for n in getattr(cfg, key) or () if n not in known]
        if bad:
            raise ConfigError(f"config {key}: unknown task(s) {bad}; known: {sorted(known)}")


def read_json_object(path: str | Path) -> dict:
    """The JSON object in ``path``; a one-line :class:`ConfigError` for a file that cannot be
    read, is not UTF-8, is not JSON (or is absurdly nested) or holds something else."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: "
                          f"{exc.msg}") from None
    except (ValueError, RecursionError) as exc:  # a number of > 4300 digits; absurd nesting
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).splitlines()[0]
        raise ConfigError(f"{path}: invalid JSON: {why[:120]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a JSON object of settings")
    return data


def load_config(path: str | Path, **overrides) -> SearchConfig:
    """A config from a JSON file, with ``overrides`` (e.g. from the command line) applied."""
    return SearchConfig.from_dict({**read_json_object(path), **overrides})


def save_config(cfg: SearchConfig, path: str | Path) -> None:
    Path(path).write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
