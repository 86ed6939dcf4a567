"""Search runs: outputs, determinism across worker counts, resume after a stop or a kill -9."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from discover.cli import main
from search import SearchConfig, report, resume, run_search
from search.run import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def _log(run_dir):
    return [json.loads(line) for line in (Path(run_dir) / "log.jsonl").read_text().splitlines()]


def _trace(run_dir):
    """What must repeat exactly: per evaluation, the program hash, fitness and cache hit."""
    return [(x["eval"], x["hash"], x["fitness"], x["cache_hit"]) for x in _log(run_dir)]


def test_a_run_writes_its_outputs(adamw, tiny, tmp_path):
    finished = []
    cfg = SearchConfig(**{**tiny, "simplify": True, "simplify_budget": 4})
    result = run_search(cfg, [adamw], adamw, tmp_path / "run", progress=False,
                        on_finish=lambda p, d: finished.append((p.name, d)))
    run = tmp_path / "run"
    for name in ("config.json", "inputs.json", "baseline.json", "log.jsonl", "checkpoint.json",
                 "checkpoint.prev.json", "hall_of_fame.csv", "best_program.py", "simplify.json",
                 "report.md",
                 "fitness.png", "length.png"):
        assert (run / name).exists(), name
    log = _log(run)
    assert len(log) == cfg.budget == result.evaluations
    assert log[0]["origin"] == "start" and log[0]["fitness"] == 1.0  # AdamW against itself
    assert log[0]["cache_hit"]  # the baseline's own score is known without training it
    assert {"eval", "hash", "fitness", "cache_hit", "time", "source"} <= set(log[0])
    assert finished == [("discovered", run)]
    assert json.loads((run / "config.json").read_text())["name"] == "run"
    assert "evaluations: 24" in (run / "report.md").read_text()


def test_same_seed_same_log_regardless_of_workers(adamw, tiny, tmp_path):
    one = run_search(SearchConfig(**tiny), [adamw], adamw, tmp_path / "one", progress=False)
    two = run_search(SearchConfig(**{**tiny, "workers": 2}), [adamw], adamw, tmp_path / "two",
                     progress=False)
    assert _trace(one.run_dir) == _trace(two.run_dir)
    assert len({x[2] for x in _trace(one.run_dir)}) > 3  # a real run, not constant fitness


def test_resume_continues_exactly(adamw, tiny, tmp_path):
    straight = run_search(SearchConfig(**tiny), [adamw], adamw, tmp_path / "a", progress=False)
    run_search(SearchConfig(**{**tiny, "budget": 12}), [adamw], adamw, tmp_path / "b",
               progress=False)
    assert len(_log(tmp_path / "b")) == 12
    resumed = resume(tmp_path / "b", progress=False, budget=tiny["budget"])
    assert resumed.evaluations == tiny["budget"]
    assert _trace(tmp_path / "b") == _trace(straight.run_dir)


def test_existing_run_is_not_overwritten(adamw, tiny, tmp_path):
    run_search(SearchConfig(**{**tiny, "budget": 4}), [adamw], adamw, tmp_path / "r",
               progress=False)
    with pytest.raises(FileExistsError, match="resume"):
        run_search(SearchConfig(**tiny), [adamw], adamw, tmp_path / "r", progress=False)


def test_time_budget_stops_the_run(adamw, tiny, tmp_path):
    cfg = SearchConfig(**{**tiny, "budget": None, "time_limit": 1.0})
    result = run_search(cfg, [adamw], adamw, tmp_path / "t", progress=False)
    assert 0 < result.evaluations and load_checkpoint(tmp_path / "t")["elapsed"] >= 1.0


_CHILD = """
import sys
from primitives import parse
from search import SearchConfig, run_search
sys.path.insert(0, {tests!r})
from conftest import ADAMW, TINY
cfg = SearchConfig(**{{**TINY, "budget": {budget}, "batch_size": 2, "num_steps": 60}})
adamw = parse(ADAMW)
run_search(cfg, [adamw], adamw, {run!r}, progress=False)
"""


def test_kill_9_then_resume_finishes_the_budget(adamw, tiny, tmp_path):
    budget = 40
    code = _CHILD.format(tests=str(Path(__file__).parent), budget=budget,
                         run=str(tmp_path / "killed"))
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, start_new_session=True)
    log = tmp_path / "killed" / "log.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= 6:
            break
        if proc.poll() is not None:
            pytest.fail("the search finished or crashed before it could be killed")
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    told = load_checkpoint(tmp_path / "killed")["state"].told
    assert 0 < told < budget  # killed mid-run
    resumed = resume(tmp_path / "killed", progress=False)
    assert resumed.evaluations == budget
    assert [x["eval"] for x in _log(tmp_path / "killed")] == list(range(budget))
    cfg = SearchConfig(**{**tiny, "budget": budget, "batch_size": 2, "num_steps": 60})
    straight = run_search(cfg, [adamw], adamw, tmp_path / "straight", progress=False)
    assert _trace(tmp_path / "killed") == _trace(straight.run_dir)


def test_dask_local_cluster_gives_the_same_run(adamw, tiny, tmp_path):
    distributed = pytest.importorskip("distributed")
    local = run_search(SearchConfig(**tiny), [adamw], adamw, tmp_path / "local", progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        cfg = SearchConfig(**{**tiny, "backend": "dask", "address": cluster.scheduler_address})
        remote = run_search(cfg, [adamw], adamw, tmp_path / "dask", progress=False)
    assert _trace(remote.run_dir) == _trace(local.run_dir)


def test_ray_backend_without_ray_is_a_clear_error(adamw, tiny, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails, installed or not
    from search import ConfigError

    with pytest.raises(ConfigError, match="backend 'ray' needs ray"):
        run_search(SearchConfig(**{**tiny, "backend": "ray"}), [adamw], adamw, tmp_path / "r",
                   progress=False)


def test_cli_search_resume_report(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.json").write_text(json.dumps({**tiny, "budget": 8}))
    code = main(["search", "--config", "tiny.json", "--name", "cli", "--seed", "3"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "evals" in out.err and "best fitness" in out.out  # progress on stderr, summary out
    run = tmp_path / "outputs" / "cli"
    assert json.loads((run / "config.json").read_text())["seed"] == 3
    assert (run / "best_program.py").exists()
    assert main(["resume", "cli", "--budget", "12"]) == 0
    assert len(_log(run)) == 12
    assert main(["report", "cli"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["search", "--config", "tiny.json", "--name", "cli"]) == 2  # exists already


def test_report_on_a_run_in_progress(adamw, tiny, tmp_path):
    run_search(SearchConfig(**{**tiny, "budget": 8}), [adamw], adamw, tmp_path / "p",
               progress=False)
    (tmp_path / "p" / "hall_of_fame.csv").unlink()
    path = report(tmp_path / "p")
    assert "Hall of fame" not in path.read_text() and (tmp_path / "p" / "fitness.png").exists()


def test_budget_of_trained_children_skips_cache_hits(adamw, tiny, tmp_path):
    cfg = SearchConfig(**{**tiny, "budget": 10, "count_cache_hits": False})
    result = run_search(cfg, [adamw], adamw, tmp_path / "c", progress=False)
    log = _log(tmp_path / "c")
    trained = sum(not x["cache_hit"] for x in log)
    # batches of 4 may overshoot the last one by at most a batch
    assert 10 <= trained < 10 + tiny["batch_size"] and len(log) == result.evaluations
    assert len(log) > trained  # cache hits were scored too, without counting


def test_stop_at_ends_the_run_once_the_best_reaches_it(adamw, tiny, tmp_path):
    # AdamW scores 1.0 against itself: the first batch already reaches 0.5
    cfg = SearchConfig(**{**tiny, "stop_at": 0.5})
    result = run_search(cfg, [adamw], adamw, tmp_path / "s", progress=False)
    assert result.evaluations == tiny["batch_size"] < tiny["budget"]


def test_inputs_record_the_code_version(adamw, tiny, tmp_path):
    run_search(SearchConfig(**{**tiny, "budget": 4}), [adamw], adamw, tmp_path / "v",
               progress=False)
    code = json.loads((tmp_path / "v" / "inputs.json").read_text())["code"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip()
    assert code["commit"] == (head or None)
