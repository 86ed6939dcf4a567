"""``discover bench optimizers`` on two programs and tiny parameters (the full benchmark, ~10M
parameters for every program, is not a test: it prints figures)."""

import csv
import math

import pytest

from discover.benchmarks import optimizers
from discover.cli import main
from discover.library import get

TINY = ((8, 6), (8,))


def test_cases_pick_the_package_reference():
    names = {e.name: r.label for e, r in optimizers.cases()}
    assert names["adam"] == "torch.optim.Adam" and names["lion"] == "pytorch_optimizer.Lion"
    assert "innaprop" not in names  # its only reference is the project's own class
    assert "shipped" in names["normuon"]  # the class as shipped, not its float64 twin
    assert optimizers.package_reference(get("muon")).label == "torch.optim.Muon"


def test_two_programs_give_a_row_each_with_positive_ratios(tmp_path, capsys):
    rows = optimizers.run(tmp_path, only=["sgd", "lion"], shapes=TINY, steps=3, warmup=1,
                          threads=1, progress=False)
    assert [(r.program, r.reference) for r in rows] == [
        ("sgd", "torch.optim.SGD"), ("lion", "pytorch_optimizer.Lion")]
    for r in rows:
        assert r.note == "" and r.path == "for-loop" and r.steps == 3  # for-loop: torch's CPU
        assert 0 < r.exported_ms < math.inf and 0 < r.reference_ms < math.inf
        assert 0 < r.ratio < math.inf
    printed = capsys.readouterr().out
    assert "torch.optim references: " in printed and "of 1 exported classes" in printed
    with open(tmp_path / "optimizers.csv") as f:
        table = list(csv.DictReader(f))
    assert [x["program"] for x in table] == ["sgd", "lion"]
    assert all(float(x["ratio"]) > 0 for x in table)
    assert "| sgd | torch.optim.SGD |" in (tmp_path / "optimizers.md").read_text()


def test_programs_reading_loss_or_a_hessian_get_them():
    for name in ("alig", "adahessian"):  # step(closure) and step(hessian=...) on both sides
        row = optimizers.time_case(get(name), optimizers.package_reference(get(name)),
                                   shapes=TINY, steps=1, warmup=1)
        assert row.note == "" and math.isfinite(row.ratio), row


def test_a_case_stops_at_its_time_limit_after_three_steps():
    entry = get("sgd")
    row = optimizers.time_case(entry, optimizers.package_reference(entry), shapes=TINY,
                               steps=50, warmup=1, max_seconds=0.0)
    assert row.steps == 3 and math.isfinite(row.ratio)


def test_cli_bench_optimizers(tmp_path, capsys):
    assert main(["bench", "optimizers", "--only", "adam", "--steps", "1",
                 "--out", str(tmp_path)]) == 0
    assert "adam" in capsys.readouterr().out and (tmp_path / "optimizers.md").exists()


@pytest.mark.parametrize("argv, message", [
    (["--only", "innaprop"], "no package reference"),
    (["--only", "nope"], "unknown optimizer"),
    (["--steps", "0"], "--steps"),
    (["--max-seconds", "0"], "--max-seconds"),
])
def test_cli_bad_input_is_one_line(argv, message, capsys):
    assert main(["bench", "optimizers", *argv]) == 2
    assert message in capsys.readouterr().err
