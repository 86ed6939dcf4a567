"""Checkpoints are data: JSON written atomically, the previous one kept, corrupt ones survived,
pickles refused (and converted only on request), nothing in a run directory ever executed."""

import errno
import json
import pickle
from pathlib import Path

import pytest

from discover.cli import main
from search import SearchConfig, resume, run_search
from search.checkpoint import (CHECKPOINT, LEGACY, PREVIOUS, CheckpointError, LegacyCheckpoint,
                               load_checkpoint, write_checkpoint)


def _trace(run_dir):
    lines = [json.loads(x) for x in (Path(run_dir) / "log.jsonl").read_text().splitlines()]
    return [(x["eval"], x["hash"], x["fitness"], x["cache_hit"]) for x in lines]


class _Payload:
    """Unpickling this creates ``marker``: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def straight(adamw, tiny, tmp_path):
    """The uninterrupted 24-evaluation run every resumed one must reproduce."""
    run = tmp_path / "straight"
    run_search(SearchConfig(**tiny), [adamw], adamw, run, progress=False)
    return _trace(run)


@pytest.fixture
def half(adamw, tiny, tmp_path):
    """A run stopped after 12 of its 24 evaluations (three checkpoints on disk so far)."""
    run = tmp_path / "half"
    run_search(SearchConfig(**{**tiny, "budget": 12}), [adamw], adamw, run, progress=False)
    return run


def test_checkpoint_is_json_and_the_previous_one_is_kept(half):
    latest = json.loads((half / CHECKPOINT).read_text())
    previous = json.loads((half / PREVIOUS).read_text())
    assert latest["format"] == previous["format"] == "discover-search-checkpoint"
    assert latest["state"]["told"] == 12 and latest["done"] and previous["state"]["told"] <= 12
    assert not list(half.glob("*.tmp")) and not (half / LEGACY).exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing", "pickle"])
def test_a_damaged_latest_checkpoint_resumes_from_the_previous(half, straight, tiny, capsys,
                                                               damage):
    path = half / CHECKPOINT
    marker = half / "pwned"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(bytes(range(256)) * 10)
    elif damage == "missing":  # killed between the two renames of a checkpoint write
        path.unlink()
    else:
        path.write_bytes(pickle.dumps(_Payload(marker)))
    capsys.readouterr()
    resume(half, progress=False, budget=tiny["budget"])
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and "warning" in warning[0] and PREVIOUS in warning[0]
    assert _trace(half) == straight  # nothing lost: the batches after it ran again, the same
    assert not marker.exists()


def test_both_checkpoints_corrupt_is_a_one_line_error(half, capsys, monkeypatch):
    for name in (CHECKPOINT, PREVIOUS):
        (half / name).write_text('{"format": "discover-search-checkpoint", "version": 1')
    log = (half / "log.jsonl").read_bytes()
    with pytest.raises(CheckpointError, match="no usable checkpoint"):
        resume(half, progress=False)
    monkeypatch.setenv("DISCOVER_OUTPUTS", str(half.parent))
    capsys.readouterr()
    assert main(["resume", "half"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("discover: error:") and CHECKPOINT in err
    assert (half / "log.jsonl").read_bytes() == log  # nothing was written


def test_a_missing_config_is_a_one_line_error(half, capsys):
    (half / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        resume(half, progress=False)
    assert main(["resume", str(half)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_failing_write_keeps_the_previous_checkpoint(half, monkeypatch):
    import search.checkpoint as checkpoint

    before = {n: (half / n).read_bytes() for n in (CHECKPOINT, PREVIOUS)}
    ckpt = load_checkpoint(half)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "fsync", full)
    with pytest.raises(CheckpointError, match="No space left on device.*previous checkpoint"):
        write_checkpoint(half, ckpt)
    assert {n: (half / n).read_bytes() for n in (CHECKPOINT, PREVIOUS)} == before
    assert not list(half.glob("*.tmp"))


def test_a_run_whose_disk_fills_stops_with_a_clear_error(half, straight, tiny, monkeypatch):
    import search.checkpoint as checkpoint

    real = checkpoint.os.replace
    calls = []

    def fails_once(src, dst):  # the third checkpoint write of the resumed run fails
        calls.append(dst)
        if len(calls) == 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", fails_once)
    with pytest.raises(CheckpointError, match="No space left"):
        resume(half, progress=False, budget=tiny["budget"])
    monkeypatch.undo()
    resume(half, progress=False)  # after freeing space: continues from what was kept
    assert _trace(half) == straight


def test_an_old_pickle_checkpoint_is_refused_and_never_loaded(half, capsys):
    for name in (CHECKPOINT, PREVIOUS):
        (half / name).unlink()
    marker = half / "pwned"
    (half / LEGACY).write_bytes(pickle.dumps({"state": _Payload(marker)}))
    with pytest.raises(LegacyCheckpoint, match="--convert-checkpoint"):
        resume(half, progress=False)
    assert main(["resume", str(half)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--convert-checkpoint" in err and "pickle" in err
    assert main(["report", str(half)]) == 2  # report reads the checkpoint too: refused
    assert not marker.exists()


def test_convert_checkpoint_continues_an_old_run_exactly(half, straight, tiny, capsys):
    old = load_checkpoint(half)  # what checkpoint.pkl held: the same objects, pickled
    del old["custom_fitness"]
    for name in (CHECKPOINT, PREVIOUS):
        (half / name).unlink()
    (half / LEGACY).write_bytes(pickle.dumps(old))
    assert main(["resume", str(half), "--budget", str(tiny["budget"]),
                 "--convert-checkpoint"]) == 0
    capsys.readouterr()
    assert (half / CHECKPOINT).exists() and not (half / LEGACY).exists()
    assert (half / (LEGACY + ".converted")).exists()
    assert _trace(half) == straight


def test_a_run_scored_by_a_custom_function_needs_it_again(adamw, tiny, tmp_path):
    run = tmp_path / "custom"
    run_search(SearchConfig(**{**tiny, "budget": 8}), [adamw], adamw, run, progress=False,
               fitness=len)
    assert json.loads((run / CHECKPOINT).read_text())["fitness"] == {"custom": "len"}
    with pytest.raises(CheckpointError, match="fitness="):
        resume(run, progress=False, budget=12)
    assert resume(run, progress=False, budget=12, fitness=len).evaluations == 12
