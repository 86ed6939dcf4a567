"""Search config: round trip, one-line errors for unknown keys and bad values, CLI exit code 2."""

import json

import pytest

from discover.cli import main
from search import ConfigError, SearchConfig, load_config, save_config


def test_round_trip_through_json(tmp_path):
    cfg = SearchConfig(budget=10, population_size=16, tasks=["quadratic_proxy"], ops="hero")
    save_config(cfg, tmp_path / "c.json")
    assert load_config(tmp_path / "c.json") == cfg


def test_every_field_has_a_docstring():
    import ast
    import inspect

    import search.config as module

    tree = ast.parse(inspect.getsource(module.SearchConfig))
    body = tree.body[0].body
    for i, node in enumerate(body):
        if isinstance(node, ast.AnnAssign):
            doc = body[i + 1]
            assert isinstance(doc, ast.Expr) and isinstance(doc.value.value, str), node.target.id


@pytest.mark.parametrize("data, message", [
    ({"popsize": 8}, "unknown config key 'popsize' (did you mean population_size?)"),
    ({"zzz": 1}, "unknown config key 'zzz'; known keys"),
    ({"budget": "10"}, "config budget: expected"),
    ({"budget": -1}, "config budget: must be >= 0"),
    ({"population_size": 2.5}, "config population_size: expected int"),
    ({"tournament_size": 40, "population_size": 8}, "must not exceed population_size"),
    ({"backend": "spark"}, "config backend: 'spark' is not one of"),
    ({"mutation_weights": [1, 1, 1]}, "config mutation_weights"),
    ({"ops": ["sign", "nope"]}, "unknown op(s) ['nope']"),
    ({"ops": "all"}, "config ops"),
    ({"suite": "huge"}, "config suite: unknown suite 'huge'"),
    ({"tasks": ["no_such_task"]}, "config tasks: unknown task(s)"),
    ({"budget": None, "time_limit": None}, "give a budget"),
    ({"time_limit": -5}, "config time_limit"),
    ({"seeds": []}, "config seeds"),
    ({"lrs": [0.1, -1.0]}, "config lrs"),
    ({"simplify": "yes"}, "config simplify: expected bool"),
    ({"inplace_prob": 1.5}, "config inplace_prob: a probability in [0, 1]"),
    ({"stop_at": "high"}, "config stop_at: expected"),
    ({"eval_timeout": 0}, "config eval_timeout: must be > 0 seconds"),
    ({"eval_timeout": "1m"}, "config eval_timeout: expected"),
    ({"eval_memory_mb": 0}, "config eval_memory_mb: must be >= 1"),
    ({"max_state_slots": -1}, "config max_state_slots: must be >= 0"),
    ({"max_state_elements": 1.5}, "config max_state_elements: expected"),
])
def test_bad_values_are_one_line_config_errors(data, message):
    with pytest.raises(ConfigError) as info:
        SearchConfig.from_dict(data)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_evaluation_bounds_are_on_by_default_and_null_turns_them_off():
    from search.limits import Limits

    on = Limits.from_config(SearchConfig())
    assert None not in (on.eval_timeout, on.eval_memory_mb, on.max_state_slots,
                        on.max_state_elements)
    off = SearchConfig.from_dict({"eval_timeout": None, "eval_memory_mb": None,
                                  "max_state_slots": None, "max_state_elements": None})
    assert Limits.from_config(off) == Limits()
    assert off.to_dict()["eval_timeout"] is None and on.hard_timeout() > on.eval_timeout


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"budget": 3,}')
    with pytest.raises(ConfigError, match="invalid JSON at line 1"):
        load_config(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        load_config(tmp_path / "list.json")


def test_overrides_apply_on_top_of_the_file(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"budget": 5, "seed": 1}))
    cfg = load_config(tmp_path / "c.json", seed=7)
    assert (cfg.budget, cfg.seed) == (5, 7)


def test_mutation_settings_follow_the_config():
    cfg = SearchConfig(mutation_weights=[2, 1, 1, 0], max_program_length=12, ops=["sign", "add"],
                       tune_lr=False)
    s = cfg.mutation_settings()
    assert s.weights == (2, 1, 1, 0, 0) and s.max_length == 12 and s.ops == ("sign", "add")
    assert s.frozen == ()  # lr is a mutable constant when it is not tuned on a grid
    assert SearchConfig().mutation_settings().frozen == ("lr",)
    # lr-proportional children only make sense when lr is tuned on a grid
    assert SearchConfig().mutation_settings().lr_proportional
    assert not SearchConfig(lr_proportional=False).mutation_settings().lr_proportional
    assert SearchConfig(inplace_prob=0.25).mutation_settings().inplace_prob == 0.25
    assert SearchConfig().mutation_settings().needs_gradient
    assert not SearchConfig(require_gradient=False).mutation_settings().needs_gradient


@pytest.mark.parametrize("argv, message", [
    (["search", "--config", "missing.json"], "cannot read config file"),
    (["search", "--config", "bad.json"], "invalid JSON"),
    (["search", "--config", "unknown.json"], "unknown config key 'popsize'"),
    (["search", "--budget", "-3"], "config budget: must be >= 0"),
    (["search", "--budget", "5", "--time", "1m"], "not allowed with argument"),
    (["search", "--time", "soon"], "--time 'soon'"),
    (["search", "--workers", "0"], "config workers: must be >= 1"),
    (["search", "--backend", "spark"], "invalid choice"),
    (["resume", "no-such-run"], "no search run at 'no-such-run'"),
    (["report", "no-such-run"], "no search run at 'no-such-run'"),
])
def test_cli_errors_are_one_line_exit_2(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "unknown.json").write_text('{"popsize": 3}')
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
