"""A search run: batches of children evaluated in parallel, logged, checkpointed, resumable.

:func:`run_search` drives :class:`search.evolution.RegularizedEvolution` (ask, look up the cache,
evaluate the misses through joblib, tell) and writes ``outputs/<run>/``:

- ``config.json``: the :class:`SearchConfig`; ``inputs.json``: the start and baseline sources,
  the op set and the git commit of the code (:func:`code_version`);
- ``baseline.json``: the baseline's metrics per task (computed once);
- ``log.jsonl``: one line per scored child (index, hash, fitness, cache hit, seconds, source);
- ``checkpoint.json`` (and ``checkpoint.prev.json``, the one before): evolution state
  (population, hall of fame, logbook, its RNG), cache, fitness protocol, elapsed time and the
  global random/numpy/torch RNG states as JSON data, written atomically after every batch
  (:mod:`search.checkpoint`: no pickle, so loading a shared run never runs code);
- at the end (:mod:`search.funnel`): ``hall_of_fame.csv``, ``best_program.py``, funnel, test and
  simplification results, plots and ``report.md``.

:func:`resume` continues a stopped (or ``kill -9``-ed) run from its checkpoint, losing at most
the batch in flight, and finishes the budget. The same seed and config give the same log of
fitnesses whatever the number of workers: batches are sized by ``batch_size``, cache look-ups
happen in order in the parent, and results come back in submission order.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from primitives import Program, parse, to_source
from tasks.protocol import normalised_score

from .cache import CacheKeys, FitnessCache, canonical, program_keys
from .cascade import FULL, build_cascade, single_stage, stopped_at
from .checkpoint import (CHECKPOINT, CheckpointError, has_checkpoint, load_checkpoint,
                         write_checkpoint)
from .config import SearchConfig, load_config, save_config
from .evolution import EvolutionState, RegularizedEvolution, to_program
from .fitness import SuiteFitness, baseline_for, lr_grid, task_names
from .funnel import finish
from .limits import Limits
from .parallel import evaluation_pool
from .paths import outputs_dir
from .report import report

__all__ = ["RunResult", "run_search", "resume", "default_run_dir", "load_checkpoint"]

#: longest wait between checkpoints while every child is a cache hit (seconds)
CHECKPOINT_EVERY_S = 20.0
#: with ``count_cache_hits`` off, a run also stops after this many children per budgeted one
MAX_CHILDREN_PER_TRAINED = 50
FinishHook = Callable[[Program, Path], None]


@dataclass
class RunResult:
    """What a finished run hands back; everything is also on disk in ``run_dir``."""

    run_dir: Path
    best: Program  # the winner (funnelled and simplified when configured)
    best_fitness: float
    evaluations: int
    state: EvolutionState
    cache: FitnessCache


def default_run_dir(config: SearchConfig, root: str | Path | None = None) -> Path:
    """``root / config.name`` (root: :func:`search.paths.outputs_dir`; name: search-DATE-TIME)."""
    name = config.name or datetime.now().strftime("search-%Y%m%d-%H%M%S")
    return (Path(root) if root is not None else outputs_dir()) / name


# ---- starting and resuming --------------------------------------------------------------------


def run_search(config: SearchConfig, start_programs: Sequence[Program],
               baseline: Program | None = None, run_dir: str | Path | None = None,
               progress: bool = True, fitness: Callable[[str], float] | None = None,
               on_finish: FinishHook | None = None) -> RunResult:
    """Run a search from scratch in ``run_dir`` (default ``outputs_dir() / config.name``).

    Args:
        config: the run's settings.
        start_programs: warm-start programs (AdamW for a Lion-style search).
        baseline: the program scores are normalised against (default: the first start program).
        run_dir: a new directory (an existing run is continued with :func:`resume`, not here).
        progress: a status line on stderr after every batch.
        fitness: a picklable ``fitness(source) -> float`` to use instead of the suite score.
        on_finish: ``on_finish(best_program, run_dir)`` at the end, e.g. to export it.
    """
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(config)
    if has_checkpoint(run_dir):
        raise FileExistsError(f"{run_dir} already holds a run; continue it with resume or "
                              "choose another name")
    run_dir.mkdir(parents=True, exist_ok=True)
    if config.name is None:
        config = config.replace(name=run_dir.name)
    baseline = baseline if baseline is not None else start_programs[0]
    save_config(config, run_dir / "config.json")
    # the op set is stored resolved, so a resumed run mutates with the same ops even if the
    # registry's search set has changed since
    (run_dir / "inputs.json").write_text(json.dumps(
        {"start": [to_source(p) for p in start_programs], "baseline": to_source(baseline),
         "ops": list(config.op_names()), "code": code_version()}, indent=2) + "\n")
    (run_dir / "log.jsonl").write_text("")
    search = RegularizedEvolution(config, start_programs, seed=config.seed)
    ckpt = {"config": config.to_dict(), "state": search.init(), "cache": FitnessCache(),
            "fitness": fitness, "log_bytes": 0, "elapsed": 0.0, "done": False, "rng": None}
    _seed_globals(config.seed)
    return _Run(run_dir, config, search, baseline, ckpt, progress, on_finish).go()


def resume(run_dir: str | Path, progress: bool = True, on_finish: FinishHook | None = None,
           fitness: Callable[[str], float] | None = None, **changes) -> RunResult:
    """Continue the run in ``run_dir`` from its checkpoint and finish its budget.

    ``changes`` are config settings to alter first, e.g. ``budget=200`` to extend a finished
    run or ``budget=None, time_limit=600``; they are saved to ``config.json``. ``fitness``: the
    function given to :func:`run_search`, if one was (functions are not stored in checkpoints).
    Everything is read and checked before anything is written: a directory that cannot be
    continued is a :class:`~search.checkpoint.CheckpointError` (one line).
    """
    run_dir = Path(run_dir)
    for name in ("config.json", "inputs.json", "log.jsonl"):
        if not (run_dir / name).is_file():
            raise CheckpointError(f"{run_dir} is not a search run that can be continued: "
                                  f"{name} is missing")
    if not has_checkpoint(run_dir):
        raise CheckpointError(f"{run_dir} has no {CHECKPOINT}: it stopped before its first "
                              "batch; start it again")
    ckpt = load_checkpoint(run_dir)
    if ckpt.pop("custom_fitness"):
        if fitness is None:
            raise CheckpointError(f"{run_dir} was scored by a function given to run_search; "
                                  "give it again: resume(run_dir, fitness=...)")
        ckpt["fitness"] = fitness
    start, baseline, ops = _inputs(run_dir)
    config = load_config(run_dir / "config.json", **changes)
    if changes:
        save_config(config, run_dir / "config.json")
        ckpt["done"] = False
    search = RegularizedEvolution(config.replace(ops=ops), start, seed=config.seed)
    if (run_dir / "log.jsonl").stat().st_size < ckpt["log_bytes"]:
        raise CheckpointError(f"{run_dir}/log.jsonl is shorter than its checkpoint says: the "
                              "log was cut or replaced, so the run cannot continue exactly")
    with open(run_dir / "log.jsonl", "r+b") as fh:  # drop lines of the batch that was in flight
        fh.truncate(ckpt["log_bytes"])
    if ckpt["rng"] is not None:
        random.setstate(ckpt["rng"]["random"])
        np.random.set_state(ckpt["rng"]["numpy"])
        torch.set_rng_state(ckpt["rng"]["torch"])
    return _Run(run_dir, config, search, baseline, ckpt, progress, on_finish).go()


def _inputs(run_dir: Path) -> tuple[list[Program], Program, list[str]]:
    """The start programs, baseline and op set of a run (``inputs.json``), checked."""
    path = run_dir / "inputs.json"
    try:
        inputs = json.loads(path.read_text())
        start = [parse(s) for s in inputs["start"]]
        ops = [str(op) for op in inputs["ops"]]
        return start, parse(inputs["baseline"]), ops
    except (OSError, ValueError, KeyError, TypeError) as exc:  # ProgramError is a ValueError
        raise CheckpointError(f"{path} is unreadable: {str(exc).splitlines()[0][:120]}") from None


def code_version() -> dict:
    """The git commit of the code a run starts on, and whether it had uncommitted changes
    (``{"commit": None}`` outside a git checkout, e.g. an installed wheel)."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None}
    return {"commit": commit, "dirty": bool(dirty)}


def _seed_globals(seed: int) -> None:
    """The search uses its own RNG; seeding the global ones too makes any stray draw repeatable."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ---- the loop ------------------------------------------------------------------------------------


class _Run:
    def __init__(self, run_dir, config, search, baseline, ckpt, progress, on_finish):
        self.run_dir, self.config, self.search = run_dir, config, search
        self.baseline, self.ckpt = baseline, ckpt
        self.progress, self.on_finish = progress, on_finish
        self.state: EvolutionState = ckpt["state"]
        self.cache: FitnessCache = ckpt["cache"]
        self.trained_time = 0.0
        self.cascade = None
        self.full_trained = 0  # children scored on the whole suite (this session)

    def go(self) -> RunResult:
        cfg = self.config
        if self.progress:
            budget = " and ".join(x for x in (
                (f"{cfg.budget} evaluations" if cfg.count_cache_hits else
                 f"{cfg.budget} trained evaluations") if cfg.budget is not None else "",
                f"{cfg.time_limit:g} s" if cfg.time_limit is not None else "") if x)
            print(f"search {cfg.name}: {self.state.told} evaluations done, budget {budget}, "
                  f"{cfg.workers} {cfg.backend} worker(s), writing {self.run_dir}",
                  file=sys.stderr, flush=True)
            for note in self.search.notes:
                print(f"search {cfg.name}: note: {note}", file=sys.stderr, flush=True)
        with evaluation_pool(cfg.backend, cfg.workers, cfg.address,
                             Limits.from_config(cfg)) as pool:
            if self.ckpt["fitness"] is None:
                self.ckpt["fitness"] = self._suite_fitness(pool)
            if isinstance(self.ckpt["fitness"], SuiteFitness):  # the config decides it
                self.ckpt["fitness"] = replace(self.ckpt["fitness"], aggregate=cfg.aggregate)
            self.cascade = build_cascade(cfg, self.ckpt["fitness"])
            if self.progress and self.cascade is not None:
                print(f"search {cfg.name}: cascade {' -> '.join(self.cascade.names)}, "
                      f"hurdle: the {cfg.cascade_quantile:.0%} quantile of each stage's last "
                      f"{cfg.cascade_window} scores", file=sys.stderr, flush=True)
            if not self.ckpt["done"]:
                self._loop(pool)
            best, fitness = finish(self.run_dir, cfg, self.state, self.cache, self.ckpt["fitness"],
                                   self.baseline, pool, self.progress)
            self._checkpoint(self.ckpt["log_bytes"])  # keeps what simplification trained
        if self.on_finish is not None:
            self.on_finish(best, self.run_dir)
        report(self.run_dir)
        return RunResult(self.run_dir, best, fitness, self.state.told, self.state, self.cache)

    def _suite_fitness(self, pool) -> SuiteFitness:
        """The proxy fitness, with the baseline's metrics from ``baseline.json`` or computed
        now (one task per worker) and saved; the baseline's own fitness goes into the cache."""
        cfg = self.config
        names = task_names(cfg.suite, cfg.tasks)
        fitness = SuiteFitness(names, (), lr_grid(cfg), tuple(cfg.seeds), cfg.num_steps, cfg.device,
                               cfg.threads_per_worker)
        if self.progress and not (self.run_dir / "baseline.json").exists():
            print(f"search {cfg.name}: scoring the baseline {self.baseline.name} on "
                  f"{len(names)} task(s)", file=sys.stderr, flush=True)
        metrics = baseline_for(self.baseline, fitness, pool, self.run_dir / "baseline.json")
        fitness = SuiteFitness(names, metrics, fitness.lrs, fitness.seeds, fitness.num_steps,
                               fitness.device, fitness.threads)
        own = float(np.mean([normalised_score(m, m, i) for m, i in metrics]))
        self.cache.store(program_keys(self.baseline, cfg.cache_fingerprint), own)
        return fitness

    def _loop(self, pool) -> None:
        cfg, fitness = self.config, self.ckpt["fitness"]
        started, elapsed0 = time.monotonic(), self.ckpt["elapsed"]
        told0, saved, self.trained0 = self.state.told, time.monotonic(), self.trained
        log = open(self.run_dir / "log.jsonl", "a")
        try:
            while True:
                elapsed = elapsed0 + time.monotonic() - started
                left = self._left()
                if left <= 0 or (cfg.time_limit is not None and elapsed >= cfg.time_limit) \
                        or (cfg.stop_at is not None and self.state.best >= cfg.stop_at):
                    self.ckpt["elapsed"] = elapsed  # includes the last checkpoint's write
                    break
                children, state = self.search.ask(self.state, min(cfg.batch_size, left))
                values, admitted, lines = self._score(pool, fitness, children, state.hurdles)
                self.state = self.search.tell(state, children, values, admitted)
                _append(log, lines)
                self.ckpt["elapsed"] = elapsed0 + time.monotonic() - started
                # a batch answered from the cache alone is cheap to redo (a resumed search asks
                # the same children again): its checkpoint can wait, at most CHECKPOINT_EVERY_S
                if any(not line["cache_hit"] for line in lines) \
                        or time.monotonic() - saved >= CHECKPOINT_EVERY_S:
                    self._checkpoint(log.tell())
                    saved = time.monotonic()
                if self.progress:
                    self._show(self.state.told - told0, time.monotonic() - started)
            end = log.tell()
        finally:
            with contextlib.suppress(OSError):  # a full disk: _append's error says so
                log.close()
        self.ckpt["done"] = True
        self._checkpoint(end)
        if self.progress:
            print(file=sys.stderr)

    def _left(self) -> int:
        """Children the budget still allows (a batch when there is no budget)."""
        cfg = self.config
        if cfg.budget is None:
            return cfg.batch_size
        if cfg.count_cache_hits:
            return cfg.budget - self.state.told
        # only trained children count; a search stuck on cache hits still ends
        if self.state.told >= MAX_CHILDREN_PER_TRAINED * cfg.budget:
            return 0
        return cfg.budget - self.trained

    @property
    def trained(self) -> int:
        """Children actually trained so far (cache misses)."""
        return self.cache.lookups - self.cache.hits

    def _score(self, pool, fitness, children, hurdles) -> tuple[list[float], list[bool],
                                                                 list[dict]]:
        """Fitness per child and whether it joins the population: cache hits, within-batch
        duplicates, then the rest through the cascade (or the fitness alone) in parallel;
        ``hurdles`` (the cascade's windows, part of the asked state) is updated in place."""
        plan, jobs, pending = [], [], {}  # plan: (child, via, cached value, job index)
        for child in children:
            keys = CacheKeys(child.key, child.fingerprint)
            value, via = self.cache.peek(keys)
            job = None
            if via is None:  # an equivalent child earlier in this batch counts as a hit too
                for name, key in (("hash", keys.structural), ("fingerprint", keys.fingerprint)):
                    if key is not None and key in pending:
                        via, job = name, pending[key]
                        break
            self.cache.count(via)
            if via is None:
                job = len(jobs)
                jobs.append((keys, to_source(canonical(to_program(child))),
                             child.origin in ("start", "restart")))
                pending[keys.structural] = job
                if keys.fingerprint is not None:
                    pending.setdefault(keys.fingerprint, job)
            plan.append((child, via, value, job))
        sources = [source for _, source, _ in jobs]
        if self.cascade is None:
            outcomes = single_stage(pool, fitness, sources)
        else:
            outcomes = self.cascade.evaluate(pool, sources, [b for *_, b in jobs], hurdles)
        for (keys, *_), out in zip(jobs, outcomes):
            self.cache.store(keys, out.value)
            self.full_trained += out.admitted
        values, admitted, lines = [], [], []
        for child, via, value, job in plan:
            out = outcomes[job] if via is None else None
            if job is not None:
                value = outcomes[job].value
            joins = stopped_at(value) is None
            values.append(value if joins else math.nan)
            admitted.append(joins)
            lines.append(_log_line(child, value, via, out, joins, self.cascade))
        return values, admitted, lines

    def _checkpoint(self, log_bytes: int) -> None:
        self.ckpt.update(state=self.state, cache=self.cache, log_bytes=log_bytes,
                         rng={"random": random.getstate(), "numpy": np.random.get_state(),
                              "torch": torch.get_rng_state()})
        write_checkpoint(self.run_dir, self.ckpt)

    def _show(self, done_now: int, seconds: float) -> None:
        cfg, s = self.config, self.state
        total = f"/{cfg.budget}" if cfg.budget is not None else ""
        rate = 60.0 * done_now / seconds if seconds > 0 else 0.0
        trained = 60.0 * (self.trained - self.trained0) / seconds if seconds > 0 else 0.0
        stages = (f" | trained {trained:.0f}/min, {self.full_trained} on the full suite"
                  if self.cascade is not None else "")
        best = f"{s.best:.4f}" if math.isfinite(s.best) else "-"
        end = "\r" if sys.stderr.isatty() else "\n"
        count = (f"{s.told}{total} evals" if cfg.count_cache_hits
                 else f"{self.trained}{total} trained ({s.told} children)")
        print(f"search {cfg.name}: {count} | best {best} | cache hits "
              f"{self.cache.hit_rate:.0%} | invalid {s.invalid_share:.0%} | {rate:.1f} evals/min"
              f"{stages} | {_clock(self.ckpt['elapsed'])}", end=end, file=sys.stderr,
              flush=True)


def _append(log, lines: list[dict]) -> None:
    """A batch's log lines, flushed to disk; a failing write (disk full) is a one-line
    :class:`CheckpointError`: the checkpoint, which says how much of the log counts, is kept."""
    try:
        for line in lines:
            log.write(json.dumps(line) + "\n")
        log.flush()
        os.fsync(log.fileno())
    except OSError as exc:
        raise CheckpointError(f"cannot write {log.name}: {exc.strerror or exc}; the previous "
                              "checkpoint is kept (free space, then `discover resume` continues "
                              "from it)") from None


def _json(x: float):
    return x if math.isfinite(x) else None


def _log_line(child, value: float, via, out, admitted: bool, cascade) -> dict:
    """One ``log.jsonl`` line; ``out``: the :class:`~search.cascade.Outcome` of a trained child
    (None for a cache hit). ``stage`` is where the child stopped (``full``: it was scored on
    the whole suite and joined the population)."""
    stage = None
    if cascade is not None:
        at = stopped_at(value)
        stage = cascade.names[at] if at is not None and at < len(cascade.names) else FULL
    line = {"eval": child.birth, "hash": child.key[:16],
            "fitness": _json(float(value)) if admitted else None,
            "cache_hit": via is not None, "hit_via": via,
            "time": round(out.seconds, 4) if out else 0.0,
            "cpu": round(out.cpu, 4) if out else 0.0, "stage": stage,
            "alpha": _json(round(out.alpha, 4)) if out else None}
    if out is not None and cascade is not None:
        line["stage_scores"] = {k: _json(round(v, 6)) for k, v in out.stage_scores.items()}
        line.update(out.summary())
    line.update({"origin": child.origin, "mutation": child.kind, "length": child.length,
                 "error": (out.error if out else "") or None,
                 "source": to_source(canonical(to_program(child)))})
    return line


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"
