"""The Ray backend (joblib's Ray backend on a local Ray instance) gives the run loky gives.

Slow: starting a local Ray instance takes tens of seconds. ray is in the test extras, so in CI
the import skip below cannot hide a failure; without ray, ``test_run.py`` checks the clear error.
"""

from dataclasses import replace

import pytest

from search import SearchConfig, run_search
from search.report import read_log


def _scored(run_dir):
    """Every logged evaluation without its wall-clock and CPU seconds (all else must repeat)."""
    return [{k: v for k, v in x.items() if k not in ("time", "cpu")} for x in read_log(run_dir)]


@pytest.mark.slow
def test_ray_local_instance_gives_the_same_run_as_loky(adamw, tiny, tmp_path):
    pytest.importorskip("ray")
    pytest.importorskip("ray.util.joblib")
    small = {**tiny, "budget": 8, "workers": 2}
    local = run_search(SearchConfig(**small), [adamw], adamw, tmp_path / "loky", progress=False)
    remote = run_search(SearchConfig(**{**small, "backend": "ray"}), [adamw], adamw,
                        tmp_path / "ray", progress=False)
    assert len(_scored(local.run_dir)) == local.evaluations == remote.evaluations == 8
    assert _scored(remote.run_dir) == _scored(local.run_dir)
    assert len({x["fitness"] for x in _scored(local.run_dir)}) > 2  # children really trained
    assert remote.best_fitness == local.best_fitness
    # the same winner; only its docstring differs (it names the run)
    assert replace(remote.best, doc="") == replace(local.best, doc="")
