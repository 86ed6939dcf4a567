"""The compiled fused step (primitives.compile, run by Executor.step_) against the reference path.

Each program exercises one rewrite of the fast path: lazy scalar coefficients, fused lerp /
addcmul / addcdiv, in-place reuse of dead buffers, aliasing of returned state, broadcasting of
reduced state, group reductions, and scalar statements after a group reduction.
"""

import pytest
import torch

from primitives import Executor, parse

PROGRAMS = {
    "adam": """def adam(w, g, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = interp(g, m, beta1)
    v = interp(g * g, v, beta2)
    return lr * (m / (1 - beta1 ** t)) / (sqrt(v / (1 - beta2 ** t)) + eps), m, v""",
    "lion": """def lion(w, g, m, lr=1e-2, beta1=0.9, beta2=0.99, wd=0.1):
    u = sign(interp(g, m, beta1))
    m = interp(g, m, beta2)
    return lr * (u + wd * w), m""",
    "lamb": """def lamb(w, g, m, v, lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-6, wd=0.01):
    m = interp(g, m, beta1)
    v = interp(square(g), v, beta2)
    u = m / (sqrt(v) + eps) + wd * w
    return lr * (norm(w) / norm(u)) * u, m, v""",
    "global_clip": """def global_clip(w, g, m, lr=0.1, c=1.0):
    s = min(c / global_norm(g), 1.0)
    m = 0.9 * m + s * g
    return lr * m, m""",
    "state_swap": """def state_swap(w, g, a, b, lr=0.1):
    x = a * 2.0 - g
    return lr * x, b, g""",
    "factored": """def factored(w, g, r, c, lr=0.1):
    r = interp(row_mean(g * g), r, 0.9)
    c = interp(col_mean(g * g), c, 0.9)
    return lr * g / sqrt(r * c / mean(r) + 1e-30), r, c""",
    "scalar_shifts": """def scalar_shifts(w, g, m, t, lr=0.1):
    a = 1 - 0.5 ** t
    x = a - m
    y = 3.0 - g / a
    z = -(x + y) * 2.0
    return lr * z - w * 0.0 + 1e-3, x""",
    "clip_by_global_norm": """def cgn(w, g, lr=0.1):
    return lr * clip_by_global_norm(g, 0.5)""",
    "ratio_update": """def ratio_update(w, g, v, lr=0.1):
    v = v + g * g
    return lr * g / (v + 1.0), v""",
}
SHAPES = [(5, 3), (4,), (3, 2, 2, 2), (1,)]


def _reference_run(program, params, grads_seq):
    ex = Executor(program)
    state = ex.init_state(params)
    for t, grads in enumerate(grads_seq, 1):
        upd, new = ex.update(params, grads, state, t=t)
        params = [p - u for p, u in zip(params, upd)]
        state = {k: [torch.as_tensor(x, dtype=p.dtype).expand_as(s).clone()
                     if torch.as_tensor(x).shape != s.shape else x
                     for x, p, s in zip(v, params, state[k])] for k, v in new.items()}
    return params, state


@pytest.mark.parametrize("foreach", [False, True], ids=["per-tensor", "foreach"])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_fast_path_matches_reference(name, foreach):
    program = parse(PROGRAMS[name])
    gen = torch.Generator().manual_seed(0)
    params = [torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]
    grads_seq = [[torch.randn(s, generator=gen, dtype=torch.float64) for s in SHAPES]
                 for _ in range(25)]
    ref_params, ref_state = _reference_run(program, [p.clone() for p in params], grads_seq)

    ex = Executor(program, foreach=foreach)
    state = ex.init_state(params)
    for t, grads in enumerate(grads_seq, 1):
        before = [g.clone() for g in grads]
        ex.step_(params, grads, state, t=t)
        assert all(torch.equal(a, b) for a, b in zip(grads, before)), "gradients were written"
    for a, b in zip(params, ref_params):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    for k in state:
        for a, b in zip(state[k], ref_state[k]):
            torch.testing.assert_close(a, b.expand_as(a), rtol=1e-12, atol=1e-14)


def test_state_never_aliases_gradient():
    """A program that stores g as state must copy it: grads are reused by autograd."""
    program = parse(PROGRAMS["state_swap"])
    ex = Executor(program)
    params = [torch.zeros(3)]
    state = ex.init_state(params)
    g = torch.ones(3)
    ex.step_(params, [g], state, t=1)
    g.fill_(5.0)
    assert torch.equal(state["b"][0], torch.ones(3))


def test_state_from_group_reduction_only():
    """A state holding a group scalar (AvaGrad's gamma) is stored per tensor by the foreach path."""
    program = parse("""def gs(w, g, s, lr=0.1):
    s = global_norm(g)
    return lr * s * g, s""")
    ex = Executor(program)
    params = [torch.zeros(3), torch.zeros(2, 2)]
    state = ex.init_state(params)
    grads = [torch.ones(3), torch.ones(2, 2)]
    ex.step_(params, grads, state, t=1)
    assert all(float(s) == pytest.approx(7 ** 0.5) for s in state["s"])
    assert params[0][0].item() == pytest.approx(-0.1 * 7 ** 0.5)


@pytest.mark.parametrize("foreach", [False, True], ids=["per-tensor", "foreach"])
def test_tensor_reduction_of_a_group_scalar(foreach):
    program = parse("""def f(w, g, lr=0.1):
    return lr * mean(global_norm(g)) * g""")
    params = [torch.zeros(3), torch.zeros(2)]
    grads = [torch.ones(3), torch.ones(2)]
    upd, _ = Executor(program).update(params, grads, {}, t=1)
    Executor(program, foreach=foreach).step_(params, grads, {}, t=1)
    for p, u in zip(params, upd):
        torch.testing.assert_close(p, -u)


def test_state_shapes_of_a_long_queue():
    """A queue of 6 gradients (AdaShift-style) fills in 6 rounds of shape inference."""
    program = parse("""def q(w, g, a, b, c, d, e, f, lr=0.1):
    return lr * f, g, a, b, c, d, e""")
    shapes = Executor(program).state_shapes((3, 2))
    assert all(s == (3, 2) for s in shapes.values())


def test_zero_scaled_term_costs_no_kernel(monkeypatch):
    """`g + weight_decay * w` with weight_decay = 0 runs no add kernel (as torch.optim.Adam)."""
    program = parse("""def l2(w, g, lr=0.1, weight_decay=0.0):
    return lr * (g + weight_decay * w)""")
    calls = []
    real_add = torch.add
    monkeypatch.setattr(torch, "add", lambda *a, **k: calls.append(1) or real_add(*a, **k))
    params, grads = [torch.ones(3)], [torch.ones(3)]
    Executor(program, foreach=False).step_(params, grads, {}, t=1)
    assert calls == [] and torch.allclose(params[0], torch.full((3,), 0.9))
    Executor(program, foreach=False).step_(params, grads, {}, {"weight_decay": 1.0}, t=1)
    assert torch.allclose(params[0], torch.full((3,), 0.9 - 0.1 * 1.9))
