"""Meta-training runs: checkpoint and resume (search.learned.runs), the held-out score in
eval.json (the RL protocol's, as `discover eval --suite rl`) and the CLI subcommand."""

import json

import pytest
import torch

import discover
from search.config import ConfigError
from search.learned import KINDS, MetaTrainConfig, meta_train

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


def test_eval_json_is_the_figure_discover_eval_reports_for_the_run(tmp_path, monkeypatch,
                                                                    capsys):
    from discover.cli import main

    cfg = MetaTrainConfig(kind="lpg", steps=2, agents=2, envs=2, hidden=8, lifetime=6,
                          eval_levels=5, log_every=1)
    run = tmp_path / "meta-train-lpg-seed0"
    result = meta_train("lpg", cfg, run)
    assert json.loads((run / "eval.json").read_text()) == json.loads(json.dumps(result))
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "--suite", "rl", "--rules", str(run), "--levels", "5", "--lifetime", "6",
                 "--out", "rl"]) == 0
    capsys.readouterr()
    table = json.loads((tmp_path / "rl" / "rl_results.json").read_text())
    assert table["rows"][run.name] == result["per_level"]["rule"]
    assert table["rows"]["a2c"] == result["per_level"]["a2c"]
    assert table["usable"] == result["usable"] and any(result["usable"])
    usable = [x for x, keep in zip(table["normalised"][run.name], table["usable"]) if keep]
    assert torch.tensor(usable).median().item() == result["rule_median"]


def test_config_from_json_rejects_unknown_keys_in_one_line(tmp_path, monkeypatch, capsys):
    from discover.cli import main

    with pytest.raises(ConfigError, match=r"unknown config key 'lifetim' \(did you mean "
                                          r"lifetime\?\)"):
        MetaTrainConfig.from_dict({"kind": "lpg", "lifetim": 3})
    saved = _cfg("lpg", 3)
    assert MetaTrainConfig.from_dict(json.loads(json.dumps(saved.__dict__))) == saved
    run = tmp_path / "outputs" / "r"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({**saved.__dict__, "hiden": 4}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCOVER_OUTPUTS", raising=False)
    assert main(["meta-train", "lpg", "--resume", "r"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown config key 'hiden' (did you mean hidden?)" in err


def test_cli_meta_train_runs_and_rejects_bad_input(tmp_path, monkeypatch, capsys):
    from discover.cli import main

    calls = []
    monkeypatch.setattr(discover, "meta_train", lambda kind, cfg, run_dir, resume: calls.append(
        (kind, cfg.steps, str(run_dir), resume)))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCOVER_OUTPUTS", raising=False)
    assert main(["meta-train", "ta-lpg", "--steps", "3", "--name", "r"]) == 0
    assert calls == [("ta-lpg", 3, "outputs/r", False)]
    assert main(["meta-train", "lpg", "--steps", "0"]) == 2
    assert main(["meta-train", "groove", "--resume", "missing"]) == 0  # meta_train is stubbed
    assert calls[-1][3] is True
    assert "error" in capsys.readouterr().err


def test_default_run_lengths_are_cpu_sized_per_kind():
    from search.learned import DEFAULT_STEPS, MetaTrainConfig

    assert MetaTrainConfig(kind="lpg").steps == DEFAULT_STEPS["lpg"] == 1000
    assert MetaTrainConfig(kind="ta-lpg").steps == DEFAULT_STEPS["ta-lpg"] == 100
    assert MetaTrainConfig(kind="groove", steps=7).steps == 7


class _Payload:
    """Unpickling this creates ``marker``: what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_checkpoints_are_read_without_running_code(tmp_path):
    from search.checkpoint import CheckpointError
    from search.learned.runs import load_rule

    run = tmp_path / "run"
    meta_train("lpg", _cfg("lpg", 3), run)
    marker = tmp_path / "pwned"
    for name in ("checkpoint.pt", "checkpoint.prev.pt"):
        torch.save({"step": 3, "run": _Payload(marker)}, run / name)
    with pytest.raises(CheckpointError, match="no usable checkpoint"):
        meta_train("lpg", _cfg("lpg", 6), run, resume=True)
    torch.save({"w": _Payload(marker)}, run / "params.pt")
    with pytest.raises(CheckpointError, match="params.pt is unreadable"):
        load_rule(run)
    assert not marker.exists()


def test_a_damaged_checkpoint_resumes_from_the_previous(tmp_path, capsys):
    meta_train("es-lpg", _cfg("es-lpg", 6), tmp_path / "whole")
    split = tmp_path / "split"
    meta_train("es-lpg", _cfg("es-lpg", 6), split)
    assert (split / "checkpoint.prev.pt").exists()  # written at step 3, then step 6 replaced it
    latest = split / "checkpoint.pt"
    latest.write_bytes(latest.read_bytes()[:100])  # truncated: resume from step 3
    capsys.readouterr()
    meta_train("es-lpg", _cfg("es-lpg", 6), split, resume=True)
    warning = [x for x in capsys.readouterr().err.splitlines() if "warning" in x]
    assert len(warning) == 1 and "checkpoint.prev.pt" in warning[0]
    a, b = (torch.load(d / "params.pt", weights_only=True) for d in (tmp_path / "whole", split))
    for k in a:
        torch.testing.assert_close(a[k], b[k])
