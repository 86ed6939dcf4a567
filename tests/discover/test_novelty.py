"""Novelty (issue 13, point 9) and the ``discover analyse`` commands."""

import json
import math

import pytest
import torch

from discover.cli import main
from discover.library import get
from discover.novelty import (NEAR, SAME, behaviour, behaviours, distance, library_behaviour,
                              novelty)
from primitives import parse
from primitives.errors import InvalidValue

#: not in the library: each coordinate's step is normalised by its size plus the tensor's RMS
ODD = "def odd(w, g, lr=0.01):\n    return lr * g / (abs(g) + rms(g))\n"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small tensors: one thread is several times faster than many on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _adam_doubled():
    source = get("adam").source.replace("def adam(", "def adam_doubled(")
    assert "return lr / bc1" in source
    return parse(source.replace("return lr / bc1", "return 2 * lr / bc1"))


def test_distance_is_a_relative_error_after_rescaling():
    a = behaviour(get("adam").program)
    assert distance(a, a) == (0.0, 1.0)
    d, c = distance(a, [x / 3 for x in a])
    assert d < 1e-12 and c == pytest.approx(3.0)
    assert distance(a, [-x for x in a]) == (1.0, 0.0)  # a rule run backwards is no match
    assert distance(a, [torch.zeros_like(x) for x in a])[0] == 1.0
    assert distance(a, [x.clone().fill_(math.nan) for x in a])[0] == 1.0
    # the same 0/0 in both (MSVAG on a zero gradient) agrees; the rest is still compared
    holes = [x.clone() for x in a]
    holes[2][:, :5] = math.nan
    assert distance(holes, holes) == (0.0, 1.0)
    assert 0 < distance(holes, a)[0] < 1 and distance(a, holes)[0] > 0
    other = behaviour(get("sgd").program)
    assert 0.1 < distance(a, other)[0] < 1.0


def test_the_weights_move_on_a_shared_path():
    # a rule that reads how far the weights moved from their start: SGD on fixed weights
    moved = parse("def f(w, g, x0: w, lr=0.1):\n    return lr * (g + 10.0 * (x0 - w)), x0\n")
    sgd = parse("def f(w, g, lr=0.1):\n    return lr * g\n")
    assert distance(behaviour(moved), behaviour(sgd))[0] > 0.05
    # the path is the same for every setting: another learning rate is only a rescaling
    d, c = distance(behaviour(moved), behaviour(moved, {"lr": 0.3}))
    assert d < 1e-12 and c == pytest.approx(1 / 3)


def test_batched_behaviours_match_one_run_each():
    adamw = get("adamw").program
    settings = [{}, {"beta1": 0.5}, {"beta2": 0.99, "weight_decay": 0.1}]
    for got, hyper in zip(behaviours(adamw, settings), settings):
        want = behaviour(adamw, hyper)
        assert all(torch.allclose(x, y, rtol=1e-12, atol=0) for x, y in zip(got, want))


def test_the_library_is_its_own_closest_rule():
    found = library_behaviour()
    assert set(found) >= {"adam", "lion", "muon"} and all(b is not None for b in found.values())
    result = novelty(get("adam").program)
    assert result.verdict == "same" and result.summary() == "same as adam (also qhadam)"
    assert result.closest[0].distance == 0.0


def test_a_rescaled_rule_is_the_same_rule():
    result = novelty(_adam_doubled())
    assert result.summary() == "same as adam (also qhadam)"  # qhadam at nu1 = nu2 = 1 is Adam
    assert result.closest[0].scale == pytest.approx(2.0)


def test_ties_go_to_the_canonical_rule():
    plain = parse("def plain(w, g, lr=0.1):\n    return lr * g\n")
    assert novelty(plain).summary() == "same as sgd (also sgdw, qhm, pid)"


def test_other_constants_are_found_by_retuning():
    program = get("adamw").program.with_defaults(beta1=0.5)
    result = novelty(program, retune=1)
    best = result.closest[0]
    assert result.verdict == "constants" and best.name in ("adamw", "adam")
    assert best.distance > 0.1 and best.tuned <= NEAR
    assert best.constants["beta1"] == pytest.approx(0.5, rel=1e-3)
    assert result.summary().startswith(f"{best.name} with other constants (beta1=0.5")


def test_a_different_rule_is_novel():
    result = novelty(parse(ODD), retune=1)
    assert result.verdict == "novel"
    assert all(m.tuned > NEAR for m in result.closest)
    assert result.summary().startswith(f"novel: no library rule within distance {NEAR:g}")
    with pytest.raises(InvalidValue, match="retune"):
        novelty(parse(ODD), retune=-1)


@pytest.mark.slow
def test_default_retuning_verdicts():
    heavy_ball = novelty(get("sgd").program.with_defaults(momentum=0.9))
    assert heavy_ball.summary() == "sgd with other constants (momentum=0.9)"
    assert heavy_ball.closest[0].tuned <= SAME
    adamw = novelty(get("adamw").program.with_defaults(beta1=0.5))
    assert adamw.summary() == "adamw with other constants (beta1=0.5)"
    assert novelty(parse(ODD)).verdict == "novel"


# ---- the commands -------------------------------------------------------------------------


def test_cli_analyse_novelty(tmp_path, capsys):
    path = tmp_path / "odd.py"
    path.write_text(ODD)
    assert main(["analyse", "novelty", "adam"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("adam: same as adam") and "library rule" in out
    assert main(["analyse", "novelty", str(path), "--retune", "0"]) == 0
    assert "odd: novel" in capsys.readouterr().out
    assert main(["analyse", "novelty", "nope"]) == 2
    assert "unknown optimizer 'nope'" in capsys.readouterr().err


def test_cli_analyse_adaptivity(capsys):
    assert main(["analyse", "adaptivity", "sgd", "adam", "adafactor"]) == 0
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()
            if line.split() and line.split()[0] in ("sgd", "adam", "adafactor")}
    assert rows["sgd"] == ["1.000", "1.000"] and rows["adam"] == ["0.000", "0.000"]
    assert float(rows["adafactor"][0]) > 0.8 and abs(float(rows["adafactor"][1])) < 0.1
    assert main(["analyse", "adaptivity", "sgd", "--steps", "0"]) == 2


def test_a_run_records_its_winners_novelty_and_the_report_shows_it(tmp_path):
    from discover.library import get
    from discover.runs import _check_novelty
    from search.report import _stage_sections

    _check_novelty(get("adam").program, tmp_path)
    stored = json.loads((tmp_path / "novelty.json").read_text())
    assert stored["verdict"] == "same" and stored["closest"][0]["name"] == "adam"
    text = "\n".join(_stage_sections(tmp_path))
    assert "## Novelty" in text and "**same as adam" in text
