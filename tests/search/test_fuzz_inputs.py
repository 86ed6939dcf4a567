"""Fuzzing the files a user hands the command line: search configs, meta-train configs and run
directories (issue 15, point 6).

Each fuzzed file goes through ``discover.cli.main`` as a user would run it. A file that cannot
be used must end in exit code 2 with one line on stderr (``discover: error: ...``), quickly and
with nothing written; a traceback (any exception out of ``main``) fails the test. Nothing here
trains: a config that is valid stops where the search would start (``_Reached``), and a damaged
run directory that is still usable resumes from its previous checkpoint, with a warning.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest

import discover.runs
from discover.cli import main
from search import SearchConfig, run_search
from search.checkpoint import CHECKPOINT, PREVIOUS
from search.config import ConfigError, load_config
from search.learned.config import MetaTrainConfig

from .conftest import ADAMW, TINY

CONFIG_CASES, RUN_CASES = 400, 40


class _Reached(Exception):
    """Raised where a search would start training: the config was accepted."""


def _one_line_error(err: str) -> bool:
    return err.count("\n") == 1 and err.startswith("discover: error:") and "Traceback" not in err


# ---- search configs ------------------------------------------------------------------------------

_BASE = {**TINY, "budget": 4}
_WRONG = ["x", "", None, True, [], {}, [1, [2]], {"a": {"b": []}}, -1, 0, 1.5, -1e308, 1e308,
          10**30, 10**400, "NaN", "1e999", [None], ["adamw", 3], "hero", "\udc80"]


def _config_text(rng: random.Random) -> bytes:
    """One fuzzed config file, as bytes: structure-level (a key's value replaced, unknown keys,
    nesting, non-finite and huge numbers, wrong top level) or byte-level (cut, garbage, not
    UTF-8, empty)."""
    data = dict(_BASE)
    kind = rng.randrange(12)
    if kind <= 3:  # a setting of the wrong type or out of range (1-3 at once)
        for key in rng.sample(sorted(SearchConfig.__dataclass_fields__), rng.randint(1, 3)):
            data[key] = rng.choice(_WRONG)
    elif kind == 4:  # unknown keys
        data[rng.choice(["popsize", "Budget", "", "λ", "budget ", "__class__"])] = 1
    elif kind == 5:  # nesting: shallow garbage or deep enough to break a recursive reader
        depth = rng.choice([3, 50, 5000, 100_000])
        text = json.dumps(data)[:-1] + ', "seeds": ' + "[" * depth + "0" + "]" * depth + "}"
        return text.encode("utf-8", "surrogatepass")
    text = json.dumps(data, ensure_ascii=rng.random() < 0.5)
    if kind == 6:  # non-standard JSON numbers
        key = rng.choice(["simplify_tolerance", "budget", "stop_at", "time_limit", "lrs"])
        value = rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "1" * 5000, "-0",
                            "[NaN]", "[1e-400]"])
        return (text[:-1] + f', "{key}": {value}' + "}").encode("utf-8", "surrogatepass")
    raw = text.encode("utf-8", "surrogatepass")
    if kind == 7:  # cut (missing braces), or the braces removed
        return raw[:rng.randrange(len(raw))] if rng.random() < 0.7 else raw[1:-1]
    if kind == 8:  # bytes replaced: garbage, not UTF-8
        raw = bytearray(raw)
        for _ in range(rng.randint(1, 5)):
            raw[rng.randrange(len(raw))] = rng.choice([0x00, 0x80, 0xFF, 0xC3, ord("{"), ord('"')])
        return bytes(raw)
    if kind == 9:  # another top level
        return rng.choice([b"", b" ", b"[]", b"null", b"3", b'"config"', b"true", b"{}{}",
                           b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00"])
    if kind == 10:  # binary garbage
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
    # a JSON document nested in a value, or a value as a string
    key = rng.choice(sorted(_BASE))
    data[key] = rng.choice([json.dumps(data[key]), {"value": data[key]}, [data[key]]])
    return json.dumps(data).encode("utf-8", "surrogatepass")


@pytest.fixture
def no_training(monkeypatch, tmp_path):
    """Outputs under tmp_path; a search that would start raises _Reached instead."""
    outputs = tmp_path / "outputs"
    monkeypatch.setenv("DISCOVER_OUTPUTS", str(outputs))
    monkeypatch.chdir(tmp_path)

    def reached(*args, **kwargs):
        raise _Reached

    monkeypatch.setattr(discover.runs, "_run_search", reached)
    return outputs


def test_fuzzed_search_configs(no_training, tmp_path, capsys):
    """Every fuzzed config either stops where the search would start or is exit 2, one line,
    within a second, with no output directory."""
    rng, buckets, slowest = random.Random(0), Counter(), 0.0
    path = tmp_path / "c.json"
    path.write_text(json.dumps(_BASE))
    with pytest.raises(_Reached):  # the unfuzzed config is accepted
        main(["search", "--config", str(path), "--name", "r"])
    for i in range(CONFIG_CASES):
        raw = _config_text(rng)
        path.write_bytes(raw)
        capsys.readouterr()
        started = time.perf_counter()
        try:
            code = main(["search", "--config", str(path), "--name", "r"])
        except _Reached:
            buckets["accepted"] += 1
            continue
        finally:
            slowest = max(slowest, time.perf_counter() - started)
        err = capsys.readouterr().err
        assert code == 2 and _one_line_error(err), (i, raw[:300], err)
        assert not no_training.exists(), (i, raw[:300])
        buckets["refused"] += 1
        # the same file loaded directly: a ConfigError or a config, nothing else
        try:
            load_config(path)
        except ConfigError:
            pass
    assert buckets["refused"] >= CONFIG_CASES * 3 // 4, buckets
    assert slowest < 1.0, slowest
    print(f"{CONFIG_CASES} fuzzed search configs: {dict(buckets)}; slowest {slowest:.2f}s")


def test_fuzzed_meta_train_configs(no_training, tmp_path, capsys):
    """``discover meta-train KIND --resume RUN`` reads RUN/config.json first: a fuzzed one is a
    one-line error (the run has no checkpoint, so a valid config ends there too)."""
    rng, buckets = random.Random(1), Counter()
    run = tmp_path / "meta"
    run.mkdir()
    fields = sorted(MetaTrainConfig.__dataclass_fields__)
    base = json.loads(json.dumps(MetaTrainConfig().__dict__))
    for i in range(CONFIG_CASES // 2):
        data = dict(base)
        kind = rng.randrange(4)
        if kind <= 1:
            for key in rng.sample(fields, rng.randint(1, 3)):
                data[key] = rng.choice(_WRONG)
            raw = json.dumps(data).encode("utf-8", "surrogatepass")
        elif kind == 2:
            data[rng.choice(["stepz", "", "Kind"])] = 1
            raw = json.dumps(data).encode("utf-8", "surrogatepass")
        else:  # any bytes: not UTF-8, not JSON, absurdly nested
            raw = _config_text(rng)
        (run / "config.json").write_bytes(raw)
        capsys.readouterr()
        code = main(["meta-train", "lpg", "--resume", str(run)])
        err = capsys.readouterr().err
        assert code == 2 and _one_line_error(err), (i, raw[:300], err)
        buckets["no checkpoint" if "no checkpoint" in err else "bad config"] += 1
        try:
            MetaTrainConfig.load(run / "config.json")
        except ConfigError:  # the only error loading may raise
            pass
    assert set(p.name for p in run.iterdir()) == {"config.json"} and not no_training.exists()
    assert buckets["bad config"] >= CONFIG_CASES // 4, buckets
    print(f"{CONFIG_CASES // 2} fuzzed meta-train configs: {dict(buckets)}")


@pytest.mark.parametrize("raw", [b'{"device": "NaN"}', b'{"kind": "lpg"}\xff',
                                 b"[" * 100_000 + b"]" * 100_000])
def test_meta_train_config_values_and_encoding(no_training, tmp_path, capsys, raw):
    run = tmp_path / "meta"
    run.mkdir()
    (run / "config.json").write_bytes(raw)
    assert main(["meta-train", "lpg", "--resume", str(run)]) == 2
    assert _one_line_error(capsys.readouterr().err)


# ---- run directories ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished 8-evaluation search run (two checkpoints on disk), made once."""
    from primitives import parse

    run = tmp_path_factory.mktemp("fuzz") / "run"
    adamw = parse(ADAMW)
    run_search(SearchConfig(**{**TINY, "budget": 8}), [adamw], adamw, run, progress=False)
    assert (run / CHECKPOINT).exists() and (run / PREVIOUS).exists()
    return run


_FILES = [CHECKPOINT, PREVIOUS, "config.json", "inputs.json", "log.jsonl"]


def _damage(rng: random.Random, run: Path) -> str:
    """Damage one or two files of ``run``; returns what was done."""
    done = []
    for _ in range(rng.choice((1, 1, 2))):
        name = rng.choice(_FILES)
        path = run / name
        raw = path.read_bytes() if path.exists() else b""
        kind = rng.randrange(8)
        if kind == 0:
            path.write_bytes(raw[:rng.randrange(len(raw) + 1)])
        elif kind == 1:
            path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randint(0, 500))))
        elif kind == 2:
            path.unlink(missing_ok=True)
        elif kind == 3:
            other = run / rng.choice(_FILES)
            if other.exists():
                path.write_bytes(other.read_bytes())
        elif kind == 4:  # a JSON value of the wrong type somewhere
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            if isinstance(data, dict) and data:
                key = rng.choice(sorted(data))
                sub = data[key]
                if isinstance(sub, dict) and sub and rng.random() < 0.6:
                    sub[rng.choice(sorted(sub))] = rng.choice(_WRONG[:12] + [10**400])
                else:
                    data[key] = rng.choice(_WRONG[:12] + [10**400])
            else:
                data = rng.choice(_WRONG[:8])
            path.write_text(json.dumps(data))
        elif kind == 5:  # huge or non-standard numbers
            text = raw.decode("utf-8", "replace")
            digits = [i for i, c in enumerate(text) if c.isdigit()]
            if digits:
                i = rng.choice(digits)
                text = text[:i] + rng.choice(["9" * 400, "1e999", "NaN", "-1", "Infinity"]) + text[i + 1:]
            path.write_text(text)
        elif kind == 6:  # a directory where a file should be
            path.unlink(missing_ok=True)
            path.mkdir()
        else:  # not UTF-8
            path.write_bytes(raw[:len(raw) // 2] + b"\xff\xfe\x80" + raw[len(raw) // 2:])
        done.append(f"{name}:{kind}")
    return ", ".join(done)


@pytest.mark.parametrize("command", ["resume", "report"])
def test_fuzzed_run_directories(tiny_run, tmp_path, capsys, command):
    """A damaged run directory either works (resuming from the previous checkpoint with one
    warning) or is exit 2 with one line; never a traceback."""
    rng, buckets = random.Random(2 if command == "resume" else 3), Counter()
    for i in range(RUN_CASES):
        run = tmp_path / f"run{i}"
        shutil.copytree(tiny_run, run)
        what = _damage(rng, run)
        capsys.readouterr()
        code = main([command, str(run)] + (["--budget", "8"] if command == "resume" else []))
        err = capsys.readouterr().err
        if code == 0:  # (stderr also has the search's progress lines)
            # one warning (repeated by each reader of the checkpoint: resume, report, figures)
            warnings = {x for x in err.splitlines() if "warning" in x}
            assert len(warnings) <= 1 and "Traceback" not in err, (what, err)
            buckets["worked" + (" with a warning" if warnings else "")] += 1
        else:
            # one error line (after at most one warning: the latest checkpoint was unusable)
            lines = err.splitlines()
            assert code == 2 and _one_line_error(lines[-1] + "\n"), (what, err)
            assert not any("error" in x for x in lines[:-1]), (what, err)
            assert len({x for x in lines if "warning" in x}) <= 1, (what, err)
            buckets["refused"] += 1
        shutil.rmtree(run)
    assert buckets["refused"] >= 3 and sum(buckets.values()) == RUN_CASES, buckets
    print(f"{RUN_CASES} fuzzed run directories ({command}): {dict(buckets)}")
