"""The RL suite of ``discover eval`` (discover.rl over tasks.rl.protocol), at tiny sizes."""

import json

import torch

from discover.library import get
from discover.rl import RLSuite, evaluate_rl, format_rl_table, write_rl_outputs
from search.learned.lpg import init_params
from search.learned import MetaTrainConfig
from tasks.base import generator as seeded
from tasks.rl.agents import A2CConfig, train_a2c, train_a2c_program
from tasks.rl.gridworld import GridWorld
from tasks.rl.protocol import held_out_levels

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
    pi = train_a2c_program(get("sgd").program, levels, TINY.envs, [40.0], g)[0]
    g = seeded("t")
    ref = train_a2c(GridWorld(levels, TINY.envs, g), A2CConfig(lifetime=TINY.lifetime), g)["pi"]
    torch.testing.assert_close(pi, ref, atol=1e-5, rtol=1e-5)
    assert ref.abs().max() > 0.1  # the agents did learn something


def test_suite_rows_normalisation_and_outputs(tmp_path):
    table = evaluate_rl({"untrained": None}, {"adam": "adam", "sgd": "sgd"}, TINY,
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
