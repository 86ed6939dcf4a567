"""The command line: useful output for good input, one-line errors and exit code 2 for bad."""

import importlib
import json
import subprocess
import sys

import pytest

import discover
from discover import cli
from discover.cli import main
from tasks import suites
from tasks.synthetic import quadratic


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, fragment", [
    ([], "required"),
    (["frobnicate"], "invalid choice"),
    (["show", "no_such_optimizer"], "no_such_optimizer"),
    (["verify"], "names or --all"),
    (["verify", "adam", "--all"], "names or --all"),
    (["verify", "adam", "--steps", "0"], "--steps"),
    (["verify", "adam", "--steps", "many"], "invalid int"),
    (["export", "adam"], "-o"),
    (["export", "no/such/file.py", "-o", "x.py"], "no/such/file.py"),
    (["list", "zzz*"], "no optimizer matches"),
    (["bench", "step-time", "--steps", "0"], "--steps"),
    (["bench", "throughput", "--rounds", "0"], "--rounds"),
    (["bench"], "required"),
    (["bench", "rediscovery"], "invalid choice"),  # an experiment script now, not a benchmark
    (["search", "--time", "soon"], "--time"),
    (["search", "--config", "no/such/config.json"], "no/such/config.json"),
    (["resume", "no_such_run"], "no_such_run"),
    (["report", "no_such_run"], "no_such_run"),
    (["eval", "adam", "--seeds"], "--seeds"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, fragment):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("discover: error:")
    assert fragment in lines[0]


def test_bad_program_file_names_the_line(capsys, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(w, g, lr=0.1):\n    x = lr * g\n    for i in x:\n        pass\n"
                   "    return x\n")
    code, out, err = _run(capsys, "export", str(bad), "-o", str(tmp_path / "out.py"))
    assert code == 2
    assert "line 3" in err and "loop" in err
    assert not (tmp_path / "out.py").exists()


def test_list_show_ops(capsys):
    code, out, _ = _run(capsys, "list", "adam*")
    assert code == 0 and "adamw" in out and "torch.optim.AdamW" in out
    assert "lion" not in out.split("\n", 2)[2]  # filtered by pattern
    code, out, _ = _run(capsys, "show", "lion")
    assert code == 0 and "def lion(" in out and "sign(" in out
    code, out, _ = _run(capsys, "ops")
    assert code == 0 and "interp" in out and "newton_schulz" in out


def test_list_kind_filter(capsys):
    code, out, _ = _run(capsys, "list", "--kind", "matrix")
    names = {line.split()[0] for line in out.splitlines()[2:] if line.strip()}
    assert code == 0 and "muon" in names and "adamw" not in names


def test_verify_and_export(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("DISCOVER_OUTPUTS", str(tmp_path))
    code, out, _ = _run(capsys, "verify", "adam", "--steps", "20")
    assert code == 0 and "passed" in out
    code, out, _ = _run(capsys, "list", "adam")
    assert "passed" in out  # status remembered for `discover list`
    target = tmp_path / "lion_opt.py"
    code, out, _ = _run(capsys, "export", "lion", "-o", str(target), "--class-name", "MyLion")
    assert code == 0 and target.exists()
    assert "class MyLion(" in target.read_text()


def test_console_entry_point_runs():
    proc = subprocess.run([sys.executable, "-m", "discover", "show", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_eval_bad_suite_and_program(capsys):
    code, _, err = _run(capsys, "eval", "adam", "--suite", "nope")
    assert code == 2 and "unknown suite" in err and err.count("\n") == 1
    code, _, err = _run(capsys, "eval", "no_such_rule")
    assert code == 2 and "no_such_rule" in err and err.count("\n") == 1


@pytest.mark.parametrize("error", [ValueError("a bug"), OSError("a bug"), KeyError("a bug")])
def test_a_bug_is_not_swallowed(monkeypatch, capsys, error):
    """Only UserErrors are one line and exit 2; any other exception keeps its traceback."""
    def broken(args):
        raise error

    monkeypatch.setattr(cli, "_cmd_ops", broken)
    with pytest.raises(type(error), match="a bug"):
        main(["ops"])
    assert capsys.readouterr().err == ""


def test_public_api_names_resolve():
    importlib.import_module("discover.verify")  # the submodule must not shadow the function
    for name in discover.__all__:
        assert getattr(discover, name) is not None, name
    assert callable(discover.verify) and not isinstance(discover.verify, type(discover))
    assert issubclass(discover.errors.UsageError, discover.UserError)


def test_outputs_root_is_honoured(tmp_path, monkeypatch, capsys):
    """With $DISCOVER_OUTPUTS set, search, resume, report and eval write there, not ./outputs."""
    out = tmp_path / "elsewhere"
    monkeypatch.setenv("DISCOVER_OUTPUTS", str(out))
    monkeypatch.chdir(tmp_path)
    tiny = dict(tasks=["quadratic_proxy"], num_steps=10, lrs=[0.1], seeds=[0],
                population_size=4, tournament_size=2, batch_size=2, budget=4, workers=1,
                simplify=False, restart_after=None)
    (tmp_path / "tiny.json").write_text(json.dumps(tiny))
    assert main(["search", "--config", "tiny.json", "--name", "run"]) == 0
    assert (out / "run" / "log.jsonl").exists() and (out / "run" / "best_optimizer.py").exists()
    assert main(["resume", "run", "--budget", "6"]) == 0
    assert main(["report", "run"]) == 0 and (out / "run" / "report.md").exists()
    monkeypatch.setitem(suites.SUITES, "proxy", (quadratic("proxy").with_steps(10),))
    assert main(["eval", "sgd", "--seeds", "0"]) == 0
    assert (out / "eval_proxy" / "leaderboard.csv").exists()
    assert not (tmp_path / "outputs").exists()
    capsys.readouterr()


#: parses (form and kinds are fine) but cannot run: a (5, 3) gradient times itself
_CANNOT_RUN = "def f(w, g, lr=0.1):\n    u = matmul(g, g)\n    return lr * u\n"


@pytest.mark.parametrize("command", ["eval", "eval-rl", "export", "search", "search-baseline",
                                     "search-task", "meta-train-resume", "rules"])
def test_bad_input_fails_at_once_and_writes_nothing(capsys, tmp_path, monkeypatch, command):
    """Every input is checked before any work: one line, exit 2, well within a second, and no
    output directory appears."""
    import time

    monkeypatch.setenv("DISCOVER_OUTPUTS", str(tmp_path / "outputs"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.py").write_text(_CANNOT_RUN)
    tiny = dict(tasks=["quadratic_proxy"], num_steps=10, lrs=[0.1], seeds=[0], budget=4,
                workers=1, simplify=False)
    configs = {"search": {**tiny, "start": ["bad.py"]},
               "search-baseline": {**tiny, "baseline": "bad.py"},
               "search-task": {**tiny, "tasks": ["no_such_task"]}}
    if command in configs:
        (tmp_path / "c.json").write_text(json.dumps(configs[command]))
    argv, fragment = {
        "eval": (["eval", "adamw", "bad.py"], "matmul"),
        "eval-rl": (["eval", "--suite", "rl", "bad.py"], "matmul"),
        "export": (["export", "bad.py", "-o", "out/x.py"], "matmul"),
        "search": (["search", "--config", "c.json", "--name", "r"], "matmul"),
        "search-baseline": (["search", "--config", "c.json", "--name", "r"], "matmul"),
        "search-task": (["search", "--config", "c.json", "--name", "r"], "no_such_task"),
        "meta-train-resume": (["meta-train", "lpg", "--resume", "no_such_run"], "no checkpoint"),
        "rules": (["eval", "--suite", "rl", "--rules", "no_such_run"], "no_such_run"),
    }[command]
    before = sorted(p.name for p in tmp_path.iterdir())
    started = time.perf_counter()
    code, out, err = _run(capsys, *argv)
    seconds = time.perf_counter() - started
    assert code == 2 and err.count("\n") == 1 and fragment in err, err
    assert err.startswith("discover: error:") and "Traceback" not in err
    assert seconds < 1.0, seconds
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_a_file_holding_a_library_program_is_accepted(tmp_path):
    """GaLore keeps a state not shaped like the parameter (check_valid refuses that for search
    children); the same program from a file is the verified library entry and runs."""
    from discover.inputs import checked_program

    (tmp_path / "galore.py").write_text(discover.get("galore").program.source)
    assert checked_program(str(tmp_path / "galore.py")).name == "galore"
    assert checked_program("galore").name == "galore"
