"""``discover bench fidelity``: does the search's fitness rank programs as held-out tasks do?

A fitness is only as good as its ranking: selection keeps what the proxy suite ranks high, so
the proxy must rank update rules the way larger, unseen tasks do. For a set of programs (library
programs with an ``lr``, and optionally children of a search run), every program is scored on
each *candidate* suite (what a search could train on: ``proxy``, ``proxy_v1``, ``light``, or
``micro``, the cascade's micro tier, scored against Adam) and on each *held-out* suite (``validation``, ``test``) under the search's own
protocol (:func:`tasks.protocol.evaluate` over the learning-rate grid, AdamW as the baseline of
:func:`tasks.protocol.normalised_score`), and the benchmark prints the Spearman rank correlation
of each candidate's fitness (mean, median and 25th percentile over its tasks) against each
held-out suite's mean score.

Evaluations are the expensive part (the held-out suites take minutes per program), so every
``(program, task)`` metric is kept in ``metrics.json`` in the output folder, keyed by the
program's source, the task and the protocol: a second run, or one with more programs, trains only
what is new, and an interrupted run loses at most the jobs in flight. The metrics file is data
(JSON, never code).

Usage::

    discover bench fidelity [--programs 40] [--names adam,lion,...] [--children RUN_DIR]
        [--max-children 200] [--candidates proxy,proxy_v1] [--held-out validation,test]
        [--seeds 0] [--workers 2] [--out DIR]
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from joblib import Parallel, delayed

from primitives import Program, parse, to_source
from primitives.errors import InvalidValue
from search.checkpoint import atomic_write
from search.fitness import AGGREGATES, aggregate_scores as aggregate
from search.report import pyplot
from tasks.protocol import DEFAULT_LRS, evaluate, normalised_score
from tasks.suites import get_suite

from ..library import REGISTRY

__all__ = ["spearman", "library_programs", "run_children", "Fidelity", "run"]

#: the baseline every score is normalised against (as the search's)
BASELINE = "adamw"


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get their average rank); NaN for fewer than 3 pairs
    or a constant side.

    >>> spearman([1, 2, 3, 4], [10, 20, 30, 40]), spearman([1, 2, 3], [3, 2, 1])
    (1.0, -1.0)
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} and {len(y)} values")
    if len(x) < 3:
        return math.nan
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for value in np.unique(x):  # ties: the mean of their ranks
        tied = x == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def library_programs(count: int | None = None, names: Sequence[str] | None = None) -> list[Program]:
    """``names`` from the library, or ``count`` library programs with an ``lr`` (all when None),
    spread evenly over the alphabetical list so every family is represented; AdamW first."""
    if names:
        missing = [n for n in names if n not in REGISTRY]
        if missing:
            raise InvalidValue(f"unknown library program {missing[0]!r} (see `discover list`)")
        return [REGISTRY[n].program for n in names]
    pool = sorted(n for n, e in REGISTRY.items() if "lr" in e.program.hyperparameters
                  and n != BASELINE)
    if count is not None and count - 1 < len(pool):
        step = len(pool) / max(1, count - 1)
        pool = [pool[int(i * step)] for i in range(count - 1)]
    return [REGISTRY[BASELINE].program] + [REGISTRY[n].program for n in pool]


def run_children(run_dir: str | Path, limit: int) -> list[Program]:
    """Up to ``limit`` distinct trained children of a search run (its ``log.jsonl``), spread
    evenly over the run; read as data (program source is parsed, never run)."""
    path = Path(run_dir) / "log.jsonl"
    if not path.is_file():
        raise InvalidValue(f"{run_dir} is not a search run: it has no log.jsonl")
    seen, programs = set(), []
    for n, line in enumerate(path.read_text().splitlines()):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise InvalidValue(f"{path}:{n + 1}: not a JSON line") from None
        source = row.get("source") if isinstance(row, dict) else None
        if not isinstance(source, str) or row.get("cache_hit") or source in seen:
            continue
        seen.add(source)
        try:
            program = parse(source)
        except ValueError:
            continue
        if "lr" in program.hyperparameters:
            programs.append(program)
    if len(programs) > limit:
        step = len(programs) / limit
        programs = [programs[int(i * step)] for i in range(limit)]
    return [Program(f"child{i}", p.params, p.body, p.returns) for i, p in enumerate(programs)]


def _key(source: str, task: str, seeds, lrs) -> str:
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    return f"{digest}|{task}|{','.join(map(str, seeds))}|{len(lrs)}"


def _metric_job(source: str, task_name: str, seeds, lrs, threads: int):
    import torch  # noqa: PLC0415 - in the worker

    from search.fitness import task_by_name  # noqa: PLC0415

    torch.set_num_threads(threads)
    try:
        r = evaluate(parse(source), task_by_name(task_name), lrs=lrs, seeds=seeds)
        return r.metric, r.initial_metric
    except Exception:  # noqa: BLE001 - a program that cannot train scores 0, as in the search
        return math.inf, math.nan


class Fidelity:
    """Per (program, task) metrics, computed through joblib and kept in ``metrics.json``."""

    def __init__(self, out_dir: Path, seeds=(0,), lrs=DEFAULT_LRS, workers: int = 2,
                 threads: int = 1, progress: bool = True):
        self.path = Path(out_dir) / "metrics.json"
        self.seeds, self.lrs = tuple(seeds), tuple(lrs)
        self.workers, self.threads, self.progress = workers, threads, progress
        self.metrics: dict[str, list] = {}
        if self.path.is_file():
            try:
                self.metrics = dict(json.loads(self.path.read_text())["metrics"])
            except (ValueError, KeyError, TypeError):
                raise InvalidValue(f"{self.path} is not a fidelity metrics file; move it away "
                                   "or choose another --out") from None

    def _save(self) -> None:
        text = json.dumps({"metrics": self.metrics}, indent=0).encode()
        atomic_write(self.path, lambda fh: fh.write(text))

    def compute(self, programs: Sequence[Program], task_names: Sequence[str],
                by_program: bool = False) -> None:
        """Train every missing (program, task) pair, saving as they come: task by task, or
        (``by_program``) program by program, so that a run stopped early leaves whole rows."""
        pairs = ([(p, t) for p in programs for t in task_names] if by_program else
                 [(p, t) for t in task_names for p in programs])
        todo = [(to_source(p), t) for p, t in pairs
                if _key(to_source(p), t, self.seeds, self.lrs) not in self.metrics]
        todo = list(dict.fromkeys(todo))
        if not todo:
            return
        start = time.monotonic()
        jobs = (delayed(_metric_job)(s, t, self.seeds, self.lrs, self.threads) for s, t in todo)
        parallel = Parallel(n_jobs=self.workers, return_as="generator")
        for n, ((source, task), (metric, initial)) in enumerate(zip(todo, parallel(jobs))):
            self.metrics[_key(source, task, self.seeds, self.lrs)] = [_json(metric),
                                                                       _json(initial)]
            if n % 10 == 9 or n == len(todo) - 1:
                self._save()
            if self.progress:
                print(f"\rfidelity: {n + 1}/{len(todo)} evaluations ({task}) "
                      f"{time.monotonic() - start:.0f} s", end="", file=sys.stderr, flush=True)
        if self.progress:
            print(file=sys.stderr)

    def scores(self, program: Program, task_names: Sequence[str]) -> dict[str, float]:
        """Task -> normalised score against AdamW (both must have been computed)."""
        base = to_source(REGISTRY[BASELINE].program)
        out = {}
        for task in task_names:
            metric, initial = self._get(to_source(program), task)
            base_metric, base_initial = self._get(base, task)
            out[task] = normalised_score(metric, base_metric,
                                         initial if math.isfinite(initial) else base_initial)
        return out

    def has(self, program: Program, task_names: Sequence[str]) -> bool:
        """Whether every ``(program, task)`` metric is cached."""
        return all(_key(to_source(program), t, self.seeds, self.lrs) in self.metrics
                   for t in task_names)

    def _get(self, source: str, task: str) -> tuple[float, float]:
        m, i = self.metrics[_key(source, task, self.seeds, self.lrs)]
        return (math.inf if m is None else m), (math.nan if i is None else i)


def _json(x: float):
    return x if math.isfinite(x) else None


def _suite_names(suite: str) -> list[str]:
    return [t.name for t in get_suite(suite)]


def run(out_dir: Path, *, programs: Sequence[Program], candidates=("proxy", "proxy_v1"),
        held_out=("validation", "test"), seeds=(0,), workers: int = 2, threads: int = 1,
        progress: bool = True, cached_only: bool = False) -> dict:
    """Compute what is missing, print the table and the correlations, write the outputs;
    ``cached_only``: compute nothing, report the programs whose metrics are all cached."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    micro = "micro" in candidates
    candidates = tuple(c for c in candidates if c != "micro")
    suites = {s: _suite_names(s) for s in (*candidates, *held_out)}
    fid = Fidelity(out_dir, seeds, workers=workers, threads=threads, progress=progress)
    every = list(dict.fromkeys(t for names in suites.values() for t in names))
    baseline = REGISTRY[BASELINE].program
    if cached_only:
        programs = [p for p in programs if fid.has(p, every)]
        if not fid.has(baseline, every) or len(programs) < 3:
            raise InvalidValue(f"{fid.path}: fewer than 3 programs (and {BASELINE}) have every "
                               "metric cached; run without --cached-only first")
    cheap = list(dict.fromkeys(t for s in candidates for t in suites[s]))
    fid.compute([baseline, *programs], cheap)  # the candidates first: they take seconds
    fid.compute([baseline, *programs], [t for t in every if t not in cheap], by_program=True)
    rows = {}
    for p in programs:
        rows[p.name] = {s: fid.scores(p, names) for s, names in suites.items()}
    if micro:  # the cascade's first stage: scores against Adam on the micro tasks (cheap)
        from search.cascade import _micro_job  # noqa: PLC0415

        micro_scores, *_ = _micro_job([to_source(p) for p in programs], fid.lrs, (0,), None,
                                      threads)
        for p, (score, _) in zip(programs, micro_scores):
            rows[p.name]["micro"] = {"micro": score if math.isfinite(score) else 0.0}
        candidates = ("micro", *candidates)
    table = {"programs": len(rows), "seeds": list(seeds), "correlations": {}, "rows": {}}
    for name, per_suite in rows.items():
        table["rows"][name] = {s: round(aggregate(list(sc.values()), "mean"), 4)
                               for s, sc in per_suite.items()}
    for c in candidates:
        for how in AGGREGATES:
            fitness = [aggregate(list(rows[n][c].values()), how) for n in rows]
            for h in held_out:
                truth = [aggregate(list(rows[n][h].values()), "mean") for n in rows]
                table["correlations"][f"{c}:{how}->{h}"] = round(spearman(fitness, truth), 3)
    text = format_table(table, candidates, held_out)
    print(text)
    (out_dir / "fidelity.json").write_text(json.dumps(table, indent=1) + "\n")
    (out_dir / "fidelity.txt").write_text(text + "\n")
    _plot(table, candidates, held_out, out_dir / "fidelity.png")
    return table


def format_table(table: dict, candidates, held_out) -> str:
    cols = [*candidates, *held_out]
    lines = [f"{table['programs']} programs, seeds {table['seeds']}; scores: mean normalised "
             "score vs AdamW per suite", f"{'program':28s}" + "".join(f"{c:>12s}" for c in cols)]
    for name, row in sorted(table["rows"].items(), key=lambda kv: -kv[1][held_out[-1]]):
        lines.append(f"{name:28s}" + "".join(f"{row[c]:12.3f}" for c in cols))
    lines.append("")
    lines.append("Spearman rank correlation of the candidate fitness against each held-out suite")
    lines.append(f"{'candidate:aggregate':28s}" + "".join(f"{h:>12s}" for h in held_out))
    for c in candidates:
        for how in AGGREGATES:
            vals = [table["correlations"][f"{c}:{how}->{h}"] for h in held_out]
            lines.append(f"{c + ':' + how:28s}" + "".join(f"{v:12.3f}" for v in vals))
    return "\n".join(lines)


def _plot(table, candidates, held_out, path: Path) -> None:
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, len(candidates), figsize=(4.2 * len(candidates), 4.0),
                             squeeze=False)
    target = held_out[-1]
    for ax, c in zip(axes[0], candidates):
        xs = [r[c] for r in table["rows"].values()]
        ys = [r[target] for r in table["rows"].values()]
        ax.scatter(xs, ys, s=12)
        rho = table["correlations"][f"{c}:mean->{target}"]
        ax.set_title(f"{c} vs {target}: Spearman {rho:.2f}", fontsize=9)
        ax.set_xlabel(f"{c} fitness (mean)")
        ax.set_ylabel(f"{target} score (mean)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
