"""The pressure families: every kind at every size (the suite's tasks also run the shared smoke
tests), optima away from 0, exact excess metrics, and fixed per-task data."""

import math

import pytest
import torch

from tasks import pressure_logistic, pressure_nets, pressure_quadratics
from tasks.base import SIZES
from tasks.suites import get_suite
from tasks.vision import MLPTask

FAMILIES = (pressure_quadratics.FAMILY, pressure_logistic.FAMILY, pressure_nets.FAMILY)
#: the cheap sizes: the larger instances are checked for construction and one loss only
CANDIDATES = [f.make(kind, "proxy") for f in FAMILIES for kind in f.constructors]


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_every_kind_has_every_size_and_larger_sizes_train_longer(family):
    for kind in family.constructors:
        tasks = [family.make(kind, size) for size in SIZES]
        assert [t.size for t in tasks] == list(SIZES)
        assert len({t.name for t in tasks}) == len(SIZES)
        assert tasks[0].num_steps < tasks[1].num_steps <= tasks[2].num_steps
        assert all(t.family == family.name for t in tasks)


@pytest.mark.parametrize("task", CANDIDATES, ids=lambda t: t.name)
def test_candidates_start_finite_and_deterministic(task):
    p0 = task.init(0)
    assert all(torch.equal(p0[k], v) for k, v in task.init(0).items())
    params = {k: v.requires_grad_() for k, v in p0.items()}
    loss = task.loss(params, task.batches(0, 0))
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in params.values())
    assert math.isfinite(task.validate(task.init(1))) and task.validate(task.init(1)) > 0


@pytest.mark.parametrize("make", [pressure_quadratics.zipf_quadratic,
                                  pressure_quadratics.block_quadratic,
                                  pressure_quadratics.homogeneous_blocks,
                                  pressure_quadratics.rotated_quadratic])
def test_quadratics_have_their_optimum_away_from_zero_and_metric_zero_there(make):
    task = make("proxy")
    opt = task.optimum(dtype=torch.float64)
    assert opt.norm() > 0.5 * task.radius * task.dim ** 0.5  # x* ~ N(0, radius^2 I)
    assert task.metric({"x": opt}, ()) == 0.0
    x0 = task.init(0, dtype=torch.float64)["x"]
    assert task.metric({"x": x0}, ()) == pytest.approx(task.loss({"x": x0}, ()) / task.radius ** 2)


def test_zipf_curvature_follows_the_groups():
    task = pressure_quadratics.zipf_quadratic("proxy")
    assert task.dim == 2 ** 13 - 1
    opt = task.optimum(dtype=torch.float64)
    for k, coord in ((0, 0), (5, 2 ** 5 - 1), (12, task.dim - 1)):  # first coordinate of group k
        x = opt.clone()
        x[coord] += 1.0
        assert float(task.loss({"x": x}, ())) == pytest.approx(0.5 * task.scale * 2.0 ** -k)


@pytest.mark.parametrize("make", [pressure_logistic.sparse_logistic,
                                  pressure_logistic.scaled_logistic])
def test_logistic_metric_is_the_excess_objective(make):
    task = make("proxy")
    fstar = task.optimal_value()
    w0 = task.init(0, dtype=torch.float64)
    assert float(task.metric(w0, ())) == pytest.approx(float(task.loss(w0, ())) - fstar)
    # F* is the minimum: Adam-like probing around the optimum finds nothing lower
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        w = {"w": w0["w"] + 0.01 * torch.randn(task.dim, generator=gen, dtype=torch.float64)}
        assert float(task.loss(w, ())) > fstar


def test_reparam_mlp_is_the_plain_mlp_reparameterised():
    task = pressure_nets.reparam_mlp("proxy")
    params = task.init(0, dtype=torch.float64)
    scales = task.scales(params)
    spread = math.log10(max(scales.values()) / min(scales.values()))
    assert all(1e-2 <= s <= 1e2 for s in scales.values()) and spread > 1.0
    batch = task.batches(0, 0, dtype=torch.float64)
    plain = {k: v * scales[k] for k, v in params.items()}
    reference = MLPTask(name=task.name, size="proxy", num_steps=1, hidden=task.hidden,
                        batch_size=task.batch_size)
    assert float(task.loss(params, batch)) == pytest.approx(float(reference.loss(plain, batch)))


def test_linear_attention_prompts_hide_the_query_label():
    task = pressure_nets.linear_attention("proxy")
    z, target = task.batches(0, 0)
    assert z.shape == (task.batch_size, task.dim + 1, task.context + 1)
    assert torch.all(z[:, -1, -1] == 0) and target.shape == (task.batch_size,)
    # the context labels are w . x for one w per prompt: a least-squares fit recovers them exactly
    x, y = z[0, :-1, :-1].T.double(), z[0, -1, :-1].double()
    w = torch.linalg.lstsq(x, y.unsqueeze(-1)).solution
    assert float((x @ w).squeeze(-1).sub(y).abs().max()) < 1e-4


def test_pressure_suite_holds_proxy_tasks_of_the_pressure_families():
    names = {t.name for f in FAMILIES for t in f.tasks("proxy")}
    suite = get_suite("pressure")
    assert suite and all(t.name in names and t.size == "proxy" for t in suite)
