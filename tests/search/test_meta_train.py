"""Meta-training runs: checkpoint and resume (search.meta_train) and the CLI subcommand."""

import json

import pytest
import torch

from search.meta_train import KINDS, MetaTrainConfig, meta_train

torch.set_num_threads(1)


def _cfg(kind, steps):
    return MetaTrainConfig(kind=kind, steps=steps, agents=4, envs=4, hidden=8, lifetime=10,
                           ta_lifetimes=(3, 10), es_pairs=2, log_every=2, checkpoint_every=3,
                           eval_levels=2, eval_steps=5, buffer_size=8)


@pytest.mark.parametrize("kind", KINDS)
def test_resume_continues_exactly_where_the_run_stopped(kind, tmp_path):
    meta_train(kind, _cfg(kind, 6), tmp_path / "whole")
    meta_train(kind, _cfg(kind, 3), tmp_path / "split")       # stops after its checkpoint at 3
    meta_train(kind, _cfg(kind, 6), tmp_path / "split", resume=True)
    a = torch.load(tmp_path / "whole" / "params.pt")
    b = torch.load(tmp_path / "split" / "params.pt")
    for k in a:
        torch.testing.assert_close(a[k], b[k])
    steps = [json.loads(line)["step"] for line in (tmp_path / "split" / "log.jsonl").open()]
    assert steps == [2, 3, 4, 6]
    result = json.loads((tmp_path / "split" / "eval.json").read_text())
    assert set(result["per_level"]) >= {"rule", "untrained", "a2c", "random"}


def test_resume_without_checkpoint_is_a_one_line_error(tmp_path):
    with pytest.raises(ValueError, match="no checkpoint"):
        meta_train("lpg", _cfg("lpg", 2), tmp_path / "none", resume=True)


def test_cli_meta_train_runs_and_rejects_bad_input(tmp_path, monkeypatch, capsys):
    import search.meta_train as mt
    from discover.cli import main

    calls = []
    monkeypatch.setattr(mt, "meta_train", lambda kind, cfg, run_dir, resume: calls.append(
        (kind, cfg.steps, str(run_dir), resume)))
    monkeypatch.chdir(tmp_path)
    assert main(["meta-train", "ta-lpg", "--steps", "3", "--name", "r"]) == 0
    assert calls == [("ta-lpg", 3, "outputs/r", False)]
    assert main(["meta-train", "lpg", "--steps", "0"]) == 2
    assert main(["meta-train", "groove", "--resume", "missing"]) == 0  # meta_train is stubbed
    assert calls[-1][3] is True
    assert "error" in capsys.readouterr().err


def test_default_run_lengths_are_cpu_sized_per_kind():
    from search.meta_train import DEFAULT_STEPS, MetaTrainConfig

    assert MetaTrainConfig(kind="lpg").steps == DEFAULT_STEPS["lpg"] == 1000
    assert MetaTrainConfig(kind="ta-lpg").steps == DEFAULT_STEPS["ta-lpg"] == 100
    assert MetaTrainConfig(kind="groove", steps=7).steps == 7
