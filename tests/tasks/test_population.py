"""B programs trained together give, per program, what evaluate gives it alone."""

import math

import pytest
import torch

from primitives import parse
from tasks.population import evaluate_population
from tasks.protocol import evaluate
from tasks.synthetic import logistic, quadratic
from tasks.vision import mlp

from .test_task_protocol import PATH_PROGRAMS

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

ADAMW = """def adamw(w, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, wd=0.01):
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    return lr * (m / (1 - beta1 ** t) / (sqrt(v / (1 - beta2 ** t)) + eps) + wd * w), m, v"""
#: every update path of tasks.batched, plus a rule that diverges at the large learning rates
PROGRAMS = [parse(ADAMW)] + [parse(s) for s in PATH_PROGRAMS.values() if s] + [
    parse("def wild(w, g, m, lr=0.1):\n    m = m + g\n    return lr * exp(m) * g, m")]
LRS = (1e-3, 1e-1, 3.0)


def _same(a, b):
    """Results equal to float64 rounding (1e-9 relative), non-finite where the other is."""
    assert (a.program, a.best_lr, a.diverged) == (b.program, b.best_lr, b.diverged)
    for x, y in zip([v for row in a.metrics_per_seed for v in row] + list(a.curve),
                    [v for row in b.metrics_per_seed for v in row] + list(b.curve)):
        if math.isfinite(y):
            assert abs(x - y) <= 1e-9 * max(1.0, abs(y)), (a.program, x, y)
        else:
            assert not math.isfinite(x), (a.program, x, y)


@pytest.mark.parametrize("task", [quadratic("proxy").with_steps(12),
                                  logistic("proxy").with_steps(8), mlp("proxy").with_steps(4)],
                         ids=lambda t: t.name)
def test_population_equals_each_program_alone(task):
    alone = [evaluate(p, task, lrs=LRS, seeds=(0, 1), dtype=torch.float64) for p in PROGRAMS]
    together = evaluate_population(PROGRAMS, task, lrs=LRS, seeds=(0, 1), dtype=torch.float64)
    assert len(together) == len(PROGRAMS)
    for a, b in zip(together, alone):
        _same(a, b)


def test_population_size_and_order_do_not_change_a_result():
    task = quadratic("proxy").with_steps(10)
    full = evaluate_population(PROGRAMS, task, lrs=LRS, dtype=torch.float64)
    pair = evaluate_population([PROGRAMS[3], PROGRAMS[0]], task, lrs=LRS, dtype=torch.float64)
    single = evaluate_population([PROGRAMS[3]], task, lrs=LRS, dtype=torch.float64)
    _same(pair[0], full[3])
    _same(pair[1], full[0])
    _same(single[0], full[3])
    wild = full[-1]  # diverges at the large learning rates, alone in its copies
    assert any(wild.diverged[-1]) and not any(wild.diverged[0])
    assert all(not any(row) for r in full[:-1] for row in r.diverged[:1])


def test_population_errors_are_one_line():
    task = quadratic("proxy").with_steps(2)
    with pytest.raises(ValueError, match="at least one program"):
        evaluate_population([], task)
    with pytest.raises(ValueError, match="2 hyperparameter sets for 1 programs"):
        evaluate_population(PROGRAMS[:1], task, hypers=[None, None])


# ---- op-grouped stepping (primitives.compile.GroupedStep) ----------------------------------------

#: rules that exercise the grouped step's corners: a column state, a per-copy loss, a state
#: returned twice, the gradient and a constant as state, an interp weight that differs between
#: programs (a column), a row reduction, a group reduction of a column, a scalar update
CORNERS = [
    "def twice(w, g, m, v, lr=0.1):\n    m = interp(g, m, 0.8)\n    return lr * m, m, m",
    "def keeps_g(w, g, p, c, lr=0.1):\n    return lr * (g + 0.5 * p), g, 0.25",
    "def weighted(w, g, m, lr=0.1, beta=0.6):\n    m = interp(g, m, beta)\n    return lr * m, m",
    "def polyak_col(w, g, s, loss, lr=0.1):\n    s = interp(loss, s, 0.5)\n"
    "    return lr * s * g / (norm(g) + 1e-3), s",
    "def clip_mean(w, g, lr=0.1):\n    return lr * clip_by_global_norm(g, 1.0) + lr * mean(w) * 0.0",
    "def gnorm_col(w, g, lr=0.1):\n    return lr * g / (global_norm(lr * g) + 1.0)",
    "def drift(w, g, lr=0.1):\n    return lr * 0.001 + lr * g",
]


#: per-tensor values over several tensors: a state holding one, its spread, group reductions
#: of a program stepped per tensor (as alone)
SEVERAL = [
    "def lars_state(w, g, s, lr=0.1):\n    s = interp(norm(g), s, 0.9)\n"
    "    return lr * g / (s + 0.1), s",
    "def trust(w, g, lr=0.1):\n    return lr * rms(w) / (rms(g) + 1e-3) * g + lr * 0.01 * g",
    "def both(w, g, lr=0.1):\n    return lr * dot(w, g) * g / (global_norm(g) + 1.0) + lr * g",
    "def angle(w, g, m, lr=0.1):\n    m = interp(g, m, 0.9)\n"
    "    return lr * (cosine_sim(m, g) + absmax(g)) * m + lr * global_sum(g) * 0.0, m",
    "def clipped_sum(w, g, lr=0.1):\n    return lr * clip_by_global_norm(g, 0.5) + lr * sum(w) * 0.0",
]


def _children(n, depth=3, seed=1):
    from discover.benchmarks.population import children

    return children(n, seed=seed, depth=depth)


@pytest.mark.parametrize("persistent", [True, False], ids=["persistent", "fresh"])
@pytest.mark.parametrize("shapes", [[(4,)], [(3,), (1,)], [(2, 2), (3,), (1,)]],
                         ids=["one tensor", "two tensors", "three tensors"])
def test_grouped_step_equals_each_programs_own_step(persistent, shapes):
    """Several steps of GroupedStep against each program's own K copies stepped as the batched
    trainer steps them alone (over the flat row, or per tensor: vmapped), float64, bit for bit;
    both code writers; one and several parameter tensors (per-tensor reductions)."""
    from primitives import Executor
    from primitives.compile import GroupedStep, groupable
    from tasks.batched import BatchedTrainer, fit

    sizes = [math.prod(s) for s in shapes]
    names = [f"p{i}" for i in range(len(shapes))]
    programs = [parse(s) for s in CORNERS + SEVERAL] + \
        [p for p in _children(12) if groupable(p, len(shapes))]
    assert all(groupable(p, len(shapes)) for p in programs)
    k, width, dt = 3, sum(sizes), torch.float64
    alone = [BatchedTrainer(Executor(p), None, names, shapes, k) for p in programs]
    flat = [BatchedTrainer(tr.executor, None, names, shapes, k, flat=True) for tr in alone]
    hypers = [tr.executor.hyperparameters() for tr in alone]
    step = GroupedStep(programs, k, width, hypers, ("lr",), sizes=sizes, dtype=dt,
                       persistent=persistent)
    assert step.persistent is persistent and step.groups < sum(len(p.body) for p in programs)
    gen = torch.Generator().manual_seed(0)
    lr = torch.tensor([0.01, 0.1, 1.0], dtype=dt)
    zeros = [[torch.zeros(s, dtype=dt) for s in shapes]] * k
    state = step.init_state([{n: v[0] for n, v in tr.init_state(zeros, [{}] * k).items()}
                             for tr in flat])
    states = [tr.init_state(zeros, [{}] * k) for tr in alone]

    def per_tensor(x):  # flat [K, P] rows -> the trainer's storage
        return [part.reshape(k, *shape) for part, shape in zip(x.split(sizes, 1), shapes)]

    def rows(tr, storage):  # the trainer's storage -> flat [K, P] rows
        return torch.cat([p.reshape(k, -1) for p in tr.to_params(storage)], 1)

    n = len(programs)
    w = torch.randn(n * k, width, dtype=dt, generator=gen)
    ws = [w[b * k:(b + 1) * k] for b in range(n)]
    for t in range(1, 6):
        g = torch.randn(n * k, width, dtype=dt, generator=gen)
        loss = torch.rand(n * k, dtype=dt, generator=gen)
        w, state = step(w, g, loss, float(t), {"lr": lr.repeat(n).unsqueeze(1)}, state)
        for b, tr in enumerate(alone):
            cut = slice(b * k, (b + 1) * k)
            upd, new = tr.update(tr.to_storage(per_tensor(ws[b])),
                                 tr.to_storage(per_tensor(g[cut])), states[b],
                                 dict(hypers[b], lr=lr), float(t), loss[cut])
            ws[b] = ws[b] - rows(tr, upd)
            states[b] = {s: [fit(v, o) for v, o in zip(new[s], states[b][s])] for s in new}
            torch.testing.assert_close(w[cut], ws[b], rtol=0, atol=0, equal_nan=True)
            for name, v in step.state_of(b, state).items():
                ref = states[b][name]
                ref = rows(tr, ref) if ref[0].ndim >= 2 else torch.stack(ref, 1)
                torch.testing.assert_close(v.expand_as(ref) if v.shape[1] == 1 else v, ref,
                                           rtol=0, atol=0, equal_nan=True)


def test_grouped_step_wants_the_state_it_returned():
    from primitives.compile import GroupedStep

    mom = parse("def mom(w, g, m, lr=0.1):\n    m = interp(g, m, 0.9)\n    return lr * m, m")
    step = GroupedStep([mom, mom], 2, 3, [{}, {}], ("lr",), persistent=True)
    first = step.init_state([{"m": torch.zeros(2, 3)}] * 2)
    args = (torch.zeros(4, 3), torch.ones(4, 3), torch.zeros(4), 1.0,
            {"lr": torch.ones(4, 1)})
    _, second = step(*args, first)
    with pytest.raises(ValueError, match="the state the previous call"):
        step(*args, first)  # an old state: its tensors are being written again
    step(*args, second)


@pytest.mark.parametrize("task", [quadratic("proxy").with_steps(15),
                                  logistic("proxy").with_steps(10)], ids=lambda t: t.name)
def test_mutated_children_together_equal_each_alone(task):
    """Search-like children (mutations of AdamW, Lion and heavy-ball, with reductions and dead
    code), one seed (the batch computed once for all copies) and the corner rules: each result
    equals its own evaluation (float64); on logistic regression (two tensors) the per-tensor
    reductions go the per-program way."""
    programs = _children(24) + [parse(s) for s in CORNERS]
    together = evaluate_population(programs, task, lrs=LRS, seeds=(0,), dtype=torch.float64)
    for program, result in zip(programs, together):
        _same(result, evaluate(program, task, lrs=LRS, seeds=(0,), dtype=torch.float64))


def test_grouping_does_not_change_a_result():
    task = logistic("proxy").with_steps(6)
    grouped = evaluate_population(PROGRAMS, task, lrs=LRS, seeds=(0,), dtype=torch.float64)
    plain = evaluate_population(PROGRAMS, task, lrs=LRS, seeds=(0,), dtype=torch.float64,
                                grouped=False)
    for a, b in zip(grouped, plain):
        _same(a, b)


def test_bench_population_prints_both_ways(capsys):
    """discover bench population's run on a tiny case: a row per task with both timings and
    the programs' agreement (figures, not asserted timings)."""
    from discover.benchmarks.population import children, run

    assert len(children(5, depth=1)) == 5
    figures = run([quadratic("proxy").with_steps(2)], programs=3, depth=1, micro=False)
    alone, together = figures["quadratic_proxy"]
    assert alone > 0 and together > 0
    out = capsys.readouterr().out
    assert "quadratic_proxy" in out and "3/3" in out and "all of the above" in out
