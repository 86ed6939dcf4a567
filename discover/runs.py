"""Search runs as ``discover`` offers them: start, resume and report, with the winner exported.

The search itself (:mod:`search.run`) knows nothing of the library or the exporter, since
``search`` must not import ``discover``. This module adds the two things only ``discover`` knows:
programs are resolved by :func:`discover.programs.resolve` (a library name or a ``.py`` file), and
the winner is written as a ``torch.optim.Optimizer`` module, ``best_optimizer.py``, beside
``best_program.py``. Runs live under :func:`discover.paths.outputs_dir` unless given a directory.

>>> parse_duration("90s"), parse_duration("5m"), parse_duration("1.5h")
(90.0, 300.0, 5400.0)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from primitives import Program
from search.config import ConfigError, SearchConfig, load_config
from search.fitness import lr_grid, make_fitness, task_names
from search.report import read_log
from search.report import report as _report
from search.report import run_figures as _run_figures
from search.checkpoint import CHECKPOINT, convert_checkpoint
from search.checkpoint import has_checkpoint as _has_checkpoint
from search.run import RunResult, default_run_dir
from search.run import resume as _resume
from search.run import run_search as _run_search

from .export import write_export
from .inputs import checked_program
from .paths import find_run
from .programs import resolve

__all__ = ["EXPORT_NAME", "parse_duration", "run_search", "resume", "report", "run_figures",
           "run_log", "has_checkpoint", "fitness_protocol", "fitness_of"]

#: the winner's torch.optim export, written into the run directory
EXPORT_NAME = "best_optimizer.py"
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds from ``"90"``, ``"90s"``, ``"5m"`` or ``"1.5h"``; :class:`ConfigError` otherwise."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h)?\s*", str(text))
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"--time {text!r}: give a positive duration such as 300, 90s, 5m or 1h")
    return float(match.group(1)) * _UNITS[match.group(2) or ""]


def _export_winner(program: Program, run_dir: Path) -> None:
    try:
        write_export(program, run_dir / EXPORT_NAME)
    except (ValueError, OSError, ImportError) as exc:  # the run's results stand without it
        print(f"search: the winner could not be exported: {exc}", file=sys.stderr)
    _check_novelty(program, run_dir)


def _check_novelty(program: Program, run_dir: Path) -> None:
    """``novelty.json``: the winner against every library rule by behaviour (issue 13's
    novelty check; ``report.md`` says whether it is a library rule with other constants)."""
    from .novelty import novelty  # noqa: PLC0415 - a few seconds, only at the end of a run

    try:
        result = novelty(program)
    except Exception as exc:  # noqa: BLE001 - an analysis; the run's results stand without it
        print(f"search: the novelty check failed: {exc}", file=sys.stderr)
        return
    (run_dir / "novelty.json").write_text(json.dumps({
        "verdict": result.verdict, "summary": result.summary(), "threshold": result.threshold,
        "closest": [{"name": m.name, "distance": m.distance, "retuned": m.tuned,
                     "constants": m.constants, "scale": m.scale} for m in result.closest[:3]]},
        indent=2) + "\n")


def run_search(config: SearchConfig | str | Path | None = None, *, start=None, baseline=None,
               run_dir: str | Path | None = None, progress: bool = True, export: bool = True,
               **overrides) -> RunResult:
    """Start a new search run and finish it (``discover search``).

    Args:
        config: a :class:`SearchConfig`, a JSON file of its settings, or None for the defaults.
        start, baseline: programs (anything :func:`resolve` takes) instead of the config's
            ``start`` and ``baseline`` names.
        run_dir: where the run goes (default ``outputs_dir() / config.name``); a directory that
            already holds a run is a :class:`ConfigError` (continue it with :func:`resume`).
        export: write the winner as ``best_optimizer.py`` too.
        overrides: config settings that replace the config's, e.g. ``budget=100``.
    """
    if isinstance(config, SearchConfig):
        config = config.replace(**overrides) if overrides else config
    elif config is not None:
        config = load_config(config, **overrides)
    else:
        config = SearchConfig.from_dict(overrides)
    # every input is checked before anything is written: programs that cannot run, task names
    start = [checked_program(s) for s in (config.start if start is None else start)]
    baseline = checked_program(config.baseline if baseline is None else baseline)
    task_names(config.suite, config.tasks)
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(config)
    if has_checkpoint(run_dir):
        raise ConfigError(f"{run_dir} already holds a run: continue it with `discover resume "
                          f"{run_dir.name}` or pick another --name")
    return _run_search(config, start, baseline, run_dir, progress=progress,
                       on_finish=_export_winner if export else None)


def resume(run: str | Path, *, progress: bool = True, export: bool = True,
           convert: bool = False, **changes) -> RunResult:
    """Continue a stopped run (a directory or a name under the outputs root) and finish it.

    ``changes`` alter its settings first, e.g. ``budget=200`` to extend a finished run or
    ``budget=None, time_limit=600``. ``convert``: first convert the run's old pickle checkpoint
    (``checkpoint.pkl``) to JSON; this unpickles it, so only for runs you made yourself.
    """
    run_dir = find_run(run)
    if convert:
        convert_checkpoint(run_dir)
    if not has_checkpoint(run_dir):
        raise ConfigError(f"{run_dir} has no {CHECKPOINT} (it stopped before its first batch): "
                          "start it again with `discover search`")
    return _resume(run_dir, progress=progress, on_finish=_export_winner if export else None,
                   **changes)


def has_checkpoint(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a run's checkpoint (the latest, the previous one or the old
    pickle format, which :func:`resume` refuses until converted)."""
    return _has_checkpoint(run_dir)


def report(run: str | Path) -> Path:
    """Write the plots and ``report.md`` of a run; returns the report's path."""
    run_dir = find_run(run)
    _check_run_config(run_dir)
    return _report(run_dir)


def _check_run_config(run_dir: Path) -> None:
    """A run's ``config.json`` is a readable JSON object and its log a file, else a one-line :class:`ConfigError`
    (the report reads it as it is; a damaged run directory must not end in a traceback)."""
    path = Path(run_dir) / "config.json"
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{run_dir} is not a search run: cannot read config.json "
                          f"({exc.strerror or exc})") from None
    except (ValueError, RecursionError):  # not UTF-8, not JSON, absurdly nested
        data = None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a JSON object of settings (damaged run directory)")
    log = Path(run_dir) / "log.jsonl"
    if log.exists() and not log.is_file():
        raise ConfigError(f"{log} is not a file (damaged run directory)")


def run_figures(run: str | Path) -> dict:
    """A run's headline numbers: evaluations, trainings, cache hit rate, best fitness, rates."""
    return _run_figures(find_run(run))


def run_log(run: str | Path) -> list[dict]:
    """A run's log, one dict per scored child (``eval``, ``fitness``, ``cache_hit``, ``source``,
    ...), in order."""
    return read_log(find_run(run))


def fitness_protocol(config: SearchConfig) -> dict:
    """What decides a fitness under ``config``: ``tasks`` (names), ``lrs`` (the learning-rate
    grid, None for each program's own ``lr``), ``seeds``, ``num_steps`` and ``device``."""
    lrs = lr_grid(config)
    return {"tasks": list(task_names(config.suite, config.tasks)), "lrs": lrs and list(lrs),
            "seeds": list(config.seeds), "num_steps": config.num_steps, "device": config.device}


def fitness_of(program, config: SearchConfig, baseline=None) -> tuple[float, dict[str, float]]:
    """``program``'s fitness under ``config``'s fitness function, and its score per task.

    The mean normalised score against ``baseline`` (default: the config's) on the config's
    tasks, learning-rate grid, seeds, steps and device: the number a run of ``config`` would log
    for ``program``, so a target for a search can be set from a known optimizer.
    """
    setup = fitness_protocol(config)
    baseline = resolve(config.baseline if baseline is None else baseline)
    fitness = make_fitness(baseline, setup["tasks"], lr_grid(config), tuple(config.seeds),
                           config.num_steps, config.device, config.threads_per_worker)
    scores = fitness.scores(checked_program(program))
    return sum(scores.values()) / len(scores), scores
