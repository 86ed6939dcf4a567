"""The compiled out-of-place form (K copies, B programs) and the kernels written once."""

import inspect

import pytest
import torch

from primitives import Executor, parse
from primitives.compile import PopulationStep, compile_step, load_pure, pure_source
from primitives.kernels import KERNELS, kernel_source

ADAM = """def adam(w, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    return lr * (m / (1 - beta1 ** t)) / (sqrt(v / (1 - beta2 ** t)) + eps), m, v"""
POLYAK = """def polyak(w, g, t, loss, lr=1.0, c=0.5):
    s = loss / (c * global_norm(g) ** 2 + 1e-12)
    return lr * s * g"""
NAMES = """def clash(w, g, n, i, state, lr=0.1):
    n = n + 1.0
    i = interp(g, i, 0.5)
    return lr * i * n + state, n, i, state"""
SHAPES = [(4, 3), (5,), (2, 2, 3)]


def _tensors(seed, k=None):
    gen = torch.Generator().manual_seed(seed)
    lead = () if k is None else (k,)
    return [torch.randn(lead + s, generator=gen, dtype=torch.float64) for s in SHAPES]


@pytest.mark.parametrize("source", [ADAM, POLYAK, NAMES], ids=["adam", "polyak", "names"])
def test_pure_form_equals_reference(source):
    program = parse(source)
    ex = Executor(program)
    params, state = _tensors(0), None
    state = ex.init_state(params)
    for t in range(1, 5):
        grads = _tensors(t)
        ref_upd, ref_new = ex.update(params, grads, state, t=t, loss=0.3 * t)
        upd, new = load_pure(program)(params, grads, state, ex.hyperparameters(), t, 0.3 * t)
        for a, b in zip(upd, ref_upd):
            torch.testing.assert_close(torch.as_tensor(a), torch.as_tensor(b), rtol=0, atol=0)
        for name in new:
            for a, b in zip(new[name], ref_new[name]):
                torch.testing.assert_close(torch.as_tensor(a), torch.as_tensor(b), rtol=0, atol=0)
        params = [p - u for p, u in zip(params, upd)]
        state = {n: [torch.as_tensor(x).expand_as(s).clone() for x, s in zip(v, state[n])]
                 for n, v in new.items()}


def test_batched_update_takes_each_copys_loss():
    """Polyak-type rules read each copy's own loss: copy k equals the unbatched step at loss[k]."""
    program = parse(POLYAK)
    ex = Executor(program)
    k = 3
    params, grads = _tensors(1, k), _tensors(2, k)
    loss = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    lr = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    upd, _ = ex.batched_update(params, grads, {}, {"lr": lr}, t=1, loss=loss)
    for c in range(k):
        one, _ = ex.update([p[c] for p in params], [g[c] for g in grads], {}, {"lr": lr[c]},
                           t=1, loss=loss[c])
        for a, b in zip(upd, one):
            torch.testing.assert_close(a[c], torch.as_tensor(b).expand_as(a[c]), rtol=1e-15,
                                       atol=0)


def test_population_step_runs_each_program_on_its_slice():
    """Two different programs over 2 + 3 stacked copies give what each gives alone."""
    programs = [parse(ADAM), parse(POLYAK)]
    counts = [2, 3]
    executors = [Executor(p) for p in programs]
    params, grads = _tensors(3, 5), _tensors(4, 5)
    loss = torch.linspace(0.5, 1.5, 5, dtype=torch.float64)
    states = [{n: [torch.zeros_like(p[:2]) for p in params] for n in ("m", "v")}, {}]
    hypers = [{"lr": torch.full((2,), 0.01, dtype=torch.float64)},
              {"lr": torch.full((3,), 0.5, dtype=torch.float64)}]

    def vmapped(ex):
        return lambda p, g, s, h, t, lo, hh: ex.batched_update(p, g, s, h, t, lo, hh)

    step = PopulationStep([vmapped(ex) for ex in executors], counts)
    upd, new = step(params, grads, states, hypers, t=1, loss=loss)
    assert [u.shape[0] for u in upd] == [5, 5, 5]
    alone, _ = executors[1].batched_update([p[2:] for p in params], [g[2:] for g in grads], {},
                                           hypers[1], t=1, loss=loss[2:])
    for a, b in zip(upd, alone):
        torch.testing.assert_close(a[2:], b, rtol=0, atol=0)
    assert set(new[0]) == {"m", "v"} and new[1] == {}
    with pytest.raises(ValueError, match="one copy count per program"):
        PopulationStep([vmapped(executors[0])], [1, 2])


def test_pure_source_avoids_program_names():
    """The generated function's own names cannot clash with a program's (n, i, state, ...)."""
    text = pure_source(parse(NAMES))
    assert "_n = len(w)" in text and "for _i in range(_n)" in text


def test_exports_carry_the_kernels_verbatim():
    """An export pastes the kernel functions of primitives/kernels.py unchanged."""
    step = compile_step(parse("""def m(w, g, lr=0.1):
    return lr * newton_schulz(g, 5.0) + lr * row_mean(pdiv(g, w))"""))
    text = step.kernel_text()
    for name in ("_newton_schulz", "_ns_steps", "_row_mean", "_pdiv", "_psign", "_f64"):
        assert name in step.kernels or name in ("_ns_steps", "_psign")
        assert inspect.getsource(KERNELS[name]) in text
    assert "NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)" in text
    assert kernel_source(["_pdiv"]).index("def _psign") < kernel_source(["_pdiv"]).index("def _pdiv")
