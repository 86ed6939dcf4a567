"""Where the commands read and write: the outputs root and run directories.

:func:`outputs_dir` is :func:`search.paths.outputs_dir` (``$DISCOVER_OUTPUTS`` or ``./outputs``),
re-exported so that ``discover`` code and users name one function; :func:`find_run` turns what a
user typed (a directory or a run name) into a run directory, or a one-line error.
"""

from __future__ import annotations

from pathlib import Path

from search.paths import outputs_dir

from .errors import MissingRun

__all__ = ["outputs_dir", "find_run"]


def find_run(run: str | Path, marker: str = "config.json", kind: str = "search run") -> Path:
    """The run directory ``run`` (a path), else ``outputs_dir() / run`` (a run name).

    A directory counts as a run when it holds ``marker``; when neither does,
    :class:`MissingRun` names both places (``kind`` says what was looked for).
    """
    path = Path(run)
    if (path / marker).exists():
        return path
    named = outputs_dir() / run
    if (named / marker).exists():
        return named
    raise MissingRun(f"no {kind} at {str(run)!r} (nor {str(named)!r}); give a run directory or "
                     f"a name under {outputs_dir()}/")
