"""The rediscovery experiment (experiments/rediscovery.py, a script loaded by path): its preset
loads as a valid SearchConfig on tasks that exist (no search is run)."""

import importlib.util
from pathlib import Path

from search import SearchConfig
from search.fitness import task_by_name, task_names
from tasks.suites import get_suite

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "rediscovery.py"
_spec = importlib.util.spec_from_file_location("experiments_rediscovery", SCRIPT)
rediscovery = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rediscovery)
PRESET, first_reaching = rediscovery.PRESET, rediscovery.first_reaching
load_preset, resolve_program = rediscovery.load_preset, rediscovery.resolve_program


def test_preset_is_a_valid_config_on_existing_light_tasks():
    cfg = load_preset()
    assert isinstance(cfg, SearchConfig) and PRESET.name == "rediscovery.json"
    names = task_names(cfg.suite, cfg.tasks)
    assert names and all(task_by_name(n, cfg.num_steps).num_steps == cfg.num_steps
                         for n in names)
    assert set(names) < {t.name for t in get_suite("proxy")}
    assert cfg.budget == 2000 and cfg.tune_lr


def test_start_is_plain_sgd_with_two_unused_state_slots():
    cfg = load_preset()
    (start,) = [resolve_program(s) for s in cfg.start]
    assert start.state_names == ("m", "v") and list(start.hyperparameters) == ["lr"]
    assert [s.op for s in start.body] == ["mul"] and start.returns[1:] == ("m", "v")
    resolve_program(cfg.baseline)
    resolve_program("adam")


def test_first_reaching_counts_scored_children_from_one():
    log = [{"fitness": 0.8}, {"fitness": None}, {"fitness": 1.05}, {"fitness": 1.2}]
    assert first_reaching(log, 1.05) == 3
    assert first_reaching(log, 2.0) is None


def test_script_accepts_its_flags():
    args = rediscovery.build_parser().parse_args(["--seeds", "0", "1", "--budget", "50"])
    assert (args.seeds, args.budget, args.time, args.full_budget) == ([0, 1], 50, None, False)
