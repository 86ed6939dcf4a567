"""``discover eval``: score programs on a suite, beside AdamW, as a leaderboard with plots.

Every program runs the protocol of :func:`tasks.protocol.evaluate` (a learning-rate grid and seeds
as one batched computation) on each task of the suite. The score of a program on a task is
:func:`tasks.protocol.normalised_score` against AdamW under the same protocol (1 = AdamW, 0 = no
progress or divergence), and the leaderboard's last column is the mean over tasks. The scores
and the AlgoPerf performance profile are computed in :mod:`discover.leaderboard`.

>>> from tasks.synthetic import quadratic
>>> tasks = [quadratic("proxy").with_steps(30)]
>>> board = evaluate_suite(["adam", "sgd"], tasks=tasks, seeds=(0,), progress=False)
>>> board.programs, board.score("adamw", "quadratic_proxy")
(['adamw', 'adam', 'sgd'], 1.0)
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

from tasks.protocol import evaluate
from tasks.suites import get_suite

from .errors import UsageError
from .leaderboard import (BASELINE, Leaderboard, format_leaderboard, performance_profile,
                          smooth, time_to_result)
from .plots import plot_curves, plot_profile
from .programs import resolve

__all__ = ["Leaderboard", "evaluate_suite", "write_leaderboard", "run_eval", "write_outputs",
           "format_leaderboard", "performance_profile", "time_to_result", "smooth", "BASELINE"]


def evaluate_suite(programs, suite: str = "proxy", *, device: str = "cpu", seeds=(0, 1),
                   progress: bool = True, tasks=None) -> Leaderboard:
    """Score ``programs`` on ``suite`` beside AdamW: the leaderboard of ``discover eval``.

    ``programs``: library names, ``.py`` files, program sources or Programs (anything
    :func:`discover.programs.resolve` takes); two with the same name are a :class:`UsageError`.
    ``tasks`` replaces the suite's task list (e.g. shorter tasks for a quick look).
    """
    if tasks is None:
        get_suite(suite)  # one-line error for an unknown suite before any work
    if not seeds:
        raise UsageError("--seeds needs at least one seed")
    resolved = {}
    for ref in programs:
        program = resolve(ref)
        if program.name in resolved:
            raise UsageError(f"two programs are named {program.name!r}; rename one")
        resolved[program.name] = program
    return run_eval(resolved, suite, device=str(device), seeds=tuple(seeds), progress=progress,
                    tasks=tasks)


def run_eval(programs: dict, suite: str, device: str = "cpu", seeds=(0, 1),
             progress: bool = True, tasks=None) -> Leaderboard:
    """Evaluate ``programs`` (name -> Program; AdamW is added when absent) on ``suite``.

    ``tasks`` replaces the suite's task list (e.g. shorter tasks for a quick look).
    """
    if BASELINE not in programs:
        from .library import get  # noqa: PLC0415

        programs = {BASELINE: get(BASELINE).program, **programs}
    tasks = list(get_suite(suite) if tasks is None else tasks)
    results = {}
    total, done, start = len(programs) * len(tasks), 0, time.perf_counter()
    for name, program in programs.items():
        for task in tasks:
            if progress:  # one updating line on a terminal, a line per evaluation in a log
                tty = sys.stderr.isatty()
                cr = "\r" if tty else ""
                print(f"{cr}[{done + 1}/{total}] {name} on {task.name} "
                      f"({time.perf_counter() - start:.0f}s)".ljust(72), end="" if tty else "\n",
                      file=sys.stderr)
            results[(name, task.name)] = evaluate(program, task, seeds=seeds, device=device)
            done += 1
    if progress:
        cr = "\r" if sys.stderr.isatty() else ""
        print(f"{cr}{total} evaluations in "
              f"{time.perf_counter() - start:.1f}s".ljust(72), file=sys.stderr)
    return Leaderboard(suite, [t.name for t in tasks], list(programs), results)


def write_outputs(board: Leaderboard, out_dir: Path) -> list[Path]:
    """``leaderboard.csv``, ``results.json`` and the plots (when matplotlib is installed) in
    ``out_dir``; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    path = out_dir / "leaderboard.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["program", *board.tasks, "mean_score", "profile_score"])
        _, _, profile = performance_profile(board)
        for p in board.ranked():
            w.writerow([p, *(f"{board.score(p, t):.6f}" for t in board.tasks),
                        f"{board.mean_score(p):.6f}", f"{profile[p]:.6f}"])
    written.append(path)
    path = out_dir / "results.json"
    path.write_text(json.dumps([r.to_dict() for r in board.results.values()], indent=1))
    written.append(path)
    written += [plot_curves(board, out_dir / "learning_curves.png"),
                plot_profile(board, out_dir / "performance_profile.png")]
    return [p for p in written if p is not None]


#: the public name of :func:`write_outputs`
write_leaderboard = write_outputs
