"""``discover bench calibrate`` on a tiny setting: one task, one seed, a two-point grid (the full
benchmark is not a test)."""

import json

import pytest

from discover.benchmarks import calibrate
from discover.cli import main
from tasks.pressure_quadratics import block_quadratic


def _cell(*scores):
    cell = calibrate.Cell()
    cell.scores.extend(scores)
    return cell


def test_verdict_thresholds():
    def row(hb, adaptive):
        cells = {r.label: _cell(1.0) for r in calibrate.RULES}
        cells["heavy_ball"] = _cell(*hb)
        cells["adam_no_bc"] = _cell(*adaptive)
        return cells

    assert calibrate.verdict(row((0.5, 0.6), (0.8, 0.9))) == "pressure"
    assert calibrate.verdict(row((0.5, 0.61), (0.8, 0.9))) == "neither"  # every seed counts
    assert calibrate.verdict(row((0.5, 0.6), (0.79, 0.9))) == "neither"
    assert calibrate.verdict(row((1.0, 1.3), (0.5, 0.5))) == "control"


def test_tiny_calibration_writes_table_json_and_flags_edges(tmp_path, capsys):
    task = block_quadratic("proxy").with_steps(5)
    table = calibrate.run([task], tmp_path, seeds=(0,), lrs=(1e-2, 1e-1), betas=(0.0, 0.9),
                          timing=False)
    row = table[task.name]
    assert set(row) == {r.label for r in calibrate.RULES}
    assert row["adam"].scores == [1.0]  # the baseline scores 1 against itself
    assert all(c.edge for c in row.values())  # a two-point grid has no interior
    assert row["heavy_ball"].settings[0]["momentum"] in (0.0, 0.9)
    assert row["heavy_ball"].mean >= row["sgd"].mean  # tuned over beta, 0 included
    data = json.loads((tmp_path / "results.json").read_text())
    entry = data["tasks"][task.name]
    assert entry["verdict"] == calibrate.verdict(row)
    assert entry["rules"]["sgd"]["scores"] == row["sgd"].scores
    assert task.name in (tmp_path / "table.txt").read_text()
    assert task.name in capsys.readouterr().out


def test_cli_calibrate(tmp_path, capsys):
    name = block_quadratic("proxy").name
    assert main(["bench", "calibrate", "--tasks", name, "--seeds", "0", "--steps", "2",
                 "--no-timing", "--out", str(tmp_path)]) == 0
    assert name in capsys.readouterr().out and (tmp_path / "results.json").exists()


@pytest.mark.parametrize("argv, message", [
    (["--tasks", "nope"], "unknown task 'nope'"),
    (["--suite", "nope"], "unknown suite 'nope'"),
    (["--steps", "0"], "--steps"),
])
def test_cli_calibrate_errors_are_one_line(argv, message, capsys):
    assert main(["bench", "calibrate", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
