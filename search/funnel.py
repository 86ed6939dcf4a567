"""Selection that generalises: funnel, held-out test, simplification, and the run's result files.

A program that wins on the proxy suite may have fitted it (meta-overfitting). Following the Lion
search (section 2.3: proxy, then 10x, then 100x tasks), the end of a run:

1. writes the hall of fame (``hall_of_fame.csv``, best first: fitness, live length, source);
2. **funnel**: re-scores the ``funnel_top_k`` best programs on the validation suite (tasks about
   ten times larger), against the same baseline; the winner is the best there
   (``funnel.json``);
3. **simplify**: dead code, then greedy removal of statements while the proxy score holds
   (:mod:`search.simplify`; ``simplify.json``);
4. **test**: scores the ``test_top_k`` finalists and the baseline on the held-out test suite
   (``test.json``), a number the search never saw;
5. writes the winner as ``best_program.py``.

Scores are per (program, task) jobs through the run's pool, so the stages use every worker.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

from primitives import Program, to_source

from .cache import canonical
from .cascade import alpha_of
from .evolution import to_program
from .fitness import SuiteFitness, baseline_for, lr_grid, per_task, score_source, task_names
from .simplify import simplify

__all__ = ["finish", "suite_scores", "write_hall_of_fame", "WINNER_NAME"]

#: the function name of found programs
WINNER_NAME = "discovered"


def suite_scores(programs: list[Program], names: tuple[str, ...], cfg, baseline: Program, pool,
                 path: Path) -> list[dict[str, float]]:
    """Per program, task name -> normalised score against ``baseline`` (metrics cached in
    ``path``); one job per (program, task) pair."""
    template = SuiteFitness(names, (), lr_grid(cfg), tuple(cfg.seeds), cfg.num_steps, cfg.device,
                            cfg.threads_per_worker)
    metrics = baseline_for(baseline, template, pool, path)
    jobs = [(f, to_source(p)) for p in programs for f in per_task(template, metrics)]
    values = [v if math.isfinite(v) else 0.0 for v, *_ in pool(score_source, jobs)]
    k = len(names)
    return [dict(zip(names, values[i * k:(i + 1) * k])) for i in range(len(programs))]


def _mean(scores: dict[str, float]) -> float:
    return sum(scores.values()) / len(scores) if scores else math.nan


def write_hall_of_fame(run_dir: Path, hall_of_fame) -> None:
    with open(run_dir / "hall_of_fame.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["rank", "fitness", "length", "eval", "hash", "origin", "alpha", "source"])
        for rank, ind in enumerate(hall_of_fame, 1):
            program = canonical(to_program(ind), f"{WINNER_NAME}_{rank}")
            alpha = alpha_of(to_source(program))
            out.writerow([rank, ind.fitness.values[0], ind.length, ind.birth, ind.key[:16],
                          ind.origin, round(alpha, 4) if math.isfinite(alpha) else "",
                          to_source(program)])


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


def finish(run_dir: Path, cfg, state, cache, fitness, baseline: Program, pool,
           progress: bool = True) -> tuple[Program, float]:
    """Steps 1-5 above; returns the winner and its proxy fitness."""
    hof = list(state.hall_of_fame)
    write_hall_of_fame(run_dir, hof)
    if not hof:  # a budget of 0: nothing was evaluated
        return canonical(baseline, WINNER_NAME), math.nan
    ranked = [(canonical(to_program(ind), WINNER_NAME), ind.fitness.values[0]) for ind in hof]
    summary = {"proxy_winner": {"fitness": ranked[0][1], "source": to_source(ranked[0][0])}}
    if cfg.funnel_top_k:
        ranked = _funnel(run_dir, cfg, ranked, baseline, pool, progress)
        summary["funnel_winner"] = {"fitness": ranked[0][1], "source": to_source(ranked[0][0])}
    winner, score = ranked[0]
    if cfg.simplify and cfg.simplify_budget:
        winner, score = _simplify(run_dir, cfg, winner, score, fitness, cache, pool, progress)
        summary["simplified"] = {"fitness": score, "source": to_source(winner)}
    if cfg.test_top_k:
        finalists = [winner] + [p for p, _ in ranked[1:cfg.test_top_k]]
        _test(run_dir, cfg, finalists, baseline, pool, progress)
    doc = (f"Found by `discover search` (run {cfg.name}); proxy fitness {score:.4f} "
           f"(1 = {baseline.name} on suite {cfg.suite!r}).")
    winner = replace(winner, doc=doc)
    (run_dir / "best_program.py").write_text(to_source(winner))
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return winner, score


def _funnel(run_dir, cfg, ranked, baseline, pool, progress):
    """The top-k re-scored on the validation suite; returns ``ranked`` with the best there
    first (ties keep the proxy order)."""
    top = ranked[:cfg.funnel_top_k]
    _say(progress, f"funnel: scoring the top {len(top)} on suite {cfg.validation_suite!r}")
    names = task_names(cfg.validation_suite, cfg.validation_tasks)
    table = suite_scores([p for p, _ in top], names, cfg, baseline, pool,
                         run_dir / "baseline_validation.json")
    rows = [{"rank": i + 1, "proxy": f, "validation": _mean(s), "tasks": s,
             "source": to_source(p)} for i, ((p, f), s) in enumerate(zip(top, table))]
    (run_dir / "funnel.json").write_text(json.dumps(rows, indent=2) + "\n")
    best = max(range(len(rows)), key=lambda i: (rows[i]["validation"], -i))
    return [top[best]] + [r for i, r in enumerate(ranked) if i != best]


def _simplify(run_dir, cfg, winner, score, fitness, cache, pool, progress):
    _say(progress, f"simplify: up to {cfg.simplify_budget} evaluations, tolerance "
                   f"{cfg.simplify_tolerance}")
    out = simplify(winner, fitness, pool, cfg.simplify_tolerance, cfg.simplify_budget, cache,
                   batch=cfg.batch_size, score=score, use_fingerprint=cfg.cache_fingerprint)
    (run_dir / "simplify.json").write_text(json.dumps({
        "original": to_source(winner), "original_score": out.original_score,
        "original_length": out.original_length, "simplified": to_source(out.program),
        "score": out.score, "length": len(out.program.body), "evaluations": out.evaluations,
        "steps": out.steps}, indent=2) + "\n")
    return out.program, out.score


def _test(run_dir, cfg, finalists, baseline, pool, progress):
    _say(progress, f"test: scoring {len(finalists)} finalist(s) and the baseline on suite "
                   f"{cfg.test_suite!r}")
    names = task_names(cfg.test_suite, cfg.test_tasks)
    table = suite_scores(finalists + [baseline], names, cfg, baseline, pool,
                         run_dir / "baseline_test.json")
    rows = [{"program": "winner" if i == 0 else f"finalist {i + 1}", "test": _mean(s),
             "tasks": s, "source": to_source(p)} for i, (p, s) in enumerate(zip(finalists, table))]
    rows.append({"program": f"baseline ({baseline.name})", "test": _mean(table[-1]),
                 "tasks": table[-1], "source": to_source(baseline)})
    (run_dir / "test.json").write_text(json.dumps(rows, indent=2) + "\n")
