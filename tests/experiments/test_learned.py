"""The learned-rules experiment (experiments/learned.py, a script loaded by path), at tiny
sizes."""

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from discover.rl import RLSuite
from search.learned.lpg import init_params
from search.learned import MetaTrainConfig
from tasks.base import generator as seeded

torch.set_num_threads(1)

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "learned.py"
_spec = importlib.util.spec_from_file_location("experiments_learned", SCRIPT)
learned = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(learned)
compare = learned.compare

TINY = RLSuite(levels=6, lifetime=8, envs=4, eval_envs=8, a2c_seeds=1, lrs=(0.1, 40.0))


def _fake_run(root, kind, seed):
    cfg = MetaTrainConfig(kind=kind, seed=seed, hidden=8)
    d = root / f"meta-train-{kind}-seed{seed}"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(cfg.__dict__))
    torch.save(init_params(cfg.lpg(), seeded("fake", kind, seed)), d / "params.pt")
    return d


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


def test_script_entry_point_is_a_one_line_error_without_runs(tmp_path, capsys):
    assert learned.main(["--root", str(tmp_path), "--seeds", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no finished LPG run" in err
