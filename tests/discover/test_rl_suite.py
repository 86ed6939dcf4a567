"""The RL suite of ``discover eval`` and the learned-rules benchmark, at tiny sizes."""

import json

import pytest
import torch

from discover.benchmarks.learned import compare
from discover.library import get
from discover.rl_suite import (RLSuite, format_rl_table, held_out_levels, run_rl_suite,
                               train_a2c_program, write_rl_outputs)
from search.lpg import init_params
from search.meta_train import MetaTrainConfig
from tasks.agents import A2CConfig, train_a2c
from tasks.base import generator as seeded
from tasks.gridworld import GridWorld

torch.set_num_threads(1)

TINY = RLSuite(levels=6, lifetime=8, envs=4, eval_envs=8, a2c_seeds=1, lrs=(0.1, 40.0))


def _fake_run(root, kind, seed):
    cfg = MetaTrainConfig(kind=kind, seed=seed, hidden=8)
    d = root / f"meta-train-{kind}-seed{seed}"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(cfg.__dict__))
    torch.save(init_params(cfg.lpg(), seeded("fake", kind, seed)), d / "params.pt")
    return d


def test_sgd_program_at_lr_40_is_the_builtin_a2c():
    levels = held_out_levels(TINY)
    g = seeded("t")
    pi = train_a2c_program(get("sgd").program, levels, TINY, [40.0], g)[0]
    g = seeded("t")
    ref = train_a2c(GridWorld(levels, TINY.envs, g), A2CConfig(lifetime=TINY.lifetime), g)["pi"]
    torch.testing.assert_close(pi, ref, atol=1e-5, rtol=1e-5)
    assert ref.abs().max() > 0.1  # the agents did learn something


def test_suite_rows_normalisation_and_outputs(tmp_path):
    table = run_rl_suite({"untrained": None}, {"adam": "adam", "sgd": "sgd"}, TINY,
                         progress=False)
    assert set(table.rows) == {"a2c", "random", "untrained", "adam", "sgd"}
    assert all(len(v) == TINY.levels for v in table.rows.values())
    usable = table.usable()
    assert usable.any()
    torch.testing.assert_close(table.normalised("a2c")[usable], torch.ones(int(usable.sum())))
    torch.testing.assert_close(table.normalised("random"), torch.zeros(TINY.levels))
    assert table.best_lr["adam"] in TINY.lrs and table.best_lr["sgd"] in TINY.lrs
    # the optimum bounds every row's return (up to sampling noise of the episodes)
    assert (torch.tensor(table.rows["a2c"]) <= torch.tensor(table.optimal) + 0.3).all()
    assert table.summary("a2c")["median"] == 1.0
    text = format_rl_table(table)
    assert "untrained" in text and "adam" in text
    files = write_rl_outputs(table, tmp_path)
    assert (tmp_path / "rl_table.md").exists()
    saved = json.loads((tmp_path / "rl_results.json").read_text())
    assert set(saved["normalised"]) == set(table.rows)
    assert len(files) >= 2


def test_cli_eval_rl_suite(tmp_path, monkeypatch, capsys):
    from discover.cli import main

    run = _fake_run(tmp_path, "lpg", 0)
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "sgd", "--suite", "rl", "--levels", "3", "--lifetime", "2", "--rules",
                 str(run), "--out", "rl"]) == 0
    out = capsys.readouterr().out
    assert "meta-train-lpg-seed0" in out and "untrained-lpg" in out and "sgd" in out
    assert (tmp_path / "rl" / "rl_table.md").exists()
    assert main(["eval", "--suite", "rl", "--rules", "nowhere"]) == 2
    assert main(["eval", "--suite", "proxy"]) == 2  # no program


def test_learned_benchmark_writes_the_three_comparisons(tmp_path):
    for kind in ("lpg", "ta-lpg", "groove", "es-lpg"):
        _fake_run(tmp_path, kind, 0)
    text = compare(seeds=(0,), root=tmp_path, suite=TINY, unseen=(3,), programs=("sgd",))
    for title in ("(a) LPG trained vs untrained", "(b) TA-LPG vs LPG at unseen lifetime 3",
                  "(c) GROOVE vs LPG on the hardest"):
        assert title in text
    assert "(d) Beside A2C trained by optimizer programs" in text and "sgd" in text
    assert (tmp_path / "bench-learned" / "summary.md").exists()
    results = json.loads((tmp_path / "bench-learned" / "results.json").read_text())
    assert set(results) == {"8", "3"}
    assert "ta-lpg-0" in results["3"]["rows"] and "groove-0" not in results["3"]["rows"]
    assert "es-lpg-0" in results["3"]["rows"] and "LPG by ES (control)" in text
    assert "optimum-normalised" in text and "sgd-A2C-normalised" in text
    # --reuse rewrites the same summary from results.json without training anything
    assert compare(seeds=(0,), root=tmp_path, reuse=True) == text


def test_learned_benchmark_needs_lpg_runs(tmp_path):
    with pytest.raises(FileNotFoundError, match="no finished LPG run"):
        compare(seeds=(0,), root=tmp_path, suite=TINY)
