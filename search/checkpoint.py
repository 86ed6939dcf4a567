"""A run's checkpoint: JSON data, written atomically, the previous one kept, read without code.

``checkpoint.json`` holds everything a stopped run needs to continue exactly: the evolution state
(programs as source, its RNG state as integers: :func:`search.evolution.state_to_json`), the
fitness cache, the fitness protocol (:class:`search.fitness.SuiteFitness`'s fields), the elapsed
time, how much of ``log.jsonl`` it covers and the global random / numpy / torch RNG states as
lists of numbers. Reading it parses JSON and program source and never runs code, so a run
directory someone shares is data (a pickle would run whatever it holds when loaded).

:func:`write_checkpoint` writes a temporary file in the run directory, flushes and fsyncs it,
moves the current checkpoint to ``checkpoint.prev.json`` and renames the new one into place
(``os.replace``). :func:`load_checkpoint` reads the latest checkpoint, or the previous one with a
one-line warning when the latest is missing, truncated or corrupt; a run without a usable one is
a :class:`CheckpointError` (a :class:`~primitives.errors.UserError`: one line, exit 2).

A test hook makes a kill land inside a write (``tests/search/test_faults.py``): with the
environment variable ``DISCOVER_KILL_IN_WRITE=STAGE:N``, the ``N``-th :func:`atomic_write` of the
process kills it (SIGKILL) at ``STAGE``: ``temp`` (the temporary file written and fsynced,
nothing renamed yet) or ``previous`` (the current file moved to the previous one, the new one
not yet in place). Unset, it costs one dictionary look-up per write.

Runs made before this format have ``checkpoint.pkl``; it is refused
(:class:`LegacyCheckpoint`) until converted with :func:`convert_checkpoint`
(``discover resume RUN --convert-checkpoint``), which unpickles it and so must only be used on
one's own files.
"""

from __future__ import annotations

import json
import os
import pickle  # only convert_checkpoint uses it, on the user's explicit request
import random
import signal
import sys
from pathlib import Path

import numpy as np
import torch

from primitives.errors import UserError

from .cache import FitnessCache, decode_float, encode_float
from .evolution import EvolutionState, state_from_json, state_to_json
from .fitness import SuiteFitness

__all__ = ["CHECKPOINT", "PREVIOUS", "LEGACY", "CheckpointError", "LegacyCheckpoint",
           "atomic_write", "write_checkpoint", "load_checkpoint", "read_checkpoint", "has_checkpoint",
           "convert_checkpoint"]

CHECKPOINT = "checkpoint.json"
PREVIOUS = "checkpoint.prev.json"
LEGACY = "checkpoint.pkl"
_FORMAT, _VERSION = "discover-search-checkpoint", 1
#: what a malformed checkpoint can raise while it is decoded (ProgramError is a ValueError)
_MALFORMED = (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, RuntimeError,
              OverflowError)


class CheckpointError(UserError):
    """A run directory whose checkpoint cannot be used or written; one line."""


class LegacyCheckpoint(CheckpointError):
    """A run with the old pickle checkpoint only: refused until converted."""


# ---- writing ----------------------------------------------------------------------------------


def write_checkpoint(run_dir: str | Path, ckpt: dict) -> None:
    """Write ``ckpt`` (the dict :func:`load_checkpoint` returns) as ``run_dir/checkpoint.json``,
    atomically, keeping the current one as ``checkpoint.prev.json``.

    A failing write (disk full, ...) is a :class:`CheckpointError`; the checkpoints already on
    disk are left as they were.
    """
    run_dir = Path(run_dir)
    text = json.dumps(_to_json(ckpt), allow_nan=False, separators=(",", ":"))
    atomic_write(run_dir / CHECKPOINT, lambda fh: fh.write(text.encode("utf-8")),
                 run_dir / PREVIOUS,
                 hint="free space, then `discover resume` continues from it")


def atomic_write(path: Path, write, previous: Path | None = None, hint: str = "") -> None:
    """``write(binary file)`` into a temporary file beside ``path``, fsync, rename onto
    ``path``; the file it replaces becomes ``previous`` when given. A failing write (disk full)
    is a one-line :class:`CheckpointError` and leaves the files already there as they were."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        _kill_point("temp")
        if previous is not None and path.exists():
            os.replace(path, previous)
            _kill_point("previous")
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise CheckpointError(f"cannot write {path}: {exc.strerror or exc}; the previous "
                              f"checkpoint is kept{' (' + hint + ')' if hint else ''}") from None


_WRITES = {"temp": 0, "previous": 0}


def _kill_point(stage: str) -> None:
    """The test hook: SIGKILL this process at the write ``DISCOVER_KILL_IN_WRITE`` names."""
    spec = os.environ.get("DISCOVER_KILL_IN_WRITE")
    if not spec or not spec.startswith(stage + ":"):
        return
    _WRITES[stage] += 1
    if _WRITES[stage] == int(spec.split(":")[1]):
        os.kill(os.getpid(), signal.SIGKILL)


def _fsync_dir(path: Path) -> None:
    """Make the renames durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _to_json(ckpt: dict) -> dict:
    fitness = ckpt.get("fitness")
    if fitness is None or isinstance(fitness, SuiteFitness):
        fit = None if fitness is None else {"suite": {
            "tasks": list(fitness.tasks), "lrs": None if fitness.lrs is None else [
                encode_float(x) for x in fitness.lrs],
            "baseline": [[encode_float(m), encode_float(i)] for m, i in fitness.baseline],
            "seeds": list(fitness.seeds), "num_steps": fitness.num_steps,
            "device": fitness.device, "threads": fitness.threads, "warm": list(fitness.warm)}}
    else:  # a function given by the caller: it is given again on resume, never stored
        fit = {"custom": getattr(fitness, "__qualname__", type(fitness).__name__)}
    return {"format": _FORMAT, "version": _VERSION, "config": ckpt["config"],
            "state": state_to_json(ckpt["state"]), "cache": ckpt["cache"].to_json(),
            "fitness": fit, "log_bytes": int(ckpt["log_bytes"]),
            "elapsed": encode_float(ckpt["elapsed"]), "done": bool(ckpt["done"]),
            "rng": None if ckpt.get("rng") is None else _rng_to_json(ckpt["rng"])}


def _rng_to_json(rng: dict) -> dict:
    version, internal, gauss = rng["random"]
    kind, key, pos, has_gauss, cached = rng["numpy"]
    return {"random": [version, list(internal), gauss],
            "numpy": [kind, [int(k) for k in key], int(pos), int(has_gauss),
                      encode_float(cached)],
            "torch": rng["torch"].tolist()}


# ---- reading ----------------------------------------------------------------------------------


def load_checkpoint(run_dir: str | Path, warn: bool = True) -> dict:
    """The checkpoint of the run in ``run_dir``: ``state`` (an :class:`EvolutionState`), ``cache``
    (a :class:`FitnessCache`), ``fitness`` (a :class:`SuiteFitness`, or None before the first
    batch or for a caller's own function, then ``custom_fitness`` is True), ``elapsed``,
    ``log_bytes``, ``done``, ``config`` and ``rng`` (the global RNG states).

    The latest checkpoint, else the previous one (a one-line warning on stderr when ``warn``);
    :class:`CheckpointError` when neither can be read, :class:`LegacyCheckpoint` when the run
    has only the old ``checkpoint.pkl``.
    """
    run_dir = Path(run_dir)
    problems = []
    for name in (CHECKPOINT, PREVIOUS):
        path = run_dir / name
        if not path.exists():
            problems.append(f"{name} is missing")
            continue
        try:
            ckpt = _from_json(_strict_json(path.read_bytes()))
        except _MALFORMED as exc:
            problems.append(f"{name} is unreadable ({_why(exc)})")
            continue
        if name != CHECKPOINT and warn:
            print(f"discover: warning: {run_dir}: {problems[0]}; using {name}, one checkpoint "
                  "older (the batches after it are run again)", file=sys.stderr, flush=True)
        return ckpt
    if (run_dir / LEGACY).exists():
        raise LegacyCheckpoint(
            f"{run_dir} has an old pickle checkpoint ({LEGACY}), which is refused because "
            "loading a pickle can run code; if the run is your own, convert it with `discover "
            f"resume {run_dir} --convert-checkpoint` (or search.checkpoint.convert_checkpoint)")
    raise CheckpointError(f"{run_dir} has no usable checkpoint: {'; '.join(problems)}")


def read_checkpoint(run_dir: str | Path) -> dict | None:
    """:func:`load_checkpoint`, or None when the run has no checkpoint yet."""
    return load_checkpoint(run_dir) if has_checkpoint(run_dir) else None


def has_checkpoint(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a checkpoint (usable or not, in any format)."""
    return any((Path(run_dir) / name).exists() for name in (CHECKPOINT, PREVIOUS, LEGACY))


def _why(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def _strict_json(raw: bytes):
    def refuse(token):
        raise ValueError(f"non-standard JSON constant {token}")

    return json.loads(raw.decode("utf-8"), parse_constant=refuse)


def _from_json(data) -> dict:
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError("not a search checkpoint")
    if data.get("version") != _VERSION:
        raise ValueError(f"checkpoint format version {data.get('version')!r}, this code reads "
                         f"{_VERSION}")
    fit = data["fitness"]
    fitness = None
    if fit is not None and "suite" in fit:
        s = fit["suite"]
        fitness = SuiteFitness(
            tasks=tuple(str(t) for t in s["tasks"]),
            baseline=tuple((decode_float(m), decode_float(i)) for m, i in s["baseline"]),
            lrs=None if s["lrs"] is None else tuple(decode_float(x) for x in s["lrs"]),
            seeds=tuple(int(x) for x in s["seeds"]),
            num_steps=None if s["num_steps"] is None else int(s["num_steps"]),
            device=str(s["device"]), threads=int(s["threads"]),
            warm=tuple(str(t) for t in s["warm"]))
    if not isinstance(data["config"], dict):
        raise ValueError("config is not a mapping")
    return {"config": data["config"], "state": state_from_json(data["state"]),
            "cache": FitnessCache.from_json(data["cache"]), "fitness": fitness,
            "custom_fitness": fit is not None and "custom" in fit,
            "log_bytes": int(data["log_bytes"]), "elapsed": decode_float(data["elapsed"]),
            "done": bool(data["done"]),
            "rng": None if data["rng"] is None else _rng_from_json(data["rng"])}


def _rng_from_json(data: dict) -> dict:
    version, internal, gauss = data["random"]
    py = (int(version), tuple(int(i) for i in internal), None if gauss is None else float(gauss))
    kind, key, pos, has_gauss, cached = data["numpy"]
    npy = (str(kind), np.array(key, dtype=np.uint32), int(pos), int(has_gauss),
           decode_float(cached))
    if len(key) != 624 or any(not 0 <= int(k) < 2**32 for k in key):
        raise ValueError("numpy RNG state: 624 unsigned 32-bit integers expected")
    torch_state = data["torch"]
    if len(torch_state) != torch.get_rng_state().numel() \
            or any(not 0 <= int(b) < 256 for b in torch_state):
        raise ValueError("torch RNG state: wrong length or not bytes")
    random.Random().setstate(py)  # raises on a malformed state, before anything uses it
    return {"random": py, "numpy": npy, "torch": torch.tensor(torch_state, dtype=torch.uint8)}


# ---- the old format ---------------------------------------------------------------------------


def convert_checkpoint(run_dir: str | Path) -> Path:
    """Convert a run's old ``checkpoint.pkl`` to ``checkpoint.json``; returns the new file.

    This UNPICKLES the old file, which runs any code it holds: use it only on runs you made
    yourself. The old file is kept, renamed ``checkpoint.pkl.converted``.
    """
    run_dir = Path(run_dir)
    legacy = run_dir / LEGACY
    if not legacy.exists():
        raise CheckpointError(f"{run_dir} has no {LEGACY} to convert")
    try:
        with open(legacy, "rb") as fh:
            ckpt = pickle.load(fh)  # noqa: S301 - explicitly requested on the user's own file
        state, cache = ckpt["state"], ckpt["cache"]
        if not isinstance(state, EvolutionState) or not isinstance(cache, FitnessCache):
            raise TypeError("not a search checkpoint")
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, AttributeError,
            ImportError) as exc:
        raise CheckpointError(f"cannot convert {legacy}: {_why(exc)}") from None
    write_checkpoint(run_dir, ckpt)
    os.replace(legacy, run_dir / (LEGACY + ".converted"))
    return run_dir / CHECKPOINT
