"""Rediscovery experiment: from plain SGD (no momentum) to an Adam-level score, by search alone.

The preset ``search/configs/rediscovery.json`` starts a Lion-style search from
``search/configs/sgd_plain.py`` (``update = lr * g``, with two unused zero state slots: Adam's
memory budget, no accumulator) on a light subset of the proxy suite: the four synthetic tasks and
the MLP on digits, each trained 100 steps, one training seed, the 8-point learning-rate grid.

A script on the public API (it writes the README's Rediscovery figures). For each search seed:

1. scores tuned Adam (library ``adam``, best learning rate on the same grid) with the *same*
   fitness function (mean normalised score against the preset's baseline, AdamW): the target;
2. runs the preset search in ``OUTPUTS/rediscovery-seedN`` (``OUTPUTS``: the outputs root,
   ``$DISCOVER_OUTPUTS`` or ``./outputs``; a rerun with a larger budget resumes the run from its
   checkpoint instead of starting again);
3. reads the run's ``log.jsonl`` for the first child whose fitness reaches the target, and
   counts the evaluations to reach it as the preset's budget counts them: children actually
   trained (cache misses; the start program is the first), with all scored children beside.

It prints a table (seed, evaluations to reach Adam or "not reached in N", best fitness, the
winner after simplification) and writes ``OUTPUTS/rediscovery/summary.md``. An experiment, not
a test: 2,000 evaluations per seed take tens of minutes on two CPU cores.

Usage::

    python experiments/rediscovery.py [--seeds 0 1 2] [--budget 2000] [--time 15m] [--full-budget]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import torch

import discover
from primitives import Program, parse, to_source
from search import SearchConfig, load_config

__all__ = ["PRESET", "load_preset", "resolve_program", "target_score", "first_reaching", "run",
           "build_parser", "main"]

#: the repository root: relative program paths in the preset are resolved against it
ROOT = Path(__file__).resolve().parents[1]
PRESET = ROOT / "search" / "configs" / "rediscovery.json"
#: the program whose score is the target
REFERENCE = "adam"


def load_preset(path: str | Path = PRESET, **overrides) -> SearchConfig:
    """The preset as a checked :class:`SearchConfig`, with ``overrides`` applied."""
    return load_config(path, **overrides)


def resolve_program(ref: str) -> Program:
    """A library name or a ``.py`` file; a relative path that is not found from the current
    directory is looked up from the repository root (the preset names repository paths)."""
    if ref.endswith(".py") and not Path(ref).exists() and (ROOT / ref).exists():
        ref = str(ROOT / ref)
    return discover.resolve(ref)


def target_score(config: SearchConfig, reference: str = REFERENCE,
                 cache: str | Path | None = None) -> tuple[float, dict[str, float]]:
    """``reference``'s fitness (and per-task scores) under ``config``'s fitness function.

    The same protocol as the search (tasks, steps, learning-rate grid, seeds, device, baseline),
    so the number is directly comparable with the fitnesses in a run's log. Cached in the JSON
    file ``cache``, recomputed when any of those settings differ.
    """
    baseline, program = resolve_program(config.baseline), resolve_program(reference)
    key = {**discover.fitness_protocol(config), "baseline": to_source(baseline),
           "reference": to_source(program)}
    path = Path(cache) if cache is not None else None
    if path is not None and path.exists():
        stored = json.loads(path.read_text())
        if stored.get("key") == key:
            return stored["score"], stored["tasks"]
    score, scores = discover.fitness_of(program, config, baseline=baseline)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"key": key, "score": score, "tasks": scores}, indent=2) + "\n")
    return score, scores


def first_reaching(log: Sequence[dict], target: float) -> int | None:
    """1-based index of the first scored child with fitness >= ``target`` (None: never)."""
    for i, line in enumerate(log, 1):
        value = line.get("fitness")
        if value is not None and value >= target:
            return i
    return None


def _run_seed(config: SearchConfig, seed: int, budget: int, time_limit: float | None,
              run_dir: Path, progress: bool, stop_at: float | None) -> None:
    if discover.has_checkpoint(run_dir):
        discover.resume(run_dir, progress=progress, export=False, budget=budget,
                        time_limit=time_limit, stop_at=stop_at)
        return
    cfg = config.replace(seed=seed, name=run_dir.name, budget=budget, time_limit=time_limit,
                         stop_at=stop_at)
    start = [resolve_program(s) for s in cfg.start]
    discover.run_search(cfg, start=start, baseline=resolve_program(cfg.baseline),
                        run_dir=run_dir, progress=progress, export=False)


def _program_text(path: Path) -> str:
    if not path.exists():
        return ""
    return to_source(replace(parse(path.read_text()), doc="")).strip()


def _row(seed: int, run_dir: Path, target: float) -> dict:
    log = discover.run_log(run_dir)
    figs = discover.run_figures(run_dir)
    simplified = {}
    if (run_dir / "simplify.json").exists():
        simplified = json.loads((run_dir / "simplify.json").read_text())
    values = [-math.inf if x["fitness"] is None else x["fitness"] for x in log]
    at = values.index(max(values)) if log else None  # first evaluation with the best fitness
    reached = first_reaching(log, target)
    return {"seed": seed, "run": str(run_dir), "evaluations": len(log),
            "trained": figs["trained"], "reached_at": reached,
            "trained_to_reach": (None if reached is None else
                                 sum(not x["cache_hit"] for x in log[:reached])),
            "start_fitness": log[0]["fitness"] if log else None,
            "best_fitness": figs["best_fitness"], "best_eval": None if at is None else at + 1,
            "best_source": log[at]["source"] if at is not None else "",
            "simplified_fitness": simplified.get("score"),
            "program": _program_text(run_dir / "best_program.py"),
            "cache_hit_rate": figs["cache_hit_rate"], "evals_per_min": figs.get("evals_per_min"),
            "elapsed_s": figs.get("elapsed_s"), "restarts": figs.get("restarts")}


def _reached(row: dict) -> str:
    return (f"{row['trained_to_reach']} trained ({row['reached_at']} children)"
            if row["reached_at"] is not None else
            f"not reached in {row['trained']} trained ({row['evaluations']} children)")


def _f(x, fmt=".4f") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def format_table(rows: list[dict], target: float) -> str:
    lines = [f"target: tuned Adam's fitness {target:.4f}",
             f"{'seed':>4}  {'evals to Adam':>22}  {'best':>7}  {'simplified':>10}  "
             f"{'evals/min':>9}  {'cache hits':>10}  {'trained':>7}"]
    for r in rows:
        lines.append(f"{r['seed']:>4}  {_reached(r):>22}  {_f(r['best_fitness']):>7}  "
                     f"{_f(r['simplified_fitness']):>10}  {_f(r['evals_per_min'], '.1f'):>9}  "
                     f"{r['cache_hit_rate']:>10.0%}  {r['trained']:>7}")
    for r in rows:
        lines += ["", f"seed {r['seed']}: best program after simplification "
                      f"(fitness {_f(r['simplified_fitness'])}):", r["program"]]
    return "\n".join(lines)


def write_summary(path: Path, config: SearchConfig, rows: list[dict], target: float,
                  per_task: dict[str, float], budget: int) -> Path:
    start = resolve_program(config.start[0])
    setup = discover.fitness_protocol(config)
    reached = sum(r["reached_at"] is not None for r in rows)
    total_min = sum((r["elapsed_s"] or 0.0) for r in rows) / 60.0
    total_evals = sum(r["evaluations"] for r in rows)
    out = [
        "# Rediscovery: plain SGD to an Adam-level score", "",
        f"Preset `{PRESET.relative_to(ROOT)}`: start `{config.start[0]}`, baseline "
        f"`{config.baseline}`, tasks {', '.join(setup['tasks'])}, "
        f"{config.num_steps or 'own'} steps each, training seeds {config.seeds}, learning rate "
        f"tuned on {len(setup['lrs'] or ())} grid points; population {config.population_size}"
        f", tournament {config.tournament_size}, "
        + (f"restart after {config.restart_after} from {config.restart_from}"
           if config.restart_after else "no restarts")
        + f"; op set {config.ops if isinstance(config.ops, str) else ', '.join(config.ops)}, "
        f"in-place insertions {config.inplace_prob:g}, children proportional to lr: "
        f"{config.lr_proportional}. Budget asked: {budget} "
        + ("scored children (cache hits included)" if config.count_cache_hits else
           "trained evaluations (cache misses) per seed; a cache hit (an equivalent program "
           "already scored) costs no training and is not counted")
        + (", stopping at the target." if config.stop_at is not None else "."),
        "", "Start program:", "", "```python", start.source.strip(), "```", "",
        f"**Target**: tuned `{REFERENCE}` scores **{target:.4f}** under the same fitness "
        f"(per task: {', '.join(f'{k} {v:.3f}' for k, v in per_task.items())}).", "",
        f"**Result**: Adam's score reached in {reached} of {len(rows)} seeds; "
        f"{total_evals} evaluations in {total_min:.1f} min of search "
        f"({total_evals / total_min if total_min else float('nan'):.1f} evaluations/min overall)."
        , "",
        "| seed | evaluations to reach Adam | start (SGD) | best fitness | simplified | "
        "evals/min | cache hits | trained | restarts |",
        "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['seed']} | {_reached(r)} | {_f(r['start_fitness'])} | "
                   f"{_f(r['best_fitness'])} (eval {r['best_eval']}) | "
                   f"{_f(r['simplified_fitness'])} | {_f(r['evals_per_min'], '.1f')} | "
                   f"{r['cache_hit_rate']:.0%} | {r['trained']} | {r['restarts']} |")
    for r in rows:
        out += ["", f"## Seed {r['seed']} (`{r['run']}`)", "",
                "Best program after simplification:", "", "```python", r["program"], "```", "",
                "As found (dead code removed):", "", "```python", r["best_source"].strip(), "```"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")
    return path


def run(seeds: Sequence[int] = (0, 1, 2), budget: int = 2000, time_limit: float | None = None,
        config: str | Path = PRESET, root: str | Path | None = None, progress: bool = True,
        stop_at_target: bool = True, **overrides) -> list[dict]:
    """Run (or continue) the rediscovery search for each seed in turn and report.

    Args:
        seeds: search seeds; seed N runs in ``root/rediscovery-seedN``.
        budget: evaluations per seed (a finished run with a smaller budget is extended).
        time_limit: seconds of search per seed in total over reruns (None: budget only).
        config: the preset file.
        root: where the runs and ``rediscovery/summary.md`` go (default: the outputs root).
        stop_at_target: end a seed's search once it reaches the target (what is measured is
            the evaluations to reach it); False runs the whole budget.
        overrides: other config settings, e.g. ``workers=1`` or ``device="cuda"``.

    Returns one dict per seed (the table's rows).
    """
    torch.set_num_threads(1)
    cfg = load_preset(config, **overrides)
    root = Path(root) if root is not None else discover.outputs_dir()
    target, per_task = target_score(cfg, cache=root / "rediscovery" / "target.json")
    if progress:
        print(f"rediscovery: tuned {REFERENCE} scores {target:.4f} on "
              f"{len(per_task)} task(s) (the target)", file=sys.stderr, flush=True)
    rows = []
    for seed in seeds:
        run_dir = root / f"rediscovery-seed{seed}"
        _run_seed(cfg, seed, budget, time_limit, run_dir, progress,
                  target if stop_at_target else None)
        rows.append(_row(seed, run_dir, target))
    print(format_table(rows, target))
    path = write_summary(root / "rediscovery" / "summary.md",
                         cfg.replace(stop_at=target if stop_at_target else None), rows, target,
                         per_task, budget)
    print(f"\nwrote {path}")
    return rows


def build_parser() -> argparse.ArgumentParser:
    """The script's flags (those of the former ``discover bench rediscovery``)."""
    parser = argparse.ArgumentParser(prog="python experiments/rediscovery.py",
                                     description="Search from plain SGD until tuned Adam's score "
                                     "(OUTPUTS/rediscovery-seedN, resumable; summary in "
                                     "OUTPUTS/rediscovery/summary.md)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="search seeds (default 0 1 2)")
    parser.add_argument("--budget", type=int, default=2000, metavar="N",
                        help="evaluations per seed (default 2000; a rerun extends)")
    parser.add_argument("--full-budget", action="store_true",
                        help="search the whole budget instead of stopping at Adam's score")
    parser.add_argument("--time", metavar="T", help="search time per seed, in total over "
                        "reruns: 300, 90s, 5m, 1h (default: budget only)")
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    return parser


def main(argv=None) -> int:
    """``python experiments/rediscovery.py``: bad flags or settings are one line, exit 2."""
    args = build_parser().parse_args(argv)
    try:
        if args.budget < 1:
            raise discover.UserError("--budget must be >= 1")
        if args.device == "cuda" and not torch.cuda.is_available():
            raise discover.UserError("--device cuda: no CUDA device is available (use cpu or auto)")
        run(seeds=tuple(args.seeds), budget=args.budget, device=args.device,
            time_limit=discover.parse_duration(args.time) if args.time else None,
            stop_at_target=not args.full_budget)
    except discover.UserError as exc:
        print(f"rediscovery: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
